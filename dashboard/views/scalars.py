"""Scalars: one chart per tag, grouped by tag prefix; smoothing, zoom-to-detail, live, export.

Every chart is its own callback (pattern-matching id), so the first chart draws while the
others load, and only charts on (or near) the screen are built: ``assets/scalars.js`` flags a
chart visible when it scrolls into view, which triggers its build. Groups of watch statistics
(``watch/<node>/<stat>``, dozens of tags per run) start collapsed and hold no charts until
opened. Series are smoothed on the server at full resolution, then reduced to each
bucket's min and max point (``series.minmax_select``) so a chart stays under ~1,200 points per
trace; zooming re-fetches the visible range at finer resolution, down to every point. The
REFRESH interval appends only new points (``run.scalars_since``) in the browser
(``assets/scalars.js``), without redrawing or re-sending the chart.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import math
import os
import re
import sqlite3
import threading
from collections import OrderedDict
from html import escape

import dash
import numpy as np
import plotly.graph_objects as go
from dash import ALL, MATCH, ClientsideFunction, Input, Output, State, dcc, html

from flowlog.dashboard.app import FOCUS, RUNS_INFO, SELECTED_RUNS, TABS
from flowlog.dashboard.colors import color_for_index, rgba
from flowlog.dashboard.controls import image_config, tag_filter_input
from flowlog.dashboard.series import group_stats, minmax_select
from flowlog.dashboard.smoothing import check_weight, ema, ema_continue, ema_state_from

TAB_ID = "scalars"
TAB_LABEL = "Scalars"

TAG_FILTER = "sc-tag-filter"
SMOOTHING = "sc-smoothing"
XAXIS = "sc-xaxis"
LOGSCALE = "sc-log"
GROUP_MODE = "sc-group-mode"
GROUP_KEY = "sc-group-key"
CHARTS = "sc-charts"
TAGS = "sc-tags"
EXPORT_CSV = "sc-export-csv"
EXPORT_JSON = "sc-export-json"
DOWNLOAD = "sc-download"
MESSAGE = "sc-message"
GRAPH = "sc-graph"  # pattern id type: {"type": GRAPH, "tag": tag}
STATE = "sc-state"
EXTEND = "sc-extend"  # new points for one chart, appended in the browser (assets/scalars.js)
EXTENDED = "sc-extended"  # sequence number of the last append done (clientside output)
VISIBLE = "sc-visible"  # per chart: set by assets/scalars.js when it scrolls into view
ZOOM = "sc-zoom"  # per chart: x-range changes of its relayoutData (filtered in the browser)
GROUP = "sc-group"  # pattern id types of a tag group: its <details>, clickable summary,
GROUP_HEAD = "sc-group-head"  # chart grid and {"tags", "open", "rendered"} store
GROUP_BODY = "sc-group-body"
GROUP_INFO = "sc-group-info"
COLLAPSED_PREFIXES = ("watch",)  # writer.watch() statistics: many tags, opened on demand

BUCKETS = 300  # per visible range: min+max per bucket, ~1.2 points per pixel of a chart
LIVE_REBUILD_AFTER = 2000  # appended points per chart before it is rebuilt (re-bucketed)
CACHE_POINTS = 1_500_000  # full-resolution points kept between callbacks (~36 MB)
POINTS_CACHE_ENTRIES = 2000  # drawn extracts (~25 kB each) of (run, tag, smoothing, x, zoom)
# The page's first charts come inside the page layout while building them reads at most this
# many points from disk (~0.1 s); a bigger cold read leaves them to their callbacks, so the page
# itself shows at once.
LEAD_READ_POINTS = 200_000
FIRST_CHARTS = 2  # built into the page layout: the first row of cards
AFTER_PAINT = "fl-after-paint"  # layout.meta: first drawn after a paint (assets/plotly_hooks.js)
DEFAULT_SMOOTHING = 0.6
DEFAULT_XAXIS = "step"
CHART_HEIGHT = 320
CHART_MARGIN = dict(l=55, r=15, t=40, b=40)
X_TITLES = {"step": "step", "relative": "relative time (s)", "wall": "wall time"}


# plotly_white's look without its cost: the stock template turns on axis automargin, which makes
# plotly.js lay every chart out twice (margins are pushed after the first pass), about half of
# a 10-run chart's draw time. Margins are fixed instead (``_legend_layout`` sizes the bottom one).
_TEMPLATE = {
    "layout": {
        "font": {"color": "#2a3f5f"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hoverlabel": {"align": "left"},
        "xaxis": {"linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "ticks": ""},
        "yaxis": {"linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "ticks": ""},
        "margin": {"autoexpand": False},
    }
}
LEGEND_ROW_PX = 25  # one row of the horizontal legend at font size 11 (measured)
LEGEND_MAX_ROWS = 3  # more rows scroll inside the legend instead of squeezing the plot
LEGEND_WIDTH_PX = 430  # width the legend wraps in: the plot area of the narrowest card
X_AXIS_PX = 58  # tick labels and title under the plot area (measured: 55)


def _encode(v):
    """numpy -> Plotly's binary array spec ({dtype, bdata}), the compact, fast way to ship it.

    Integers go as int32 when they fit (plotly.js has no int64 arrays); other non-numeric
    arrays (marker symbols) as lists. Dicts are encoded one level down (marker, line).
    """
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "iu":
            if v.size == 0 or (v.min() >= -(2**31) and v.max() < 2**31):
                v = v.astype("<i4")
                dtype = "i4"
            else:
                v, dtype = v.astype("<f8"), "f8"
        elif v.dtype.kind == "f":
            v, dtype = v.astype("<f8"), "f8"
        else:
            return v.tolist()
        spec = {"dtype": dtype, "bdata": base64.b64encode(np.ascontiguousarray(v).tobytes())}
        spec["bdata"] = spec["bdata"].decode("ascii")
        if v.ndim == 2:
            spec["shape"] = f"{v.shape[0]}, {v.shape[1]}"
        return spec
    if isinstance(v, dict):
        return {k: _encode(x) for k, x in v.items()}
    return v


def scatter(**kw) -> dict:
    """A scatter trace as a plain dict: skips plotly.py's per-property validation (~40 % of a
    10-run chart's build time); arrays are sent in binary form."""
    return {"type": "scatter", **{k: _encode(v) for k, v in kw.items()}}


class Fig:
    """The few ``go.Figure`` methods the chart builder uses, on plain dicts (Dash serialises
    anything with ``to_plotly_json``)."""

    def __init__(self):
        self.data: list[dict] = []
        self.layout: dict = {"template": _TEMPLATE}

    def add_trace(self, trace: dict) -> None:
        self.data.append(trace)

    def add_shape(self, **shape) -> None:
        self.layout.setdefault("shapes", []).append(_encode(shape))

    def add_annotation(self, **annotation) -> None:
        self.layout.setdefault("annotations", []).append(annotation)

    def update_layout(self, **kw) -> None:
        kw.pop("template", None)
        self.layout.update(kw)

    def to_plotly_json(self) -> dict:
        return {"data": self.data, "layout": self.layout}


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


class SeriesCache:
    """LRU of full-resolution series keyed by (run, tag, point count, last step).

    A zoom or a smoothing change re-reads nothing while the run has not grown; the bound on
    total points keeps memory far below loading the whole logdir.
    """

    def __init__(self, max_points: int = CACHE_POINTS):
        self.max_points = max_points
        self._items: OrderedDict = OrderedDict()
        self._points = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(name: str, tag: str, info) -> tuple:
        return (name, tag, info.count, info.last_step)

    def has(self, name: str, tag: str, info) -> bool:
        with self._lock:
            return self.key(name, tag, info) in self._items

    def get(self, run, name: str, tag: str, info) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = self.key(name, tag, info)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        s = run.scalars(tag)
        item = (np.asarray(s.step), np.asarray(s.wall), np.asarray(s.value, dtype=np.float64))
        with self._lock:
            for old in [k for k in self._items if k[:2] == key[:2]]:
                self._points -= self._items.pop(old)[0].size
            self._items[key] = item
            self._points += item[0].size
            while self._points > self.max_points and len(self._items) > 1:
                self._points -= self._items.popitem(last=False)[1][0].size
        return item


def file_stamp(path: str) -> tuple:
    """Identity, size and mtime of a run's database and its WAL: a writer's commit lands in
    the WAL (or, after a checkpoint, the database), so any commit changes the stamp. Two
    ``stat`` calls instead of a query per tag."""
    out = []
    for p in (path, path + "-wal"):
        try:
            st = os.stat(p)
        except FileNotFoundError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


class RunMetaCache:
    """Per run: its scalar tags (``TagInfo`` by tag) and numerics findings, re-read only when
    the run's files change. Every chart build asks for these for every selected run."""

    def __init__(self):
        self._items: dict[str, tuple[tuple, dict]] = {}
        self._lock = threading.Lock()

    def _entry(self, run) -> dict:
        # stamp first: a commit racing the read below leaves a newer entry under an older
        # stamp, which the next call sees as changed and re-reads (never the other way round)
        stamp = file_stamp(run.path)
        with self._lock:
            hit = self._items.get(run.name)
            if hit is not None and hit[0] == stamp:
                return hit[1]
            entry: dict = {}
            self._items[run.name] = (stamp, entry)
            return entry

    def tags(self, run) -> dict:
        entry = self._entry(run)
        if "tags" not in entry:
            entry["tags"] = {t.tag: t for t in run.tags(kind="scalar")}
        return entry["tags"]

    def numerics(self, run) -> list[dict]:
        entry = self._entry(run)
        if "numerics" not in entry:
            entry["numerics"] = run.numerics()
        return entry["numerics"]


def split_tag(tag: str) -> tuple[str, str]:
    """``"loss/train"`` -> ``("loss", "loss/train")``; a tag without ``/`` is its own group."""
    return (tag.split("/", 1)[0] if "/" in tag else tag), tag


def compile_regex(pattern: str | None, what: str):
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"bad {what} regex {pattern!r}: {e}") from None


def group_runs(names: list[str], mode: str, key: str | None, hparams: dict[str, dict]):
    """``{group label: [run names]}`` by a name regex (first capture group) or an hparam value."""
    groups: dict[str, list[str]] = {}
    rx = compile_regex(key, "group") if mode == "regex" else None
    for name in names:
        if mode == "regex" and rx is not None:
            m = rx.search(name)
            label = (m.group(1) if m.groups() else m.group(0)) if m else name
        elif mode == "hparam" and key:
            value = hparams.get(name, {}).get(key, "(unset)")
            label = f"{key}={value}"
        else:
            label = name
        groups.setdefault(label, []).append(name)
    return groups


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


def _nonfinite_y(v: np.ndarray) -> np.ndarray:
    """Where a marker for a non-finite value sits on the hidden [0, 1] overlay axis."""
    return np.where(np.isnan(v), 0.96, np.where(v > 0, 1.0, 0.0))


def _axis_range(relayout: dict | None, axis: str = "xaxis"):
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


def _parse_x(value, mode: str) -> float:
    if mode == "wall" and isinstance(value, str):
        return float(np.datetime64(value.replace(" ", "T"), "ms").astype(np.int64))
    return float(value)


class ScalarsView:
    def __init__(self, ctx):
        self.ctx = ctx
        self.cache = SeriesCache()
        self.meta = RunMetaCache()
        self.generation = itertools.count(1)  # tells the browser a chart card is a new one
        # Full builds one at a time: with all charts requested at once, the first one is ready
        # after one build instead of after all of them sharing the CPU (GIL, 2 cores).
        self.build_lock = FifoLock()
        self._points: OrderedDict = OrderedDict()
        self._points_lock = threading.Lock()

    # --- data -------------------------------------------------------------------------------
    def tag_infos(self, name: str) -> dict:
        """``{tag: TagInfo}`` of the run's scalar tags (cached until the run's files change)."""
        return self.meta.tags(self.ctx.run(name))

    def series(self, name: str, tag: str):
        """``(run, step, wall, value)`` at full resolution, or None if the run lacks the tag."""
        run = self.ctx.run(name)
        infos = self.meta.tags(run)
        if tag not in infos:
            return None
        step, wall, value = self.cache.get(run, name, tag, infos[tag])
        return run, step, wall, value

    @staticmethod
    def _points_key(name: str, tag: str, info, w: float, xmode: str, rng) -> tuple:
        """Key of a drawn extract: the series' version (point count, last step) and the view."""
        return (*SeriesCache.key(name, tag, info), w, xmode, None if rng is None else tuple(rng))

    def points(self, name: str, tag: str, w: float, xmode: str, rng) -> dict | None:
        """The points one run's trace draws: bucket extremes of the raw series, the smoothed
        value at each, and the live-update state. Cached by the tag's size and last step, so
        a page reload or a second viewer costs no re-read (a few kB per series)."""
        run = self.ctx.run(name)
        info = self.meta.tags(run).get(tag)
        if info is None:
            return None
        key = self._points_key(name, tag, info, w, xmode, rng)
        with self._points_lock:
            if key in self._points:
                self._points.move_to_end(key)
                return self._points[key]
        step, wall, value = self.cache.get(run, name, tag, info)
        wall0 = float(wall[0]) if wall.size else 0.0
        smooth = ema(value, w) if w > 0 else value
        x_all = to_x(xmode, step, wall, wall0)
        lo, hi = (None, None) if rng is None else rng
        sel = minmax_select(x_all, value, BUCKETS, lo, hi)
        pts = {
            "x": x_all[sel],
            "v": value[sel],
            "s": smooth[sel],
            "st": step[sel],
            "wall0": wall0,
            "ema": list(ema_state_from(smooth, value, w)),
            "first_step": int(step[0]) if step.size else None,
            "last_step": int(step[-1]) if step.size else -1,
        }
        with self._points_lock:
            self._points[key] = pts
            for old in [k for k in self._points if k[:2] == key[:2] and k[2:4] != key[2:4]]:
                del self._points[old]  # the run grew: older extracts are stale
            while len(self._points) > POINTS_CACHE_ENTRIES:
                self._points.popitem(last=False)
        return pts

    def read_cost(self, tag: str, names, weight: float, xmode: str) -> int:
        """Points a full build of ``tag`` for ``names`` would read from disk (0 when every
        run's drawn extract or full series is cached)."""
        cost = 0
        for name in names:
            run = self.ctx.run(name)
            info = self.meta.tags(run).get(tag)
            if info is None:
                continue
            key = self._points_key(name, tag, info, weight, xmode, None)
            with self._points_lock:
                if key in self._points:
                    continue
            if not self.cache.has(name, tag, info):
                cost += info.count
        return cost

    # --- figures ----------------------------------------------------------------------------
    def build(self, tag, runs_info, selected, weight, xmode, logs, group_mode, group_key, rng):
        """Figure and live state of one chart. ``rng`` is the zoomed x range or None."""
        weight = check_weight(weight)
        colors = {r["name"]: r["color"] for r in runs_info or []}
        fig = Fig()
        state = {
            "tag": tag,
            "weight": weight,
            "xmode": xmode,
            "range": None if rng is None else list(rng),
            "grouped": group_mode not in (None, "none"),
            "runs": {},
            "ntraces": 0,
            "appended": 0,
        }
        names = [n for n in selected or [] if n in colors]
        if state["grouped"]:
            loaded = {n: got for n in names if (got := self.series(n, tag)) is not None}
            self._grouped(fig, tag, loaded, weight, group_mode, group_key)
        else:
            loaded = {n: p for n in names if (p := self.points(n, tag, weight, xmode, rng))}
            for name, pts in loaded.items():
                self._run_traces(fig, state, tag, name, colors[name], pts)
        state["ntraces"] = len(fig.data)
        self._layout(fig, tag, xmode, logs, rng, state["grouped"], bool(loaded))
        return fig, state

    def _run_traces(self, fig, state, tag, name, color, pts):
        w = state["weight"]
        x, v, s, st = pts["x"], pts["v"], pts["s"], pts["st"]
        label = escape(name)
        entry = {"last_step": pts["last_step"], "wall0": pts["wall0"], "ema": pts["ema"]}
        fin_v = np.where(np.isfinite(v), v, np.nan)
        few = x.size < 40  # a line through a handful of points needs markers to be seen
        raw = scatter(
            x=x,
            y=fin_v,
            mode="lines+markers" if few else "lines",
            marker=dict(size=5),
            name=label,
            legendgroup=label,
            line=dict(color=color, width=1.5 if w == 0 else 1),
            opacity=1.0 if w == 0 else 0.25,
            meta=[name, tag],
        )
        if w == 0:
            raw.update(
                customdata=_encode(st),
                hovertemplate=f"<b>{label}</b><br>step %{{customdata}}<br>value %{{y:.6g}}"
                "<extra></extra>",
            )
        else:
            raw.update(hoverinfo="skip", showlegend=False)
        entry["raw"] = len(fig.data)
        fig.add_trace(raw)
        if w > 0:
            entry["smooth"] = len(fig.data)
            fig.add_trace(
                scatter(
                    x=x,
                    y=np.where(np.isfinite(s), s, np.nan),
                    mode="lines+markers" if few else "lines",
                    marker=dict(size=5),
                    name=label,
                    legendgroup=label,
                    line=dict(color=color, width=2),
                    customdata=np.column_stack([st, v]),
                    hovertemplate=f"<b>{label}</b><br>step %{{customdata[0]}}<br>"
                    "value %{customdata[1]:.6g}<br>smoothed %{y:.6g}<extra></extra>",
                    meta=[name, tag],
                )
            )
        bad = ~np.isfinite(v)
        if bad.any():  # no empty marker trace: each trace costs plotly.js a layout pass
            self._nonfinite_trace(fig, entry, tag, name, label, color, pts, bad)
        self._numerics_marker(fig, name, color, pts)
        state["runs"][name] = entry

    def _nonfinite_trace(self, fig, entry, tag, name, label, color, pts, bad):
        """Markers for the run's NaN/±Inf points on the hidden [0, 1] overlay axis: top edge
        +Inf, bottom -Inf, just under the top NaN (a line cannot be drawn through them)."""
        x, v, st = pts["x"], pts["v"], pts["st"]
        entry["nf"] = len(fig.data)
        kinds = np.where(np.isnan(v[bad]), "NaN", np.where(v[bad] > 0, "+Inf", "-Inf"))
        fig.add_trace(
            scatter(
                x=x[bad],
                y=_nonfinite_y(v[bad]),
                yaxis="y2",
                mode="markers",
                name=f"{label} non-finite",
                showlegend=False,
                marker=dict(
                    color=color,
                    size=9,
                    symbol=np.where(
                        np.isnan(v[bad]), "x", np.where(v[bad] > 0, "triangle-up", "triangle-down")
                    ),
                    line=dict(width=1, color="#222"),
                ),
                customdata=np.column_stack([st[bad], kinds]),
                hovertemplate=f"<b>{label}</b><br>step %{{customdata[0]}}<br>"
                "value %{customdata[1]}<extra></extra>",
                meta=[name, tag],
            )
        )

    def _numerics_marker(self, fig, name, color, pts):
        findings = self.meta.numerics(self.ctx.run(name))
        if not findings or pts["first_step"] is None or not pts["st"].size:
            return
        first = min(findings, key=lambda f: f["step"])
        if not pts["first_step"] <= first["step"] <= pts["last_step"]:
            return  # the finding lies outside this tag's steps: nothing to point at here
        # x of that step (exact on the step axis; interpolated between drawn points on time axes)
        xv = float(np.interp(first["step"], pts["st"], pts["x"]))
        node = str(first["node"])
        # label on the side with room: a late finding's label would run off the chart's right edge
        late = first["step"] > (pts["first_step"] + pts["last_step"]) / 2
        fig.add_shape(
            type="line",
            xref="x",
            yref="paper",
            x0=xv,
            x1=xv,
            y0=0,
            y1=1,
            line=dict(color=color, dash="dash", width=1.5),
        )
        fig.add_trace(
            scatter(
                x=[xv],
                y=[0.9],
                yaxis="y2",
                mode="markers+text",
                text=[escape(f"first NaN/Inf: {node}")],
                textposition="middle left" if late else "middle right",
                textfont=dict(color=color, size=11),
                marker=dict(
                    symbol="diamond", size=12, color=color, line=dict(color="#222", width=1)
                ),
                showlegend=False,
                customdata=[["numerics", name, int(first["step"]), node]],
                hovertemplate=escape(f"{name}: first non-finite value at step {first['step']}")
                + "<br>"
                + escape(f"node {node} ({first.get('phase', '')}) — click to open in Graph")
                + "<extra></extra>",
                meta=["numerics", name],
            )
        )

    def _grouped(self, fig, tag, loaded, weight, mode, key):
        hp = {}
        if mode == "hparam":
            for name, (run, *_rest) in loaded.items():
                hp[name] = run.hparams()[0]
        groups = group_runs(list(loaded), mode, key, hp)
        for gi, (label, members) in enumerate(sorted(groups.items())):
            color = color_for_index(gi)
            xs = [loaded[m][1] for m in members]
            ys = [ema(loaded[m][3], weight) if weight > 0 else loaded[m][3] for m in members]
            grid, mean, std, n = group_stats(xs, ys, points=BUCKETS)
            name = escape(f"{label} (n={n})")
            fig.add_trace(
                scatter(
                    x=np.r_[grid, grid[::-1]],
                    y=np.r_[mean + std, (mean - std)[::-1]],
                    fill="toself",
                    fillcolor=rgba(color, 0.18),
                    line=dict(width=0),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                )
            )
            fig.add_trace(
                scatter(
                    x=grid,
                    y=mean,
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    line=dict(color=color, width=2),
                    customdata=std,
                    hovertemplate=f"<b>{name}</b><br>step %{{x:.0f}}<br>mean %{{y:.6g}}"
                    "<br>± std %{customdata:.3g}<extra></extra>",
                )
            )

    def _layout(self, fig, tag, xmode, logs, rng, grouped, has_data):
        logs = logs or []
        xtype = "log" if "logx" in logs else ("date" if xmode == "wall" and not grouped else None)
        xaxis = dict(title=dict(text="step" if grouped else X_TITLES[xmode]), gridcolor="#eceef1")
        if xtype:
            xaxis["type"] = xtype
        if rng is not None and xtype != "log":
            xaxis["range"] = list(rng)
            xaxis["autorange"] = False
        fig.update_layout(
            title=_title(tag),
            height=CHART_HEIGHT,
            xaxis=xaxis,
            yaxis=dict(type="log" if "logy" in logs else "linear", gridcolor="#eceef1"),
            yaxis2=dict(overlaying="y", range=[-0.02, 1.04], visible=False, fixedrange=True),
            **_legend_layout([t["name"] for t in fig.data if t.get("showlegend", True)]),
            hovermode="closest",
            uirevision=f"{tag}|{xmode}|{grouped}|{'/'.join(sorted(logs))}",
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
    def extend(self, state, runs_info):
        """``(append spec, new state)`` with the points written since the chart was drawn.

        Returns ``None`` when the chart must be rebuilt (a new run or too many new points).
        """
        last_steps = {r["name"]: r.get("last_step") for r in runs_info or []}
        xs, ys, cds, idx = [], [], [], []
        total = 0
        for name, entry in state["runs"].items():
            known = last_steps.get(name)
            if known is None or known <= entry["last_step"]:
                continue
            run = self.ctx.run(name)
            new = run.scalars_since(state["tag"], entry["last_step"])
            step = np.asarray(new.step)
            if not step.size:
                continue
            wall = np.asarray(new.wall)
            value = np.asarray(new.value, dtype=np.float64)
            total += step.size
            x = to_x(state["xmode"], step, wall, entry["wall0"]).tolist()
            finite = np.where(np.isfinite(value), value, np.nan)
            yv = [None if math.isnan(y) else y for y in finite.tolist()]
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
        if not idx:
            return dash.no_update, dash.no_update
        state["appended"] += total
        if state["appended"] > LIVE_REBUILD_AFTER:
            return None
        state["seq"] = state.get("seq", 0) + 1
        return {
            "update": dict(x=xs, y=ys, customdata=cds),
            "traces": idx,
            "seq": state["seq"],
        }, state

    # --- export -----------------------------------------------------------------------------
    def export_rows(self, selected, tags, weight, ranges):
        """Full-resolution points of every selected run x tag inside each chart's zoom."""
        out = []
        for tag in tags:
            rng = ranges.get(tag)
            for name in selected:
                got = self.series(name, tag)
                if got is None:
                    continue
                _run, step, wall, value = got
                smooth = ema(value, weight) if weight > 0 else value
                keep = np.ones(step.size, bool)
                if rng is not None:
                    keep = (step >= rng[0]) & (step <= rng[1])
                out.append((name, tag, step[keep], wall[keep], value[keep], smooth[keep]))
        return out


def _fmt(v: float) -> str | float:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def to_csv(rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["run", "tag", "step", "wall_time", "value", "smoothed"])
    for name, tag, step, wall, value, smooth in rows:
        for s, t, v, m in zip(
            step.tolist(), wall.tolist(), value.tolist(), smooth.tolist(), strict=True
        ):
            w.writerow([name, tag, s, repr(t), repr(v), repr(m)])
    return buf.getvalue()


def to_json(rows, weight: float) -> str:
    """JSON with non-finite values as the strings "nan", "inf", "-inf" (JSON has no NaN)."""
    series = [
        {
            "run": name,
            "tag": tag,
            "step": step.tolist(),
            "wall_time": wall.tolist(),
            "value": [_fmt(v) for v in value.tolist()],
            "smoothed": [_fmt(v) for v in smooth.tolist()],
        }
        for name, tag, step, wall, value, smooth in rows
    ]
    return json.dumps({"format": "flowlog.scalars/1", "smoothing": weight, "series": series})


# --- layout and callbacks ---------------------------------------------------------------------


def layout(ctx):
    # the charts of the page's initial selection are in the layout, so they load at once, and
    # the first of them come built (first_charts)
    init = getattr(ctx.page, "initial", None) or {"selected": [], "info": []}
    view = ctx.extra.get("scalars")
    shown = scalar_tags(view, init["selected"]) if view is not None else None
    generation = next(view.generation) if view is not None else 0
    built = first_charts(view, shown or [], init) if view is not None else {}
    return html.Div(
        className="fl-view fl-scalars",
        children=[
            html.Div(
                className="fl-toolbar",
                children=[
                    tag_filter_input(TAG_FILTER),
                    html.Label(
                        className="fl-control fl-smoothing",
                        children=[
                            html.Span("Smoothing"),
                            dcc.Slider(
                                id=SMOOTHING,
                                min=0,
                                max=0.99,
                                step=0.01,
                                value=DEFAULT_SMOOTHING,
                                marks={0: "0", 0.5: "0.5", 0.99: "0.99"},
                                tooltip={"placement": "bottom", "always_visible": False},
                                updatemode="mouseup",
                            ),
                        ],
                    ),
                    dcc.RadioItems(
                        id=XAXIS,
                        options=[
                            {"label": "Step", "value": "step"},
                            {"label": "Relative", "value": "relative"},
                            {"label": "Wall", "value": "wall"},
                        ],
                        value=DEFAULT_XAXIS,
                        inline=True,
                        className="fl-segmented",
                    ),
                    dcc.Checklist(
                        id=LOGSCALE,
                        options=[
                            {"label": "log x", "value": "logx"},
                            {"label": "log y", "value": "logy"},
                        ],
                        value=[],
                        inline=True,
                        className="fl-segmented",
                    ),
                    dcc.Dropdown(
                        id=GROUP_MODE,
                        options=[
                            {"label": "No grouping", "value": "none"},
                            {"label": "Group by name regex", "value": "regex"},
                            {"label": "Group by hparam", "value": "hparam"},
                        ],
                        value="none",
                        clearable=False,
                        searchable=False,
                        className="fl-dropdown",
                    ),
                    dcc.Input(
                        id=GROUP_KEY,
                        type="text",
                        placeholder="e.g. (.*)-seed\\d+  or  lr",
                        debounce=0.3,
                        className="fl-input fl-group-key",
                    ),
                    html.Button("Export CSV", id=EXPORT_CSV, className="fl-button"),
                    html.Button("Export JSON", id=EXPORT_JSON, className="fl-button"),
                    dcc.Download(id=DOWNLOAD),
                ],
            ),
            html.Div(id=MESSAGE, className="fl-message"),
            dcc.Store(id=TAGS, data=shown),
            html.Div(
                chart_groups(shown or [], generation, built=built) if view is not None else [],
                id=CHARTS,
                className="fl-chart-groups",
            ),
        ],
    )


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


def _legend_layout(labels: list[str]) -> dict:
    """Fixed margins with room for the legend under the x axis: nothing for plotly.js to
    push (see ``_TEMPLATE``), so each chart is laid out once."""
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


def _title(tag: str) -> dict:
    return dict(text=escape(tag), font=dict(size=14), x=0.01, xanchor="left")


def placeholder_figure(tag: str) -> dict:
    """What a chart shows until it is built: its title at its final size (so the page does not
    jump when charts fill in) and no axes (cheap for plotly.js to draw)."""
    return {
        "data": [],
        "layout": {
            "title": _title(tag),
            "height": CHART_HEIGHT,
            "margin": CHART_MARGIN,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "paper_bgcolor": "#fff",
            "plot_bgcolor": "#fff",
            "meta": AFTER_PAINT,
        },
    }


def first_charts(view, shown: list[str], init: dict, limit_read: bool = True) -> dict:
    """``{tag: (figure, state)}`` of the page's first FIRST_CHARTS charts (its first row),
    built with the controls' defaults so they are drawn as soon as plotly.js has loaded,
    without a callback round trip after the page's own. The first is drawn at once; the others'
    figures carry AFTER_PAINT (assets/plotly_hooks.js), so the first chart is painted before
    they are drawn. Stops before a chart whose read from disk would take the total above
    LEAD_READ_POINTS (unless not ``limit_read``) or whose building fails: such cards are built
    by their callbacks like the rest."""
    if not init.get("selected"):
        return {}
    opened = [t for t in shown if default_open(split_tag(t)[0], shown)]
    built, cost = {}, 0
    for tag in opened[:FIRST_CHARTS]:
        try:
            cost += view.read_cost(tag, init["selected"], DEFAULT_SMOOTHING, DEFAULT_XAXIS)
            if limit_read and cost > LEAD_READ_POINTS:
                break
            with view.build_lock:
                fig, state = view.build(
                    tag,
                    init["info"],
                    init["selected"],
                    DEFAULT_SMOOTHING,
                    DEFAULT_XAXIS,
                    [],
                    "none",
                    None,
                    None,
                )
        except (KeyError, ValueError, OSError, sqlite3.Error):
            break  # a run vanished or broke meanwhile: its callback will say so
        if built:
            fig.update_layout(meta=AFTER_PAINT)
        built[tag] = (fig, state)
    return built


def prewarm(ctx) -> None:
    """Read and build what a first page shows, so the first visit after the dashboard starts
    gets its first charts inside the page even when that is a long read (LEAD_READ_POINTS)."""
    from flowlog.dashboard.runs_panel import initial_state

    view = ctx.extra["scalars"]
    init = initial_state(ctx)
    first_charts(view, scalar_tags(view, init["selected"]), init, limit_read=False)


def _chart(tag: str, generation: int, built: tuple | None = None):
    """A chart card. ``built`` is its ``(figure, state)`` when it comes built (first_charts);
    otherwise it holds a placeholder until assets/scalars.js flags it visible."""
    # data-fl-gen changes whenever the card is (re)rendered by the server, so the browser
    # flags it visible again even when React reuses the DOM element (assets/scalars.js);
    # data-fl-built tells it the card already has its figure for this generation
    gen = str(generation)
    attrs = {"data-fl-tag": tag, "data-fl-gen": gen}
    if built:
        attrs["data-fl-built"] = gen
    return html.Div(
        className="fl-card",
        **attrs,
        children=[
            dcc.Graph(
                id={"type": GRAPH, "tag": tag},
                className="fl-chart",
                figure=built[0] if built else placeholder_figure(tag),
                config=image_config(tag),
            ),
            dcc.Store(id={"type": VISIBLE, "tag": tag}),
            dcc.Store(id={"type": ZOOM, "tag": tag}),
            dcc.Store(id={"type": STATE, "tag": tag}, data=built[1] if built else None),
            dcc.Store(id={"type": EXTEND, "tag": tag}),
            dcc.Store(id={"type": EXTENDED, "tag": tag}),
        ],
    )


def default_open(prefix: str, shown: list[str]) -> bool:
    """Watch statistics start collapsed, unless they are all that is shown (the tag filter
    asked for them); the user's own tags start open."""
    if prefix not in COLLAPSED_PREFIXES:
        return True
    return all(split_tag(t)[0] in COLLAPSED_PREFIXES for t in shown)


def chart_groups(
    shown: list[str], generation: int, is_open: dict | None = None, built: dict | None = None
) -> list:
    """Collapsible groups by tag prefix, each a grid of chart cards.

    ``is_open`` maps group prefixes to their current state (kept when the tag list changes);
    other groups get :func:`default_open`. A closed group holds no charts (nothing is built
    or drawn) until its summary is clicked. ``built`` maps tags to the ``(figure, state)``
    they come drawn with.
    """
    built = built or {}
    groups: dict[str, list[str]] = {}
    for tag in shown:
        groups.setdefault(split_tag(tag)[0], []).append(tag)
    out = []
    for prefix, ts in groups.items():
        opened = (is_open or {}).get(prefix, default_open(prefix, shown))
        count = f"{len(ts)} chart{'s' if len(ts) != 1 else ''}"
        out.append(
            html.Details(
                id={"type": GROUP, "group": prefix},
                open=opened,
                className="fl-group",
                children=[
                    html.Summary(
                        id={"type": GROUP_HEAD, "group": prefix},
                        title=f"show or hide the {count} of {prefix}",
                        children=[
                            html.Span(prefix),
                            html.Span(count, className="fl-count"),
                            html.Span("click to show", className="fl-collapsed-hint"),
                        ],
                    ),
                    html.Div(
                        [_chart(t, generation, built.get(t)) for t in ts] if opened else [],
                        id={"type": GROUP_BODY, "group": prefix},
                        className="fl-chart-grid",
                    ),
                    dcc.Store(
                        id={"type": GROUP_INFO, "group": prefix},
                        data={"tags": ts, "open": opened, "rendered": opened},
                    ),
                ],
            )
        )
    return out


def groups_open(clicks: dict, infos: dict) -> dict:
    """``{prefix: open now}`` from each group's state when rendered (``infos``) and the clicks
    on its summary since then (the browser toggles ``<details>`` itself, once per click)."""
    return {
        prefix: bool(info.get("open")) != bool((clicks.get(prefix) or 0) % 2)
        for prefix, info in infos.items()
        if info
    }


def _by_group(states: list[dict]) -> dict:
    """``{group prefix: value}`` of a wildcard State (``dash.ctx.states_list`` entry)."""
    return {s["id"]["group"]: s.get("value") for s in states or []}


def scalar_tags(view, names) -> list[str]:
    tags = set()
    for name in names:
        try:
            tags |= set(view.tag_infos(name))
        except KeyError:
            continue  # vanished between discovery and now; the next refresh drops it
    return sorted(tags)


def _filter_tags(tags: list[str], pattern: str | None) -> list[str]:
    rx = compile_regex(pattern, "tag filter")
    return [t for t in tags if rx is None or rx.search(t)]


def register(app, ctx):
    view = ScalarsView(ctx)
    ctx.extra["scalars"] = view

    @app.callback(
        Output(CHARTS, "children"),
        Output(TAGS, "data"),
        Output(MESSAGE, "children"),
        Input(RUNS_INFO, "data"),
        Input(SELECTED_RUNS, "data"),
        Input(TAG_FILTER, "value"),
        State(TAGS, "data"),
        State({"type": GROUP_HEAD, "group": ALL}, "n_clicks"),
        State({"type": GROUP_INFO, "group": ALL}, "data"),
        prevent_initial_call=True,  # the layout holds the initial charts: they load at once
    )
    def charts(info, selected, pattern, old, _clicks, _infos):
        names = [r["name"] for r in info or []]
        sel = [n for n in selected or [] if n in names]
        tags = scalar_tags(view, sel)
        try:
            shown = _filter_tags(tags, pattern)
        except ValueError as e:
            return dash.no_update, dash.no_update, str(e)
        message = ""
        if not names:
            message = ""
        elif not sel:
            message = "No runs selected — tick runs in the panel on the left."
        elif not tags:
            message = "The selected runs have no scalar tags yet."
        elif not shown:
            message = f"No tag matches {pattern!r}."
        if old is not None and shown == old:
            return dash.no_update, dash.no_update, message
        states = dash.ctx.states_list
        is_open = groups_open(_by_group(states[1]), _by_group(states[2]))
        return chart_groups(shown, next(view.generation), is_open), shown, message

    @app.callback(
        Output({"type": GROUP_BODY, "group": MATCH}, "children"),
        Output({"type": GROUP_INFO, "group": MATCH}, "data"),
        Input({"type": GROUP_HEAD, "group": MATCH}, "n_clicks"),
        State({"type": GROUP_INFO, "group": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def open_group(clicks, info):
        """A collapsed group gets its charts when first opened (they stay when closed)."""
        if not info or info.get("rendered") or not clicks:
            return dash.no_update, dash.no_update
        cards = [_chart(t, next(view.generation)) for t in info["tags"]]
        return cards, {**info, "rendered": True}

    @app.callback(
        Output({"type": GRAPH, "tag": MATCH}, "figure"),
        Output({"type": STATE, "tag": MATCH}, "data"),
        Input(SELECTED_RUNS, "data"),
        Input(SMOOTHING, "value"),
        Input(XAXIS, "value"),
        Input(LOGSCALE, "value"),
        Input(GROUP_MODE, "value"),
        Input(GROUP_KEY, "value"),
        Input({"type": ZOOM, "tag": MATCH}, "data"),
        Input({"type": VISIBLE, "tag": MATCH}, "data"),
        State({"type": GRAPH, "tag": MATCH}, "id"),
        State({"type": STATE, "tag": MATCH}, "data"),
        State(RUNS_INFO, "data"),
        # nothing is built until the browser flags the chart visible (assets/scalars.js)
        prevent_initial_call=True,
    )
    def chart(selected, weight, xmode, logs, gmode, gkey, zoom, visible, gid, old, info):
        if not visible and not old:
            return dash.no_update, dash.no_update  # off screen: built when scrolled to
        # (a card that came built with the page (first_charts) has a state but no visible flag)
        rng = None
        trig = dash.ctx.triggered_id
        if isinstance(trig, dict) and trig.get("type") == VISIBLE:
            if old and old.get("visible") == visible:
                return dash.no_update, dash.no_update  # remounted (tab switch): already built
        elif isinstance(trig, dict) and trig.get("type") == ZOOM:
            r = _axis_range(zoom)
            if r is None:
                return dash.no_update, dash.no_update
            if r != "auto":
                try:
                    rng = (_parse_x(r[0], xmode), _parse_x(r[1], xmode))
                except (TypeError, ValueError):
                    return dash.no_update, dash.no_update
                if "logx" in (logs or []):
                    rng = (10 ** rng[0], 10 ** rng[1])
            if old and old.get("range") == (None if rng is None else list(rng)):
                return dash.no_update, dash.no_update
        elif old and old.get("range") and old.get("xmode") == xmode:
            rng = tuple(old["range"])  # keep the zoom when only smoothing/runs change
        try:
            with view.build_lock:
                fig, state = view.build(
                    gid["tag"], info, selected, weight or 0.0, xmode, logs, gmode, gkey, rng
                )
        except ValueError as e:  # bad group regex: say so in the chart
            fig = go.Figure()
            fig.add_annotation(text=escape(str(e)), showarrow=False, xref="paper", yref="paper")
            # a uirevision marks the figure as built for assets/scalars.js
            fig.update_layout(template="plotly_white", height=320, uirevision="error")
            return fig, dash.no_update
        state["visible"] = visible
        return fig, state

    @app.callback(
        Output({"type": EXTEND, "tag": ALL}, "data"),
        Output({"type": GRAPH, "tag": ALL}, "figure", allow_duplicate=True),
        Output({"type": STATE, "tag": ALL}, "data", allow_duplicate=True),
        Input(RUNS_INFO, "data"),
        State({"type": STATE, "tag": ALL}, "data"),
        State(SELECTED_RUNS, "data"),
        State(LOGSCALE, "value"),
        State(GROUP_KEY, "value"),
        prevent_initial_call=True,
    )
    def live(info, states, selected, logs, gkey):
        ext, figs, out_states = [], [], []
        names = {r["name"] for r in info or []}
        for state in states:
            e = f = s = dash.no_update
            if state and not state["grouped"] and state["range"] is None:
                sel = [n for n in selected or [] if n in names]
                has_new_run = any(
                    n not in state["runs"] and state["tag"] in view.tag_infos(n) for n in sel
                )
                res = None if has_new_run else view.extend(state, info)
                if res is None:
                    f, s = view.build(
                        state["tag"], info, selected, state["weight"], state["xmode"], logs,
                        "none", gkey, None,
                    )  # fmt: skip
                    s["visible"] = state.get("visible")
                else:
                    e, s = res
            ext.append(e)
            figs.append(f)
            out_states.append(s)
        return ext, figs, out_states

    # Only x-range changes reach the server: Plotly also reports autosize and y-only changes,
    # and such a request, issued after a settings change, would make Dash drop that change's
    # (earlier) response for this chart.
    app.clientside_callback(
        ClientsideFunction(namespace="flowlog_scalars", function_name="zoom"),
        Output({"type": ZOOM, "tag": MATCH}, "data"),
        Input({"type": GRAPH, "tag": MATCH}, "relayoutData"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        ClientsideFunction(namespace="flowlog_scalars", function_name="extend"),
        Output({"type": EXTENDED, "tag": MATCH}, "data"),
        Input({"type": EXTEND, "tag": MATCH}, "data"),
        State({"type": EXTEND, "tag": MATCH}, "id"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(FOCUS, "data", allow_duplicate=True),
        Output(TABS, "value", allow_duplicate=True),
        Input({"type": GRAPH, "tag": ALL}, "clickData"),
        State({"type": STATE, "tag": ALL}, "data"),
        prevent_initial_call=True,
    )
    def click(_all, states):
        trig = dash.ctx.triggered_id
        data = dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None
        if not isinstance(trig, dict) or not data or not data.get("points"):
            return dash.no_update, dash.no_update
        pt = data["points"][0]
        cd = pt.get("customdata")
        if isinstance(cd, list) and len(cd) == 4 and cd[0] == "numerics":
            return {"run": cd[1], "step": int(cd[2]), "node": cd[3]}, "graph"
        state = next((s for s in states or [] if s and s.get("tag") == trig["tag"]), None)
        curve = pt.get("curveNumber")
        run = None
        for name, entry in (state or {}).get("runs", {}).items():
            if curve in (entry.get("raw"), entry.get("smooth"), entry.get("nf")):
                run = name
        step = cd[0] if isinstance(cd, list) else cd
        if run is None or step is None:
            return dash.no_update, dash.no_update
        return {"run": run, "tag": trig["tag"], "step": int(float(step))}, dash.no_update

    @app.callback(
        Output(DOWNLOAD, "data"),
        Input(EXPORT_CSV, "n_clicks"),
        Input(EXPORT_JSON, "n_clicks"),
        State(SELECTED_RUNS, "data"),
        State(TAGS, "data"),
        State(SMOOTHING, "value"),
        State({"type": STATE, "tag": ALL}, "data"),
        prevent_initial_call=True,
    )
    def export(_csv, _json, selected, tags, weight, states):
        ranges = {}
        for s in states or []:
            if s and s.get("range") is not None and s["xmode"] == "step":
                ranges[s["tag"]] = s["range"]
        rows = view.export_rows(selected or [], tags or [], weight or 0.0, ranges)
        if dash.ctx.triggered_id == EXPORT_JSON:
            return dict(content=to_json(rows, weight or 0.0), filename="flowlog-scalars.json")
        return dict(content=to_csv(rows), filename="flowlog-scalars.csv")
