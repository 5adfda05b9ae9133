"""A damaged run beside a good one, in headless Chromium: the good run's curves are drawn, the
damaged run is named with the reason on its chart and in the runs panel (real logs written by
the real SummaryWriter, the real server). Screenshots of that state go to /tmp/shots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import BROWSER_TIMEOUT_MS, write_run
from test_dashboard_hostile import DAMAGED_CHUNK, GARBAGE, damage_scalar_chunk

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")
GOOD, DAMAGED = "good-run", "damaged-run"


@pytest.fixture
def logdir(tmp_path):
    d = tmp_path / "runs"
    write_run(d, GOOD, seed=1)
    write_run(d, DAMAGED, seed=2)
    damage_scalar_chunk(d / DAMAGED / "flowlog.db")
    (d / f"{GARBAGE}.flowlog.db").write_bytes(np.random.default_rng(1).bytes(8192))
    return d


def _sel(tag: str) -> str:
    key = json.dumps({"tag": tag, "type": "sc-graph"}, separators=(",", ":"))
    return f"[id='{key}'] .js-plotly-plot"


# the chart's drawn lines (their run names) and its annotation texts, from plotly.js's DOM
CHART = """sel => { const gd = document.querySelector(sel); if (!gd || !gd._fullData) return null;
  const runs = gd._fullData.filter(t => t.meta && t.visible !== false).map(t => t.meta[0]);
  const paths = [...gd.querySelectorAll('.scatterlayer .trace path.js-line')]
    .filter(p => (p.getAttribute('d') || '').length > 20).length;
  const notes = [...gd.querySelectorAll('.annotation-text')].map(a => a.textContent);
  return {runs, paths, notes}; }"""


def test_a_damaged_run_is_named_on_its_chart_and_in_the_runs_panel(browser, dash_server, logdir):
    url = dash_server(logdir, reload_interval=0.5)
    SHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        page.goto(url)
        sel = _sel("loss/train")
        page.wait_for_function(
            f"sel => {{ const c = ({CHART})(sel); return c && c.paths >= 2 && c.notes.length; }}",
            arg=sel,
        )
        chart = page.evaluate(CHART, sel)
        assert set(chart["runs"]) == {GOOD}  # the good run's raw and smoothed lines
        assert chart["paths"] >= 2
        (note,) = [n for n in chart["notes"] if DAMAGED in n]
        assert DAMAGED_CHUNK in note and "cannot be read" in note
        # the runs panel: the file discovery cannot open is a "damaged" row with its reason;
        # the run that opens but fails to read is marked on its row once a chart failed on it
        damaged = page.locator(".fl-runs-damaged .fl-run-damaged")
        assert damaged.count() == 1
        assert GARBAGE in damaged.inner_text() and "not a readable SQLite" in damaged.inner_text()
        row = page.locator(".fl-runs-list .fl-run-row", has_text=DAMAGED)
        row.locator(".fl-damaged-reason", has_text=DAMAGED_CHUNK).wait_for()
        assert row.locator(".fl-status-damaged").inner_text() == "damaged"
        assert page.locator(".fl-runs-list .fl-run-row", has_text=GOOD).locator(
            ".fl-damaged-reason").count() == 0  # fmt: skip
        page.screenshot(path=str(SHOTS / "hostile_1400x1000.png"))
        page.set_viewport_size({"width": 1024, "height": 768})
        page.wait_for_function(
            "sel => { const gd = document.querySelector(sel);"
            " return gd && gd.getBoundingClientRect().width < 700; }",
            arg=sel,
        )
        page.wait_for_timeout(300)  # plotly's resize redraw
        page.screenshot(path=str(SHOTS / "hostile_1024x768.png"))
        assert page.evaluate(CHART, sel)["paths"] >= 2
    finally:
        context.close()
