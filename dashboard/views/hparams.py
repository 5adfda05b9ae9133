"""HParams: one row per run with hyper-parameters and final/best metrics; parallel coordinates.

The table is sortable and filterable; ticking rows selects those runs everywhere (it writes
SELECTED_RUNS, and follows it when the runs panel changes the selection). Besides the metrics
given to ``add_hparams``, chosen scalar tags add "final" and "best" columns (best = min for
tags that look like losses or errors, max otherwise), read from the reader's rollups.
"""

from __future__ import annotations

import math
from html import escape

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, State, dash_table, dcc, html

from flowlog.dashboard.app import RUNS_INFO, SELECTED_RUNS, TABS

TAB_ID = "hparams"
TAB_LABEL = "HParams"

TABLE = "hp-table"
PARCOORDS = "hp-parcoords"
METRIC_TAGS = "hp-metric-tags"
MESSAGE = "hp-message"

LOWER_IS_BETTER = ("loss", "err", "perplexity", "mse", "mae", "nll")


def lower_is_better(tag: str) -> bool:
    low = tag.lower()
    return any(word in low for word in LOWER_IS_BETTER)


def _num(v):
    """A JSON-safe cell value: non-finite floats become their text so sorting still works."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


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
    best = float(np.nanmin(b.min) if lower_is_better(tag) else np.nanmax(b.max))
    return final, best


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
            row[col] = _num(v) if not isinstance(v, bool) else str(v)
            if col not in hkeys:
                hkeys.append(col)
        for k, v in metrics.items():
            col = f"metric:{k}"
            row[col] = _num(v)
            if col not in mkeys:
                mkeys.append(col)
        for tag in metric_tags or []:
            final, best = tag_summary(run, tag)
            row[f"final:{tag}"] = _num(final)
            row[f"best:{tag}"] = _num(best)
        rows.append(row)
    tagkeys = [f"{kind}:{t}" for t in metric_tags or [] for kind in ("final", "best")]
    columns = [{"name": ["", "run"], "id": "run"}, {"name": ["", "status"], "id": "status"}]
    for col in hkeys + mkeys + tagkeys:
        kind, _, name = col.partition(":")
        group = {"hp": "hparam", "metric": "metric", "final": "final", "best": "best"}[kind]
        numeric = all(isinstance(row.get(col), int | float) or row.get(col) is None for row in rows)
        columns.append({"name": [group, name], "id": col, "type": "numeric" if numeric else "text"})
    return rows, columns, hkeys, mkeys + tagkeys


def parcoords_figure(rows: list[dict], keys: list[str], colors: dict[str, str]) -> go.Figure:
    """One line per run in its colour across every hparam/metric axis (text axes get codes)."""
    fig = go.Figure()
    dims = []
    for col in keys:
        values = [row.get(col) for row in rows]
        label = escape(col.split(":", 1)[1] if ":" in col else col)
        if col.startswith(("final:", "best:")):
            label = escape(col.replace(":", " ", 1))
        nums = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(nums) == len(values) and values:
            arr = np.array(values, dtype=np.float64)
            dims.append(dict(label=label, values=arr))
        else:
            cats = sorted({str(v) for v in values})
            code = {c: i for i, c in enumerate(cats)}
            dims.append(
                dict(
                    label=label,
                    values=[code[str(v)] for v in values],
                    tickvals=list(range(len(cats))),
                    ticktext=[escape(c) for c in cats],
                )
            )
    if dims and rows:
        n = len(rows)
        scale = [[i / max(n - 1, 1), colors.get(row["run"], "#888")] for i, row in enumerate(rows)]
        if n == 1:
            scale = [[0, scale[0][1]], [1, scale[0][1]]]
        fig.add_trace(
            go.Parcoords(
                line=dict(color=list(range(n)), colorscale=scale, cmin=0, cmax=max(n - 1, 1)),
                dimensions=dims,
            )
        )
    fig.update_layout(
        template="plotly_white",
        height=360,
        margin=dict(l=60, r=60, t=50, b=30),
        font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12),
    )
    if not fig.data:
        fig.add_annotation(
            text="no hparams logged yet — call writer.add_hparams(...)",
            showarrow=False,
            xref="paper",
            yref="paper",
        )
    return fig


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
                        style={"minWidth": "360px"},
                    ),
                ],
            ),
            html.Div(id=MESSAGE, className="fl-message"),
            html.Div(
                className="fl-table-card",
                children=[
                    html.P(
                        "Tick rows to select runs everywhere; click a header to sort, type in "
                        "the filter row to filter (e.g. >0.01).",
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
                        style_table={
                            "overflowX": "auto",
                            "maxHeight": "420px",
                            "overflowY": "auto",
                        },
                        style_cell={
                            "fontFamily": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
                            "fontSize": "13px",
                            "padding": "4px 8px",
                            "textAlign": "left",
                        },
                        style_header={"fontWeight": "600", "backgroundColor": "#f6f7f9"},
                    ),
                ],
            ),
            html.Div(dcc.Graph(id=PARCOORDS, config={"displaylogo": False}), className="fl-card"),
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
        Output(PARCOORDS, "figure"),
        Output(SELECTED_RUNS, "data", allow_duplicate=True),
        Output(MESSAGE, "children"),
        Input(RUNS_INFO, "data"),
        Input(METRIC_TAGS, "value"),
        Input(SELECTED_RUNS, "data"),
        Input(TABLE, "selected_rows"),
        Input(TABS, "value"),
        State(TABLE, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def table(info, metric_tags, selected, row_idx, tab, old_rows):
        if tab != TAB_ID:
            return (dash.no_update,) * 7  # hidden: do the work when the tab is opened
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
                return (dash.no_update,) * 7
            names = [r["name"] for r in info]
            new = [n for n in names if n in set(row_ids or [])]
            return (dash.no_update,) * 5 + (new, dash.no_update)
        if trig == SELECTED_RUNS:
            ids = set(selected or [])
            if ids == set(row_ids):
                return (dash.no_update,) * 7
            idx = [i for i, row in enumerate(old_rows or []) if row["id"] in ids]
            return dash.no_update, dash.no_update, idx, *(dash.no_update,) * 4
        rows, columns, hkeys, mkeys = table_rows(ctx, info, metric_tags)
        colors = {r["name"]: r["color"] for r in info}
        style = [
            {
                "if": {"filter_query": f'{{id}} = "{name}"', "column_id": "run"},
                "borderLeft": f"4px solid {color}",
            }
            for name, color in colors.items()
            if '"' not in name
        ]
        message = "" if info else "No runs yet."
        if info and not hkeys:
            message = "No run logged hparams yet — call writer.add_hparams(hparams, metrics)."
        fig = parcoords_figure(rows, hkeys + mkeys, colors)
        chosen = set(selected or [])
        idx = [i for i, row in enumerate(rows) if row["id"] in chosen]
        return rows, columns, idx, style, fig, dash.no_update, message
