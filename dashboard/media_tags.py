"""What the Text and Images views share (plain functions, no callbacks): the selected runs'
tags of one kind (Histograms and PR Curves use that too), the union of their steps, the step a
tag's slider shows, the slider itself, the run header of a card, the tab's rebuild.

A tag's slider runs over the positions of the union of every selected run's steps (steps are
uneven: every 100th, then every 1000th), its value an index into that list; each run shows what
it logged at the chosen step or, if it logged nothing there, at the latest step before it. A
live re-render keeps a slider the user moved where it was; one left at the latest step follows
new steps, as TensorBoard's do.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

import dash
from dash import MATCH, Input, Output, State, dcc, html

from flowlog.dashboard import tab_gate, untrusted
from flowlog.dashboard.ids import RUNS_INFO, SELECTED_RUNS
from flowlog.dashboard.patterns import PatternError, compile_pattern
from flowlog.dashboard.untrusted import RUN_ERRORS

MAX_MARKS = 6  # labelled steps under a slider
NO_RUNS = "No runs selected — tick runs in the panel on the left."


def collect(data, info, selected, pattern, kind: str, problems: dict | None = None):
    """``({tag: {run: (colour, TagInfo)}}, version)`` of the selected runs' tags of ``kind``
    (``"text"``, ``"image"``) matching the tag filter ``pattern``; the version lists every
    (run, tag, count, last step, colour), so an unchanged log redraws nothing and a colour the
    user picks for a run redraws its cards. A run whose tags cannot
    be read is left out and named in ``problems`` (run -> why). Raises
    :class:`~flowlog.dashboard.patterns.PatternError` for a filter that cannot be used."""
    colors = {r["name"]: r["color"] for r in untrusted.runs_info(info)}
    rx = compile_pattern(pattern, "tag filter")
    by_tag: dict[str, dict[str, tuple[str, object]]] = {}
    version = []
    for name in untrusted.names(selected):
        if name not in colors:
            continue
        try:
            tags = data.tags(name, kind=kind)
        except RUN_ERRORS as exc:
            if problems is not None:
                problems[name] = untrusted.problem(name, exc, data)
            continue
        for t in tags.values():
            if rx is not None and not rx.search(t.tag):
                continue
            version.append([name, t.tag, t.count, t.last_step, colors[name]])
            by_tag.setdefault(t.tag, {})[name] = (colors[name], t)
    return by_tag, version


def union_steps(per_run: Iterable[Iterable[int]]) -> list[int]:
    """Every step any run logged, sorted, once each."""
    out: set[int] = set()
    for steps in per_run:
        out.update(int(s) for s in steps)
    return sorted(out)


def at_or_before(steps: Sequence[int], step: int) -> int | None:
    """The index of the last of the sorted ``steps`` that is ``<= step``, or None."""
    i = bisect.bisect_right(steps, step) - 1
    return i if i >= 0 else None


def item_at(items: Sequence, step: int):
    """Of ``items`` sorted by ``.step``, the one logged at ``step`` or, when there is none,
    the latest before it (None)."""
    i = at_or_before([item.step for item in items], step)
    return None if i is None else items[i]


def missing_note(items: Sequence, step: int, what: str) -> str:
    """What a card says when its run logged nothing (``what``: "image", "text") at or before
    ``step``."""
    if not items:
        return f"no {what} logged"
    return f"nothing logged at or before step {step} (first at step {items[0].step})"


def read_runs(data, runs: dict, read) -> tuple[dict, dict]:
    """``({run: (colour, read(run))}, problems)`` for the ``{run: (colour, TagInfo)}`` of one
    tag, runs by name; a run that cannot be read is named in ``problems``, the others read."""
    per_run, problems = {}, {}
    for name, (color, _info) in sorted(runs.items()):
        try:
            per_run[name] = (color, read(name))
        except RUN_ERRORS as exc:
            problems[name] = untrusted.problem(name, exc, data)
    return per_run, problems


def steps_list(value) -> list[int] | None:
    """A tag's steps as a component sent them back (sorted ints), or None if it is not one."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        return None
    return value if all(a < b for a, b in zip(value, value[1:], strict=False)) else None


def chosen_step(index, steps) -> int | None:
    """The step a slider's ``index`` points at in ``steps`` (both from the browser); the
    latest step when the index is not a usable one; None without steps."""
    steps = steps_list(steps)
    if steps is None:
        return None
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(steps):
        return steps[index]
    return steps[-1]


def previous_choices(slider_states, steps_states) -> dict[str, int]:
    """``{tag: step}`` of the sliders the user moved off the latest step, from the ALL states
    of the sliders' values and their steps stores (``dash.ctx.states_list`` entries)."""
    steps_of = {}
    for entry in steps_states if isinstance(steps_states, list) else []:
        tag = _tag_of(entry)
        steps = steps_list(entry.get("value")) if tag is not None else None
        if steps is not None:
            steps_of[tag] = steps
    out = {}
    for entry in slider_states if isinstance(slider_states, list) else []:
        tag = _tag_of(entry)
        steps = steps_of.get(tag)
        index = entry.get("value") if tag is not None else None
        if steps is None or not isinstance(index, int) or isinstance(index, bool):
            continue
        if 0 <= index < len(steps) - 1:  # at the latest step: follow new ones
            out[tag] = steps[index]
    return out


def _tag_of(entry) -> str | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), dict):
        return None
    tag = entry["id"].get("tag")
    return tag if untrusted.is_name(tag) else None


def initial_index(steps: Sequence[int], previous: int | None) -> int:
    """Where a tag's slider starts: at ``previous`` (the step the user chose, or the latest
    step before it that still exists), else at the latest step."""
    if previous is not None:
        i = at_or_before(steps, previous)
        if i is not None:
            return i
    return len(steps) - 1


def mark_indices(n: int, limit: int = MAX_MARKS) -> list[int]:
    """At most ``limit`` of ``n`` positions at an even stride from the first, plus the last.

    An even stride keeps the labels evenly spaced under the slider (rounding ``k * (n-1) /
    (limit-1)`` left a visible gap, e.g. 7 steps labelled 0 1 2 _ 4 5 6); the last position
    always gets its label and replaces a stride mark that would crowd it.
    """
    if n <= limit + 2:  # a couple more labels beat a gap
        return list(range(n))
    stride = -(-(n - 1) // (limit - 1))
    marks = list(range(0, n - 1, stride))
    if n - 1 - marks[-1] <= stride / 2:
        marks.pop()
    return [*marks, n - 1]


def step_slider(component_id: dict, steps: Sequence[int], index: int) -> dcc.Slider:
    """A slider over the positions of ``steps``, labelled with a few of the steps."""
    return dcc.Slider(
        id=component_id,
        min=0,
        max=max(len(steps) - 1, 0),
        step=1,
        value=index,
        marks={i: {"label": str(steps[i])} for i in mark_indices(len(steps))},
        included=False,
        allow_direct_input=False,
        updatemode="mouseup",
        className="fl-step-slider",
    )


def step_label(step: int | None, n: int) -> str:
    if step is None:
        return ""
    return f"step {step}" + (f" · {n} steps" if n > 1 else " · the only step")


def run_head(name: str, color: str, *details) -> html.Div:
    """A card's header: the run's colour swatch and name, under it the details (step, size,
    time...), so cards side by side line up whatever their widths."""
    shown = [d for d in details if d]
    rows = [
        html.Div(
            [
                html.Span(className="fl-swatch", style={"background": color}),
                html.Span(name, className="fl-media-run", title=name),
            ],
            className="fl-media-name",
        )
    ]
    if shown:
        parts = []
        for i, d in enumerate(shown):
            parts += [html.Span("·", className="fl-media-sep")] if i else []
            parts.append(html.Span(d, className="fl-media-detail"))
        rows.append(html.Div(parts, className="fl-media-details"))
    return html.Div(rows, className="fl-media-head")


def problem_card(problems: dict[str, str], class_name: str = "fl-card fl-problem-card"):
    """One line per run that could not be read, naming it and why."""
    notes = [html.Div(f"⚠ {text}", className="fl-run-problem") for text in problems.values()]
    return html.Div(notes, className=class_name)


def all_states(i: int) -> list:
    """The ALL (wildcard) state ``i`` of the running callback (``dash.ctx.states_list``), or
    [] when the request did not send one that is a list."""
    try:
        got = dash.ctx.states_list[i]
    except (IndexError, TypeError, KeyError):
        return []
    return got if isinstance(got, list) else []


def matched_tag() -> str | None:
    """The tag of the MATCH callback running now (from its first output's id)."""
    try:
        tag = dash.ctx.outputs_list[0]["id"]["tag"]
    except (IndexError, KeyError, TypeError):
        return None
    return tag if untrusted.is_name(tag) else None


def empty_message(kind: str, nothing):
    """The tab's message when nothing is drawn: ``(selected, pattern) -> text``; ``nothing``
    says what to log when the selected runs have no ``kind`` tag at all."""

    def message(selected, pattern):
        if not untrusted.names(selected):
            return NO_RUNS
        if isinstance(pattern, str) and pattern:
            return f"No {kind} tag of the selected runs matches the filter '{pattern[:60]}'."
        return nothing

    return message


def register_step_slider(app, data, kind: str, ids: dict, read, render) -> None:
    """The callback a tag's step slider drives: its run cards and step label at the chosen
    step. ``ids``: the view's pattern-id types ``step``, ``steps``, ``body``, ``label``;
    ``read(tag, runs)`` -> ``(per run, problems)``; ``render(tag, per_run, problems, step)``
    -> the cards."""

    @app.callback(
        Output({"type": ids["body"], "tag": MATCH}, "children"),
        Output({"type": ids["label"], "tag": MATCH}, "children"),
        Input({"type": ids["step"], "tag": MATCH}, "value"),
        State({"type": ids["steps"], "tag": MATCH}, "data"),
        State(RUNS_INFO, "data"),
        State(SELECTED_RUNS, "data"),
        prevent_initial_call=True,  # the group is built with its cards
    )
    def at_step(index, steps, info, selected):
        tag = matched_tag()
        step = chosen_step(index, steps)
        if tag is None or step is None:
            return dash.no_update, dash.no_update
        # a run whose tags cannot be read is named by the whole view's message already
        runs = collect(data, info, selected, None, kind)[0].get(tag, {})
        per_run, problems = read(tag, runs)
        return render(tag, per_run, problems, step), step_label(step, len(steps))


def rebuild(data, kind: str, info, selected, pattern, old_version, extra_key, make_group,
            empty_message):  # fmt: skip
    """The whole Images/Text tab: ``(children, version key)``, or no_update twice when a
    refresh tick or reopening the tab finds nothing new (so the sliders stay). ``make_group(tag,
    runs, previous slider step)`` builds one tag's group; ``extra_key`` holds the view's own
    controls that change what is drawn."""
    problems: dict[str, str] = {}
    try:
        by_tag, version = collect(data, info, selected, pattern, kind, problems)
    except PatternError as e:
        return html.Div(str(e), className="fl-message"), dash.no_update
    key = [version, *extra_key, pattern if isinstance(pattern, str) else None, sorted(problems)]
    if old_version == key and tab_gate.refresh_or_open(dash.ctx.triggered_id):
        return dash.no_update, dash.no_update
    previous = previous_choices(all_states(1), all_states(2))
    notes = [problem_card(problems, "fl-message")] if problems else []
    if not by_tag:
        return [*notes, html.Div(empty_message(selected, pattern), className="fl-message")], key
    groups = [make_group(t, by_tag[t], previous.get(t)) for t in sorted(by_tag)]
    return [*notes, *groups], key
