"""Scalars: one chart per tag, grouped by tag prefix; smoothing, zoom-to-detail, live, export.

A chart is a :attr:`TagInfo.chart`: ``add_scalars("Loss", {"train": ..., "val": ...})`` draws
one chart "Loss" with a line per key and run (and the runs' plain tag "Loss", if any). A run
written by several torch.distributed ranks draws a line per rank, or (the "Ranks" control)
the mean across its ranks with their min-max band.

Every chart is its own callback (pattern-matching id), so the first chart draws while the
others load, and only charts on (or near) the screen are built: ``assets/scalars.js`` flags a
chart visible when it scrolls into view, which triggers its build. Groups of watch statistics
(``watch/<node>/<stat>``, dozens of tags per run) start collapsed and hold no charts until
opened. Series are smoothed on the server at full resolution, then reduced to each bucket's
min and max points of the raw and the smoothed series (``series.bucket_extremes``) so a chart
stays near its payload budget (``chart_budget``); zooming re-fetches the visible range at
finer resolution, down to every point, reading only that range (``scalars_zoom``). The REFRESH
interval appends only new points (``scalars_since``) in the browser (``assets/scalars.js``),
without redrawing or re-sending the chart.
"""

from __future__ import annotations

import functools
import math
import time
from html import escape

import dash
import plotly.graph_objects as go
from dash import ALL, MATCH, ClientsideFunction, Input, Output, State, dcc, html

from flowlog import export
from flowlog.dashboard import scalars_custom, untrusted, zoom_route
from flowlog.dashboard.controls import image_config
from flowlog.dashboard.ids import FOCUS, RUNS_INFO, SELECTED_RUNS, TABS
from flowlog.dashboard.scalars_cards import CARD_EXPORT, card_export, card_tools
from flowlog.dashboard.scalars_charts import (
    AFTER_PAINT,
    LIVE_REBUILD_PAUSE,
    UNCHANGED,
    ScalarsView,
    compile_regex,
    placeholder_figure,
)
from flowlog.dashboard.scalars_checks import range_of, valid_state
from flowlog.dashboard.scalars_data import axis_range, chart_names, parse_x, ranks_of
from flowlog.dashboard.scalars_focus import focus_from_click as focus_from_click  # (tests)
from flowlog.dashboard.scalars_focus import focus_label, focus_of, own_click
from flowlog.dashboard.scalars_toolbar import (
    DEFAULT_RANK_MODE,
    DEFAULT_SMOOTHING,
    DEFAULT_XAXIS,
    DOWNLOAD,
    EXPORT_CSV,
    EXPORT_JSON,
    GROUP_KEY,
    GROUP_MODE,
    LOGSCALE,
    RANK_BOX,
    RANK_MODE,
    SMOOTHING,
    SMOOTHING_BOX,
    TAG_FILTER,
    XAXIS,
    rank_box_style,
    toolbar,
)
from flowlog.provider import ReadError

TAB_ID = "scalars"
TAB_LABEL = "Scalars"

CHARTS = "sc-charts"
TAGS = "sc-tags"
MESSAGE = "sc-message"
FOCUS_BAR = "sc-focus-bar"  # "step N of run R" while charts follow a FOCUS, and a way back
FOCUS_TEXT = "sc-focus-text"
FOCUS_CLEAR = "sc-focus-clear"
GRAPH = "sc-graph"  # pattern id type: {"type": GRAPH, "tag": tag}
STATE = "sc-state"
EXTEND = "sc-extend"  # new points for one chart, appended in the browser (assets/scalars.js)
EXTENDED = "sc-extended"  # sequence number of the last append done (clientside output)
VISIBLE = "sc-visible"  # per chart: set by assets/scalars.js when it scrolls into view
ZOOM = "sc-zoom"  # build_chart's trigger of a zoom (zoom_route: x-range changes of a relayout)
GROUP = "sc-group"  # pattern id types of a tag group: its <details>, clickable summary,
GROUP_HEAD = "sc-group-head"  # chart grid and {"tags", "open", "rendered"} store
GROUP_BODY = "sc-group-body"
GROUP_INFO = "sc-group-info"
COLLAPSED_PREFIXES = ("watch",)  # writer.watch() statistics: many tags, opened on demand

# The page's first charts come inside the page layout while building them reads at most this
# many points from disk (~0.4 s to read, smooth and select from chunked logs: ~35 ns a point;
# benchmarks/scale.py); a bigger cold read leaves them to their callbacks, so the page itself
# shows at once. (Logs of schema v1/v2, one row per point, read ~30x slower.)
LEAD_READ_POINTS = 12_000_000
FIRST_CHARTS = 2  # built into the page layout: the first row of cards


def split_tag(tag: str) -> tuple[str, str]:
    """``"loss/train"`` -> ``("loss", "loss/train")``; a tag without ``/`` is its own group."""
    return (tag.split("/", 1)[0] if "/" in tag else tag), tag


def layout(ctx):
    # the charts of the page's initial selection are in the layout, so they load at once, and
    # the first of them come built (first_charts)
    init = getattr(ctx.page, "initial", None) or {"selected": [], "info": []}
    view = ctx.extra.get("scalars")
    shown = scalar_tags(view, init["selected"]) if view is not None else None
    generation = next(view.generation) if view is not None else 0
    light = getattr(ctx.page, "light", False)  # Dash's own check of the layout (app.py)
    built = first_charts(view, shown or [], init) if view is not None and not light else {}
    return html.Div(
        className="fl-view fl-scalars",
        children=[
            toolbar(init["info"]),
            html.Div(initial_message(init, shown), id=MESSAGE, className="fl-message"),
            html.Div(
                id=FOCUS_BAR,
                className="fl-focus-bar",
                hidden=True,
                children=[
                    html.Span(id=FOCUS_TEXT),
                    html.Button("show all steps", id=FOCUS_CLEAR, className="fl-link-button"),
                ],
            ),
            scalars_custom.section(),  # add_custom_scalars layouts: filled by its callback
            dcc.Store(id=TAGS, data=shown),
            html.Div(
                chart_groups(shown or [], generation, built=built) if view is not None else [],
                id=CHARTS,
                className="fl-chart-groups",
            ),
        ],
    )


def initial_message(init: dict, shown: list[str] | None) -> str:
    """The page's first word on an empty chart area (the callback says it on later changes)."""
    if shown is None:
        return ""
    names = [r.get("name") for r in init["info"] if isinstance(r, dict)]
    return chart_message(names, init["selected"], shown, shown, None)


def first_charts(view, shown: list[str], init: dict, limit_read: bool = True) -> dict:
    """``{tag: (figure, state)}`` of the page's first FIRST_CHARTS charts (its first row),
    built with the controls' defaults so they are drawn as soon as plotly.js has loaded,
    without a callback round trip after the page's own. The first is drawn at once; the others'
    figures carry AFTER_PAINT (assets/plotly_hooks.js), so the first chart is painted before
    they are drawn. Stops before a chart whose read from disk would take the total above
    LEAD_READ_POINTS (unless not ``limit_read``) or whose building fails: such cards are built
    by their callbacks like the rest."""
    if not init.get("selected"):
        return {}
    opened = [t for t in shown if default_open(split_tag(t)[0], shown)]
    built, cost = {}, 0
    for tag in opened[:FIRST_CHARTS]:
        try:
            cost += view.reads.read_cost(
                tag, init["selected"], DEFAULT_SMOOTHING, DEFAULT_XAXIS, ranks_of(init["info"])
            )
            if limit_read and cost > LEAD_READ_POINTS:
                break
            with view.build_lock:
                fig, state = view.build(
                    tag,
                    init["info"],
                    init["selected"],
                    DEFAULT_SMOOTHING,
                    DEFAULT_XAXIS,
                    [],
                    "none",
                    None,
                    None,
                )
        except (KeyError, ValueError, ReadError):
            break  # a run vanished or broke meanwhile: its callback will say so
        if built:
            fig.update_layout(meta=AFTER_PAINT)
        built[tag] = (fig, state)
    return built


def prewarm(ctx) -> None:
    """Read and build what a first page shows, so the first visit after the dashboard starts
    gets its first charts inside the page even when that is a long read (LEAD_READ_POINTS)."""
    from flowlog.dashboard.runs_panel import initial_state

    view = ctx.extra["scalars"]
    init = initial_state(ctx)
    first_charts(view, scalar_tags(view, init["selected"]), init, limit_read=False)


def _chart(tag: str, generation: int, built: tuple | None = None):
    """A chart card. ``built`` is its ``(figure, state)`` when it comes built (first_charts);
    otherwise it holds a placeholder until assets/scalars.js flags it visible."""
    # data-fl-gen changes whenever the card is (re)rendered by the server, so the browser
    # flags it visible again even when React reuses the DOM element (assets/scalars.js);
    # data-fl-built tells it the card already has its figure for this generation
    gen = str(generation)
    attrs = {"data-fl-tag": tag, "data-fl-gen": gen}
    if built:
        attrs["data-fl-built"] = gen
    return html.Div(
        className="fl-card",
        **attrs,
        children=[
            dcc.Graph(
                id={"type": GRAPH, "tag": tag},
                className="fl-chart",
                figure=built[0] if built else placeholder_figure(tag),
                config=image_config(tag),
            ),
            dcc.Store(id={"type": VISIBLE, "tag": tag}),
            dcc.Store(id={"type": STATE, "tag": tag}, data=built[1] if built else None),
            dcc.Store(id={"type": EXTEND, "tag": tag}),
            dcc.Store(id={"type": EXTENDED, "tag": tag}),
            card_tools(tag),  # (last: the graph stays the card's first child)
        ],
    )


def default_open(prefix: str, shown: list[str]) -> bool:
    """Watch statistics start collapsed, unless they are all that is shown (the tag filter
    asked for them); the user's own tags start open."""
    if prefix not in COLLAPSED_PREFIXES:
        return True
    return all(split_tag(t)[0] in COLLAPSED_PREFIXES for t in shown)


def chart_groups(
    shown: list[str], generation: int, is_open: dict | None = None, built: dict | None = None
) -> list:
    """Collapsible groups by tag prefix, each a grid of chart cards.

    ``is_open`` maps group prefixes to their current state (kept when the tag list changes);
    other groups get :func:`default_open`. A closed group holds no charts (nothing is built
    or drawn) until its summary is clicked. ``built`` maps tags to the ``(figure, state)``
    they come drawn with.
    """
    built = built or {}
    groups: dict[str, list[str]] = {}
    for tag in shown:
        groups.setdefault(split_tag(tag)[0], []).append(tag)
    out = []
    for prefix, ts in groups.items():
        opened = (is_open or {}).get(prefix, default_open(prefix, shown))
        count = f"{len(ts)} chart{'s' if len(ts) != 1 else ''}"
        out.append(
            html.Details(
                id={"type": GROUP, "group": prefix},
                open=opened,
                className="fl-group",
                children=[
                    html.Summary(
                        id={"type": GROUP_HEAD, "group": prefix},
                        title=f"show or hide the {count} of {prefix}",
                        children=[
                            html.Span(prefix),
                            html.Span(count, className="fl-count"),
                            html.Span("click to show", className="fl-collapsed-hint"),
                        ],
                    ),
                    html.Div(
                        [_chart(t, generation, built.get(t)) for t in ts] if opened else [],
                        id={"type": GROUP_BODY, "group": prefix},
                        className="fl-chart-grid",
                    ),
                    dcc.Store(
                        id={"type": GROUP_INFO, "group": prefix},
                        data={"tags": ts, "open": opened, "rendered": opened},
                    ),
                ],
            )
        )
    return out


def groups_open(clicks: dict, infos: dict) -> dict:
    """``{prefix: open now}`` from each group's state when rendered (``infos``) and the clicks
    on its summary since then (the browser toggles ``<details>`` itself, once per click)."""
    return {
        prefix: bool(info.get("open")) != bool(int(untrusted.number(clicks.get(prefix), 0)) % 2)
        for prefix, info in infos.items()
        if isinstance(info, dict)
    }


def _by_group(states: list[dict]) -> dict:
    """``{group prefix: value}`` of a wildcard State (``dash.ctx.states_list`` entry)."""
    return {
        s["id"]["group"]: s.get("value")
        for s in states or []
        if isinstance(s, dict) and isinstance(s.get("id"), dict) and "group" in s["id"]
    }


def scalar_tags(view, names) -> list[str]:
    """The charts of the runs ``names``, sorted: plain tags and add_scalars main tags."""
    infos = []
    for name in names:
        try:
            infos += view.reads.tag_infos(name).values()
        except (KeyError, ReadError):
            continue  # vanished between discovery and now; the next refresh drops it
    return chart_names(infos)


def _filter_tags(tags: list[str], pattern: str | None) -> list[str]:
    rx = compile_regex(pattern, "tag filter")
    return [t for t in tags if rx is None or rx.search(t)]


# --- the work of the callbacks (plain functions, tested without a browser) ------------------


def chart_message(names, sel, tags, shown, pattern) -> str:
    """Why the chart area is empty (never a blank page): no runs, none selected, no scalars
    in the selected runs, or a tag filter that hides every chart (named, with what it hides)."""
    if not names:
        return "No runs in the logdir yet: charts appear as soon as a run logs a scalar."
    if not sel:
        return "No runs selected — tick runs in the panel on the left."
    if not tags:
        n = len(sel)
        return f"The {n} selected run{'s' if n != 1 else ''} have no scalars (yet)."
    if not shown:
        hidden = f"{len(tags)} chart{'s' if len(tags) != 1 else ''}"
        return f"The tag filter {pattern!r} matches none of the {hidden}: change or clear it."
    return ""


def zoom_range(zoom, xmode: str, logs, old):
    """The x range a zoom asks for: a ``(lo, hi)`` in data units, ``None`` for a reset, or
    ``UNCHANGED`` when the zoom changes nothing that was drawn."""
    r = axis_range(zoom) if isinstance(zoom, dict) else None
    if r is None or (r != "auto" and len(r) != 2):
        return UNCHANGED
    rng = None
    if r != "auto":
        try:
            rng = (parse_x(r[0], xmode), parse_x(r[1], xmode))
        except (TypeError, ValueError):
            return UNCHANGED
        if "logx" in untrusted.names(logs):
            try:
                rng = (10 ** rng[0], 10 ** rng[1])
            except OverflowError:
                return UNCHANGED
    if old and old.get("range") == (None if rng is None else list(rng)):
        return UNCHANGED
    return rng


def error_figure(message: str) -> go.Figure:
    message = message if len(message) <= 300 else message[:299] + "…"
    fig = go.Figure()
    fig.add_annotation(text=escape(message), showarrow=False, xref="paper", yref="paper")
    # a uirevision marks the figure as built for assets/scalars.js
    fig.update_layout(template="plotly_white", height=320, uirevision="error")
    return fig


def build_chart(view, controls: dict, trigger, gid, old, info):
    """``(figure, state)`` of one chart for its controls, or ``UNCHANGED``. Every value
    comes from the browser: a state this view did not make counts as none, and a run that
    fails to read is named on the chart (:meth:`ScalarsView.build`)."""
    old = old if isinstance(old, dict) else None
    tag = gid.get("tag") if isinstance(gid, dict) else None
    if not isinstance(tag, str):
        return UNCHANGED
    visible = controls["visible"]
    if not visible and not old:
        return UNCHANGED  # off screen: built when scrolled to
    # (a card that came built with the page (first_charts) has a state but no visible flag)
    xmode, rng = controls["xmode"], None
    kind = (
        FOCUS if trigger == FOCUS else (trigger.get("type") if isinstance(trigger, dict) else None)
    )
    got = chart_focus(controls.get("focus"), kind == FOCUS, old)
    if got is UNCHANGED:
        return UNCHANGED
    focus, focus_zoom = got
    if kind == FOCUS:
        pass  # the focus's window, or (a cleared focus) the whole range
    elif kind == VISIBLE:
        if old and old.get("visible") == visible:
            return UNCHANGED  # remounted (tab switch): already built
    elif kind == ZOOM:
        rng = zoom_range(controls["zoom"], xmode, controls["logs"], old)
        if rng is UNCHANGED:
            return UNCHANGED
    elif old and range_of(old.get("range")) and old.get("xmode") == xmode:
        rng = range_of(old["range"])  # keep the zoom when only smoothing/runs change
    try:
        with view.build_lock:
            fig, state = view.build(
                tag, info, controls["selected"], controls["weight"] or 0.0, xmode,
                untrusted.names(controls["logs"]), controls["gmode"], controls["gkey"], rng,
                controls.get("ranks") or DEFAULT_RANK_MODE, focus, focus_zoom,
            )  # fmt: skip
    except ValueError as e:  # bad group regex or control value: say so in the chart
        return error_figure(str(e)), None
    state["visible"] = visible
    return fig, state


def zoom_build(view, controls: dict, gid, old, info):
    """:func:`build_chart` for a zoom request of :mod:`zoom_route`: ``(figure, state)``, or
    None when the zoom changes nothing drawn."""
    got = build_chart(view, controls, {"type": ZOOM}, gid, old, info)
    return None if got is UNCHANGED else got


def chart_focus(value, moved: bool, old):
    """``(focus, zoom onto it)`` for a chart from the FOCUS store's ``value`` (``moved``: it
    just changed), or UNCHANGED when the chart has nothing to redo for it."""
    focus = focus_of(value)
    if own_click(value):
        if moved:
            return UNCHANGED  # a click on a curve (for the Graph view): the charts stay
        focus = focus_of(old.get("focus")) if old else None  # the focus it had stays
    if not moved:
        return focus, old is None and focus is not None  # built after the focus moved: zoom
    if not old or not (old.get("focus") or (focus and focus["run"] in runs_of(old))):
        return UNCHANGED  # neither focused before nor drawing the focused run
    return focus, True  # (a cleared focus: back to the whole range)


def runs_of(state: dict) -> set:
    """The runs a chart's state draws lines of."""
    runs = state.get("runs")
    return (
        {e.get("run") for e in runs.values() if isinstance(e, dict)}
        if isinstance(runs, dict)
        else set()
    )


def live_update(view, state, info, selected, logs, gkey):
    """``(append spec, figure, state)`` for one chart on a refresh tick; ``None`` parts are
    left as they are in the browser."""
    if not valid_state(state) or state["grouped"] or state["range"] is not None:
        return None, None, None  # grouped and zoomed charts are not live (nor crafted states)
    info = untrusted.runs_info(info)
    names = {r["name"] for r in info}
    sel = [n for n in untrusted.names(selected) if n in names]
    mode = state.get("ranks") or DEFAULT_RANK_MODE
    known, failed = state.get("problems") or {}, {}
    lines = view.run_lines(state["tag"], sel, info, mode, failed)
    # runs the chart could not draw stay out while that still holds (a damaged run's file
    # unchanged: untrusted.read_problems), else they are new lines
    current = untrusted.read_problems(view.reads.data).current(view.reads.data)
    still = {r for r in known if r in failed or r in current}
    has_new_line = any(ln.key not in state["runs"] and ln.run not in still for ln in lines)
    has_new_line |= bool(set(failed) - set(known))  # a run broke since the chart was drawn
    has_new_line |= _recoloured(state, info)
    try:
        res = None if has_new_line else view.extend(state, info)
    except untrusted.RUN_ERRORS:
        res = None  # a drawn run broke since: the rebuild names it on the chart
    if res is UNCHANGED:
        return None, None, None
    if res is not None:
        return res[0], None, res[1]
    if not has_new_line and rebuilt_too_recently(state):
        view.catch_up(state, lines)  # redrawn on a later refresh, from what this extends
        return None, None, None
    fig, new = view.build(
        state["tag"], info, sel, state["weight"], state["xmode"], untrusted.names(logs), "none",
        None, None, mode,
    )  # fmt: skip
    new["visible"] = state.get("visible")
    return None, fig, new


def rebuilt_too_recently(state: dict, now: float | None = None) -> bool:
    """Whether a chart that only grew was built less than LIVE_REBUILD_PAUSE times its build
    duration ago (the state's own record; a state without one, or a crafted one, is not)."""
    built = untrusted.number(state.get("built_at"), -math.inf)
    took = untrusted.number(state.get("build_s"), 0.0)
    now = time.time() if now is None else now
    return 0 <= now - built < LIVE_REBUILD_PAUSE * min(took, 60.0)


def _recoloured(state, info) -> bool:
    """Whether a drawn run's colour changed since the chart was drawn (the user picked one)."""
    drawn = state.get("colors")
    if not isinstance(drawn, dict):
        return False
    now = {r["name"]: r["color"] for r in info}
    return any(name in now and now[name] != color for name, color in drawn.items())


def export_file(view, fmt: str, selected, tags, weight, states, info=None) -> dict:
    """The download of every selected run × line of the charts ``tags`` at full resolution,
    inside each chart's zoom (on the step axis), in flowlog's one export format
    (:mod:`flowlog.export`): add_scalars keys in its ``series`` field, and every rank of a run
    written by several (whatever the Ranks control shows) in its ``rank`` field."""
    ranges = {
        s["tag"]: range_of(s["range"])
        for s in (states if isinstance(states, list) else [])
        if isinstance(s, dict) and isinstance(s.get("tag"), str)
        and range_of(s.get("range")) is not None and s.get("xmode") == "step"
    }  # fmt: skip
    ranks = None if info is None else ranks_of(info)
    weight = untrusted.number(weight, 0.0)
    weight = weight if 0 <= weight < 1 else 0.0
    selected, tags = untrusted.names(selected), untrusted.names(tags)
    series = view.reads.export_series(selected, tags, weight, ranges, ranks)
    content = export.encode(series, fmt, weight)
    return dict(content=content, filename=f"flowlog-scalars.{fmt}")


def _or_keep(value):
    return dash.no_update if value is None or value is UNCHANGED else value


# --- callback wiring ---------------------------------------------------------------------------


def register(app, ctx):
    view = ScalarsView(ctx.data)
    ctx.extra["scalars"] = view
    _register_groups(app, view)
    scalars_custom.register(app, ctx.data, SMOOTHING, XAXIS, LOGSCALE)
    _register_charts(app, view)
    _register_clicks_and_export(app, view)


def _register_groups(app, view):
    @app.callback(
        Output(CHARTS, "children"),
        Output(TAGS, "data"),
        Output(MESSAGE, "children"),
        Input(RUNS_INFO, "data"),
        Input(SELECTED_RUNS, "data"),
        Input(TAG_FILTER, "value"),
        State(TAGS, "data"),
        State({"type": GROUP_HEAD, "group": ALL}, "n_clicks"),
        State({"type": GROUP_INFO, "group": ALL}, "data"),
        prevent_initial_call=True,  # the layout holds the initial charts: they load at once
    )
    def charts(info, selected, pattern, old, _clicks, _infos):
        names = [r["name"] for r in untrusted.runs_info(info)]
        sel = [n for n in untrusted.names(selected) if n in names]
        tags = scalar_tags(view, sel)
        try:
            shown = _filter_tags(tags, pattern)
        except ValueError as e:
            return dash.no_update, dash.no_update, str(e)
        message = chart_message(names, sel, tags, shown, pattern)
        if old is not None and shown == old:
            return dash.no_update, dash.no_update, message
        states = dash.ctx.states_list
        is_open = groups_open(_by_group(states[1]), _by_group(states[2]))
        return chart_groups(shown, next(view.generation), is_open), shown, message

    @app.callback(
        Output(RANK_BOX, "style"),
        Input(RUNS_INFO, "data"),
        prevent_initial_call=True,
    )
    def rank_box(info):
        return rank_box_style(info)

    @app.callback(
        Output({"type": GROUP_BODY, "group": MATCH}, "children"),
        Output({"type": GROUP_INFO, "group": MATCH}, "data"),
        Input({"type": GROUP_HEAD, "group": MATCH}, "n_clicks"),
        State({"type": GROUP_INFO, "group": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def open_group(clicks, info):
        """A collapsed group gets its charts when first opened (they stay when closed)."""
        if not isinstance(info, dict) or info.get("rendered") or not clicks:
            return dash.no_update, dash.no_update
        cards = [_chart(t, next(view.generation)) for t in untrusted.names(info.get("tags"))]
        return cards, {**info, "rendered": True}


def _register_charts(app, view):
    @app.callback(
        Output({"type": GRAPH, "tag": MATCH}, "figure"),
        Output({"type": STATE, "tag": MATCH}, "data"),
        Input(SELECTED_RUNS, "data"),
        Input(SMOOTHING, "value"),
        Input(XAXIS, "value"),
        Input(LOGSCALE, "value"),
        Input(GROUP_MODE, "value"),
        Input(GROUP_KEY, "value"),
        Input(RANK_MODE, "value"),
        Input({"type": VISIBLE, "tag": MATCH}, "data"),
        Input(FOCUS, "data"),
        State({"type": GRAPH, "tag": MATCH}, "id"),
        State({"type": STATE, "tag": MATCH}, "data"),
        State(RUNS_INFO, "data"),
        # nothing is built until the browser flags the chart visible (assets/scalars.js)
        prevent_initial_call=True,
    )
    def chart(selected, weight, xmode, logs, gmode, gkey, ranks, visible, focus, gid, old, info):
        controls = dict(
            selected=selected, weight=weight, xmode=xmode, logs=logs, gmode=gmode, gkey=gkey,
            ranks=ranks, zoom=None, visible=visible, focus=focus,
        )  # fmt: skip
        got = build_chart(view, controls, dash.ctx.triggered_id, gid, old, info)
        if got is UNCHANGED:
            return dash.no_update, dash.no_update
        return got[0], _or_keep(got[1])

    @app.callback(
        Output({"type": EXTEND, "tag": ALL}, "data"),
        Output({"type": GRAPH, "tag": ALL}, "figure", allow_duplicate=True),
        Output({"type": STATE, "tag": ALL}, "data", allow_duplicate=True),
        Input(RUNS_INFO, "data"),
        State({"type": STATE, "tag": ALL}, "data"),
        State(SELECTED_RUNS, "data"),
        State(LOGSCALE, "value"),
        State(GROUP_KEY, "value"),
        prevent_initial_call=True,
    )
    def live(info, states, selected, logs, gkey):
        updates = [live_update(view, s, info, selected, logs, gkey) for s in states]
        return tuple([_or_keep(u[i]) for u in updates] for i in range(3))

    # A zoom rebuilds the chart through zoom_route, drawn by assets/scalars_zoom.js itself
    # (Dash's callback path cost the zoom ~100 ms in the browser). Only x-range changes go:
    # Plotly also reports autosize and y-only changes.
    zoom_route.register(app, functools.partial(zoom_build, view))
    app.clientside_callback(
        ClientsideFunction(namespace="flowlog_scalars_zoom", function_name="zoom"),
        Output({"type": GRAPH, "tag": MATCH}, "figure", allow_duplicate=True),
        Output({"type": STATE, "tag": MATCH}, "data", allow_duplicate=True),
        Input({"type": GRAPH, "tag": MATCH}, "relayoutData"),
        State(SELECTED_RUNS, "data"),
        State(SMOOTHING, "value"),
        State(XAXIS, "value"),
        State(LOGSCALE, "value"),
        State(GROUP_MODE, "value"),
        State(GROUP_KEY, "value"),
        State(RANK_MODE, "value"),
        State({"type": VISIBLE, "tag": MATCH}, "data"),
        State(FOCUS, "data"),
        State({"type": GRAPH, "tag": MATCH}, "id"),
        State({"type": STATE, "tag": MATCH}, "data"),
        State(RUNS_INFO, "data"),
        prevent_initial_call=True,
    )

    # slider and number box show one weight: whichever moved sets the other
    app.clientside_callback(
        ClientsideFunction(namespace="flowlog_scalars", function_name="smoothing"),
        Output(SMOOTHING, "value", allow_duplicate=True),
        Output(SMOOTHING_BOX, "value"),
        Input(SMOOTHING, "value"),
        Input(SMOOTHING_BOX, "value"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        ClientsideFunction(namespace="flowlog_scalars", function_name="extend"),
        Output({"type": EXTENDED, "tag": MATCH}, "data"),
        Input({"type": EXTEND, "tag": MATCH}, "data"),
        State({"type": EXTEND, "tag": MATCH}, "id"),
        prevent_initial_call=True,
    )


def _register_clicks_and_export(app, view):
    @app.callback(
        Output(FOCUS, "data", allow_duplicate=True),
        Output(TABS, "value", allow_duplicate=True),
        Input({"type": GRAPH, "tag": ALL}, "clickData"),
        State({"type": STATE, "tag": ALL}, "data"),
        prevent_initial_call=True,
    )
    def click(_all, states):
        data = dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None
        got = focus_from_click(dash.ctx.triggered_id, data, states)
        if got is None:
            return dash.no_update, dash.no_update
        return got[0], _or_keep(got[1])

    @app.callback(
        Output(FOCUS_BAR, "hidden"),
        Output(FOCUS_TEXT, "children"),
        Input(FOCUS, "data"),
        prevent_initial_call=True,
    )
    def focus_bar(focus):
        if own_click(focus):
            return dash.no_update, dash.no_update  # (a curve click: the bar stays as it is)
        text = focus_label(focus_of(focus))
        return text is None, text or ""

    @app.callback(
        Output(FOCUS, "data", allow_duplicate=True),
        Input(FOCUS_CLEAR, "n_clicks"),
        prevent_initial_call=True,
    )
    def clear_focus(n):
        return None if n else dash.no_update  # every chart back to its whole range

    @app.callback(
        Output(DOWNLOAD, "data"),
        Input(EXPORT_CSV, "n_clicks"),
        Input(EXPORT_JSON, "n_clicks"),
        State(SELECTED_RUNS, "data"),
        State(TAGS, "data"),
        State(SMOOTHING, "value"),
        State({"type": STATE, "tag": ALL}, "data"),
        State(RUNS_INFO, "data"),
        prevent_initial_call=True,
    )
    def export_scalars(_csv, _json, selected, tags, weight, states, info):
        fmt = "json" if dash.ctx.triggered_id == EXPORT_JSON else "csv"
        return export_file(view, fmt, selected, tags, weight, states, info or [])

    @app.callback(
        Output(DOWNLOAD, "data", allow_duplicate=True),
        Input({"type": CARD_EXPORT, "tag": ALL, "fmt": ALL}, "n_clicks"),
        State(SELECTED_RUNS, "data"),
        State(SMOOTHING, "value"),
        State({"type": STATE, "tag": ALL}, "data"),
        State(RUNS_INFO, "data"),
        prevent_initial_call=True,
    )
    def export_card(_clicks, selected, weight, states, info):
        got = card_export(dash.ctx.triggered_id, dash.ctx.triggered)
        if got is None:
            return dash.no_update  # (new cards' buttons arriving, not a click)
        tag, fmt = got
        out = export_file(view, fmt, selected, [tag], weight, states, info or [])
        return {**out, "filename": f"{image_config(tag)['toImageButtonOptions']['filename']}.{fmt}"}
