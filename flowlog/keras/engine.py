"""What every layer shares: the :class:`Layer` protocol (build once, then call), Keras' auto
names made unique per graph, ``Input`` placeholders, the learning-phase switch, and which
layer made each tensor (so a functional ``Model`` finds its layers from its outputs).

A layer's ops and variables live under one name scope, its ``scope`` (``dense``, ``dense_1``
…): variables ``dense/kernel`` and ``dense/bias``, ops ``dense/MatMul`` …; a second call of a
shared layer re-enters that scope.
"""

from __future__ import annotations

import re
import weakref

import numpy as np

from flowlog.api import placeholder, placeholder_with_default
from flowlog.graph import Graph, Tensor, format_shape, get_default_graph
from flowlog.ops import Variable

FLOATX = np.dtype(np.float32)

#: tensor -> (layer, its input tensor or None for an input placeholder)
HISTORY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LEARNING_PHASE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INPUT_UIDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def snake_case(name: str) -> str:
    """Keras' class-name → layer-name rule: ``MaxPooling2D`` → ``max_pooling2d``."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def learning_phase(graph: Graph) -> Tensor:
    """The graph's boolean training switch (``False`` unless fed); ``fit`` feeds ``True``."""
    ph = _LEARNING_PHASE.get(graph)
    if ph is None:
        with graph.as_default(), graph.name_scope(None):
            ph = placeholder_with_default(False, shape=(), name="keras_learning_phase")
        _LEARNING_PHASE[graph] = ph
    return ph


def existing_learning_phase(graph: Graph) -> Tensor | None:
    return _LEARNING_PHASE.get(graph)


def shape_error(layer, expected: str, got) -> ValueError:
    return ValueError(
        f'Input 0 of layer "{layer.name}" is incompatible with the layer: expected {expected}, '
        f"but received input with shape {format_shape(got)}"
    )


class Layer:
    """Base class: subclasses define ``build(input_shape)`` (make weights with
    :meth:`add_weight`), ``call(x, training)`` (make ops) and ``get_config``.

    ``input_ndim`` is checked before building; after building, ``expected_shape()`` (``None``
    = any size) is checked on every call, so a wrong input fails at graph-building time with
    both shapes named, not inside a session run.
    """

    input_ndim: int | None = None

    def __init__(self, name=None, trainable=True, input_shape=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"layer name must be a string, got {type(name).__name__}")
        self._given_name = name
        self.name = name or snake_case(type(self).__name__)  # final once built
        self.scope: str | None = None
        self.trainable = bool(trainable)
        self.built = False
        self.weights: list[Variable] = []
        self.input = self.output = None
        self.input_shape_arg = None if input_shape is None else tuple(input_shape)
        self.dtype = FLOATX if dtype is None else np.dtype(dtype)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"

    # ----------------------------------------------------------------- protocol
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape``; the default has none."""

    def call(self, x, training=None):
        raise NotImplementedError

    def expected_shape(self):
        return None

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # ----------------------------------------------------------------- weights
    @property
    def trainable_weights(self) -> list[Variable]:
        return list(self.weights) if self.trainable else []

    def add_weight(self, name, shape, initializer, trainable=True) -> Variable:
        """A variable ``<scope>/<name>`` holding ``initializer(shape)``."""
        value = initializer(shape, self.dtype)
        var = Variable(value, name=name, trainable=trainable and self.trainable)
        self.weights.append(var)
        return var

    def count_params(self) -> int:
        return int(sum(np.prod(v.shape, dtype=np.int64) for v in self.weights))

    # ----------------------------------------------------------------- calling
    def __call__(self, inputs, training=None):
        if not isinstance(inputs, Tensor):
            raise TypeError(
                f'layer "{self.name}" must be called on a graph tensor (fl.keras.Input or '
                f"fl.placeholder), got {type(inputs).__name__}"
            )
        graph = inputs.graph
        self._check_rank(inputs.shape)
        if not self.built:
            self._open_scope(graph)
            with graph.as_default(), graph.name_scope(self.scope + "/"):
                self.build(inputs.shape)
            self.built = True
        self._check_shape(inputs.shape)
        with graph.as_default(), graph.name_scope(self.scope + "/"):
            out = self.call(inputs, training=training)
        HISTORY[out] = (self, inputs)
        if self.output is None:
            self.input, self.output = inputs, out
        return out

    def _open_scope(self, graph: Graph) -> None:
        """Claim a unique scope for the layer's name (``dense`` then ``dense_1`` …)."""
        self.scope = graph.unique_name(self.name)
        if self._given_name is None:
            self.name = self.scope.rpartition("/")[2]

    def _check_rank(self, shape) -> None:
        if self.input_ndim is None or shape is None or len(shape) == self.input_ndim:
            return
        raise ValueError(
            f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
            f"ndim={self.input_ndim}{self._rank_hint()}, found ndim={len(shape)}. "
            f"Full shape received: {format_shape(shape)}{self._rank_advice()}"
        )

    def _rank_hint(self) -> str:
        return ""

    def _rank_advice(self) -> str:
        return ""

    def _check_shape(self, shape) -> None:
        expected = self.expected_shape()
        if expected is None or shape is None:
            return
        if len(shape) != len(expected) or any(
            e is not None and e != s for e, s in zip(expected, shape, strict=True)
        ):
            raise shape_error(self, f"shape {format_shape(expected)}", shape)


class InputLayer(Layer):
    """The layer row of an ``Input`` placeholder: no weights, output = the placeholder."""

    def __init__(self, tensor: Tensor, name: str):
        super().__init__(name=name)
        self.scope = tensor.name
        self.built = True
        self.input = self.output = tensor

    def get_config(self):
        out = self.output
        return {"name": self.name, "shape": list(out.shape[1:]), "dtype": out.dtype.name}


def _input_name(graph: Graph) -> str:
    """Keras' input names, ``input_1``, ``input_2`` … (unique in the graph)."""
    n = _INPUT_UIDS.get(graph, 0)
    while True:
        n += 1
        if f"input_{n}" not in graph:
            _INPUT_UIDS[graph] = n
            return f"input_{n}"


def Input(shape, name=None, dtype=None, batch_size=None) -> Tensor:  # noqa: N802 - Keras' name
    """A placeholder for a batch of inputs of ``shape`` (without the batch dimension)."""
    if isinstance(shape, int):
        shape = (shape,)
    graph = get_default_graph()
    name = name or _input_name(graph)
    dtype = FLOATX if dtype is None else np.dtype(dtype)
    with graph.name_scope(None):
        ph = placeholder(dtype, shape=(batch_size, *shape), name=name)
    HISTORY[ph] = (InputLayer(ph, ph.name), None)
    return ph


def input_layer_of(tensor: Tensor) -> InputLayer | None:
    entry = HISTORY.get(tensor)
    return entry[0] if entry is not None and isinstance(entry[0], InputLayer) else None
