"""HParams: one row per trial (``add_hparams`` call) with its hyper-parameters and metrics,
final/best of scalar tags; parallel coordinates with a line per trial.

A sweep loop in one script (``add_hparams`` once per trial) gives one row per call; a run with
one call one row. The grid (dash-ag-grid) sorts and filters; ticking a trial's row selects its
run everywhere (it writes SELECTED_RUNS, and follows it when the runs panel changes the
selection: a selected run's trials are all ticked). Besides the metrics given to
``add_hparams``, chosen scalar tags add "final" and "best" columns (per run: filled for runs
of at most one trial).

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
from flowlog.dashboard import tab_gate, untrusted
from flowlog.dashboard.controls import image_config
from flowlog.dashboard.hparams_data import Table, default_metric_tags, scalar_tags, tag_label
from flowlog.dashboard.hparams_figures import (
    RUN_COLORS,
    color_options,
    initial_color_by,
    no_match_figure,
    parcoords_figure,
)
from flowlog.dashboard.ids import RUNS_INFO, SELECTED_RUNS, TABS

TAB_ID = "hparams"
TAB_LABEL = "HParams"

TABLE = "hp-table"
# dcc.Store: {"runs": {row id: run}, "domains": {column: declared values}} of the grid's rows,
# for the selection sync and the axes
GRID_META = "hp-grid-meta"
PARCOORDS = "hp-parcoords"
METRIC_TAGS = "hp-metric-tags"
COLOR_BY = "hp-color-by"
MESSAGE = "hp-message"
TABLE_CARD = "hp-table-card"  # hidden, with the parcoords card, while there is no row at all
PARCOORDS_CARD = "hp-parcoords-card"
HIDDEN = {"display": "none"}

HINT = (
    "One row per add_hparams call (trial). Tick a row to select its run everywhere. "
    "Click a header to sort (shift-click: by several); "
    "type in the filter row to filter — the funnel beside a box picks the test (=, <, ≥, "
    "between, blank…). Numbers show 4 significant digits; hover a cell for the exact value."
)
NO = dash.no_update


def empty_message(info: list[dict], table: Table):
    """What to say above the grid: no runs, no hparams logged (and how to), unreadable runs."""
    parts = []
    if not info:
        return html.Div(
            [
                html.Span("No runs yet. Each trial a run logs with "),
                html.Code('writer.add_hparams({"lr": 0.01, "batch": 64}, {"final_loss": 0.12})'),
                html.Span(" becomes a row here, to sort, filter and compare."),
            ]
        )
    if not table.hkeys:
        parts += [
            html.Span(
                "No run logged hparams yet. Log them once per trial (each call adds a row; a "
                "sweep loop calls it once per configuration), e.g. at a trial's end: "
            ),
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
                id=TABLE_CARD,
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
                    dcc.Store(id=GRID_META, data={}),
                ],
            ),
            html.Div(
                dcc.Graph(id=PARCOORDS, config=image_config("hparams parallel coordinates")),
                id=PARCOORDS_CARD,
                className="fl-card",
            ),
        ],
    )


def register(app, ctx):
    tab_gate.register(app, ctx, TAB_ID)

    @app.callback(
        Output(METRIC_TAGS, "options"),
        Output(METRIC_TAGS, "value"),
        Input(tab_gate.runs_info(TAB_ID), "data"),
        Input(TABS, "value"),
        State(METRIC_TAGS, "value"),
        State(METRIC_TAGS, "options"),
        prevent_initial_call=True,  # hidden while the page loads: filled when the tab opens
    )
    def metric_options(info, tab, value, old_options):
        if tab != TAB_ID:
            return NO, NO
        tags = scalar_tags(ctx.data, untrusted.runs_info(info))
        options = [{"label": tag_label(t), "value": t} for t in tags]
        if options == old_options:
            return NO, NO
        return options, default_metric_tags(tags) if value is None else value

    @app.callback(
        Output(TABLE, "rowData"),
        Output(TABLE, "columnDefs"),
        Output(TABLE, "selectedRows"),
        Output(TABLE, "style"),
        Output(GRID_META, "data"),
        Output(COLOR_BY, "options"),
        Output(COLOR_BY, "value"),
        Output(MESSAGE, "children"),
        Output(TABLE_CARD, "style"),
        Output(PARCOORDS_CARD, "style"),
        Input(tab_gate.runs_info(TAB_ID), "data"),
        Input(METRIC_TAGS, "value"),
        Input(TABS, "value"),
        State(SELECTED_RUNS, "data"),
        State(TABLE, "selectedRows"),
        State(COLOR_BY, "value"),
        State(COLOR_BY, "options"),
        prevent_initial_call=True,  # hidden while the page loads (see metric_options)
    )
    def table(info, metric_tags, tab, selected, current, color_by, old_colors):
        if tab != TAB_ID:
            return (NO,) * 10  # hidden: do the work when the tab is opened
        # every value below comes from the browser: only names, dicts and lists go on
        info, metric_tags = untrusted.runs_info(info), untrusted.names(metric_tags)
        color_by = color_by if isinstance(color_by, str) else None
        old_colors = old_colors if isinstance(old_colors, list) else None
        g = grid.build_grid(ctx.data, info, metric_tags, untrusted.names(selected), current)
        selection = NO if g.selection is None else g.selection
        message = empty_message(info, g.table)
        meta = {"runs": g.row_runs, "domains": g.table.domains}
        colors = color_options(g.kinds)
        color = initial_color_by(g.table, g.kinds, color_by, old_colors)
        color = NO if color is None else color
        card = {} if g.rows else HIDDEN  # no row: the message says what to log, no header row
        return g.rows, g.columns, selection, g.style, meta, colors, color, message, card, card

    @app.callback(
        Output(TABLE, "selectedRows", allow_duplicate=True),
        Output(SELECTED_RUNS, "data", allow_duplicate=True),
        Input(TABLE, "selectedRows"),
        Input(SELECTED_RUNS, "data"),
        State(RUNS_INFO, "data"),
        State(GRID_META, "data"),
        State(TABS, "value"),  # not an Input: opening the tab rebuilds the grid (table)
        prevent_initial_call=True,
    )
    def selection(grid_rows, selected, info, meta, tab):
        if tab != TAB_ID:
            return NO, NO
        trigger = "grid" if dash.ctx.triggered_id == TABLE else "runs"
        row_runs = grid.row_runs_of(meta)
        info, selected = untrusted.runs_info(info), untrusted.names(selected)
        to_grid, to_runs = grid.sync_selection(trigger, grid_rows, selected, info, row_runs)
        return (NO if to_grid is None else to_grid), (NO if to_runs is None else to_runs)

    @app.callback(
        Output(PARCOORDS, "figure"),
        Input(TABLE, "rowData"),
        Input(TABLE, "virtualRowData"),  # the rows the grid's filters let through
        Input(COLOR_BY, "value"),
        Input(SELECTED_RUNS, "data"),
        State(TABS, "value"),  # not an Input: opening the tab rebuilds the grid (rowData)
        State(TABLE, "columnDefs"),
        State(GRID_META, "data"),  # written with rowData, so current when it changes
        prevent_initial_call=True,  # drawn once the grid is built
    )
    def parcoords(all_rows, shown_rows, color_by, selected, tab, defs, meta):
        if not defs or tab != TAB_ID:  # grid not built yet, or hidden: drawn when opened
            return NO
        rows = grid.filtered_rows(all_rows, shown_rows)
        colors = {r["run"]: r["color"] for r in rows if isinstance(r.get("color"), str)}
        domains = grid.domains_of(meta)
        keys = grid.data_columns(defs)
        color_by = color_by if isinstance(color_by, str) else RUN_COLORS
        if not rows and grid.rows_of(all_rows):
            return no_match_figure()
        return parcoords_figure(rows, keys, colors, color_by, untrusted.names(selected), domains)
