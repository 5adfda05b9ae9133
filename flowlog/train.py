"""``fl.train``: optimizers that add gradient and update nodes to the graph.

``minimize(loss)`` = ``fl.gradients`` (nodes under ``gradients/``) + one fused update op per
variable under the optimizer's scope (``GradientDescent/…``, ``Momentum/…``, ``Adam/…``),
grouped by a NoOp named after that scope: running it performs one training step.
"""

from __future__ import annotations

import math

import numpy as np

from flowlog.errors import NoGradientError
from flowlog.gradients import gradients
from flowlog.graph import Tensor
from flowlog.ops import Variable, make

__all__ = ["Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer"]


def _positive(value, what) -> float:
    if isinstance(value, Tensor) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value}")
    return value


class Optimizer:
    """Base class: ``compute_gradients``, ``apply_gradients`` and ``minimize``."""

    def __init__(self, learning_rate, name):
        self.learning_rate = _positive(learning_rate, f"{name}: learning_rate")
        self.name = name
        self._slots: dict[tuple[Tensor, str], Variable] = {}
        self._slot_scopes: dict[Tensor, str] = {}  # var -> its slots' scope ("…/kernel/")

    def compute_gradients(self, loss: Tensor, var_list=None) -> list[tuple[Tensor | None, Tensor]]:
        if not isinstance(loss, Tensor):
            raise TypeError(
                f"{self.name}.minimize: loss must be a graph node, got {type(loss).__name__}"
            )
        graph = loss.graph
        if var_list is None:
            var_list = graph.trainable_variables()
            if not var_list:
                raise NoGradientError(
                    f"{self.name}.minimize({loss.name!r}): the graph has no trainable variables"
                )
        var_list = list(var_list)
        for v in var_list:
            if not isinstance(v, Tensor) or v.kind != "variable":
                raise TypeError(f"{self.name}: var_list entries must be variables, got {v!r}")
            if v.dtype.kind != "f":
                raise TypeError(
                    f"{self.name}: variable {v.name!r} has dtype {v.dtype}; only "
                    "floating variables can be trained"
                )
        grads = gradients(loss, var_list)
        return list(zip(grads, var_list, strict=False))

    def minimize(self, loss: Tensor, var_list=None, name=None) -> Tensor:
        """Add the gradient and update nodes; returns the train op (its value is ``None``).

        Records ``graph.gradient_of[var.name]`` for each updated variable (contract 2).
        """
        pairs = self.compute_gradients(loss, var_list)
        used = [(g, v) for g, v in pairs if g is not None]
        if not used:
            names = ", ".join(repr(v.name) for _, v in pairs)
            raise NoGradientError(
                f"{self.name}.minimize: no variable receives a gradient from "
                f"{loss.name!r} (variables: {names}); does the loss depend on "
                "them?"
            )
        return self.apply_gradients(used, name=name)

    def apply_gradients(self, grads_and_vars, name=None) -> Tensor:
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise NoGradientError(f"{self.name}.apply_gradients: no gradients given")
        graph = pairs[0][1].graph
        for g, v in pairs:
            graph.gradient_of[v.name] = g
        with graph.name_scope(name or self.name) as scope, graph._kind_scope("optimizer"):
            updates = self._prepare(graph)
            updates += [self._apply(g, v) for g, v in pairs]
            updates = self._finish(graph, updates)
        with graph._kind_scope("optimizer"):
            return make("NoOp", updates, {}, scope)

    def _slot(self, var: Tensor, slot: str) -> Variable:
        """The ``slot`` variable of ``var`` (``Adam/dense/kernel/m``, ``…/v``): a variable's
        slots share one scope, re-entered after the first (a new unique one would be
        ``kernel_1/v``)."""
        key = (var, slot)
        if key not in self._slots:
            scope = self._slot_scopes.get(var, var.name)
            with var.graph.name_scope(scope) as opened:
                self._slot_scopes[var] = opened
                self._slots[key] = Variable(
                    np.zeros(var.shape, var.dtype), name=slot, trainable=False, graph=var.graph
                )
        return self._slots[key]

    def _prepare(self, graph) -> list:
        return []

    def _finish(self, graph, updates) -> list:
        return updates

    def _apply(self, grad: Tensor, var: Tensor) -> Tensor:
        raise NotImplementedError


class GradientDescentOptimizer(Optimizer):
    """``var -= learning_rate * grad``."""

    def __init__(self, learning_rate, name="GradientDescent"):
        super().__init__(learning_rate, name)

    def _apply(self, grad, var):
        return make(
            "ApplyGradientDescent",
            [var, grad],
            {"learning_rate": self.learning_rate},
            "update_" + _short(var),
        )


class MomentumOptimizer(Optimizer):
    """``accum = momentum * accum + grad; var -= learning_rate * accum`` (optionally Nesterov)."""

    def __init__(self, learning_rate, momentum, use_nesterov=False, name="Momentum"):
        super().__init__(learning_rate, name)
        self.momentum = float(momentum)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"{name}: momentum must be in [0, 1), got {momentum}")
        self.use_nesterov = bool(use_nesterov)

    def _apply(self, grad, var):
        accum = self._slot(var, "momentum")
        return make(
            "ApplyMomentum",
            [var, accum, grad],
            {
                "learning_rate": self.learning_rate,
                "momentum": self.momentum,
                "use_nesterov": self.use_nesterov,
            },
            "update_" + _short(var),
        )


class AdamOptimizer(Optimizer):
    """Adam (Kingma & Ba) with TensorFlow's bias correction folded into the step size."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, name="Adam"):
        super().__init__(learning_rate, name)
        for what, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= float(b) < 1:
                raise ValueError(f"{name}: {what} must be in [0, 1), got {b}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.epsilon = _positive(epsilon, f"{name}: epsilon")
        self._step: Variable | None = None

    def _prepare(self, graph):
        if self._step is None:
            self._step = Variable(
                np.zeros((), np.float64), name="step", trainable=False, graph=graph
            )
        return []

    def _apply(self, grad, var):
        m, v = self._slot(var, "m"), self._slot(var, "v")
        return make(
            "ApplyAdam",
            [var, m, v, self._step, grad],
            {
                "learning_rate": self.learning_rate,
                "beta1": self.beta1,
                "beta2": self.beta2,
                "epsilon": self.epsilon,
            },
            "update_" + _short(var),
        )

    def _finish(self, graph, updates):
        # the step counter advances once, after every variable's update has used it
        return [make("AssignAdd", [self._step, *updates], {"value": 1.0}, "increment_step")]


def _short(var: Tensor) -> str:
    return var.name.replace("/", "_")
