"""Zooming a long series without reading it all again: EMA checkpoints and windowed extracts.

A zoom into a small part of a million-point series needs only the points in view, but the
smoothed value at the window's first point depends on every point before it. The first full
build of a line leaves :func:`checkpoints`: the EMA's state (``last``, finite count) every
``EVERY`` points, a few kB per million points, cached in the provider's small class (full
series are evicted long before). A zoom reads the points from the checkpoint before the window
to its end (a range read of a chunk or two) and continues the EMA from that state
(:func:`smoothing.ema_continue`): the same smoothed values as smoothing every point, to float
rounding, at a cost proportional to the window.
"""

from __future__ import annotations

import math

import numpy as np

from flowlog.dashboard.series import bucket_extremes
from flowlog.dashboard.smoothing import ema_continue, ema_state_from

EVERY = 8192  # points between checkpoints: a zoom reads at most this many points before it


def checkpoints(step, wall, value, smooth, w: float) -> dict:
    """The EMA state after every ``EVERY``-th point of one series, and what every extract
    carries about the whole series (first wall time, first and last step, final state)."""
    n = step.size
    at = np.arange(EVERY - 1, n, EVERY)
    finite = np.isfinite(value)
    count = np.cumsum(finite)
    # the smoothed value of the last finite point at or before each checkpoint
    last_finite = np.maximum.accumulate(np.where(finite, np.arange(n), -1))
    lf = last_finite[at]
    with np.errstate(under="ignore"):
        debias = 1.0 - w ** count[at].astype(np.float64)
    last = np.where(lf >= 0, smooth[np.maximum(lf, 0)] * debias, 0.0)
    return {
        "step": step[at].copy(),
        "last": last,
        "count": count[at].copy(),
        "wall0": float(wall[0]) if n else 0.0,
        "first_step": int(step[0]) if n else None,
        "last_step": int(step[-1]) if n else -1,
        "ema": list(ema_state_from(smooth, value, w)),
    }


def read_window(ck: dict, rng) -> tuple[int | None, int, tuple[float, int]]:
    """``(first step to read, last step to read, EMA state before the first)`` for a zoom
    onto step range ``rng``: the read starts just after the last checkpoint before the window
    (None: from the series' start, with an empty state)."""
    lo, hi = float(rng[0]), float(rng[1])
    k = int(np.searchsorted(ck["step"], lo, side="left")) - 1  # last checkpoint step < lo
    end = int(math.floor(hi)) if math.isfinite(hi) else ck["last_step"]
    if k < 0:
        return None, end, (0.0, 0)
    return int(ck["step"][k]) + 1, end, (float(ck["last"][k]), int(ck["count"][k]))


def windowed_extract(ck: dict, got, state, w: float, rng, buckets: int, by_smoothed: bool):
    """:func:`scalars_data.extract` for a zoom, from the points read after a checkpoint."""
    step, _wall, value = got
    smooth = ema_continue(value, w, state)[0] if w > 0 else value
    lo, hi = rng
    ys = [smooth] if by_smoothed else [value, smooth] if w > 0 else [value]
    sel = bucket_extremes(step, ys, buckets, lo, hi)
    return {
        "x": step[sel],
        "v": value[sel],
        "s": smooth[sel],
        "st": step[sel],
        "wall0": ck["wall0"],
        "ema": ck["ema"],
        "first_step": ck["first_step"],
        "last_step": ck["last_step"],
    }
