"""An empty Scalars area always says why (no runs, none selected, no scalars, a tag filter
hiding everything: named), and a run filter change leaves no Dash errors in the console. Real
logs by the real SummaryWriter; the browser test drives the real server in Chromium."""

from __future__ import annotations

import pytest
from conftest import BROWSER_TIMEOUT_MS, write_two_runs


def test_chart_message_names_the_reason_and_the_filter():
    from flowlog.dashboard.views.scalars import chart_message

    assert "No runs" in chart_message([], [], [], [], None)
    assert "No runs selected" in chart_message(["a"], [], [], [], None)
    assert "no scalars" in chart_message(["a"], ["a"], [], [], None)
    msg = chart_message(["a"], ["a"], ["loss", "acc"], [], "zzz")
    assert "tag filter 'zzz'" in msg and "2 charts" in msg
    assert chart_message(["a"], ["a"], ["loss"], ["loss"], None) == ""


def _find(component, cid):
    if getattr(component, "id", None) == cid:
        return component
    kids = getattr(component, "children", None)
    for kid in kids if isinstance(kids, (list, tuple)) else [kids]:
        if hasattr(kid, "_type") and (got := _find(kid, cid)) is not None:
            return got
    return None


def test_page_of_runs_without_scalars_says_so(tmp_path):
    from flowlog.dashboard import create_app
    from flowlog.dashboard.views import scalars as sc
    from flowlog.writer import SummaryWriter

    w = SummaryWriter(logdir=tmp_path, run_name="hists", flush_secs=0.2)
    w.add_histogram("weights", [0.1, 0.2, 0.3], 0)
    w.close()
    app = create_app(tmp_path, reload_interval=60)
    message = _find(app.layout(), sc.MESSAGE)
    assert "have no scalars" in message.children  # the first page, before any callback


@pytest.mark.browser
def test_run_filter_changes_leave_no_console_errors(browser, dash_server, tmp_path):
    url = dash_server(write_two_runs(tmp_path / "runs"), reload_interval=30)
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url)
        page.wait_for_selector(".fl-card .js-plotly-plot .scatterlayer")
        runs = page.get_by_placeholder("filter runs (regex)")
        for pattern in ("al", "alpha", "", "be", "beta", "zz", ""):
            runs.fill(pattern)
            page.wait_for_timeout(120)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.fl-card .js-plotly-plot')].length >= 2 &&"
            " [...document.querySelectorAll('.fl-card .js-plotly-plot')].every(gd =>"
            " gd.layout && gd.layout.uirevision !== undefined)"
        )
        page.get_by_placeholder("filter tags (regex)").fill("nothing-like-this")
        page.wait_for_selector(".fl-message:has-text('nothing-like-this')")
        assert errors == []
    finally:
        context.close()
