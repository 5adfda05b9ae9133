"""Numpy formulations of 2-D convolution (forward, input and filter gradients) on LeNet-sized
layers, to choose the one :mod:`flowlog.ops.conv` uses; PyTorch's CPU conv as a reference.

* ``im2col``: the kernels in flowlog.ops.conv (patches copied once, one matmul; col2im for the
  input gradient) — the baseline every ratio is against;
* ``offsets``: a loop over the ``kh * kw`` kernel offsets, one matmul per offset on a strided
  slice (no patch copy, ``kh * kw`` passes over the output);
* ``einsum``: ``np.einsum(..., optimize=True)`` on the sliding-window view;
* ``torch``: ``torch.nn.functional.conv2d`` and its autograd backward (when installed).

Single-threaded BLAS (and torch), float32, median of several repeats run interleaved, all in
one run. Usage: ``python benchmarks/conv_ops.py [--repeats 7] [--steps 20]``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from flowlog.ops import conv  # noqa: E402

LAYERS = {  # name: (input shape NHWC, filter shape HWIO)
    "conv1 64x28x28x1 -> 6@5x5": ((64, 28, 28, 1), (5, 5, 1, 6)),
    "conv2 64x12x12x6 -> 16@5x5": ((64, 12, 12, 6), (5, 5, 6, 16)),
}
STRIDES, PADDING = (1, 1), "VALID"


# ------------------------------------------------------------------ the alternatives
def offsets_forward(x, w):
    k, s = w.shape[:2], STRIDES
    out, pads = conv._geometry(x.shape, k, s, PADDING)
    xp = conv._pad(x, pads)
    y = np.zeros((x.shape[0], *out, w.shape[3]), np.result_type(x, w))
    for i in range(k[0]):
        for j in range(k[1]):
            y += xp[conv._offset(i, j, s, out)] @ w[i, j]
    return y


def offsets_filter(x, w, dy):
    k, s = w.shape[:2], STRIDES
    out, pads = conv._geometry(x.shape, k, s, PADDING)
    xp = conv._pad(x, pads)
    dw = np.empty(w.shape, dy.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            dw[i, j] = np.tensordot(xp[conv._offset(i, j, s, out)], dy, axes=([0, 1, 2], [0, 1, 2]))
    return dw


def offsets_input(x, w, dy):
    k, s = w.shape[:2], STRIDES
    out, pads = conv._geometry(x.shape, k, s, PADDING)
    (pt, pb), (pl, pr) = pads
    dxp = np.zeros((x.shape[0], x.shape[1] + pt + pb, x.shape[2] + pl + pr, x.shape[3]), dy.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            dxp[conv._offset(i, j, s, out)] += dy @ w[i, j].T
    return conv._crop(dxp, pads)


def transposed_input(x, w, dy):
    """The input gradient as a VALID conv of the zero-dilated, fully padded ``dy`` with the
    flipped, transposed filters (one im2col matmul, no scatter)."""
    k, s = w.shape[:2], STRIDES
    out, pads = conv._geometry(x.shape, k, s, PADDING)
    (pt, pb), (pl, pr) = pads
    hp, wp = x.shape[1] + pt + pb, x.shape[2] + pl + pr
    n, oh, ow, f = dy.shape
    dh, dw = (oh - 1) * s[0] + 1, (ow - 1) * s[1] + 1
    big = np.zeros((n, hp + k[0] - 1, wp + k[1] - 1, f), dy.dtype)
    big[:, k[0] - 1 : k[0] - 1 + dh : s[0], k[1] - 1 : k[1] - 1 + dw : s[1]] = dy
    flipped = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
    return conv._crop(conv.conv2d(big, flipped, 1, "VALID"), pads)


def _window_view(x, w):
    k, s = w.shape[:2], STRIDES
    out, pads = conv._geometry(x.shape, k, s, PADDING)
    return sliding_window_view(conv._pad(x, pads), k, axis=(1, 2))[conv._offset(0, 0, s, out)]


def einsum_forward(x, w):
    return np.einsum("nhwcij,ijcf->nhwf", _window_view(x, w), w, optimize=True)


def einsum_filter(x, w, dy):
    return np.einsum("nhwcij,nhwf->ijcf", _window_view(x, w), dy, optimize=True)


def contenders(x, w, dy):
    """{pass: {formulation: zero-argument callable}}."""
    found = {
        "forward": {
            "im2col": lambda: conv.conv2d(x, w, STRIDES, PADDING),
            "offsets": lambda: offsets_forward(x, w),
            "einsum": lambda: einsum_forward(x, w),
        },
        "grad input": {
            "im2col": lambda: conv.conv2d_backprop_input(x.shape, w, dy, STRIDES, PADDING),
            "offsets": lambda: offsets_input(x, w, dy),
            "full-conv": lambda: transposed_input(x, w, dy),
        },
        "grad filter": {
            "im2col": lambda: conv.conv2d_backprop_filter(x, w.shape, dy, STRIDES, PADDING),
            "offsets": lambda: offsets_filter(x, w, dy),
            "einsum": lambda: einsum_filter(x, w, dy),
        },
    }
    _add_torch(found, x, w, dy)
    return found


def _add_torch(found, x, w, dy):
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())  # NCHW, OIHW
    tw = torch.from_numpy(w.transpose(3, 2, 0, 1).copy())
    tdy = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy())
    f = torch.nn.functional.conv2d
    grad = torch.nn.grad
    found["forward"]["torch"] = lambda: f(tx, tw)
    found["grad input"]["torch"] = lambda: grad.conv2d_input(tx.shape, tw, tdy)
    found["grad filter"]["torch"] = lambda: grad.conv2d_weight(tx, tw.shape, tdy)


def check_agree(found):
    """Every numpy formulation gives the baseline's values (a benchmark of wrong maths is moot)."""
    for name, fns in found.items():
        want = fns["im2col"]()
        for other, fn in fns.items():
            if other != "torch":
                np.testing.assert_allclose(fn(), want, rtol=1e-4, atol=1e-4, err_msg=name)


def measure(fns: dict, steps: int, repeats: int) -> dict:
    """ms per call (median over repeats) and the median per-repeat ratio to the first."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            times[name].append((time.perf_counter() - t0) / steps * 1e3)
    base = times[next(iter(fns))]
    return {
        name: (
            statistics.median(ts),
            statistics.median(t / b for t, b in zip(ts, base, strict=True)),
        )
        for name, ts in times.items()
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    for layer, (x_shape, w_shape) in LAYERS.items():
        x = rng.normal(size=x_shape).astype(np.float32)
        w = rng.normal(size=w_shape).astype(np.float32)
        dy = rng.normal(size=conv.conv2d(x, w, STRIDES, PADDING).shape).astype(np.float32)
        found = contenders(x, w, dy)
        check_agree(found)
        print(f"\n{layer}  (float32, strides 1, VALID)")
        for name, fns in found.items():
            for formulation, (ms, ratio) in measure(fns, args.steps, args.repeats).items():
                print(f"  {name:<12} {formulation:<9} {ms:8.3f} ms/call  x{ratio:5.2f} vs im2col")


if __name__ == "__main__":
    main()
