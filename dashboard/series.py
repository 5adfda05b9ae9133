"""Bucket math for drawing long series: keep each bucket's min and max point so spikes survive.

A line through every bucket's min and max (in step order) looks like the full series at screen
resolution, at a cost of 2 points per bucket (per series drawn: :func:`bucket_extremes`); ranges
with few points are returned whole.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np


def bucket_index(x: np.ndarray, lo: float, hi: float, buckets: int) -> np.ndarray:
    """Bucket number in ``[0, buckets)`` of each ``x`` in ``[lo, hi]`` (equal-width buckets)."""
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}")
    if not hi > lo:
        return np.zeros(np.shape(x), dtype=np.int64)
    b = np.floor((np.asarray(x, dtype=np.float64) - lo) * (buckets / (hi - lo))).astype(np.int64)
    return np.clip(b, 0, buckets - 1)


def minmax_select(x, y, buckets: int, lo: float | None = None, hi: float | None = None):
    """Indices (sorted) of the points to draw for ``y`` over ``x`` within ``[lo, hi]``.

    Per bucket: the finite min and max of ``y`` (first occurrence); the first point of each
    non-finite kind (NaN, +Inf, -Inf) per bucket, so they stay visible; and the first and last
    point in range. With at most ``2 * buckets`` points in range, all of them.
    """
    return bucket_extremes(x, [y], buckets, lo, hi)


def bucket_extremes(x, ys, buckets: int, lo: float | None = None, hi: float | None = None):
    """Indices (sorted) of the points to draw for the series ``ys`` (1-D arrays over ``x``)
    within ``[lo, hi]`` (default: ``x[0]`` and ``x[-1]``), in ``buckets`` equal-width buckets of x.

    Per bucket: the first argmin and argmax of the finite values of each array of ``ys`` (so a
    raw series and its smoothed line both keep their extremes), the first point of each
    non-finite kind (NaN, +Inf, -Inf) of ``ys[0]`` (the raw series), and the first and last
    point in range. The selection holds at most ``2 * len(ys)`` points per bucket (plus those),
    so a range of at most ``2 * len(ys) * buckets`` points is returned whole: no costlier, and
    exact. O(n) in a few passes when x is ascending (steps, one run's wall time); by a stable
    sort of the bucket numbers otherwise.
    """
    x = np.asarray(x)
    ys = [np.asarray(y, dtype=np.float64) for y in ys]
    if not ys:
        raise ValueError("bucket_extremes needs at least one series")
    for y in ys:
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if x.size == 0:
        return np.empty(0, np.int64)
    lo = x[0] if lo is None else lo
    hi = x[-1] if hi is None else hi
    if not lo <= hi:  # also a NaN bound: nothing is within
        return np.empty(0, np.int64)
    if x.size < 2 or bool((x[1:] >= x[:-1]).all()):  # ascending (False with a NaN)
        i0 = int(np.searchsorted(x, lo, "left"))
        i1 = max(i0, int(np.searchsorted(x, hi, "right")))
        if i1 - i0 <= 2 * len(ys) * buckets:
            return np.arange(i0, i1)
        take, ends = slice(i0, i1), np.array([i0, i1 - 1])
        bounds = _ascending_bounds(x[take], float(lo), float(hi), _checked(buckets))
    else:
        inside = np.flatnonzero((x >= lo) & (x <= hi))
        if inside.size <= 2 * len(ys) * buckets:
            return inside
        b = bucket_index(x[inside], float(lo), float(hi), buckets)
        small = b.astype(np.int16) if buckets <= np.iinfo(np.int16).max else b  # radix sort
        take, ends = inside[np.argsort(small, kind="stable")], inside[[0, -1]]
        bounds = np.r_[0, np.cumsum(np.bincount(b, minlength=buckets))]
    pos = np.concatenate(
        [p for k, y in enumerate(ys) for p in _segment_extremes(y[take], bounds, k == 0)]
    )
    chosen = pos + i0 if isinstance(take, slice) else take[pos]
    return np.unique(np.r_[ends, chosen])


def _checked(buckets: int) -> int:
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}")
    return buckets


def _ascending_bounds(xs: np.ndarray, lo: float, hi: float, buckets: int) -> np.ndarray:
    """Start positions of the ``buckets`` buckets in ascending ``xs`` (and ``xs.size``): a
    vectorised binary search on :func:`bucket_index`, which is monotone in x, so the
    boundaries are exactly where its bucket numbers change."""
    n = xs.size
    want = np.arange(1, buckets)
    left, right = np.zeros(want.size, np.int64), np.full(want.size, n, np.int64)
    while np.any(left < right):
        mid = (left + right) // 2
        below = bucket_index(xs[np.minimum(mid, n - 1)], lo, hi, buckets) < want
        move = left < right
        left = np.where(move & below, mid + 1, left)
        right = np.where(move & ~below, mid, right)
    return np.r_[0, left, n]


def grid_extremes(x: np.ndarray, ys, edges: np.ndarray) -> np.ndarray:
    """:func:`bucket_extremes`' points on explicit integer bucket edges: bucket ``j`` holds
    ``edges[j] <= x < edges[j + 1]`` of ascending integer ``x`` (steps), exactly (no float
    bucket arithmetic), and a range of few points is not returned whole. So buckets made of
    whole finer buckets select, among the finer buckets' selections, the same points as over
    every point: what an extract grown piece by piece relies on (:mod:`scalars_grow`)."""
    i0, i1 = (int(i) for i in np.searchsorted(x, edges[[0, -1]], "left"))
    if i1 <= i0:
        return np.empty(0, np.int64)
    bounds = np.searchsorted(x[i0:i1], edges, "left")
    pos = np.concatenate(
        [p for k, y in enumerate(ys) for p in _segment_extremes(y[i0:i1], bounds, k == 0)]
    )
    return np.unique(np.r_[i0, i1 - 1, pos + i0])


_LOOP_SEGMENTS = 300  # up to this many segments a loop of argmin/argmax is the faster


def _first_extremes(low: np.ndarray, high: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Each non-empty segment's first argmin of ``low`` and first argmax of ``high``."""
    if bounds.size - 1 <= _LOOP_SEGMENTS:
        return _loop_extremes(low, high, bounds)
    lengths = np.diff(bounds)
    inner = lengths[1:-1]
    if inner[0] > 0 and bool((inner == inner[0]).all()):
        # equal segments between the ends (a step every step): rows of a 2-D view
        size, start, rows = int(inner[0]), int(bounds[1]), inner.size
        base = start + size * np.arange(rows)
        block = slice(start, start + size * rows)
        middle = [
            base + low[block].reshape(rows, size).argmin(axis=1),
            base + high[block].reshape(rows, size).argmax(axis=1),
        ]
        ends = [_loop_extremes(low, high, bounds[[0, 1]]), _loop_extremes(low, high, bounds[-2:])]
        return np.concatenate(middle + ends)
    # many unequal segments: per-segment extremes by reduceat, then the first point equal to each
    starts = bounds[:-1][lengths > 0]
    lengths = lengths[lengths > 0]
    out = []
    for y, reduce in ((low, np.minimum), (high, np.maximum)):
        hit = np.flatnonzero(y == np.repeat(reduce.reduceat(y, starts), lengths))
        seg = np.searchsorted(starts, hit, "right")
        out.append(hit[np.r_[True, seg[1:] != seg[:-1]]])
    return np.concatenate(out)


def _loop_extremes(low: np.ndarray, high: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    out = []
    edges = bounds.tolist()
    for s, e in zip(edges[:-1], edges[1:], strict=True):
        if e > s:
            out += [s + int(low[s:e].argmin()), s + int(high[s:e].argmax())]
    return np.array(out, np.int64)


def _segment_extremes(y: np.ndarray, bounds: np.ndarray, nonfinite: bool) -> list[np.ndarray]:
    """Positions in ``y`` of each segment's (``bounds``) first finite argmin and argmax and,
    with ``nonfinite``, its first NaN, +Inf and -Inf."""
    fin = np.isfinite(y)
    clean = bool(fin.all())
    if clean:
        pos = _first_extremes(y, y, bounds)
    else:  # NaN/Inf out of the extremes' way: a copy, its few non-finite entries set
        bad = np.flatnonzero(~fin)
        low = y.copy()
        low[bad] = np.inf
        high = low.copy()
        high[bad] = -np.inf
        pos = _first_extremes(low, high, bounds)
    picks = [pos if clean else pos[fin[pos]]]  # a bucket without finite values has no extremes
    if nonfinite and not clean:
        kind = np.where(np.isnan(y[bad]), 2, np.where(y[bad] > 0, 1, 0))
        seg = np.searchsorted(bounds, bad, "right") - 1
        picks.append(bad[np.unique(seg * 3 + kind, return_index=True)[1]])
    return picks


def nonfinite_points(x, y):
    """``{"nan": x[...], "+inf": x[...], "-inf": x[...]}`` positions of non-finite values."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x)
    return {
        "nan": x[np.isnan(y)],
        "+inf": x[np.isposinf(y)],
        "-inf": x[np.isneginf(y)],
    }


def group_stats(xs: list[np.ndarray], ys: list[np.ndarray], points: int = 1000):
    """Mean and std over runs of ``ys`` resampled onto a common grid of ``points`` x values.

    Runs log at different steps, so each is linearly interpolated onto a grid spanning the
    steps any run covers (a run that stops early no longer cuts the others short: past its
    end the statistics are over the runs still going); non-finite values are ignored
    (nanmean), a grid point with no finite value is NaN. Returns ``(grid, mean, std, n)``.
    """
    if not xs:
        raise ValueError("group_stats needs at least one series")
    pairs = [
        (np.asarray(x, np.float64), np.asarray(y, np.float64)) for x, y in zip(xs, ys, strict=True)
    ]
    pairs = [(x[np.isfinite(y)], y[np.isfinite(y)]) for x, y in pairs]
    pairs = [(x, y) for x, y in pairs if x.size]
    if not pairs:
        empty = np.empty(0)
        return empty, empty, empty, 0
    lo, hi = min(x[0] for x, _ in pairs), max(x[-1] for x, _ in pairs)
    grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo], np.float64)
    stack = np.vstack(
        [
            np.where((grid >= x[0]) & (grid <= x[-1]), np.interp(grid, x, y), np.nan)
            for x, y in pairs
        ]
    )
    with warnings.catch_warnings():  # all-NaN grid columns are expected where runs end early
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
        std = np.nanstd(stack, axis=0)
    return grid, mean, std, len(pairs)


class RankBand(NamedTuple):
    """Statistics across ranks of their aligned bucket means (:func:`align_rank_buckets`)."""

    step: np.ndarray  # first step any rank logged in the bucket (int64)
    last_step: np.ndarray  # last step any rank logged in it
    wall: np.ndarray  # mean over the ranks of their bucket's last wall time
    mean: np.ndarray  # mean over the ranks' bucket means (NaN: no rank has a finite value)
    min: np.ndarray  # smallest of the ranks' bucket means
    max: np.ndarray  # largest of them
    n: np.ndarray  # ranks with a finite value in the bucket (int64)
    points: np.ndarray  # points in the bucket, summed over ranks (int64)
    nan: np.ndarray  # NaN points, summed over ranks (int64)
    posinf: np.ndarray
    neginf: np.ndarray


def align_rank_buckets(per_rank: list, start: int, end: int, buckets: int) -> RankBand:
    """Mean, min and max across ranks of their bucket means, buckets aligned by step.

    ``per_rank`` holds each rank's :class:`flowlog.provider.Buckets` read with the same
    ``start``, ``end`` and ``buckets``. Output bucket ``i`` covers steps ``[start + i*per,
    start + (i+1)*per)``, ``per = ceil(span / buckets)`` (the reader's own boundaries); a rank's
    bucket goes to the output bucket of its first step. The reader buckets a rank whose steps
    cover less than ``start..end`` on its own range, so two of one rank's buckets can land in
    one output bucket: they are merged, weighted by their finite points. A rank without a finite
    value in a bucket is left out of that bucket's statistics. Only buckets where some rank
    logged a point are returned.
    """
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}")
    span = int(end) - int(start) + 1
    if span < 1 or not per_rank:
        z = np.zeros(0, np.int64)
        f = np.zeros(0)
        return RankBand(z, z, f, f, f, f, z, z, z, z, z)
    per = -(-span // buckets)
    nb = -(-span // per)
    r = len(per_rank)
    shape = (r, nb)
    wsum, fin, wall = np.zeros(shape), np.zeros(shape), np.full(shape, np.nan)
    first = np.full(nb, np.iinfo(np.int64).max, np.int64)
    last = np.full(nb, np.iinfo(np.int64).min, np.int64)
    counts = {k: np.zeros(nb, np.int64) for k in ("count", "nan", "posinf", "neginf")}
    for i, b in enumerate(per_rank):
        step = np.asarray(b.step, np.int64)
        if not step.size:
            continue
        idx = np.clip((step - int(start)) // per, 0, nb - 1)
        nfin = np.asarray(b.count) - np.asarray(b.nan) - np.asarray(b.posinf) - b.neginf
        ok = (nfin > 0) & np.isfinite(b.mean)
        np.add.at(wsum[i], idx[ok], np.asarray(b.mean)[ok] * nfin[ok])
        np.add.at(fin[i], idx[ok], nfin[ok])
        wall[i, idx] = b.wall  # buckets are step-ordered: the last one's wall wins
        np.minimum.at(first, idx, step)
        np.maximum.at(last, idx, np.asarray(b.last_step, np.int64))
        for k, arr in counts.items():
            np.add.at(arr, idx, np.asarray(getattr(b, k), np.int64))
    keep = counts["count"] > 0
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # buckets where no rank is finite
        means = np.where(fin > 0, wsum / np.where(fin > 0, fin, 1.0), np.nan)[:, keep]
        stats = [np.nanmean(means, 0), np.nanmin(means, 0), np.nanmax(means, 0)]
        mean_wall = np.nanmean(wall[:, keep], 0)
    return RankBand(
        first[keep], last[keep], mean_wall, *stats, (~np.isnan(means)).sum(0).astype(np.int64),
        counts["count"][keep], counts["nan"][keep], counts["posinf"][keep],
        counts["neginf"][keep],
    )  # fmt: skip


def _cdf(edges: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.asarray(edges, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if edges.size != counts.size + 1:
        raise ValueError(f"need len(edges) == len(counts) + 1, got {edges.size} and {counts.size}")
    return edges, np.r_[0.0, np.cumsum(counts)]


def histogram_percentiles(edges, counts, qs) -> np.ndarray:
    """Values at quantiles ``qs`` (0..1) of a bucketed histogram, linear within each bucket.

    NaN for every quantile when the histogram holds no finite value.
    """
    qs = np.asarray(qs, dtype=np.float64)
    if qs.size and (qs.min() < 0 or qs.max() > 1):
        raise ValueError(f"quantiles must be within [0, 1], got {qs.tolist()}")
    if np.size(edges) == 0:
        return np.full(qs.shape, np.nan)
    edges, cum = _cdf(edges, counts)
    if cum[-1] <= 0:
        return np.full(qs.shape, np.nan)
    counts = np.diff(cum)
    t = qs * cum[-1]
    # bucket holding the t-th value: the first whose cumulative count reaches t
    i = np.clip(np.searchsorted(cum, t, side="left") - 1, 0, counts.size - 1)
    i = np.where(t <= 0, np.argmax(counts > 0), i)  # q=0: left edge of the first non-empty one
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip(np.where(counts[i] > 0, (t - cum[i]) / counts[i], 0.0), 0.0, 1.0)
    return edges[i] + frac * (edges[i + 1] - edges[i])


def rebin(edges, counts, grid) -> np.ndarray:
    """Counts of a bucketed histogram redistributed onto the bucket edges ``grid``.

    Counts are spread uniformly within each source bucket (the CDF is interpolated), so every
    step of a heatmap shares one value axis; the total within the grid's span is preserved.
    """
    grid = np.asarray(grid, dtype=np.float64)
    if np.size(edges) == 0:
        return np.zeros(max(grid.size - 1, 0))
    edges, cum = _cdf(edges, counts)
    return np.diff(np.interp(grid, edges, cum, left=0.0, right=cum[-1]))
