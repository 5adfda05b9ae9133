"""Every op of the engine: static shape inference, numpy forward and gradient, side by side.

An op is a class registered under its type name (``"MatMul"``). It provides

* ``infer(node_inputs, attrs) -> (shape, dtype)``: static shape/dtype; raises ``_Bad`` with a
  message that :func:`make` turns into a :class:`ShapeError` naming the node and its inputs;
* ``kernel(node) -> callable``: built once per session plan; called with the input values;
* ``grad(node, dy, need) -> list``: builds gradient nodes (through :mod:`flowlog.api`) for the
  inputs flagged in ``need`` and returns ``None`` for the others.

Broadcasting gradients are summed back to each input's shape only in :func:`unbroadcast`.
Ops flagged ``stateful`` write into variables (their inputs listed in ``mutates``); sessions run
them after everything else. ``view`` marks ops whose output may share memory with an input.
"""

from __future__ import annotations

import numpy as np

from flowlog import api as fl
from flowlog.errors import ShapeError
from flowlog.graph import Tensor, format_shape

OPS: dict[str, Op] = {}


class _Bad(Exception):
    """Raised by ``infer``; :func:`make` adds the node's name and input shapes."""


def register(cls):
    OPS[cls.__name__] = cls()
    return cls


class Op:
    #: ``kernel_into(node, out)``, when an op has it, builds a kernel writing into ``out``
    kernel_into = None
    stateful = False
    view = False
    mutates: tuple[int, ...] = ()
    arity: int | None = 1  # None: variadic

    def infer(self, inputs, attrs):
        raise NotImplementedError(f"{type(self).__name__} nodes are not created through make()")

    def kernel(self, node):
        raise NotImplementedError(f"{type(self).__name__} values are bound by the session")

    def written(self, node) -> list:
        """The input nodes (variables) this op writes in place."""
        return [node.inputs[i] for i in self.mutates]

    # ``grad = None`` marks an op as not differentiable (equal, argmax …): no gradient flows.
    grad = None


def make(op_type: str, inputs, attrs=None, name=None, *, kind="op", value=None) -> Tensor:
    """Create a node of ``op_type`` in the graph of its inputs (or the default graph)."""
    opdef = OPS[op_type]
    attrs = {} if attrs is None else attrs
    inputs = tuple(inputs)
    for x in inputs:
        if not isinstance(x, Tensor):
            raise TypeError(f"{op_type}: expected graph nodes as inputs, got {type(x).__name__}")
    graph = inputs[0].graph if inputs else fl.get_default_graph()
    for x in inputs:
        if x.graph is not graph:
            raise fl.GraphError(
                f"{op_type}: inputs {inputs[0].name!r} and {x.name!r} belong to different graphs"
            )
    if opdef.arity is not None and len(inputs) != opdef.arity:
        raise TypeError(f"{op_type} takes {opdef.arity} inputs, got {len(inputs)}")
    name = op_type if name is None else name
    try:
        shape, dtype = opdef.infer(inputs, attrs)
    except _Bad as exc:
        would_be = graph.unique_name(name, mark_as_used=False) if not name.endswith("/") else name
        ins = ", ".join(f"{x.name!r} {format_shape(x.shape)} {x.dtype}" for x in inputs)
        raise ShapeError(f"{op_type} {would_be!r}: {exc} (inputs: {ins})") from None
    return graph._add(Tensor(), op_type, name, inputs, attrs, shape, dtype, kind, opdef, value)


# ====================================================================== shape/dtype helpers
def _known(shape) -> bool:
    return shape is not None and all(d is not None for d in shape)


def broadcast_shapes(a, b):
    """Static numpy broadcasting with ``None`` for unknown dimensions."""
    if a is None or b is None:
        return None
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == 1:
            out.append(y)
        elif y == 1 or x == y or y is None:
            out.append(x)
        elif x is None:
            out.append(y)
        else:
            raise _Bad(
                f"shapes {format_shape(a)} and {format_shape(b)} do not broadcast "
                f"(dimension {x} vs {y})"
            )
    return tuple(reversed(out))


def _float(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _is_float(dtype) -> bool:
    return dtype is not None and np.dtype(dtype).kind == "f"


def _norm_axes(axis, rank, what="axis"):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes, or None."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if rank is None:
        return None if any(a < 0 for a in axes) else tuple(sorted(axes))
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise _Bad(f"{what} {a} is out of range for rank {rank}")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise _Bad(f"repeated {what} in {axis}")
    return tuple(sorted(out))


def _axis_attr(axis):
    """Axis attribute as a JSON-able value: None, int or list of ints."""
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    axes = [int(a) for a in axis]
    return axes


def _runtime_axes(axis, ndim):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


# ====================================================================== unbroadcast
def _needs_unbroadcast(x: Tensor, other_shapes) -> bool:
    """False when ``x`` provably has the broadcast result's shape, so its gradient needs no sum."""
    if x.shape is None or any(s is None for s in other_shapes):
        return True
    for s in other_shapes:
        if len(s) > len(x.shape):
            return True
        for i in range(1, len(s) + 1):
            d, o = x.shape[-i], s[-i]
            if o == 1 or (d is not None and d == o):
                continue
            return True
    return False


def unbroadcast(dy: Tensor, x: Tensor, others) -> Tensor:
    """The one place where broadcasting is undone: sum ``dy`` down to ``x``'s shape.

    ``others`` are the other operands' static shapes; when they prove no broadcasting of ``x``
    can happen, ``dy`` is returned as is and no node is added.
    """
    if not _needs_unbroadcast(x, others):
        return dy
    if _known(x.shape):
        return make("Unbroadcast", [dy], {"shape": list(x.shape)})
    return make("UnbroadcastLike", [dy, x])


def _sum_to_shape(dy, target):
    if dy.shape == target:
        return dy
    lead = dy.ndim - len(target)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(target) if d == 1 and dy.shape[lead + i] != 1
    )
    out = np.add.reduce(dy, axis=axes, keepdims=True) if axes else dy
    return out.reshape(target)


@register
class Unbroadcast(Op):
    view = True

    def infer(self, inputs, attrs):
        return tuple(attrs["shape"]), inputs[0].dtype

    def kernel(self, node):
        target = tuple(node.attrs["shape"])
        return lambda dy: _sum_to_shape(dy, target)


@register
class UnbroadcastLike(Op):
    arity = 2
    view = True

    def infer(self, inputs, attrs):
        return inputs[1].shape, inputs[0].dtype

    def kernel(self, node):
        return lambda dy, x: _sum_to_shape(dy, x.shape)


# ====================================================================== sources
@register
class Const(Op):
    arity = 0


@register
class Placeholder(Op):
    arity = 0


@register
class Variable(Op):
    arity = 0


# ====================================================================== elementwise unary
class _Unary(Op):
    fn = None
    to_float = False

    def infer(self, inputs, attrs):
        x = inputs[0]
        return x.shape, (_float(x.dtype) if self.to_float else x.dtype)

    def kernel(self, node):
        return type(self).fn


@register
class Identity(_Unary):
    view = True

    def kernel(self, node):
        return lambda x: x

    def grad(self, node, dy, need):
        return [dy]


@register
class Neg(_Unary):
    fn = np.negative

    def grad(self, node, dy, need):
        return [fl.negative(dy)]


@register
class Square(_Unary):
    fn = np.square

    def grad(self, node, dy, need):
        return [make("SquareGrad", [node.inputs[0], dy])]


@register
class SquareGrad(Op):
    arity = 2

    def infer(self, inputs, attrs):
        return broadcast_shapes(inputs[0].shape, inputs[1].shape), inputs[1].dtype

    def kernel(self, node):
        def square_grad(x, dy):
            out = np.multiply(x, dy)
            out *= 2
            return out

        return square_grad


@register
class Sqrt(_Unary):
    fn = np.sqrt
    to_float = True

    def grad(self, node, dy, need):
        return [make("SqrtGrad", [node, dy])]


@register
class SqrtGrad(Op):
    arity = 2

    def infer(self, inputs, attrs):
        return inputs[0].shape, inputs[1].dtype

    def kernel(self, node):
        def sqrt_grad(y, dy):
            out = np.divide(dy, y)
            out *= 0.5
            return out

        return sqrt_grad


@register
class Exp(_Unary):
    fn = np.exp
    to_float = True

    def grad(self, node, dy, need):
        return [fl.multiply(dy, node)]


@register
class Log(_Unary):
    fn = np.log
    to_float = True

    def grad(self, node, dy, need):
        return [fl.divide(dy, node.inputs[0])]


@register
class Abs(_Unary):
    fn = np.abs

    def grad(self, node, dy, need):
        return [fl.multiply(dy, make("Sign", [node.inputs[0]]))]


@register
class Sign(_Unary):
    fn = np.sign


@register
class Relu(_Unary):
    def kernel(self, node):
        zero = np.zeros((), node.dtype)
        return lambda x: np.maximum(x, zero)

    def grad(self, node, dy, need):
        return [make("ReluGrad", [dy, node])]


@register
class ReluGrad(Op):
    arity = 2

    def infer(self, inputs, attrs):
        return inputs[1].shape, inputs[0].dtype

    def kernel(self, node):
        return lambda dy, y: np.multiply(dy, y > 0)


@register
class Sigmoid(_Unary):
    to_float = True

    def kernel(self, node):
        def sigmoid(x):  # 0.5 * (1 + tanh(x / 2)): no overflow for large |x|
            out = np.tanh(np.multiply(x, 0.5))
            out += 1.0
            out *= 0.5
            return out

        return sigmoid

    def grad(self, node, dy, need):
        return [make("SigmoidGrad", [node, dy])]


@register
class SigmoidGrad(Op):
    arity = 2

    def infer(self, inputs, attrs):
        return inputs[0].shape, inputs[1].dtype

    def kernel(self, node):
        def sigmoid_grad(y, dy):
            out = np.subtract(1.0, y)
            out *= y
            out *= dy
            return out

        return sigmoid_grad


@register
class Tanh(_Unary):
    fn = np.tanh
    to_float = True

    def grad(self, node, dy, need):
        return [make("TanhGrad", [node, dy])]


@register
class TanhGrad(Op):
    arity = 2

    def infer(self, inputs, attrs):
        return inputs[0].shape, inputs[1].dtype

    def kernel(self, node):
        def tanh_grad(y, dy):
            out = np.square(y)
            np.subtract(1.0, out, out=out)
            out *= dy
            return out

        return tanh_grad


@register
class OnesLike(_Unary):
    fn = np.ones_like


@register
class Cast(Op):
    def infer(self, inputs, attrs):
        return inputs[0].shape, np.dtype(attrs["dtype"])

    def kernel(self, node):
        dtype = np.dtype(node.attrs["dtype"])
        return lambda x: np.asarray(x).astype(dtype)

    def grad(self, node, dy, need):
        x = node.inputs[0]
        if not (_is_float(x.dtype) and _is_float(node.dtype)):
            return [None]
        return [fl.cast(dy, x.dtype)]


# ====================================================================== elementwise binary
class _Binary(Op):
    arity = 2
    fn = None
    out_dtype = None  # None: numpy's result type; "float": promoted to float; "bool"

    def infer(self, inputs, attrs):
        a, b = inputs
        shape = broadcast_shapes(a.shape, b.shape)
        dtype = np.result_type(a.dtype, b.dtype)
        if self.out_dtype == "float":
            dtype = _float(dtype)
        elif self.out_dtype == "bool":
            dtype = np.dtype(bool)
        return shape, dtype

    def kernel(self, node):
        return type(self).fn

    def _sum(self, node, g, i):
        """``g`` (shaped like the output) summed back to input ``i``'s shape."""
        other = node.inputs[1 - i]
        return unbroadcast(g, node.inputs[i], [other.shape])


@register
class Add(_Binary):
    fn = np.add

    def grad(self, node, dy, need):
        return [
            self._sum(node, dy, 0) if need[0] else None,
            self._sum(node, dy, 1) if need[1] else None,
        ]


@register
class Sub(_Binary):
    fn = np.subtract

    def grad(self, node, dy, need):
        return [
            self._sum(node, dy, 0) if need[0] else None,
            self._sum(node, fl.negative(dy), 1) if need[1] else None,
        ]


@register
class Mul(_Binary):
    fn = np.multiply

    def grad(self, node, dy, need):
        x, y = node.inputs
        return [
            self._sum(node, fl.multiply(dy, y), 0) if need[0] else None,
            self._sum(node, fl.multiply(dy, x), 1) if need[1] else None,
        ]


@register
class Div(_Binary):
    fn = np.true_divide
    out_dtype = "float"

    def grad(self, node, dy, need):
        x, y = node.inputs
        gx = self._sum(node, fl.divide(dy, y), 0) if need[0] else None
        # d(x/y)/dy = -(x/y)/y, reusing the forward output
        gy = (
            self._sum(node, fl.negative(fl.divide(fl.multiply(dy, node), y)), 1)
            if need[1]
            else None
        )
        return [gx, gy]


@register
class Pow(_Binary):
    fn = np.power

    def grad(self, node, dy, need):
        x, y = node.inputs
        gx = self._sum(node, make("PowGradBase", [dy, x, y]), 0) if need[0] else None
        gy = self._sum(node, make("PowGradExponent", [dy, x, node]), 1) if need[1] else None
        return [gx, gy]


@register
class PowGradBase(Op):
    """dy * y * x**(y-1), written as one kernel so no ``y - 1`` node runs each step."""

    arity = 3

    def infer(self, inputs, attrs):
        dy, x, y = inputs
        return broadcast_shapes(broadcast_shapes(dy.shape, x.shape), y.shape), dy.dtype

    def kernel(self, node):
        def pow_grad_base(dy, x, y):
            out = np.power(x, np.subtract(y, 1))
            out = np.multiply(out, y)
            out *= dy
            return out

        return pow_grad_base


@register
class PowGradExponent(Op):
    """dy * x**y * log(x) where x > 0, else 0 (no NaN from log of non-positive bases)."""

    arity = 3

    def infer(self, inputs, attrs):
        dy, x, z = inputs
        return broadcast_shapes(broadcast_shapes(dy.shape, x.shape), z.shape), dy.dtype

    def kernel(self, node):
        def pow_grad_exponent(dy, x, z):
            x = np.asarray(x, dtype=np.result_type(x, 1.0))
            logx = np.zeros_like(x)
            np.log(x, out=logx, where=x > 0)
            return dy * z * logx

        return pow_grad_exponent


class _MinMax(_Binary):
    pick_x = None  # comparison selecting x (ties go to x, as in TensorFlow)

    def grad(self, node, dy, need):
        x, y = node.inputs
        mask = make(self.pick_x, [x, y])
        zero = fl.constant(np.zeros((), dy.dtype), name="zero")
        gx = self._sum(node, fl.where(mask, dy, zero), 0) if need[0] else None
        gy = self._sum(node, fl.where(mask, zero, dy), 1) if need[1] else None
        return [gx, gy]


@register
class Maximum(_MinMax):
    fn = np.maximum
    pick_x = "GreaterEqual"


@register
class Minimum(_MinMax):
    fn = np.minimum
    pick_x = "LessEqual"


class _Compare(_Binary):
    out_dtype = "bool"


@register
class Equal(_Compare):
    fn = np.equal


@register
class NotEqual(_Compare):
    fn = np.not_equal


@register
class Greater(_Compare):
    fn = np.greater


@register
class GreaterEqual(_Compare):
    fn = np.greater_equal


@register
class Less(_Compare):
    fn = np.less


@register
class LessEqual(_Compare):
    fn = np.less_equal


@register
class Where(Op):
    arity = 3

    def infer(self, inputs, attrs):
        c, x, y = inputs
        if c.dtype != np.dtype(bool):
            raise _Bad(f"the condition must have dtype bool, not {c.dtype}")
        shape = broadcast_shapes(broadcast_shapes(c.shape, x.shape), y.shape)
        return shape, np.result_type(x.dtype, y.dtype)

    def kernel(self, node):
        return np.where

    def grad(self, node, dy, need):
        c, x, y = node.inputs
        zero = fl.constant(np.zeros((), dy.dtype), name="zero")
        gx = unbroadcast(fl.where(c, dy, zero), x, [c.shape, y.shape]) if need[1] else None
        gy = unbroadcast(fl.where(c, zero, dy), y, [c.shape, x.shape]) if need[2] else None
        return [None, gx, gy]


@register
class AddN(Op):
    arity = None

    def infer(self, inputs, attrs):
        if not inputs:
            raise _Bad("needs at least one input")
        shape = inputs[0].shape
        for x in inputs[1:]:
            if (
                shape is not None
                and x.shape is not None
                and (
                    len(shape) != len(x.shape)
                    or any(
                        a is not None and b is not None and a != b
                        for a, b in zip(shape, x.shape, strict=False)
                    )
                )
            ):
                raise _Bad(
                    f"all inputs need the same shape, got {format_shape(shape)} "
                    f"and {format_shape(x.shape)}"
                )
            if shape is None or x.shape is None:
                shape = shape or x.shape
            else:
                shape = tuple(
                    a if a is not None else b for a, b in zip(shape, x.shape, strict=False)
                )
        return shape, np.result_type(*[x.dtype for x in inputs])

    def kernel(self, node):
        if len(node.inputs) == 1:
            return lambda x: x
        if len(node.inputs) == 2:
            return np.add

        def add_n(*xs):
            out = np.add(xs[0], xs[1])
            for x in xs[2:]:
                out += x
            return out

        return add_n

    view = True  # a single input is passed through unchanged

    def grad(self, node, dy, need):
        return [dy if n else None for n in need]


# ====================================================================== matmul
@register
class MatMul(Op):
    arity = 2

    def infer(self, inputs, attrs):
        a, b = inputs
        ta, tb = attrs.get("transpose_a", False), attrs.get("transpose_b", False)
        for x in (a, b):
            if x.shape is not None and len(x.shape) < 2:
                raise _Bad(
                    f"operands need rank >= 2, got {x.name!r} with shape {format_shape(x.shape)}"
                )
        if a.shape is None or b.shape is None:
            return None, np.result_type(a.dtype, b.dtype)
        m, k1 = (a.shape[-1], a.shape[-2]) if ta else (a.shape[-2], a.shape[-1])
        k2, n = (b.shape[-1], b.shape[-2]) if tb else (b.shape[-2], b.shape[-1])
        if k1 is not None and k2 is not None and k1 != k2:
            raise _Bad(
                f"incompatible shapes {format_shape(a.shape)} @ {format_shape(b.shape)}: "
                f"inner dimensions {k1} and {k2} differ"
            )
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return batch + (m, n), np.result_type(a.dtype, b.dtype)

    def kernel(self, node):
        return self.kernel_into(node, None)

    def kernel_into(self, node, out):
        """The kernel; with ``out`` it writes every result into that preallocated array."""
        a, b = node.inputs
        ta, tb = node.attrs.get("transpose_a", False), node.attrs.get("transpose_b", False)
        if not ta and not tb:
            return np.matmul if out is None else (lambda x, y: np.matmul(x, y, out=out))
        two_d = a.ndim == 2 and b.ndim == 2
        t = (lambda x: x.T) if two_d else (lambda x: np.swapaxes(x, -1, -2))
        if ta and tb:
            return lambda x, y: np.matmul(t(x), t(y), out=out)
        if ta:
            return lambda x, y: np.matmul(t(x), y, out=out)
        return lambda x, y: np.matmul(x, t(y), out=out)

    def grad(self, node, dy, need):
        a, b = node.inputs
        ta, tb = node.attrs.get("transpose_a", False), node.attrs.get("transpose_b", False)
        mm = fl.matmul
        ga = gb = None
        if need[0]:
            if not ta:
                ga = mm(dy, b, transpose_b=not tb)
            else:
                ga = mm(b, dy, transpose_a=tb, transpose_b=True)
        if need[1]:
            if not tb:
                gb = mm(a, dy, transpose_a=not ta)
            else:
                gb = mm(dy, a, transpose_a=True, transpose_b=ta)
        # batch dimensions may have been broadcast
        if ga is not None and (a.ndim != 2 or b.ndim != 2):
            ga = unbroadcast(ga, a, [tuple(b.shape[:-2]) + (1, 1)] if b.shape else [None])
        if gb is not None and (a.ndim != 2 or b.ndim != 2):
            gb = unbroadcast(gb, b, [tuple(a.shape[:-2]) + (1, 1)] if a.shape else [None])
        return [ga, gb]


# ====================================================================== softmax family
def _softmax(x, axis):
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


def _log_softmax(x, axis):
    s = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    s -= np.log(np.add.reduce(np.exp(s), axis=axis, keepdims=True))
    return s


class _AxisOp(Op):
    def infer(self, inputs, attrs):
        x = inputs[0]
        if x.shape is not None:
            _norm_axes(attrs["axis"], len(x.shape))
        return x.shape, _float(x.dtype)


@register
class Softmax(_AxisOp):
    def kernel(self, node):
        axis = node.attrs["axis"]
        return lambda x: _softmax(x, axis)

    def grad(self, node, dy, need):
        return [make("SoftmaxGrad", [node, dy], {"axis": node.attrs["axis"]})]


@register
class SoftmaxGrad(_AxisOp):
    arity = 2

    def kernel(self, node):
        axis = node.attrs["axis"]

        def softmax_grad(y, dy):
            inner = np.add.reduce(dy * y, axis=axis, keepdims=True)
            return (dy - inner) * y

        return softmax_grad


@register
class LogSoftmax(_AxisOp):
    def kernel(self, node):
        axis = node.attrs["axis"]
        return lambda x: _log_softmax(x, axis)

    def grad(self, node, dy, need):
        return [make("LogSoftmaxGrad", [node, dy], {"axis": node.attrs["axis"]})]


@register
class LogSoftmaxGrad(_AxisOp):
    arity = 2

    def kernel(self, node):
        axis = node.attrs["axis"]
        return lambda y, dy: dy - np.exp(y) * np.add.reduce(dy, axis=axis, keepdims=True)


# ====================================================================== reductions
class _Reduce(Op):
    def infer(self, inputs, attrs):
        x = inputs[0]
        dtype = _float(x.dtype) if type(self) is Mean else x.dtype
        if x.shape is None:
            return None, dtype
        axes = _norm_axes(attrs["axis"], len(x.shape))
        keep = attrs["keepdims"]
        if axes is None:
            return (tuple(1 for _ in x.shape) if keep else ()), dtype
        if keep:
            return tuple(1 if i in axes else d for i, d in enumerate(x.shape)), dtype
        return tuple(d for i, d in enumerate(x.shape) if i not in axes), dtype

    def _axes(self, node):
        """Static axes when the rank is known, else a function of the runtime rank."""
        x = node.inputs[0]
        axis = node.attrs["axis"]
        if axis is None:
            return None
        if isinstance(axis, list):
            axis = tuple(axis)
        if x.shape is not None:
            return _norm_axes(axis, len(x.shape))
        return axis


@register
class Sum(_Reduce):
    def kernel(self, node):
        axes, keep = self._axes(node), node.attrs["keepdims"]
        return lambda x: np.add.reduce(x, axis=axes, keepdims=keep)

    def grad(self, node, dy, need):
        return [make("ReduceGrad", [dy, node.inputs[0]], dict(node.attrs, mean=False))]


@register
class Mean(_Reduce):
    def kernel(self, node):
        axes, keep = self._axes(node), node.attrs["keepdims"]
        if axes is None:
            return lambda x: np.add.reduce(x, axis=None, keepdims=keep) / x.size

        def mean(x):
            ax = axes if isinstance(axes, tuple) else _runtime_axes(axes, x.ndim)
            n = 1
            for a in ax:
                n *= x.shape[a]
            return np.add.reduce(x, axis=ax, keepdims=keep) / n

        return mean

    def grad(self, node, dy, need):
        return [make("ReduceGrad", [dy, node.inputs[0]], dict(node.attrs, mean=True))]


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


@register
class ReduceGrad(Op):
    """Gradient of Sum/Mean: ``dy`` spread back over the reduced axes (scaled for Mean)."""

    arity = 2

    def infer(self, inputs, attrs):
        return inputs[1].shape, _float(inputs[0].dtype)

    def kernel(self, node):
        axis, keep, mean = node.attrs["axis"], node.attrs["keepdims"], node.attrs["mean"]
        axis = tuple(axis) if isinstance(axis, list) else axis

        def reduce_grad(dy, x):
            out = np.empty(x.shape, dtype=np.result_type(dy))
            if axis is None:
                out[...] = dy * (1.0 / x.size) if mean else dy
                return out
            axes = _runtime_axes(axis, x.ndim)
            out[...] = dy if keep else np.reshape(dy, _kept_shape(x.shape, axes))
            if mean:
                n = 1
                for a in axes:
                    n *= x.shape[a]
                out *= 1.0 / n
            return out

        return reduce_grad


@register
class Max(_Reduce):
    def kernel(self, node):
        axes, keep = self._axes(node), node.attrs["keepdims"]
        return lambda x: np.maximum.reduce(x, axis=axes, keepdims=keep)

    def grad(self, node, dy, need):
        return [make("MaxGrad", [dy, node.inputs[0], node], dict(node.attrs))]


@register
class MaxGrad(Op):
    """``dy`` goes to the maxima, shared equally among ties."""

    arity = 3

    def infer(self, inputs, attrs):
        return inputs[1].shape, inputs[0].dtype

    def kernel(self, node):
        axis, keep = node.attrs["axis"], node.attrs["keepdims"]
        axis = tuple(axis) if isinstance(axis, list) else axis

        def max_grad(dy, x, y):
            axes = tuple(range(x.ndim)) if axis is None else _runtime_axes(axis, x.ndim)
            if not keep:
                kept = _kept_shape(x.shape, axes)
                y, dy = np.reshape(y, kept), np.reshape(dy, kept)
            mask = x == y
            count = np.add.reduce(mask, axis=axes, keepdims=True)
            return mask * (dy / count)

        return max_grad


@register
class ArgMax(Op):
    def infer(self, inputs, attrs):
        x = inputs[0]
        if x.shape is None:
            return None, np.dtype(np.int64)
        (axis,) = _norm_axes(attrs["axis"], len(x.shape))
        return tuple(d for i, d in enumerate(x.shape) if i != axis), np.dtype(np.int64)

    def kernel(self, node):
        axis = node.attrs["axis"]
        return lambda x: np.argmax(x, axis=axis)


# ====================================================================== shape ops
@register
class Reshape(Op):
    view = True

    def infer(self, inputs, attrs):
        x, shape = inputs[0], attrs["shape"]
        if sum(1 for d in shape if d == -1) > 1:
            raise _Bad(f"shape {shape} has more than one -1")
        if any(d < -1 for d in shape):
            raise _Bad(f"shape {shape} has a negative dimension")
        known = 1
        for d in shape:
            if d != -1:
                known *= d
        if _known(x.shape):
            total = int(np.prod(x.shape, dtype=np.int64))
            if -1 in shape:
                if known == 0 or total % known:
                    raise _Bad(f"cannot reshape {format_shape(x.shape)} into {tuple(shape)}")
                return tuple(total // known if d == -1 else d for d in shape), x.dtype
            if total != known:
                raise _Bad(
                    f"cannot reshape {format_shape(x.shape)} ({total} elements) into "
                    f"{tuple(shape)} ({known} elements)"
                )
        return tuple(None if d == -1 else d for d in shape), x.dtype

    def kernel(self, node):
        shape = tuple(node.attrs["shape"])
        return lambda x: np.reshape(x, shape)

    def grad(self, node, dy, need):
        x = node.inputs[0]
        if _known(x.shape):
            return [fl.reshape(dy, list(x.shape))]
        return [make("ReshapeLike", [dy, x])]


@register
class ReshapeLike(Op):
    arity = 2
    view = True

    def infer(self, inputs, attrs):
        return inputs[1].shape, inputs[0].dtype

    def kernel(self, node):
        return lambda dy, x: np.reshape(dy, x.shape)


@register
class Transpose(Op):
    view = True

    def infer(self, inputs, attrs):
        x, perm = inputs[0], attrs["perm"]
        if perm is None:
            return (None if x.shape is None else tuple(reversed(x.shape))), x.dtype
        if sorted(perm) != list(range(len(perm))):
            raise _Bad(f"perm {perm} is not a permutation of 0..{len(perm) - 1}")
        if x.shape is not None and len(x.shape) != len(perm):
            raise _Bad(f"perm {perm} does not match rank {len(x.shape)}")
        return (None if x.shape is None else tuple(x.shape[p] for p in perm)), x.dtype

    def kernel(self, node):
        perm = node.attrs["perm"]
        perm = None if perm is None else tuple(perm)
        return lambda x: np.transpose(x, perm)

    def grad(self, node, dy, need):
        perm = node.attrs["perm"]
        inverse = None if perm is None else [int(i) for i in np.argsort(perm)]
        return [fl.transpose(dy, inverse)]


@register
class Concat(Op):
    arity = None

    def infer(self, inputs, attrs):
        if not inputs:
            raise _Bad("needs at least one input")
        shapes = [x.shape for x in inputs if x.shape is not None]
        dtype = np.result_type(*[x.dtype for x in inputs])
        if not shapes:
            return None, dtype
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise _Bad("inputs have different ranks: " + ", ".join(map(format_shape, shapes)))
        (axis,) = _norm_axes(attrs["axis"], rank)
        out = []
        for i in range(rank):
            dims = [s[i] for s in shapes]
            if i == axis:
                out.append(None if None in dims or len(shapes) < len(inputs) else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise _Bad(
                    f"dimension {i} differs between inputs: " + ", ".join(map(format_shape, shapes))
                )
            out.append(known.pop() if known else None)
        return tuple(out), dtype

    def kernel(self, node):
        axis = node.attrs["axis"]
        return lambda *xs: np.concatenate(xs, axis=axis)

    def grad(self, node, dy, need):
        axis = node.attrs["axis"]
        return [
            make("ConcatGrad", [dy, *node.inputs], {"axis": axis, "index": i}) if n else None
            for i, n in enumerate(need)
        ]


@register
class ConcatGrad(Op):
    """The slice of ``dy`` that belongs to input ``index`` of a Concat."""

    arity = None
    view = True

    def infer(self, inputs, attrs):
        x = inputs[1 + attrs["index"]]
        return x.shape, inputs[0].dtype

    def kernel(self, node):
        axis, index = node.attrs["axis"], node.attrs["index"]

        def concat_grad(dy, *xs):
            ax = axis % dy.ndim
            start = sum(x.shape[ax] for x in xs[:index])
            sl = [slice(None)] * dy.ndim
            sl[ax] = slice(start, start + xs[index].shape[ax])
            return dy[tuple(sl)]

        return concat_grad


# ====================================================================== losses
@register
class SigmoidCrossEntropyWithLogits(Op):
    """max(x, 0) - x*z + log(1 + exp(-|x|)): never overflows."""

    arity = 2

    def infer(self, inputs, attrs):
        z, x = inputs
        return broadcast_shapes(z.shape, x.shape), _float(np.result_type(z.dtype, x.dtype))

    def kernel(self, node):
        def sigmoid_xent(z, x):
            out = np.maximum(x, 0.0) - x * z
            out += np.log1p(np.exp(-np.abs(x)))
            return out

        return sigmoid_xent

    def grad(self, node, dy, need):
        z, x = node.inputs
        gz = unbroadcast(fl.negative(fl.multiply(dy, x)), z, [x.shape]) if need[0] else None
        gx = (
            unbroadcast(make("SigmoidCrossEntropyGrad", [dy, z, x]), x, [z.shape])
            if need[1]
            else None
        )
        return [gz, gx]


@register
class SigmoidCrossEntropyGrad(Op):
    arity = 3

    def infer(self, inputs, attrs):
        dy, z, x = inputs
        return broadcast_shapes(broadcast_shapes(dy.shape, z.shape), x.shape), dy.dtype

    def kernel(self, node):
        sigmoid = OPS["Sigmoid"].kernel(node)

        def sigmoid_xent_grad(dy, z, x):
            out = sigmoid(x)
            out = out - z
            out *= dy
            return out

        return sigmoid_xent_grad


@register
class SoftmaxCrossEntropyWithLogits(Op):
    """-sum(labels * log_softmax(logits), axis): one value per example."""

    arity = 2

    def infer(self, inputs, attrs):
        z, x = inputs
        shape = broadcast_shapes(z.shape, x.shape)
        dtype = _float(np.result_type(z.dtype, x.dtype))
        if shape is None:
            return None, dtype
        if not shape:
            raise _Bad("labels and logits need rank >= 1")
        (axis,) = _norm_axes(attrs["axis"], len(shape))
        return tuple(d for i, d in enumerate(shape) if i != axis), dtype

    def kernel(self, node):
        axis = node.attrs["axis"]

        def softmax_xent(z, x):
            return -np.add.reduce(z * _log_softmax(x, axis), axis=axis)

        return softmax_xent

    def grad(self, node, dy, need):
        z, x = node.inputs
        attrs = {"axis": node.attrs["axis"]}
        gz = gx = None
        if need[0]:
            gz = unbroadcast(
                make("SoftmaxCrossEntropyGrad", [dy, z, x], dict(attrs, wrt="labels")), z, [x.shape]
            )
        if need[1]:
            gx = unbroadcast(
                make("SoftmaxCrossEntropyGrad", [dy, z, x], dict(attrs, wrt="logits")), x, [z.shape]
            )
        return [gz, gx]


@register
class SoftmaxCrossEntropyGrad(Op):
    """wrt logits: dy * (softmax(x) * sum(z) - z); wrt labels: -dy * log_softmax(x)."""

    arity = 3

    def infer(self, inputs, attrs):
        dy, z, x = inputs
        return broadcast_shapes(z.shape, x.shape), dy.dtype

    def kernel(self, node):
        axis, wrt = node.attrs["axis"], node.attrs["wrt"]

        def softmax_xent_grad(dy, z, x):
            dy = np.expand_dims(dy, axis)
            if wrt == "labels":
                return -dy * _log_softmax(x, axis)
            p = _softmax(x, axis)
            p *= np.add.reduce(z, axis=axis, keepdims=True)
            p -= z
            p *= dy
            return p

        return softmax_xent_grad


# ====================================================================== state and optimizers
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
