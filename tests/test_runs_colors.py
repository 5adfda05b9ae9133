"""Run colours stay put for the life of a logdir, and the user can pick their own (runs panel).

Real logs written with SummaryWriter, the real app's discovery, and the real dashboard in
headless Chromium for the panel, the picker and the charts' colours.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import write_run

from flowlog.dashboard import create_app, runs_panel
from flowlog.dashboard.colors import PALETTE, run_colors, with_picks


def _colors(ctx) -> dict[str, str]:
    info, _warnings, _problem = runs_panel.discover(ctx, 0)
    return {r["name"]: r["color"] for r in info}


def test_a_new_run_keeps_every_existing_runs_colour(tmp_path):
    """A run that sorts first by name joins: it takes the next colour, nobody else changes."""
    d = tmp_path / "runs"
    write_run(d, "m_run", n=20)
    time.sleep(0.02)  # distinct start times, as runs started one after the other have
    write_run(d, "z_run", n=20)
    ctx = create_app(d).flowlog_context
    before = _colors(ctx)
    time.sleep(0.02)
    write_run(d, "a_run", n=20)
    after = _colors(ctx)
    assert {k: after[k] for k in before} == before
    assert after["a_run"] not in before.values()
    assert [after[n] for n in ("m_run", "z_run", "a_run")] == PALETTE[:3]


def test_a_picked_colour_redraws_the_scalars_charts_of_that_run(tmp_path):
    from flowlog.dashboard.views.scalars import live_update

    d = tmp_path / "runs"
    write_run(d, "a_run", n=20)
    write_run(d, "b_run", n=20)
    ctx = create_app(d).flowlog_context
    view, (info, _w, _p) = ctx.extra["scalars"], runs_panel.discover(ctx, 0)
    names = [r["name"] for r in info]
    _fig, state = view.build("loss/train", info, names, 0.0, "step", [], "none", None, None)
    assert live_update(view, state, info, names, [], None) == (None, None, None)
    picked = [{**r, "color": "#123456"} if r["name"] == "a_run" else r for r in info]
    _spec, fig, state = live_update(view, state, picked, names, [], None)
    colours = {t["name"]: t["line"]["color"] for t in fig.data if "line" in t and t.get("name")}
    assert colours["a_run"] == "#123456" and colours["b_run"] == _colors(ctx)["b_run"]
    assert live_update(view, state, picked, names, [], None) == (None, None, None)


def test_colours_follow_start_order_and_ignore_bad_picks():
    starts = {"b": 10.0, "a": 20.0, "c": 10.0}
    # the same start: by name; no start: the newest
    order = ["b", "c", "a", "late"]
    assert run_colors(["a", "b", "c", "late"], starts) == dict(zip(order, PALETTE[:4], strict=True))
    info = [{"name": "a", "color": "#111111"}, {"name": "b", "color": "#222222"}]
    out = with_picks(info, {"a": "#abcdef", "b": "red;background:url(x)", "zz": "#000000"})
    assert [r["color"] for r in out] == ["#abcdef", "#222222"]
    assert [r["default_color"] for r in out] == ["#111111", "#222222"]
    # picks taken back: the default again (from default_color, not the old pick)
    assert [r["color"] for r in with_picks(out, {})] == ["#111111", "#222222"]
    assert with_picks(info, "not a dict") == with_picks(info, None)


def _swatches(page) -> dict[str, str]:
    return dict(
        page.evaluate(
            "[...document.querySelectorAll('.fl-runs .fl-swatch')]"
            ".map(s => [s.dataset.run, getComputedStyle(s).backgroundColor])"
        )
    )


def _line_color(page, run: str) -> str | None:
    """The colour of ``run``'s median line on the Histograms tab's percentile chart."""
    return page.evaluate(
        "(run) => { const gd = document.querySelector('.fl-histograms .js-plotly-plot');"
        " const t = gd && gd._fullData.find(t => t.name === run && t.line);"
        " return t ? t.line.color : null; }",
        run,
    )


@pytest.mark.browser
def test_colours_in_the_browser_survive_new_runs_and_take_picks(page, dash_server, tmp_path):
    d = tmp_path / "runs"
    write_run(d, "m_run", n=30)
    time.sleep(0.02)
    write_run(d, "z_run", n=30)
    page.goto(dash_server(d, reload_interval=0.4))
    page.locator(".fl-run-name", has_text="z_run").wait_for()
    before = _swatches(page)
    write_run(d, "a_run", n=30)  # sorts before both: it used to shift both colours
    files = sorted(p.name for p in d.rglob("*"))
    page.locator(".fl-run-name", has_text="a_run").wait_for()
    after = _swatches(page)
    assert {k: after[k] for k in before} == before
    assert after["a_run"] not in before.values()

    # clicking a swatch opens the colour picker and leaves the run checked
    page.locator(".fl-swatch[data-run='z_run']").click()
    boxes = page.locator(".fl-runs-list input[type=checkbox]")
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.locator("#fl-color-picker").fill("#123456")
    page.wait_for_function(
        "getComputedStyle(document.querySelector(\".fl-swatch[data-run='z_run']\"))"
        ".backgroundColor === 'rgb(18, 52, 86)'"
    )
    page.locator(".tab", has_text="Histograms").click()
    deadline = time.monotonic() + 30  # the charts redraw in the pick (views read RUNS_INFO)
    while _line_color(page, "z_run") != "#123456" and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert _line_color(page, "z_run") == "#123456"
    assert _line_color(page, "m_run") == PALETTE[0]  # the other runs keep theirs
    stored = json.loads(page.evaluate("localStorage.getItem('run-color-picks')"))
    assert stored == {str(d.resolve()): {"z_run": "#123456"}}
    assert sorted(p.name for p in d.rglob("*")) == files  # nothing written into the logdir

    page.reload()  # the pick is the browser's: it comes back with the page
    page.locator(".fl-run-name", has_text="z_run").wait_for()
    page.wait_for_function(
        "getComputedStyle(document.querySelector(\".fl-swatch[data-run='z_run']\"))"
        ".backgroundColor === 'rgb(18, 52, 86)'"
    )
    page.locator(".fl-swatch[data-run='z_run']").click(modifiers=["Shift"])  # back to default
    page.wait_for_function(
        "([want]) => getComputedStyle(document.querySelector(\".fl-swatch[data-run='z_run']\"))"
        ".backgroundColor === want",
        arg=[before["z_run"]],
    )
