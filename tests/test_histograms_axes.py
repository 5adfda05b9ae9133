"""Histograms read at a glance: no stray markers on the percentile bands, no negative steps on
any axis, and the heatmap runs its steps the same way as the ridgelines (first step at the top).

The figure functions on histograms read back from real logs, then the real dashboard in
headless Chromium (what plotly.js actually draws: its ranges and tick labels).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_run

from flowlog.dashboard import create_app
from flowlog.dashboard.views.histograms import (
    heatmap_figure,
    int_ticks,
    percentile_figure,
    ridge_figure,
)
from flowlog.writer import SummaryWriter


@pytest.fixture
def logdir(tmp_path):
    d = tmp_path / "runs"
    write_run(d, "steady", n=1500)  # weights/w at steps 0, 300, ..., 1200
    w = SummaryWriter(logdir=d, run_name="one_step")  # one histogram, at step 0
    w.add_histogram("weights/w", np.random.default_rng(0).normal(size=200), 0)
    w.close()
    return d


def _hists(d, run):
    data = create_app(d).flowlog_context.data
    return data.histograms(run, "weights/w")


def test_band_traces_have_no_markers_and_steps_stay_non_negative(logdir):
    per_run = {r: ("#1f77b4", _hists(logdir, r)) for r in ("steady", "one_step")}
    fig = percentile_figure("weights/w", per_run)
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 8
    assert all(t.mode == "lines" for t in bands)  # plotly's default drew coloured dots
    assert fig.layout.xaxis.rangemode == "nonnegative"


@pytest.mark.parametrize("build", [ridge_figure, heatmap_figure])
@pytest.mark.parametrize("run", ["steady", "one_step"])
def test_step_axes_start_at_the_top_and_tick_only_logged_steps(logdir, build, run):
    hists = _hists(logdir, run)
    steps = [h.step for h in hists]
    y = build("weights/w", run, "#1f77b4", hists).layout.yaxis
    assert y.range[0] > y.range[1]  # reversed: the first step at the top, in both modes
    assert y.range[1] <= min(steps) and y.range[0] >= max(steps)
    assert list(y.tickvals) and all(min(steps) <= t <= max(steps) for t in y.tickvals)
    assert [int(t) for t in y.ticktext] == list(y.tickvals)


def test_int_ticks():
    assert int_ticks(0, 1200) == [0, 500, 1000]
    assert int_ticks(0, 0) == [0]
    assert int_ticks(3, 7) == [3, 4, 5, 6, 7]


AXES = """() => [...document.querySelectorAll('.fl-histograms .js-plotly-plot')].map(gd => ({
  title: gd.layout.title.text,
  x: gd._fullLayout.xaxis.range, y: gd._fullLayout.yaxis.range,
  ylabels: [...gd.querySelectorAll('.ytick text')].map(t => t.textContent),
  xlabels: [...gd.querySelectorAll('.xtick text')].map(t => t.textContent),
  marked: gd._fullData.filter(t => t.fill === 'toself' && String(t.mode).includes('markers'))
    .length,
}))"""


def _number(label: str) -> float:
    return float(label.replace("\u2212", "-").replace("k", "e3"))


def _charts(page, n):
    page.wait_for_function(
        f"document.querySelectorAll('.fl-histograms .js-plotly-plot .ytick').length >= {n}"
    )
    page.wait_for_timeout(300)
    return page.evaluate(AXES)


@pytest.mark.browser
def test_histograms_in_the_browser(page, dash_server, logdir):
    page.goto(dash_server(logdir))
    page.locator(".tab", has_text="Histograms").click()
    charts = _charts(page, 3)
    assert len(charts) == 3  # the percentile chart and one ridgeline chart per run
    percentiles, ridges = charts[0], charts[1:]
    assert "distribution" in percentiles["title"]
    assert percentiles["marked"] == 0
    assert percentiles["x"][0] >= 0 and all(_number(t) >= 0 for t in percentiles["xlabels"])
    for chart in ridges:
        assert chart["y"][0] > chart["y"][1]
        assert chart["ylabels"] and all(_number(t) >= 0 for t in chart["ylabels"]), chart

    page.locator(".fl-histograms label", has_text="Heatmap").click()
    page.wait_for_function("document.querySelectorAll('.fl-histograms .hm, .heatmaplayer').length")
    heatmaps = _charts(page, 3)[1:]
    for chart in heatmaps:
        assert chart["y"][0] > chart["y"][1]  # same direction as the ridgelines
        assert chart["ylabels"] and all(_number(t) >= 0 for t in chart["ylabels"]), chart


def test_a_single_step_draws_a_visible_band_labelled_with_its_step_only(logdir):
    fig = percentile_figure("weights/w", {"one_step": ("#1f77b4", _hists(logdir, "one_step"))})
    band = next(t for t in fig.data if t.fill == "toself")
    assert max(band.x) - min(band.x) > 0.5  # it was a zero-width polygon: invisible
    lo, hi = fig.layout.xaxis.range
    assert lo < 0 < hi and list(fig.layout.xaxis.tickvals) == [0]  # no "-0.5" tick
    median = fig.data[-1]
    assert {row[4] for row in median.customdata} == {0}  # the hover names the logged step
