"""Component ids shared by the app and its views, so views talk to each other through these
components without importing each other (or the app)."""

SELECTED_RUNS = "selected-runs"  # dcc.Store: selected run names (runs panel, HParams table)
RUNS_INFO = "runs-info"  # dcc.Store: [{name, color, status, ...}] refreshed on the interval
REFRESH = "refresh"  # dcc.Interval driving live updates
TABS = "view-tabs"  # dcc.Tabs: value is a view's TAB_ID
FOCUS = "focus"  # dcc.Store: {"run", "node", "step"} — cross-view navigation (curve <-> graph)
