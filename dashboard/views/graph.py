"""Graph view: the run's graph (server-rendered SVG) linked to the curves.

Click a node to see its structure and logged history; colour nodes by a watch statistic at a
step; find where the first NaN/Inf started; see gradient flow across trainable variables.

This module is the layout and the callback wiring only: each callback hands its inputs to a
plain function of :mod:`flowlog.dashboard.graph_model` (what to show) or
:mod:`flowlog.dashboard.graph_panel` (the side panel), which are tested without a browser.
The SVG comes from :mod:`flowlog.render` (which escapes every name) and is inserted by the
clientside function ``flowlogGraph.show`` in ``assets/graph.js``, which parses it as XML and
strips anything executable before adopting it — names from a training script never run.
Run names arriving from the browser are only looked up through ``ctx.data``, never joined onto
a path, so no request can point the server at another file.
"""

from __future__ import annotations

import functools

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html

from flowlog.dashboard import graph_data as gd
from flowlog.dashboard import graph_figures as gf
from flowlog.dashboard import graph_legend as gl
from flowlog.dashboard import graph_model as gm
from flowlog.dashboard import graph_panel as gp
from flowlog.dashboard import tab_gate
from flowlog.dashboard.controls import image_config
from flowlog.dashboard.ids import FOCUS, SELECTED_RUNS, TABS

TAB_ID = "graph"
TAB_LABEL = "Graph"

# component ids (all prefixed so they cannot clash with other views)
RUN = "graph-run"
CLICK = "graph-click"  # written by assets/graph.js via dash_clientside.set_props
SVG = "graph-svg"
SVG_DONE = "graph-svg-done"
SELECTED = "graph-selected"
FOLDED = "graph-folded"
STAT = "graph-stat"
STEP = "graph-step"
STEP_LABEL = "graph-step-label"
STEPS = "graph-steps"
NUMERICS = "graph-numerics"
BANNER = "graph-banner"
BANNER_TEXT = "graph-banner-text"
JUMP = "graph-jump-scalars"
SEARCH = "graph-search"
SEARCH_STATUS = "graph-search-status"
SEARCH_PREV = "graph-search-prev"
SEARCH_NEXT = "graph-search-next"
HITS = "graph-search-hits"  # {"names", "i"} of the last search, for next/previous
LEGEND = "graph-legend-note"
KEY = "graph-key"  # the HTML legend beside the drawing
SHOWN = "graph-shown"  # everything but the toolbar: hidden when there is no graph
TOOLS = "graph-tools"  # the toolbar but the run chooser: hidden with it
CLI = "graph-cli"
DOWNLOAD_BTN = "graph-download-btn"
DOWNLOAD = "graph-download"
PANEL = "graph-panel"
FLOW = "graph-flow"
CANVAS = "graph-canvas"
MESSAGE = "graph-message"
LOADED = "graph-loaded"  # {"run", "focus"} the view was last loaded for
NAV = gp.NAV  # pattern-matching type of the node links in the panel and banner
FOLD = gp.FOLD  # ... and of the panel's fold buttons

NO = dash.no_update
SKIP = dash.exceptions.PreventUpdate


# ---------------------------------------------------------------------------- layout
def _labelled(label: str, control) -> html.Label:
    return html.Label([label, control])


def _toolbar() -> html.Div:
    stat_options = [{"label": label, "value": key} for key, label in gd.COLOR_STATS.items()]
    search = dcc.Input(
        id=SEARCH,
        type="search",
        debounce=True,
        placeholder="name or part of it, Enter",
        className="fl-graph-search",
    )
    stat = dcc.Dropdown(
        id=STAT, options=stat_options, value="grad_norm", clearable=False, className="fl-graph-stat"
    )
    slider = dcc.Slider(
        id=STEP,
        min=0,
        max=0,
        step=1,
        value=0,
        marks=None,
        disabled=True,
        allow_direct_input=False,
        updatemode="mouseup",
    )
    finder = html.Div(
        [
            search,
            html.Button("‹", id=SEARCH_PREV, title="previous match", className="fl-graph-hit"),
            html.Button("›", id=SEARCH_NEXT, title="next match", className="fl-graph-hit"),
        ],
        className="fl-graph-finder",
    )
    find = html.Label(
        ["Find node", finder, html.Span(id=SEARCH_STATUS, className="fl-graph-search-status")],
        className="fl-graph-find",
    )
    step = html.Div(
        className="fl-graph-step",
        children=[html.Span(id=STEP_LABEL, className="fl-graph-step-label"), slider],
    )
    tools = [find, _labelled("Colour by", stat), step]
    return html.Div(
        className="fl-graph-toolbar",
        children=[
            _labelled("Run", dcc.Dropdown(id=RUN, clearable=False, className="fl-graph-run")),
            html.Div(id=TOOLS, className="fl-graph-tools", children=tools),
        ],
    )


def _banner() -> html.Div:
    return html.Div(
        id=BANNER,
        className="fl-graph-banner",
        hidden=True,
        children=[
            html.Span("⚠", className="fl-graph-banner-icon"),
            html.Span(id=BANNER_TEXT, className="fl-graph-banner-text"),
            html.Button("show this step in Scalars", id=JUMP, className="fl-graph-jump"),
        ],
    )


def _stage() -> html.Div:
    """The drawing with its zoom/download buttons, legend, fold list and CLI command."""
    buttons = [
        html.Button("+", id="graph-zoom-in", title="zoom in"),
        html.Button("−", id="graph-zoom-out", title="zoom out"),
        html.Button("fit", id="graph-zoom-reset", title="fit at readable size"),
        html.Button("all", id="graph-zoom-all", title="show the whole graph, however small"),
        html.Button("Download SVG", id=DOWNLOAD_BTN, title="same SVG as the command below"),
        html.Button("panel", id="graph-panel-toggle", title="hide or show the node panel"),
        html.Span("drag to pan · “all” fits it whole", className="fl-graph-partial"),
    ]
    folded = dcc.Dropdown(
        id=FOLDED, multi=True, value=[], placeholder="none folded", className="fl-graph-folded"
    )
    footer = [
        html.Div(id=LEGEND, className="fl-graph-legend"),
        _labelled("Folded scopes (click a folded scope to open it)", folded),
        html.Code(id=CLI, className="fl-graph-cli"),
    ]
    return html.Div(
        className="fl-graph-stage",
        children=[
            html.Div(buttons, className="fl-graph-controls"),
            html.Div(id=CANVAS, className="fl-graph-canvas"),
            html.Div(id=KEY, className="fl-graph-key"),
            html.Div(footer, className="fl-graph-footer"),
        ],
    )


@functools.cache
def _placeholder_flow():
    """The gradient flow before a run is loaded: built once, not on every page load (shared,
    so never mutated)."""
    return gf.empty_figure("select a run")


def layout(ctx):
    stores = [
        dcc.Store(id=CLICK),
        dcc.Store(id=SVG),
        dcc.Store(id=SVG_DONE),
        dcc.Store(id=SELECTED),
        dcc.Store(id=HITS),
        dcc.Store(id=STEPS, data=[]),
        dcc.Store(id=NUMERICS),
        dcc.Store(id=LOADED),
        dcc.Download(id=DOWNLOAD),
    ]
    body = html.Div(
        className="fl-graph-body",
        children=[_stage(), html.Aside(id=PANEL, className="fl-graph-panel", children=gp.hint())],
    )
    flow = dcc.Graph(
        id=FLOW,
        className="fl-graph-flow",
        config=image_config("gradient flow", responsive=True),
        figure=_placeholder_flow(),
    )
    return html.Div(
        className="fl-view fl-graph-view",
        children=[
            *stores,
            _toolbar(),
            html.Div(id=MESSAGE, className="fl-graph-message"),
            html.Div(id=SHOWN, className="fl-graph-shown", children=[_banner(), body, flow]),
        ],
    )


# ---------------------------------------------------------------------------- outputs
def slider_outputs(steps: list[int], step_index: int) -> tuple:
    """The STEPS store and the step slider's max, value and disabled, for ``steps``."""
    return steps, max(len(steps) - 1, 0), step_index, len(steps) < 2


def load_outputs(opened: gm.Opened) -> tuple:
    """``load_run``'s outputs, in its Output order, for what :func:`gm.open_run` decided."""
    return (
        opened.loaded,
        *slider_outputs(opened.steps, opened.step_index),
        opened.origin,
        gp.banner(opened.origin, opened.origin_op),
        opened.origin is None,
        [{"label": s, "value": s} for s in opened.scopes],
        opened.folded,
        opened.selected,
        opened.flow,
        opened.message,
        opened.message is not None,
        opened.message is not None,
    )


def nav_event(trigger, click, query, hits=None) -> tuple[str, object]:
    """``(event, value)`` for :func:`gm.navigate` from the id of what was clicked or typed."""
    if trigger == CLICK:
        return "click", click
    if trigger == SEARCH:
        return "search", query
    if trigger in (SEARCH_NEXT, SEARCH_PREV):
        return ("next" if trigger == SEARCH_NEXT else "prev"), hits
    if isinstance(trigger, dict) and trigger.get("type") == NAV:
        return "nav", trigger.get("node")
    if isinstance(trigger, dict) and trigger.get("type") == FOLD:
        return "fold", trigger.get("scope")
    return "", None


# ---------------------------------------------------------------------------- callbacks
def register(app, ctx):
    """Wire every callback. None runs while the page loads (``prevent_initial_call``):
    opening the tab (the TABS input) starts run -> load -> draw, in that order (dash waits for
    a pending input), and while the tab is hidden they stop at once."""
    for wire in (_choose_run, _load_run, _follow_live_run, _navigate, _draw, _panel, _jump,
                 _download):  # fmt: skip
        wire(app, ctx)


def _choose_run(app, ctx):
    tab_gate.register(app, ctx, TAB_ID)

    @app.callback(
        Output(RUN, "options"),
        Output(RUN, "value"),
        Input(tab_gate.runs_info(TAB_ID), "data"),
        Input(SELECTED_RUNS, "data"),
        Input(FOCUS, "data"),
        Input(TABS, "value"),
        State(RUN, "value"),
        State(RUN, "options"),
        prevent_initial_call=True,
    )
    def choose_run(runs_info, selected, focus, tab, current, old_options):
        trigger = dash.ctx.triggered_id
        if tab != TAB_ID and trigger != FOCUS:
            raise SKIP  # hidden: chosen when the tab is opened
        names = gm.run_names(runs_info) or [info.name for info in ctx.data.runs()]
        options = [{"label": n, "value": n} for n in names]
        moved = {FOCUS: "focus", SELECTED_RUNS: "selection"}.get(trigger)
        value = gm.pick_run(names, selected, focus, current, moved)
        # unchanged outputs are not re-sent: that would reload the view on every refresh tick
        return (NO if options == old_options else options, NO if value == current else value)


def _load_run(app, ctx):
    @app.callback(
        Output(LOADED, "data"),
        Output(STEPS, "data"),
        Output(STEP, "max"),
        Output(STEP, "value"),
        Output(STEP, "disabled"),
        Output(NUMERICS, "data"),
        Output(BANNER_TEXT, "children"),
        Output(BANNER, "hidden"),
        Output(FOLDED, "options"),
        Output(FOLDED, "value"),
        Output(SELECTED, "data"),
        Output(FLOW, "figure"),
        Output(MESSAGE, "children"),
        Output(SHOWN, "hidden"),
        Output(TOOLS, "hidden"),
        Input(RUN, "value"),
        Input(FOCUS, "data"),
        Input(TABS, "value"),
        State(STEP, "value"),
        State(SELECTED, "data"),
        State(FOLDED, "value"),
        State(STEPS, "data"),
        State(LOADED, "data"),
        prevent_initial_call=True,
    )
    def load_run(name, focus, tab, step_index, selected, folded, steps, loaded):
        if tab != TAB_ID:
            raise SKIP  # hidden: loaded when the tab is opened
        shown = gm.Shown(loaded, selected, folded, steps, step_index)
        on_tab_or_focus = dash.ctx.triggered_id in (TABS, FOCUS)
        opened = gm.open_run(ctx.data, name, focus, shown, on_tab_or_focus)
        if opened is None:
            raise SKIP  # same run and focus already on screen
        return load_outputs(opened)


def _follow_live_run(app, ctx):
    tab_gate.register_ticks(app, ctx, TAB_ID)

    @app.callback(
        Output(STEPS, "data", allow_duplicate=True),
        Output(STEP, "max", allow_duplicate=True),
        Output(STEP, "value", allow_duplicate=True),
        Output(STEP, "disabled", allow_duplicate=True),
        Output(FLOW, "figure", allow_duplicate=True),
        Input(tab_gate.ticks(TAB_ID), "data"),
        State(RUN, "value"),
        State(STEPS, "data"),
        State(STEP, "value"),
        State(TABS, "value"),
        State(LOADED, "data"),
        prevent_initial_call=True,
    )
    def follow_live_run(_tick, name, old_steps, step_index, tab, loaded):
        """Only the slider and the gradient flow follow a live run; the rest stays put."""
        if tab != TAB_ID or not isinstance(loaded, dict) or loaded.get("run") != name:
            raise SKIP  # hidden, or not loaded yet
        new = gm.follow(ctx.data, name, old_steps, step_index)
        if new is None:
            raise SKIP
        return *slider_outputs(new.steps, new.step_index), new.flow


def _navigate(app, ctx):
    @app.callback(
        Output(SELECTED, "data", allow_duplicate=True),
        Output(FOLDED, "value", allow_duplicate=True),
        Output(SEARCH_STATUS, "children"),
        Output(SEARCH_STATUS, "title"),
        Output(HITS, "data"),
        Input(CLICK, "data"),
        Input(SEARCH, "value"),
        Input(SEARCH_NEXT, "n_clicks"),
        Input(SEARCH_PREV, "n_clicks"),
        Input({"type": NAV, "node": ALL}, "n_clicks"),
        Input({"type": FOLD, "scope": ALL}, "n_clicks"),
        State(RUN, "value"),
        State(FOLDED, "value"),
        State(HITS, "data"),
        prevent_initial_call=True,
    )
    def navigate(click, query, _next, _prev, _nav, _fold, name, folded, hits):
        if not dash.ctx.triggered or dash.ctx.triggered[0].get("value") in (None, 0):
            raise SKIP  # a link or button (re)created, not clicked
        event, value = nav_event(dash.ctx.triggered_id, click, query, hits)
        nav = gm.navigate(gm.graph_or_none(ctx.data, name), folded, event, value)
        if nav is None:
            raise SKIP
        out = (nav.selected, nav.folded, nav.status, nav.status, nav.hits)
        return tuple(NO if v is None else v for v in out)


def _draw(app, ctx):
    @app.callback(
        Output(SVG, "data"),
        Output(LEGEND, "children"),
        Output(KEY, "children"),
        Output(CLI, "children"),
        Output(STEP_LABEL, "children"),
        Input(RUN, "value"),
        Input(FOLDED, "value"),
        Input(STAT, "value"),
        Input(STEP, "value"),
        Input(NUMERICS, "data"),
        Input(TABS, "value"),
        State(STEPS, "data"),
        prevent_initial_call=True,
    )
    def draw(name, folded, stat, step_index, origin, tab, steps):
        if tab != TAB_ID:
            raise SKIP  # hidden: drawn when the tab is opened
        d = gm.draw(ctx.data, name, folded, stat, step_index, origin, steps)
        return d.svg, d.legend, gl.legend(d.key), d.cli, d.step_label

    app.clientside_callback(
        ClientsideFunction(namespace="flowlogGraph", function_name="show"),
        Output(SVG_DONE, "data"),
        Input(SVG, "data"),
        Input(SELECTED, "data"),
    )


def _panel(app, ctx):
    @app.callback(
        Output(PANEL, "children"),
        Input(SELECTED, "data"),
        Input(RUN, "value"),
        Input(FOLDED, "value"),
        State(NUMERICS, "data"),
        prevent_initial_call=True,  # the layout holds the hint
    )
    def panel(selected, name, folded, origin):
        return gp.panel_for(ctx.data, name, selected, origin, folded)


def _jump(app, ctx):
    @app.callback(
        Output(FOCUS, "data", allow_duplicate=True),
        Output(TABS, "value", allow_duplicate=True),
        Output(LOADED, "data", allow_duplicate=True),
        Input(JUMP, "n_clicks"),
        State(NUMERICS, "data"),
        State(RUN, "value"),
        prevent_initial_call=True,
    )
    def jump_to_scalars(n, origin, name):
        focus = gm.jump_focus(name, origin) if n else None
        if focus is None:
            raise SKIP
        # this view already shows that focus: do not re-apply it when the user comes back
        return focus, "scalars", {"run": name, "focus": focus}


def _download(app, ctx):
    @app.callback(
        Output(DOWNLOAD, "data"),
        Input(DOWNLOAD_BTN, "n_clicks"),
        State(RUN, "value"),
        State(FOLDED, "value"),
        State(STAT, "value"),
        State(STEP, "value"),
        State(STEPS, "data"),
        State(NUMERICS, "data"),
        prevent_initial_call=True,
    )
    def download(n, name, folded, stat, step_index, steps, origin):
        """What is on screen, coloured and marked: the command under the graph writes it."""
        step = gm.step_at(steps, step_index)
        found = gm.download(ctx.data, name, folded, stat, step, origin) if n else None
        if found is None:
            raise SKIP
        svg, filename = found
        return dcc.send_bytes(svg, filename, type="image/svg+xml")
