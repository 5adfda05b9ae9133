"""The left runs panel: discovery on every refresh, colours, status, checkboxes, regex filter.

It owns RUNS_INFO (what the reader discovered, refreshed on the REFRESH interval and only
re-sent when something changed, with the user's colour picks applied) and SELECTED_RUNS
(checked runs matching the filter). Other views may write SELECTED_RUNS too (HParams row
selection); the panel then follows. A logdir of many runs starts with the 20 most recent
checked, and a note offers all (run_selection).
Clicking a run's swatch picks its colour (assets/runs_colors.js); picks live in the browser's
localStorage (PICKS, per logdir), never in the logdir.
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

import dash
from dash import Input, Output, State, dcc, html

from flowlog.dashboard import untrusted
from flowlog.dashboard.colors import run_colors, with_picks
from flowlog.dashboard.ids import REFRESH, RUNS_INFO, SELECTED_RUNS
from flowlog.dashboard.patterns import PatternError, compile_pattern
from flowlog.dashboard.run_selection import (
    MAX_DEFAULT_RUNS,
    default_selection,
    most_recent,
    selection_note,
    with_new_runs,
)

FILTER = "runs-filter"
CHECKLIST = "runs-checklist"
ALL_BUTTON = "runs-all"
NONE_BUTTON = "runs-none"
CHECKED = "runs-checked"  # every checked run, also those hidden by the filter
KNOWN = "runs-known"  # runs seen so far: one not in here is new (run_selection.with_new_runs)
LIST_BOX = "runs-list-box"  # holds CHECKLIST, rebuilt whole when runs join the list
SHOWN = "runs-shown"  # names CHECKLIST lists now, in order
EMPTY = "runs-empty"
WARNINGS = "runs-warnings"
WARNINGS_SEEN = "runs-warnings-seen"  # the warnings shown, to re-render only on change
LIVE = "live-indicator"
FILTER_ERROR = "runs-filter-error"
NOTE = "runs-note"  # "showing 20 of 300 runs · show all" (run_selection.selection_note)
NOTE_TEXT = "runs-note-text"
SHOW_ALL = "runs-show-all"  # select every run
SHOW_RECENT = "runs-show-recent"  # back to the MAX_DEFAULT_RUNS most recent
DAMAGED = "runs-damaged"  # runs discovery found but cannot open, listed with the reason
DAMAGED_SEEN = "runs-damaged-seen"  # [[name, path, reason]] shown, to re-render on change
PICKS = "run-color-picks"  # dcc.Store (localStorage): {logdir key: {run: "#rrggbb"}}
PICKS_KEY = "run-color-picks-key"  # dcc.Store: this logdir's key in PICKS
SWATCH_TIP = "click: pick this run's colour (kept in this browser) · shift-click: default"

STATUS_LABEL = {"running": "running", "finished": "finished", "crashed": "crashed"}


def discover(ctx, max_age: float) -> tuple[list[dict], list[str], str | None]:
    """``(runs info, reader warnings, problem)`` from a discovery at most ``max_age`` seconds
    old (``ctx.data.runs`` shares one scan among page loads and open pages' refresh ticks);
    problem names a missing or empty logdir."""
    root = Path(ctx.logdir_path)
    if not root.is_dir():
        return [], [], f"Logdir {root} does not exist yet — waiting for it to appear."
    runs = ctx.data.runs(max_age=max_age)
    colors = run_colors([r.name for r in runs], {r.name: r.start_time for r in runs})
    info = [
        {
            "name": r.name,
            "color": colors[r.name],
            "default_color": colors[r.name],
            "status": r.status,
            "start_time": r.start_time,
            "end_time": r.end_time,
            "last_step": r.last_step,
            # per kind: a view refreshes when its own records move (histograms per epoch
            # lag the scalars' steps and never move the run's last step)
            "last_steps": dict(r.last_steps),
            "host": r.host,
            "ranks": [
                {"rank": k.rank, "status": k.status, "last_step": k.last_step, "host": k.host}
                for k in r.ranks
            ],
        }
        for r in sorted(runs, key=lambda r: r.name)
    ]
    # runs that open but that a view failed to read (a damaged page): marked, still listed
    problems = untrusted.read_problems(ctx.data).current(ctx.data)
    for r in info:
        if r["name"] in problems:
            r["problem"] = problems[r["name"]]
    warnings = [str(w) for w in ctx.data.warnings()]
    if not info:
        return [], warnings, empty_logdir_message(root, ctx.data.unreadable())
    return info, warnings, None


def empty_logdir_message(root, unreadable) -> str:
    """What an empty logdir says: how to log a run, and TensorBoard event files it found but
    cannot read (their reason names the package to install)."""
    tensorboard = [u for u in unreadable if u.reason.startswith("TensorBoard event files")]
    if not tensorboard:
        command = f"python examples/linear_regression.py --logdir {shlex.quote(str(root))}"
        return f"No runs in {root} yet — log one with `{command}`"
    names = ", ".join(u.name for u in tensorboard[:3]) + (" …" if len(tensorboard) > 3 else "")
    why = tensorboard[0].reason.split(": ", 1)[-1]
    return (
        f"No flowlog runs in {root} yet. Found TensorBoard event files in "
        f"{len(tensorboard)} run(s) ({names}): {why}"
    )


def initial_state(ctx) -> dict:
    """What a new page starts with: current runs (as of at most one refresh interval ago),
    all of them selected, or the MAX_DEFAULT_RUNS most recent of many (run_selection)."""
    info, warnings, problem = discover(ctx, ctx.reload_interval)
    return {
        "info": info,
        "warnings": warnings,
        "problem": problem,
        "selected": default_selection(info),
    }


def _initial(ctx) -> dict:
    init = getattr(ctx.page, "initial", None)
    return (
        init if init is not None else {"info": [], "warnings": [], "problem": None, "selected": []}
    )


def compile_filter(pattern: str | None):
    """The run-name regex (case-insensitive search, RE2: linear time whatever the pattern),
    or an error message for a pattern that cannot be used."""
    try:
        return compile_pattern(pattern, "run filter", ignore_case=True), None
    except PatternError as e:
        return None, str(e)


def warnings_box(warnings: list[str]):
    """Reader warnings, collapsed to one line until opened (visible but unobtrusive)."""
    if not warnings:
        return []
    return html.Details(
        className="fl-warn-box",
        children=[
            # each warning reads "skipped PATH: why" (the reader's words): not "skipped" twice
            html.Summary(f"⚠ {len(warnings)} unreadable file{'' if len(warnings) == 1 else 's'}"),
            html.Ul([html.Li(w) for w in warnings]),
        ],
    )


def damaged_records(unreadable) -> list[list[str]]:
    """``[[name, path, reason]]`` of ``ctx.data.unreadable()`` (JSON for the DAMAGED_SEEN store)."""
    return [[u.name, u.path, u.reason] for u in unreadable]


def damaged_list(records: list[list[str]]) -> list:
    """A "damaged" row per run discovery cannot open, in the runs list, with the reason under
    its name (the file's path in the tooltip), so a broken run is seen where runs are."""
    return [
        html.Div(
            className="fl-run-row fl-run-damaged",
            title=f"{path}\n{reason}",
            children=[
                html.Span("⚠", className="fl-damaged-icon"),
                html.Span(
                    className="fl-run",
                    children=[
                        html.Span(name, className="fl-run-name"),
                        html.Span("damaged", className="fl-status fl-status-damaged"),
                        html.Span(reason, className="fl-damaged-reason"),
                    ],
                ),
            ],
        )
        for name, path, reason in records
    ]


def live_indicator(info: list[dict]) -> tuple[str, str]:
    live = any(r["status"] == "running" for r in info)
    text = f"{'live' if live else 'idle'} · checked {time.strftime('%H:%M:%S')}"
    return text, ("fl-live fl-live-on" if live else "fl-live")


def _rank_label(rank) -> str:
    return "no rank" if rank is None else f"rank {rank}"


def rank_summary(ranks: list[dict]) -> tuple[str, str, str]:
    """``(badge text, tooltip, problem)`` of a run written by several ranks: "4 ranks", one
    tooltip line per rank (status, last step, host), and what went wrong in words ("rank 2
    crashed"; empty when no rank crashed)."""
    tip = "\n".join(
        f"{_rank_label(k.get('rank'))}: {k.get('status')}"
        + ("" if k.get("last_step") is None else f", step {k['last_step']}")
        + (f", {k['host']}" if k.get("host") else "")
        for k in ranks
    )
    crashed = [k.get("rank") for k in ranks if k.get("status") == "crashed"]
    problem = ""
    if crashed and len(crashed) == len(ranks):
        problem = "all ranks crashed" if len(ranks) > 1 else f"{_rank_label(crashed[0])} crashed"
    elif len(crashed) == 1:
        problem = f"{_rank_label(crashed[0])} crashed"
    elif len(crashed) <= 3 and crashed:
        problem = "ranks " + ", ".join(str(r) for r in crashed) + " crashed"
    elif crashed:
        problem = f"{len(crashed)} of {len(ranks)} ranks crashed"
    return f"{len(ranks)} rank{'s' if len(ranks) != 1 else ''}", tip, problem


def rank_badges(ranks: list[dict]) -> list:
    """The per-rank status of a run written by several ranks: a count badge, one dot per rank
    coloured by its status (each with its own tooltip), and a red note when a rank crashed."""
    if not ranks:
        return []
    text, tip, problem = rank_summary(ranks)
    dots = [
        html.Span(
            className=f"fl-rank-dot fl-rank-{k.get('status') or 'unknown'}",
            title=tip.splitlines()[i],
        )
        for i, k in enumerate(ranks[:32])
    ]
    box = [html.Span(text, className="fl-ranks-count"), html.Span(dots, className="fl-rank-dots")]
    if problem:
        box.append(html.Span(f"⚠ {problem}", className="fl-ranks-problem"))
    bad = " fl-ranks-bad" if problem else ""
    return [html.Span(box, className=f"fl-ranks{bad}", title=tip)]


def _option(run: dict) -> dict:
    status = run.get("status") or "unknown"
    step = run.get("last_step")
    problem = run.get("problem") if isinstance(run.get("problem"), str) else None
    if problem is not None:  # "run 'x' cannot be read: ..." under the row of run x
        problem = problem.removeprefix(f"run {run['name']!r} ")
    label = html.Span(
        className="fl-run",
        children=[
            html.Span(className="fl-swatch", style={"background": run["color"]},
                      title=SWATCH_TIP, **{"data-run": run["name"]}),
            html.Span(run["name"], className="fl-run-name", title=run["name"]),
            html.Span(status, className=f"fl-status fl-status-{status}"),
            html.Span("" if step is None else f"step {step}", className="fl-run-step"),
            *rank_badges([k for k in run.get("ranks") or [] if isinstance(k, dict)]),
            *([] if problem is None else [
                html.Span("damaged", className="fl-status fl-status-damaged"),
                html.Span(problem, className="fl-damaged-reason", title=problem),
            ]),
        ],
    )  # fmt: skip
    return {"label": label, "value": run["name"]}


def note_class(mode: str) -> str:
    """The note's class: which of its buttons shows (CSS), or hidden (``mode`` "")."""
    return f"fl-runs-note fl-note-{mode}" if mode else "fl-runs-note fl-hidden"


def note_box(info: list[dict], selected: list[str]) -> html.Div:
    """The note "showing 20 of 300 runs · show all" (or "showing all 300 runs · 20 newest
    only"), hidden for a logdir of few runs; its buttons stay in the layout (inputs)."""
    text, mode = selection_note(len(selected), len(selected), len(info))
    return html.Div(
        id=NOTE,
        className=note_class(mode),
        children=[
            html.Span(text, id=NOTE_TEXT),
            html.Span("·", className="fl-note-sep"),
            html.Button("show all", id=SHOW_ALL, className="fl-link-button",
                        title="select every run (charts draw them coarser, zoom for detail)"),
            html.Button(f"{MAX_DEFAULT_RUNS} newest only", id=SHOW_RECENT,
                        className="fl-link-button",
                        title=f"select the {MAX_DEFAULT_RUNS} runs that started last"),
        ],
    )  # fmt: skip


def picks_key(ctx) -> str:
    """This logdir's entry in the browser's colour picks: one browser may show several
    logdirs (one after the other on a port), whose runs can share names."""
    return os.path.abspath(ctx.logdir_path)


def picked(info: list[dict], picks, key) -> list[dict]:
    """``info`` with the colours the user picked for this logdir (PICKS store data)."""
    mine = picks.get(key) if isinstance(picks, dict) and isinstance(key, str) else None
    return with_picks(info, mine)


def checklist(options: list[dict], value: list[str]) -> dcc.Checklist:
    return dcc.Checklist(
        id=CHECKLIST,
        options=options,
        value=value,
        className="fl-runs-list",
        labelClassName="fl-run-row",
    )


def list_update(options: list[dict], value: list[str], shown) -> tuple:
    """``(options, value, list box children)`` to send for a list of ``options``, when the
    list shows ``shown`` now. Dash 4's renderer fails to update a Checklist whose component
    labels move to another index (a run sorting before others joins: "Cannot read properties
    of undefined"), so a list that gains runs is sent as a new Checklist; one that only changes
    labels or loses runs (the filter) is updated in place, keeping its DOM."""
    if not isinstance(shown, list) or {o["value"] for o in options} <= set(shown):
        return options, value, dash.no_update
    return dash.no_update, dash.no_update, checklist(options, value)


def layout(ctx):
    init = _initial(ctx)
    names = [r["name"] for r in init["info"]]
    chosen = init["selected"]
    damaged = damaged_records(ctx.data.unreadable())  # as of the page's discovery
    return html.Aside(
        className="fl-runs",
        **{"data-colors-key": picks_key(ctx)},
        children=[
            html.Div(
                className="fl-runs-head",
                children=[
                    html.H2("Runs"),
                    html.Button("all", id=ALL_BUTTON, className="fl-link-button"),
                    html.Button("none", id=NONE_BUTTON, className="fl-link-button"),
                ],
            ),
            note_box(init["info"], chosen),
            dcc.Input(
                id=FILTER,
                type="text",
                placeholder="filter runs (regex)",
                debounce=0.3,
                className="fl-input",
            ),
            html.Div(id=FILTER_ERROR, className="fl-error"),
            html.Div(init["problem"] or "", id=EMPTY, className="fl-empty"),
            html.Div(checklist([_option(r) for r in init["info"]], chosen), id=LIST_BOX),
            dcc.Store(id=SHOWN, data=names),
            html.Div(damaged_list(damaged), id=DAMAGED, className="fl-runs-damaged"),
            dcc.Store(id=DAMAGED_SEEN, data=damaged),
            dcc.Store(id=CHECKED, data=chosen),
            dcc.Store(id=KNOWN, data=names),
            dcc.Store(id=WARNINGS_SEEN, data=init["warnings"]),
            dcc.Store(id=PICKS, storage_type="local"),
            dcc.Store(id=PICKS_KEY, data=picks_key(ctx)),
            html.Div(warnings_box(init["warnings"]), id=WARNINGS, className="fl-warnings"),
        ],
    )


def register(app, ctx):
    @app.callback(
        Output(DAMAGED, "children"),
        Output(DAMAGED_SEEN, "data"),
        Input(REFRESH, "n_intervals"),
        State(DAMAGED_SEEN, "data"),
        prevent_initial_call=True,
    )
    def damaged(_n, seen):
        ctx.data.runs(max_age=ctx.reload_interval / 2)  # the scan `refresh` also shares
        found = damaged_records(ctx.data.unreadable())
        if found == seen:
            return dash.no_update, dash.no_update
        return damaged_list(found), found

    @app.callback(
        Output(RUNS_INFO, "data"),
        Output(EMPTY, "children"),
        Output(WARNINGS, "children"),
        Output(WARNINGS_SEEN, "data"),
        Output(LIVE, "children"),
        Output(LIVE, "className"),
        Input(REFRESH, "n_intervals"),
        State(RUNS_INFO, "data"),
        State(WARNINGS_SEEN, "data"),
        State(PICKS, "data"),
        prevent_initial_call=True,  # the page layout already holds the current state
    )
    def refresh(_n, old, old_warnings, picks):
        # half an interval: one page re-scans at every tick, several pages share the scans
        info, warnings, problem = discover(ctx, ctx.reload_interval / 2)
        info = picked(info, picks, picks_key(ctx))
        indicator, cls = live_indicator(info)
        if warnings == (old_warnings or []):
            warn = dash.no_update  # keep the box as is (the user may have opened it)
        else:
            warn = warnings_box(warnings)
        data = info if info != old else dash.no_update
        seen = warnings if warn is not dash.no_update else dash.no_update
        return data, problem or "", warn, seen, indicator, cls

    # a pick (or the picks loaded from localStorage with the page) recolours RUNS_INFO in
    # the browser at once: assets/runs_colors.js
    app.clientside_callback(
        dash.ClientsideFunction("flowlogRuns", "recolor"),
        Output(RUNS_INFO, "data", allow_duplicate=True),
        Input(PICKS, "data"),
        State(RUNS_INFO, "data"),
        State(PICKS_KEY, "data"),
        prevent_initial_call="initial_duplicate",
    )

    @app.callback(
        Output(SELECTED_RUNS, "data"),
        Output(CHECKLIST, "value"),
        Output(CHECKLIST, "options"),
        Output(LIST_BOX, "children"),
        Output(SHOWN, "data"),
        Output(CHECKED, "data"),
        Output(KNOWN, "data"),
        Output(FILTER_ERROR, "children"),
        Output(NOTE_TEXT, "children"),
        Output(NOTE, "className"),
        Input(RUNS_INFO, "data"),
        Input(FILTER, "value"),
        Input(CHECKLIST, "value"),
        Input(ALL_BUTTON, "n_clicks"),
        Input(NONE_BUTTON, "n_clicks"),
        Input(SHOW_ALL, "n_clicks"),
        Input(SHOW_RECENT, "n_clicks"),
        Input(SELECTED_RUNS, "data"),
        State(CHECKED, "data"),
        State(KNOWN, "data"),
        State(SHOWN, "data"),
        prevent_initial_call=True,  # ditto: so the charts need not wait for this callback
    )
    def select(
        info, pattern, value, _all, _none, _show_all, _recent, selected, checked, known, shown
    ):
        info = untrusted.runs_info(info)  # all from the browser: run records and names only
        names = [r["name"] for r in info]
        rx, error = compile_filter(pattern)
        visible = [n for n in names if rx is None or rx.search(n)]
        checked = set(untrusted.names(checked))
        known_set = set(untrusted.names(known))
        checked = with_new_runs(checked, info, known_set)  # new runs: run_selection's rules
        trigger = dash.ctx.triggered_id
        if trigger == CHECKLIST:
            checked = (checked - set(visible)) | set(untrusted.names(value))
        elif trigger == ALL_BUTTON:
            checked |= set(visible)
        elif trigger == NONE_BUTTON:
            checked -= set(visible)
        elif trigger == SHOW_ALL:
            checked = set(names)
        elif trigger == SHOW_RECENT:
            checked = set(most_recent(info))
        elif trigger == SELECTED_RUNS and isinstance(selected, list):
            checked = set(untrusted.names(selected))  # another view picked runs: follow it
        new_selected = [n for n in names if n in checked and n in visible]
        sel_out = new_selected if new_selected != selected else dash.no_update
        shown_value = [n for n in visible if n in checked]
        options = [_option(r) for r in info if r["name"] in set(visible)]
        options, shown_value, box = list_update(options, shown_value, shown)
        note, mode = selection_note(len(new_selected), len(checked & set(names)), len(names))
        return (
            sel_out,
            shown_value,
            options,
            box,
            visible,
            sorted(checked),
            sorted(set(names) | known_set),
            error or "",
            note,
            note_class(mode),
        )
