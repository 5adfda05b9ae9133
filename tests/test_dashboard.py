"""The dashboard in a real headless Chromium, on logdirs written by the real SummaryWriter."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from conftest import BROWSER_TIMEOUT_MS, EVIL, N, linear_model, write_run, write_two_runs

from flowlog.writer import SummaryWriter

pytestmark = pytest.mark.browser
# the Histograms tab's ridgeline chart (after the percentiles'): one ridge per logged step
RIDGES = (
    "([...document.querySelectorAll('.fl-histograms .js-plotly-plot')].at(-1) || {data: []})"
    ".data.length"
)


@pytest.fixture
def logdir(tmp_path):
    return write_two_runs(tmp_path / "runs")


@pytest.fixture(scope="module")
def shared(browser, tmp_path_factory):
    """One server on a read-only logdir and one browser context for the tests that only read:
    the context's HTTP cache keeps plotly.js (4.8 MB) loaded across those tests."""
    from conftest import DashServer

    from flowlog.dashboard import create_app

    d = tmp_path_factory.mktemp("shared") / "runs"
    write_run(d, "alpha", seed=1, lr=0.1, nan_at=1500)
    write_run(d, "beta", seed=2, lr=0.01)
    server = DashServer(create_app(d))
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    yield server.url, context
    context.close()
    server.stop()


@pytest.fixture
def spage(shared):
    """A fresh page on the shared server (same cache); returns (page, url)."""
    url, context = shared
    pg = context.new_page()
    pg.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield pg, url
    pg.close()


def graph_sel(tag: str) -> str:
    """CSS selector of a Scalars chart (dash renders dict ids as sorted-key JSON)."""
    key = json.dumps({"tag": tag, "type": "sc-graph"}, separators=(",", ":"))
    return f"[id='{key}'] .js-plotly-plot"


def wait_traces(page, tag, n, cond="true"):
    """Wait until the chart for ``tag`` has ``n`` traces and ``cond`` (JS on ``gd``) holds."""
    page.wait_for_function(
        "([sel, n]) => { const gd = document.querySelector(sel);"
        f" return gd && gd.data && gd.data.length === n && ({cond}); }}",
        arg=[graph_sel(tag), n],
    )


def trace(page, tag, i):
    return page.evaluate(
        "([sel, i]) => { const t = document.querySelector(sel)._fullData[i];"
        " return {x: Array.from(t.x), y: Array.from(t.y, v => v === null ? NaN : v),"
        " name: t.name, type: t.type}; }",
        [graph_sel(tag), i],
    )


def test_runs_listed_with_status_colours_and_warning_for_corrupt_file(page, dash_server, logdir):
    write_run(logdir, EVIL, seed=3, evil_tag=True)
    (logdir / "broken.flowlog.db").write_bytes(b"this is not sqlite" * 100)
    page.goto(dash_server(logdir, reload_interval=0.5))
    rows = page.locator(".fl-runs-list .fl-run-name")
    rows.first.wait_for()
    page.wait_for_function("document.querySelectorAll('.fl-runs-list .fl-run-name').length === 3")
    assert rows.all_inner_texts() == [EVIL, "alpha", "beta"]
    assert page.locator(".fl-status-finished").count() == 3
    swatches = page.locator(".fl-swatch").evaluate_all("els => els.map(e => e.style.background)")
    assert len(set(swatches)) == 3
    warn = page.locator(".fl-warn-box")
    warn.wait_for()
    assert "1 unreadable file" in warn.inner_text()
    page.locator(".fl-warn-box summary").click()
    assert "broken.flowlog.db" in warn.inner_text()
    assert warn.inner_text().count("skipped") == 1  # the summary and the line each said it
    # the page still works, and log content is rendered as text: the tag is a chart title
    # per run: raw, smoothed, and markers only if it has NaN/Inf (alpha does)
    wait_traces(page, EVIL, 2)  # only the evil run has this tag
    wait_traces(page, "loss/train", 2 + 3 + 2)
    assert page.get_by_text(EVIL).count() >= 2
    assert page.evaluate("window.__pwned") is None
    assert page.locator(f".fl-run-name:text-is('{EVIL}')").count() == 1
    # the run's colour is the same in the chart's lines and the panel's swatch
    colors = page.evaluate(
        "sel => document.querySelector(sel).data.map(t => t.line && t.line.color)",
        graph_sel("loss/train"),
    )
    assert swatches[1].replace(" ", "") in {
        "rgb({},{},{})".format(*(int(c[i : i + 2], 16) for i in (1, 3, 5)))
        for c in colors
        if c and c.startswith("#")
    }


def test_chart_traces_smoothing_and_nonfinite_markers(spage):
    page, url = spage
    page.goto(url)
    # per run: raw (faint), smoothed, and non-finite markers only where there are any:
    # alpha has a NaN, beta has none
    wait_traces(page, "loss/train", 3 + 2)
    raw, smooth, nf = (trace(page, "loss/train", i) for i in range(3))
    assert [trace(page, "loss/train", i)["name"] for i in (3, 4)] == ["beta", "beta"]
    assert nf["name"] == "alpha non-finite"
    assert raw["name"] == smooth["name"] == "alpha"
    # per bucket the raw and the smoothed extremes, the ends, the NaN
    assert len(raw["x"]) <= 4 * 300 + 3 and raw["x"] == smooth["x"]
    assert raw["x"][0] == 0 and raw["x"][-1] == N - 1
    assert not np.allclose(raw["y"], smooth["y"], equal_nan=True)
    assert nf["x"] == [1500]  # the NaN is marked, not dropped silently
    # a one-step gap is under a pixel here: the line runs on past it (scalars_markers.line_keep)
    assert 1500 not in raw["x"] and not any(math.isnan(y) for y in raw["y"])
    # smoothing 0: the line is the raw data itself, one trace per run plus alpha's markers
    page.locator(".fl-smoothing [role=slider]").focus()
    page.keyboard.press("Home")
    wait_traces(page, "loss/train", 2 + 1)
    plain = trace(page, "loss/train", 0)
    raw_at = dict(zip(raw["x"], raw["y"], strict=True))
    common = [i for i, x in enumerate(plain["x"]) if x in raw_at][:50]
    assert len(common) == 50  # the raw extremes are drawn whatever the smoothing
    got = [plain["y"][i] for i in common]
    assert got == pytest.approx([raw_at[plain["x"][i]] for i in common], nan_ok=True)
    # heavier smoothing: a flatter line than the default 0.6
    page.keyboard.press("End")
    wait_traces(page, "loss/train", 5)
    heavy = trace(page, "loss/train", 1)
    assert np.nanstd(np.diff(heavy["y"])) < np.nanstd(np.diff(smooth["y"]))


def test_x_axis_modes_and_log_scale(spage):
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/val", 5)
    step_x = trace(page, "loss/val", 0)["x"]
    assert step_x[:3] == [0, 10, 20]
    page.get_by_label("Relative").check()
    wait_traces(page, "loss/val", 5, "gd.layout.xaxis.title.text.startsWith('relative')")
    rel = trace(page, "loss/val", 0)["x"]
    assert rel[0] == 0 and all(b >= a for a, b in zip(rel, rel[1:], strict=False))
    assert rel[-1] < 120  # seconds since the run started, not steps
    page.get_by_label("Wall").check()
    wait_traces(page, "loss/val", 5, "gd._fullLayout.xaxis.type === 'date'")
    page.get_by_label("log y").check()
    wait_traces(page, "loss/val", 5, "gd._fullLayout.yaxis.type === 'log'")


def test_zoom_fetches_every_point_of_the_visible_range(spage):
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/train", 5)
    coarse = trace(page, "loss/train", 3)["x"]
    assert len(coarse) < N  # bucketed: not every point
    page.wait_for_load_state("networkidle")  # the first render's callbacks have all landed
    page.evaluate(
        "sel => Plotly.relayout(document.querySelector(sel), {'xaxis.range': [1000, 1600]})",
        graph_sel("loss/train"),
    )
    wait_traces(page, "loss/train", 5, "gd._fullData[3].x.length === 601")
    fine = trace(page, "loss/train", 3)["x"]
    assert fine == list(range(1000, 1601))


def test_a_control_changed_during_a_zoom_is_not_undone_by_the_zooms_answer(spage):
    """The zoom's request is held while the smoothing is set to 0 and Dash draws that figure.
    Its answer, built with smoothing 0.6, is then dropped, and the zoom asked again: the chart
    ends zoomed and unsmoothed, as the controls say (it ended smoothed before)."""
    page, url = spage
    held, asked = [], []

    def hold_first(route):
        asked.append(json.loads(route.request.post_data)["controls"]["weight"])
        if held:
            route.continue_()
        else:
            held.append(route)

    page.goto(url)
    wait_traces(page, "loss/train", 5)  # two runs' raw and smoothed lines, alpha's NaN marker
    page.wait_for_load_state("networkidle")
    page.route("**/_flowlog/scalars/zoom", hold_first)
    page.evaluate(
        "sel => Plotly.relayout(document.querySelector(sel), {'xaxis.range': [1000, 1600]})",
        graph_sel("loss/train"),
    )
    for _ in range(400):  # (the route's handler runs while Playwright waits)
        if held:
            break
        page.wait_for_timeout(25)
    assert len(held) == 1
    page.locator("#sc-smoothing-box").fill("0")
    page.locator("#sc-smoothing-box").press("Enter")
    wait_traces(page, "loss/train", 3)  # unsmoothed: no smoothed lines
    held[0].continue_()  # the old zoom's answer comes now, after the newer figure
    wait_traces(page, "loss/train", 3, "gd._fullData[2].x.length === 601")
    page.wait_for_timeout(800)  # and nothing undoes it
    assert page.evaluate(
        "sel => document.querySelector(sel).data.map(t => t.meta && t.meta[3])",
        graph_sel("loss/train"),
    ) == ["plain", None, "plain"]
    assert trace(page, "loss/train", 2)["x"] == list(range(1000, 1601))
    assert asked == [0.6, 0]


def test_a_zoom_draws_twice_not_three_times_and_a_reset_draws_the_whole_range(spage):
    """dcc.Graph re-plots its figure after every relayout (it writes the zoom back into it);
    assets/plotly_hooks.js skips that re-plot of what is drawn, so a zoom draws twice: the
    relayout's own redraw, then the server's finer data. A reset still redraws the whole."""
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/train", 5)
    page.wait_for_load_state("networkidle")
    # the page's own late draws (a deferred first draw, a resize once the layout settles) are
    # over before counting: a clean-clone CI run once counted one of them
    page.wait_for_timeout(1000)
    page.evaluate(
        """sel => { const gd = document.querySelector(sel);
        window.__draws = 0; gd.on('plotly_afterplot', () => { window.__draws += 1; });
        Plotly.relayout(gd, {'xaxis.range': [1000, 1600]}); }""",
        graph_sel("loss/train"),
    )
    wait_traces(page, "loss/train", 5, "gd._fullData[3].x.length === 601")
    page.wait_for_timeout(500)  # nothing else draws after it
    assert page.evaluate("window.__draws") == 2
    page.evaluate(
        "sel => Plotly.relayout(document.querySelector(sel), {'xaxis.autorange': true})",
        graph_sel("loss/train"),
    )
    last = f"gd._fullData[3].x[gd._fullData[3].x.length - 1] === {N - 1}"
    wait_traces(page, "loss/train", 5, last)  # the server's data of the whole range again
    assert trace(page, "loss/train", 3)["x"][0] == 0


def test_a_zoom_drawn_outside_dash_reaches_its_stores(spage):
    """assets/scalars_zoom.js draws a zoom itself, then hands the figure and state to Dash:
    a y-only relayout (dcc.Graph re-plots its own figure) keeps the fine data, the zoomed
    chart's export holds its window, and a smoothing change rebuilds it at the zoom."""
    page, url = spage
    page.goto(url)
    page.locator("#sc-tag-filter").fill("train")
    page.locator("#sc-tag-filter").press("Enter")
    page.wait_for_function("document.querySelectorAll('.fl-chart .js-plotly-plot').length === 1")
    wait_traces(page, "loss/train", 5)
    page.wait_for_load_state("networkidle")
    relayout = "([sel, r]) => Plotly.relayout(document.querySelector(sel), r)"
    page.evaluate(relayout, [graph_sel("loss/train"), {"xaxis.range": [1000, 1600]}])
    wait_traces(page, "loss/train", 5, "gd._fullData[3].x.length === 601")
    page.evaluate(relayout, [graph_sel("loss/train"), {"yaxis.range": [0, 5]}])
    page.wait_for_timeout(500)
    assert trace(page, "loss/train", 3)["x"] == list(range(1000, 1601))
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path()).read())))
    assert sorted({int(r["step"]) for r in rows}) == list(range(1000, 1601))
    before = trace(page, "loss/train", 4)["y"]
    page.locator("#sc-smoothing-box").fill("0.95")
    page.locator("#sc-smoothing-box").press("Enter")
    wait_traces(page, "loss/train", 5, f"gd._fullData[4].y[0] !== {before[0]!r}")
    again = trace(page, "loss/train", 4)
    assert again["x"] == list(range(1000, 1601))


def test_a_zoom_on_relative_time_and_a_log_x_axis_draws_its_window(spage):
    """The zoom route reads a relayout in the chart's own axis units: seconds since the run
    started on the Relative axis, decades on a log x axis."""
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/val", 5)
    page.get_by_label("Relative").check()
    wait_traces(page, "loss/val", 5, "gd.layout.xaxis.title.text.startsWith('relative')")
    page.wait_for_load_state("networkidle")
    rel = trace(page, "loss/val", 0)["x"]
    lo, hi = rel[len(rel) // 4], rel[len(rel) // 2]
    relayout = "([sel, r]) => Plotly.relayout(document.querySelector(sel), r)"
    page.evaluate(relayout, [graph_sel("loss/val"), {"xaxis.range": [lo, hi]}])
    wait_traces(page, "loss/val", 5, f"gd._fullData[0].x[0] >= {lo} - 1")
    got = trace(page, "loss/val", 0)["x"]
    assert lo - 1 <= got[0] and got[-1] <= hi + 1 and len(got) > 10
    page.get_by_role("radio", name="Step").check()
    page.get_by_label("log x").check()
    wait_traces(page, "loss/val", 5, "gd._fullLayout.xaxis.type === 'log'")
    page.wait_for_load_state("networkidle")
    page.evaluate(relayout, [graph_sel("loss/val"), {"xaxis.range": [2, 3]}])  # steps 100..1000
    page.wait_for_function(  # (not wait_traces: the zoomed figure need not have 5 traces)
        "sel => { const gd = document.querySelector(sel); return gd._fullData[0].x[0] >= 90; }",
        arg=graph_sel("loss/val"),
    )
    steps = trace(page, "loss/val", 0)["x"]
    assert steps == list(range(100, 1001, 10))  # every logged step of the window


def test_export_csv_and_json_hold_every_visible_point(spage):
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/train", 5)
    page.locator("#sc-tag-filter").fill("train")
    page.locator("#sc-tag-filter").press("Enter")
    page.wait_for_function("document.querySelectorAll('.fl-chart .js-plotly-plot').length === 1")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path()).read())))
    assert len(rows) == 2 * N
    assert {r["run"] for r in rows} == {"alpha", "beta"} and {r["tag"] for r in rows} == {
        "loss/train"
    }
    alpha = [r for r in rows if r["run"] == "alpha"]
    assert [int(r["step"]) for r in alpha] == list(range(N))
    assert alpha[1500]["value"] == "NaN" and float(alpha[10]["smoothed"]) != float(
        alpha[10]["value"]
    )
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export JSON").click()
    doc = json.loads(open(dl.value.path()).read())
    assert doc["format"] == "flowlog.scalars/2" and doc["smoothing"] == 0.6
    series = {(s["run"], s["tag"]): s for s in doc["series"]}
    assert set(series) == {("alpha", "loss/train"), ("beta", "loss/train")}
    assert series[("alpha", "loss/train")]["value"][1500] == "NaN"
    assert len(series[("beta", "loss/train")]["step"]) == N


def test_growing_run_shows_new_points_without_reload(page, dash_server, tmp_path):
    d = tmp_path / "live"
    w, _ = write_run(d, "live", n=200, close=False)
    try:
        page.goto(dash_server(d, reload_interval=0.5))
        wait_traces(page, "loss/train", 2)  # raw and smoothed: no NaN/Inf, no markers
        page.locator(".fl-status-running").wait_for()
        page.evaluate("window.__marker = 1")  # survives only if the page is not reloaded
        for s in range(200, 260):
            w.add_scalar("loss/train", 0.5, s)
        w.flush()
        wait_traces(
            page, "loss/train", 2, "gd._fullData[0].x[gd._fullData[0].x.length - 1] === 259"
        )
        raw = trace(page, "loss/train", 0)
        assert raw["x"][-60:] == list(range(200, 260))
        assert page.evaluate("window.__marker") == 1
    finally:
        w.close()
    page.locator(".fl-status-finished").wait_for()


def test_refreshes_of_a_live_run_send_nothing_for_hidden_views(page, dash_server, tmp_path):
    """A live run refreshes the runs every interval; only the shown views' callbacks take it
    (tab_gate). A hidden view is brought up to date when its tab is opened, then follows."""
    from flowlog.writer import SummaryWriter

    d = tmp_path / "live"
    w = SummaryWriter(logdir=d, run_name="live", flush_secs=0.1)
    w.add_scalar("loss/train", 1.0, 0)
    w.add_histogram("weights", np.arange(10.0), 0)
    w.flush()
    outputs = []
    page.on(
        "request",
        lambda r: outputs.append(json.loads(r.post_data)["output"])
        if "_dash-update-component" in r.url
        else None,
    )
    try:
        page.goto(dash_server(d, reload_interval=0.3))
        wait_traces(page, "loss/train", 2)
        for s in range(1, 8):  # the run grows on every refresh
            w.add_scalar("loss/train", 1.0 / (s + 1), s)
            w.flush()
            page.wait_for_timeout(300)
        wait_traces(page, "loss/train", 2, "gd._fullData[0].x.length === 8")
        hidden = [o for o in outputs if any(v in o for v in ("graph-", "hist-", "img-", "hp-",
                                                             "text-", "pr-"))]  # fmt: skip
        assert "runs-info.data" in " ".join(outputs)  # the refreshes did happen
        assert hidden == []
        # opening Histograms shows what was logged while it was hidden, then follows the run
        w.add_histogram("weights", np.arange(20.0), 8)
        w.flush()
        page.locator(".tab", has_text="Histograms").click()
        page.wait_for_function(f"() => {RIDGES} === 2")  # steps 0 and 8
        outputs.clear()
        w.add_histogram("weights", np.arange(30.0), 9)
        w.flush()
        page.wait_for_function(f"() => {RIDGES} === 3")
        assert any("hist-charts" in o for o in outputs)
    finally:
        w.close()


def test_an_open_histograms_tab_follows_histograms_logged_below_the_last_scalar_step(
    page, dash_server, tmp_path
):
    """Histograms per epoch beside scalars per batch: a new epoch's histogram never moves the
    run's last step, yet the open tab shows it (the runs' info carries each kind's last step)."""
    from flowlog.writer import SummaryWriter

    d = tmp_path / "live"
    w = SummaryWriter(logdir=d, run_name="live", flush_secs=0.1)
    for s in range(100):
        w.add_scalar("loss/train", 1.0 / (s + 1), s)
    w.add_histogram("weights", np.arange(10.0), 0)  # epoch 0
    w.flush()
    try:
        page.goto(dash_server(d, reload_interval=0.3))
        page.locator(".tab", has_text="Histograms").click()
        page.wait_for_function(f"() => {RIDGES} === 1")
        w.add_histogram("weights", np.arange(20.0), 1)  # epoch 1, far below step 99
        w.flush()
        page.wait_for_function(f"() => {RIDGES} === 2", timeout=15_000)
    finally:
        w.close()


def test_missing_logdir_then_runs_appear(page, dash_server, tmp_path):
    d = tmp_path / "later"
    page.goto(dash_server(d, reload_interval=0.5))
    empty = page.locator(".fl-empty")
    empty.filter(has_text="does not exist yet").wait_for()
    d.mkdir()
    empty.filter(has_text="No runs in").wait_for()
    # the exact command that logs into the logdir shown (./runs would not be it)
    assert f"python examples/linear_regression.py --logdir {d}" in empty.inner_text()
    write_run(d, "first", n=50)
    page.locator(".fl-run-name", has_text="first").wait_for()
    wait_traces(page, "loss/train", 2)


def test_hparams_rows_select_runs_everywhere(spage):
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/train", 5)
    page.locator(".tab", has_text="HParams").click()
    table = page.locator("#hp-table")  # a dash-ag-grid: cells are .ag-cell[col-id=...]
    table.locator(".ag-cell[col-id=run]").first.wait_for()
    assert sorted(table.locator(".ag-cell[col-id=run]").all_inner_texts()) == ["alpha", "beta"]
    lr = table.locator(".ag-cell[col-id='hp:lr']").all_inner_texts()
    assert sorted(lr) == ["0.01", "0.1"]
    best = table.locator(".ag-cell[col-id='best:loss/train']").all_inner_texts()
    assert len(best) == 2 and all(float(b) < 0.2 for b in best)
    page.wait_for_function(
        "document.querySelector('#hp-parcoords .js-plotly-plot')?._fullData?.[0]?.type"
        " === 'parcoords'"
    )
    assert (
        page.evaluate(
            "document.querySelector('#hp-parcoords .js-plotly-plot')._fullData[0].dimensions.length"
        )
        == 3 + 4
    )  # lr, seed, final_loss; final and best of loss/train and loss/val
    page.wait_for_function(
        "Array.from(document.querySelectorAll('#hp-table .ag-row input[type=checkbox]'))"
        ".filter(b => b.checked).length === 2"
    )
    table.locator(".ag-row[row-index='1'] input[type=checkbox]").uncheck()  # beta
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.fl-runs-list input')).filter(b => b.checked)"
        ".length === 1"
    )
    # the parallel coordinates follow: beta's line pale and drawn first, alpha's in its colour
    page.wait_for_function(
        "() => { const l = document.querySelector('#hp-parcoords .js-plotly-plot')"
        "._fullData[0].line; return l.colorscale[0][1] === '#e3e6ea'; }"
    )
    scale = page.evaluate(
        "document.querySelector('#hp-parcoords .js-plotly-plot')._fullData[0].line.colorscale"
    )
    alpha = page.evaluate(
        "getComputedStyle(document.querySelector('.fl-runs-list .fl-swatch')).backgroundColor"
    )
    assert [c for _p, c in scale] == ["#e3e6ea", swatch_hex(alpha)]
    page.locator(".tab", has_text="Scalars").click()
    wait_traces(page, "loss/train", 3)  # alpha alone: raw, smoothed, its NaN marker
    assert trace(page, "loss/train", 0)["name"] == "alpha"


def swatch_hex(css: str) -> str:
    """``rgb(r, g, b)`` -> ``#rrggbb``."""
    r, g, b = (int(v) for v in css[css.index("(") + 1 : css.index(")")].split(","))
    return f"#{r:02x}{g:02x}{b:02x}"


def test_histograms_draw_percentiles_and_ridgelines(spage):
    page, url = spage
    page.goto(url)
    page.locator(".tab", has_text="Histograms").click()
    page.locator(".fl-histograms .js-plotly-plot").first.wait_for()
    page.wait_for_function(
        "document.querySelectorAll('.fl-histograms .js-plotly-plot').length === 3"
    )
    n_traces = page.evaluate(
        "Array.from(document.querySelectorAll('.fl-histograms .js-plotly-plot'),"
        " g => g.data.length)"
    )
    assert n_traces == [2 * 5, 10, 10]  # bands + median per run; one ridge per logged step
    page.get_by_label("Heatmap").check()
    page.wait_for_function(
        "document.querySelectorAll('.fl-histograms .heatmaplayer image').length === 2"
    )


def test_numerics_marker_links_to_the_graph_view(page, dash_server, tmp_path):
    import flowlog as fl

    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(fl.float64, shape=[None, 3], name="x")
        y = fl.placeholder(fl.float64, shape=[None, 1], name="y")
        with fl.name_scope("dense"):
            w = fl.Variable(np.array([[0.5], [-0.25], [1.0]]), name="w")
            pred = fl.matmul(x, w)
        loss = fl.reduce_mean(fl.square(pred - y), name="loss")
        train = fl.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = fl.Session(g, check_numerics=True)
    good = {x: np.ones((4, 3)), y: np.ones((4, 1))}
    bad = {x: np.full((4, 3), np.nan), y: np.ones((4, 1))}
    d = tmp_path / "nan"
    now = {"step": 0}
    with SummaryWriter(logdir=d, run_name="diverged") as writer:
        writer.watch(sess, every=1000, global_step=lambda: now["step"])
        for step in range(40):
            now["step"] = step
            value = sess.run(loss, feed_dict=bad if step == 25 else good)
            writer.add_scalar("loss", float(value), step)
            sess.run(train, feed_dict=good)
    page.goto(dash_server(d))
    # raw, smoothed, non-finite markers, then the numerics marker
    wait_traces(page, "loss", 4)
    marker = page.evaluate(
        "sel => { const gd = document.querySelector(sel); const t = gd._fullData[3];"
        " return {x: t.x[0], text: t.text[0], cd: Array.from(t.customdata[0])}; }",
        graph_sel("loss"),
    )
    assert marker["cd"][0] == "numerics" and marker["cd"][1] == "diverged"
    assert marker["text"].startswith("first NaN/Inf: ")
    step = marker["cd"][2]
    assert trace(page, "loss", 2)["x"] == [step]  # the NaN loss is marked at the same step
    xy = page.evaluate(
        "sel => { const gd = document.querySelector(sel); const L = gd._fullLayout;"
        " const r = gd.getBoundingClientRect(); const t = gd._fullData[3];"
        " return [r.left + L._size.l + L.xaxis.l2p(t.x[0]),"
        "         r.top + L._size.t + L.yaxis2.l2p(t.y[0])]; }",
        graph_sel("loss"),
    )
    page.mouse.move(*xy)
    page.mouse.click(*xy)
    page.locator(".tab--selected", has_text="Graph").wait_for()


def test_grouped_runs_draw_mean_and_std_band(spage):
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/val", 5)
    page.locator("#sc-group-mode").click()
    page.get_by_text("Group by name regex", exact=True).click()
    page.locator("#sc-group-key").fill("(a)")  # alpha and beta both contain an "a"
    page.locator("#sc-group-key").press("Enter")
    wait_traces(page, "loss/val", 3)  # one group: its ±std band, its mean, alpha's NaN marker
    band, mean = trace(page, "loss/val", 0), trace(page, "loss/val", 1)
    assert mean["name"] == "a (n=2)"
    lo = np.array(band["y"][len(band["y"]) // 2 :])[::-1]
    hi = np.array(band["y"][: len(band["y"]) // 2])
    m = np.array(mean["y"])
    assert np.all(lo <= m + 1e-12) and np.all(m <= hi + 1e-12) and np.any(hi > lo)


# --- add_scalars charts and runs written by several ranks ------------------------------------


def write_series_and_ranks(logdir, monkeypatch, steps=60):
    """Runs a and b with ``add_scalars("Loss", {"train", "val"})``, and ddp written by 2 ranks
    logging the same, whose rank 1 crashed."""
    for i, name in enumerate(["a", "b"]):
        with SummaryWriter(logdir=logdir, run_name=name) as w:
            for s in range(steps):
                w.add_scalars("Loss", {"train": 1 / (1 + s) + i, "val": 2 / (1 + s) + i}, s)
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        w = SummaryWriter(str(logdir / "ddp"))
        for s in range(steps):
            w.add_scalars("Loss", {"train": 0.5 + 0.1 * rank, "val": 0.7 + 0.2 * rank}, s)
        w.close(status="crashed" if rank == 1 else "finished")
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    return logdir


def legend_names(page, tag):
    return page.evaluate(
        "sel => document.querySelector(sel).data.filter(t => t.showlegend !== false)"
        ".map(t => t.name)",
        graph_sel(tag),
    )


def test_add_scalars_chart_and_ranks_control(page, dash_server, tmp_path, monkeypatch):
    d = write_series_and_ranks(tmp_path / "runs", monkeypatch)
    page.goto(dash_server(d, reload_interval=0.5))
    # one chart "Loss": per line raw + smoothed; a and b two lines each, ddp a line per key
    # and rank
    wait_traces(page, "Loss", 2 * (2 + 2 + 4))
    assert legend_names(page, "Loss") == [
        "a · train", "a · val", "b · train", "b · val",
        "ddp · train [rank 0]", "ddp · train [rank 1]", "ddp · val [rank 0]", "ddp · val [rank 1]",
    ]  # fmt: skip
    assert page.locator(".fl-card").count() == 1  # no chart per stored key
    assert "\x1f" not in page.locator(".fl-main").inner_text()
    colors = page.evaluate(
        "sel => document.querySelector(sel).data.filter(t => t.showlegend !== false)"
        ".map(t => t.line.color)",
        graph_sel("Loss"),
    )
    assert len(set(colors)) == 8
    # the runs panel: ddp's ranks, and its crashed rank in red
    ddp_row = page.locator(".fl-run-row", has=page.locator(".fl-run-name", has_text="ddp"))
    assert "2 ranks" in ddp_row.inner_text()
    problem = ddp_row.locator(".fl-ranks-problem")
    assert problem.inner_text() == "⚠ rank 1 crashed"
    assert problem.evaluate("e => getComputedStyle(e).color") == "rgb(207, 34, 46)"
    assert ddp_row.locator(".fl-rank-crashed").count() == 1
    assert "rank 1: crashed" in ddp_row.locator(".fl-rank-crashed").get_attribute("title")
    # mean ± range: one line per ddp key, with its band (a filled trace) under it
    page.get_by_label("mean ± range").check()
    wait_traces(page, "Loss", 2 * 4 + 2 * 3)
    names = legend_names(page, "Loss")
    assert names[4:] == ["ddp · train [mean of 2 ranks]", "ddp · val [mean of 2 ranks]"]
    band = page.evaluate(
        "sel => { const t = document.querySelector(sel)._fullData.find(t => t.fill === 'toself');"
        " return Array.from(t.y); }",
        graph_sel("Loss"),
    )
    assert min(band) == pytest.approx(0.5) and max(band) == pytest.approx(0.6)
    page.get_by_label("each rank").check()
    wait_traces(page, "Loss", 2 * 8)


# --- first paint: collapsed watch statistics, charts built when scrolled into view -----------

METRICS = [f"metrics/m{i:02d}" for i in range(12)]  # 6 rows of 2 charts: most below the fold


def write_watched_run(logdir, name="watched", steps=30):
    """A real training run with ``writer.watch``: a user tag ``loss`` plus 12 ``metrics/*`` tags
    and the watch statistics of two variables (``watch/dense/w/...``, ``watch/dense/b/...``)."""
    import flowlog as fl

    g, x, y, w, b, loss, train = linear_model()
    sess = fl.Session(g)
    rng = np.random.default_rng(0)
    feed = {x: rng.normal(size=(16, 3)), y: rng.normal(size=(16, 1))}
    now = {"step": 0}
    with SummaryWriter(logdir=logdir, run_name=name) as writer:
        writer.watch(sess, every=1, global_step=lambda: now["step"])
        for step in range(steps):
            now["step"] = step
            value, _ = sess.run([loss, train], feed_dict=feed)
            writer.add_scalar("loss", float(value), step)
            for i, tag in enumerate(METRICS):
                writer.add_scalar(tag, float(value) * (i + 1), step)


@pytest.fixture
def watched(browser, tmp_path):
    """A server on a watched run, its Scalars view object (to see what the server built) and a
    page of 1400 x 900."""
    from conftest import DashServer

    from flowlog.dashboard import create_app

    d = tmp_path / "watched"
    write_watched_run(d)
    app = create_app(d)
    server = DashServer(app)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield pg, server.url, app.flowlog_context.extra["scalars"]
    context.close()
    server.stop()


def built_tags(view) -> set[str]:
    """Tags whose chart the server has built."""
    return set(view.built_tags)


def test_watch_group_is_collapsed_and_builds_nothing_until_opened(watched):
    page, url, view = watched
    page.goto(url)
    wait_traces(page, "loss", 2)
    group = page.locator(".fl-group", has=page.locator("summary", has_text="watch"))
    n_watch = len([t for t in view.reads.tag_infos("watched") if t.startswith("watch/")])
    assert n_watch >= 2 * 13  # two variables' statistics
    assert f"{n_watch} charts" in group.locator("summary").inner_text()
    assert group.evaluate("d => d.open") is False
    assert group.locator(".fl-chart").count() == 0
    page.wait_for_load_state("networkidle")
    assert not any(t.startswith("watch/") for t in built_tags(view))
    group.locator("summary").click()
    first_watch = sorted(t for t in view.reads.tag_infos("watched") if t.startswith("watch/"))[0]
    group.locator(".fl-chart").first.wait_for()
    assert group.locator(".fl-chart").count() == n_watch
    group.locator(".fl-chart").first.scroll_into_view_if_needed()
    wait_traces(page, first_watch, 2)  # one run, all finite: raw and smoothed
    assert first_watch in built_tags(view)
    # a new tag list (tag filter) keeps the opened group open
    page.locator("#sc-tag-filter").fill("loss|watch/dense/b")
    page.locator("#sc-tag-filter").press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.fl-group').length === 2"
        " && document.querySelectorAll('.fl-group')[1].open"
        " && document.querySelectorAll('.fl-group')[1].querySelectorAll('.fl-chart').length"
        " === 14"
    )


def test_offscreen_charts_are_built_when_scrolled_into_view(watched):
    page, url, view = watched
    page.goto(url)
    wait_traces(page, METRICS[0], 2)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # give a stray visibility flag time to land
    last = METRICS[-1]
    drawn = page.evaluate(
        "() => Array.from(document.querySelectorAll('.fl-chart .js-plotly-plot'))"
        ".filter(g => g.data && g.data.length).length"
    )
    assert 2 <= drawn < 1 + len(METRICS)  # the top rows only
    assert METRICS[0] in built_tags(view) and last not in built_tags(view)
    assert page.evaluate("sel => document.querySelector(sel).data.length", graph_sel(last)) == 0
    page.locator(graph_sel(last)).scroll_into_view_if_needed()
    wait_traces(page, last, 2)
    assert last in built_tags(view)
    # a setting changed while charts are built redraws them; charts scrolled past stay drawn
    page.locator(".fl-smoothing [role=slider]").focus()
    page.keyboard.press("Home")
    wait_traces(page, last, 1)
    wait_traces(page, METRICS[0], 1)


def test_first_chart_draws_without_its_own_request_and_still_follows_the_controls(spage):
    page, url = spage
    bodies = []
    page.on(
        "request",
        lambda r: bodies.append(r.post_data or "") if "_dash-update-component" in r.url else None,
    )
    page.goto(url)
    wait_traces(page, "loss/train", 5)
    wait_traces(page, "loss/val", 5)  # came with the page too, drawn after the first paint
    page.wait_for_load_state("networkidle")
    flags = [json.loads(b)["changedPropIds"] for b in bodies if "sc-visible" in b]
    assert flags == []  # neither chart was requested (test_offscreen_charts...: others are)
    # the hidden views did not run a callback while the page loaded
    outputs = " ".join(json.loads(b)["output"] for b in bodies)
    assert not any(view in outputs for view in ("graph-", "hist-", "hp-")), outputs
    # the built chart is rebuilt by the controls like any other
    page.locator("#sc-xaxis label", has_text="Relative").click()
    page.wait_for_function(
        "sel => document.querySelector(sel).layout.xaxis.title.text.startsWith('relative')",
        arg=graph_sel("loss/train"),
    )
    page.locator(".fl-smoothing [role=slider]").focus()
    page.keyboard.press("Home")
    wait_traces(page, "loss/train", 3)


def test_a_redrawn_chart_is_updated_in_place_not_re_created(spage):
    """A new figure for a drawn chart (a control, a live rebuild) is one Plotly.react. The
    SVG/PNG buttons' click functions must be the same objects every time: a config with a new
    function makes plotly.js re-create the chart, then react again (2.5x the cost)."""
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/train", 5)
    page.evaluate("sel => { window.__flSvg = document.querySelector(sel + ' .main-svg'); }",
                  graph_sel("loss/train"))  # fmt: skip
    page.locator(".fl-smoothing [role=slider]").focus()
    page.keyboard.press("Home")
    wait_traces(page, "loss/train", 3)
    kept = page.evaluate(
        "sel => document.querySelector(sel + ' .main-svg') === window.__flSvg",
        graph_sel("loss/train"),
    )
    assert kept, "the chart was re-created (newPlot) instead of updated"
    chart = page.locator(graph_sel("loss/train"))
    chart.hover()
    titles = chart.locator(".modebar-btn").evaluate_all("bs => bs.map(b => b.dataset.title)")
    assert {"Download plot as SVG", "Download plot as PNG"} <= set(titles)


def test_plotlys_own_react_form_is_drawn_as_asked(spage):
    """The wrapper's shortcut reads dcc.Graph's ``react(gd, {data, layout, config})``; the
    positional ``react(gd, data, layout)`` a page's own script may use is drawn, not skipped."""
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/train", 5)
    drawn = page.evaluate(
        """async sel => {
          const gd = document.querySelector(sel);
          await Plotly.react(gd, [{x: [0, 1, 2], y: [3, 1, 2], name: 'one'}], gd.layout);
          await Plotly.react(gd, [{x: [0, 1], y: [1, 2]}, {x: [0, 1], y: [2, 1], name: 'mine'}],
                             gd.layout);
          return [gd.data.length, gd.data[1].name,
                  gd.querySelectorAll('.scatterlayer .trace').length];
        }""",
        graph_sel("loss/train"),
    )
    assert drawn == [2, "mine", 2]


def test_each_chart_saves_as_svg_and_png(spage, tmp_path):
    page, url = spage
    page.goto(url)
    wait_traces(page, "loss/train", 5)
    chart = page.locator(graph_sel("loss/train"))
    chart.hover()
    saved = {}
    titles = chart.locator(".modebar-btn").evaluate_all("bs => bs.map(b => b.dataset.title)")
    assert "Share chart..." not in titles and "Download plot" not in titles  # plotly's own
    for title, suffix in (("Download plot as SVG", ".svg"), ("Download plot as PNG", ".png")):
        with page.expect_download() as info:
            chart.locator(f".modebar-btn[data-title='{title}']").click()
        dl = info.value
        assert dl.suggested_filename == "loss_train" + suffix
        dl.save_as(tmp_path / dl.suggested_filename)
        saved[suffix] = (tmp_path / dl.suggested_filename).read_bytes()
    assert saved[".svg"].lstrip().startswith(b"<svg") and b"loss/train" in saved[".svg"]
    assert saved[".png"].startswith(b"\x89PNG\r\n\x1a\n") and len(saved[".png"]) > 10_000


FRAME_PROBE = """
window.__flFrames = [];
(function tick() {
  const gds = Array.from(document.querySelectorAll('.fl-chart .js-plotly-plot'));
  const built = (g) => !!(g._fullLayout && g.layout.uirevision !== undefined);
  if (gds.length) {
    const others = gds.slice(1).filter((g) => g._fullLayout).length;
    window.__flFrames.push([built(gds[0]), others]);
  }
  requestAnimationFrame(tick);
})();
"""


def test_first_chart_is_painted_before_the_placeholders_are_drawn(shared):
    """A frame shows the first chart drawn while the other cards' placeholders are not yet:
    they wait for that paint (assets/plotly_hooks.js) instead of delaying it."""
    url, context = shared
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.add_init_script(FRAME_PROBE)
    try:
        page.goto(url)
        wait_traces(page, "loss/val", 5)
        frames = page.evaluate("window.__flFrames")
        first = next(i for i, (lead, _n) in enumerate(frames) if lead)
        assert frames[first] == [True, 0], frames[max(first - 2, 0) : first + 3]
        assert frames[-1][1] >= 1  # and then the rest were drawn
    finally:
        page.close()
