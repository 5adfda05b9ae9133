"""Long series without holding them: streamed extracts, EMA checkpoints, windowed zooms.

A chart of a long series draws a few hundred points per line, but its smoothing and its
bucket extremes depend on every point. :func:`streamed_extract` reads the series in windows
(``CachedProvider.scalars_pieces``), continues the EMA from window to window
(:func:`smoothing.ema_continue`) and keeps only each window's candidates (its per-bucket
extremes over the chart's buckets), then selects among them: the same points as
:func:`scalars_data.extract` over the whole series (a bucket's extreme is the extreme of its
windows' extremes), in memory bounded by a window instead of the series (10M points: ~6 MB
instead of ~500 MB, and none of the page faults of fresh memory that dominate a cold read).

The same pass leaves checkpoints: the EMA's state (``last``, finite count) every
``EVERY`` points, a few kB per million points, cached in the provider's small class. A zoom
reads the points from the checkpoint before the window to its end (a range read of a chunk
or two) and continues the EMA from that state: the same smoothed values as smoothing every
point, to float rounding, at a cost proportional to the window.
"""

from __future__ import annotations

import math

import numpy as np

from flowlog.dashboard.series import bucket_extremes
from flowlog.dashboard.smoothing import ema_continue

EVERY = 8192  # points between checkpoints: a zoom reads at most this many points before it


SERIES_KEYS = ("wall0", "ema", "first_step", "last_step")  # what an extract says of its series


def selected_on(value, smooth, w: float, by_smoothed: bool) -> list:
    """The series whose bucket extremes a line draws: the raw and the smoothed one, the
    smoothed one alone (``by_smoothed``: a chart of smoothed lines only), or the raw one
    (no smoothing)."""
    return [smooth] if by_smoothed else [value, smooth] if w > 0 else [value]


def drawn(step, value, smooth, sel, ck: dict) -> dict:
    """The extract of the points ``sel`` (:func:`scalars_data.extract`'s keys), its series'
    facts from the checkpoints ``ck``."""
    out = {"x": step[sel], "v": value[sel], "s": smooth[sel], "st": step[sel]}
    out.update({k: ck[k] for k in SERIES_KEYS})
    out["count"] = ck["points"]
    return out


def states_at(at, value, smooth, w: float, before: tuple[float, int]):
    """``(last, count)`` arrays: the EMA state after each index ``at`` of a piece whose
    points follow the state ``before`` (``smooth``: the piece's debiased values)."""
    bad = np.flatnonzero(~np.isfinite(value))  # few: positions of NaN/Inf
    count, last_finite = before[1] + at + 1, at  # the usual piece: the indices themselves
    if bad.size:  # (cumulative passes over the piece would cost more than its EMA)
        count = count - np.searchsorted(bad, at, "right")
        last_finite = _last_finite(bad, at)
    with np.errstate(under="ignore"):
        debias = 1.0 - w ** count.astype(np.float64)
    last = np.where(last_finite >= 0, smooth[np.maximum(last_finite, 0)] * debias, before[0])
    return last, np.asarray(count, np.int64)


def _last_finite(bad: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The last index at or before each of ``at`` that is not in the ascending ``bad``
    (-1: none): the one before the run of consecutive bad indices holding it."""
    starts = np.r_[True, np.diff(bad) != 1]
    run_start = bad[starts][np.cumsum(starts) - 1]  # per bad index, its run's first
    k = np.searchsorted(bad, at, "right") - 1
    inside = (k >= 0) & (bad[np.maximum(k, 0)] == at)
    return np.where(inside, run_start[np.maximum(k, 0)] - 1, at)


def smooth_piece(step, value, w: float, state: tuple[float, int], seen: int) -> tuple:
    """``(smooth, state after, (steps, lasts, counts))`` for a piece of a pass over a series
    that follows ``seen`` points ending in EMA ``state``: the piece smoothed, and the
    checkpoints (every ``EVERY``-th point of the series) that fall in it."""
    smooth, after = ema_continue(value, w, state)
    at = np.arange((EVERY - 1 - seen) % EVERY, step.size, EVERY)
    last, count = states_at(at, value, smooth, w, state)
    return smooth, after, (step[at], last, count)


def streamed_extract(pieces, w: float, buckets: int, by_smoothed: bool, span) -> tuple:
    """``(extract, checkpoints)`` of a step-axis chart of a whole series given as step-ordered
    ``pieces`` (Series), ``span`` = its (first, last) step (the bucket range)."""
    lo, hi = span
    state: tuple[float, int] = (0.0, 0)
    parts, marks = [], {"step": [], "last": [], "count": []}
    seen, wall0 = 0, None
    for piece in pieces:
        step, wall, value = piece.step, piece.wall, piece.value
        if not step.size:
            continue
        wall0 = float(wall[0]) if wall0 is None else wall0
        smooth, after, mark = smooth_piece(step, value, w, state, seen)
        for key, got in zip(("step", "last", "count"), mark, strict=True):
            marks[key].append(got)
        keep = bucket_extremes(step, selected_on(value, smooth, w, by_smoothed), buckets, lo, hi)
        parts.append((step[keep], wall[keep], value[keep], smooth[keep]))
        state, seen = after, seen + step.size
    if not parts:
        return None, None
    step, wall, value, smooth = (np.concatenate(c) for c in zip(*parts, strict=True))
    sel = bucket_extremes(step, selected_on(value, smooth, w, by_smoothed), buckets, lo, hi)
    ck = {key: np.concatenate(v) for key, v in marks.items()}
    ck.update(wall0=wall0, first_step=int(step[0]), last_step=int(step[-1]), ema=list(state))
    ck["points"] = seen
    return drawn(step, value, smooth, sel, ck), ck


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
    sel = bucket_extremes(step, selected_on(value, smooth, w, by_smoothed), buckets, *rng)
    return drawn(step, value, smooth, sel, ck)
