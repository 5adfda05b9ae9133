"""What the Scalars view reads and derives, through the cached data provider (no Dash here).

A chart is a :attr:`TagInfo.chart`: an ``add_scalars`` main tag with its keys' series, and a
plain tag of the same name. It draws lines (:class:`Line`): per selected run, one per tag of the
chart and, for a run written by several ranks, one per rank (or, in "mean" rank mode, one
mean line with the min-max band across ranks, from aligned downsampled buckets).

Full-resolution series come from ``data.scalars`` and the drawn extract of one line (per bucket
the extremes of the raw and of the smoothed series, both values at each) from ``data.memo``:
both live in
the provider's one cache, keyed on the run's change token, so a zoom, a smoothing change, a
page reload or a second viewer re-reads nothing while the run is unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from flowlog.dashboard import scalars_grow, scalars_zoom
from flowlog.dashboard.chart_budget import BUCKETS, draws_raw, line_buckets
from flowlog.dashboard.series import align_rank_buckets, bucket_extremes
from flowlog.dashboard.smoothing import ema, ema_state_from
from flowlog.dashboard.untrusted import RUN_ERRORS
from flowlog.export import ExportSeries

X_TITLES = {"step": "step", "relative": "relative time (s)", "wall": "wall time"}
RANK_MODES = ("each", "mean")  # one line per rank | the mean across ranks with a min-max band


@dataclass(frozen=True)
class Line:
    """One line of a chart: a run's stored tag, from one rank file or averaged over ranks."""

    run: str
    tag: str  # the stored tag, what the provider reads
    series: str | None = None  # the add_scalars key (TagInfo.series); None for a plain tag
    rank: int | None = None  # the rank read (None: a single-file run, or a mean line)
    ranks: tuple[int, ...] = ()  # a mean line: the ranks it averages

    @property
    def key(self) -> str:
        """Unique within a chart; a single-file run's plain tag is keyed by the run's name."""
        if self.series is None and self.rank is None and not self.ranks:
            return self.run
        return json.dumps([self.run, self.series, self.rank, list(self.ranks)])

    @property
    def name(self) -> str:
        """The legend entry: ``run · key [rank 1]``, ``run [mean of 4 ranks]``."""
        out = self.run if self.series is None else f"{self.run} · {self.series}"
        if self.rank is not None:
            out += f" [rank {self.rank}]"
        if self.ranks:
            out += f" [mean of {len(self.ranks)} ranks]"
        return out


def ranks_of(runs_info) -> dict[str, list[int]]:
    """``{run: its ranks}`` from the runs panel's info, for the runs written by several (the
    info comes back from the browser: entries that are not rank records are left out)."""
    out = {}
    for r in runs_info if isinstance(runs_info, list) else []:
        ranks = r.get("ranks") if isinstance(r, dict) else None
        if ranks and isinstance(ranks, list) and isinstance(r.get("name"), str):
            out[r["name"]] = [
                k["rank"]
                for k in ranks
                if isinstance(k, dict) and isinstance(k.get("rank"), int)
                and not isinstance(k.get("rank"), bool)
            ]  # fmt: skip
    return out


def chart_names(tag_infos) -> list[str]:
    """The sorted chart names of some :class:`TagInfo` (add_scalars keys share one)."""
    return sorted({info.chart for info in tag_infos})


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


def extract(
    step, wall, value, w: float, xmode: str, rng, buckets: int = BUCKETS, by_smoothed=False
) -> dict:
    """The points one run's trace draws (``buckets`` over the range: chart_budget), the raw and
    smoothed value at each, and the state live updates continue from. Smoothed, the points are
    each bucket's extremes of the raw series and of the smoothed one (``bucket_extremes``), so
    both drawn lines keep their own range (the smoothed values at raw extremes alone missed
    3-10 % of the smoothed line's range at weights 0.6-0.9). ``by_smoothed`` takes the smoothed
    series' extremes only, for a chart drawing only smoothed lines (half the points; NaN/Inf
    stay in both)."""
    wall0 = float(wall[0]) if wall.size else 0.0
    smooth = ema(value, w) if w > 0 else value
    x_all = to_x(xmode, step, wall, wall0)
    lo, hi = (None, None) if rng is None else rng
    sel = bucket_extremes(
        x_all, scalars_zoom.selected_on(value, smooth, w, by_smoothed), buckets, lo, hi
    )
    return {
        "x": x_all[sel],
        "v": value[sel],
        "s": smooth[sel],
        "st": step[sel],
        "wall0": wall0,
        "ema": list(ema_state_from(smooth, value, w)),
        "first_step": int(step[0]) if step.size else None,
        "last_step": int(step[-1]) if step.size else -1,
        "count": int(step.size),
    }


class ScalarsData:
    """The Scalars view's reads, all through ``data`` (a CachedProvider)."""

    def __init__(self, data):
        self.data = data

    def tag_infos(self, name: str, rank: int | None = None) -> dict:
        """``{tag: TagInfo}`` of the run's scalar tags (of one rank, or of all)."""
        if rank is None:
            return self.data.tags(name, "scalar")
        return self.data.tags(name, "scalar", rank=rank)

    def chart_tags(self, name: str, chart: str) -> list:
        """The run's tags drawn in ``chart``: its plain tag first, then the add_scalars keys
        in the order they were first logged."""
        tags = [t for t in self.tag_infos(name).values() if t.chart == chart]
        return sorted(tags, key=lambda t: t.series is not None)

    def lines(self, chart: str, names, ranks: dict | None = None, mode: str = "each") -> list:
        """The lines (:class:`Line`) of ``chart`` for the runs ``names`` (in that order); ``ranks``
        maps runs written by several ranks to them (:func:`ranks_of`)."""
        if mode not in RANK_MODES:
            raise ValueError(f"rank mode must be one of {RANK_MODES}, got {mode!r}")
        out = []
        for name in names:
            run_ranks = (ranks or {}).get(name) or []
            for t in self.chart_tags(name, chart):
                if not run_ranks:
                    out.append(Line(name, t.tag, t.series))
                    continue
                having = [r for r in run_ranks if t.tag in self.tag_infos(name, r)]
                if mode == "mean" and len(having) > 1:
                    out.append(Line(name, t.tag, t.series, ranks=tuple(having)))
                else:
                    out.extend(Line(name, t.tag, t.series, rank=r) for r in having)
        return out

    def series(self, name: str, tag: str, rank: int | None = None):
        """``(step, wall, value)`` at full resolution, or None if the run lacks the tag."""
        if tag not in self.tag_infos(name, rank):
            return None
        if rank is None:
            s = self.data.scalars(name, tag)
        else:
            s = self.data.scalars(name, tag, rank=rank)
        return s.step, s.wall, s.value

    @staticmethod
    def _points_key(tag: str, rank, w: float, xmode: str, rng, buckets: int, by_s) -> tuple:
        rng = None if rng is None else tuple(rng)
        return ("scalars-extract", tag, rank, w, xmode, rng, buckets, by_s)

    def points(
        self, line: Line, w: float, xmode: str, rng, buckets: int = BUCKETS, by_smoothed=False
    ) -> dict | None:
        """One line's drawn extract (:func:`extract`), cached until the run changes."""
        if line.tag not in self.tag_infos(line.run, line.rank):
            return None
        key = self._points_key(line.tag, line.rank, w, xmode, rng, buckets, by_smoothed)

        def compute():
            if xmode == "step":  # streamed or windowed: the series is never held whole
                if rng is None:
                    got = self._streamed(line, w, buckets, by_smoothed)
                else:
                    got = self._zoomed(line, w, rng, buckets, by_smoothed)
                if got is not None:
                    return got
            got = self.series(line.run, line.tag, line.rank)
            return extract(*got, w, xmode, rng, buckets, by_smoothed)

        return self.data.memo(line.run, key, compute)

    def _streamed(self, line: Line, w: float, buckets: int, by_smoothed: bool) -> dict | None:
        """The whole-range step-axis extract from the series read in windows, leaving its EMA
        checkpoints in the cache for zooms; None for a line without points."""
        got, ck = self._stream(line, w, buckets, by_smoothed)
        if ck is not None:
            self.data.memo(line.run, self._checkpoints_key(line, w), lambda: ck)
        return got

    def _stream(self, line: Line, w: float, buckets: int, by_smoothed: bool) -> tuple:
        """``(extract, checkpoints)`` of one pass over the line's series in windows
        (:func:`scalars_zoom.streamed_extract`), or of the points written since the pass
        of an earlier commit for a long series (:mod:`scalars_grow`); ``(None, None)``
        without points."""
        info = self.tag_infos(line.run, line.rank)[line.tag]
        span = (info.first_step, info.last_step)
        if info.count >= scalars_grow.MIN_POINTS:
            variant = (w, buckets, by_smoothed)
            got = self.data.carried(
                line.run, self._grown_group(line), variant, info.generation,
                lambda previous: self._grow(line, info, previous),
            )  # fmt: skip
            if got is None:
                return None, None
            return scalars_grow.select(got, w, buckets, by_smoothed)
        pieces = self.data.scalars_pieces(line.run, line.tag, rank=line.rank)
        return scalars_zoom.streamed_extract(pieces, w, buckets, by_smoothed, span)

    @staticmethod
    def _grown_group(line: Line) -> tuple:
        return ("scalars-grown", line.tag, line.rank)

    def _grow(self, line: Line, info, previous: dict) -> dict:
        """Each variant ``(weight, buckets, by_smoothed)`` of ``previous`` grown by
        :class:`scalars_grow.Grower` from one read of the points none of them has yet."""
        growers = {}
        for variant, prev in previous.items():
            if prev is not None and not (
                prev.anchor == info.first_step and prev.points <= info.count
                and prev.last_step <= info.last_step
            ):  # fmt: skip
                prev = None  # an impossible state for appended points: start over
            growers[variant] = scalars_grow.Grower(
                prev, *variant, (info.first_step, info.last_step)
            )
        start = min(g.after for g in growers.values()) + 1
        if start <= info.last_step:
            first = None if start <= info.first_step else start
            for piece in self.data.scalars_pieces(line.run, line.tag, rank=line.rank, start=first):
                for g in growers.values():
                    g.feed(piece.step, piece.wall, piece.value)
        return {variant: g.done() for variant, g in growers.items()}

    @staticmethod
    def _checkpoints_key(line: Line, w: float) -> tuple:
        return ("scalars-checkpoints", line.tag, line.rank, w)

    def checkpoints(self, line: Line, w: float) -> dict | None:
        """The line's EMA checkpoints (:mod:`scalars_zoom`), cached (left by the chart's own
        streamed pass, else from one of their own); None without points."""
        key = self._checkpoints_key(line, w)
        return self.data.memo(line.run, key, lambda: self._stream(line, w, 1, False)[1])

    def _zoomed(self, line: Line, w: float, rng, buckets: int, by_smoothed: bool) -> dict | None:
        """A zoomed extract reading only the window (and the points since the checkpoint
        before it), smoothed exactly as over every point; None for a line without points."""
        ck = self.checkpoints(line, w)
        if ck is None:
            return None
        start, end, state = scalars_zoom.read_window(ck, rng)
        if line.rank is None:
            got = self.data.scalars(line.run, line.tag, start, end)
        else:
            got = self.data.scalars(line.run, line.tag, start, end, rank=line.rank)
        arrays = (got.step, got.wall, got.value)
        return scalars_zoom.windowed_extract(ck, arrays, state, w, rng, buckets, by_smoothed)

    def band(self, line: Line, w: float, xmode: str, rng, buckets: int = BUCKETS) -> dict:
        """A mean line's drawn statistics (:meth:`_band`), cached until the run changes."""
        key = ("scalars-band", line.tag, line.ranks, w, xmode, None if rng is None else tuple(rng))
        key += (buckets,)
        return self.data.memo(line.run, key, lambda: self._band(line, w, xmode, rng, buckets))

    def _band(self, line: Line, w: float, xmode: str, rng, buckets: int = BUCKETS) -> dict:
        """Mean, min and max across ``line.ranks`` of their bucket means over one common
        ``start..end`` (the zoomed range, else every rank's steps), smoothed per logged point:
        an EMA over buckets of ``k`` points each weighs by ``w ** k``."""
        infos = {r: self.tag_infos(line.run, r)[line.tag] for r in line.ranks}
        start = min(i.first_step for i in infos.values())
        end = max(i.last_step for i in infos.values())
        wall0 = min(
            float(self.data.scalars(line.run, line.tag, i.first_step, i.first_step, rank=r).wall[0])
            for r, i in infos.items()
        )
        if rng is not None:
            lo, hi = rng
            if xmode != "step":
                full = self.band(line, w, xmode, None, buckets)
                lo, hi = (np.interp(v, full["x"], full["st"]) if full["x"].size else v for v in rng)
            start, end = max(start, int(np.floor(lo))), min(end, int(np.ceil(hi)))
        per_rank = [
            self.data.scalars_downsampled(line.run, line.tag, buckets, start, end, rank=r)
            for r in line.ranks
        ]
        b = align_rank_buckets(per_rank, start, end, buckets)
        out = {
            "x": to_x(xmode, b.step, b.wall, wall0), "st": b.step, "last": b.last_step,
            "mean": b.mean, "min": b.min, "max": b.max, "n": b.n, "nan": b.nan, "posinf": b.posinf,
            "neginf": b.neginf, "wall0": wall0, "smooth": None,
            "rank_last": {str(r): i.last_step for r, i in infos.items()},
        }  # fmt: skip
        if w > 0 and b.step.size:
            k = max(1.0, float(np.mean(b.points)) / len(line.ranks))
            we = w**k
            out["smooth"] = {s: ema(out[s], we) for s in ("mean", "min", "max")}
        return out

    def read_cost(self, chart: str, names, weight: float, xmode: str, ranks=None) -> int:
        """Points a full build of ``chart`` for ``names`` would read from disk (0 when every
        line's drawn extract or full series is cached)."""
        cost = 0
        lines = self.lines(chart, names, ranks)
        raw_too = draws_raw(len(lines), weight > 0)  # as ScalarsView.build draws them
        buckets = line_buckets(len(lines), weight > 0, raw_too=raw_too)
        by_smoothed = not raw_too
        for line in lines:
            info = self.tag_infos(line.run, line.rank).get(line.tag)
            if info is None:
                continue
            drawn = self._points_key(line.tag, line.rank, weight, xmode, None, buckets, by_smoothed)
            full = self.data.has_scalars(line.run, line.tag, rank=line.rank)
            if self.data.is_cached(line.run, drawn) or full:
                continue
            cost += info.count
            if xmode == "step" and info.count >= scalars_grow.MIN_POINTS:
                variant = (weight, buckets, by_smoothed)
                group = self._grown_group(line)
                prev = self.data.carried_value(line.run, group, variant, info.generation)
                cost -= min(prev.points, info.count) if prev is not None else 0
        return cost

    def numerics(self, name: str) -> list[dict]:
        return self.data.numerics(name)

    def hparams(self, name: str) -> dict:
        return self.data.hparams(name)[0]

    def since(self, name: str, tag: str, after_step: int, rank: int | None = None):
        """Points written after ``after_step``: what a live chart appends."""
        if rank is None:
            return self.data.scalars_since(name, tag, after_step)
        return self.data.scalars_since(name, tag, after_step, rank=rank)

    def export_series(
        self, selected, charts, weight: float, ranges: dict, ranks: dict | None = None,
        problems: dict | None = None,
    ) -> list[ExportSeries]:  # fmt: skip
        """Full-resolution points of every selected run × line of each chart inside the
        chart's zoom (every rank of a run written by several, each its own series); with
        smoothing 0 exactly what ``flowlog export-scalars`` writes for them. A run that fails
        to read is left out (``problems``: run -> the error), the others are exported."""
        problems = {} if problems is None else problems
        if ranks is None:
            ranks = {}
            for n in selected:
                try:
                    ranks[n] = [k.rank for k in self.data.run_info(n).ranks if k.rank is not None]
                except RUN_ERRORS as exc:
                    problems[n] = exc
        out = []
        for chart in charts:
            for name in selected:
                if name in problems:
                    continue
                try:
                    out += self._export_run(chart, name, weight, ranges.get(chart), ranks)
                except RUN_ERRORS as exc:
                    problems[name] = exc
        return out

    def _export_run(self, chart, name, weight, rng, ranks) -> list[ExportSeries]:
        """One run's series of ``chart`` for :meth:`export_series`."""
        out = []
        for line in self.lines(chart, [name], ranks):
            got = self.series(line.run, line.tag, line.rank)
            if got is None:
                continue
            step, wall, value = got
            keep = slice(None)
            if rng is not None:
                keep = (step >= rng[0]) & (step <= rng[1])
            smooth = ema(value, weight)[keep] if weight > 0 else None  # None: no column
            out.append(
                ExportSeries(
                    line.run,
                    chart,
                    step[keep],
                    wall[keep],
                    value[keep],
                    smooth,
                    series=line.series,
                    rank=line.rank,
                )
            )
        return out
