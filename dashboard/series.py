"""Bucket math for drawing long series: keep each bucket's min and max point so spikes survive.

A line through every bucket's min and max (in step order) looks like the full series at screen
resolution, at a cost of 2 points per bucket; ranges with few points are returned whole.
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

    Per bucket: the finite min and max of ``y``; every non-finite point's first occurrence per
    bucket too, so NaN/Inf stay visible; and the first and last point in range. With at most
    ``2 * buckets`` points in range, all of them.
    """
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    lo = x[0] if lo is None and x.size else lo
    hi = x[-1] if hi is None and x.size else hi
    inside = np.flatnonzero((x >= lo) & (x <= hi)) if x.size else np.empty(0, np.int64)
    if inside.size <= 2 * buckets:
        return inside
    b = bucket_index(x[inside], float(lo), float(hi), buckets)
    fin = np.isfinite(y[inside])
    picks = [inside[[0, -1]]]  # the ends, so the line spans the range and shows the latest value
    if fin.any():
        idx, bf, yf = inside[fin], b[fin], y[inside][fin]
        picks += _bucket_extremes(idx, bf, yf)
    if not fin.all():
        idx, bn = inside[~fin], b[~fin]
        kind = np.where(np.isnan(y[idx]), 2, np.where(y[idx] > 0, 1, -1))
        key = bn * 4 + kind + 1
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        picks.append(idx[first])
    return np.unique(np.concatenate(picks))


def _bucket_extremes(idx: np.ndarray, b: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``[argmin indices, argmax indices]`` per bucket (first occurrence), O(n) when ``b`` is
    sorted (x in step order, the usual case), by sorting otherwise (time axes may not be)."""
    if b.size > 1 and np.any(b[1:] < b[:-1]):
        order = np.lexsort((y, b))  # by bucket, then by value
        sb = b[order]
        starts = np.flatnonzero(np.r_[True, sb[1:] != sb[:-1]])
        ends = np.r_[starts[1:], sb.size] - 1
        return [idx[order[starts]], idx[order[ends]]]
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    seg = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, b.size]))
    out = []
    for reduce in (np.minimum, np.maximum):
        hit = np.flatnonzero(y == reduce.reduceat(y, starts)[seg])
        first = np.r_[True, seg[hit][1:] != seg[hit][:-1]]
        out.append(idx[hit[first]])
    return out


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
