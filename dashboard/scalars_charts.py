"""Scalars charts: one tag's figure and live state from the selected runs (no Dash here).

A chart has per run a raw trace, a smoothed one (when smoothing), NaN/±Inf markers on a hidden
overlay axis (only when the run has such points: each trace costs plotly.js a layout pass) and
a marker at the run's first check_numerics finding, which links to the Graph view. Live
updates append points in the browser (``assets/scalars.js``) until ``LIVE_REBUILD_AFTER``.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from html import escape

import numpy as np

from flowlog.dashboard.colors import color_for_index, rgba
from flowlog.dashboard.figure_json import Fig, encode, scatter
from flowlog.dashboard.scalars_data import BUCKETS, X_TITLES, ScalarsData, to_x
from flowlog.dashboard.series import group_stats
from flowlog.dashboard.smoothing import check_weight, ema, ema_continue

LIVE_REBUILD_AFTER = 2000  # appended points per chart before it is rebuilt (re-bucketed)
AFTER_PAINT = "fl-after-paint"  # layout.meta: first drawn after a paint (assets/plotly_hooks.js)
CHART_HEIGHT = 320
CHART_MARGIN = dict(l=55, r=15, t=40, b=40)
LEGEND_ROW_PX = 25  # one row of the horizontal legend at font size 11 (measured)
LEGEND_MAX_ROWS = 3  # more rows scroll inside the legend instead of squeezing the plot
LEGEND_WIDTH_PX = 430  # width the legend wraps in: the plot area of the narrowest card
X_AXIS_PX = 58  # tick labels and title under the plot area (measured: 55)
UNCHANGED = "unchanged"  # ScalarsView.extend: nothing new to append


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


def _nonfinite_y(v: np.ndarray) -> np.ndarray:
    """Where a marker for a non-finite value sits on the hidden [0, 1] overlay axis."""
    return np.where(np.isnan(v), 0.96, np.where(v > 0, 1.0, 0.0))


class ScalarsView:
    """Builds charts from :class:`ScalarsData`; one per app (``ctx.extra["scalars"]``)."""

    def __init__(self, data):
        self.reads = ScalarsData(data)
        self.generation = itertools.count(1)  # tells the browser a chart card is a new one
        # Full builds one at a time: with all charts requested at once, the first one is ready
        # after one build instead of after all of them sharing the CPU (GIL, 2 cores).
        self.build_lock = FifoLock()
        self.built_tags: set[str] = set()  # tags built so far (tests, benchmarks)

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
            loaded = {n: got for n in names if (got := self.reads.series(n, tag)) is not None}
            self._grouped(fig, tag, loaded, weight, group_mode, group_key)
        else:
            loaded = {n: p for n in names if (p := self.reads.points(n, tag, weight, xmode, rng))}
            for name, pts in loaded.items():
                self._run_traces(fig, state, tag, name, colors[name], pts)
        state["ntraces"] = len(fig.data)
        self.built_tags.add(tag)
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
                customdata=encode(st),
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
        findings = self.reads.numerics(name)
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
        hp = {name: self.reads.hparams(name) for name in loaded} if mode == "hparam" else {}
        groups = group_runs(list(loaded), mode, key, hp)
        for gi, (label, members) in enumerate(sorted(groups.items())):
            color = color_for_index(gi)
            xs = [loaded[m][0] for m in members]
            ys = [ema(loaded[m][2], weight) if weight > 0 else loaded[m][2] for m in members]
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
            title=chart_title(tag),
            height=CHART_HEIGHT,
            xaxis=xaxis,
            yaxis=dict(type="log" if "logy" in logs else "linear", gridcolor="#eceef1"),
            yaxis2=dict(overlaying="y", range=[-0.02, 1.04], visible=False, fixedrange=True),
            **legend_layout([t["name"] for t in fig.data if t.get("showlegend", True)]),
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

        Returns ``None`` when the chart must be rebuilt (a new run or too many new points),
        ``UNCHANGED`` when nothing was written since.
        """
        last_steps = {r["name"]: r.get("last_step") for r in runs_info or []}
        xs, ys, cds, idx = [], [], [], []
        total = 0
        for name, entry in state["runs"].items():
            known = last_steps.get(name)
            if known is None or known <= entry["last_step"]:
                continue
            new = self.reads.since(name, state["tag"], entry["last_step"])
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
        },
    }
