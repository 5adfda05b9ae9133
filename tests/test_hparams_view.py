"""The HParams view: number formatting, parallel-coordinates axes, empty and edge states.

Pure helpers are checked directly; the view itself in a real headless Chromium on logdirs
written by the real SummaryWriter.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from flowlog.dashboard.views.hparams import (
    MISSING,
    NA_GREY,
    RUN_COLORS,
    UNSELECTED,
    column_kind,
    fmt3,
    numeric_dimension,
    parcoords_figure,
)
from flowlog.writer import SummaryWriter

EXACT_LR = 0.0105769206141846
N_RUNS = 20


# ---------------------------------------------------------------- pure helpers


def test_fmt3_three_significant_digits():
    assert [fmt3(v) for v in (0.0105769206141846, 300, 12345.0, 1e-5, 2.5e7)] == [
        "0.0106",
        "300",
        "1.23e4",
        "1e-5",
        "2.5e7",
    ]


def test_column_kind():
    assert column_kind([1, None, 3]) == "int"
    assert column_kind([1, 0.5, "NaN"]) == "float"
    assert column_kind(["NaN", None]) == "float"
    assert column_kind(["adam", 1]) == "text"
    assert column_kind(["True", "False"]) == "text"  # bools arrive as text cells
    assert column_kind([None, None]) is None


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


def write_run(logdir, name, hparams=None, metrics=None, n=40, seed=0):
    rng = np.random.default_rng(seed)
    w = SummaryWriter(logdir, run_name=name, flush_secs=0.2)
    loss = np.exp(-np.arange(n) / 10) + 0.01 * rng.random(n)
    for s in range(n):
        w.add_scalar("loss/train", float(loss[s]), s)
    if hparams is not None:
        w.add_hparams(hparams, metrics or {})
    w.close()


def sweep(logdir):
    """20 runs: log-spread lr, int batch (one run lacks it), text optimizer, bool warmup,
    a final_loss metric that is NaN in one run."""
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
        loss = math.nan if i == 2 else float(rng.uniform(0.01, 0.5))
        write_run(logdir, f"r{i:02d}", hp, {"final_loss": loss}, seed=i)


def open_hparams(page, url):
    page.goto(url)
    page.locator(".tab", has_text="HParams").click()
    page.locator("#hp-table td[data-dash-column=run]").first.wait_for()


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


def cells(page, col):
    return page.locator(f"#hp-table td[data-dash-column='{col}']").all_inner_texts()


@pytest.fixture(scope="module")
def sweep_url(tmp_path_factory):
    from conftest import DashServer

    from flowlog.dashboard import create_app

    d = tmp_path_factory.mktemp("sweep") / "runs"
    sweep(d)
    server = DashServer(create_app(d))
    yield server.url
    server.stop()


@pytest.mark.browser
def test_table_shows_rounded_numbers_but_sorts_and_filters_exact_ones(page, sweep_url):
    open_hparams(page, sweep_url)
    page.wait_for_function(
        f"document.querySelectorAll('#hp-table td[data-dash-column=run]').length === {N_RUNS}"
    )
    lr = cells(page, "hp:lr")
    assert lr[0] == "0.01058"  # 4 significant digits, not 0.0105769206141846
    assert all(len(t.replace("-", "").replace(".", "").lstrip("0")) <= 5 for t in lr), lr
    assert cells(page, "metric:final_loss")[2] == "NaN"
    batch = cells(page, "hp:batch")
    assert batch[:4] == ["32", "", "128", "32"]  # integers as integers; r01 has none
    assert cells(page, "hp:warmup")[:2] == ["True", "False"]

    # the exact value is a tooltip away
    page.locator("#hp-table td[data-dash-column='hp:lr']").first.hover()
    page.locator(".dash-tooltip").filter(has_text=repr(EXACT_LR)).wait_for()

    # sorting is numeric (a text sort would put 0.0001x after 0.01x), NaN sorts last
    page.locator("#hp-table th[data-dash-column='metric:final_loss'] .column-header--sort").click()
    page.wait_for_function(
        "(() => { const v = Array.from(document.querySelectorAll("
        "\"#hp-table td[data-dash-column='metric:final_loss']\"), c => c.innerText);"
        " return v[v.length - 1] === 'NaN'; })()"
    )
    shown = [float(t) if t != "NaN" else math.nan for t in cells(page, "metric:final_loss")]
    finite = [v for v in shown if not math.isnan(v)]
    assert finite == sorted(finite) and len(finite) == N_RUNS - 1
    assert math.isnan(shown[-1])

    # filtering compares the numbers themselves
    flt = page.locator("#hp-table th.dash-filter[data-dash-column='hp:batch'] input[type=text]")
    flt.fill(">=64")
    flt.press("Enter")
    page.wait_for_function(
        "document.querySelectorAll('#hp-table td[data-dash-column=run]').length < 20"
    )
    assert sorted(set(cells(page, "hp:batch"))) == ["128", "64"]
    assert len(cells(page, "hp:batch")) == 6 + 6  # i % 3 in (1, 2) minus r01 (no batch)


@pytest.mark.browser
def test_parcoords_axes_numeric_log_categorical_and_labelled_missing(page, sweep_url):
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

    loss = dims["final_loss"]  # r02's NaN sits at its own labelled place
    assert "NaN" in loss["ticktext"] and MISSING not in loss["ticktext"]
    assert loss["values"][2] == loss["tickvals"][loss["ticktext"].index("NaN")]
    assert loss["values"][2] < min(v for i, v in enumerate(loss["values"]) if i != 2)

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
    others = [c for i, c in enumerate(line["color"]) if i != 2]
    assert line["cmin"] < line["color"][2] < min(others)  # the band under the metric's range
    assert page.locator("#hp-parcoords .colorbar").count() == 1


@pytest.mark.browser
def test_single_run(page, dash_server, tmp_path):
    write_run(tmp_path, "only", {"lr": 0.003, "depth": 4}, {"acc": 0.91, "gain": -0.0123456})
    open_hparams(page, dash_server(tmp_path))
    dims = {d["label"]: d for d in json.loads(wait_parcoords(page))}
    for label, value in (("lr", 0.003), ("depth", 4), ("acc", 0.91)):
        lo, hi = dims[label]["range"]
        assert lo < value < hi and dims[label]["values"] == [value]
    assert cells(page, "hp:lr") == ["0.003"]
    assert cells(page, "metric:gain") == ["-0.01235"]  # ASCII minus: pastes into Python
    assert page.locator("#hp-message").inner_text() == ""


@pytest.mark.browser
def test_runs_without_hparams_say_how_to_log_them(page, dash_server, tmp_path):
    write_run(tmp_path, "a")
    write_run(tmp_path, "b", seed=1)
    open_hparams(page, dash_server(tmp_path))
    msg = page.locator("#hp-message")
    msg.filter(has_text="No run logged hparams yet").wait_for()
    assert "writer.add_hparams(" in msg.inner_text()
    # the final/best columns of scalar tags still compare the runs
    page.locator("#hp-table td[data-dash-column='best:loss/train']").first.wait_for()
    best = cells(page, "best:loss/train")
    assert len(best) == 2 and all(0 < float(b) < 0.1 for b in best)
