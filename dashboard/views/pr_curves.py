"""PR Curves: precision over recall per tag, like TensorBoard's PR Curves dashboard.

Per tag a chart with one line per selected run (in its colour) at the step its slider picks:
by default the latest step of the tag; the slider stops at every step any run logged the tag
at, and a run without a curve there shows its latest one before it. Hovering a point tells
its threshold, precision, recall and TP/FP/TN/FN. The charts are rebuilt when a run logs a new
curve; a slider left on the latest step follows the new latest one.
"""

from __future__ import annotations

import dash
from dash import ALL, MATCH, Input, Output, State, dcc, html

from flowlog.dashboard import media_tags, pr_data, tab_gate, untrusted
from flowlog.dashboard.controls import image_config, tag_filter_input
from flowlog.dashboard.ids import RUNS_INFO, SELECTED_RUNS, TABS
from flowlog.dashboard.patterns import PatternError

TAB_ID = "pr_curves"
TAB_LABEL = "PR Curves"

TAG_FILTER = "pr-tag-filter"
CHARTS = "pr-charts"
VERSION = "pr-version"
GRAPH = "pr-graph"  # pattern id types: {"type": ..., "tag": tag}
STEP = "pr-step"  # the slider: its value indexes the tag's steps
STEPS = "pr-steps"  # the steps the slider stops at

NO_RUNS = media_tags.NO_RUNS
NO_CURVES = (
    "No PR curves logged in the selected runs — call "
    "`writer.add_pr_curve(tag, labels, predictions, step)` (labels 0/1, predictions in [0, 1])."
)


def layout(ctx):
    return html.Div(
        className="fl-view fl-pr-curves",
        children=[
            html.Div(className="fl-toolbar", children=[tag_filter_input(TAG_FILTER)]),
            dcc.Store(id=VERSION),
            html.Div(id=CHARTS, className="fl-chart-groups"),
        ],
    )


def _colors(info) -> dict[str, str]:
    return {r["name"]: r["color"] for r in untrusted.runs_info(info)}


def problem_notes(problems: dict[str, str]) -> list:
    """One line per run that could not be drawn, naming it and why."""
    return [html.Div(f"⚠ {text}", className="fl-run-problem") for text in problems.values()]


def card(data, tag: str, runs: list[str], colors: dict, old=None, old_latest=None) -> html.Div:
    """One tag's card: its chart at the chosen step and the step slider under it (it moves
    from one logged step to the next: its value is the index into the tag's steps)."""
    problems: dict[str, str] = {}
    curves = pr_data.read_curves(data, tag, runs, problems)
    steps = pr_data.steps_of(curves)
    step = pr_data.default_step(steps, old, old_latest)
    fig = pr_data.pr_figure(tag, curves, colors, step, problems)
    slider = dcc.Slider(
        id={"type": STEP, "tag": tag},
        min=0,
        max=max(len(steps) - 1, 0),
        step=1,
        marks=pr_data.slider_marks(steps),
        value=steps.index(step) if step is not None else 0,
        included=False,
        disabled=len(steps) < 2,
        allow_direct_input=False,
        updatemode="drag",  # the chart follows the handle (each step is one cached read)
        className="fl-pr-slider",
    )
    return html.Div(
        className="fl-card fl-pr-card",
        **{"data-fl-tag": tag},
        children=[
            dcc.Graph(id={"type": GRAPH, "tag": tag}, figure=fig, config=image_config(tag)),
            html.Div(
                className="fl-pr-step",
                title="the step shown: runs without a curve at it show their latest before it",
                children=[html.Span("step", className="fl-pr-step-label"), slider],
            ),
            dcc.Store(id={"type": STEPS, "tag": tag}, data=steps),
        ],
    )


def groups(data, by_tag: dict, colors: dict, old_steps: dict) -> list:
    """Collapsible groups of cards by tag prefix (``pr/train`` and ``pr/val`` share ``pr``)."""
    grouped: dict[str, list[str]] = {}
    for tag in sorted(by_tag):
        grouped.setdefault(tag.split("/", 1)[0], []).append(tag)
    out = []
    for prefix, tags in grouped.items():
        cards = [card(data, t, by_tag[t], colors, *old_steps.get(t, (None, None))) for t in tags]
        count = f"{len(tags)} chart{'s' if len(tags) != 1 else ''}"
        out.append(
            html.Details(
                open=True,
                className="fl-group",
                children=[
                    html.Summary([html.Span(prefix), html.Span(count, className="fl-count")]),
                    html.Div(cards, className="fl-chart-grid fl-pr-grid"),
                ],
            )
        )
    return out


def old_slider_steps(values, step_lists, ids) -> dict:
    """``{tag: (step shown, latest step)}`` of the sliders on the page (from the browser:
    anything that is not a slider's index into its steps is left out)."""
    out = {}
    lists = [x if isinstance(x, list) else [] for x in (values, step_lists, ids)]
    for index, steps, i in zip(*lists, strict=False):  # (crafted lists may differ in length)
        tag = i.get("tag") if isinstance(i, dict) else None
        steps = pr_data.valid_steps(steps)
        step = pr_data.step_at(steps, index)
        if isinstance(tag, str) and step is not None:
            out[tag] = (step, steps[-1])
    return out


def charts_children(data, info, by_tag: dict, problems: dict, old_steps: dict) -> list:
    """The view's content for the tags :func:`pr_data.collect` found."""
    notes = [html.Div(problem_notes(problems), className="fl-message")] if problems else []
    if not by_tag:
        return [*notes, html.Div(NO_CURVES, className="fl-message")]
    return [*notes, *groups(data, by_tag, _colors(info), old_steps)]


def step_figure(data, gid, index, steps, selected, info):
    """The chart of one tag at the step its slider's ``index`` picks from ``steps`` (the latest
    when it picks none); ``dash.no_update`` for a crafted id."""
    tag = gid.get("tag") if isinstance(gid, dict) else None
    if not untrusted.is_name(tag):
        return dash.no_update
    problems: dict[str, str] = {}
    having = pr_data.collect(data, info, selected, None, problems)[0].get(tag, [])
    curves = pr_data.read_curves(data, tag, having, problems)
    step = pr_data.step_at(pr_data.valid_steps(steps), index)
    if step is None:
        step = pr_data.default_step(pr_data.steps_of(curves))
    return pr_data.pr_figure(tag, curves, _colors(info), step, problems)


def register(app, ctx):
    tab_gate.register(app, ctx, TAB_ID)

    @app.callback(
        Output(CHARTS, "children"),
        Output(VERSION, "data"),
        Input(tab_gate.runs_info(TAB_ID), "data"),
        Input(SELECTED_RUNS, "data"),
        Input(TAG_FILTER, "value"),
        Input(TABS, "value"),
        State(VERSION, "data"),
        State({"type": STEP, "tag": ALL}, "value"),
        State({"type": STEPS, "tag": ALL}, "data"),
        State({"type": STEP, "tag": ALL}, "id"),
        prevent_initial_call=True,  # hidden while the page loads: built when the tab opens
    )
    def charts(info, selected, pattern, tab, old_version, values, step_lists, ids):
        if tab != TAB_ID:
            return dash.no_update, dash.no_update  # hidden: build when the tab is opened
        names = {r["name"] for r in untrusted.runs_info(info)}
        if not [n for n in untrusted.names(selected) if n in names]:
            return html.Div(NO_RUNS, className="fl-message"), None
        problems: dict[str, str] = {}
        try:
            by_tag, version = pr_data.collect(ctx.data, info, selected, pattern, problems)
        except PatternError as e:
            return html.Div(str(e), className="fl-message"), dash.no_update
        key = [version, pattern if isinstance(pattern, str) else None, sorted(problems)]
        if old_version == key and tab_gate.refresh_or_open(dash.ctx.triggered_id):
            return dash.no_update, dash.no_update  # nothing new logged: keep zoom and steps
        old = old_slider_steps(values, step_lists, ids)
        return charts_children(ctx.data, info, by_tag, problems, old), key

    @app.callback(
        Output({"type": GRAPH, "tag": MATCH}, "figure"),
        Input({"type": STEP, "tag": MATCH}, "value"),
        State({"type": STEPS, "tag": MATCH}, "data"),
        State({"type": GRAPH, "tag": MATCH}, "id"),
        State(SELECTED_RUNS, "data"),
        State(RUNS_INFO, "data"),
        prevent_initial_call=True,  # a card comes drawn at its step
    )
    def step_changed(index, steps, gid, selected, info):
        return step_figure(ctx.data, gid, index, steps, selected, info)
