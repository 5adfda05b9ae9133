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


def stores(tab_ids) -> list:
    return [dcc.Store(id=i) for t in tab_ids for i in (runs_info(t), ticks(t))]


def register(app, tab_id: str) -> None:
    """Pass RUNS_INFO on to the tab's copy while ``tab_id`` is the tab shown."""
    app.clientside_callback(
        PASS_ON.replace("TAB", json.dumps(tab_id)),
        Output(runs_info(tab_id), "data"),
        Input(RUNS_INFO, "data"),
        Input(TABS, "value"),
        prevent_initial_call=True,
    )


def register_ticks(app, tab_id: str) -> None:
    """Count REFRESH ticks into the tab's :func:`ticks` store while ``tab_id`` is shown."""
    app.clientside_callback(
        PASS_ON.replace("TAB", json.dumps(tab_id)),
        Output(ticks(tab_id), "data"),
        Input(REFRESH, "n_intervals"),
        State(TABS, "value"),  # opening the tab loads the run itself
        prevent_initial_call=True,
    )
