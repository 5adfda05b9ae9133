"""Scalars charts: one chart's figure and live state from the selected runs (no Dash here).

A chart (an ``add_scalars`` main tag, or a plain tag) has per line (:class:`Line`: a run's
tag, of one rank or averaged over its ranks) a raw trace, a smoothed one (when smoothing),
NaN/±Inf markers on a hidden overlay axis (only when the line has such points: each trace
costs plotly.js a layout pass); a mean over ranks adds the min-max band across them first.
Per run a marker at its first check_numerics finding links to the Graph view. Live
updates append points in the browser (``assets/scalars.js``) until ``LIVE_REBUILD_AFTER``.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import escape

import numpy as np

from flowlog.dashboard import untrusted
from flowlog.dashboard.chart_axes import axis_style, decades_of
from flowlog.dashboard.chart_budget import draws_markers, draws_raw, group_points, line_buckets
from flowlog.dashboard.colors import line_colors, rgba
from flowlog.dashboard.figure_json import Fig, encode, scatter
from flowlog.dashboard.patterns import compile_pattern
from flowlog.dashboard.scalars_checks import problems_note
from flowlog.dashboard.scalars_data import RANK_MODES, X_TITLES, Line, ScalarsData, ranks_of, to_x
from flowlog.dashboard.scalars_focus import add_marker, focus_place
from flowlog.dashboard.scalars_groups import draw_groups
from flowlog.dashboard.scalars_groups import group_runs as group_runs  # (re-exported)
from flowlog.dashboard.scalars_markers import (
    line_keep,
    nonfinite_trace,
    numerics_marker,
    place_numerics_labels,
)
from flowlog.dashboard.smoothing import check_weight, ema_continue
from flowlog.dashboard.untrusted import RUN_ERRORS

# A chart's lines are read this many at a time: a read spends most of its time in SQLite and
# numpy, which release the GIL. Four, not two, on 2 cores: under writers at full speed the OS
# shares the cores per thread, and four threads got a chart built in 0.67-0.94x the time with
# the same total CPU (benchmarks/scale.py --load-only)
_READERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="flowlog-read")
# live catch-ups (ScalarsView.catch_up): one at a time, beside the charts' own reads
_CATCH_UP = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowlog-catch-up")
LIVE_REBUILD_AFTER = 2000  # appended points per chart before it is rebuilt (re-bucketed)
# a chart rebuilt because its runs grew waits this many times its last build's duration since
# that build: writers at full speed make every refresh a rebuild of millions of points, which
# would otherwise keep the server's CPU busy (and the writers on the same machine slower)
LIVE_REBUILD_PAUSE = 5.0
AFTER_PAINT = "fl-after-paint"  # layout.meta: first drawn after a paint (assets/plotly_hooks.js)
CHART_HEIGHT = 320
CHART_MARGIN = dict(l=55, r=15, t=40, b=40)
LEGEND_ROW_PX = 25  # one row of the horizontal legend at font size 11 (measured)
LEGEND_MAX_ROWS = 3  # more rows scroll inside the legend instead of squeezing the plot
LEGEND_WIDTH_PX = 430  # width the legend wraps in: the plot area of the narrowest card
X_AXIS_PX = 58  # tick labels and title under the plot area (measured: 55)
UNCHANGED = "unchanged"  # ScalarsView.extend: nothing new to append
LOADING_NOTE = dict(text="loading…", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                    font=dict(color="#9aa1ab", size=13))  # fmt: skip
# a vertical line through the hovered step, as the all-runs tooltip lists that step
HOVER_SPIKE = dict(showspikes=True, spikemode="across", spikesnap="data", spikethickness=1,
                   spikedash="solid", spikecolor="#9aa1ab")  # fmt: skip


class FifoLock:
    """A lock granted in arrival order: charts are requested top to bottom, so the top chart
    is built (and drawn) first instead of whichever thread the OS wakes."""

    def __init__(self):
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self):
        with self._cond:
            ticket = self._next
            self._next += 1
            self._cond.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *exc):
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


def compile_regex(pattern: str | None, what: str):
    """A tag filter or group-by regex (RE2, :mod:`flowlog.dashboard.patterns`); a pattern
    that cannot be used raises ``ValueError`` saying why."""
    return compile_pattern(pattern, what)


def _hover_head(line: Line) -> str:
    """The first lines of a line's hover box: the run in bold, then its key and rank."""
    sub = []
    if line.series is not None:
        sub.append(f"key {line.series}")
    if line.rank is not None:
        sub.append(f"rank {line.rank}")
    if line.ranks:
        sub.append(f"mean of {len(line.ranks)} ranks")
    head = f"<b>{escape(line.run)}</b>"
    return head + ("<br>" + escape(" · ".join(sub)) if sub else "")


def row_meta(run: str, tag: str | None, kind: str | None) -> list:
    """A trace's ``meta``: its run and tag, and for the one trace per line that the all-runs
    tooltip lists (assets/scalars_tooltip.js) "row" and how to read its values: "plain" (y,
    step in customdata), "smooth" (y smoothed, customdata [step, raw, ...]),
    "band" (a mean over ranks: customdata [step, mean, ...]) or "group" (a group's mean,
    customdata [std, runs with a value]: scalars_groups)."""
    return [run, tag] if kind is None else [run, tag, "row", kind]


def nonfinite_kinds(nan, posinf, neginf):
    """``(where, symbols, names)`` of the buckets holding NaN (first), else +Inf, else -Inf."""
    bad = (nan > 0) | (posinf > 0) | (neginf > 0)
    names = np.where(nan[bad] > 0, "NaN", np.where(posinf[bad] > 0, "+Inf", "-Inf"))
    return bad, names


def _rank_ends(fig, band: dict, color: str) -> None:
    """A dotted line where ranks of a mean line stop before the others (a crashed rank):
    after it the mean and band are over fewer ranks."""
    ends: dict[int, list[str]] = {}
    for rank, last in band["rank_last"].items():
        if last is not None:
            ends.setdefault(int(last), []).append(rank)
    st, x = band["st"], band["x"]
    if len(ends) < 2 or not st.size:
        return
    latest = max(ends)
    for last, ranks in sorted(ends.items()):
        if last == latest or not st[0] <= last <= st[-1]:
            continue
        xv = float(np.interp(last, st, x))
        text = f"rank {ranks[0]} ends" if len(ranks) == 1 else f"ranks {', '.join(ranks)} end"
        fig.add_shape(
            type="line", xref="x", yref="paper", x0=xv, x1=xv, y0=0, y1=1,
            line=dict(color=color, dash="dot", width=1.5),
        )  # fmt: skip
        late = last > (st[0] + st[-1]) / 2
        fig.add_annotation(
            x=xv, xref="x", y=1, yref="paper", showarrow=False, yanchor="top",
            xanchor="right" if late else "left", text=escape(f"{text} (step {last})"),
            font=dict(size=10, color=color), bgcolor="rgba(255,255,255,0.8)",
        )  # fmt: skip


class ScalarsView:
    """Builds charts from :class:`ScalarsData`; one per app (``ctx.extra["scalars"]``)."""

    def __init__(self, data):
        self.reads = ScalarsData(data)
        self.generation = itertools.count(1)  # tells the browser a chart card is a new one
        # Full builds one at a time: with all charts requested at once, the first one is ready
        # after one build instead of after all of them sharing the CPU (GIL, 2 cores).
        self.build_lock = FifoLock()
        self.built_tags: set[str] = set()  # charts built so far (tests, benchmarks)
        self._catching: set[str] = set()  # charts whose catch-up is queued or running
        self._catching_lock = threading.Lock()

    # --- figures ----------------------------------------------------------------------------
    def build(
        self, tag, runs_info, selected, weight, xmode, logs, group_mode, group_key, rng,
        rank_mode="each", focus=None, focus_zoom=False,
    ):  # fmt: skip
        """Figure and live state of one chart (``tag``: a :attr:`TagInfo.chart`). ``rng`` is
        the zoomed x range or None; ``rank_mode`` draws a run of several ranks as one line
        per rank ("each") or as their mean with a min-max band ("mean"). ``focus``
        (:func:`scalars_focus.focus_of`) marks a run's step; ``focus_zoom`` zooms onto it."""
        started = time.time()
        weight = check_weight(weight)
        if not (isinstance(xmode, str) and xmode in X_TITLES):  # before any run reads it
            raise ValueError(f"x axis mode must be one of {sorted(X_TITLES)}, got {xmode!r}")
        runs_info = untrusted.runs_info(runs_info)
        colors = {r["name"]: r["color"] for r in runs_info}
        fig = Fig()
        state = {
            "tag": tag,
            "weight": weight,
            "xmode": xmode,
            "range": None if rng is None else list(rng),
            "grouped": group_mode not in (None, "none"),
            "ranks": rank_mode,
            "runs": {},
            "ntraces": 0,
            "appended": 0,
        }
        names = [n for n in untrusted.names(selected) if n in colors]
        state["colors"] = {n: colors[n] for n in names}  # a user's pick redraws (live_update)
        place = self._focus_place(tag, focus, names, xmode, state["grouped"])
        if place is not None and focus_zoom:
            rng = place[1]
            state["range"] = list(rng)
        state["focus"] = focus if place is not None else None
        problems: dict[str, str] = {}  # run -> why it is not drawn (shown on the chart)
        if state["grouped"]:
            has_data = self._grouped(
                fig, tag, names, weight, group_mode, group_key, problems, colors
            )
        else:
            lines = self.run_lines(tag, names, runs_info, rank_mode, problems)
            # the payload budget: coarser lines as they grow in number (chart_budget)
            state["raw_lines"] = raw = draws_raw(len(lines), weight > 0)
            state["buckets"] = buckets = line_buckets(len(lines), weight > 0, raw_too=raw)
            palette = line_colors([(ln.run, ln.series, ln.rank) for ln in lines], colors)
            marked: set[str] = set()  # runs whose check_numerics marker is drawn
            lean = not state["raw_lines"]  # only smoothed lines: their extremes
            logx = "logx" in (logs or [])  # (where a line's gaps show: line_keep)
            extracts = self._prefetch(lines, (weight, xmode, rng, buckets, lean))
            for line, color in zip(lines, palette, strict=True):
                if line.run in problems:
                    continue  # failed on an earlier line: its later ones are not drawn
                try:
                    if line.ranks:
                        how = (weight, xmode, rng, buckets)
                        pts = self._band_traces(fig, state, line, color, how)
                    else:
                        pts = extracts[line].result()
                        if pts:
                            self._line_traces(fig, state, line, color, pts, logx)
                    if pts and line.run not in marked:
                        marked.add(line.run)
                        self._numerics_marker(fig, line.run, colors[line.run], pts)
                except RUN_ERRORS as exc:  # this run only: the others draw
                    problems[line.run] = untrusted.problem(line.run, exc, self.reads.data)
            has_data = bool(state["runs"])
        state["problems"] = problems
        state["ntraces"] = len(fig.data)
        self.built_tags.add(tag)
        place_numerics_labels(fig, rng)  # on the side with room, once the x extent is known
        if place is not None:
            add_marker(fig, place[0], focus["step"], colors[focus["run"]])
        self._layout(fig, tag, xmode, logs, rng, state["grouped"], has_data or bool(problems),
                     rank_mode, state["focus"])  # fmt: skip
        problems_note(fig, problems)
        state["built_at"], state["build_s"] = time.time(), time.time() - started
        return fig, state

    def _prefetch(self, lines: list[Line], how: tuple) -> dict:
        """Each plain line's extract (``reads.points(line, *how)``) as a future, read two
        lines at a time: a read spends most of its time in SQLite and numpy, which release
        the GIL, so a chart of many long runs builds on both cores."""
        return {
            line: _READERS.submit(self.reads.points, line, *how) for line in lines if not line.ranks
        }

    def _focus_place(self, tag, focus, names, xmode, grouped):
        """Where the focused step lies on this chart (:func:`scalars_focus.focus_place`), or
        None: no focus, its run not drawn here (or grouped away), or unreadable."""
        if not focus or grouped or focus["run"] not in names:
            return None
        try:
            return focus_place(self.reads, tag, focus, xmode)
        except RUN_ERRORS:
            return None  # the run's own line says why it is missing

    def run_lines(self, tag, names, runs_info, rank_mode, problems: dict) -> list[Line]:
        """The chart's lines, run by run: a run whose tags cannot be read is left out, and
        ``problems`` says why."""
        if rank_mode not in RANK_MODES:
            raise ValueError(f"rank mode must be one of {RANK_MODES}, got {rank_mode!r}")
        ranks, out = ranks_of(runs_info), []
        for name in names:
            try:
                out += self.reads.lines(tag, [name], ranks, rank_mode)
            except RUN_ERRORS as exc:
                problems[name] = untrusted.problem(name, exc, self.reads.data)
        return out

    def _line_traces(self, fig, state, line: Line, color, pts, logx=False):
        w = state["weight"]
        x, v, s, st = pts["x"], pts["v"], pts["s"], pts["st"]
        keep = line_keep(x, np.isfinite(v), state["buckets"], logx)  # no sub-pixel gaps
        lx, lv, ls, lst = (x, v, s, st) if keep.all() else (x[keep], v[keep], s[keep], st[keep])
        label = escape(line.name)
        head = _hover_head(line)
        entry = {"run": line.run, "tag": line.tag, "rank": line.rank}
        entry.update(last_step=pts["last_step"], wall0=pts["wall0"], ema=pts["ema"])
        if "count" in pts:  # the series' points when drawn: how many a refresh would append
            entry["count"] = pts["count"]
        few = draws_markers(x.size, state["buckets"])  # a handful of points: markers
        raw = scatter(
            x=lx,
            y=np.where(np.isfinite(lv), lv, np.nan),
            mode="lines+markers" if few else "lines",
            marker=dict(size=5),
            name=label,
            legendgroup=label,
            line=dict(color=color, width=1.5 if w == 0 else 1),
            opacity=1.0 if w == 0 else 0.25,
            meta=row_meta(line.run, line.tag, "plain" if w == 0 else None),
        )
        if w == 0:
            raw.update(
                customdata=encode(lst),
                hovertemplate=f"{head}<br>step %{{customdata}}<br>value %{{y:.6g}}<extra></extra>",
            )
        else:
            raw.update(hoverinfo="skip", showlegend=False)
        if w == 0 or state["raw_lines"]:  # many smoothed lines: no faint raw line (budget)
            entry["raw"] = len(fig.data)
            fig.add_trace(raw)
        if w > 0:
            entry["smooth"] = len(fig.data)
            fig.add_trace(
                scatter(
                    x=lx,
                    y=np.where(np.isfinite(ls), ls, np.nan),
                    mode="lines+markers" if few else "lines",
                    marker=dict(size=5),
                    name=label,
                    legendgroup=label,
                    line=dict(color=color, width=2),
                    customdata=np.column_stack([lst, lv]),
                    hovertemplate=f"{head}<br>step %{{customdata[0]}}<br>"
                    "value %{customdata[1]:.6g}<br>smoothed %{y:.6g}<extra></extra>",
                    meta=row_meta(line.run, line.tag, "smooth"),
                )
            )
        bad = ~np.isfinite(v)
        if bad.any():  # no empty marker trace: each trace costs plotly.js a layout pass
            kinds = np.where(np.isnan(v[bad]), "NaN", np.where(v[bad] > 0, "+Inf", "-Inf"))
            entry["nf"] = self._nonfinite_trace(fig, line, color, x[bad], st[bad], kinds, x, st)
        state["runs"][line.key] = entry

    def _nonfinite_trace(self, fig, line: Line, color, x, st, kinds, line_x, line_st):
        return nonfinite_trace(fig, line, _hover_head(line), color, x, st, kinds, line_x, line_st)

    def _band_traces(self, fig, state, line: Line, color, how):
        """A mean line over ranks: the min-max band across ranks (of their bucket means), the
        mean (faint when smoothing) and the smoothed mean. Returns what the check_numerics
        marker needs, or None when no rank has a point in range."""
        w = state["weight"]
        b = self.reads.band(line, *how)
        entry = {"run": line.run, "tag": line.tag, "ranks": list(line.ranks)}
        entry["rank_last"] = b["rank_last"]
        state["runs"][line.key] = entry
        if not b["st"].size:
            return None
        ok = np.isfinite(b["mean"])
        x, st = b["x"][ok], b["st"][ok]
        src = b["smooth"] or b  # the band and the bold line: smoothed like the mean
        label, head = escape(line.name), _hover_head(line)
        last = b["last"][ok]
        cd = np.column_stack([st, b["mean"][ok], b["min"][ok], b["max"][ok], b["n"][ok], last])
        steps = (
            "steps %{customdata[0]}–%{customdata[5]}"
            if np.any(last > st)
            else "step %{customdata[0]}"
        )
        stats = (
            f"<br>{steps}<br>mean %{{customdata[1]:.6g}}<br>"
            "range %{customdata[2]:.6g} – %{customdata[3]:.6g}<br>"
            "ranks with a value: %{customdata[4]}"  # (a bucket's mean, min and max over ranks)
        )
        entry["band"] = len(fig.data)
        fig.add_trace(
            scatter(
                x=np.r_[x, x[::-1]],
                y=np.r_[src["max"][ok], src["min"][ok][::-1]],
                fill="toself",
                fillcolor=rgba(color, 0.28),
                line=dict(width=0),
                hoverinfo="skip",
                name=f"{label} range",
                showlegend=False,
                legendgroup=label,
                meta=[line.run, line.tag],
            )
        )
        few = draws_markers(x.size, state["buckets"], per_bucket=1)
        for smooth in (False, True) if w > 0 else (False,):
            bold = smooth or w == 0
            entry["smooth" if smooth else "raw"] = len(fig.data)  # a click focuses the run
            fig.add_trace(
                scatter(
                    x=x,
                    y=(src if smooth else b)["mean"][ok],
                    mode="lines+markers" if few else "lines",
                    marker=dict(size=5),
                    name=label,
                    legendgroup=label,
                    showlegend=bold,
                    line=dict(color=color, width=2 if smooth else (1.5 if w == 0 else 1)),
                    opacity=1.0 if bold else 0.25,
                    customdata=cd,
                    hovertemplate=head
                    + stats
                    + ("<br>smoothed %{y:.6g}" if smooth else "")
                    + "<extra></extra>",
                    meta=row_meta(
                        line.run, line.tag, ("smooth" if smooth else "band") if bold else None
                    ),
                )
            )
            if not bold:  # the faint raw mean: the smoothed line's hover tells its value
                del fig.data[-1]["hovertemplate"]
                fig.data[-1]["hoverinfo"] = "skip"
        bad, kinds = nonfinite_kinds(b["nan"], b["posinf"], b["neginf"])
        if bad.any():
            entry["nf"] = self._nonfinite_trace(
                fig, line, color, b["x"][bad], b["st"][bad], kinds, b["x"], b["st"]
            )
        _rank_ends(fig, b, color)
        return {"x": b["x"], "st": b["st"], "first_step": int(b["st"][0]),
                "last_step": int(b["st"][-1])}  # fmt: skip

    def _numerics_marker(self, fig, name, color, pts):
        numerics_marker(fig, name, color, pts, self.reads.numerics(name))

    def _grouped(self, fig, chart, names, weight, mode, key, problems, colors) -> bool:
        """Mean and std band per group of runs and per key of the chart (scalars_groups; a
        run written by several ranks takes part with the first rank that has the tag)."""
        return draw_groups(self.reads, fig, chart, names, weight, mode, key, problems, colors,
                           group_points)  # fmt: skip

    def _layout(self, fig, tag, xmode, logs, rng, grouped, has_data, rank_mode="each", focus=None):
        logs = logs or []
        xtype = "log" if "logx" in logs else ("date" if xmode == "wall" and not grouped else None)
        title = dict(text="step" if grouped else X_TITLES[xmode])
        xaxis = axis_style(xtype, decades_of(fig.data, "x"), title=title, **HOVER_SPIKE)
        if rng is not None and xtype != "log":
            xaxis["range"] = list(rng)
            xaxis["autorange"] = False
        fig.update_layout(
            title=chart_title(tag),
            height=CHART_HEIGHT,
            xaxis=xaxis,
            yaxis=axis_style("log" if "logy" in logs else "linear", decades_of(fig.data)),
            yaxis2=dict(overlaying="y", range=[-0.02, 1.04], visible=False, fixedrange=True),
            **legend_layout([t["name"] for t in fig.data if t.get("showlegend", True)]),
            # the nearest point anywhere in the plot: the all-runs tooltip follows the cursor
            hovermode="closest",
            hoverdistance=-1,
            # a new focus is a new view: its zoom wins over the user's earlier one
            uirevision=f"{tag}|{xmode}|{grouped}|{rank_mode}|{'/'.join(sorted(logs))}"
            + (f"|focus {focus['run']}@{focus['step']}" if focus else ""),
            font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"),
        )
        if not has_data:
            fig.add_annotation(
                text="no selected run has this tag",
                showarrow=False,
                xref="paper",
                yref="paper",
                x=0.5,
                y=0.5,
            )

    # --- live -------------------------------------------------------------------------------
    def catch_up(self, state: dict, lines: list[Line]):
        """Extend in the background the passes of a live step-axis chart whose rebuild waits
        (LIVE_REBUILD_PAUSE): the points written meanwhile are smoothed and bucketed on the
        refresh after they arrive (scalars_grow, carried in the provider), so the rebuild or
        a smoothing change reads only the last refresh's points. It is the rebuild's own
        work, done earlier; one catch-up per chart at a time. Returns its future (None: one
        is already under way, or nothing to extend)."""
        buckets, tag = state.get("buckets"), state["tag"]
        if state["xmode"] != "step" or not isinstance(buckets, int) or buckets < 1:
            return None  # other x axes read the whole series: nothing carried to extend
        how = (state["weight"], "step", None, buckets, not state.get("raw_lines", True))
        plain = [line for line in lines if not line.ranks]
        with self._catching_lock:
            if not plain or tag in self._catching:
                return None
            self._catching.add(tag)

        def extend_all():
            try:
                for line in plain:
                    try:
                        self.reads.points(line, *how)
                    except RUN_ERRORS:
                        pass  # the chart's rebuild names the run
            except Exception:  # a bug: said, not lost in the future nobody waits on
                logging.getLogger("flowlog.dashboard").exception("live catch-up of %r", tag)
                raise
            finally:
                with self._catching_lock:
                    self._catching.discard(tag)

        return _CATCH_UP.submit(extend_all)

    def _too_many_new(self, name: str, tag: str, entry: dict, appended: int) -> bool:
        """Whether the points a line gained since it was drawn (its tag's count now against
        the count when drawn) would take the chart past LIVE_REBUILD_AFTER appended points:
        a writer at full speed adds millions between refreshes, which are not worth reading
        into the browser's lists only to rebuild."""
        info = self.reads.tag_infos(name, entry.get("rank")).get(tag)
        drawn = entry.get("count")
        return (
            info is not None
            and isinstance(drawn, int)
            and (info.count - drawn + appended > LIVE_REBUILD_AFTER)
        )

    def extend(self, state, runs_info):
        """``(append spec, new state)`` with the points written since the chart was drawn.

        Returns ``None`` when the chart must be rebuilt (too many new points, a new NaN/Inf,
        new points in a mean-over-ranks line), ``UNCHANGED`` when nothing was written since.
        """
        steps = last_steps(runs_info)
        xs, ys, cds, idx = [], [], [], []
        total = 0
        for key, entry in state["runs"].items():
            name, tag = entry.get("run", key), entry.get("tag", state["tag"])
            if "ranks" in entry:
                if self._band_grew(name, tag, entry, steps):
                    return None  # re-bucketed on the server: the mean moves with every rank
                continue
            known = steps.get((name, entry.get("rank")))
            if known is None or known <= entry["last_step"]:
                continue
            if self._too_many_new(name, tag, entry, state["appended"]):
                return None  # rebuilt (re-bucketed) without reading the new points here
            new = self.reads.since(name, tag, entry["last_step"], entry.get("rank"))
            step = np.asarray(new.step)
            if not step.size:
                continue
            wall = np.asarray(new.wall)
            value = np.asarray(new.value, dtype=np.float64)
            total += step.size
            x = to_x(state["xmode"], step, wall, entry["wall0"]).tolist()
            finite = np.where(np.isfinite(value), value, np.nan)
            yv = [None if math.isnan(y) else y for y in finite.tolist()]
            if "raw" in entry:  # (a chart of many smoothed lines draws no raw line)
                xs.append(x)
                ys.append(yv)
                cds.append(step.tolist())
                idx.append(entry["raw"])
            if state["weight"] > 0:
                smooth, st = ema_continue(value, state["weight"], tuple(entry["ema"]))
                entry["ema"] = list(st)
                xs.append(x)
                ys.append([None if not math.isfinite(y) else y for y in smooth.tolist()])
                cds.append([[s, v] for s, v in zip(step.tolist(), value.tolist(), strict=True)])
                idx.append(entry["smooth"])
            bad = ~np.isfinite(value)
            if bad.any():
                return None  # non-finite markers carry per-point symbols: redraw the chart
            entry["last_step"] = int(step[-1])
            if "count" in entry:
                entry["count"] += int(step.size)
        if not idx:
            return UNCHANGED
        state["appended"] += total
        if state["appended"] > LIVE_REBUILD_AFTER:
            return None
        state["seq"] = state.get("seq", 0) + 1
        return {
            "update": dict(x=xs, y=ys, customdata=cds),
            "traces": idx,
            "seq": state["seq"],
        }, state

    def _band_grew(self, name, tag, entry, steps) -> bool:
        """Whether a rank of a mean line logged ``tag`` after the chart was drawn."""
        for rank, last in entry["rank_last"].items():
            known = steps.get((name, int(rank)))
            if known is not None and (last is None or known > last):
                if self.reads.since(name, tag, -1 if last is None else last, int(rank)).step.size:
                    return True
        return False


def last_steps(runs_info) -> dict[tuple[str, int | None], int]:
    """``{(run, rank or None): last step}`` from RUNS_INFO (it comes back from the browser:
    only whole-number steps count)."""

    def step(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    out = {}
    for r in untrusted.runs_info(runs_info):
        if step(r.get("last_step")):
            out[(r["name"], None)] = r["last_step"]
        for k in r.get("ranks") if isinstance(r.get("ranks"), list) else []:
            # a rank's line follows the rank's last step
            if isinstance(k, dict) and step(k.get("rank")) and step(k.get("last_step")):
                out[(r["name"], k["rank"])] = k["last_step"]
    return out


def legend_rows(labels: list[str], width: float = LEGEND_WIDTH_PX) -> int:
    """Rows a horizontal legend of ``labels`` takes when wrapped at ``width`` px (plotly.js
    puts an item's 40 px line sample and gap around its text; ~6.4 px per character)."""
    rows, used = 0, width
    for label in labels:
        item = 43 + 6.4 * len(label)
        if used + item > width:
            rows, used = rows + 1, 0.0
        used += item
    return rows


def legend_layout(labels: list[str]) -> dict:
    """Fixed margins with room for the legend under the x axis: nothing for plotly.js to
    push (see ``figure_json.LEAN_TEMPLATE``), so each chart is laid out once."""
    rows = min(legend_rows(labels), LEGEND_MAX_ROWS)
    margin = {**CHART_MARGIN, "b": X_AXIS_PX + rows * LEGEND_ROW_PX + (8 if rows else 0)}
    margin["autoexpand"] = False
    plot_h = CHART_HEIGHT - margin["t"] - margin["b"]
    out = {"margin": margin, "showlegend": rows > 0}
    if rows:
        out["legend"] = dict(
            orientation="h",
            x=0,
            y=-X_AXIS_PX / plot_h,
            yanchor="top",
            font=dict(size=11),
            maxheight=rows * LEGEND_ROW_PX + 10,
        )
    return out


def chart_title(tag: str) -> dict:
    return dict(text=escape(tag), font=dict(size=14), x=0.01, xanchor="left")


def placeholder_figure(tag: str) -> dict:
    """What a chart shows until it is built: its title at its final size (so the page does not
    jump when charts fill in) and no axes (cheap for plotly.js to draw)."""
    return {
        "data": [],
        "layout": {
            "title": chart_title(tag),
            "height": CHART_HEIGHT,
            "margin": CHART_MARGIN,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "paper_bgcolor": "#fff",
            "plot_bgcolor": "#fff",
            "meta": AFTER_PAINT,
            # not a blank card while it is read and built
            "annotations": [LOADING_NOTE],
        },
    }
