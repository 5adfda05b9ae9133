"""Reductions (``Sum``, ``Mean``, ``Max``, ``ArgMax``) and their gradients.

Axes are normalised statically when the input's rank is known; otherwise the kernels normalise
them against each value's rank at run time.
"""

from __future__ import annotations

import numpy as np

from flowlog.ops.core import Op, float_dtype, make, norm_axes, register, runtime_axes


class _Reduce(Op):
    to_float = False

    def infer(self, inputs, attrs):
        x = inputs[0]
        dtype = float_dtype(x.dtype) if self.to_float else x.dtype
        if x.shape is None:
            return None, dtype
        axes = norm_axes(attrs["axis"], len(x.shape))
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
            return norm_axes(axis, len(x.shape))
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
    to_float = True

    def kernel(self, node):
        axes, keep = self._axes(node), node.attrs["keepdims"]
        if axes is None:
            return lambda x: np.add.reduce(x, axis=None, keepdims=keep) / x.size

        def mean(x):
            ax = axes if isinstance(axes, tuple) else runtime_axes(axes, x.ndim)
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
        return inputs[1].shape, float_dtype(inputs[0].dtype)

    def kernel(self, node):
        axis, keep, mean = node.attrs["axis"], node.attrs["keepdims"], node.attrs["mean"]
        axis = tuple(axis) if isinstance(axis, list) else axis

        def reduce_grad(dy, x):
            out = np.empty(x.shape, dtype=np.result_type(dy))
            if axis is None:
                out[...] = dy * (1.0 / x.size) if mean else dy
                return out
            axes = runtime_axes(axis, x.ndim)
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
            axes = tuple(range(x.ndim)) if axis is None else runtime_axes(axis, x.ndim)
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
        (axis,) = norm_axes(attrs["axis"], len(x.shape))
        return tuple(d for i, d in enumerate(x.shape) if i != axis), np.dtype(np.int64)

    def kernel(self, node):
        axis = node.attrs["axis"]
        return lambda x: np.argmax(x, axis=axis)
