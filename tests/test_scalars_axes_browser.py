"""Scalars tick labels in headless Chromium at two card sizes: no two labels of a chart overlap
(the lowest y label and the first x label meet at the plot's corner), and log axes label only
decades or 1-2-5 steps (chart_axes). Real logs by the real SummaryWriter, the real server."""

from __future__ import annotations

import time

import pytest
from conftest import page_of_size

from flowlog.dashboard.chart_axes import axis_style, decades_of, is_log_label_ok, log_nticks

pytestmark = pytest.mark.browser
N = 300
# (tag, value at step s): 3 decades, 1.3 decades (plotly.js's D1 case), under one decade
SHAPES = {
    "axes/decades": lambda s: 10 ** (-3 * s / N),
    "axes/one_decade": lambda s: 10 ** (0.5 - 1.3 * s / N),
    "axes/short": lambda s: 1.0 + 1.5 * s / N,
}


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    from flowlog.writer import SummaryWriter

    d = tmp_path_factory.mktemp("axes") / "runs"
    start = time.time() - 3600
    for k, name in enumerate(["run-a", "run-b"]):
        w = SummaryWriter(logdir=d, run_name=name, flush_secs=0.2)
        for s in range(N):
            for tag, f in SHAPES.items():  # a step every 2 s: a 10-minute run's wall axis
                w.add_scalar(tag, f(s) * (1 + 0.1 * k), s, walltime=start + 2.0 * s)
        w.close()
    return d


# every built chart's tick labels: text and box, by axis
LABELS = """() => [...document.querySelectorAll('.fl-card .js-plotly-plot')]
  .filter(gd => gd._fullLayout && gd.layout.uirevision !== undefined)
  .map(gd => ({tag: gd.layout.title.text, ytype: gd._fullLayout.yaxis.type,
    xtype: gd._fullLayout.xaxis.type,
    labels: [...gd.querySelectorAll('.xtick text, .ytick text')]
      .filter(t => t.textContent.trim())
      .map(t => { const r = t.getBoundingClientRect();
        return {axis: t.parentNode.classList.contains('xtick') ? 'x' : 'y',
          text: t.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom}; })}))"""


def _overlaps(labels):
    return [
        (a["text"], b["text"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]
    ]


def _charts(page, ytype, xtype="linear"):
    page.wait_for_function(
        f"""() => {{ const c = ({LABELS})(); return c.length === 3 && c.every(g =>
          g.ytype === '{ytype}' && g.xtype === '{xtype}' && g.labels.length > 3); }}"""
    )
    page.wait_for_timeout(300)  # (a redraw in flight settles)
    return page.evaluate(LABELS)


def test_axis_style_asks_for_few_log_ticks():
    log = axis_style("log", decades=3.0)
    assert log["type"] == "log" and log["ticklabelstandoff"] > 0
    # plotly.js's rough step span/nticks: <= 0.3 decades would label every digit (D1)
    for span in (1.0, 1.3, 2.0, 2.1, 3.0, 6.0, 30.0):
        assert span / log_nticks(span) > 0.3
    assert 0.7 < 3.0 / log_nticks(3.0) <= 1  # 3 decades: every decade labelled
    assert decades_of([{"y": [0.001, 1.0, -5.0]}, {"y": [1e9], "yaxis": "y2"}]) == 3.0
    assert "type" not in axis_style(None) and axis_style("linear", title="x")["title"] == "x"
    assert [is_log_label_ok(t) for t in ("0.01", "100", "2", "50", "0.5", "10\u22123")] == [
        True
    ] * 6
    assert not any(is_log_label_ok(t) for t in ("3", "7", "40", "0.3", "abc"))


@pytest.mark.parametrize("size", [(1400, 1000), (1024, 768)])
def test_tick_labels_never_overlap_and_log_axes_show_decades(browser, dash_server, logdir, size):
    with page_of_size(browser, size, dash_server(logdir, reload_interval=30)) as page:
        page.locator(".fl-card").nth(2).scroll_into_view_if_needed()
        for chart in _charts(page, "linear"):
            assert _overlaps(chart["labels"]) == [], chart["tag"]
        page.get_by_label("log y").check()
        for chart in _charts(page, "log"):
            assert _overlaps(chart["labels"]) == [], chart["tag"]
            ys = [lb["text"] for lb in chart["labels"] if lb["axis"] == "y"]
            assert len(ys) >= 2, chart["tag"]
            if chart["tag"] != "axes/short":  # inside one decade: plain labelled ticks
                assert all(is_log_label_ok(t) for t in ys), (chart["tag"], ys)
            assert len(ys) <= 7, (chart["tag"], ys)
        page.get_by_label("log x").check()
        for chart in _charts(page, "log", "log"):
            assert _overlaps(chart["labels"]) == [], chart["tag"]
            xs = [lb["text"] for lb in chart["labels"] if lb["axis"] == "x"]
            assert all(is_log_label_ok(t) for t in xs), (chart["tag"], xs)
        page.get_by_label("log x").uncheck()
        page.get_by_label("log y").uncheck()
        page.get_by_label("Wall").check()  # long date labels
        for chart in _charts(page, "linear", "date"):
            assert _overlaps(chart["labels"]) == [], chart["tag"]
