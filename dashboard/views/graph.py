"""Graph view: the run's graph (server-rendered SVG) linked to the curves.

Click a node to see its structure and logged history; colour nodes by a watch statistic at a
step; find where the first NaN/Inf started; see gradient flow across trainable variables.

The SVG comes from :mod:`flowlog.render` (which escapes every name) and is inserted by the
clientside function ``flowlogGraph.show`` in ``assets/graph.js``, which parses it as XML and
strips anything executable before adopting it — names from a training script never run.
Run names arriving from the browser are only ever looked up among the runs the logdir
discovered, so no request can point the server at another file.
"""

from __future__ import annotations

import json
import shlex
import threading
from collections import OrderedDict

import dash
import numpy as np
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html

from flowlog import render
from flowlog.dashboard import graph_data as gd
from flowlog.dashboard import graph_figures as gf
from flowlog.dashboard.app import FOCUS, REFRESH, RUNS_INFO, SELECTED_RUNS, TABS
from flowlog.dashboard.controls import image_config

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
LEGEND = "graph-legend-note"
CLI = "graph-cli"
DOWNLOAD_BTN = "graph-download-btn"
DOWNLOAD = "graph-download"
PANEL = "graph-panel"
FLOW = "graph-flow"
CANVAS = "graph-canvas"
MESSAGE = "graph-message"
LOADED = "graph-loaded"  # run name the view was last loaded for

WATCH_STATS = (
    "value_norm", "value_mean", "value_std", "grad_norm", "grad_mean", "grad_std",
    "grad_nan", "update_ratio",
)  # fmt: skip
MAX_DRAWN = 400  # nodes drawn when a run opens; bigger graphs start folded by depth

NOT_LOGGED = (
    "flowlog logs curves for trainable variables watched with writer.watch(sess, every=N): "
    "value and gradient norms, mean ± std, the update/weight ratio and value/gradient "
    "histograms. This node is {article} {kind}, so only its structure is shown."
)


# ---------------------------------------------------------------------------- reading runs
def open_run(ctx, name):
    """The Run named ``name`` among the logdir's discovered runs, or None.

    ``name`` comes from the browser: the reader looks it up among discovered run names and
    never joins it onto a path, so ``../../etc/passwd`` or an absolute path is simply no run.
    """
    if not isinstance(name, str) or not name:
        return None
    try:
        return ctx.logdir.run(name)
    except KeyError:
        return None


class _StatsCache:
    """Watch statistics per run, reread only when the run has moved on (new step or status)."""

    def __init__(self, size: int = 8):
        self._data: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, run) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
        info = run.info
        key = (str(info.path), info.last_step, info.status, info.end_time)
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        stats = {}
        for node in run.watched_nodes():
            series = run.watch_stats(node)
            stats[node] = {
                stat: (np.asarray(s.step), np.asarray(s.value, dtype=float))
                for stat, s in series.items()
            }
        with self._lock:
            self._data[key] = stats
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return stats


def watched_steps(stats) -> list[int]:
    arrays = [s[0] for per_node in stats.values() for s in per_node.values()]
    if not arrays:
        return []
    return [int(s) for s in np.unique(np.concatenate(arrays))]


def first_numerics(run) -> dict | None:
    """The earliest non-finite finding of the run (lowest step, then logged order)."""
    found = run.numerics()
    if not found:
        return None
    first = min(enumerate(found), key=lambda p: (p[1].get("step") or 0, p[0]))[1]
    return {k: first.get(k) for k in ("node", "op", "phase", "step", "kind", "inputs")}


def loss_tag(run) -> str | None:
    """The first scalar tag that is not a watch statistic: what the Scalars view should show."""
    for t in run.tags(kind="scalar"):
        if not t.tag.startswith("watch/"):
            return t.tag
    return None


def render_options(folded, desc) -> dict:
    """Renderer options for a fold state; identical to what `flowlog export-graph` is given.

    ``folded`` comes from the browser, so only scopes that exist in ``desc`` are passed on.
    """
    known = set(gd.all_scopes(desc))
    wanted = [s for s in folded or [] if isinstance(s, str) and s in known]
    return {"collapse": tuple(gd.visible_folded(wanted)), "show_gradients": True}


def initial_folds(desc, max_nodes: int = MAX_DRAWN) -> list[str]:
    """Scopes folded when a run is opened: the gradient/optimizer machinery (as the CLI does)
    and, for a graph too big to read expanded, every scope at the deepest level that keeps
    at most ``max_nodes`` drawn nodes. Clicking a folded scope opens it."""
    folds = render.default_collapse(desc)
    depth = render.auto_depth(desc, max_nodes, collapse=folds, show_gradients=True)
    if depth is not None:
        folds += [s.path for s in render.scopes(desc) if s.level == max(depth, 0) + 1]
    return gd.visible_folded(folds)


def cli_command(logdir, run_name: str, folded, desc) -> str:
    opts = render_options(folded, desc)
    parts = ["flowlog", "export-graph", str(logdir), "--run", run_name, "--show-gradients"]
    for scope in opts["collapse"]:
        parts += ["--collapse", scope]
    parts += ["-o", "graph.svg"]
    return shlex.join(parts)


def _fmt_shape(shape) -> str:
    if shape is None:
        return "unknown rank"
    if not shape:
        return "scalar"
    return "×".join("?" if d is None else str(d) for d in shape)


# ---------------------------------------------------------------------------- layout
def layout(ctx):
    stat_options = [{"label": label, "value": key} for key, label in gd.COLOR_STATS.items()]
    return html.Div(
        className="fl-view fl-graph-view",
        children=[
            dcc.Store(id=CLICK),
            dcc.Store(id=SVG),
            dcc.Store(id=SVG_DONE),
            dcc.Store(id=SELECTED),
            dcc.Store(id=STEPS, data=[]),
            dcc.Store(id=NUMERICS),
            dcc.Store(id=LOADED),
            dcc.Download(id=DOWNLOAD),
            html.Div(
                className="fl-graph-toolbar",
                children=[
                    html.Label(
                        ["Run", dcc.Dropdown(id=RUN, clearable=False, className="fl-graph-run")]
                    ),
                    html.Label(
                        [
                            "Find node",
                            dcc.Input(
                                id=SEARCH,
                                type="search",
                                debounce=True,
                                placeholder="name or part of it, Enter",
                                className="fl-graph-search",
                            ),
                        ]
                    ),
                    html.Span(id=SEARCH_STATUS, className="fl-graph-search-status"),
                    html.Label(
                        [
                            "Colour by",
                            dcc.Dropdown(
                                id=STAT,
                                options=stat_options,
                                value="grad_norm",
                                clearable=False,
                                className="fl-graph-stat",
                            ),
                        ]
                    ),
                    html.Div(
                        className="fl-graph-step",
                        children=[
                            html.Span(id=STEP_LABEL, className="fl-graph-step-label"),
                            dcc.Slider(
                                id=STEP,
                                min=0,
                                max=0,
                                step=1,
                                value=0,
                                marks=None,
                                disabled=True,
                                allow_direct_input=False,
                                updatemode="mouseup",
                            ),
                        ],
                    ),
                ],
            ),
            html.Div(
                id=BANNER,
                className="fl-graph-banner",
                hidden=True,
                children=[
                    html.Span("⚠", className="fl-graph-banner-icon"),
                    html.Span(id=BANNER_TEXT, className="fl-graph-banner-text"),
                    html.Button("show this step in Scalars", id=JUMP, className="fl-graph-jump"),
                ],
            ),
            html.Div(id=MESSAGE, className="fl-graph-message"),
            html.Div(
                className="fl-graph-body",
                children=[
                    html.Div(
                        className="fl-graph-stage",
                        children=[
                            html.Div(
                                className="fl-graph-controls",
                                children=[
                                    html.Button("+", id="graph-zoom-in", title="zoom in"),
                                    html.Button("−", id="graph-zoom-out", title="zoom out"),
                                    html.Button(
                                        "fit", id="graph-zoom-reset", title="fit the graph"
                                    ),
                                    html.Button(
                                        "Download SVG",
                                        id=DOWNLOAD_BTN,
                                        title="same SVG as the command below",
                                    ),
                                ],
                            ),
                            html.Div(id=CANVAS, className="fl-graph-canvas"),
                            html.Div(
                                className="fl-graph-footer",
                                children=[
                                    html.Div(id=LEGEND, className="fl-graph-legend"),
                                    html.Label(
                                        [
                                            "Folded scopes (click a folded scope to open it)",
                                            dcc.Dropdown(
                                                id=FOLDED,
                                                multi=True,
                                                value=[],
                                                placeholder="none folded",
                                                className="fl-graph-folded",
                                            ),
                                        ]
                                    ),
                                    html.Code(id=CLI, className="fl-graph-cli"),
                                ],
                            ),
                        ],
                    ),
                    html.Aside(
                        id=PANEL,
                        className="fl-graph-panel",
                        children=html.P(
                            "Click a node to see its inputs, shape and history.",
                            className="fl-graph-hint",
                        ),
                    ),
                ],
            ),
            dcc.Graph(
                id=FLOW,
                className="fl-graph-flow",
                config=image_config("gradient flow", responsive=True),
                figure=gf.empty_figure("select a run"),
            ),
        ],
    )


# ---------------------------------------------------------------------------- side panel
def _node_button(name: str) -> html.Button:
    return html.Button(
        name,
        id={"type": "graph-nav", "node": name},
        className="fl-graph-link",
        title=f"go to {name}",
    )


def _kv(label, value) -> html.Tr:
    return html.Tr([html.Th(label), html.Td(value)])


def node_panel(run, desc, name: str, stats, origin: dict | None):
    """Children of the side panel for node ``name`` (structure, then logged curves)."""
    index = gd.node_index(desc)
    node = index.get(name)
    if node is None:
        return html.P(f"node {name!r} is not in this run's graph", className="fl-graph-hint")
    cons = gd.consumers(desc).get(name, [])
    inputs = [i for i in node.get("inputs") or ()]
    kind = node.get("kind") or "op"
    attrs = node.get("attrs") or {}
    rows = [
        _kv("op", node.get("op", "?")),
        _kv("kind", kind),
        _kv("shape", _fmt_shape(node.get("shape"))),
        _kv("dtype", node.get("dtype") or "unknown"),
        _kv("scope", node.get("scope") or gd.node_scope(node) or "(top level)"),
    ]
    children = [
        html.H3(name.rsplit("/", 1)[-1], className="fl-graph-panel-title"),
        html.Div(name, className="fl-graph-fullname", title="full name"),
    ]
    if origin and origin.get("node") == name:
        children.append(
            html.Div(
                f"First non-finite value ({origin.get('kind')}, {origin.get('phase')}) "
                f"at step {origin.get('step')}.",
                className="fl-graph-origin-note",
            )
        )
    children.append(html.Table(rows, className="fl-graph-props"))
    if attrs:
        children += [
            html.H4("attributes"),
            html.Table(
                [_kv(k, json.dumps(v)) for k, v in attrs.items()], className="fl-graph-props"
            ),
        ]
    children += [
        html.H4(f"inputs ({len(inputs)})"),
        html.Div(
            [_node_button(i) for i in inputs] or html.Span("none", className="fl-muted"),
            className="fl-graph-links",
        ),
        html.H4(f"consumers ({len(cons)})"),
        html.Div(
            [_node_button(c) for c in cons] or html.Span("none", className="fl-muted"),
            className="fl-graph-links",
        ),
    ]
    chain = gd.scope_chain(gd.node_scope(node))
    if chain:
        children += [
            html.H4("fold"),
            html.Div(
                [
                    html.Button(
                        f"fold {s}",
                        id={"type": "graph-fold", "scope": s},
                        className="fl-graph-link",
                    )
                    for s in reversed(chain)
                ],
                className="fl-graph-links",
            ),
        ]
    series = stats.get(name)
    if series:
        children.append(html.H4("history", className="fl-graph-history"))
        figs = [gf.norms_figure(series), gf.moments_figure(series), gf.ratio_figure(series)]
        for part in ("value", "grad"):
            hists = run.histograms(f"watch/{name}/{part}")
            figs.append(
                gf.histogram_heatmap(
                    [h.step for h in hists],
                    [np.asarray(h.edges) for h in hists],
                    [np.asarray(h.counts) for h in hists],
                    part,
                    nonfinite=[h.nan + h.posinf + h.neginf for h in hists],
                )
            )
        children += [
            dcc.Graph(
                figure=f,
                config=image_config(f"{name} {f.layout.title.text or ''}"),
                className="fl-graph-curve",
                style={"height": f"{f.layout.height}px"},
            )
            for f in figs
        ]
    else:
        article = "an" if kind[:1] in "aeiou" else "a"
        children.append(
            html.P(
                NOT_LOGGED.format(article=article, kind=kind),
                className="fl-graph-hint fl-graph-nolog",
            )
        )
    return children


# ---------------------------------------------------------------------------- callbacks
def _empty_load(name, figure_message: str, message: str) -> tuple:
    """``load_run`` outputs for a run that cannot be shown, with ``message`` saying why."""
    return (
        {"run": name, "focus": None},
        [],
        0,
        0,
        True,
        None,
        None,
        True,
        [],
        [],
        None,
        gf.empty_figure(figure_message),
        message,
    )


def register(app, ctx):
    cache = _StatsCache()

    @app.callback(
        Output(RUN, "options"),
        Output(RUN, "value"),
        Input(RUNS_INFO, "data"),
        Input(SELECTED_RUNS, "data"),
        Input(FOCUS, "data"),
        Input(TABS, "value"),
        State(RUN, "value"),
        State(RUN, "options"),
        # nothing of a hidden view runs while the page loads: opening the tab (TABS) starts
        # the chain run -> load -> draw, in that order (dash waits for a pending input)
        prevent_initial_call=True,
    )
    def choose_run(runs_info, selected, focus, tab, current, old_options):
        """One run at a time: FOCUS's run, else the current one, else the first selected."""
        if tab != TAB_ID and dash.ctx.triggered_id != FOCUS:
            raise dash.exceptions.PreventUpdate  # hidden: chosen when the tab is opened
        names = [r.get("name") for r in runs_info or [] if isinstance(r, dict)]
        if not names:
            names = [info.name for info in ctx.logdir.runs()]
        options = [{"label": n, "value": n} for n in names]
        selected = [n for n in selected or [] if n in names]
        trigger = dash.ctx.triggered_id
        if trigger == FOCUS and isinstance(focus, dict) and focus.get("run") in names:
            value = focus["run"]
        elif current in names and (trigger != SELECTED_RUNS or current in selected):
            value = current
        elif selected:
            value = selected[0]
        else:
            value = names[0] if names else None
        # unchanged outputs are not re-sent: that would reload the view on every refresh tick
        return (
            dash.no_update if options == old_options else options,
            dash.no_update if value == current else value,
        )

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
        Input(RUN, "value"),
        Input(FOCUS, "data"),
        Input(TABS, "value"),
        State(STEP, "value"),
        State(SELECTED, "data"),
        State(FOLDED, "value"),
        State(STEPS, "data"),
        State(LOADED, "data"),
        prevent_initial_call=True,  # hidden while the page loads (see choose_run)
    )
    def load_run(name, focus, tab, step_index, selected, folded, old_steps, loaded):
        if tab != TAB_ID:
            raise dash.exceptions.PreventUpdate  # hidden: loaded when the tab is opened
        loaded = loaded if isinstance(loaded, dict) else {}
        focus = focus if isinstance(focus, dict) and focus.get("run") == name else None
        new_focus = focus is not None and focus != loaded.get("focus")
        # same run already on screen: keep the user's folds/selection/step, apply only new focus
        same_run = loaded.get("run") == name
        if same_run and not new_focus and dash.ctx.triggered_id in (TABS, FOCUS):
            raise dash.exceptions.PreventUpdate
        focus = focus if new_focus else None
        run = open_run(ctx, name)
        if run is None:
            msg = (
                f"no run named {name!r} in {ctx.logdir.path}"
                if name
                else "no runs yet — train one, e.g. `python examples/nan_debugging.py`"
            )
            return _empty_load(name, "select a run", msg)
        desc = run.graph()
        if desc is None:
            return _empty_load(
                name,
                "this run logged no graph",
                f"run {name!r} logged no graph: call writer.add_graph(graph) when training",
            )
        try:
            index = gd.node_index(desc)
        except gd.GraphDescriptionError as exc:
            return _empty_load(name, "unusable graph", f"run {name!r}: {exc}")
        stats = cache.get(run)
        steps = watched_steps(stats)
        origin = first_numerics(run)
        # fold state: keep the user's when only focus moved, else start from the default
        fold = list(folded or []) if same_run else initial_folds(desc)
        new_selected = selected if same_run and selected in index else None
        if origin and origin.get("node") in index and not same_run:
            fold = gd.unfold_for(fold, index[origin["node"]])
            new_selected = origin["node"]
        idx = len(steps) - 1 if steps else 0
        if same_run and steps == old_steps and step_index is not None:
            idx = step_index
        if origin and origin.get("step") is not None and not same_run:
            idx = gd.nearest_index(steps, origin["step"])
        if focus:
            if focus.get("step") is not None:
                idx = gd.nearest_index(steps, focus["step"])
            if focus.get("node") in index:
                new_selected = focus["node"]
                fold = gd.unfold_for(fold, index[new_selected])
        banner = None
        if origin:
            op = origin.get("op") or index.get(origin["node"], {}).get("op", "?")
            banner = [
                "first non-finite value: node ",
                _node_button(origin["node"]),
                f" ({op}, {origin.get('phase')}) at step {origin.get('step')}",
                f" — {origin.get('kind')}; marked in red with everything that feeds it.",
            ]
            origin["tag"] = loss_tag(run)
        variables = gd.trainable_order(desc, stats.keys())
        grads = {v: stats[v]["grad_norm"] for v in variables if "grad_norm" in stats.get(v, {})}
        flow = gf.gradient_flow_figure(variables, grads)
        scopes = gd.all_scopes(desc)
        return (
            {"run": name, "focus": focus or loaded.get("focus") if same_run else focus},
            steps,
            max(len(steps) - 1, 0),
            idx,
            len(steps) < 2,
            origin,
            banner,
            origin is None,
            [{"label": s, "value": s} for s in scopes],
            fold,
            new_selected,
            flow,
            None,
        )

    @app.callback(
        Output(STEPS, "data", allow_duplicate=True),
        Output(STEP, "max", allow_duplicate=True),
        Output(STEP, "value", allow_duplicate=True),
        Output(STEP, "disabled", allow_duplicate=True),
        Output(FLOW, "figure", allow_duplicate=True),
        Input(REFRESH, "n_intervals"),
        State(RUN, "value"),
        State(STEPS, "data"),
        State(STEP, "value"),
        State(TABS, "value"),
        State(LOADED, "data"),
        prevent_initial_call=True,
    )
    def follow_live_run(_tick, name, old_steps, step_index, tab, loaded):
        """A run still being written gains watched steps: extend the slider (following the
        newest step if it was there) and the gradient flow, leaving everything else alone."""
        if tab != TAB_ID or (loaded or {}).get("run") != name:
            raise dash.exceptions.PreventUpdate
        run = open_run(ctx, name)
        if run is None or run.info.status != "running":
            raise dash.exceptions.PreventUpdate
        stats = cache.get(run)
        steps = watched_steps(stats)
        if steps == (old_steps or []):
            raise dash.exceptions.PreventUpdate
        at_end = not old_steps or step_index is None or step_index >= len(old_steps) - 1
        idx = len(steps) - 1 if at_end else step_index
        desc = run.graph() or {"nodes": []}
        variables = gd.trainable_order(desc, stats.keys())
        grads = {v: stats[v]["grad_norm"] for v in variables if "grad_norm" in stats.get(v, {})}
        return (
            steps,
            max(len(steps) - 1, 0),
            idx,
            len(steps) < 2,
            gf.gradient_flow_figure(variables, grads),
        )

    @app.callback(
        Output(SELECTED, "data", allow_duplicate=True),
        Output(FOLDED, "value", allow_duplicate=True),
        Output(SEARCH_STATUS, "children"),
        Input(CLICK, "data"),
        Input(SEARCH, "value"),
        Input({"type": "graph-nav", "node": ALL}, "n_clicks"),
        Input({"type": "graph-fold", "scope": ALL}, "n_clicks"),
        State(RUN, "value"),
        State(FOLDED, "value"),
        prevent_initial_call=True,
    )
    def navigate(click, query, _nav, _fold, name, folded):
        trig = dash.ctx.triggered_id
        if not dash.ctx.triggered or dash.ctx.triggered[0].get("value") in (None, 0):
            raise dash.exceptions.PreventUpdate
        run = open_run(ctx, name)
        desc = run.graph() if run is not None else None
        if desc is None:
            raise dash.exceptions.PreventUpdate
        index = gd.node_index(desc)
        folded = list(folded or [])
        no = dash.no_update
        if trig == CLICK:
            target = (click or {}).get("id") or ""
            if target.startswith("scope:"):
                scope = target[len("scope:") :]
                return no, [s for s in folded if s != scope], no
            if target.startswith("node:") and target[5:] in index:
                return target[5:], no, no
            raise dash.exceptions.PreventUpdate
        if trig == SEARCH:
            hits = gd.search(desc, query)
            if not hits:
                return no, no, f"no node matches {query!r}" if query else ""
            found = hits[0]
            more = f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""
            return found, gd.unfold_for(folded, index[found]), f"found {found}{more}"
        if isinstance(trig, dict) and trig.get("type") == "graph-nav":
            node = trig.get("node")
            if node in index:
                return node, gd.unfold_for(folded, index[node]), no
        if isinstance(trig, dict) and trig.get("type") == "graph-fold":
            scope = trig.get("scope")
            if scope in gd.all_scopes(desc) and scope not in folded:
                return no, folded + [scope], no
        raise dash.exceptions.PreventUpdate

    @app.callback(
        Output(SVG, "data"),
        Output(LEGEND, "children"),
        Output(CLI, "children"),
        Output(STEP_LABEL, "children"),
        Input(RUN, "value"),
        Input(FOLDED, "value"),
        Input(STAT, "value"),
        Input(STEP, "value"),
        Input(NUMERICS, "data"),
        Input(TABS, "value"),
        State(STEPS, "data"),
        prevent_initial_call=True,  # hidden while the page loads (see choose_run)
    )
    def draw(name, folded, stat, step_index, origin, tab, steps):
        if tab != TAB_ID:
            raise dash.exceptions.PreventUpdate  # hidden: drawn when the tab is opened

        run = open_run(ctx, name)
        desc = run.graph() if run is not None else None
        if desc is None:
            return {"key": "", "svg": ""}, None, None, ""
        opts = render_options(folded, desc)
        steps = steps or []
        step = steps[min(max(int(step_index or 0), 0), len(steps) - 1)] if steps else None
        values, nonfinite = {}, []
        stat = stat if stat in gd.COLOR_STATS else "grad_norm"
        if step is not None:
            values, nonfinite = gd.overlay_values(cache.get(run), stat, step)
        index = gd.node_index(desc)
        values = {k: v for k, v in values.items() if k in index}
        label = f"{stat} @ step {step}" if step is not None else stat
        marked, highlight = (), ()
        if origin and origin.get("node") in index:
            # the origin and everything feeding it in red; the origin itself also outlined
            marked = (origin["node"], *render.feeders(desc, origin["node"]))
            highlight = (origin["node"],)
        try:
            svg = render.render(
                desc,
                format="svg",
                values=values or None,
                value_label=label,
                value_log=stat in gd.LOG_STATS,
                marked=marked,
                highlight=highlight,
                **render_options(folded, desc),
            )
        except (render.DotNotFound, render.DotError, ValueError, TypeError) as exc:
            # missing `dot` (install hint) or a description the renderer rejects (names the node)
            return {"key": "", "svg": ""}, f"cannot draw this graph: {exc}", None, ""
        svg_text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
        key = f"{name}|{','.join(opts['collapse'])}|{stat}|{step}|{len(svg_text)}"
        legend = []
        if values:
            legend.append(
                f"colour: {gd.COLOR_STATS[stat]} at step {step} "
                f"({len(values)} nodes; grey = not logged)"
            )
        elif step is not None:
            legend.append(f"no {gd.COLOR_STATS[stat]} logged at step {step}")
        else:
            legend.append("no watch statistics in this run: use writer.watch(sess, every=N)")
        if nonfinite:
            legend.append(f" · non-finite at this step: {', '.join(nonfinite)}")
        step_label = f"step {step}" if step is not None else "no watched steps"
        return (
            {"key": key, "svg": svg_text},
            legend,
            cli_command(ctx.logdir.path, name, folded, desc),
            step_label,
        )

    app.clientside_callback(
        ClientsideFunction(namespace="flowlogGraph", function_name="show"),
        Output(SVG_DONE, "data"),
        Input(SVG, "data"),
        Input(SELECTED, "data"),
    )

    @app.callback(
        Output(PANEL, "children"),
        Input(SELECTED, "data"),
        Input(RUN, "value"),
        State(NUMERICS, "data"),
        prevent_initial_call=True,  # the layout holds the hint
    )
    def panel(selected, name, origin):
        run = open_run(ctx, name)
        desc = run.graph() if run is not None else None
        if desc is None or not selected:
            return html.P(
                "Click a node to see its inputs, shape and history.", className="fl-graph-hint"
            )
        return node_panel(run, desc, selected, cache.get(run), origin)

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
        if not n or not origin:
            raise dash.exceptions.PreventUpdate
        focus = {
            "run": name,
            "tag": origin.get("tag"),
            "step": origin.get("step"),
            "node": origin.get("node"),
        }
        # this view already shows that focus: do not re-apply it when the user comes back
        return focus, "scalars", {"run": name, "focus": focus}

    @app.callback(
        Output(DOWNLOAD, "data"),
        Input(DOWNLOAD_BTN, "n_clicks"),
        State(RUN, "value"),
        State(FOLDED, "value"),
        prevent_initial_call=True,
    )
    def download(n, name, folded):
        run = open_run(ctx, name)
        desc = run.graph() if run is not None else None
        if not n or desc is None:
            raise dash.exceptions.PreventUpdate
        svg = render.render(desc, format="svg", **render_options(folded, desc))
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return dcc.send_bytes(svg, f"{safe}-graph.svg", type="image/svg+xml")
