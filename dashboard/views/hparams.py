"""HParams: one row per run with hyper-parameters and final/best metrics; parallel coordinates.

The grid (dash-ag-grid) sorts and filters; ticking rows selects those runs everywhere (it
writes SELECTED_RUNS, and follows it when the runs panel changes the selection). Besides the
metrics given to ``add_hparams``, chosen scalar tags add "final" and "best" columns.

This module is layout and callback wiring only: rows and cells come from
:mod:`flowlog.dashboard.hparams_data`, the grid's props from
:mod:`flowlog.dashboard.hparams_grid`, the figure from :mod:`flowlog.dashboard.hparams_figures`.
Every callback waits for the tab to be opened (``prevent_initial_call`` and TABS), so the
hidden view costs nothing while a page loads.
"""

from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html

from flowlog.dashboard import hparams_grid as grid
from flowlog.dashboard.controls import image_config
from flowlog.dashboard.hparams_data import Table, default_metric_tags, scalar_tags
from flowlog.dashboard.hparams_figures import RUN_COLORS, color_options, parcoords_figure
from flowlog.dashboard.ids import RUNS_INFO, SELECTED_RUNS, TABS

TAB_ID = "hparams"
TAB_LABEL = "HParams"

TABLE = "hp-table"
GRID_IDS = "hp-grid-ids"  # dcc.Store: the grid's row ids (run names), for the selection sync
PARCOORDS = "hp-parcoords"
METRIC_TAGS = "hp-metric-tags"
COLOR_BY = "hp-color-by"
MESSAGE = "hp-message"

HINT = (
    "Tick rows to select runs everywhere. Click a header to sort (shift-click: by several); "
    "type in the filter row to filter — the funnel beside a box picks the test (=, <, ≥, "
    "between, blank…). Numbers show 4 significant digits; hover a cell for the exact value."
)
NO = dash.no_update


def empty_message(info: list[dict], table: Table):
    """What to say above the grid: no runs, no hparams logged (and how to), unreadable runs."""
    if not info:
        return "No runs yet."
    parts = []
    if not table.hkeys:
        parts += [
            html.Span("No run logged hparams yet. Log them once per run, e.g. at its end: "),
            html.Code('writer.add_hparams({"lr": 0.01, "batch": 64}, {"final_loss": 0.12})'),
            html.Span(
                " — hparams as the first dict, final metrics as the second. Final/best columns "
                "of scalar tags (chosen above) work without them."
            ),
        ]
    if table.skipped:
        parts.append(html.Div("Could not read: " + "; ".join(table.skipped)))
    return html.Div(parts) if parts else ""


def toolbar():
    return html.Div(
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
    )


def layout(ctx):
    return html.Div(
        className="fl-view fl-hparams",
        children=[
            toolbar(),
            html.Div(id=MESSAGE, className="fl-message"),
            html.Div(
                className="fl-table-card",
                children=[
                    html.P(HINT, className="fl-hint"),
                    dag.AgGrid(
                        id=TABLE,
                        className="fl-hp-grid",
                        rowData=[],
                        columnDefs=[],
                        selectedRows=[],
                        getRowId="params.data.id",
                        defaultColDef=grid.DEFAULT_COL_DEF,
                        dashGridOptions=grid.GRID_OPTIONS,
                        style=grid.grid_style(0),
                    ),
                    dcc.Store(id=GRID_IDS, data=[]),
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
            return NO, NO
        tags = scalar_tags(ctx.data, info or [])
        options = [{"label": t, "value": t} for t in tags]
        if options == old_options:
            return NO, NO
        return options, default_metric_tags(tags) if value is None else value

    @app.callback(
        Output(TABLE, "rowData"),
        Output(TABLE, "columnDefs"),
        Output(TABLE, "selectedRows"),
        Output(TABLE, "style"),
        Output(GRID_IDS, "data"),
        Output(COLOR_BY, "options"),
        Output(MESSAGE, "children"),
        Input(RUNS_INFO, "data"),
        Input(METRIC_TAGS, "value"),
        Input(TABS, "value"),
        State(SELECTED_RUNS, "data"),
        State(TABLE, "selectedRows"),
        prevent_initial_call=True,  # hidden while the page loads (see metric_options)
    )
    def table(info, metric_tags, tab, selected, current):
        if tab != TAB_ID:
            return (NO,) * 7  # hidden: do the work when the tab is opened
        g = grid.build_grid(ctx.data, info or [], metric_tags, selected, current)
        selection = NO if g.selection is None else g.selection
        message = empty_message(info or [], g.table)
        return g.rows, g.columns, selection, g.style, g.ids, color_options(g.kinds), message

    @app.callback(
        Output(TABLE, "selectedRows", allow_duplicate=True),
        Output(SELECTED_RUNS, "data", allow_duplicate=True),
        Input(TABLE, "selectedRows"),
        Input(SELECTED_RUNS, "data"),
        State(RUNS_INFO, "data"),
        State(GRID_IDS, "data"),
        State(TABS, "value"),  # not an Input: opening the tab rebuilds the grid (table)
        prevent_initial_call=True,
    )
    def selection(grid_rows, selected, info, ids, tab):
        if tab != TAB_ID:
            return NO, NO
        trigger = "grid" if dash.ctx.triggered_id == TABLE else "runs"
        to_grid, to_runs = grid.sync_selection(trigger, grid_rows, selected, info or [], ids or [])
        return (NO if to_grid is None else to_grid), (NO if to_runs is None else to_runs)

    @app.callback(
        Output(PARCOORDS, "figure"),
        Input(TABLE, "rowData"),
        Input(COLOR_BY, "value"),
        Input(SELECTED_RUNS, "data"),
        State(TABS, "value"),  # not an Input: opening the tab rebuilds the grid (rowData)
        State(TABLE, "columnDefs"),
        prevent_initial_call=True,  # drawn once the grid is built
    )
    def parcoords(rows, color_by, selected, tab, defs):
        if not defs or tab != TAB_ID:  # grid not built yet, or hidden: drawn when opened
            return NO
        rows = rows or []
        colors = {r["run"]: r["color"] for r in rows if r.get("color")}
        return parcoords_figure(rows, grid.data_columns(defs), colors, color_by, selected or [])
