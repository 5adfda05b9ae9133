"""HParams rows per trial: every ``add_hparams`` call is a row (a sweep loop in one script
gives one per configuration), labelled by run and trial, selected through its run, with
declared domains on the axes. Logs are written by the real SummaryWriter; the view is checked
in a real headless Chromium."""

from __future__ import annotations

import json

import pytest

from flowlog.backends import open_logdir
from flowlog.dashboard import hparams_grid as grid
from flowlog.dashboard.hparams_data import MISSING, RUN_LEVEL, table, trial_label, trial_note
from flowlog.dashboard.hparams_figures import (
    RUN_COLORS,
    categorical_dimension,
    initial_color_by,
    numeric_dimension,
    parcoords_figure,
)
from flowlog.writer import SummaryWriter

LRS = [0.1, 0.03, 0.01, 0.003, 0.001]


def info(data):
    return [
        {"name": r.name, "color": f"#0000{i:02d}", "status": r.status}
        for i, r in enumerate(data.runs())
    ]


def write_sweep(logdir, name="sweep", n=5, named=True, scalars=True, **kwargs):
    """One run, ``n`` add_hparams calls in a loop (as a sweep script does)."""
    w = SummaryWriter(logdir=logdir, run_name=name, flush_secs=0.2)
    if scalars:
        for s in range(10):
            w.add_scalar("loss", 1.0 / (s + 1), s)
    for i in range(n):
        w.add_hparams(
            {"lr": LRS[i % len(LRS)], "opt": ["adam", "sgd"][i % 2], "batch": 32 * (i + 1)},
            {"val_loss": 0.5 - 0.05 * i},
            run_name=f"trial{i}" if named else None,
            **kwargs,
        )
    w.close()


def write_single(logdir, name, lr=0.5):
    w = SummaryWriter(logdir=logdir, run_name=name, flush_secs=0.2)
    for s in range(10):
        w.add_scalar("loss", 2.0 / (s + 1), s)
    w.add_hparams({"lr": lr, "opt": "adam"}, {"val_loss": 0.9})
    w.close()


# ---------------------------------------------------------------- rows


def test_five_calls_give_five_rows_in_logging_order(tmp_path):
    write_sweep(tmp_path)
    data = open_logdir(tmp_path)
    t = table(data, info(data), ["loss"])
    assert len(t.rows) == 5
    assert [r["id"] for r in t.rows] == [f"sweep#{i}" for i in range(1, 6)]
    assert [r["trial"] for r in t.rows] == [1, 2, 3, 4, 5]
    assert [r["hp:lr"] for r in t.rows] == LRS
    assert [r["hp:batch"] for r in t.rows] == [32, 64, 96, 128, 160]
    assert [r["metric:val_loss"] for r in t.rows] == pytest.approx([0.5, 0.45, 0.4, 0.35, 0.3])
    assert [r["label"] for r in t.rows] == [f"sweep · trial{i}" for i in range(5)]
    assert {r["run"] for r in t.rows} == {"sweep"} and all(r["trials"] == 5 for r in t.rows)
    assert all(r["when"] for r in t.rows)  # the writer stamps each call's time
    # the run's scalar tags belong to no single trial: missing, and the grid says why
    assert all(r["final:loss"] is None and r["best:loss"] is None for r in t.rows)
    kinds = grid.column_kinds(t)
    rows = grid.grid_rows(t, kinds)
    assert rows[0]["_tip"]["final:loss"] == RUN_LEVEL.format(n=5)
    assert "trial 1 of 5" in rows[0]["_tip"]["run"]


def test_runs_with_one_and_three_trials_give_four_rows(tmp_path):
    write_single(tmp_path, "alone")
    write_sweep(tmp_path, "multi", n=3, named=False)
    data = open_logdir(tmp_path)
    t = table(data, info(data), ["loss"])
    assert [r["label"] for r in t.rows] == ["alone", "multi #1", "multi #2", "multi #3"]
    assert [r["run"] for r in t.rows] == ["alone", "multi", "multi", "multi"]
    assert [r["hp:lr"] for r in t.rows] == [0.5, *LRS[:3]]
    assert t.rows[0]["final:loss"] == pytest.approx(0.2)  # one trial: the run's tag is its
    assert t.rows[0]["best:loss"] == pytest.approx(0.2)
    assert t.rows[1]["final:loss"] is None
    assert t.hkeys == ["hp:lr", "hp:opt", "hp:batch"] and t.mkeys == ["metric:val_loss"]
    assert t.rows[0].get("hp:batch") is None  # alone never logged batch
    g = grid.build_grid(data, info(data), ["loss"], ["multi"], [])
    assert g.ids == ["alone#1", "multi#1", "multi#2", "multi#3"]
    assert g.selection == {"ids": ["multi#1", "multi#2", "multi#3"]}  # the run's every trial
    assert g.columns[0]["headerName"] == "run · trial" and g.columns[0]["field"] == "label"


def test_a_run_without_trials_still_gets_a_row(tmp_path):
    w = SummaryWriter(logdir=tmp_path, run_name="plain", flush_secs=0.2)
    w.add_scalar("loss", 0.25, 0)
    w.close()
    data = open_logdir(tmp_path)
    t = table(data, info(data), ["loss"])
    assert [(r["id"], r["label"], r["trial"]) for r in t.rows] == [("plain#0", "plain", None)]
    assert t.rows[0]["final:loss"] == 0.25 and not t.hkeys
    assert grid.build_grid(data, info(data), ["loss"], [], []).columns[0]["headerName"] == "run"


def test_trial_labels():
    assert trial_label("run", 1, None, 1, False) == "run"
    assert trial_label("run", 1, "best", 1, False) == "run · best"
    assert trial_label("run", 3, None, 4, False) == "run #3"
    assert trial_label("run", 3, "lr=0.1", 4, True) == "run · lr=0.1 #3"  # a repeated name
    row = {"run": "r", "label": "r #2", "trial": 2, "trials": 3, "when": "2026-01-02 03:04:05",
           "step": 700}  # fmt: skip
    assert trial_note(row) == "r #2 (run r) — trial 2 of 3 — logged 2026-01-02 03:04:05 — step 700"


def test_repeated_trial_names_stay_apart_and_steps_get_a_column(tmp_path):
    w = SummaryWriter(logdir=tmp_path, run_name="r", flush_secs=0.2)
    for i, step in enumerate((100, 200, 300)):
        w.add_hparams({"lr": LRS[i]}, {"m": float(i)}, run_name="same", global_step=step)
    w.close()
    data = open_logdir(tmp_path)
    g = grid.build_grid(data, info(data), [], [], [])
    assert [r["label"] for r in g.rows] == ["r · same #1", "r · same #2", "r · same #3"]
    assert [r["step"] for r in g.rows] == [100, 200, 300]
    assert [c.get("colId") for c in g.columns[:3]] == ["run", "status", "step"]
    assert grid.data_columns(g.columns) == ["hp:lr", "metric:m"]  # step is no parcoords axis
    assert g.columns[0]["comparator"]["function"] == grid.RUN_ORDER


# ---------------------------------------------------------------- selection


def test_ticking_a_trial_selects_its_run_and_unticking_one_deselects_it():
    info_ = [{"name": n} for n in ("a", "s", "bad")]
    rows = {"a#1": "a", "s#1": "s", "s#2": "s", "s#3": "s"}  # "bad": no row (unreadable)
    row = {i: {"id": i, "run": r} for i, r in rows.items()}
    # nothing selected; the user ticks s's 2nd trial: s is selected, all its trials ticked
    assert grid.sync_selection("grid", [row["s#2"]], ["bad"], info_, rows) == (
        {"ids": ["s#1", "s#2", "s#3"]},
        ["s", "bad"],
    )
    # the runs panel selecting s does the same
    assert grid.sync_selection("runs", [row["s#2"]], ["s", "bad"], info_, rows) == (
        {"ids": ["s#1", "s#2", "s#3"]},
        None,
    )
    # its echo changes nothing
    ticked = [row["s#1"], row["s#2"], row["s#3"]]
    assert grid.sync_selection("grid", ticked, ["s", "bad"], info_, rows) == (None, None)
    # unticking one trial of a selected run deselects the run (not: "the others hold it")
    assert grid.sync_selection("grid", ticked[:2], ["s", "bad"], info_, rows) == (
        {"ids": []},
        ["bad"],
    )
    # the header box ticking every row selects every run
    assert grid.sync_selection("grid", list(row.values()), [], info_, rows) == (None, ["a", "s"])


# ---------------------------------------------------------------- domains


def test_declared_domain_orders_the_axis_and_shows_untried_values(tmp_path):
    domains = {"opt": ["sgd", "rmsprop", "adam"], "batch": [32, 64, 96, 128, 160, 192]}
    write_sweep(tmp_path, n=3, hparam_domain_discrete=domains)
    data = open_logdir(tmp_path)
    t = table(data, info(data), [])
    assert t.domains == {"hp:opt": domains["opt"], "hp:batch": domains["batch"]}
    fig = parcoords_figure(t.rows, t.keys, {}, RUN_COLORS, None, t.domains)
    dims = {d.label: d for d in fig.data[0].dimensions}
    opt = dims["opt"]  # declared order, rmsprop though no trial tried it
    assert list(opt.ticktext) == ["sgd", "rmsprop", "adam"]
    assert list(opt.values) == [2, 0, 2]  # adam, sgd, adam
    batch = dims["batch"]  # tried 32, 64, 96; the axis spans and ticks up to 192
    assert batch.range[1] > 192 and list(batch.values) == [32, 64, 96]
    assert list(batch.ticktext) == ["32", "64", "96", "128", "160", "192"]
    # without the domains: only what was tried
    plain = {d.label: d for d in parcoords_figure(t.rows, t.keys, {}).data[0].dimensions}
    assert list(plain["opt"].ticktext) == ["adam", "sgd"] and plain["batch"].range[1] < 128
    # the grid's header tooltip names the declared values
    g = grid.build_grid(data, info(data), [], [], [])
    hp = next(c for c in g.columns if c.get("groupId") == "hparam")["children"]
    assert hp[1]["headerTooltip"] == "opt — declared values: sgd, rmsprop, adam"


def test_domain_dimensions_directly():
    dim = categorical_dimension("warmup", ["True", None], ["False", "True"])
    assert dim["ticktext"] == [MISSING, "False", "True"] and dim["values"] == [2, 0]
    dim = categorical_dimension("opt", ["lion"], ["adam"])  # a tried value the domain lacks
    assert dim["ticktext"] == ["adam", "lion"] and dim["values"] == [1]
    dim = numeric_dimension("d", [0.1], [0.0, 0.1, 0.5])
    assert dim["ticktext"] == ["0", "0.1", "0.5"] and dim["values"] == [0.1]


def test_a_sweep_is_coloured_by_its_first_metric_until_the_user_chooses(tmp_path):
    write_sweep(tmp_path, n=3)
    write_single(tmp_path, "alone")
    data = open_logdir(tmp_path)
    g = grid.build_grid(data, info(data), [], [], [])
    first = [{"label": "run colour", "value": RUN_COLORS}]  # the menu as the page starts
    assert initial_color_by(g.table, g.kinds, RUN_COLORS, first) == "metric:val_loss"
    assert initial_color_by(g.table, g.kinds, RUN_COLORS, first * 2) is None  # user's choice
    assert initial_color_by(g.table, g.kinds, "hp:lr", first) is None
    single = grid.build_grid(data, [r for r in info(data) if r["name"] == "alone"], [], [], [])
    assert initial_color_by(single.table, single.kinds, RUN_COLORS, first) is None


# ---------------------------------------------------------------- in the browser

# getApi throws until the grid exists, which would end a wait_for_function instead of retrying
API = "(() => { try { return dash_ag_grid.getApi('hp-table'); } catch (e) { return null; } })()"


def labels_shown(page):
    return page.evaluate(
        f"(() => {{ const api = {API}, out = [];"
        " api.forEachNodeAfterFilterAndSort(n => out.push(n.data.label)); return out; })()"
    )


def row_box(page, label):
    row = page.locator("#hp-table .ag-pinned-left-cols-container .ag-row").filter(
        has=page.locator(".ag-cell[col-id=run]", has_text=label)
    )
    return row.locator("input[type=checkbox]")


@pytest.mark.browser
def test_grid_lists_every_trial_and_a_ticked_trial_selects_its_run(page, dash_server, tmp_path):
    write_sweep(tmp_path, "sweep", n=11, named=False, hparam_domain_discrete={
        "opt": ["adam", "sgd", "lamb"]})  # fmt: skip
    write_single(tmp_path, "solo")
    page.goto(dash_server(tmp_path))
    page.locator(".tab", has_text="HParams").click()
    page.wait_for_function(f"{API}?.getDisplayedRowCount() === 12")
    # one DOM row per trial (12 fit without scrolling), each labelled by run and trial
    rows = page.locator("#hp-table .ag-center-cols-container .ag-row")
    assert rows.count() == 12
    cells = page.locator("#hp-table .ag-pinned-left-cols-container .ag-cell[col-id=run]")
    assert cells.all_inner_texts() == ["solo"] + [f"sweep #{k}" for k in range(1, 12)]
    # sorting the run column keeps the trials in logging order (#10 after #9), both ways
    header = page.locator("#hp-table .ag-header-cell[col-id=run] .ag-header-cell-label")
    header.click()
    header.click()
    page.wait_for_function(f"{API}.getColumnState().find(c => c.colId === 'run').sort === 'desc'")
    assert labels_shown(page) == [f"sweep #{k}" for k in range(11, 0, -1)] + ["solo"]

    # parcoords: a line per trial, coloured by the metric (a sweep), the declared "lamb" shown
    page.wait_for_function(
        "document.querySelector('#hp-parcoords .js-plotly-plot')?._fullData?.[0]?.line?.showscale"
    )
    dims = json.loads(page.evaluate(
        "JSON.stringify(document.querySelector('#hp-parcoords .js-plotly-plot')._fullData[0]"
        ".dimensions.map(d => ({label: d.label, n: d.values.length, ticktext: d.ticktext})))"
    ))  # fmt: skip
    assert all(d["n"] == 12 for d in dims)
    assert next(d for d in dims if d["label"] == "opt")["ticktext"] == ["adam", "sgd", "lamb"]
    assert page.locator("#hp-color-by").inner_text().strip() == "val_loss"

    # select nothing, then tick one trial: its run is selected in the runs panel, and every
    # trial of that run is ticked
    page.locator(".fl-runs .fl-link-button", has_text="none").click()
    page.wait_for_function(f"{API}.getSelectedRows().length === 0")
    row_box(page, "sweep #3").check()
    page.wait_for_function(f"{API}.getSelectedRows().length === 11")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.fl-runs-list label'))"
        ".filter(l => l.querySelector('input').checked)"
        ".map(l => l.innerText.trim().split(/\\s/)[0])"
        ".join() === 'sweep'"
    )
    assert not page.locator(".fl-runs-list label", has_text="solo").locator("input").is_checked()
    assert {r["run"] for r in page.evaluate(f"{API}.getSelectedRows()")} == {"sweep"}
    # unticking one of its trials deselects the run
    row_box(page, "sweep #10").uncheck()
    page.wait_for_function(f"{API}.getSelectedRows().length === 0")
    page.wait_for_function(
        "!Array.from(document.querySelectorAll('.fl-runs-list input')).some(b => b.checked)"
    )


def test_log_axis_labels_the_part_past_its_outer_decades():
    """A sweep's lr from 1.1e-4 to 0.1: decade ticks leave the bottom 0.95 decade bare."""
    import numpy as np

    dim = numeric_dimension("lr", list(np.geomspace(1.12e-4, 0.1, 12)))
    assert dim["label"] == "lr (log)"
    assert dim["ticktext"] == ["0.0002", "0.0005", "0.001", "0.01", "0.1"]
    assert np.allclose(dim["tickvals"][:2], np.log10([2e-4, 5e-4]))
    dim = numeric_dimension("lr", list(np.geomspace(1e-3, 0.6, 12)))
    assert dim["ticktext"] == ["0.001", "0.01", "0.1", "0.2", "0.5"]
