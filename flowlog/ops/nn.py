"""Neural-network ops: activations, softmax / log-softmax and the two cross-entropy losses.

Kernels are written for numerical stability (no overflow for large logits); the loss ops
broadcast labels against logits, so their gradients are summed back in
:mod:`flowlog.gradients` like any other broadcasting op's.
"""

from __future__ import annotations

import numpy as np

from flowlog.ops.core import (
    OPS,
    InferError,
    Op,
    Unary,
    broadcast_shapes,
    float_dtype,
    make,
    norm_axes,
    register,
)


# ====================================================================== activations
@register
class Relu(Unary):
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
class Sigmoid(Unary):
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
class Tanh(Unary):
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
            norm_axes(attrs["axis"], len(x.shape))
        return x.shape, float_dtype(x.dtype)


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


# ====================================================================== losses
@register
class SigmoidCrossEntropyWithLogits(Op):
    """max(x, 0) - x*z + log(1 + exp(-|x|)): never overflows."""

    arity = 2
    broadcasting = True

    def infer(self, inputs, attrs):
        z, x = inputs
        return broadcast_shapes(z.shape, x.shape), float_dtype(np.result_type(z.dtype, x.dtype))

    def kernel(self, node):
        def sigmoid_xent(z, x):
            out = np.maximum(x, 0.0) - x * z
            out += np.log1p(np.exp(-np.abs(x)))
            return out

        return sigmoid_xent

    def grad(self, node, dy, need):
        z, x = node.inputs
        gz = make("Neg", [make("Mul", [dy, x])]) if need[0] else None
        gx = make("SigmoidCrossEntropyGrad", [dy, z, x]) if need[1] else None
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
    broadcasting = True

    def infer(self, inputs, attrs):
        z, x = inputs
        shape = broadcast_shapes(z.shape, x.shape)
        dtype = float_dtype(np.result_type(z.dtype, x.dtype))
        if shape is None:
            return None, dtype
        if not shape:
            raise InferError("labels and logits need rank >= 1")
        (axis,) = norm_axes(attrs["axis"], len(shape))
        return tuple(d for i, d in enumerate(shape) if i != axis), dtype

    def kernel(self, node):
        axis = node.attrs["axis"]

        def softmax_xent(z, x):
            return -np.add.reduce(z * _log_softmax(x, axis), axis=axis)

        return softmax_xent

    def grad(self, node, dy, need):
        axis = node.attrs["axis"]
        return [
            make("SoftmaxCrossEntropyGrad", [dy, *node.inputs], {"axis": axis, "wrt": wrt})
            if n
            else None
            for wrt, n in zip(("labels", "logits"), need, strict=True)
        ]


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
