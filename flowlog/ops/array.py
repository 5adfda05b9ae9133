"""Ops that move or retype values without arithmetic: ``Identity``, ``Cast``, ``OnesLike``,
``Reshape``, ``Transpose`` and ``Concat``.
"""

from __future__ import annotations

import numpy as np

from flowlog.graph import format_shape
from flowlog.ops.core import InferError, Op, Unary, is_float, known, make, norm_axes, register


@register
class Identity(Unary):
    view = True

    def kernel(self, node):
        return lambda x: x

    def grad(self, node, dy, need):
        return [dy]


@register
class OnesLike(Unary):
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
        if not (is_float(x.dtype) and is_float(node.dtype)):
            return [None]
        return [make("Cast", [dy], {"dtype": x.dtype.name})]


@register
class Reshape(Op):
    view = True

    def infer(self, inputs, attrs):
        x, shape = inputs[0], attrs["shape"]
        if sum(1 for d in shape if d == -1) > 1:
            raise InferError(f"shape {shape} has more than one -1")
        if any(d < -1 for d in shape):
            raise InferError(f"shape {shape} has a negative dimension")
        size = 1
        for d in shape:
            if d != -1:
                size *= d
        if known(x.shape):
            total = int(np.prod(x.shape, dtype=np.int64))
            if -1 in shape:
                if size == 0 or total % size:
                    raise InferError(f"cannot reshape {format_shape(x.shape)} into {tuple(shape)}")
                return tuple(total // size if d == -1 else d for d in shape), x.dtype
            if total != size:
                raise InferError(
                    f"cannot reshape {format_shape(x.shape)} ({total} elements) into "
                    f"{tuple(shape)} ({size} elements)"
                )
        return tuple(None if d == -1 else d for d in shape), x.dtype

    def kernel(self, node):
        shape = tuple(node.attrs["shape"])
        return lambda x: np.reshape(x, shape)

    def grad(self, node, dy, need):
        x = node.inputs[0]
        if known(x.shape):
            return [make("Reshape", [dy], {"shape": [int(d) for d in x.shape]})]
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
            raise InferError(f"perm {perm} is not a permutation of 0..{len(perm) - 1}")
        if x.shape is not None and len(x.shape) != len(perm):
            raise InferError(f"perm {perm} does not match rank {len(x.shape)}")
        return (None if x.shape is None else tuple(x.shape[p] for p in perm)), x.dtype

    def kernel(self, node):
        perm = node.attrs["perm"]
        perm = None if perm is None else tuple(perm)
        return lambda x: np.transpose(x, perm)

    def grad(self, node, dy, need):
        perm = node.attrs["perm"]
        inverse = None if perm is None else [int(i) for i in np.argsort(perm)]
        return [make("Transpose", [dy], {"perm": inverse})]


@register
class Concat(Op):
    arity = None

    def infer(self, inputs, attrs):
        if not inputs:
            raise InferError("needs at least one input")
        shapes = [x.shape for x in inputs if x.shape is not None]
        dtype = np.result_type(*[x.dtype for x in inputs])
        if not shapes:
            return None, dtype
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise InferError("inputs have different ranks: " + ", ".join(map(format_shape, shapes)))
        (axis,) = norm_axes(attrs["axis"], rank)
        out = []
        for i in range(rank):
            dims = [s[i] for s in shapes]
            if i == axis:
                out.append(None if None in dims or len(shapes) < len(inputs) else sum(dims))
                continue
            sizes = {d for d in dims if d is not None}
            if len(sizes) > 1:
                raise InferError(
                    f"dimension {i} differs between inputs: " + ", ".join(map(format_shape, shapes))
                )
            out.append(sizes.pop() if sizes else None)
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
