"""The HParams view: cells and their display, the grid's columns and selection sync, the
parallel-coordinates axes, and the view in a real headless Chromium.

Pure functions are checked directly (on a fake provider or a logdir written by the real
SummaryWriter); the view itself on logdirs written by the real SummaryWriter.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from conftest import EVIL

from flowlog.dashboard import hparams_grid as grid
from flowlog.dashboard.hparams_data import (
    MISSING,
    Table,
    cell,
    column_kind,
    default_metric_tags,
    display_text,
    format_number,
    scalar_tags,
    table,
    tag_summary,
    tooltip,
)
from flowlog.dashboard.hparams_figures import (
    NA_GREY,
    RUN_COLORS,
    UNSELECTED,
    color_options,
    fmt3,
    numeric_dimension,
    parcoords_figure,
)
from flowlog.provider import ReadError, Trial
from flowlog.writer import SummaryWriter

EXACT_LR = 0.0105769206141846
N_RUNS = 20


# ---------------------------------------------------------------- cells and their display


def test_format_number_four_significant_digits_like_d3():
    cases = {
        EXACT_LR: "0.01058",
        -0.0123456: "-0.01235",  # ASCII minus: pastes into Python, reads as typed in a filter
        0.5: "0.5",
        300.0: "300",
        12345.678: "1.235e+4",
        1e-5: "0.00001",
        1.5e-7: "1.5e-7",
        2.5e7: "2.5e+7",
        9.99951: "10",
        0.0: "0",
        -1e-12: "-1e-12",
    }
    assert {v: format_number(v) for v in cases} == cases
    assert format_number(-0.0) == "0"


def test_display_text_and_tooltips():
    assert display_text(None, "float") == MISSING and display_text(None, "text") == MISSING
    assert display_text(128, "int") == "128"
    assert display_text(3, "float") == "3"  # an int in a float column: no ".0"
    assert display_text(EXACT_LR, "float") == "0.01058"
    assert [display_text(c, "float") for c in ("NaN", "Inf", "-Inf")] == ["NaN", "Inf", "-Inf"]
    assert display_text("adam", "text") == "adam"
    # the exact value only where the cell shows less
    assert tooltip(EXACT_LR, "0.01058") == repr(EXACT_LR)
    assert tooltip(0.5, "0.5") is None and tooltip(12, "12") is None
    assert tooltip(123456, "1.235e+5") == "123456"
    assert tooltip("x" * 40, "x" * 40) == "x" * 40 and tooltip("adam", "adam") is None
    assert tooltip(None, MISSING) is None


def test_cells_are_json_safe():
    assert [cell(v) for v in (True, math.nan, math.inf, -math.inf, 1, 0.5, None)] == [
        "True",
        "NaN",
        "Inf",
        "-Inf",
        1,
        0.5,
        None,
    ]


def test_column_kind():
    assert column_kind([1, None, 3]) == "int"
    assert column_kind([1, 0.5, "NaN"]) == "float"
    assert column_kind(["NaN", None]) == "float"
    assert column_kind(["adam", 1]) == "text"
    assert column_kind(["True", "False"]) == "text"  # bools arrive as text cells
    assert column_kind([None, None]) is None


def test_default_metric_tags():
    tags = ["accuracy", "loss/train", "loss/val", "val_err", "watch/x/loss"]
    assert default_metric_tags(tags) == ["loss/train", "loss/val"]
    assert default_metric_tags(["accuracy", "lr"]) == ["accuracy"]
    assert default_metric_tags([]) == []


# ---------------------------------------------------------------- rows from the provider


class FakeData:
    """What the HParams view reads of a provider: trials, scalar tags, memo (counted). A run
    is ``(hparams, metrics)`` (one trial) or a list of such pairs (one trial each)."""

    def __init__(self, runs: dict, broken=()):
        self.runs, self.broken, self.cache, self.computed = runs, set(broken), {}, 0

    def trials(self, run):
        if run in self.broken:
            raise ReadError(f"{run}: database disk image is malformed")
        logged = self.runs[run]  # KeyError for a vanished run, as the provider
        pairs = logged if isinstance(logged, list) else [logged] if logged[0] or logged[1] else []
        return [Trial(i, None, None, None, hp, m, {}) for i, (hp, m) in enumerate(pairs, 1)]

    def tags(self, run, kind=None):
        if run in self.broken:
            raise ReadError(run)
        return {"loss": object()} if run in self.runs else {}[run]

    def memo(self, run, key, compute):
        if (run, key) not in self.cache:
            self.computed += 1
            self.cache[(run, key)] = compute()
        return self.cache[(run, key)]


def info_of(*names):
    return [{"name": n, "color": f"#00000{i}", "status": "finished"} for i, n in enumerate(names)]


def test_table_skips_vanished_and_unreadable_runs_and_memoises_cells():
    data = FakeData(
        {
            "a": ({"lr": 0.1, "opt": "sgd"}, {"loss": 0.5}),
            "b": ({"lr": 0.2, "depth": 3}, {"loss": math.nan}),
            "bad": ({}, {}),
        },
        broken={"bad"},
    )
    t = table(data, info_of("a", "b", "gone", "bad"), [])
    assert [r["id"] for r in t.rows] == ["a#1", "b#1"]
    assert [r["label"] for r in t.rows] == ["a", "b"]  # one trial each: the run's name
    assert t.hkeys == ["hp:lr", "hp:opt", "hp:depth"] and t.mkeys == ["metric:loss"]
    assert t.rows[1]["metric:loss"] == "NaN" and t.rows[1]["color"] == "#000001"
    assert len(t.skipped) == 1 and t.skipped[0].startswith("bad: ")
    before = data.computed
    table(data, info_of("a", "b"), [])
    assert data.computed == before  # the second table came from memo
    t.rows[0]["hp:lr"] = 99  # rows are fresh dicts: the cached cells are untouched
    assert table(data, info_of("a"), []).rows[0]["hp:lr"] == 0.1
    assert scalar_tags(data, info_of("a", "gone", "bad")) == ["loss"]


def write_run(logdir, name, hparams=None, metrics=None, n=40, seed=0):
    rng = np.random.default_rng(seed)
    w = SummaryWriter(logdir=logdir, run_name=name, flush_secs=0.2)
    loss = np.exp(-np.arange(n) / 10) + 0.01 * rng.random(n)
    for s in range(n):
        w.add_scalar("loss/train", float(loss[s]), s)
        w.add_scalar("acc", float(1 - loss[s]), s)
    if hparams is not None:
        w.add_hparams(hparams, metrics or {})
    w.close()
    return loss


def test_tag_summary_final_and_best_through_the_provider(tmp_path):
    from flowlog.backends import open_logdir

    loss = write_run(tmp_path, "r", {"lr": 0.1}, {"m": 1.0})
    data = open_logdir(tmp_path)
    final, best = tag_summary(data, "r", "loss/train")
    assert final == pytest.approx(loss[-1]) and best == pytest.approx(loss.min())
    final, best = tag_summary(data, "r", "acc")  # not loss-like: best is the max
    assert best == pytest.approx((1 - loss).max())
    assert tag_summary(data, "r", "nope") == (None, None)
    t = table(data, info_of("r"), ["loss/train"])
    assert t.tagkeys == ["final:loss/train", "best:loss/train"]
    assert t.rows[0]["best:loss/train"] == pytest.approx(loss.min())


# ---------------------------------------------------------------- the grid's props


def sample_table():
    rows = [
        {"id": "a", "run": "a", "status": "finished", "color": "#f00", "hp:lr": EXACT_LR,
         "hp:opt": "sgd", "hp:batch": 32, "final:loss": 0.5, "best:loss": "NaN"},
        {"id": "b", "run": "b", "status": "running", "color": "#0f0", "hp:lr": 0.2,
         "hp:opt": None, "final:loss": "Inf", "best:loss": 0.25},
    ]  # fmt: skip
    return Table(rows, ["hp:lr", "hp:opt", "hp:batch"], [], ["final:loss", "best:loss"], [])


def test_grid_rows_carry_display_texts_and_tooltips_without_touching_cells():
    t = sample_table()
    kinds = grid.column_kinds(t)
    assert kinds == {
        "hp:lr": "float",
        "hp:opt": "text",
        "hp:batch": "int",
        "final:loss": "float",
        "best:loss": "float",
    }
    rows = grid.grid_rows(t, kinds)
    assert rows[0]["hp:lr"] == EXACT_LR  # the value keeps full precision (sort, filter)
    assert rows[0]["_text"] == {
        "hp:lr": "0.01058",
        "hp:opt": "sgd",
        "hp:batch": "32",
        "final:loss": "0.5",
        "best:loss": "NaN",
    }
    assert rows[1]["_text"]["hp:opt"] == MISSING and rows[1]["_text"]["hp:batch"] == MISSING
    assert rows[0]["_tip"] == {"hp:lr": repr(EXACT_LR)}
    assert "_text" not in t.rows[0]
    json.dumps(rows, allow_nan=False)  # JSON has no NaN: none may be left


def test_column_defs_group_columns_and_pick_filters_by_kind():
    t = sample_table()
    kinds = grid.column_kinds(t)
    defs = grid.column_defs(t, kinds, grid.grid_rows(t, kinds))
    assert [d.get("colId") or d["headerName"] for d in defs] == ["run", "status", "hparam", "loss"]
    assert defs[0]["pinned"] == "left"
    assert [c["headerName"] for c in defs[3]["children"]] == ["final", "best"]
    lr, opt, batch = defs[2]["children"]
    assert lr["filter"] == batch["filter"] == "agNumberColumnFilter"
    assert lr["comparator"]["function"] == grid.NUMBER_ORDER and "filterValueGetter" in lr
    assert opt["filter"] == "agTextColumnFilter" and "filterValueGetter" not in opt
    assert batch["initialWidth"] == grid.MIN_WIDTH  # room for the filter box
    assert grid.MIN_WIDTH < grid.column_width("x", ["y" * 20]) < grid.MAX_WIDTH
    assert grid.column_width("x", ["y" * 200]) == grid.MAX_WIDTH  # longer: a tooltip
    assert grid.leaf_ids(defs) == ["run", "status", *t.keys]
    assert grid.data_columns(defs) == t.keys
    assert [o["value"] for o in color_options(kinds)] == [
        RUN_COLORS,
        "hp:lr",
        "hp:batch",
        "final:loss",
        "best:loss",
    ]


def test_grid_functions_hold_no_data():
    """Expressions the grid evaluates are constants: names and values travel as row data."""
    t = sample_table()
    t.rows[0]["hp:" + EVIL] = EVIL
    t.hkeys.append("hp:" + EVIL)
    kinds = grid.column_kinds(t)
    defs = grid.column_defs(t, kinds, grid.grid_rows(t, kinds))
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "function" in node:
                found.append(node["function"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk([defs, grid.DEFAULT_COL_DEF, grid.GRID_OPTIONS])
    assert found and not any(EVIL in f for f in found)


def test_grid_height_fits_rows_up_to_a_limit():
    one_row = grid.grid_height(5) - grid.grid_height(4)
    assert one_row == grid.ROW_HEIGHT
    assert grid.grid_height(0) == grid.grid_height(grid.MIN_ROWS)
    assert grid.grid_height(500) == grid.grid_height(grid.MAX_ROWS)
    assert grid.grid_style(2)["height"] == f"{grid.grid_height(2)}px"


def test_selection_sync_both_ways_without_loops():
    info = info_of("a", "b", "c", "bad")
    ids = {"a": "a", "b": "b", "c": "c"}  # row id -> run; "bad" is unreadable: no row
    row = {"a": {"id": "a", "run": "a"}, "b": {"id": "b"}, "c": {"id": "c"}}
    # the runs panel changed the selection: the grid follows (by row id)
    assert grid.sync_selection("runs", [row["a"]], ["a", "c"], info, ids) == (
        {"ids": ["a", "c"]},
        None,
    )
    # ... and when it already shows it (e.g. its echo of what we set), nothing is sent
    assert grid.sync_selection("runs", {"ids": ["c", "a"]}, ["a", "c"], info, ids) == (None, None)
    assert grid.sync_selection("runs", [row["a"]], ["a", "bad"], info, ids) == (None, None)
    # the user ticked rows: SELECTED_RUNS in the runs' order; an unreadable run stays selected
    assert grid.sync_selection("grid", [row["c"], row["a"]], ["a", "bad"], info, ids) == (
        None,
        ["a", "c", "bad"],
    )
    # the grid echoing the selection back changes nothing
    assert grid.sync_selection("grid", [row["a"]], ["a", "bad"], info, ids) == (None, None)
    assert grid.sync_selection("grid", [], ["a"], info, ids) == (None, [])
    assert grid.grid_names(None) == [] and grid.grid_names({"ids": ["x"]}) == ["x"]


def test_build_grid_selects_the_selected_runs():
    data = FakeData({"a": ({"lr": 0.1}, {}), "b": ({"lr": 0.2}, {})})
    g = grid.build_grid(data, info_of("a", "b"), None, ["b"], [])
    assert g.ids == ["a#1", "b#1"] and g.selection == {"ids": ["b#1"]}
    current = {"ids": ["b#1"]}
    assert grid.build_grid(data, info_of("a", "b"), None, ["b"], current).selection is None


def test_page_layout_warns_no_deprecation_and_ships_the_grid_offline(tmp_path):
    import dash_ag_grid

    from flowlog.dashboard import create_app
    from flowlog.dashboard.views import hparams

    app = create_app(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = app.layout()
        hparams.layout(app.flowlog_context)
    deprecated = [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning) and "dash_table" in str(w.message)
    ]
    assert deprecated == []
    assert "DataTable" not in json.dumps(page.to_plotly_json(), default=str)
    # the grid's JavaScript is served from the Python package, never a CDN
    assert app.config.serve_locally
    scripts = app._collect_and_register_resources(app.scripts.get_all_scripts())
    assert any("dash_ag_grid/dash_ag_grid" in s for s in scripts)
    assert not any(s.startswith("http") for s in scripts)
    root = __import__("pathlib").Path(dash_ag_grid.__file__).parent
    for res in dash_ag_grid._js_dist:
        if not res.get("dynamic"):
            assert (root / res["relative_package_path"]).is_file()


# ---------------------------------------------------------------- parallel coordinates


def test_fmt3_three_significant_digits():
    assert [fmt3(v) for v in (0.0105769206141846, 300, 12345.0, 1e-5, 2.5e7)] == [
        "0.0106",
        "300",
        "1.23e4",
        "1e-5",
        "2.5e7",
    ]


def test_numeric_dimension_puts_missing_and_nonfinite_off_scale():
    dim = numeric_dimension("x", [1.0, 2.0, 3.0, None, "NaN", "Inf", "-Inf"])
    lo, hi = dim["range"]
    labels = dict(zip(dim["ticktext"], dim["tickvals"], strict=True))
    assert labels["1"] == 1.0 and labels["3"] == 3.0
    # below the data range, in this order going down: -Inf, NaN, n/a; +Inf above it
    assert (
        labels["-Inf"] < 1.0 and labels["NaN"] < labels["-Inf"] and labels[MISSING] < labels["NaN"]
    )
    assert labels["Inf"] > 3.0
    assert dim["values"] == [
        1.0,
        2.0,
        3.0,
        labels[MISSING],
        labels["NaN"],
        labels["Inf"],
        labels["-Inf"],
    ]
    assert lo < min(dim["values"]) and hi > max(dim["values"])


def test_numeric_dimension_log_scale_for_decades():
    dim = numeric_dimension("lr", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1])
    assert dim["label"] == "lr (log)"
    assert np.allclose(dim["values"], np.log10([1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]))
    assert dim["ticktext"] == ["0.0001", "0.001", "0.01", "0.1"]
    assert np.allclose(dim["tickvals"], [-4, -3, -2, -1])


def test_numeric_dimension_many_values_get_round_ticks():
    vals = list(np.linspace(0.013, 0.087, 12))
    dim = numeric_dimension("loss", vals)
    assert dim["ticktext"] == ["0.02", "0.04", "0.06", "0.08"]
    assert dim["range"][0] < 0.013 and dim["range"][1] > 0.087


def test_numeric_dimension_ticks_few_values_unless_they_would_overlap():
    assert numeric_dimension("batch", [32, 64, 128])["ticktext"] == ["32", "64", "128"]
    dim = numeric_dimension("loss", [0.00854, 0.00864, 0.0035, 0.00053, 0.0027])
    assert "0.00854" not in dim["ticktext"]  # 0.00854 and 0.00864 would print as one blot
    assert dim["ticktext"] == ["0.002", "0.004", "0.006", "0.008"]


def test_numeric_dimension_single_value_is_centred():
    dim = numeric_dimension("seed", [7])
    lo, hi = dim["range"]
    assert lo < 7 < hi and math.isclose(7 - lo, hi - 7)
    assert dim["ticktext"] == ["7"]


def test_parcoords_drops_columns_no_run_has_and_codes_categories():
    rows = [
        {"id": "a", "run": "a", "hp:opt": "sgd", "hp:lr": 0.1, "final:acc": None},
        {"id": "b", "run": "b", "hp:opt": None, "hp:lr": 0.2, "final:acc": None},
        {"id": "c", "run": "c", "hp:opt": "adam", "hp:lr": 0.3, "final:acc": None},
    ]
    fig = parcoords_figure(rows, ["hp:opt", "hp:lr", "final:acc"], {"a": "#f00"}, RUN_COLORS)
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["opt", "lr"]
    assert list(dims[0].ticktext) == [MISSING, "adam", "sgd"]
    assert list(dims[0].values) == [2, 0, 1]


def test_parcoords_colour_by_metric_greys_runs_without_it():
    rows = [
        {"id": "a", "run": "a", "metric:loss": 0.5},
        {"id": "b", "run": "b", "metric:loss": "NaN"},
        {"id": "c", "run": "c", "metric:loss": 0.1},
    ]
    fig = parcoords_figure(rows, ["metric:loss"], {}, "metric:loss")
    line = fig.data[0].line
    assert line.showscale
    assert line.color[0] == 0.5 and line.color[2] == 0.1
    assert line.cmin < line.color[1] < 0.1  # in the grey band under the metric's range
    assert colour_at(line, line.color[1]) == NA_GREY


def colour_at(line, value):
    """The colour a parcoords line of ``value`` gets (at a band's middle: no blending)."""
    pos = (value - line.cmin) / (line.cmax - line.cmin)
    below = [c for p, c in line.colorscale if p <= pos]
    above = [c for p, c in line.colorscale if p >= pos]
    assert below[-1] == above[0], (pos, line.colorscale)  # inside a band of one colour
    return below[-1]


def test_parcoords_draws_unselected_runs_pale_and_under_the_selected():
    rows = [
        {"id": r, "run": r, "hp:lr": lr, "metric:loss": loss}
        for r, lr, loss in (("a", 0.1, 0.5), ("b", 0.2, "NaN"), ("c", 0.3, 0.1), ("d", 0.4, 0.3))
    ]
    colors = {"a": "#ff0000", "b": "#00ff00", "c": "#0000ff", "d": "#ffff00"}
    # run colours: selected runs in theirs, the others pale, drawn first (under)
    fig = parcoords_figure(rows, ["hp:lr"], colors, RUN_COLORS, selected=["c", "a"])
    line = fig.data[0].line
    assert list(fig.data[0].dimensions[0].values) == [0.2, 0.4, 0.1, 0.3]  # b, d, then a, c
    assert [colour_at(line, v) for v in line.color] == [
        UNSELECTED,
        UNSELECTED,
        "#ff0000",
        "#0000ff",
    ]
    # by a metric: the colour range is the selected runs' (a 0.5 and c 0.1), d's 0.3 is pale
    fig = parcoords_figure(rows, ["metric:loss"], colors, "metric:loss", selected=["a", "b", "c"])
    line = fig.data[0].line
    got = dict(zip(["d", "a", "b", "c"], line.color, strict=True))  # unselected d first
    assert colour_at(line, got["d"]) == UNSELECTED and colour_at(line, got["b"]) == NA_GREY
    assert got["a"] == 0.5 and got["c"] == 0.1 and line.cmax == 0.5
    # no selection given: every run as before
    fig = parcoords_figure(rows, ["hp:lr"], colors, RUN_COLORS)
    assert UNSELECTED not in {c for _p, c in fig.data[0].line.colorscale}


# ---------------------------------------------------------------- in the browser


def sweep(logdir):
    """20 runs: log-spread lr, int batch (one run lacks it), text optimizer, bool warmup,
    a final_loss metric that is NaN in one run and +Inf in another."""
    rng = np.random.default_rng(0)
    for i in range(N_RUNS):
        hp = {
            "lr": EXACT_LR if i == 0 else float(10 ** rng.uniform(-4, -1)),
            "batch": [32, 64, 128][i % 3],
            "optimizer": ["adam", "sgd"][i % 2],
            "warmup": i % 4 == 0,
        }
        if i == 1:
            del hp["batch"]
        loss = float(rng.uniform(0.01, 0.5))
        loss = {2: math.nan, 5: math.inf}.get(i, loss)
        write_run(logdir, f"r{i:02d}", hp, {"final_loss": loss}, seed=i)


def open_hparams(page, url):
    page.goto(url)
    page.locator(".tab", has_text="HParams").click()
    page.locator("#hp-table .ag-cell[col-id=run]").first.wait_for()


def wait_parcoords(page):
    page.wait_for_function(
        "document.querySelector('#hp-parcoords .js-plotly-plot')?._fullData?.[0]?.type"
        " === 'parcoords'"
    )
    return page.evaluate(
        "JSON.stringify(document.querySelector('#hp-parcoords .js-plotly-plot')._fullData[0]"
        ".dimensions.map(d => ({label: d.label, range: d.range, values: Array.from(d.values),"
        " tickvals: d.tickvals, ticktext: d.ticktext})))"
    )


# getApi throws until the grid exists, which would end a wait_for_function instead of retrying
API = "(() => { try { return dash_ag_grid.getApi('hp-table'); } catch (e) { return null; } })()"


def shown(page, col):
    """Column ``col`` as the grid shows it, every row after its filter and sort (the DOM has
    only the rows scrolled into view)."""
    return page.evaluate(
        f"col => {{ const api = {API}, out = [];"
        " api.forEachNodeAfterFilterAndSort(n =>"
        " out.push(api.getCellValue({rowNode: n, colKey: col, useFormatter: true})));"
        " return out; }",
        col,
    )


def cell_el(page, row, col):
    return page.locator(f"#hp-table .ag-row[row-index='{row}'] .ag-cell[col-id='{col}']").first


def rows_shown(page):
    return page.evaluate(f"{API}.getDisplayedRowCount()")


@pytest.fixture(scope="module")
def sweep_url(tmp_path_factory):
    from conftest import DashServer

    from flowlog.dashboard import create_app

    d = tmp_path_factory.mktemp("sweep") / "runs"
    sweep(d)
    server = DashServer(create_app(d))
    yield server.url
    server.stop()


def floats(texts):
    return [float(t) for t in texts if t not in ("NaN", MISSING)]


@pytest.mark.browser
def test_grid_shows_rounded_numbers_sorts_and_filters_exact_ones_and_keeps_them(page, sweep_url):
    open_hparams(page, sweep_url)
    page.wait_for_function(f"{API}.getDisplayedRowCount() === {N_RUNS}")
    lr = shown(page, "hp:lr")
    assert lr[0] == "0.01058"  # 4 significant digits, not 0.0105769206141846
    assert cell_el(page, 0, "hp:lr").inner_text() == "0.01058"  # and so on screen
    assert all(len(t.replace("-", "").replace(".", "").lstrip("0")) <= 5 for t in lr), lr
    loss = shown(page, "metric:final_loss")
    assert loss[2] == "NaN" and loss[5] == "Inf"
    assert shown(page, "hp:batch")[:4] == ["32", MISSING, "128", "32"]  # ints as ints
    assert cell_el(page, 1, "hp:batch").inner_text() == MISSING
    assert shown(page, "hp:warmup")[:2] == ["True", "False"]

    # the exact value is a tooltip away
    cell_el(page, 0, "hp:lr").hover()
    page.locator(".ag-tooltip").filter(has_text=repr(EXACT_LR)).wait_for()

    # sorting is numeric (a text sort would put 0.0001x after 0.01x): Inf above every finite
    # value, NaN last, whichever the direction
    header = page.locator("#hp-table .ag-header-cell[col-id='metric:final_loss']")
    header.locator(".ag-header-cell-label").click()
    page.wait_for_function(
        f"{API}.getColumnState().find(c => c.colId === 'metric:final_loss').sort === 'asc'"
    )
    up = shown(page, "metric:final_loss")
    assert floats(up[:-2]) == sorted(floats(up[:-2])) and up[-2:] == ["Inf", "NaN"]
    header.locator(".ag-header-cell-label").click()
    page.wait_for_function(
        f"{API}.getColumnState().find(c => c.colId === 'metric:final_loss').sort === 'desc'"
    )
    down = shown(page, "metric:final_loss")
    assert down[0] == "Inf" and down[-1] == "NaN"
    assert floats(down[1:-1]) == sorted(floats(down[1:-1]), reverse=True)
    assert cell_el(page, 0, "metric:final_loss").inner_text() == "Inf"

    # filtering compares the numbers themselves: pick "≥" by the funnel, type 64
    button = page.locator("#hp-table .ag-floating-filter[aria-colindex]").filter(
        has=page.locator("input")
    )
    col = page.evaluate(
        f"{API}.getAllDisplayedColumns().findIndex(c => c.getColId() === 'hp:batch')"
    )
    button.nth(col - 1).locator("button").click()  # the selection column has no filter
    page.locator(".ag-filter .ag-picker-field").first.click()
    page.locator(".ag-list-item", has_text="Greater than or equal").click()
    page.locator(".ag-filter input[type=number], .ag-filter input.ag-input-field-input").first.fill(
        "64"
    )
    page.wait_for_function(f"{API}.getDisplayedRowCount() < {N_RUNS}")
    assert sorted(set(shown(page, "hp:batch"))) == ["128", "64"]
    assert rows_shown(page) == 6 + 6  # i % 3 in (1, 2) minus r01 (no batch)
    # Inf passes "> x" (it is a number), NaN passes no comparison
    page.evaluate(
        f"{API}.setFilterModel({{'metric:final_loss':"
        " {filterType: 'number', type: 'greaterThan', filter: 0}})"
    )
    page.wait_for_function(f"{API}.getDisplayedRowCount() === {N_RUNS - 1}")
    assert "Inf" in shown(page, "metric:final_loss")
    assert "NaN" not in shown(page, "metric:final_loss")

    # sort, filter and selection survive a rebuild (one page load for both: each costs ~1 s)
    page.locator("#hp-table .ag-header-cell[col-id='hp:lr'] .ag-header-cell-label").click()
    page.evaluate(  # replaces the filters above
        f"{API}.setFilterModel({{'hp:batch':"
        " {filterType: 'number', type: 'greaterThanOrEqual', filter: 64}})"
    )
    page.wait_for_function(f"{API}.getDisplayedRowCount() === 12")
    before = shown(page, "run")
    # another tag's final/best columns: new rowData and columnDefs from the server
    page.locator("#hp-metric-tags").click()
    page.get_by_role("option", name="acc").click()
    page.wait_for_function(f"!!{API}.getColumn('best:acc')")
    assert shown(page, "run") == before  # still filtered, still sorted by lr
    assert floats(shown(page, "hp:lr")) == sorted(floats(shown(page, "hp:lr")))
    assert page.evaluate(f"{API}.getSelectedRows().length") == N_RUNS


@pytest.mark.browser
def test_parcoords_and_the_grid_follow_the_runs_panel_offline(page, sweep_url):
    outside = []
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith((sweep_url, "data:", "blob:")) else outside.append(r.url)
        ),
    )
    open_hparams(page, sweep_url)
    dims = {d["label"]: d for d in json.loads(wait_parcoords(page))}
    assert set(dims) >= {"lr (log)", "batch", "optimizer", "warmup", "final_loss"}

    lr = dims["lr (log)"]
    assert all(isinstance(v, float) for v in lr["values"])
    assert lr["range"][0] < min(lr["values"]) and max(lr["values"]) < lr["range"][1]
    assert lr["values"][0] == pytest.approx(math.log10(EXACT_LR))
    assert "None" not in lr["ticktext"] and all(len(t) <= 6 for t in lr["ticktext"])

    batch = dims["batch"]  # r01 lacks it: an "n/a" tick below the numeric range
    ticks = dict(zip(batch["ticktext"], batch["tickvals"], strict=True))
    assert set(ticks) == {"32", "64", "128", MISSING}
    na = ticks[MISSING]
    assert batch["values"][:4] == [32, na, 128, 32] and na < 32
    assert batch["range"][0] < na and batch["range"][1] > 128

    loss = dims["final_loss"]  # r02's NaN sits at its own labelled place, r05's Inf above
    assert "NaN" in loss["ticktext"] and MISSING not in loss["ticktext"]
    assert loss["values"][2] == loss["tickvals"][loss["ticktext"].index("NaN")]
    assert loss["values"][2] < min(v for i, v in enumerate(loss["values"]) if i != 2)
    assert loss["values"][5] == max(loss["values"])

    assert dims["optimizer"]["ticktext"] == ["adam", "sgd"]
    assert dims["warmup"]["ticktext"] == ["False", "True"]

    # colour the lines by a metric: a colour bar appears, NaN run drawn in the grey band
    page.locator("#hp-color-by").click()
    page.get_by_role("option", name="final_loss").click()
    page.wait_for_function(
        "document.querySelector('#hp-parcoords .js-plotly-plot')._fullData[0].line.showscale"
    )
    line = page.evaluate(
        "(() => { const l = document.querySelector('#hp-parcoords .js-plotly-plot')"
        "._fullData[0].line; return {color: Array.from(l.color), cmin: l.cmin}; })()"
    )
    others = [c for i, c in enumerate(line["color"]) if i not in (2, 5)]
    assert line["cmin"] < line["color"][2] < min(others)  # the band under the metric's range
    assert page.locator("#hp-parcoords .colorbar").count() == 1

    # 20 runs overflow the runs panel: the list scrolls, the filter box keeps its height
    heights = page.evaluate(
        "['.fl-runs > .fl-input', '#runs-checklist'].map(s => document.querySelector(s)"
        ".getBoundingClientRect().height)"
    )
    panel = page.evaluate("document.querySelector('.fl-runs').clientHeight")
    assert heights[0] >= 28 and heights[1] > panel, (heights, panel)
    # the grid's ticks follow the runs panel and back; nothing is loaded from outside
    checked = (
        "Array.from(document.querySelectorAll('#hp-table .ag-row input[type=checkbox]'))"
        ".filter(b => b.checked).length"
    )
    page.wait_for_function(f"{API}.getSelectedRows().length === {N_RUNS}")
    page.locator(".fl-runs .fl-link-button", has_text="none").click()
    page.wait_for_function(f"{API}.getSelectedRows().length === 0 && {checked} === 0")
    page.locator(".fl-runs-list label", has_text="r03").click()
    page.wait_for_function(f"{API}.getSelectedRows().map(r => r.run).join() === 'r03'")
    assert page.locator("#hp-table .ag-row[row-index='3'] input[type=checkbox]").is_checked()
    # ticking a row in the grid selects the run in the runs panel
    page.locator("#hp-table .ag-row[row-index='0'] input[type=checkbox]").check()
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.fl-runs-list input')).filter(b => b.checked)"
        ".length === 2"
    )
    assert page.locator(".fl-runs-list label", has_text="r00").locator("input").is_checked()
    assert outside == []


@pytest.mark.browser
def test_single_run(page, dash_server, tmp_path):
    write_run(
        tmp_path, "only", {"lr": 0.003, "depth": 4, EVIL: "x"}, {"acc": 0.91, "gain": -0.0123456}
    )
    open_hparams(page, dash_server(tmp_path))
    dims = {d["label"]: d for d in json.loads(wait_parcoords(page))}
    for label, value in (("lr", 0.003), ("depth", 4), ("acc", 0.91)):
        lo, hi = dims[label]["range"]
        assert lo < value < hi and dims[label]["values"] == [value]
    assert shown(page, "hp:lr") == ["0.003"]
    assert cell_el(page, 0, "metric:gain").inner_text() == "-0.01235"  # ASCII minus
    assert page.locator("#hp-message").inner_text() == ""
    # a hostile hparam name is a header's text, never markup
    header = page.locator("#hp-table .ag-header-cell", has_text=EVIL)
    assert header.inner_text().strip() == EVIL and header.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None


@pytest.mark.browser
def test_runs_without_hparams_say_how_to_log_them(page, dash_server, tmp_path):
    write_run(tmp_path, "a")
    write_run(tmp_path, "b", seed=1)
    open_hparams(page, dash_server(tmp_path))
    msg = page.locator("#hp-message")
    msg.filter(has_text="No run logged hparams yet").wait_for()
    assert "writer.add_hparams(" in msg.inner_text()
    # the final/best columns of scalar tags still compare the runs
    page.locator("#hp-table .ag-cell[col-id='best:loss/train']").first.wait_for()
    best = shown(page, "best:loss/train")
    assert len(best) == 2 and all(0 < float(b) < 0.1 for b in best)
