"""Spatial ops on NHWC images: ``Conv2D`` and ``MaxPool`` with their gradient ops, after
TensorFlow's ops of the same names.

Layout and geometry are TensorFlow's: input ``(N, H, W, C)``, filters HWIO ``(kh, kw, C, F)``,
``strides`` an int or a pair (or TF's ``[1, sh, sw, 1]``), ``padding`` ``"VALID"`` (no
padding, output ``(H - kh) // sh + 1``) or ``"SAME"`` (output ``ceil(H / sh)``, the padding
split with the extra row/column at the bottom/right). Attributes are JSON types (lists, not
tuples), so a described graph states them as given; the kernels accept lists.

The numpy formulations (measured in ``benchmarks/conv_ops.py``): the forward pass and the
filter gradient are one matmul over im2col patches (a strided window view copied once); the
input gradient is one matmul into per-offset columns scattered back with ``kh * kw``
strided adds (col2im).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from flowlog.graph import format_shape
from flowlog.ops.core import InferError, Op, is_float, make, register

PADDINGS = ("SAME", "VALID")


# ====================================================================== geometry
def spatial_pair(value, what: str) -> tuple[int, int]:
    """``strides`` / ``ksize`` as ``(along H, along W)``: an int, 1, 2 or 4 ints (TF's forms).

    Raises ``ValueError`` naming ``what`` and the value.
    """
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items)
    if not items or not ints:
        raise ValueError(f"{what} must be an int or a list of 1, 2 or 4 ints, got {value!r}")
    if len(items) == 4:
        if items[0] != 1 or items[3] != 1:
            raise ValueError(
                f"{what} {list(items)}: the batch and channel entries (first, last) must be 1"
            )
        items = items[1:3]
    if len(items) == 1:
        items = items * 2
    if len(items) != 2:
        raise ValueError(f"{what} must be an int or a list of 1, 2 or 4 ints, got {value!r}")
    if any(v < 1 for v in items):
        raise ValueError(f"{what} must be positive, got {value!r}")
    return int(items[0]), int(items[1])


def check_padding(padding) -> str:
    if padding not in PADDINGS:
        raise ValueError(
            f"padding must be one of {', '.join(map(repr, PADDINGS))}, got {padding!r}"
        )
    return padding


def out_and_pads(size, k, s, padding, what="input size"):
    """``(output size, pad before, pad after)`` along one spatial axis (TensorFlow's rule)."""
    if padding == "VALID":
        if size < k:
            raise ValueError(f"window {k} is larger than the {what} {size} (padding 'VALID')")
        return (size - k) // s + 1, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def _geometry(x_shape, k, s, padding):
    """Output size and pads along H and W for an NHWC value of ``x_shape``."""
    oh, pt, pb = out_and_pads(x_shape[1], k[0], s[0], padding, "input height")
    ow, pl, pr = out_and_pads(x_shape[2], k[1], s[1], padding, "input width")
    return (oh, ow), ((pt, pb), (pl, pr))


def _pad(x, pads, value=0):
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def _crop(xp, pads):
    (pt, pb), (pl, pr) = pads
    return xp[:, pt : xp.shape[1] - pb, pl : xp.shape[2] - pr]


def _offset(i, j, s, out):
    """Index of the input rows/columns that kernel offset ``(i, j)`` meets, for every output."""
    return (
        slice(None),
        slice(i, i + (out[0] - 1) * s[0] + 1, s[0]),
        slice(j, j + (out[1] - 1) * s[1] + 1, s[1]),
    )


def im2col(xp, k, s, out):
    """Patches of the padded input as a ``(N * oh * ow, kh * kw * C)`` array (one copy)."""
    win = sliding_window_view(xp, k, axis=(1, 2))[_offset(0, 0, s, out)]  # N oh ow C kh kw
    n, c = xp.shape[0], xp.shape[3]
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(n * out[0] * out[1], k[0] * k[1] * c)


# ====================================================================== conv kernels
def conv2d(x, w, strides, padding):
    """Forward convolution (cross-correlation, as TensorFlow): im2col patches @ filters."""
    k, s = w.shape[:2], spatial_pair(strides, "strides")
    _check_channels(x.shape, w.shape)
    out, pads = _geometry(x.shape, k, s, padding)
    cols = im2col(_pad(x, pads), k, s, out)
    y = cols @ w.reshape(-1, w.shape[3])
    return y.reshape(x.shape[0], out[0], out[1], w.shape[3])


def conv2d_backprop_filter(x, w_shape, dy, strides, padding):
    """d(loss)/d(filters): patches transposed @ upstream gradient."""
    k, s = tuple(w_shape[:2]), spatial_pair(strides, "strides")
    out, pads = _geometry(x.shape, k, s, padding)
    cols = im2col(_pad(x, pads), k, s, out)
    dw = cols.T @ dy.reshape(-1, dy.shape[3])
    return dw.reshape(w_shape)


def conv2d_backprop_input(x_shape, w, dy, strides, padding):
    """d(loss)/d(input): per-offset columns (one matmul) added back at their strided rows
    (col2im)."""
    k, s = w.shape[:2], spatial_pair(strides, "strides")
    out, pads = _geometry(x_shape, k, s, padding)
    n, oh, ow, f = dy.shape
    c = w.shape[2]
    cols = w.reshape(-1, f) @ dy.reshape(-1, f).T  # (kh * kw * C, N * oh * ow)
    # one copy to (kh, kw, N, oh, ow, C): each offset's block is contiguous for its add
    cols = np.ascontiguousarray(cols.reshape(k[0] * k[1], c, n * oh * ow).transpose(0, 2, 1))
    cols = cols.reshape(k[0], k[1], n, oh, ow, c)
    (pt, pb), (pl, pr) = pads
    dxp = np.zeros((n, x_shape[1] + pt + pb, x_shape[2] + pl + pr, x_shape[3]), cols.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            dxp[_offset(i, j, s, out)] += cols[i, j]
    return _crop(dxp, pads)


def _check_channels(x_shape, w_shape):
    if x_shape[3] != w_shape[2]:
        raise ValueError(
            f"input channels {x_shape[3]} (input shape {format_shape(x_shape)}) do not match "
            f"the filters' input channels {w_shape[2]} (filter shape {format_shape(w_shape)})"
        )


# ====================================================================== conv ops
def _rank4(t, what):
    if t.shape is not None and len(t.shape) != 4:
        layout = "NHWC (batch, height, width, channels)" if what == "input" else "HWIO"
        raise InferError(
            f"{what} {t.name!r} must have rank 4 ({layout}), got {format_shape(t.shape)}"
        )
    if not is_float(t.dtype):
        raise InferError(f"{what} {t.name!r} must be floating, got {t.dtype}")


def _attrs(attrs, window_attr=None):
    """``(window, strides, padding)`` from a node's attributes, as ``InferError`` if bad."""
    try:
        check_padding(attrs.get("padding"))
        s = spatial_pair(attrs.get("strides"), "strides")
        k = spatial_pair(attrs.get(window_attr), window_attr) if window_attr else None
    except ValueError as exc:
        raise InferError(str(exc)) from None
    return k, s, attrs["padding"]


def _out_dim(size, k, s, padding, what):
    if size is None or k is None:
        return None
    try:
        return out_and_pads(size, k, s, padding, what)[0]
    except ValueError as exc:
        raise InferError(str(exc)) from None


@register
class Conv2D(Op):
    """``tf.nn.conv2d``: NHWC input, HWIO filters, ``strides`` / ``padding`` attributes."""

    arity = 2

    def infer(self, inputs, attrs):
        x, w = inputs
        _rank4(x, "input")
        _rank4(w, "filters")
        _, s, padding = _attrs(attrs)
        dtype = np.result_type(x.dtype, w.dtype)
        if x.shape is None or w.shape is None:
            return None, dtype
        c, c_w = x.shape[3], w.shape[2]
        if c is not None and c_w is not None and c != c_w:
            raise InferError(
                f"input channels {c} (input shape {format_shape(x.shape)}) do not match the "
                f"filters' input channels {c_w} (filter shape {format_shape(w.shape)})"
            )
        oh = _out_dim(x.shape[1], w.shape[0], s[0], padding, "input height")
        ow = _out_dim(x.shape[2], w.shape[1], s[1], padding, "input width")
        return (x.shape[0], oh, ow, w.shape[3]), dtype

    def kernel(self, node):
        strides, padding = node.attrs["strides"], node.attrs["padding"]
        return lambda x, w: conv2d(x, w, strides, padding)

    def grad(self, node, dy, need):
        x, w = node.inputs
        attrs = {"strides": node.attrs["strides"], "padding": node.attrs["padding"]}
        gx = make("Conv2DBackpropInput", [x, w, dy], attrs) if need[0] else None
        gw = make("Conv2DBackpropFilter", [x, w, dy], attrs) if need[1] else None
        return [gx, gw]


@register
class Conv2DBackpropInput(Op):
    """Gradient of ``Conv2D`` w.r.t. its input; inputs ``(input, filters, dy)``, the input
    read for its shape only (TensorFlow passes ``input_sizes``)."""

    arity = 3

    def infer(self, inputs, attrs):
        _attrs(attrs)
        return inputs[0].shape, inputs[2].dtype

    def kernel(self, node):
        strides, padding = node.attrs["strides"], node.attrs["padding"]
        return lambda x, w, dy: conv2d_backprop_input(x.shape, w, dy, strides, padding)


@register
class Conv2DBackpropFilter(Op):
    """Gradient of ``Conv2D`` w.r.t. its filters; inputs ``(input, filters, dy)``, the filters
    read for their shape only (TensorFlow passes ``filter_sizes``)."""

    arity = 3

    def infer(self, inputs, attrs):
        _attrs(attrs)
        return inputs[1].shape, inputs[2].dtype

    def kernel(self, node):
        strides, padding = node.attrs["strides"], node.attrs["padding"]
        return lambda x, w, dy: conv2d_backprop_filter(x, w.shape, dy, strides, padding)


# ====================================================================== max pooling
def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def max_pool(x, ksize, strides, padding):
    """Window maxima by ``kh * kw`` strided ``np.maximum`` passes (SAME pads with -inf)."""
    k, s = spatial_pair(ksize, "ksize"), spatial_pair(strides, "strides")
    out, pads = _geometry(x.shape, k, s, padding)
    xp = _pad(x, pads, _lowest(x.dtype))
    y = xp[_offset(0, 0, s, out)].copy()
    for i in range(k[0]):
        for j in range(k[1]):
            if i or j:
                np.maximum(y, xp[_offset(i, j, s, out)], out=y)
    return y


def max_pool_grad(x, y, dy, ksize, strides, padding):
    """Each window's gradient goes to its *first* maximum in row-major (h, then w) order, as
    TensorFlow's CPU kernel; a tied later element gets nothing. Overlapping windows add up."""
    k, s = spatial_pair(ksize, "ksize"), spatial_pair(strides, "strides")
    out, pads = _geometry(x.shape, k, s, padding)
    xp = _pad(x, pads, _lowest(x.dtype))
    dxp = np.zeros(xp.shape, dy.dtype)
    free = np.ones(y.shape, bool)  # windows whose maximum is not found yet
    for i in range(k[0]):
        for j in range(k[1]):
            at = _offset(i, j, s, out)
            hit = xp[at] == y
            hit &= free
            free ^= hit
            dxp[at] += dy * hit
    return _crop(dxp, pads)


class _PoolOp(Op):
    def _shape(self, x, attrs):
        if x.shape is not None and len(x.shape) != 4:
            raise InferError(
                f"input {x.name!r} must have rank 4 (NHWC), got {format_shape(x.shape)}"
            )
        k, s, padding = _attrs(attrs, "ksize")
        if x.shape is None:
            return None
        oh = _out_dim(x.shape[1], k[0], s[0], padding, "input height")
        ow = _out_dim(x.shape[2], k[1], s[1], padding, "input width")
        return (x.shape[0], oh, ow, x.shape[3])


@register
class MaxPool(_PoolOp):
    """``tf.nn.max_pool2d``: ``ksize``, ``strides`` and ``padding`` attributes."""

    def infer(self, inputs, attrs):
        x = inputs[0]
        if x.dtype is None or x.dtype.kind not in "iuf":
            raise InferError(f"input {x.name!r} must be numeric, got {x.dtype}")
        return self._shape(x, attrs), x.dtype

    def kernel(self, node):
        a = node.attrs
        return lambda x: max_pool(x, a["ksize"], a["strides"], a["padding"])

    def grad(self, node, dy, need):
        return [make("MaxPoolGrad", [node.inputs[0], node, dy], dict(node.attrs))]


@register
class MaxPoolGrad(_PoolOp):
    """Gradient of ``MaxPool``; inputs ``(input, output, dy)`` as TensorFlow's op."""

    arity = 3

    def infer(self, inputs, attrs):
        self._shape(inputs[0], attrs)
        return inputs[0].shape, inputs[2].dtype

    def kernel(self, node):
        a = node.attrs
        return lambda x, y, dy: max_pool_grad(x, y, dy, a["ksize"], a["strides"], a["padding"])
