"""Tick labels of the Histograms and PR Curves charts in headless Chromium at both window sizes:
no two labels of a chart overlap (the corner where the lowest y label meets the first x label
included). Real logs by the real SummaryWriter, the real server."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import page_of_size
from test_scalars_axes_browser import _overlaps

pytestmark = pytest.mark.browser

# every drawn plotly chart's tick labels (text and box) in the open tab
LABELS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(gd => gd._fullLayout && gd.offsetParent !== null)
  .map(gd => ({title: (gd.layout.title || {}).text || '',
    labels: [...gd.querySelectorAll('.xtick text, .ytick text')]
      .filter(t => t.textContent.trim())
      .map(t => { const r = t.getBoundingClientRect();
        return {text: t.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom}; })}))"""


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    from flowlog.writer import SummaryWriter

    d = tmp_path_factory.mktemp("ticks") / "runs"
    rng = np.random.default_rng(0)
    for k, name in enumerate(["run-a", "run-b"]):
        with SummaryWriter(logdir=d, run_name=name) as w:
            for s in range(0, 2000, 100):  # steps in the thousands: long x labels
                w.add_histogram("weights", rng.normal(s / 1000, 1 + k, 500), s)
                labels = rng.integers(0, 2, 200)
                w.add_pr_curve("pr", labels, np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1), s)
    return d


def _charts(page, count):
    page.wait_for_function(
        f"() => {{ const c = ({LABELS})(); return c.length >= {count} && "
        "c.every(g => g.labels.length > 3); }"
    )
    page.wait_for_timeout(300)  # (a redraw in flight settles)
    return page.evaluate(LABELS)


@pytest.mark.parametrize("size", [(1400, 1000), (1024, 768)])
def test_histogram_and_pr_tick_labels_never_overlap(browser, dash_server, logdir, size):
    with page_of_size(browser, size, dash_server(logdir, reload_interval=30)) as page:
        for tab, count in (("Histograms", 3), ("PR Curves", 1)):
            page.locator(".tab", has_text=tab).first.click()
            charts = _charts(page, count)
            for chart in charts:
                assert _overlaps(chart["labels"]) == [], (tab, chart["title"])
        page.locator(".tab", has_text="Histograms").first.click()
        page.get_by_label("Heatmap").check()
        for chart in _charts(page, 3):
            assert _overlaps(chart["labels"]) == [], ("heatmap", chart["title"])
