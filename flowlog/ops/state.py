"""State: variables and the ops that write into them (optimizer updates, ``AssignAdd``,
``InitVariables``) plus ``NoOp``, which groups updates into a train op.

Update kernels work in place on the session's variable arrays, which compiled plans bind once;
large temporaries go to a buffer reused by every step (fresh large arrays cost page faults).
"""

from __future__ import annotations

import numpy as np

from flowlog.graph import Tensor, get_default_graph
from flowlog.ops.core import OPS, Op, register


class _VariableOp(Op):
    """A source: the session binds the variable's array (created from its initial value)."""

    arity = 0


OPS["Variable"] = _VariableOp()


class Variable(Tensor):
    """A node whose value is state kept by each session; it starts at ``initial_value``.

    Sessions copy the initial value on first use, so no initializer has to run first.
    """

    __slots__ = ()

    def __init__(self, initial_value, name=None, trainable=True, dtype=None, graph=None):
        if isinstance(initial_value, Tensor):
            raise TypeError(
                f"Variable {name or 'Variable'!r}: the initial value must be array-like "
                f"(a number or numpy array), not the graph node {initial_value.name!r}"
            )
        try:
            value = np.array(initial_value, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"Variable {name or 'Variable'!r}: bad initial value: {exc}") from None
        if value.dtype.kind not in "biuf":
            raise TypeError(
                f"Variable {name or 'Variable'!r}: initial value has dtype {value.dtype}; "
                "only bool, integer and floating dtypes are supported"
            )
        value.setflags(write=False)
        graph = graph if graph is not None else get_default_graph()
        graph._add(
            self,
            "Variable",
            name or "Variable",
            (),
            {"trainable": bool(trainable)},
            tuple(value.shape),
            value.dtype,
            "variable",
            OPS["Variable"],
            value,
        )

    @property
    def trainable(self) -> bool:
        return self.attrs["trainable"]

    @property
    def initial_value(self) -> np.ndarray:
        return self.value


class _Stateful(Op):
    stateful = True
    arity = None

    def infer(self, inputs, attrs):  # the value is None: neither shape nor dtype
        return None, None


@register
class NoOp(_Stateful):
    """Groups other nodes (a train op); its value is ``None``."""

    stateful = False

    def kernel(self, node):
        return lambda *xs: None


#: below this many bytes a fresh temporary is cheaper than ufunc calls with ``out=``
_SMALL = 1 << 16


def _scratch(var: Tensor) -> np.ndarray:
    """A buffer for an update's temporaries: large fresh temporaries cost page faults."""
    return np.empty(var.shape, var.dtype)


@register
class ApplyGradientDescent(_Stateful):
    arity = 2
    mutates = (0,)

    def kernel(self, node):
        lr, var_node = node.attrs["learning_rate"], node.inputs[0]
        if var_node.dtype.itemsize * int(np.prod(var_node.shape)) < _SMALL:

            def apply_gd_small(var, g):
                var -= lr * g

            return apply_gd_small
        buf = _scratch(var_node)

        def apply_gd(var, g):
            np.multiply(g, lr, out=buf, casting="same_kind")
            var -= buf

        return apply_gd


@register
class ApplyMomentum(_Stateful):
    arity = 3
    mutates = (0, 1)

    def kernel(self, node):
        lr, mu, nesterov = (node.attrs[k] for k in ("learning_rate", "momentum", "use_nesterov"))
        buf = _scratch(node.inputs[0])

        def apply_momentum(var, accum, g):
            accum *= mu
            accum += g
            if nesterov:  # var -= lr * (g + mu * accum)
                np.multiply(accum, mu, out=buf)
                np.add(buf, g, out=buf, casting="same_kind")
                np.multiply(buf, lr, out=buf)
            else:
                np.multiply(accum, lr, out=buf)
            var -= buf

        return apply_momentum


@register
class ApplyAdam(_Stateful):
    """Adam as in TensorFlow: ``t`` counts the steps already taken (incremented afterwards)."""

    arity = 5
    mutates = (0, 1, 2)

    def kernel(self, node):
        lr, b1, b2, eps = (node.attrs[k] for k in ("learning_rate", "beta1", "beta2", "epsilon"))
        buf = _scratch(node.inputs[0])

        def apply_adam(var, m, v, t, g):
            step = float(t) + 1.0
            lr_t = lr * (1.0 - b2**step) ** 0.5 / (1.0 - b1**step)
            m *= b1
            np.multiply(g, 1.0 - b1, out=buf, casting="same_kind")
            m += buf
            v *= b2
            np.square(g, out=buf, casting="same_kind")
            np.multiply(buf, 1.0 - b2, out=buf)
            v += buf
            np.sqrt(v, out=buf)
            np.add(buf, eps, out=buf)
            np.divide(m, buf, out=buf)
            np.multiply(buf, lr_t, out=buf)
            var -= buf

        return apply_adam


@register
class AssignAdd(_Stateful):
    """``var += value``; extra inputs only order it after other updates."""

    mutates = (0,)

    def kernel(self, node):
        delta = node.attrs["value"]

        def assign_add(var, *after):
            var += delta

        return assign_add


@register
class InitVariables(_Stateful):
    """Resets its input variables to their initial values."""

    def kernel(self, node):
        inits = [v.value for v in node.inputs]

        def init_variables(*vars_):
            for var, init in zip(vars_, inits, strict=False):
                np.copyto(var, init)

        return init_variables

    def written(self, node) -> list:
        return list(node.inputs)
