"""The smoothing control: TensorBoard's range (to 0.999, steps of 0.001), a number box kept
equal to the slider, and help text saying how smoothing every point differs from TensorBoard's
1,000-point sample. The browser test types a weight on the real server's page."""

from __future__ import annotations

import json

import pytest
from conftest import BROWSER_TIMEOUT_MS, write_two_runs


def test_slider_reaches_0999_in_fine_steps_with_a_number_box_and_help():
    from flowlog.dashboard.scalars_toolbar import SMOOTHING, SMOOTHING_BOX, smoothing_control

    label = smoothing_control()
    slider, box = (
        c for c in label.children if getattr(c, "id", None) in (SMOOTHING, SMOOTHING_BOX)
    )
    assert slider.max == 0.999 and slider.step == 0.001
    assert box.type == "number" and box.step == 0.001 and box.value == slider.value
    assert "1,000" in label.title and "every logged point" in label.title


@pytest.mark.browser
def test_a_typed_weight_smooths_the_charts_and_moves_the_slider(browser, dash_server, tmp_path):
    url = dash_server(write_two_runs(tmp_path / "runs"), reload_interval=30)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    sel = "[id='{}'] .js-plotly-plot".format(
        json.dumps({"tag": "loss/train", "type": "sc-graph"}, separators=(",", ":"))
    )
    # the smoothed line's values around step 100, as drawn
    smoothed = """sel => { const gd = document.querySelector(sel);
      const t = gd && gd._fullData && gd._fullData.find(t => t.meta && t.meta[3] === 'smooth');
      return t ? Array.from(t.y).slice(100, 110).join(',') : null; }"""
    try:
        page.goto(url)
        page.wait_for_function(smoothed, arg=sel)
        before = page.evaluate(smoothed, sel)
        box = page.locator("#sc-smoothing-box")
        box.fill("0.995")
        box.press("Enter")
        page.wait_for_function(
            f"([sel, b]) => {{ const now = ({smoothed})(sel); return now && now !== b; }}",
            arg=[sel, before],
        )
        handle = page.locator("#sc-smoothing [role=slider]")
        assert float(handle.get_attribute("aria-valuenow")) == pytest.approx(0.995)
        box.fill("5")  # out of range: clamped to the slider's end
        box.press("Enter")
        page.wait_for_function("() => document.querySelector('#sc-smoothing [role=slider]')"
                               ".getAttribute('aria-valuenow') === '0.999'")  # fmt: skip
        assert box.input_value() == "0.999"
    finally:
        context.close()
