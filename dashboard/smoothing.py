"""TensorBoard's debiased exponential moving average, vectorised for million-point series.

TensorBoard smooths in the browser on its 1,000-point sample; here the server smooths the full
series so a spike that the sample would miss still moves the curve. Semantics match TensorBoard:
non-finite points pass through unchanged and do not feed the average, the first finite point is
not pulled towards zero (debiasing), and a constant series stays exactly constant.

Speed (1M points in a few ms, whatever the weight): the finite values are cut into blocks of
``L`` points, a ``(m, L)`` array; each block's EMA from a zero start is a closed form (a cumsum
of ``y * w**-j`` along the rows, times ``w**j``), the true EMA at each block's end follows from
a short linear recurrence over the ``m`` blocks (a doubling scan), and each block then adds its
carried-in value times ``w**(j+1)``. ``L`` keeps ``w**-j`` below 1e100 so nothing overflows for
values up to 1e200; larger values are scaled by a power of two, or, when the series also holds
values too small to survive that scaling, smoothed by the exact chunked scalar fallback.
"""

from __future__ import annotations

import math

import numpy as np

# Largest factor w**-j used inside one block; keeps y * w**-j far from float64 overflow.
_MAX_SCALE_LOG10 = 100.0
_BLOCK = 2048  # longest block: rows stay in cache, and w**-j stays near 1 for weights near 1
_FAST_MAX = 1e200  # |values| up to this take the block path unscaled (1e200 * 1e100 * L < 1e308)
_LOG_TINY = -746.0  # log of a factor below which factor * value underflows to 0 in float64


def check_weight(weight: float) -> float:
    """Validate a smoothing weight (0 = no smoothing, must be < 1 so the average moves)."""
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise ValueError(f"smoothing weight must be a number in [0, 1), got {weight!r}") from None
    if not (0.0 <= w < 1.0):
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight!r}")
    return w


def _ema_loop(y: np.ndarray, w: float, carry: float) -> np.ndarray:
    out = np.empty_like(y)
    last = carry
    for i, v in enumerate(y):
        last = last * w + (1.0 - w) * v
        out[i] = last
    return out


def _ema_exact(y: np.ndarray, w: float) -> np.ndarray:
    """The biased EMA in chunks of closed-form cumsums, each chunk that overflows redone by an
    exact scalar loop: slow, only for series near float64 limits that the block path cannot
    scale (see :func:`_biased`)."""
    n = y.size
    out = np.empty(n)
    chunk = max(1, min(n, int(_MAX_SCALE_LOG10 / -math.log10(w))))
    j = np.arange(chunk, dtype=np.float64)
    pw, inv = w**j, w ** (-j)
    carry = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for s in range(0, n, chunk):
            seg = y[s : s + chunk]
            k = seg.size
            res = pw[:k] * (w * carry + (1.0 - w) * np.cumsum(seg * inv[:k]))
            if not np.isfinite(res).all():
                res = _ema_loop(seg, w, carry)
            out[s : s + k] = res
            carry = res[-1]
    return out


def _block_len(n: int, w: float) -> int:
    return max(1, min(n, _BLOCK, int(_MAX_SCALE_LOG10 / -math.log10(w))))


def _carry_scan(z: np.ndarray, log_a: float, vmax: float) -> np.ndarray:
    """``c[k] = z[k] + a * c[k-1]`` (``a = exp(log_a)``) by doubling: after the step of shift
    ``s`` each ``c[k]`` holds the terms ``a**i * z[k-i]`` for ``i < 2s``. Stops once
    ``a**s * vmax`` underflows (``|c| <= vmax``); ``a**s`` is applied in two factors when it
    alone would underflow, so huge carries still reach tiny later values."""
    c = z.copy()
    s, log_vmax = 1, math.log(vmax)
    while s < c.size and s * log_a + log_vmax > _LOG_TINY:
        lp = s * log_a
        if lp > -700.0:
            c[s:] += math.exp(lp) * c[:-s]
        else:
            c[s:] += (c[:-s] * math.exp(lp + 700.0)) * math.exp(-700.0)
        s *= 2
    return c


def _biased_blocks(y: np.ndarray, w: float, vmax: float) -> np.ndarray:
    """The biased EMA (``last`` of TensorBoard's loop) of finite ``y`` with ``|y| <= vmax``,
    as an ``(m, L)`` array whose first ``y.size`` entries (row-major) are the result."""
    n = y.size
    size = _block_len(n, w)
    m = -(-n // size)
    blocks = np.zeros((m, size))
    blocks.ravel()[:n] = y
    j = np.arange(size, dtype=np.float64)
    blocks *= w ** (-j)
    np.cumsum(blocks, axis=1, out=blocks)
    blocks *= (1.0 - w) * w**j  # each block's EMA from a zero start
    if m > 1:
        ends = _carry_scan(blocks[:, -1], size * math.log(w), vmax)
        with np.errstate(under="ignore"):
            blocks[1:] += np.multiply.outer(ends[:-1], w ** (j + 1))
    return blocks


def _biased(y: np.ndarray, w: float, vmax: float) -> np.ndarray:
    """The biased EMA of finite ``y`` (``vmax = max|y| > 0``), flat and new."""
    if vmax <= _FAST_MAX:
        return _biased_blocks(y, w, vmax).ravel()[: y.size]
    shift = math.frexp(vmax)[1]  # vmax * 2**-shift is in [0.5, 1): exact for normal values
    a = np.abs(y)
    smallest = a[a > 0].min()
    if smallest * 2.0**-shift < 2.0**-960:  # scaling would lose the tiny values: exact path
        return _ema_exact(y, w)
    scaled = _biased_blocks(np.ldexp(y, -shift), w, 1.0).ravel()[: y.size]
    return np.ldexp(scaled, shift)


def _debias(blocks_flat: np.ndarray, w: float) -> None:
    """Divide entry ``i`` by ``1 - w**(i+1)`` in place, only where that differs from 1."""
    n = blocks_flat.size
    k = min(n, int(-40.0 / math.log(w)) + 1)  # beyond, w**(i+1) < 2**-57: 1 - it == 1.0
    size = min(k, _BLOCK)
    rows = -(-k // size)
    j = np.arange(size, dtype=np.float64)
    with np.errstate(under="ignore"):
        powers = np.multiply.outer(w ** (size * np.arange(rows, dtype=np.float64)), w ** (j + 1))
    blocks_flat[:k] /= (1.0 - powers).ravel()[:k]


def ema(values, weight: float) -> np.ndarray:
    """Debiased EMA of ``values`` with TensorBoard's ``weight`` (its "smoothing" slider)."""
    w = check_weight(weight)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {v.shape}")
    if w == 0.0 or v.size == 0:
        return v.copy()
    lo, hi = v.min(), v.max()  # NaN propagates: finite bounds mean every value is finite
    finite = None
    y = v
    if not (math.isfinite(lo) and math.isfinite(hi)):
        finite = np.isfinite(v)
        y = v[finite]
        if y.size == 0:
            return v.copy()
        lo, hi = y.min(), y.max()
    if lo == hi:  # constant: avoid (1 - w**n) rounding wiggles, as TensorBoard does
        return v.copy()
    smoothed = _biased(y, w, max(-float(lo), float(hi)))
    _debias(smoothed, w)
    if finite is None:
        return smoothed
    out = v.copy()
    out[finite] = smoothed
    return out


def ema_continue(values, weight: float, state: tuple[float, int]) -> tuple[np.ndarray, tuple]:
    """Smooth points appended to a series, given the state ``(last, count)`` after the old ones.

    Returns the smoothed new points and the new state, so live updates and zoomed windows only
    touch their own points. The EMA is linear in its start, so it is the zero-start EMA of the
    new finite points plus ``last * w**k`` for the k-th of them, debiased by ``1 - w**(count +
    k)``.
    """
    w = check_weight(weight)
    last, count = float(state[0]), int(state[1])
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    every = bool(finite.all())  # the usual piece: no NaN/Inf to leave out and put back
    y = v if every else v[finite]
    if w == 0.0 or y.size == 0:
        return v.copy(), (last, count + int(y.size))
    vmax = float(np.abs(y).max())
    smoothed = _biased(y, w, vmax) if vmax > 0 else np.zeros(y.size)
    # w**k only where it is not 0 in float64 (beyond, the start and the debiasing are gone)
    k = np.arange(1, min(y.size, int(-750.0 / math.log(w)) + 1) + 1, dtype=np.float64)
    with np.errstate(under="ignore"):
        powers = w**k
        if last != 0.0:
            smoothed[: k.size] += last * powers
        after = (float(smoothed[-1]), count + int(y.size))  # the biased state, before debiasing
        if count * math.log(w) > -40.0:  # w**count >= 2**-57: the debiasing still counts
            smoothed[: k.size] /= 1.0 - w**count * powers
    if every:
        return smoothed, after
    out = v.copy()
    out[finite] = smoothed
    return out, after


def ema_state(values, weight: float) -> tuple[float, int]:
    """The ``(last, count)`` state after smoothing ``values`` (for :func:`ema_continue`)."""
    w = check_weight(weight)
    v = np.asarray(values, dtype=np.float64)
    y = v[np.isfinite(v)]
    if y.size == 0 or w == 0.0:
        return (0.0, int(y.size))
    vmax = float(np.abs(y).max())
    if vmax == 0.0:
        return (0.0, int(y.size))
    return (float(_biased(y, w, vmax)[-1]), int(y.size))


def ema_state_from(smoothed, values, weight: float) -> tuple[float, int]:
    """:func:`ema_state` recovered from an already smoothed series, without a second pass.

    The debiased value is ``last / (1 - w**n)``, so ``last`` is the final finite smoothed
    value times ``1 - w**n``.
    """
    w = check_weight(weight)
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    n = int(np.count_nonzero(finite))
    if n == 0 or w == 0.0:
        return (0.0, n)
    last = v.size - 1 - int(np.argmax(finite[::-1]))  # the last finite point
    last_smoothed = float(np.asarray(smoothed, dtype=np.float64)[last])
    return (last_smoothed * (1.0 - w**n), n)
