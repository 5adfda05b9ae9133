"""A Scalars card's own buttons in headless Chromium (scalars_cards.py, assets/scalars_cards.js):
full screen and back, pin to the top, ignore outliers in the y scaling, and this chart's data
as CSV. Real logs by the real SummaryWriter, the real server."""

from __future__ import annotations

import json

import pytest
from conftest import BROWSER_TIMEOUT_MS

pytestmark = pytest.mark.browser
STEPS = 200


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    from flowlog.writer import SummaryWriter

    d = tmp_path_factory.mktemp("cards") / "runs"
    for k, name in enumerate(["a", "b"]):
        w = SummaryWriter(logdir=d, run_name=name, flush_secs=0.2)
        for s in range(STEPS):
            w.add_scalar("loss", 1000.0 if (s == 100 and k == 0) else 1.0 + 0.01 * (s % 7), s)
            w.add_scalar("acc", 0.5 + k * 0.1, s)
            w.add_scalar("zlast", float(s), s)
        w.close()
    return d


def _sel(tag):
    key = json.dumps({"tag": tag, "type": "sc-graph"}, separators=(",", ":"))
    return f"[id='{key}'] .js-plotly-plot"


def _card(page, tag):
    return page.locator(f".fl-card[data-fl-tag='{tag}']")


def _drawn(page, tag):
    page.wait_for_function(
        "s => { const gd = document.querySelector(s); return gd && gd.layout &&"
        " gd.layout.uirevision !== undefined && gd._fullLayout; }",
        arg=_sel(tag),
    )


def test_card_full_screen_pin_outliers_and_csv(browser, dash_server, logdir, tmp_path):
    url = dash_server(logdir, reload_interval=30)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    height = "s => document.querySelector(s)._fullLayout.height"
    try:
        page.goto(url)
        for tag in ("acc", "loss"):
            _drawn(page, tag)
        # full screen, then Esc
        _card(page, "loss").locator(".fl-card-tool[data-action=full]").click()
        page.wait_for_function(f"s => ({height})(s) > 700", arg=_sel("loss"))
        box = _card(page, "loss").bounding_box()
        assert box["width"] > 1300 and "fl-card-full" in _card(page, "loss").get_attribute("class")
        page.keyboard.press("Escape")
        page.wait_for_function(f"s => ({height})(s) === 320", arg=_sel("loss"))
        page.wait_for_function(  # back in its grid cell, the plot as wide as the card again
            "s => document.querySelector(s)._fullLayout.width < 800", arg=_sel("loss")
        )
        # ignore outliers: the spike at 1000 no longer sets the y range; again: it does
        yhi = "s => document.querySelector(s)._fullLayout.yaxis.range[1]"
        assert page.evaluate(yhi, _sel("loss")) > 900
        tool = _card(page, "loss").locator(".fl-card-tool[data-action=outliers]")
        tool.click()
        page.wait_for_function(f"s => ({yhi})(s) < 2", arg=_sel("loss"))
        assert tool.get_attribute("aria-pressed") == "true"
        tool.click()
        page.wait_for_function(f"s => ({yhi})(s) > 900", arg=_sel("loss"))
        # pin the last card: it goes to the top
        tops = lambda: {t: _card(page, t).bounding_box()["y"] for t in ("acc", "loss", "zlast")}  # noqa: E731
        assert min(tops(), key=tops().get) == "acc"
        _card(page, "zlast").locator(".fl-card-tool[data-action=pin]").click()
        page.wait_for_function(
            "() => { const r = t => document.querySelector(`.fl-card[data-fl-tag='${t}']`)"
            ".getBoundingClientRect().top; return r('zlast') < r('acc'); }"
        )
        # this chart's data only, as CSV
        with page.expect_download() as info:
            _card(page, "acc").locator(".fl-card-tool", has_text="CSV").click()
        dl = info.value
        assert dl.suggested_filename == "acc.csv"
        dl.save_as(tmp_path / "acc.csv")
        text = (tmp_path / "acc.csv").read_text()
        assert "acc" in text and "loss" not in text and "zlast" not in text
        assert text.count("\n") >= 2 * STEPS  # both runs, every step
    finally:
        context.close()
