"""Text: what ``writer.add_text`` logged, rendered as Markdown, like TensorBoard's Text tab.

Per tag (the tag filter as in the other views): a step slider (default: the latest step) and a
card per selected run, in its colour, with the text it logged at that step (or the latest step
before it). "Show all steps" lists every run's texts instead, newest first, at most
``text_data.MAX_LISTED`` of them.

Texts come from the log, so they are untrusted: they are rendered by ``dcc.Markdown`` with
``dangerously_allow_html=False`` (raw HTML is shown as text, never parsed), and
react-markdown's URL transform turns a link to any scheme but http(s), mailto and tel into an
inert ``javascript:void(0)``, which ``assets/media.js`` then removes. No text is ever put into
the page as HTML.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, dcc, html

from flowlog.dashboard import media_tags, tab_gate
from flowlog.dashboard import text_data as td
from flowlog.dashboard.controls import tag_filter_input
from flowlog.dashboard.ids import SELECTED_RUNS, TABS

TAB_ID = "text"
TAB_LABEL = "Text"

TAG_FILTER = "text-tag-filter"
SHOW_ALL = "text-show-all"
CARDS = "text-cards"
VERSION = "text-version"
# per tag (pattern ids {"type": ..., "tag": tag})
STEP = "text-step"  # dcc.Slider: an index into the tag's steps
STEPS = "text-steps"  # dcc.Store: the tag's steps (the union over the runs shown)
BODY = "text-body"  # the tag's run cards
LABEL = "text-step-label"

NO_RUNS = media_tags.NO_RUNS
NO_TEXT = [
    "No text logged in the selected runs — call ",
    html.Code("writer.add_text(tag, text, step)"),
    ". Texts are Markdown: tables, fenced code blocks, lists and links render.",
]


def markdown(text: str) -> list:
    """A text rendered as Markdown, raw HTML escaped; cut (with a note) when very long."""
    shown, note = td.clip(text)
    md = dcc.Markdown(
        shown,
        dangerously_allow_html=False,
        dedent=False,
        link_target="_blank",
        mathjax=False,
        className="fl-markdown",
    )
    return [md, html.Div(note, className="fl-hint")] if note else [md]


def read_runs(data, tag: str, runs: dict) -> tuple[dict, dict]:
    """``({run: (colour, entries)}, problems)`` of one tag, runs by name."""
    return media_tags.read_runs(data, runs, lambda name: td.entries(data, name, tag))


def cards_at(per_run: dict, problems: dict, step: int) -> list:
    """A card per run with its text at ``step`` (or the latest before it)."""
    cards = []
    for name, (color, items) in per_run.items():
        e = media_tags.item_at(items, step)
        if e is None:
            head = media_tags.run_head(name, color)
            missing = media_tags.missing_note(items, step, "text")
            body = [html.Div(missing, className="fl-media-missing")]
        else:
            before = f"latest before step {step}" if e.step != step else None
            head = media_tags.run_head(name, color, f"step {e.step}", before, td.when(e.wall))
            body = markdown(e.text)
        cards.append(html.Div([head, *body], className="fl-card fl-text-card"))
    if problems:
        cards.append(media_tags.problem_card(problems))
    return cards


def cards_all(per_run: dict, problems: dict) -> list:
    """A card per run listing its texts newest first, under a header per step."""
    cards = []
    for name, (color, items) in per_run.items():
        shown, total = td.newest(items)
        count = f"{total} step{'s' if total != 1 else ''}"
        children = [media_tags.run_head(name, color, count)]
        note = td.listed_note(len(shown), total)
        if note:
            children.append(html.Div(note, className="fl-hint"))
        for e in shown:
            children.append(
                html.Div(
                    className="fl-text-entry",
                    children=[
                        html.Div(
                            [html.Span(f"step {e.step}"), html.Span(td.when(e.wall))],
                            className="fl-text-step",
                        ),
                        *markdown(e.text),
                    ],
                )
            )
        if not items:
            children.append(html.Div("no text logged", className="fl-media-missing"))
        cards.append(html.Div(children, className="fl-card fl-text-card"))
    if problems:
        cards.append(media_tags.problem_card(problems))
    return cards


def tag_group(data, tag: str, runs: dict, show_all: bool, previous: int | None = None):
    """One tag's group: its step slider and a card per run (every step listed with
    ``show_all``). ``previous``: the step the user had chosen, kept across a re-render."""
    per_run, problems = read_runs(data, tag, runs)
    summary = html.Summary([html.Span(tag), html.Span(str(len(runs)), className="fl-count")])
    if show_all:
        body = html.Div(cards_all(per_run, problems), className="fl-text-grid")
        return html.Details(open=True, className="fl-group", children=[summary, body])
    steps = media_tags.union_steps([e.step for e in items] for _c, items in per_run.values())
    if not steps:
        body = html.Div(cards_at(per_run, problems, 0), className="fl-text-grid")
        return html.Details(open=True, className="fl-group", children=[summary, body])
    index = media_tags.initial_index(steps, previous)
    key = {"tag": tag}
    controls = [html.Span(media_tags.step_label(steps[index], len(steps)),
                          id={"type": LABEL, **key}, className="fl-step-label")]  # fmt: skip
    if len(steps) > 1:
        controls.append(media_tags.step_slider({"type": STEP, **key}, steps, index))
    return html.Details(
        open=True,
        className="fl-group",
        children=[
            summary,
            html.Div(controls, className="fl-step-row"),
            dcc.Store(id={"type": STEPS, **key}, data=steps),
            html.Div(
                cards_at(per_run, problems, steps[index]),
                id={"type": BODY, **key},
                className="fl-text-grid",
            ),
        ],
    )


def layout(ctx):
    return html.Div(
        className="fl-view fl-text",
        children=[
            html.Div(
                className="fl-toolbar",
                children=[
                    tag_filter_input(TAG_FILTER),
                    dcc.Checklist(
                        id=SHOW_ALL,
                        options=[{"label": "show all steps", "value": "all"}],
                        value=[],
                        inline=True,
                        className="fl-segmented",
                    ),
                ],
            ),
            dcc.Store(id=VERSION),
            html.Div(id=CARDS, className="fl-chart-groups"),
        ],
    )


empty_message = media_tags.empty_message("text", NO_TEXT)


def register(app, ctx):
    tab_gate.register(app, ctx, TAB_ID)

    @app.callback(
        Output(CARDS, "children"),
        Output(VERSION, "data"),
        Input(tab_gate.runs_info(TAB_ID), "data"),
        Input(SELECTED_RUNS, "data"),
        Input(TAG_FILTER, "value"),
        Input(SHOW_ALL, "value"),
        Input(TABS, "value"),
        State(VERSION, "data"),
        State({"type": STEP, "tag": ALL}, "value"),
        State({"type": STEPS, "tag": ALL}, "data"),
        prevent_initial_call=True,  # hidden while the page loads: built when the tab opens
    )
    def cards(info, selected, pattern, show, tab, old_version, _values, _steps):
        if tab != TAB_ID:
            return dash.no_update, dash.no_update
        show_all = isinstance(show, list) and "all" in show
        return media_tags.rebuild(
            ctx.data, "text", info, selected, pattern, old_version, [show_all],
            lambda tag, runs, previous: tag_group(ctx.data, tag, runs, show_all, previous),
            empty_message,
        )  # fmt: skip

    media_tags.register_step_slider(
        app, ctx.data, "text", {"step": STEP, "steps": STEPS, "body": BODY, "label": LABEL},
        lambda tag, runs: read_runs(ctx.data, tag, runs),
        lambda _tag, per_run, problems, step: cards_at(per_run, problems, step),
    )  # fmt: skip
