"""The Scalars all-runs tooltip in headless Chromium (assets/scalars_tooltip.js): hovering a
chart of N runs lists N rows sorted by value, with the run's colour, smoothed and raw value and
step; a click pins it, Esc unpins. Real logs by the real SummaryWriter, the real server."""

from __future__ import annotations

import json

import pytest
from conftest import page_of_size

pytestmark = pytest.mark.browser
RUNS = {"low": 1.0, "high": 3.0, "mid": 2.0, "top": 4.0}  # run -> level of its curve
STEPS = 200


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    from flowlog.writer import SummaryWriter

    d = tmp_path_factory.mktemp("tip") / "runs"
    for name, level in RUNS.items():
        w = SummaryWriter(logdir=d, run_name=name, flush_secs=0.2)
        for s in range(STEPS):
            w.add_scalar("loss", level + 0.1 * ((s * 7919) % 13) / 13, s)
        w.close()
    return d


SEL = "[id='{}'] .js-plotly-plot".format(
    json.dumps({"tag": "loss", "type": "sc-graph"}, separators=(",", ":"))
)
ROWS = """() => [...document.querySelectorAll('.fl-tip:not([hidden]) .fl-tip-row')].map(r => ({
  name: r.querySelector('.fl-tip-name').textContent,
  value: parseFloat(r.querySelector('.fl-tip-value').textContent),
  raw: r.querySelector('.fl-tip-raw') ? parseFloat(r.querySelector('.fl-tip-raw').textContent)
    : null,
  step: r.querySelector('.fl-tip-step').textContent,
  color: getComputedStyle(r.querySelector('.fl-tip-swatch')).getPropertyValue('--fl-swatch')}))"""


def _hover(page, fx, fy=0.5):
    box = page.locator(SEL + " .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def test_hover_lists_every_run_at_the_step_sorted_by_value(browser, dash_server, logdir):
    with page_of_size(browser, (1400, 1000), dash_server(logdir, reload_interval=30)) as page:
        page.wait_for_function(
            "s => { const gd = document.querySelector(s); return gd && gd._fullLayout &&"
            " gd.data.length >= 8; }",
            arg=SEL,
        )
        _hover(page, 0.5)
        page.wait_for_function(f"() => ({ROWS})().length === {len(RUNS)}")
        rows = page.evaluate(ROWS)
        assert [r["name"] for r in rows] == ["top", "high", "mid", "low"]  # by value, largest first
        values = [r["value"] for r in rows]
        assert values == sorted(values, reverse=True)
        assert all(r["raw"] is not None and abs(r["raw"] - r["value"]) < 0.2 for r in rows)
        assert len({r["step"] for r in rows}) == 1 and 60 < int(rows[0]["step"]) < 140
        line_colors = page.evaluate(
            "s => Object.fromEntries(document.querySelector(s)._fullData"
            ".filter(t => t.meta && t.meta[2] === 'row').map(t => [t.name, t.line.color]))",
            SEL,
        )
        assert {r["name"]: r["color"].strip() for r in rows} == line_colors
        # plotly's one-series label is hidden while the tooltip shows
        assert page.locator(".fl-card.fl-tip-on").count() == 1
        # a click pins it: moving away keeps the same step; Esc unpins
        page.mouse.down()
        page.mouse.up()
        page.wait_for_selector(".fl-card.fl-tip-pinned")
        _hover(page, 0.9)
        page.wait_for_timeout(300)
        assert [r["step"] for r in page.evaluate(ROWS)] == [rows[0]["step"]] * len(RUNS)
        assert "pinned" in page.locator(".fl-tip-head").first.text_content()
        page.keyboard.press("Escape")
        page.wait_for_function(f"() => ({ROWS})().length === 0")
        _hover(page, 0.2)
        page.wait_for_function(f"() => ({ROWS})().length === {len(RUNS)}")
        assert int(page.evaluate(ROWS)[0]["step"]) < 60  # following the cursor again


def test_toolbar_has_no_select_tools_and_tells_svg_from_png(browser, dash_server, logdir):
    from flowlog.dashboard.controls import image_config

    assert {"select2d", "lasso2d"} <= set(image_config("x")["modeBarButtonsToRemove"])
    with page_of_size(browser, (1400, 1000), dash_server(logdir, reload_interval=30)) as page:
        page.wait_for_function("s => document.querySelector(s)?._fullLayout", arg=SEL)
        page.locator(SEL).hover()
        buttons = page.locator(SEL + " .modebar-btn").evaluate_all(
            "bs => bs.map(b => [b.dataset.title, b.querySelector('path').getAttribute('d')])"
        )
        titles = dict(buttons)
        assert not {"Box Select", "Lasso Select"} & set(titles)
        svg, png = titles["Download plot as SVG"], titles["Download plot as PNG"]
        assert svg != png  # two different icons, not two cameras
