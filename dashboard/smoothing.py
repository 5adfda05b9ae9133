"""TensorBoard's debiased exponential moving average, vectorised for million-point series.

TensorBoard smooths in the browser on its 1,000-point sample; here the server smooths the full
series so a spike that the sample would miss still moves the curve. Semantics match TensorBoard:
non-finite points pass through unchanged and do not feed the average, the first finite point is
not pulled towards zero (debiasing), and a constant series stays exactly constant.
"""

from __future__ import annotations

import math

import numpy as np

# Largest factor w**-j used inside one chunk; keeps x * w**-j far from float64 overflow.
_MAX_SCALE_LOG10 = 100.0


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


def _ema_biased(y: np.ndarray, w: float) -> np.ndarray:
    """last_n = w*last_{n-1} + (1-w)*y_n with last_{-1} = 0, in chunks of closed-form cumsums."""
    n = y.size
    out = np.empty(n)
    chunk = max(1, min(n, int(_MAX_SCALE_LOG10 / -math.log10(w))))
    j = np.arange(chunk, dtype=np.float64)
    pw = w**j  # w**j
    inv = w ** (-j)  # w**-j, bounded by 10**_MAX_SCALE_LOG10
    carry = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for s in range(0, n, chunk):
            seg = y[s : s + chunk]
            k = seg.size
            res = pw[:k] * (w * carry + (1.0 - w) * np.cumsum(seg * inv[:k]))
            if not np.isfinite(res).all():  # values near float64 limits: exact scalar loop
                res = _ema_loop(seg, w, carry)
            out[s : s + k] = res
            carry = res[-1]
    return out


def ema(values, weight: float) -> np.ndarray:
    """Debiased EMA of ``values`` with TensorBoard's ``weight`` (its "smoothing" slider)."""
    w = check_weight(weight)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {v.shape}")
    out = v.copy()
    finite = np.isfinite(v)
    y = v[finite]
    if w == 0.0 or y.size == 0:
        return out
    if np.all(y == y[0]):  # constant: avoid (1 - w**n) rounding wiggles, as TensorBoard does
        return out
    biased = _ema_biased(y, w)
    n = np.arange(1, y.size + 1, dtype=np.float64)
    with np.errstate(under="ignore"):
        debias = 1.0 - w**n
    out[finite] = biased / debias
    return out


def ema_continue(values, weight: float, state: tuple[float, int]) -> tuple[np.ndarray, tuple]:
    """Smooth points appended to a series, given the state ``(last, count)`` after the old ones.

    Returns the smoothed new points and the new state, so live updates only touch new points.
    """
    w = check_weight(weight)
    last, count = float(state[0]), int(state[1])
    v = np.asarray(values, dtype=np.float64)
    out = v.copy()
    for i, x in enumerate(v):
        if not math.isfinite(x) or w == 0.0:
            continue
        last = last * w + (1.0 - w) * x
        count += 1
        out[i] = last / (1.0 - w**count)
    return out, (last, count)


def ema_state(values, weight: float) -> tuple[float, int]:
    """The ``(last, count)`` state after smoothing ``values`` (for :func:`ema_continue`)."""
    w = check_weight(weight)
    v = np.asarray(values, dtype=np.float64)
    y = v[np.isfinite(v)]
    if y.size == 0 or w == 0.0:
        return (0.0, int(y.size))
    return (float(_ema_biased(y, w)[-1]), int(y.size))


def ema_state_from(smoothed, values, weight: float) -> tuple[float, int]:
    """:func:`ema_state` recovered from an already smoothed series, without a second pass.

    The debiased value is ``last / (1 - w**n)``, so ``last`` is the final finite smoothed
    value times ``1 - w**n``.
    """
    w = check_weight(weight)
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    n = int(finite.sum())
    if n == 0 or w == 0.0:
        return (0.0, n)
    last_smoothed = float(np.asarray(smoothed, dtype=np.float64)[finite][-1])
    return (last_smoothed * (1.0 - w**n), n)
