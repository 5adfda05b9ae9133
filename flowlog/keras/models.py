"""``Model`` (functional: ``Model(inputs, outputs)``) and ``Sequential``, compiled into one
engine graph: ``compile`` adds the target placeholder, the loss (scope ``loss``), metrics
(scope ``metrics/<name>``), the gradients (``gradients/…``) and the optimizer's update ops,
once; ``fit`` only feeds and runs them.

What a callback (e.g. a logging one) can rely on, all set once the model is built/compiled:

* ``model.graph`` (:class:`flowlog.Graph`), ``model.session`` (the :class:`flowlog.Session`
  holding the weights; one per graph, so models sharing layers share weights);
* ``model.layers``: the layers in order; each has ``name``, ``scope`` (the name scope of its
  ops, no trailing ``/``), ``weights`` / ``trainable_weights`` (:class:`flowlog.Variable`,
  named ``<scope>/kernel``, ``<scope>/bias``), ``output`` (its output tensor),
  ``count_params()``; ``model.weights`` / ``model.trainable_weights`` all variables in order;
* ``model.inputs`` / ``model.outputs`` (tensors), ``model.target`` (the target placeholder);
* ``model.total_loss`` (scalar loss tensor), ``model.metrics_tensors`` (dict metric name →
  scalar tensor, in order), ``model.metrics_names`` (``["loss", *metrics]``, the log keys);
* ``model.grads_and_vars`` (list of ``(gradient tensor, variable)`` from the optimizer's
  ``compute_gradients``) and ``model.gradients`` (dict variable name → gradient tensor);
* ``model.train_op`` (the NoOp that runs one step), ``model.optimizer`` (as given to compile)
  and ``model.engine_optimizer`` (the ``fl.train`` optimizer behind it);
* ``model.global_step``: training batches done since ``compile`` (incremented after each
  batch's run, before ``on_train_batch_end``);
* ``model.extra_fetches``: a dict name → tensor that ``fit`` adds to every training batch's
  ``sess.run`` (same feed: the batch, learning phase on); the values are in
  ``model.extra_results`` (dict, same names) when ``on_train_batch_end`` is called — set it in
  ``on_train_batch_begin`` to fetch only on the batches you log;
* ``model.learning_phase``: the boolean placeholder ``fit`` feeds ``True`` (``None`` when the
  model has no layer that depends on it); ``model.stop_training``; ``model.history``.
"""

from __future__ import annotations

import itertools
import re
import weakref

from flowlog.api import placeholder
from flowlog.graph import Graph, Tensor
from flowlog.keras import layers as layers_module
from flowlog.keras import losses, optimizers, saving, summary, training
from flowlog.keras import metrics as metrics_module
from flowlog.keras.engine import (
    FLOATX,
    HISTORY,
    Input,
    InputLayer,
    Layer,
    existing_learning_phase,
    input_layer_of,
)
from flowlog.session import Session

__all__ = ["Model", "Sequential", "load_model", "model_from_config"]

_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MODEL_UIDS: dict[str, itertools.count] = {}


def _model_name(base: str) -> str:
    n = next(_MODEL_UIDS.setdefault(base, itertools.count()))
    return base if n == 0 else f"{base}_{n}"


def session_for(graph: Graph) -> Session:
    """The one session per graph that holds its layers' weights."""
    sess = _SESSIONS.get(graph)
    if sess is None or sess.closed:
        sess = _SESSIONS[graph] = Session(graph)
    return sess


def _as_list(value, what) -> list[Tensor]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"Model {what} must be tensors, got {type(t).__name__}")
    return items


def trace_calls(inputs, outputs):
    """The layer calls between ``inputs`` and ``outputs``: ``[(layer, input, output)]`` in
    creation (topological) order."""
    calls, seen, stack = [], set(), list(outputs)
    while stack:
        t = stack.pop()
        if t in seen or any(t is i for i in inputs):
            continue
        seen.add(t)
        entry = HISTORY.get(t)
        if entry is None or entry[1] is None:
            names = ", ".join(repr(i.name) for i in inputs)
            raise ValueError(
                f"Graph disconnected: tensor {t.name!r} is not made by layers from the model "
                f"inputs ({names})"
            )
        calls.append((entry[0], entry[1], t))
        stack.append(entry[1])
    return sorted(calls, key=lambda c: c[2].index)


class Model:
    """A functional model ``Model(inputs, outputs)``; see the module doc for its attributes."""

    def __init__(self, inputs=None, outputs=None, name=None):
        self.name = name or _model_name("model" if type(self) is Model else "sequential")
        self._reset_training()
        self.graph = self.session = None
        self.inputs, self.outputs, self._calls, self._layers = [], [], [], []
        self._compile_spec = None
        self.history = None
        if type(self) is Model:
            if inputs is None or outputs is None:
                raise TypeError("Model(inputs, outputs): both are required")
            self._init_functional(_as_list(inputs, "inputs"), _as_list(outputs, "outputs"))

    def _reset_training(self):
        self.optimizer = self.engine_optimizer = self.loss = None
        self.target = self.total_loss = self.train_op = None
        self.metrics_tensors: dict[str, Tensor] = {}
        self.grads_and_vars: list = []
        self.gradients: dict[str, Tensor] = {}
        self.global_step = 0
        self.stop_training = False
        self.extra_fetches: dict[str, Tensor] = {}
        self.extra_results: dict = {}

    def _init_functional(self, inputs, outputs):
        self.graph = outputs[0].graph
        self.inputs, self.outputs = inputs, outputs
        self._calls = trace_calls(inputs, outputs)
        inputs_layers = [input_layer_of(t) or InputLayer(t, t.name) for t in inputs]
        called = list(dict.fromkeys(layer for layer, _, _ in self._calls))
        self._layers = [*inputs_layers, *called]
        self._on_built()

    def _on_built(self):
        self.session = session_for(self.graph)
        if self._compile_spec is not None:
            self._build_training()

    # ----------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def summary_layers(self) -> list[Layer]:
        return self.layers

    @property
    def built(self) -> bool:
        return self.session is not None

    @property
    def learning_phase(self):
        return existing_learning_phase(self.graph) if self.graph is not None else None

    @property
    def weights(self):
        return list(dict.fromkeys(v for layer in self.layers for v in layer.weights))

    @property
    def trainable_weights(self):
        return list(dict.fromkeys(v for layer in self.layers for v in layer.trainable_weights))

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", *self.metrics_tensors]

    def first_layer_of(self, i: int) -> Layer:
        """The layer that consumes input ``i`` (named in input-shape errors)."""
        for layer, x, _ in self._calls:
            if x is self.inputs[i]:
                return layer
        return self._layers[0]

    def ensure_built(self, x=None):
        if not self.built:
            raise ValueError(
                f'model "{self.name}" has not been built yet: give it an Input or call build()'
            )

    def count_params(self) -> int:
        self.ensure_built()
        return sum(int(v.value.size) for v in self.weights)

    def summary(self, line_length=None, print_fn=None):
        """Print the Keras table (or pass each line to ``print_fn``)."""
        if not self.built:
            raise ValueError(
                "This model has not yet been built. Build the model first by calling `build()` "
                "or by calling it on a batch of data (fit / predict)."
            )
        summary.print_summary(self, line_length, print_fn)

    # ----------------------------------------------------------------- compile
    def compile(self, optimizer="sgd", loss=None, metrics=None):
        """Choose optimizer, loss and metrics; the graph nodes are added now if the model is
        built, else when it is (a Sequential without input shape: at the first fit)."""
        if loss is None:
            valid = ", ".join(repr(n) for n in losses.LOSSES)
            raise ValueError(f"compile: a loss is required; valid names: {valid}")
        spec = {
            "optimizer": optimizers.get(optimizer),
            "loss": losses.get(loss),
            "metrics": list(metrics or []),
        }
        for m in spec["metrics"]:
            metrics_module.check(m)
        if self.built and len(self.outputs) != 1:
            raise NotImplementedError("compile: only single-output models can be trained")
        self._compile_spec = spec
        self._reset_training()
        if self.built:
            self._build_training()

    def _build_training(self):
        spec, graph, out = self._compile_spec, self.graph, self.outputs[0]
        self.optimizer, self.loss = spec["optimizer"], spec["loss"]
        with graph.as_default(), graph.name_scope(None):
            self.target = self._target_placeholder(out)
            with graph.name_scope("loss"):
                self.total_loss = self.loss(self.target, out)
            self.metrics_tensors = self._metric_tensors(graph, out, spec["metrics"])
            self.engine_optimizer = opt = optimizers.engine_optimizer(self.optimizer)
            pairs = opt.compute_gradients(self.total_loss, var_list=self.trainable_weights)
            self.grads_and_vars = [(g, v) for g, v in pairs if g is not None]
            self.gradients = {v.name: g for g, v in self.grads_and_vars}
            if not self.grads_and_vars:  # the engine's error names the loss and variables
                opt.minimize(self.total_loss, self.trainable_weights)
            self.train_op = opt.apply_gradients(self.grads_and_vars)

    def _target_placeholder(self, out):
        name = f"{self._layers[-1].name}_target"
        if self.loss.sparse:
            return placeholder("int64", shape=(None,), name=name)
        return placeholder(out.dtype or FLOATX, shape=(None, *out.shape[1:]), name=name)

    def _metric_tensors(self, graph, out, specs) -> dict[str, Tensor]:
        tensors = {}
        with graph.name_scope("metrics"):
            for spec in specs:
                name, fn = metrics_module.get(spec, self.loss, out)
                scope = re.sub(r"[^A-Za-z0-9_.\-]", "_", name) or "metric"
                with graph.name_scope(scope):
                    tensors[name] = fn(self.target, out)
        return tensors

    def check_compiled(self, who: str, x=None):
        self.ensure_built(x)
        if self._compile_spec is None or self.train_op is None:
            raise RuntimeError(
                f"{who}: you must compile your model before training/testing. Use "
                "`model.compile(optimizer, loss)`."
            )

    # ----------------------------------------------------------------- fit / evaluate / predict
    def fit(
        self,
        x=None,
        y=None,
        batch_size=32,
        epochs=1,
        verbose=1,
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        initial_epoch=0,
    ):
        """Train for ``epochs``; returns a :class:`~flowlog.keras.callbacks.History`."""
        return training.fit(
            self,
            x,
            y,
            batch_size,
            epochs,
            verbose,
            callbacks,
            validation_split,
            validation_data,
            shuffle,
            initial_epoch,
        )

    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, callbacks=None, return_dict=False):
        """The loss (float), or ``[loss, *metrics]`` when compiled with metrics."""
        return training.evaluate(self, x, y, batch_size, verbose, callbacks, return_dict)

    def predict(self, x, batch_size=32, verbose=0, callbacks=None):
        """The outputs for ``x`` as numpy, computed in batches with dropout off."""
        return training.predict(self, x, batch_size, verbose, callbacks)

    # ----------------------------------------------------------------- weights
    def get_weights(self) -> list:
        self.ensure_built()
        return [self.session.value(v) for v in self.weights]

    def set_weights(self, weights) -> None:
        self.ensure_built()
        variables, weights = self.weights, list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f'set_weights: model "{self.name}" has {len(variables)} weights, got '
                f"{len(weights)} arrays"
            )
        for var, value in zip(variables, weights, strict=True):
            self.session.assign(var, value)

    def save(self, filepath) -> None:
        """One file: the config (JSON) and the weights (``.npz``) in a zip archive."""
        saving.save_model(self, filepath)

    def save_weights(self, filepath) -> None:
        saving.save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        saving.load_weights(self, filepath)

    def get_config(self) -> dict:
        ids = {t: f"t{i}" for i, t in enumerate(self.inputs)}
        for j, (_, _, out) in enumerate(self._calls):
            ids[out] = f"c{j}"
        index = {layer: i for i, layer in enumerate(self._layers)}
        return {
            "name": self.name,
            "inputs": [
                {"name": t.name, "shape": list(t.shape[1:]), "dtype": t.dtype.name}
                for t in self.inputs
            ],
            "layers": [
                layers_module.serialize(layer)
                for layer in self._layers
                if not isinstance(layer, InputLayer)
            ],
            "n_inputs": len(self.inputs),
            "calls": [
                [index[layer] - len(self.inputs), ids[x], ids[out]] for layer, x, out in self._calls
            ],
            "outputs": [ids[t] for t in self.outputs],
        }

    def compile_config(self) -> dict | None:
        spec = self._compile_spec
        if spec is None or not all(isinstance(m, str) for m in spec["metrics"]):
            return None
        opt = optimizers.serialize(spec["optimizer"])
        if opt is None or type(spec["loss"]) not in set(losses.LOSSES.values()):
            return None
        return {
            "optimizer": opt,
            "loss": losses.serialize(spec["loss"]),
            "metrics": spec["metrics"],
        }


class Sequential(Model):
    """A stack of single-input layers. The input shape comes from an ``Input`` first element,
    ``input_shape=`` on the first layer, ``build((None, …))`` or the first ``fit``/``predict``
    data; until then nothing is built (and auto layer names are provisional)."""

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer (or set the input with an ``Input`` tensor as the first element)."""
        if isinstance(layer, Tensor) or isinstance(layer, InputLayer):
            tensor = layer if isinstance(layer, Tensor) else layer.output
            if self._layers or self.inputs:
                raise ValueError("Sequential: an Input can only be the first element")
            self._set_input(tensor)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Layer, got {type(layer).__name__}")
        named = layer._given_name is not None
        if any(o is layer or (named and o.name == layer.name) for o in self._layers):
            raise ValueError(
                f"All layers added to a Sequential model should have unique names; "
                f"{layer.name!r} is already in the model"
            )
        self._layers.append(layer)
        if self.inputs:
            self.outputs = [layer(self.outputs[0])]
            self._calls.append((layer, HISTORY[self.outputs[0]][1], self.outputs[0]))
            self._rebuilt()
        elif len(self._layers) == 1 and layer.input_shape_arg is not None:
            self.build((None, *layer.input_shape_arg))

    def _rebuilt(self):
        if self.session is None:
            self._on_built()
        elif self._compile_spec is not None:
            self._reset_training()
            self._build_training()

    def _set_input(self, tensor: Tensor) -> None:
        self.graph, self.inputs, x = tensor.graph, [tensor], tensor
        self._calls = []
        for layer in self._layers:
            y = layer(x)
            self._calls.append((layer, x, y))
            x = y
        self.outputs = [x]
        self._rebuilt()

    def build(self, input_shape=None) -> None:
        """Build in a new graph for inputs of ``input_shape`` (with the batch dimension)."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError("Sequential.build: an input_shape (with the batch dim) is needed")
        graph = Graph()
        with graph.as_default():
            x = Input(tuple(input_shape[1:]))
        self._set_input(x)

    def ensure_built(self, x=None):
        if not self.built and x is not None and self._layers:
            first = x[0] if isinstance(x, (list, tuple)) else x
            shape = getattr(first, "shape", None)
            if shape is None:
                raise TypeError(f"expected a numpy array as x, got {type(first).__name__}")
            self.build((None, *shape[1:]))
        super().ensure_built(x)

    def get_config(self) -> dict:
        x = self.inputs[0] if self.inputs else None
        return {
            "name": self.name,
            "input_shape": None if x is None else [None, *x.shape[1:]],
            "input_dtype": None if x is None else x.dtype.name,
            "layers": [layers_module.serialize(layer) for layer in self._layers],
        }


def model_from_config(kind: str, config: dict) -> Model:
    """Rebuild a model (in a new graph) from ``get_config()``; weights start fresh."""
    if kind == "Sequential":
        stack = [layers_module.deserialize(s) for s in config["layers"]]
        if config["input_shape"] is not None:
            with Graph().as_default():
                stack.insert(
                    0, Input(tuple(config["input_shape"][1:]), dtype=config["input_dtype"])
                )
        return Sequential(stack, name=config["name"])
    if kind != "Functional":
        raise ValueError(f"unknown model class {kind!r}")
    graph = Graph()
    with graph.as_default():
        tensors = {
            f"t{i}": Input(tuple(s["shape"]), name=s["name"], dtype=s["dtype"])
            for i, s in enumerate(config["inputs"])
        }
        layer_objs = [layers_module.deserialize(s) for s in config["layers"]]
        for layer_index, x_id, out_id in config["calls"]:
            tensors[out_id] = layer_objs[layer_index](tensors[x_id])
        inputs = [tensors[f"t{i}"] for i in range(len(config["inputs"]))]
        return Model(inputs, [tensors[o] for o in config["outputs"]], name=config["name"])


def load_model(filepath, compile=True) -> Model:  # noqa: A002 - Keras' argument name
    """A model saved with ``model.save``: same layers, weights and (if ``compile``) compile
    settings; optimizer state (momentum, Adam moments) is not saved, and a model compiled with
    a custom loss, metric or optimizer loads uncompiled."""
    return saving.load_model(filepath, compile, model_from_config)
