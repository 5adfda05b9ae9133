"""What the Scalars view reads and derives, through the cached data provider (no Dash here).

Full-resolution series come from ``data.scalars`` and the drawn extract of one run's trace
(bucket extremes of the raw series with the smoothed value at each) from ``data.memo``: both
live in the provider's one cache, keyed on the run's change token, so a zoom, a smoothing
change, a page reload or a second viewer re-reads nothing while the run is unchanged.
"""

from __future__ import annotations

import numpy as np

from flowlog.dashboard.series import minmax_select
from flowlog.dashboard.smoothing import ema, ema_state_from
from flowlog.export import ExportSeries

BUCKETS = 300  # per visible range: min+max per bucket, ~1.2 points per pixel of a chart
X_TITLES = {"step": "step", "relative": "relative time (s)", "wall": "wall time"}


def to_x(mode: str, step: np.ndarray, wall: np.ndarray, wall0: float):
    if mode == "step":
        return step
    if mode == "relative":
        return wall - wall0
    if mode == "wall":
        return wall * 1000.0  # ms since the epoch: plotly date axes take numbers
    raise ValueError(f"x axis mode must be one of {sorted(X_TITLES)}, got {mode!r}")


def x_to_step(mode: str, x: float, step: np.ndarray, wall: np.ndarray, wall0: float) -> float:
    """Invert :func:`to_x` on one run's series (time is monotone in step for one run)."""
    if mode == "step" or step.size == 0:
        return float(x)
    t = x if mode == "relative" else x / 1000.0
    return float(np.interp(t, wall - (wall0 if mode == "relative" else 0.0), step))


def axis_range(relayout: dict | None, axis: str = "xaxis"):
    """``(lo, hi)`` for a zoom, ``"auto"`` for a reset, ``None`` when x did not change."""
    if not relayout:
        return None
    if relayout.get(f"{axis}.autorange") or relayout.get("autosize"):
        return "auto"
    if f"{axis}.range[0]" in relayout:
        return relayout[f"{axis}.range[0]"], relayout[f"{axis}.range[1]"]
    if f"{axis}.range" in relayout:
        return tuple(relayout[f"{axis}.range"])
    return None


def parse_x(value, mode: str) -> float:
    """A plotly axis value as a number (date axes report strings)."""
    if mode == "wall" and isinstance(value, str):
        return float(np.datetime64(value.replace(" ", "T"), "ms").astype(np.int64))
    return float(value)


def extract(step, wall, value, w: float, xmode: str, rng) -> dict:
    """The points one run's trace draws: bucket extremes of the raw series, the smoothed value
    at each, and the state live updates continue from."""
    wall0 = float(wall[0]) if wall.size else 0.0
    smooth = ema(value, w) if w > 0 else value
    x_all = to_x(xmode, step, wall, wall0)
    lo, hi = (None, None) if rng is None else rng
    sel = minmax_select(x_all, value, BUCKETS, lo, hi)
    return {
        "x": x_all[sel],
        "v": value[sel],
        "s": smooth[sel],
        "st": step[sel],
        "wall0": wall0,
        "ema": list(ema_state_from(smooth, value, w)),
        "first_step": int(step[0]) if step.size else None,
        "last_step": int(step[-1]) if step.size else -1,
    }


class ScalarsData:
    """The Scalars view's reads, all through ``data`` (a CachedProvider)."""

    def __init__(self, data):
        self.data = data

    def tag_infos(self, name: str) -> dict:
        """``{tag: TagInfo}`` of the run's scalar tags."""
        return self.data.tags(name, "scalar")

    def series(self, name: str, tag: str):
        """``(step, wall, value)`` at full resolution, or None if the run lacks the tag."""
        if tag not in self.tag_infos(name):
            return None
        s = self.data.scalars(name, tag)
        return s.step, s.wall, s.value

    @staticmethod
    def _points_key(tag: str, w: float, xmode: str, rng) -> tuple:
        return ("scalars-extract", tag, w, xmode, None if rng is None else tuple(rng))

    def points(self, name: str, tag: str, w: float, xmode: str, rng) -> dict | None:
        """One run's drawn extract (:func:`extract`), cached until the run changes."""
        if tag not in self.tag_infos(name):
            return None
        key = self._points_key(tag, w, xmode, rng)
        return self.data.memo(name, key, lambda: extract(*self.series(name, tag), w, xmode, rng))

    def read_cost(self, tag: str, names, weight: float, xmode: str) -> int:
        """Points a full build of ``tag`` for ``names`` would read from disk (0 when every
        run's drawn extract or full series is cached)."""
        cost = 0
        for name in names:
            info = self.tag_infos(name).get(tag)
            if info is None:
                continue
            drawn = self._points_key(tag, weight, xmode, None)
            if not (self.data.is_cached(name, drawn) or self.data.has_scalars(name, tag)):
                cost += info.count
        return cost

    def numerics(self, name: str) -> list[dict]:
        return self.data.numerics(name)

    def hparams(self, name: str) -> dict:
        return self.data.hparams(name)[0]

    def since(self, name: str, tag: str, after_step: int):
        """Points written after ``after_step``: what a live chart appends."""
        return self.data.scalars_since(name, tag, after_step)

    def export_series(self, selected, tags, weight: float, ranges: dict) -> list[ExportSeries]:
        """Full-resolution points of every selected run × tag inside each chart's zoom; with
        smoothing 0 exactly what ``flowlog export-scalars`` writes for them."""
        out = []
        for tag in tags:
            rng = ranges.get(tag)
            for name in selected:
                got = self.series(name, tag)
                if got is None:
                    continue
                step, wall, value = got
                keep = slice(None)
                if rng is not None:
                    keep = (step >= rng[0]) & (step <= rng[1])
                smooth = ema(value, weight)[keep] if weight > 0 else None  # None: no column
                out.append(ExportSeries(name, tag, step[keep], wall[keep], value[keep], smooth))
        return out
