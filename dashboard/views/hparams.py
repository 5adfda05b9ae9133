"""HParams: one row per run with hyper-parameters and final/best metrics; parallel coordinates.

The table is sortable and filterable; ticking rows selects those runs everywhere (it writes
SELECTED_RUNS, and follows it when the runs panel changes the selection). Besides the metrics
given to ``add_hparams``, chosen scalar tags add "final" and "best" columns (best = min for
tags that look like losses or errors, max otherwise), read from the reader's rollups.

Cells keep full precision (sorting and filtering use the real numbers); the table only
*displays* ~4 significant digits, with the exact value in a tooltip. The parallel-coordinates
plot gets numeric axes for numeric columns (log-scaled when positive values span ≥ 2 decades),
categorical axes for text/bool columns, and clearly labelled off-scale places for runs that lack
a value or hold NaN/±Inf.
"""

from __future__ import annotations

import math
from html import escape

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, State, dash_table, dcc, html
from dash.dash_table.Format import Format, Scheme, Trim

from flowlog.dashboard.app import RUNS_INFO, SELECTED_RUNS, TABS
from flowlog.dashboard.controls import image_config

TAB_ID = "hparams"
TAB_LABEL = "HParams"

TABLE = "hp-table"
PARCOORDS = "hp-parcoords"
METRIC_TAGS = "hp-metric-tags"
COLOR_BY = "hp-color-by"
MESSAGE = "hp-message"

RUN_COLORS = "__run__"  # COLOR_BY value: each run's own colour (the default)
LOWER_IS_BETTER = ("loss", "err", "perplexity", "mse", "mae", "nll")

# JSON has no NaN/Inf, so non-finite numbers travel as these texts. Numeric columns keep them
# (the table's number format passes strings through unchanged) and sort them like empty cells.
NAN, POS_INF, NEG_INF = "NaN", "Inf", "-Inf"
NONFINITE = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}
MISSING = "n/a"


def _ascii_minus(fmt: Format) -> dict:
    """A column format whose negatives use "-" instead of d3's default U+2212, so a copied cell
    pastes into Python and reads as typed in the filter row. (d3's locale knows ``minus``;
    dash_table passes the locale through unchanged.)"""
    out = fmt.to_plotly_json()
    out["locale"] = {**out["locale"], "minus": "-"}
    return out


FLOAT_FORMAT = _ascii_minus(Format(precision=4, scheme=Scheme.decimal_or_exponent, trim=Trim.yes))
INT_FORMAT = _ascii_minus(Format(scheme=Scheme.decimal_integer))
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
# Viridis, for "colour lines by <metric>"; runs without that metric are drawn grey.
VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
NA_GREY = "#b8bcc4"
UNSELECTED = "#e3e6ea"  # parcoords lines of runs not selected in the runs panel/table


def lower_is_better(tag: str) -> bool:
    low = tag.lower()
    return any(word in low for word in LOWER_IS_BETTER)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _cell(v):
    """A JSON-safe table cell: bools as text, non-finite floats as NaN/Inf/-Inf."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return NAN if math.isnan(v) else (POS_INF if v > 0 else NEG_INF)
    return v


def _as_float(cell) -> float | None:
    """A numeric cell back as a float (NaN/±Inf from their texts); None when not a number."""
    if _is_number(cell):
        return float(cell)
    if isinstance(cell, str) and cell in NONFINITE:
        return NONFINITE[cell]
    return None


def column_kind(cells: list) -> str | None:
    """``"int"``, ``"float"`` or ``"text"`` for a column's cells (None = missing); None if all
    are missing. Non-finite texts count as floats; a column of only those stays numeric."""
    present = [c for c in cells if c is not None]
    if not present:
        return None
    if all(_as_float(c) is not None for c in present):
        if all(isinstance(c, int) and not isinstance(c, bool) for c in present):
            return "int"
        return "float"
    return "text"


def tag_summary(run, tag: str) -> tuple[float | None, float | None]:
    """``(final value, best value)`` of a scalar tag, or ``(None, None)`` if absent/empty."""
    infos = {t.tag: t for t in run.tags(kind="scalar")}
    info = infos.get(tag)
    if info is None or not info.count:
        return None, None
    last = run.scalars(tag, start=info.last_step, end=info.last_step)
    final = float(last.value[-1]) if last.value.size else None
    b = run.scalars_downsampled(tag, 1)
    if not b.min.size:
        return final, None
    with np.errstate(all="ignore"):  # an all-NaN tag has no best: NaN, shown as such
        best = float(np.nanmin(b.min) if lower_is_better(tag) else np.nanmax(b.max))
    return final, best


def _column_label(col: str) -> str:
    kind, _, name = col.partition(":")
    return f"{kind} {name}" if kind in ("final", "best") else name


def table_rows(ctx, info: list[dict], metric_tags: list[str]):
    """``(rows, columns, hparam keys, metric keys)`` for every run in ``info``."""
    rows, hkeys, mkeys = [], [], []
    for r in info:
        try:
            run = ctx.run(r["name"])
            hp, metrics = run.hparams()
        except KeyError:
            continue
        row = {"id": r["name"], "run": r["name"], "status": r.get("status")}
        for k, v in hp.items():
            col = f"hp:{k}"
            row[col] = _cell(v)
            if col not in hkeys:
                hkeys.append(col)
        for k, v in metrics.items():
            col = f"metric:{k}"
            row[col] = _cell(v)
            if col not in mkeys:
                mkeys.append(col)
        for tag in metric_tags or []:
            final, best = tag_summary(run, tag)
            row[f"final:{tag}"] = _cell(final)
            row[f"best:{tag}"] = _cell(best)
        rows.append(row)
    tagkeys = [f"{kind}:{t}" for t in metric_tags or [] for kind in ("final", "best")]
    columns = [{"name": ["", "run"], "id": "run"}, {"name": ["", "status"], "id": "status"}]
    for col in hkeys + mkeys + tagkeys:
        kind, _, name = col.partition(":")
        # a tag's final and best sit side by side under the tag's name (merged header)
        header = {"hp": ["hparam", name], "metric": ["metric", name]}.get(kind, [name, kind])
        column = {"name": header, "id": col, "type": "text"}
        ckind = column_kind([row.get(col) for row in rows])
        if ckind in ("int", "float"):
            fmt = INT_FORMAT if ckind == "int" else FLOAT_FORMAT
            column.update(type="numeric", format=fmt, sort_as_null=list(NONFINITE))
        columns.append(column)
    return rows, columns, hkeys, mkeys + tagkeys


def tooltips(rows: list[dict], columns: list[dict]) -> list[dict]:
    """Per-row tooltips with the exact value of every float cell the table shows rounded."""
    floats = [c["id"] for c in columns if c.get("format") == FLOAT_FORMAT]
    return [
        {col: repr(row[col]) for col in floats if isinstance(row.get(col), float)} for row in rows
    ]


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


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def numeric_dimension(label: str, cells: list) -> dict:
    """A numeric parcoords axis for ``cells`` (numbers, NaN/Inf texts, None = missing).

    Parcoords has no gaps: a run without a value on one axis would lose its whole line, and
    plotting a placeholder inside the range would lie. So runs lacking the value (and NaN/-Inf)
    sit at their own labelled places *below* the range, +Inf above it, ``gap`` apart, with ticks
    "n/a"/"NaN"/"-Inf"/"Inf" so they cannot be mistaken for data.
    """
    vals = [_as_float(c) if c is not None else None for c in cells]
    finite = np.array([v for v in vals if v is not None and math.isfinite(v)], dtype=np.float64)
    log = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() >= 100)
    pos = np.log10(finite) if log else finite
    if pos.size:
        lo, hi = float(pos.min()), float(pos.max())
    else:
        lo = hi = 0.0
    width = hi - lo if hi > lo else (max(abs(lo) * 0.2, 1.0) if log or lo == 0 else abs(lo) * 0.2)
    gap = 0.15 * width

    distinct = np.unique(finite)
    if distinct.size and distinct.size <= 6:  # hparams usually take a few values: tick each
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


def categorical_dimension(label: str, cells: list) -> dict:
    """A categorical parcoords axis: one tick per value (sorted), "n/a" at the bottom."""
    present = sorted({str(c) for c in cells if c is not None})
    cats = ([MISSING] if any(c is None for c in cells) else []) + present
    code = {c: i for i, c in enumerate(cats)}
    return dict(
        label=escape(label),
        values=[code[MISSING if c is None else str(c)] for c in cells],
        range=[-0.4, max(len(cats) - 1, 0) + 0.4],
        tickvals=list(range(len(cats))),
        ticktext=[escape(_truncate(c, 16)) for c in cats],
    )


def _line(
    rows: list[dict], colors: dict[str, str], color_by: str | None, selected: set | None = None
) -> dict:
    """Parcoords line style: each run in its colour, or a metric's value on Viridis; runs not in
    ``selected`` (None: all are) in a pale grey, whatever the colouring."""
    n = len(rows)
    chosen = [selected is None or row["run"] in selected for row in rows]
    vals = [_as_float(row.get(color_by)) if color_by else None for row in rows]
    finite = [
        v for v, c in zip(vals, chosen, strict=True) if c and v is not None and math.isfinite(v)
    ]
    if not finite:
        scale = [
            [i / max(n - 1, 1), colors.get(row["run"], "#888") if c else UNSELECTED]
            for i, (row, c) in enumerate(zip(rows, chosen, strict=True))
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
            title=dict(text=escape(_truncate(_column_label(color_by), 24)), side="right"),
            thickness=12,
            len=0.9,
            tickformat=".3~g",
        ),
    )


def parcoords_figure(
    rows: list[dict],
    keys: list[str],
    colors: dict[str, str],
    color_by: str | None = None,
    selected: list[str] | None = None,
) -> go.Figure:
    """One line per run across every hparam/metric column that any run has.

    ``rows`` are table rows (see ``table_rows``); ``color_by`` a numeric column to colour the
    lines by (None or RUN_COLORS: each run's colour); ``selected`` the selected runs, drawn in
    colour and on top of the others' pale lines (None: every run).
    """
    chosen = None if selected is None else set(selected)
    if chosen is not None:  # plotly.js draws the lines in order: unselected ones first
        rows = sorted(rows, key=lambda row: row["run"] in chosen)
    fig = go.Figure()
    dims = []
    for col in keys:
        cells = [row.get(col) for row in rows]
        kind = column_kind(cells)
        if kind is None:  # no run has it: an empty axis says nothing
            continue
        label = _truncate(_column_label(col), 22)
        make = categorical_dimension if kind == "text" else numeric_dimension
        dims.append(make(label, cells))
    if color_by == RUN_COLORS or color_by not in keys:
        color_by = None
    if dims and rows:
        many = len(dims) > 6
        fig.add_trace(
            go.Parcoords(
                line=_line(rows, colors, color_by, chosen),
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
        fig.add_annotation(
            text="no hparams logged yet — call writer.add_hparams({...}, {...})",
            showarrow=False,
            xref="paper",
            yref="paper",
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig


def color_options(columns: list[dict]) -> list[dict]:
    """COLOR_BY choices: run colours, then every numeric hparam/metric column."""
    options = [{"label": "run colour", "value": RUN_COLORS}]
    for c in columns:
        if c.get("type") == "numeric":
            options.append({"label": _column_label(c["id"]), "value": c["id"]})
    return options


def empty_message(info: list[dict], hkeys: list[str]):
    """What to say above the table when there is nothing (yet) to compare."""
    if not info:
        return "No runs yet."
    if hkeys:
        return ""
    return html.Div(
        [
            html.Span("No run logged hparams yet. Log them once per run, e.g. at its end: "),
            html.Code('writer.add_hparams({"lr": 0.01, "batch": 64}, {"final_loss": 0.12})'),
            html.Span(
                " — hparams as the first dict, final metrics as the second. Final/best columns "
                "of scalar tags (chosen above) work without them."
            ),
        ]
    )


def layout(ctx):
    return html.Div(
        className="fl-view fl-hparams",
        children=[
            html.Div(
                className="fl-toolbar",
                children=[
                    html.Span("Metric columns from scalar tags", className="fl-control"),
                    dcc.Dropdown(
                        id=METRIC_TAGS,
                        multi=True,
                        placeholder="add final/best of scalar tags…",
                        className="fl-dropdown fl-metric-tags",
                        style={"minWidth": "360px", "width": "auto", "flex": "1 1 360px"},
                    ),
                    html.Span("Colour lines by", className="fl-control"),
                    dcc.Dropdown(
                        id=COLOR_BY,
                        options=[{"label": "run colour", "value": RUN_COLORS}],
                        value=RUN_COLORS,
                        clearable=False,
                        className="fl-dropdown fl-color-by",
                        style={"width": "220px"},
                    ),
                ],
            ),
            html.Div(id=MESSAGE, className="fl-message"),
            html.Div(
                className="fl-table-card",
                children=[
                    html.P(
                        "Tick rows to select runs everywhere; click a header to sort, type in "
                        "the filter row to filter (e.g. >0.01). Numbers show 4 significant "
                        "digits; hover a cell for the exact value.",
                        className="fl-hint",
                    ),
                    dash_table.DataTable(
                        id=TABLE,
                        data=[],
                        columns=[],
                        row_selectable="multi",
                        selected_rows=[],
                        sort_action="native",
                        filter_action="native",
                        merge_duplicate_headers=True,
                        page_action="none",
                        tooltip_delay=300,
                        tooltip_duration=None,
                        style_table={
                            "overflowX": "auto",
                            "maxHeight": "420px",
                            "overflowY": "auto",
                        },
                        style_cell={
                            "fontFamily": FONT,
                            "fontSize": "13px",
                            "padding": "4px 8px",
                            "textAlign": "left",
                        },
                        style_cell_conditional=[
                            # numbers right-aligned in tabular digits so magnitudes line up
                            {
                                "if": {"column_type": "numeric"},
                                "textAlign": "right",
                                "fontVariantNumeric": "tabular-nums",
                            }
                        ],
                        style_header={"fontWeight": "600", "backgroundColor": "#f6f7f9"},
                        style_header_conditional=[
                            {"if": {"header_index": 0}, "textAlign": "center"}  # group names
                        ],
                    ),
                ],
            ),
            html.Div(
                dcc.Graph(id=PARCOORDS, config=image_config("hparams parallel coordinates")),
                className="fl-card",
            ),
        ],
    )


def register(app, ctx):
    @app.callback(
        Output(METRIC_TAGS, "options"),
        Output(METRIC_TAGS, "value"),
        Input(RUNS_INFO, "data"),
        Input(TABS, "value"),
        State(METRIC_TAGS, "value"),
        State(METRIC_TAGS, "options"),
        prevent_initial_call=True,  # hidden while the page loads: filled when the tab opens
    )
    def metric_options(info, tab, value, old_options):
        if tab != TAB_ID:
            return dash.no_update, dash.no_update
        tags = set()
        for r in info or []:
            try:
                tags |= {t.tag for t in ctx.run(r["name"]).tags(kind="scalar")}
            except KeyError:
                continue
        options = [{"label": t, "value": t} for t in sorted(tags)]
        if options == old_options:
            return dash.no_update, dash.no_update
        if value is None:  # first time: the loss-like tags, which people compare most
            plain = [t for t in sorted(tags) if not t.startswith("watch/")]
            value = [t for t in plain if lower_is_better(t)][:2] or plain[:1]
        return options, value

    @app.callback(
        Output(TABLE, "data"),
        Output(TABLE, "columns"),
        Output(TABLE, "selected_rows"),
        Output(TABLE, "style_data_conditional"),
        Output(TABLE, "tooltip_data"),
        Output(COLOR_BY, "options"),
        Output(SELECTED_RUNS, "data", allow_duplicate=True),
        Output(MESSAGE, "children"),
        Input(RUNS_INFO, "data"),
        Input(METRIC_TAGS, "value"),
        Input(SELECTED_RUNS, "data"),
        Input(TABLE, "selected_rows"),
        Input(TABS, "value"),
        State(TABLE, "data"),
        prevent_initial_call=True,  # hidden while the page loads (see metric_options)
    )
    def table(info, metric_tags, selected, row_idx, tab, old_rows):
        nothing = (dash.no_update,) * 8
        if tab != TAB_ID:
            return nothing  # hidden: do the work when the tab is opened
        info = info or []
        # selected_rows are indices into ``data`` (not the sorted/filtered view)
        row_ids = [old_rows[i]["id"] for i in row_idx or [] if old_rows and i < len(old_rows)]
        props = set(dash.ctx.triggered_prop_ids)
        trig = None
        if props == {f"{TABLE}.selected_rows"}:
            trig = TABLE
        elif props == {f"{SELECTED_RUNS}.data"}:
            trig = SELECTED_RUNS
        if trig == TABLE:
            # the user ticked rows: that is the new selection everywhere
            if sorted(row_ids or []) == sorted(selected or []):
                return nothing
            names = [r["name"] for r in info]
            new = [n for n in names if n in set(row_ids or [])]
            return (dash.no_update,) * 6 + (new, dash.no_update)
        if trig == SELECTED_RUNS:
            ids = set(selected or [])
            if ids == set(row_ids):
                return nothing
            idx = [i for i, row in enumerate(old_rows or []) if row["id"] in ids]
            return dash.no_update, dash.no_update, idx, *(dash.no_update,) * 5
        rows, columns, hkeys, _ = table_rows(ctx, info, metric_tags)
        style = [
            {
                "if": {"filter_query": f'{{id}} = "{r["name"]}"', "column_id": "run"},
                "borderLeft": f"4px solid {r['color']}",
            }
            for r in info
            if '"' not in r["name"]
        ]
        chosen = set(selected or [])
        idx = [i for i, row in enumerate(rows) if row["id"] in chosen]
        return (
            rows,
            columns,
            idx,
            style,
            tooltips(rows, columns),
            color_options(columns),
            dash.no_update,
            empty_message(info, hkeys),
        )

    @app.callback(
        Output(PARCOORDS, "figure"),
        Input(TABLE, "data"),
        Input(COLOR_BY, "value"),
        Input(SELECTED_RUNS, "data"),
        Input(TABS, "value"),
        State(TABLE, "columns"),
        State(RUNS_INFO, "data"),
        prevent_initial_call=True,  # drawn once the table is built
    )
    def parcoords(rows, color_by, selected, tab, columns, info):
        if not columns or tab != TAB_ID:  # table not built yet, or hidden: drawn when opened
            return dash.no_update
        keys = [c["id"] for c in columns if c["id"] not in ("run", "status")]
        colors = {r["name"]: r["color"] for r in info or []}
        return parcoords_figure(rows or [], keys, colors, color_by, selected or [])
