"""Scalars following the FOCUS store: "show this step in Scalars" (the Graph view) zooms every
chart of that run onto a window centred on the step and marks the step there (no Dash here).

The FOCUS a Scalars point click sets (:func:`focus_from_click`, ``"from": "scalars"``, for the
Graph view) is not one to follow: clicking a curve must not zoom every chart.
"""

from __future__ import annotations

from html import escape

import numpy as np

from flowlog.dashboard import untrusted
from flowlog.dashboard.scalars_checks import step_of
from flowlog.dashboard.scalars_data import to_x

SPAN = 0.2  # the zoom window: this fraction of the run's steps in the chart...
MIN_STEPS = 20  # ...but at least this many steps wide
SOURCE = "scalars"  # FOCUS["from"] of the view's own clicks


def focus_of(value) -> dict | None:
    """``{"run", "step"}`` of a FOCUS the charts follow, else None (none, the view's own
    click, or anything a crafted request sends)."""
    if not isinstance(value, dict) or value.get("from") == SOURCE:
        return None
    run, step = value.get("run"), step_of(value.get("step"))
    if not untrusted.is_name(run) or step is None:
        return None
    return {"run": run, "step": step}


def own_click(value) -> bool:
    """Whether a FOCUS value is the one a click on a Scalars curve sets."""
    return isinstance(value, dict) and value.get("from") == SOURCE


def step_window(step: int, first: int, last: int) -> tuple[float, float]:
    """``(lo, hi)`` steps of the zoom around ``step``: it lies in the middle."""
    half = max((last - first) * SPAN, MIN_STEPS) / 2
    return step - half, step + half


def focus_place(reads, chart: str, focus: dict, xmode: str):
    """``(x of the step, (lo, hi) x range)`` for the focused run in ``chart``, or None when the
    run does not draw that chart or its step lies outside the chart's steps."""
    tags = reads.chart_tags(focus["run"], chart)
    if not tags or not tags[0].count:
        return None
    first, last = tags[0].first_step, tags[0].last_step
    if not first <= focus["step"] <= last:
        return None
    lo, hi = step_window(focus["step"], first, last)
    if xmode == "step":  # the tag's step range is enough: no read of a long series
        return float(focus["step"]), (lo, hi)
    got = reads.series(focus["run"], tags[0].tag)
    step, wall = np.asarray(got[0]), np.asarray(got[1])
    x = to_x(xmode, step, wall, float(wall[0]))
    at = [float(np.interp(s, step, x)) for s in (focus["step"], lo, hi)]
    # (time axes: the window is clamped to the run's time, the step is no longer centred at
    # the very ends)
    return at[0], (at[1], at[2])


def add_marker(fig, x: float, step: int, color: str) -> None:
    """A vertical line at the focused step, labelled with it above the plot."""
    fig.add_shape(
        type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1, name="focus",
        line=dict(color=color, width=2),
    )  # fmt: skip
    fig.add_annotation(
        x=x, xref="x", y=1, yref="paper", yanchor="bottom", showarrow=False,
        text=escape(f"step {step}"), font=dict(size=11, color=color),
        bgcolor="rgba(255,255,255,0.9)", bordercolor=color, borderwidth=1, borderpad=2,
    )  # fmt: skip


def focus_label(focus: dict | None) -> str | None:
    """The line above the charts while they follow a focus, or None."""
    if focus is None:
        return None
    return f"Zoomed on step {focus['step']} of run {focus['run']} (marked on its charts)."


def focus_from_click(trigger, data, states) -> tuple[dict, str | None] | None:
    """``(FOCUS value, tab to open or None)`` for a click on a chart point, or None."""
    if not isinstance(trigger, dict) or not isinstance(data, dict):
        return None
    points = data.get("points")
    pt = points[0] if isinstance(points, list) and points else None
    if not isinstance(pt, dict):
        return None
    cd = pt.get("customdata")
    if isinstance(cd, list) and len(cd) == 4 and cd[0] == "numerics":
        if not (untrusted.is_name(cd[1]) and step_of(cd[2]) is not None):
            return None
        return {"run": cd[1], "step": step_of(cd[2]), "node": cd[3]}, "graph"
    states = [s for s in states if isinstance(s, dict)] if isinstance(states, list) else []
    state = next((s for s in states if s.get("tag") == trigger.get("tag")), None)
    runs = state.get("runs") if state else None
    curve = pt.get("curveNumber")
    hit = None
    for key, entry in runs.items() if isinstance(runs, dict) else ():
        if not isinstance(entry, dict):
            continue
        if curve in (entry.get("raw"), entry.get("smooth"), entry.get("nf"), entry.get("band")):
            run, tag = entry.get("run", key), entry.get("tag", trigger.get("tag"))
            if not (untrusted.is_name(run) and isinstance(tag, str)):
                continue
            hit = {"run": run, "tag": tag}
            rank = entry.get("rank")
            if isinstance(rank, int) and not isinstance(rank, bool):
                hit["rank"] = rank
    step = step_of(cd[0] if isinstance(cd, list) and cd else cd)
    if hit is None or step is None:
        return None
    return {**hit, "step": step, "from": SOURCE}, None  # (the charts do not follow it)
