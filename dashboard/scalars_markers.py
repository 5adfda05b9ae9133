"""The markers a Scalars chart draws over its lines: NaN/±Inf points, and each run's first
check_numerics finding (a diamond linking to the Graph view) with its label.

A run that diverges logs NaN at every later step: one ✖ per point piles into a solid blob, so
the markers are thinned to about one per ``MARKER_SPACING`` of the line's x extent (the first
of each run of one kind always stays), joined by a thin line that spans each run of non-finite
points. The first-NaN label goes on the side of its diamond with room in the whole chart
(:func:`place_numerics_labels`, once every line is drawn), set off the diamond by a space.
The line itself breaks only where its non-finite points leave a visible gap (:func:`line_keep`).
"""

from __future__ import annotations

from html import escape

import numpy as np

from flowlog.dashboard.chart_axes import trace_values
from flowlog.dashboard.figure_json import scatter
from flowlog.dashboard.series import bucket_index
from flowlog.provider import first_finding

NONFINITE_SYMBOLS = {"NaN": "x", "+Inf": "triangle-up", "-Inf": "triangle-down"}
NONFINITE_MARKER_Y = {"NaN": 0.96, "+Inf": 1.0, "-Inf": 0.0}
MARKER_SPACING = 1 / 60  # of the line's x extent: ~6 px apart on a 400 px plot
LABEL_CHARS = 32  # a longer node name is cut in the label (the hover has it whole)
NUMERICS = "numerics"  # meta[0] of a finding's marker trace
PAD = "\u2002"  # an en space between the diamond and its label


LABEL_HALO = "0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff"  # CSS text-shadow


def line_keep(x: np.ndarray, finite: np.ndarray, buckets: int, logx: bool = False) -> np.ndarray:
    """Mask of a line's drawn points its trace keeps: every finite point, and the non-finite
    ones alone in their bucket (``1 / buckets`` of the line's drawn x range, on the log axis
    where x is drawn on one), the gaps that show at the chart's resolution. Elsewhere the gap
    is a pixel or two wide, yet plotly.js draws and styles each piece of a broken line as a
    path of its own: four runs logging a NaN every 20,000 steps drew 3,000 paths, 3x the time.
    The markers over the line show every non-finite point either way."""
    keep = np.ones(finite.shape, dtype=bool)
    if finite.all() or np.count_nonzero(finite) < 2:
        return keep  # nothing to connect
    pos = np.asarray(x, np.float64)
    if logx:  # (x <= 0 is not drawn on a log axis)
        pos = np.log10(np.where(pos > 0, pos, np.nan))
    on = np.isfinite(pos)
    if not on.any():
        return keep
    buckets = max(1, buckets)
    b = bucket_index(pos[on], float(pos[on].min()), float(pos[on].max()), buckets)
    has_value = np.zeros(buckets, dtype=bool)
    has_value[b[finite[on]]] = True
    keep[on] = finite[on] | ~has_value[b]
    return keep


def thin_markers(x: np.ndarray, kinds: np.ndarray, spacing: float) -> np.ndarray:
    """Mask of the markers to draw: the first of each run of one kind, then one at least
    ``spacing`` (x units) after the last one kept."""
    keep = np.zeros(x.size, dtype=bool)
    last, last_kind = -np.inf, None
    for i, (xv, k) in enumerate(zip(x.tolist(), kinds.tolist(), strict=True)):
        if k != last_kind or xv - last >= spacing:
            keep[i], last, last_kind = True, xv, k
    return keep


def _spans(x: np.ndarray, st: np.ndarray, y: np.ndarray, line_st: np.ndarray | None):
    """x, y of the runs of non-finite points that are consecutive drawn points, with a gap
    (NaN) between runs, so a line joins each run only. A run of one point is left out: it
    draws nothing, yet costs plotly.js a path (a NaN every 20,000 steps: hundreds of them)."""
    if line_st is None:  # (no line to tell runs apart by: one line along them all)
        return x, y
    if x.size < 2:
        return x[:0], y[:0]
    pos = np.searchsorted(line_st, st)
    run = np.r_[0, np.cumsum(np.diff(pos) > 1)]  # the run of each point
    long = np.bincount(run)[run] >= 2
    x, y, run = np.asarray(x, np.float64)[long], y[long], run[long]
    breaks = np.flatnonzero(np.diff(run)) + 1
    return np.insert(x, breaks, np.nan), np.insert(y, breaks, np.nan)


def nonfinite_trace(fig, line, head: str, color, x, st, kinds, line_x=None, line_st=None):
    """Markers for NaN/±Inf points on the hidden [0, 1] overlay axis: top edge +Inf, bottom
    -Inf, just under the top NaN (a line cannot be drawn through them); thinned, with a thin
    line along each run of them (``line_x``, ``line_st``: every drawn point of the line).
    Returns the marker trace's index (a click on it focuses the run)."""
    where = "in a rank's bucket" if line.ranks else ""
    every = np.asarray(x if line_x is None else line_x, np.float64)
    extent = float(np.nanmax(every) - np.nanmin(every)) if every.size else 0.0
    keep = thin_markers(np.asarray(x, np.float64), kinds, extent * MARKER_SPACING)
    y = np.array([NONFINITE_MARKER_Y[k] for k in kinds.tolist()])
    lx, ly = _spans(np.asarray(x), np.asarray(st), y, line_st)
    if keep.sum() < x.size and lx.size:  # a line along runs of non-finite points, under them
        fig.add_trace(
            scatter(x=lx, y=ly, yaxis="y2", mode="lines", hoverinfo="skip", showlegend=False,
                    line=dict(color=color, width=2), opacity=0.6, name=f"{escape(line.name)} span")
        )  # fmt: skip
    fig.add_trace(
        scatter(
            x=x[keep],
            y=y[keep],
            yaxis="y2",
            mode="markers",
            name=f"{escape(line.name)} non-finite",
            showlegend=False,
            marker=dict(
                color=color,
                size=8,
                symbol=np.array([NONFINITE_SYMBOLS[k] for k in kinds[keep].tolist()]),
                line=dict(width=1, color="#222"),
            ),
            customdata=np.column_stack([st[keep], kinds[keep]]),
            hovertemplate=f"{head}<br>step %{{customdata[0]}}<br>"
            f"value %{{customdata[1]}} {where}<extra></extra>",
            meta=[line.run, line.tag],
        )
    )
    return len(fig.data) - 1


def numerics_marker(fig, name: str, color, pts, findings) -> None:
    """A dashed line and a diamond at the run's first check_numerics finding, if it lies in
    the drawn steps; its label's side is chosen later (:func:`place_numerics_labels`)."""
    if not findings or pts["first_step"] is None or not pts["st"].size:
        return
    first = first_finding(findings)
    if not pts["first_step"] <= first["step"] <= pts["last_step"]:
        return  # the finding lies outside this tag's steps: nothing to point at here
    # x of that step (exact on the step axis; interpolated between drawn points on time axes)
    xv = float(np.interp(first["step"], pts["st"], pts["x"]))
    node = str(first["node"])
    short = node if len(node) <= LABEL_CHARS else "…" + node[-(LABEL_CHARS - 1) :]
    fig.add_shape(
        type="line", xref="x", yref="paper", x0=xv, x1=xv, y0=0, y1=1,
        line=dict(color=color, dash="dash", width=1.5),
    )  # fmt: skip
    fig.add_trace(
        scatter(
            x=[xv],
            y=[0.88],
            yaxis="y2",
            mode="markers+text",
            text=[escape(f"first NaN/Inf: {short}")],
            textposition="middle right",
            # a white halo: the label stays readable where it crosses the curves
            textfont=dict(color=color, size=11, shadow=LABEL_HALO),
            marker=dict(symbol="diamond", size=11, color=color, line=dict(color="#222", width=1)),
            showlegend=False,
            customdata=[[NUMERICS, name, int(first["step"]), node]],
            hovertemplate=escape(f"{name}: first non-finite value at step {first['step']}")
            + "<br>"
            + escape(f"node {node} ({first.get('phase', '')}) — click to open in Graph")
            + "<extra></extra>",
            meta=[NUMERICS, name],
        )
    )


def place_numerics_labels(fig, rng=None) -> None:
    """Put each first-NaN label on the side of its diamond with room in the chart's x extent
    (the zoomed range, else every drawn line's), padded off the diamond."""
    markers = [t for t in fig.data if (t.get("meta") or [None])[0] == NUMERICS]
    if not markers:
        return
    if rng is not None:
        lo, hi = rng
    else:
        xs = [trace_values(t.get("x")) for t in fig.data if t.get("yaxis", "y") == "y"]
        xs = [v[np.isfinite(v)] for v in xs if v.size and v.dtype.kind in "fiu"]
        xs = [v for v in xs if v.size]
        if not xs:
            return
        lo, hi = min(float(v.min()) for v in xs), max(float(v.max()) for v in xs)
    for t in markers:
        xv = float(trace_values(t["x"])[0])
        late = xv > (lo + hi) / 2
        text = t["text"][0].strip(PAD)
        t["textposition"] = "middle left" if late else "middle right"
        t["text"] = [text + PAD if late else PAD + text]
