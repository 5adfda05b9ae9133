"""The HParams grid (dash-ag-grid): row data, column definitions and options, selection.

Plain functions of hparams_data rows; the view only passes their results to ``AgGrid`` props.

How the old DataTable features map onto AG Grid:

* Display: every cell's text is made here (``_text`` of each row: 4 significant digits, ASCII
  minus, ints as ints, "n/a" for missing, NaN/Inf/-Inf as text) and shown by a valueFormatter
  that looks it up, so the cell *values* keep full precision for sorting and filtering.
* Sorting: numeric columns compare numbers, -Inf < finite < Inf, then NaN, then missing —
  NaN and missing stay last in both directions (the old table put ±Inf with them); text
  columns sort as text, missing last.
* Filtering: a filter row under the headers; numeric columns get AG Grid's number filter
  (the funnel next to the box picks =, ≠, <, ≤, >, ≥, between, blank), which sees Inf/-Inf as
  ±infinity, NaN as NaN (no comparison matches it) and missing as blank; text columns the
  text filter ("contains" by default).
* Tooltips: ``_tip`` of each row, the exact value where the cell shows less (rounded floats,
  texts longer than LONG_TEXT), shown after a short hover.
* Rows: one per trial (``add_hparams`` call). The pinned first column reads "run · name" or
  "run #k" (hparams_data.trial_label), sorts by run then logging order, and its tooltip says
  which trial of how many, when and at which step; a "step" column appears when a trial was
  logged with ``global_step``.
* Run colours: a 4 px bar in the run's colour at the left of its name.
* Selection: a checkbox column (the header box ticks every row the filter shows), kept in
  step with SELECTED_RUNS both ways (``sync_selection``). A row's box stands for its run: the
  trials of a selected run are all ticked, ticking one selects the run (and so ticks its
  other trials), unticking one deselects it.

The few JavaScript expressions below are evaluated by dash-ag-grid's restricted evaluator (no
dangerously_allow_code); they never contain data, which travels in the rows.
"""

from __future__ import annotations

from typing import NamedTuple

from flowlog.dashboard.hparams_data import (
    RUN_LEVEL,
    TAG_KINDS,
    Table,
    column_kind,
    column_label,
    display_text,
    numeric_kind,
    tag_label,
    tooltip,
    trial_note,
)
from flowlog.dashboard.hparams_data import table as read_table

RUN_COLUMNS = ("run", "status", "step")  # besides the data columns
ROW_HEIGHT, HEADER_HEIGHT, GROUP_HEIGHT, FILTER_HEIGHT = 30, 32, 28, 36
SCROLLBAR = 16
MIN_ROWS, MAX_ROWS = 3, 12  # rows of height the grid takes; more scroll inside it
CHAR_PX, CELL_PAD_PX = 7.5, 44  # width estimate: 13 px font, padding + sort/filter icons
MIN_WIDTH, MAX_WIDTH, MAX_RUN_WIDTH = 96, 260, 240

FORMAT = "params.data._text[params.colDef.colId]"
TIP = "params.data._tip[params.colDef.colId]"
_VALUE = "params.data[params.colDef.colId]"
# NaN/Inf travel as texts (JSON has neither): the number filter compares them as numbers.
# (1 / 0, not Number.POSITIVE_INFINITY: the evaluator refuses properties of functions.)
NUMBER_FOR_FILTER = (
    f"{_VALUE} === 'Inf' ? 1 / 0 : {_VALUE} === '-Inf' ? -1 / 0 : {_VALUE} === 'NaN' ? 0 / 0 "
    f": {_VALUE}"
)
# AG Grid negates a comparator for descending sorts; multiplying the rank part by -1 then
# keeps NaN (rank 1) and missing (rank 2) at the bottom either way.
NUMBER_ORDER = """(function (a, b, nodeA, nodeB, desc) {
  return ((a == null ? 2 : a === 'NaN' ? 1 : 0) - (b == null ? 2 : b === 'NaN' ? 1 : 0))
      * (desc ? -1 : 1)
    || (a === b ? 0 : a === '-Inf' || b === 'Inf' ? -1 : a === 'Inf' || b === '-Inf' ? 1
      : a < b ? -1 : 1);
})"""
TEXT_ORDER = """(function (a, b, nodeA, nodeB, desc) {
  return ((a == null ? 1 : 0) - (b == null ? 1 : 0)) * (desc ? -1 : 1)
    || (a === b ? 0 : a < b ? -1 : 1);
})"""
NUMBER_STYLE = (
    "({fontVariantNumeric: 'tabular-nums', color: params.value == null ? '#8c959f' : null})"
)
TEXT_STYLE = "({color: params.value == null ? '#8c959f' : null})"
# the run column: by run name, then the trials in logging order (not "#10" before "#2")
RUN_ORDER = """(function (a, b, nodeA, nodeB, desc) {
  return !nodeA || !nodeB ? (a === b ? 0 : a < b ? -1 : 1)
    : nodeA.data.run < nodeB.data.run ? -1 : nodeA.data.run > nodeB.data.run ? 1
    : (nodeA.data.trial || 0) - (nodeB.data.trial || 0);
})"""
RUN_STYLE = "params.data.color ? {boxShadow: 'inset 4px 0 0 ' + params.data.color} : null"
THEME = (
    'themeQuartz.withParams({fontFamily: \'system-ui, -apple-system, "Segoe UI", Roboto, '
    "sans-serif', fontSize: 13, headerFontSize: 13, headerFontWeight: 600, spacing: 6, "
    "foregroundColor: '#1f2328', borderColor: '#e3e6ea', headerBackgroundColor: '#f6f7f9', "
    "accentColor: '#2f6fde', selectedRowBackgroundColor: 'rgba(47, 111, 222, 0.12)', "
    "wrapperBorderRadius: 8})"
)

DEFAULT_COL_DEF = {
    "sortable": True,
    "resizable": True,
    "floatingFilter": True,
    "suppressHeaderMenuButton": True,  # the funnel in the filter row opens the filter
    "minWidth": MIN_WIDTH,
    "tooltipValueGetter": {"function": TIP},
}
GRID_OPTIONS = {
    "rowSelection": {
        "mode": "multiRow",
        "checkboxes": True,
        "headerCheckbox": True,
        "enableClickSelection": False,  # a click on a cell must not drop the others
        "selectAll": "filtered",
    },
    "selectionColumnDef": {"pinned": "left"},
    "suppressFieldDotNotation": True,  # "hp:model.depth" is a column id, not a path
    "suppressColumnVirtualisation": True,  # few columns; every cell in the DOM
    "ensureDomOrder": True,  # DOM rows in displayed order (screen readers, copying)
    "enableCellTextSelection": True,  # copy a cell's text as shown
    "animateRows": False,
    "tooltipShowDelay": 300,
    # filters that match no trial: say so, and how to get the trials back
    "localeText": {
        "noMatchingRows": "No trial matches the filters — clear a box in the filter row."
    },
    "tooltipHideDelay": 30000,
    "rowHeight": ROW_HEIGHT,
    "headerHeight": HEADER_HEIGHT,
    "groupHeaderHeight": GROUP_HEIGHT,
    "floatingFiltersHeight": FILTER_HEIGHT,
    "theme": {"function": THEME},
}


def column_kinds(table: Table) -> dict[str, str | None]:
    """``{column: column_kind}`` for every hparam/metric/tag column of ``table``."""
    return {col: column_kind([row.get(col) for row in table.rows]) for col in table.keys}


def grid_rows(table: Table, kinds: dict[str, str | None]) -> list[dict]:
    """``table``'s rows plus what the grid shows: ``_text`` (every data cell as displayed)
    and ``_tip`` (tooltips: the exact value where the cell shows less, the trial's details on
    the run column, why a run of several trials has no final/best values)."""
    tag_cols = set(table.tagkeys)
    out = []
    for row in table.rows:
        text, tip = {}, {}
        for col in table.keys:
            text[col] = display_text(row.get(col), kinds[col])
        for col in ("status", *table.keys):
            c = row.get(col)
            t = tooltip(c, text.get(col, str(c)))
            if t is not None:
                tip[col] = t
            elif col in tag_cols and c is None and row.get("trials", 0) > 1:
                tip[col] = RUN_LEVEL.format(n=row["trials"])
        note = trial_note(row) if "label" in row else None
        if note and note != row.get("label"):
            tip["run"] = note
        elif "label" in row and tooltip(row["label"], row["label"]):
            tip["run"] = row["label"]
        out.append({**row, "_text": text, "_tip": tip})
    return out


def column_width(header: str, texts: list[str], most: int = MAX_WIDTH) -> int:
    """A starting width in px fitting the header and the longest text (a user's resize
    sticks: the grid takes it as ``initialWidth``)."""
    chars = max([len(header), *(len(t) for t in texts)])
    return int(min(max(CHAR_PX * chars + CELL_PAD_PX, MIN_WIDTH), most))


def _leaf(col: str, header: str, kind: str | None, texts: list[str], domain=None) -> dict:
    numeric = numeric_kind(kind)
    label = column_label(col)
    if domain:
        label += " — declared values: " + ", ".join(str(v) for v in domain)
    return {
        "colId": col,
        "field": col,
        "headerName": header,
        "headerTooltip": label,
        "initialWidth": column_width(header, texts),
        "valueFormatter": {"function": FORMAT},
        "comparator": {"function": NUMBER_ORDER if numeric else TEXT_ORDER},
        "filter": "agNumberColumnFilter" if numeric else "agTextColumnFilter",
        **({"filterValueGetter": {"function": NUMBER_FOR_FILTER}} if numeric else {}),
        **({"type": "rightAligned"} if numeric else {}),
        "cellStyle": {"function": NUMBER_STYLE if numeric else TEXT_STYLE},
    }


def _run_columns(rows: list[dict]) -> list[dict]:
    """The pinned trial label (column id "run"), the run's status and, when any trial was
    logged at a step, the step."""
    labels = [str(r.get("label", r["run"])) for r in rows]
    statuses = [str(r.get("status") or "") for r in rows]
    common = {"comparator": {"function": TEXT_ORDER}, "filter": "agTextColumnFilter"}
    trials = any(r.get("label", r["run"]) != r["run"] for r in rows)
    header = "run · trial" if trials else "run"
    defs = [
        {
            "colId": "run",
            "field": "label" if rows and "label" in rows[0] else "run",
            "headerName": header,
            "headerTooltip": "run, then trial (one row per add_hparams call)" if trials else "run",
            "pinned": "left",
            "initialWidth": column_width(header, labels, MAX_RUN_WIDTH),
            "maxWidth": MAX_RUN_WIDTH * 2,
            "cellStyle": {"function": RUN_STYLE},
            **common,
            "comparator": {"function": RUN_ORDER},
        },
        {
            "colId": "status",
            "field": "status",
            "headerName": "status",
            "initialWidth": column_width("status", statuses),
            **common,
        },
    ]
    steps = [r.get("step") for r in rows]
    if any(s is not None for s in steps):
        defs.append(
            {
                "colId": "step",
                "field": "step",
                "headerName": "step",
                "headerTooltip": "global_step given to add_hparams",
                "initialWidth": column_width("step", [str(s) for s in steps]),
                "comparator": {"function": NUMBER_ORDER},
                "filter": "agNumberColumnFilter",
                "type": "rightAligned",
                "cellStyle": {"function": NUMBER_STYLE},
            }
        )
    return defs


def column_defs(table: Table, kinds: dict[str, str | None], rows: list[dict]) -> list[dict]:
    """run and status, then groups: "hparam" (one column each), "metric", and one group per
    chosen scalar tag with its final and best columns side by side."""

    def leaf(col: str, header: str) -> dict:
        texts = [r["_text"][col] for r in rows]
        return _leaf(col, header, kinds[col], texts, table.domains.get(col))

    defs = _run_columns(rows)
    for group, keys in (("hparam", table.hkeys), ("metric", table.mkeys)):
        if keys:
            children = [leaf(col, col.partition(":")[2]) for col in keys]
            defs.append({"headerName": group, "groupId": group, "children": children})
    tags = dict.fromkeys(col.partition(":")[2] for col in table.tagkeys)
    for tag in tags:
        children = [leaf(f"{kind}:{tag}", kind) for kind in TAG_KINDS]
        defs.append(
            {
                "headerName": tag_label(tag),
                "groupId": f"tag:{tag}",
                "headerTooltip": tag_label(tag),
                "children": children,
            }
        )
    return defs


def leaf_ids(defs: list[dict]) -> list[str]:
    """The column ids of ``column_defs`` in display order, groups flattened."""
    out = []
    for d in defs if isinstance(defs, list) else []:  # (they come back from the browser)
        if isinstance(d, dict) and "children" in d:
            out.extend(leaf_ids(d["children"]))
        elif isinstance(d, dict) and isinstance(d.get("colId"), str):
            out.append(d["colId"])
    return out


def row_runs_of(meta) -> dict[str, str]:
    """``{row id: run}`` of the GRID_META store (from the browser: other entries dropped)."""
    runs = meta.get("runs") if isinstance(meta, dict) else None
    if not isinstance(runs, dict):
        return {}
    return {i: r for i, r in runs.items() if isinstance(i, str) and isinstance(r, str)}


def domains_of(meta) -> dict[str, list]:
    """``{column: declared values}`` of the GRID_META store (lists only)."""
    domains = meta.get("domains") if isinstance(meta, dict) else None
    if not isinstance(domains, dict):
        return {}
    return {c: v for c, v in domains.items() if isinstance(v, list)}


def rows_of(rows) -> list[dict]:
    """The grid's rowData as it comes back: rows that are dicts naming a run."""
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("run"), str)]


def filtered_rows(all_rows, shown_rows) -> list[dict]:
    """The rows parcoords draws: those of ``all_rows`` (rowData) the grid's filters let
    through (its virtualRowData; every row while the grid has not reported it yet)."""
    if not isinstance(shown_rows, list):
        return rows_of(all_rows)
    ids = {r.get("id") for r in rows_of(shown_rows)}
    return [r for r in rows_of(all_rows) if r.get("id") in ids]


def data_columns(defs: list[dict]) -> list[str]:
    """The hparam/metric/tag column ids of ``column_defs`` (what parcoords draws)."""
    return [c for c in leaf_ids(defs) if c not in RUN_COLUMNS]


def grid_height(n_rows: int) -> int:
    """The grid's height in px: every row up to MAX_ROWS (then it scrolls), at least
    MIN_ROWS so the "no rows" note fits, plus the header rows and a horizontal scrollbar."""
    shown = min(max(n_rows, MIN_ROWS), MAX_ROWS)
    return GROUP_HEIGHT + HEADER_HEIGHT + FILTER_HEIGHT + shown * ROW_HEIGHT + SCROLLBAR + 2


def grid_style(n_rows: int) -> dict:
    return {"height": f"{grid_height(n_rows)}px", "width": "100%"}


def grid_names(selected_rows) -> list[str]:
    """Row ids in the grid's ``selectedRows``: rows the user ticked (a list of row dicts), or
    what the server last set (``{"ids": [...]}``)."""
    if isinstance(selected_rows, dict):
        ids = selected_rows.get("ids")
        return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
    if not isinstance(selected_rows, list):
        return []
    return [r["id"] for r in selected_rows if isinstance(r, dict) and isinstance(r.get("id"), str)]


def selection_update(selected: list[str] | None, current, row_runs: dict[str, str]) -> dict | None:
    """The ``selectedRows`` to send so the grid shows ``selected`` (SELECTED_RUNS): every
    trial row of a selected run ticked; None when it already does (``current``: the grid's
    ``selectedRows``; ``row_runs``: ``{row id: run}`` of its rows)."""
    chosen = set(selected or [])
    want = [i for i, run in row_runs.items() if run in chosen]
    if set(grid_names(current)) == set(want):
        return None
    return {"ids": want}


def selection_from_grid(
    selected_rows, selected: list[str] | None, info: list[dict], row_runs: dict[str, str]
) -> list[str] | None:
    """The new SELECTED_RUNS after the user ticked or unticked rows (names in runs-panel
    order), or None when the grid agrees with it already (as when it echoes what the server
    set). A selected run whose rows are no longer all ticked was unticked; an unselected run
    with any row ticked was ticked. Selected runs the grid has no row for (unreadable ones)
    stay selected."""
    ticked = set(grid_names(selected_rows))
    before = set(selected or [])
    rows_of: dict[str, list[str]] = {}
    for i, run in row_runs.items():
        rows_of.setdefault(run, []).append(i)
    new = {n for n in before if n not in rows_of}
    for run, ids in rows_of.items():
        hit = [i in ticked for i in ids]
        if all(hit) if run in before else any(hit):
            new.add(run)
    if new == before:
        return None
    return [r["name"] for r in info if r["name"] in new]


def sync_selection(trigger: str, grid_rows, selected, info: list[dict], row_runs: dict):
    """``(grid selectedRows update, SELECTED_RUNS update)``, None for "leave it": the user
    ticked rows (``trigger == "grid"``) -> the runs, and the grid ticks (or unticks) the other
    trials of the runs that changed (Dash does not call a callback back for its own output);
    the runs panel changed the selection -> the grid. ``row_runs``: ``{row id: run}`` of the
    grid's rows."""
    row_runs = row_runs or {}
    if trigger == "grid":
        runs = selection_from_grid(grid_rows, selected, info, row_runs)
        return selection_update(selected if runs is None else runs, grid_rows, row_runs), runs
    return selection_update(selected, grid_rows, row_runs), None


class Grid(NamedTuple):
    rows: list[dict]  # rowData
    columns: list[dict]  # columnDefs
    row_runs: dict[str, str]  # {row id: run} of the rows, in their order
    style: dict  # the grid's size
    selection: dict | None  # selectedRows, None when the grid shows the selection already
    kinds: dict[str, str | None]  # column_kind of every data column
    table: Table

    @property
    def ids(self) -> list[str]:
        return list(self.row_runs)


def build_grid(data, info: list[dict], metric_tags, selected, current) -> Grid:
    """Everything the grid shows for the runs in ``info`` (RUNS_INFO), a row per trial, with
    final/best columns of ``metric_tags``; ``selected``: SELECTED_RUNS, ``current``: the
    grid's selectedRows."""
    t = read_table(data, info, metric_tags)
    kinds = column_kinds(t)
    rows = grid_rows(t, kinds)
    row_runs = {r["id"]: r["run"] for r in rows}
    return Grid(
        rows=rows,
        columns=column_defs(t, kinds, rows),
        row_runs=row_runs,
        style=grid_style(len(rows)),
        selection=selection_update(selected, current, row_runs),
        kinds=kinds,
        table=t,
    )
