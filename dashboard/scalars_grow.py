"""Whole-range extracts of a growing series that read only the points written since the last.

A live run at full speed adds millions of points between refreshes; re-reading and smoothing
the whole series for each redraw made a chart's cost grow with the run's age (4 writers at
full speed: chart requests took seconds). :func:`grow` keeps the state of
:func:`scalars_zoom.streamed_extract`'s pass — the EMA's state, its checkpoints, and the
candidates: each *fine* bucket's extremes — and continues it with the new points only, kept
in the provider's carried store while the tag's points were only appended to
(``TagInfo.generation``). :func:`select` then picks the drawn points among the candidates.

Exactness: buckets are integer step ranges ``[anchor + k*width, anchor + (k+1)*width)``
(``series.grid_extremes``), and a drawn bucket is a whole number of fine buckets, so its
extremes are the extremes of its fine buckets' extremes: the same points as over every point
on the same buckets. The fine width doubles as the series grows (a pair of fine buckets'
extremes are among their own), keeping ``FINE``-``2*FINE`` fine buckets per drawn bucket, so
a drawn bucket spans ``FINE``-``2*FINE`` whole fine buckets and a chart draws 89-100 % of its
budgeted buckets. Candidates: a few per fine bucket (~5k points per line at 300 buckets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowlog.dashboard.scalars_zoom import drawn, selected_on, smooth_piece
from flowlog.dashboard.series import grid_extremes

FINE = 8  # fine buckets per drawn bucket, at least (at most twice this)
MIN_POINTS = 100_000  # shorter series are read whole each time: a few ms


@dataclass(frozen=True)
class Grown:
    """What :func:`grow` carries from one commit to the next for one line (read-only)."""

    anchor: int  # the series' first step: where fine bucket 0 starts
    width: int  # steps per fine bucket
    cand: tuple  # (step, wall, value, smooth) arrays of the candidates, step-ordered
    ema: tuple[float, int]  # the EMA's state after the last point read
    points: int  # points read
    last_step: int
    wall0: float
    marks: tuple  # the EMA checkpoints: (step, last, count) arrays (scalars_zoom)


def _edges(anchor: int, width: int, first_step: int, last_step: int) -> np.ndarray:
    """The fine bucket edges covering ``first_step..last_step``."""
    k0, k1 = (first_step - anchor) // width, (last_step - anchor) // width + 1
    return anchor + width * np.arange(k0, k1 + 1, dtype=np.int64)


def _reselect(cand: tuple, anchor: int, width: int, w: float, by_smoothed: bool) -> tuple:
    """The candidates among ``cand`` on fine buckets of ``width`` steps."""
    step, _wall, value, smooth = cand
    if not step.size:
        return cand
    edges = _edges(anchor, width, int(step[0]), int(step[-1]))
    keep = grid_extremes(step, selected_on(value, smooth, w, by_smoothed), edges)
    return tuple(a[keep] for a in cand)


class Grower:
    """:func:`grow` fed one piece at a time, so the variants of one line (weights, bucket
    budgets) are extended from one read of the new points (:meth:`feed` skips what a
    variant already has)."""

    def __init__(self, prev: Grown | None, w: float, buckets: int, by_smoothed: bool, span):
        self.prev, self.w, self.buckets, self.by_smoothed = prev, w, buckets, by_smoothed
        self.anchor = prev.anchor if prev else int(span[0])
        self.width = (
            prev.width if prev else max(1, (int(span[1]) - self.anchor + 1) // (FINE * buckets))
        )
        self.state = prev.ema if prev else (0.0, 0)
        self.seen, self.wall0 = (prev.points, prev.wall0) if prev else (0, None)
        self.after = prev.last_step if prev else -1  # the points it has end at this step
        self.new: list = []
        self.marks = [[m] for m in prev.marks] if prev else [[np.empty(0, np.int64)], [], []]

    def feed(self, step: np.ndarray, wall: np.ndarray, value: np.ndarray) -> None:
        """Continue with step-ordered points (those at or before what it has are skipped)."""
        if step.size and step[0] <= self.after:
            cut = int(np.searchsorted(step, self.after, "right"))
            step, wall, value = step[cut:], wall[cut:], value[cut:]
        if not step.size:
            return
        w, seen = self.w, self.seen
        self.wall0 = float(wall[0]) if self.wall0 is None else self.wall0
        smooth, after, mark = smooth_piece(step, value, w, self.state, seen)
        for column, got in zip(self.marks, mark, strict=True):
            column.append(got)
        edges = _edges(self.anchor, self.width, int(step[0]), int(step[-1]))
        keep = grid_extremes(step, selected_on(value, smooth, w, self.by_smoothed), edges)
        self.new.append((step[keep], wall[keep], value[keep], smooth[keep]))
        self.state, self.seen, self.after = after, seen + step.size, int(step[-1])

    def done(self) -> Grown | None:
        """The grown state (``prev`` when nothing was fed; None: no points at all)."""
        if not self.new:
            return self.prev
        w, by_s, anchor, width = self.w, self.by_smoothed, self.anchor, self.width
        cand = _join(self.prev.cand if self.prev else None, self.new, anchor, width, w, by_s)
        last_step = int(cand[0][-1])
        while (last_step - anchor + 1) // width > 2 * FINE * self.buckets:  # coarsen
            width *= 2
            cand = _reselect(cand, anchor, width, w, by_s)
        marks = tuple(np.concatenate(m) for m in self.marks)
        return Grown(anchor, width, cand, self.state, self.seen, last_step, self.wall0, marks)


def grow(prev: Grown | None, pieces, w: float, buckets: int, by_smoothed: bool, span):
    """``prev`` continued with the step-ordered ``pieces`` (Series) of the points after
    ``prev.last_step`` (all of them without ``prev``); ``span`` = the series' (first, last)
    step as its tag says. None when there are no points at all."""
    grower = Grower(prev, w, buckets, by_smoothed, span)
    for piece in pieces:
        grower.feed(piece.step, piece.wall, piece.value)
    return grower.done()


def _join(old, new: list, anchor: int, width: int, w: float, by_smoothed: bool) -> tuple:
    """The old candidates and the new pieces' ones; the fine buckets the new points reach
    (the old last one may be among them) are selected again, so no bucket keeps extras."""
    fresh = tuple(np.concatenate(c) for c in zip(*new, strict=True))
    if old is None or not old[0].size:
        return _reselect(fresh, anchor, width, w, by_smoothed)
    start = anchor + (int(fresh[0][0]) - anchor) // width * width
    cut = int(np.searchsorted(old[0], start, "left"))
    tail = tuple(np.concatenate([o[cut:], f]) for o, f in zip(old, fresh, strict=True))
    tail = _reselect(tail, anchor, width, w, by_smoothed)
    return tuple(np.concatenate([o[:cut], t]) for o, t in zip(old, tail, strict=True))


def drawn_edges(g: Grown, buckets: int) -> np.ndarray:
    """The drawn buckets' edges: whole fine buckets, at most ``buckets`` of them."""
    span = g.last_step - g.anchor + 1
    per = -(-span // (buckets * g.width))  # fine buckets per drawn bucket
    size = per * g.width
    return g.anchor + size * np.arange(-(-span // size) + 1, dtype=np.int64)


def select(g: Grown, w: float, buckets: int, by_smoothed: bool) -> tuple[dict, dict]:
    """``(extract, checkpoints)`` as :func:`scalars_zoom.streamed_extract` gives them, the
    points selected among the candidates on :func:`drawn_edges`."""
    step, wall, value, smooth = g.cand
    sel = grid_extremes(step, selected_on(value, smooth, w, by_smoothed), drawn_edges(g, buckets))
    ck = dict(zip(("step", "last", "count"), g.marks, strict=True))
    ck.update(wall0=g.wall0, first_step=int(step[0]), last_step=g.last_step, ema=list(g.ema))
    ck["points"] = g.points
    return drawn(step, value, smooth, sel, ck), ck
