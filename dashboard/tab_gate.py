"""RUNS_INFO as a hidden view sees it: passed on only while that view's tab is shown.

The runs panel refreshes RUNS_INFO on every reload interval while runs grow, and every
callback taking it as an Input then sends a request, even a hidden tab's that only answers
"nothing to do": with a live run, 8 of each refresh's 15 requests, each costing the page a
round trip and the Dash renderer a pass over its store. Each such view takes its own copy
instead, which a clientside callback sets from RUNS_INFO while the view's tab is shown, and
once when it is opened; a hidden view costs nothing until then. Likewise the REFRESH ticks a
view follows a live run by (:func:`ticks`), passed on only while its tab is shown.
"""

from __future__ import annotations

import json

from dash import Input, Output, State, dcc

from flowlog.dashboard.ids import REFRESH, RUNS_INFO, TABS

PREFIX = RUNS_INFO + "-for-"  # (not "@": Dash marks duplicate outputs with it)
TICKS = REFRESH + "-for-"
GATED = "tab_gate"  # ctx.extra: the ids of the copies registered
PASS_ON = "function (value, tab) { return tab === TAB ? value : window.dash_clientside.no_update; }"


def runs_info(tab_id: str) -> str:
    """The id of the tab's copy of RUNS_INFO (a dcc.Store in the app's layout)."""
    return PREFIX + tab_id


def refresh_or_open(trigger) -> bool:
    """Whether a callback was triggered by a refresh (RUNS_INFO or a tab's copy of it) or by
    its tab being opened: not by anything the user changed in the view."""
    return trigger in (RUNS_INFO, TABS) or (isinstance(trigger, str) and trigger.startswith(PREFIX))


def ticks(tab_id: str) -> str:
    """The id of a store counting REFRESH ticks while the tab is shown (not when opened)."""
    return TICKS + tab_id


def stores(ctx) -> list:
    """The app layout's stores of the copies views registered (:func:`register`)."""
    return [dcc.Store(id=i) for i in ctx.extra.get(GATED, [])]


def register(app, ctx, tab_id: str) -> None:
    """Pass RUNS_INFO on to the tab's copy while ``tab_id`` is the tab shown."""
    _pass_on(app, ctx, tab_id, runs_info(tab_id), Input(RUNS_INFO, "data"), Input(TABS, "value"))


def register_ticks(app, ctx, tab_id: str) -> None:
    """Count REFRESH ticks into the tab's :func:`ticks` store while ``tab_id`` is shown
    (TABS a State: opening the tab loads the view itself)."""
    source = Input(REFRESH, "n_intervals")
    _pass_on(app, ctx, tab_id, ticks(tab_id), source, State(TABS, "value"))


def _pass_on(app, ctx, tab_id: str, store: str, source, tab) -> None:
    ctx.extra.setdefault(GATED, []).append(store)
    app.clientside_callback(
        PASS_ON.replace("TAB", json.dumps(tab_id)),
        Output(store, "data"),
        source,
        tab,
        prevent_initial_call=True,
    )
