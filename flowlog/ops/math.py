"""Arithmetic: elementwise unary and broadcasting binary ops, comparisons, ``Where``, ``AddN``
and ``MatMul``; also the Python operators on nodes (``x + 1``, ``a @ b`` …).

Gradients of broadcasting ops are stated at the broadcast (output) shape; summing them back to
each input's shape is done once, in :mod:`flowlog.gradients`.
"""

from __future__ import annotations

import numpy as np

from flowlog.graph import Tensor, format_shape
from flowlog.ops.core import (
    InferError,
    Op,
    Unary,
    as_node,
    binary,
    broadcast_shapes,
    differ,
    float_dtype,
    make,
    register,
)


# ====================================================================== elementwise unary
@register
class Neg(Unary):
    fn = np.negative

    def grad(self, node, dy, need):
        return [make("Neg", [dy])]


@register
class Square(Unary):
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
class Sqrt(Unary):
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
class Exp(Unary):
    fn = np.exp
    to_float = True

    def grad(self, node, dy, need):
        return [make("Mul", [dy, node])]


@register
class Log(Unary):
    fn = np.log
    to_float = True

    def grad(self, node, dy, need):
        return [make("Div", [dy, node.inputs[0]])]


@register
class Abs(Unary):
    fn = np.abs

    def grad(self, node, dy, need):
        return [make("Mul", [dy, make("Sign", [node.inputs[0]])])]


@register
class Sign(Unary):
    fn = np.sign


# ====================================================================== broadcasting binary
class Binary(Op):
    arity = 2
    broadcasting = True
    fn = None
    out_dtype = None  # None: numpy's result type; "float": promoted to float; "bool"

    def infer(self, inputs, attrs):
        a, b = inputs
        shape = broadcast_shapes(a.shape, b.shape)
        dtype = np.result_type(a.dtype, b.dtype)
        if self.out_dtype == "float":
            dtype = float_dtype(dtype)
        elif self.out_dtype == "bool":
            dtype = np.dtype(bool)
        return shape, dtype

    def kernel(self, node):
        return type(self).fn


@register
class Add(Binary):
    fn = np.add

    def grad(self, node, dy, need):
        return [dy, dy]


@register
class Sub(Binary):
    fn = np.subtract

    def grad(self, node, dy, need):
        return [dy, make("Neg", [dy]) if need[1] else None]


@register
class Mul(Binary):
    fn = np.multiply

    def grad(self, node, dy, need):
        x, y = node.inputs
        return [
            make("Mul", [dy, y]) if need[0] else None,
            make("Mul", [dy, x]) if need[1] else None,
        ]


@register
class Div(Binary):
    fn = np.true_divide
    out_dtype = "float"

    def grad(self, node, dy, need):
        x, y = node.inputs
        gx = make("Div", [dy, y]) if need[0] else None
        # d(x/y)/dy = -(x/y)/y, reusing the forward output
        gy = make("Neg", [make("Div", [make("Mul", [dy, node]), y])]) if need[1] else None
        return [gx, gy]


@register
class Pow(Binary):
    fn = np.power

    def grad(self, node, dy, need):
        x, y = node.inputs
        gx = make("PowGradBase", [dy, x, y]) if need[0] else None
        gy = make("PowGradExponent", [dy, x, node]) if need[1] else None
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


def _route(cond, dy, need_x, need_y) -> list:
    """``dy`` split between the two branches of a selection: to x where ``cond``, else to y."""
    zero = as_node(0.0, dy, name="zero")
    return [
        make("Where", [cond, dy, zero]) if need_x else None,
        make("Where", [cond, zero, dy]) if need_y else None,
    ]


class _MinMax(Binary):
    pick_x = None  # comparison selecting x (ties go to x, as in TensorFlow)

    def grad(self, node, dy, need):
        return _route(make(self.pick_x, node.inputs), dy, *need)


@register
class Maximum(_MinMax):
    fn = np.maximum
    pick_x = "GreaterEqual"


@register
class Minimum(_MinMax):
    fn = np.minimum
    pick_x = "LessEqual"


class _Compare(Binary):
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
    broadcasting = True

    def infer(self, inputs, attrs):
        c, x, y = inputs
        if c.dtype != np.dtype(bool):
            raise InferError(f"the condition must have dtype bool, not {c.dtype}")
        shape = broadcast_shapes(broadcast_shapes(c.shape, x.shape), y.shape)
        return shape, np.result_type(x.dtype, y.dtype)

    def kernel(self, node):
        return np.where

    def grad(self, node, dy, need):
        return [None, *_route(node.inputs[0], dy, need[1], need[2])]


@register
class AddN(Op):
    arity = None
    view = True  # a single input is passed through unchanged

    def infer(self, inputs, attrs):
        if not inputs:
            raise InferError("needs at least one input")
        shape = inputs[0].shape
        for x in inputs[1:]:
            if shape is None or x.shape is None:
                shape = shape or x.shape
                continue
            if differ(shape, x.shape):
                raise InferError(
                    f"all inputs need the same shape, got {format_shape(shape)} "
                    f"and {format_shape(x.shape)}"
                )
            shape = tuple(a if a is not None else b for a, b in zip(shape, x.shape, strict=True))
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

    def grad(self, node, dy, need):
        return [dy if n else None for n in need]


# ====================================================================== matmul
def matmul(a, b, transpose_a=False, transpose_b=False, name=None) -> Tensor:
    """``fl.matmul``; the transpose flags are attributes only when set."""
    attrs = {}
    if transpose_a:
        attrs["transpose_a"] = True
    if transpose_b:
        attrs["transpose_b"] = True
    return binary("MatMul", a, b, name, attrs)


@register
class MatMul(Op):
    """Batched matrix product: leading (batch) dimensions broadcast, the last two do not."""

    arity = 2
    broadcasting = True
    core_rank = 2

    def infer(self, inputs, attrs):
        a, b = inputs
        ta, tb = attrs.get("transpose_a", False), attrs.get("transpose_b", False)
        for x in (a, b):
            if x.shape is not None and len(x.shape) < 2:
                raise InferError(
                    f"operands need rank >= 2, got {x.name!r} with shape {format_shape(x.shape)}"
                )
        if a.shape is None or b.shape is None:
            return None, np.result_type(a.dtype, b.dtype)
        m, k1 = (a.shape[-1], a.shape[-2]) if ta else (a.shape[-2], a.shape[-1])
        k2, n = (b.shape[-1], b.shape[-2]) if tb else (b.shape[-2], b.shape[-1])
        if k1 is not None and k2 is not None and k1 != k2:
            raise InferError(
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
        ga = gb = None
        if need[0]:
            ga = matmul(dy, b, False, not tb) if not ta else matmul(b, dy, tb, True)
        if need[1]:
            gb = matmul(a, dy, not ta, False) if not tb else matmul(dy, a, True, ta)
        return [ga, gb]


# ====================================================================== Python operators
def _define_operators():
    """``x + 1``, ``2 * x``, ``a @ b``, ``-x``, ``abs(x)`` on nodes build these ops."""
    for name, op_type in [
        ("add", "Add"),
        ("sub", "Sub"),
        ("mul", "Mul"),
        ("truediv", "Div"),
        ("pow", "Pow"),
        ("matmul", "MatMul"),
    ]:
        setattr(Tensor, f"__{name}__", lambda self, other, _op=op_type: binary(_op, self, other))
        setattr(Tensor, f"__r{name}__", lambda self, other, _op=op_type: binary(_op, other, self))
    Tensor.__neg__ = lambda self: make("Neg", [self])
    Tensor.__abs__ = lambda self: make("Abs", [self])


_define_operators()
