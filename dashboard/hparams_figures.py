"""HParams parallel coordinates: one line per trial across every hparam/metric column.

Numeric columns get numeric axes (log-scaled when positive values span >= 2 decades), text and
bool columns categorical axes, and trials that lack a value or hold NaN/±Inf clearly labelled
off-scale places. An hparam's declared domain (``hparam_domain_discrete``) orders a
categorical axis as declared and puts values never tried on it (a numeric axis spans and ticks
them). Lines follow the selection: trials of selected runs in their run's colour (or a
metric's value on Viridis), the others pale and drawn under them. Input rows are hparams_data
rows.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import plotly.graph_objects as go

from flowlog.dashboard.colors import HEX, shade
from flowlog.dashboard.hparams_data import (
    MISSING,
    NAN,
    NEG_INF,
    POS_INF,
    as_float,
    column_kind,
    column_label,
    lower_is_better,
    numeric_kind,
)

RUN_COLORS = "__run__"  # COLOR_BY value: each run's own colour (the default)
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
# Viridis, for "colour lines by <metric>"; runs without that metric are drawn grey.
VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
NA_GREY = "#b8bcc4"
UNSELECTED = "#e3e6ea"  # parcoords lines of runs not selected in the runs panel/grid
MIN_TICK_GAP = 0.06  # of an axis's data range: closer per-value ticks would overlap


def fmt3(v: float) -> str:
    """A tick label: 3 significant digits, no trailing zeros, no '+' in exponents."""
    text = f"{v:.3g}"
    return text.replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def _nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """About ``target`` round values (1/2/2.5/5 x 10^k steps) inside ``[lo, hi]``."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + step * 1e-9:
        ticks.append(round(k * step / mag) * mag)  # exact multiples: no 0.30000000000000004
        k += 1
    return ticks


def _log_end_ticks(decades: list[int], lo: float, hi: float) -> list[float]:
    """Decade ticks (log10 places) plus 2x and 5x ticks where the data runs on more than
    0.3 decade past the outermost decade: a third of an axis without a label reads as
    "somewhere below 0.001" when the lines there reach 1e-4."""
    out = [float(d) for d in decades]
    if decades[0] - lo > 0.3:
        out = [d - 1 + math.log10(m) for d in decades[:1] for m in (2, 5)] + out
    if hi - decades[-1] > 0.3:
        out += [decades[-1] + math.log10(m) for m in (2, 5)]
    return [d for d in out if lo - 1e-9 <= d <= hi + 1e-9]


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def numeric_dimension(label: str, cells: list, domain=()) -> dict:
    """A numeric parcoords axis for ``cells`` (numbers, NaN/Inf texts, None = missing);
    ``domain``: declared values, which the axis spans and ticks even when no trial tried them.

    Parcoords has no gaps: a run without a value on one axis would lose its whole line, and
    plotting a placeholder inside the range would lie. So runs lacking the value (and NaN/-Inf)
    sit at their own labelled places *below* the range, +Inf above it, ``gap`` apart, with ticks
    "n/a"/"NaN"/"-Inf"/"Inf" so they cannot be mistaken for data.
    """
    vals = [as_float(c) if c is not None else None for c in cells]
    declared = [v for v in (as_float(d) for d in domain or ()) if v is not None]
    finite = np.array(
        [v for v in vals + declared if v is not None and math.isfinite(v)], dtype=np.float64
    )
    log = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() >= 100)
    pos = np.log10(finite) if log else finite
    if pos.size:
        lo, hi = float(pos.min()), float(pos.max())
    else:
        lo = hi = 0.0
    width = hi - lo if hi > lo else (max(abs(lo) * 0.2, 1.0) if log or lo == 0 else abs(lo) * 0.2)
    gap = 0.15 * width

    distinct = np.unique(finite)
    places_of = np.log10(distinct) if log else distinct
    # hparams usually take a few values: tick each, unless two would print over each other
    apart = distinct.size < 2 or np.diff(places_of).min() >= MIN_TICK_GAP * (hi - lo)
    most = min(max(6, len(declared)), 10)  # a declared domain: tick each value it names
    if distinct.size and distinct.size <= most and apart:
        tickvals = [float(np.log10(v)) if log else float(v) for v in distinct]
        ticktext = [fmt3(v) for v in distinct]
    elif log:
        decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
        if len(decades) < 3:
            decades = [
                d + math.log10(m)
                for d in range(math.floor(lo), math.ceil(hi) + 1)
                for m in (1, 2, 5)
            ]
            decades = [d for d in decades if lo - 1e-9 <= d <= hi + 1e-9]
        else:
            decades = _log_end_ticks(decades, lo, hi)
        tickvals = [float(d) for d in decades]
        ticktext = [fmt3(10**d) for d in decades]
    elif pos.size:
        tickvals = _nice_ticks(lo, hi)
        ticktext = [fmt3(t) for t in tickvals]
    else:
        tickvals, ticktext = [], []

    below = [
        (name, test)
        for name, test in (
            (NEG_INF, lambda v: v == -math.inf),
            (NAN, lambda v: v is not None and math.isnan(v)),
            (MISSING, lambda v: v is None),
        )
        if any(test(v) for v in vals)
    ]
    places = {name: lo - gap * (i + 1) for i, (name, _) in enumerate(below)}
    if any(v == math.inf for v in vals):
        places[POS_INF] = hi + gap
    for name, y in places.items():
        tickvals.append(y)
        ticktext.append(name)

    out = []
    for v in vals:
        if v is None:
            out.append(places[MISSING])
        elif math.isnan(v):
            out.append(places[NAN])
        elif math.isinf(v):
            out.append(places[POS_INF if v > 0 else NEG_INF])
        else:
            out.append(math.log10(v) if log else v)
    bottom = min([lo, *places.values()])
    top = max([hi, *places.values()])
    if not pos.size:  # nothing but n/a and NaN: they sit at the bottom end, not mid-axis
        top = lo + width
    if top == bottom or (hi == lo and not places):  # one value: centre it
        bottom, top = lo - width / 2, hi + width / 2
    pad = 0.02 * (top - bottom)
    return dict(
        label=escape(label + (" (log)" if log else "")),
        values=out,
        range=[bottom - pad, top + pad],
        tickvals=tickvals,
        ticktext=[escape(t) for t in ticktext],
    )


def categorical_dimension(label: str, cells: list, domain=()) -> dict:
    """A categorical parcoords axis: one tick per value, "n/a" at the bottom. With a declared
    ``domain``: its values in the declared order (also those no trial tried), then any tried
    value it lacks; else the values sorted."""
    declared = list(dict.fromkeys(str(d) for d in domain or ()))
    present = declared + sorted({str(c) for c in cells if c is not None} - set(declared))
    cats = ([MISSING] if any(c is None for c in cells) else []) + present
    code = {c: i for i, c in enumerate(cats)}
    return dict(
        label=escape(label),
        values=[code[MISSING if c is None else str(c)] for c in cells],
        range=[-0.4, max(len(cats) - 1, 0) + 0.4],
        tickvals=list(range(len(cats))),
        ticktext=[escape(_truncate(c, 16)) for c in cats],
    )


def is_sparse(row: dict, keys: list[str]) -> bool:
    """A trial with no value (or NaN) on most of the axes: its line runs along the n/a ends
    and says little, so it is drawn faint and under the others."""
    cells = [row.get(k) for k in keys]
    gaps = sum(
        1 for c in cells if c is None or (as_float(c) is not None and math.isnan(as_float(c)))
    )
    return gaps >= 2 and gaps * 2 > len(keys)


def _line(
    rows: list[dict],
    colors: dict[str, str],
    color_by: str | None,
    selected: set | None = None,
    faint: list[bool] | None = None,
) -> dict:
    """Parcoords line style: each run in its colour (a faint shade of it for ``faint`` rows),
    or a metric's value on Viridis; runs not in ``selected`` (None: all are) in a pale grey,
    whatever the colouring."""
    n = len(rows)
    faint = faint or [False] * n
    chosen = [selected is None or row["run"] in selected for row in rows]
    vals = [as_float(row.get(color_by)) if color_by else None for row in rows]
    finite = [
        v for v, c in zip(vals, chosen, strict=True) if c and v is not None and math.isfinite(v)
    ]
    if not finite:
        scale = [
            [i / max(n - 1, 1), _run_shade(colors.get(row["run"], "#888"), f) if c else UNSELECTED]
            for i, (row, c, f) in enumerate(zip(rows, chosen, faint, strict=True))
        ]
        if n == 1:
            scale = [[0, scale[0][1]], [1, scale[0][1]]]
        return dict(color=list(range(n)), colorscale=scale, cmin=0, cmax=max(n - 1, 1))
    lo, hi = min(finite), max(finite)
    span = hi - lo or max(abs(lo), 1.0)
    # Under the metric's range, two narrow bands: grey for runs without a finite value and
    # under it pale for runs not selected; each run's value sits in the middle of its band.
    eps = span / 200
    cmin = lo - 2 * eps
    off, na = cmin + eps / 2, cmin + 1.5 * eps
    stops = VIRIDIS[::-1] if lower_is_better(color_by) else VIRIDIS  # better = brighter
    total = span + 2 * eps
    f_off, f_na = eps / total, 2 * eps / total
    scale = [[0, UNSELECTED], [f_off, UNSELECTED], [f_off, NA_GREY], [f_na, NA_GREY]]
    scale += [[f_na + (1 - f_na) * i / (len(stops) - 1), c] for i, c in enumerate(stops)]

    def code(v, c):
        if not c:
            return off
        return v if v is not None and math.isfinite(v) else na

    return dict(
        color=[code(v, c) for v, c in zip(vals, chosen, strict=True)],
        colorscale=scale,
        cmin=cmin,
        cmax=lo + span,
        showscale=True,
        colorbar=dict(
            title=dict(text=escape(_truncate(column_label(color_by), 24)), side="right"),
            thickness=12,
            len=0.9,
            tickformat=".3~g",
        ),
    )


def _run_shade(color: str, faint: bool) -> str:
    return shade(color, 0.7) if faint and HEX.fullmatch(color) else color


def parcoords_figure(
    rows: list[dict],
    keys: list[str],
    colors: dict[str, str],
    color_by: str | None = None,
    selected: list[str] | None = None,
    domains: dict[str, list] | None = None,
) -> go.Figure:
    """One line per trial (row) across every hparam/metric column that any row has.

    ``rows`` are hparams_data rows (see ``table``); ``color_by`` a numeric column to colour the
    lines by (None or RUN_COLORS: each run's colour); ``selected`` the selected runs, whose
    trials are drawn in colour and on top of the others' pale lines (None: every run);
    ``domains``: ``{column: declared values}`` (Table.domains).
    """
    chosen = None if selected is None else set(selected)
    drawn = [k for k in keys if column_kind([row.get(k) for row in rows]) is not None]
    # plotly.js draws the lines in order: unselected ones first, then the faint (sparse) ones
    rows = sorted(
        rows, key=lambda row: (chosen is None or row["run"] in chosen, not is_sparse(row, drawn))
    )
    faint = [is_sparse(row, drawn) for row in rows]
    fig = go.Figure()
    dims = []
    for col in drawn:
        cells = [row.get(col) for row in rows]
        kind = column_kind(cells)
        label = _truncate(column_label(col), 22)
        make = categorical_dimension if kind == "text" else numeric_dimension
        dims.append(make(label, cells, (domains or {}).get(col, ())))
    if color_by == RUN_COLORS or color_by not in keys:
        color_by = None
    if dims and rows:
        many = len(dims) > 6
        fig.add_trace(
            go.Parcoords(
                line=_line(rows, colors, color_by, chosen, faint),
                dimensions=dims,
                labelangle=-18 if many else 0,
                labelside="top",
                labelfont=dict(size=12),
                tickfont=dict(size=11),
                rangefont=dict(size=1, color="rgba(0,0,0,0)"),  # the ticks already say it
            )
        )
    fig.update_layout(
        template="plotly_white",
        height=400,
        margin=dict(l=70, r=110 if color_by else 70, t=90 if dims and len(dims) > 6 else 60, b=30),
        font=dict(family=FONT, size=12),
    )
    if not fig.data:
        _message(fig, "no hparams logged yet — call writer.add_hparams({...}, {...})")
    return fig


def no_match_figure() -> go.Figure:
    """Parcoords when the table's filters let no trial through: say so instead of blank axes."""
    fig = go.Figure()
    fig.update_layout(template="plotly_white", height=400, font=dict(family=FONT, size=13))
    return _message(fig, "No trial matches the table's filters — clear a box in its filter row.")


def _message(fig: go.Figure, text: str) -> go.Figure:
    """``text`` in the middle of ``fig`` instead of empty axes."""
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def color_options(kinds: dict[str, str | None]) -> list[dict]:
    """COLOR_BY choices: run colours, then every numeric hparam/metric/tag column."""
    options = [{"label": "run colour", "value": RUN_COLORS}]
    options += [
        {"label": column_label(col), "value": col} for col, k in kinds.items() if numeric_kind(k)
    ]
    return options


def initial_color_by(table, kinds: dict[str, str | None], value, old_options) -> str | None:
    """The COLOR_BY value to set as the grid is built, or None to leave the user's choice.

    Run colours tell runs apart, not the trials of one run: when some run has several trials
    (a sweep logged from one script) and the colour was never chosen (it is run colour and
    the menu offered nothing else yet), colour by the first numeric add_hparams metric, as
    TensorBoard colours by the first metric."""
    if value not in (None, RUN_COLORS) or (old_options and len(old_options) > 1):
        return None
    if not any(row.get("trials", 0) > 1 for row in table.rows):
        return None
    return next((col for col in table.mkeys if numeric_kind(kinds.get(col))), None)
