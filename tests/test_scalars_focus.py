"""Scalars follow the FOCUS store ("show this step in Scalars" in the Graph view): the charts
of that run zoom onto a window centred on the step and mark it, on real logs written by the
real writer; then in headless Chromium against the real server."""

from __future__ import annotations

import json

import pytest
from conftest import N, page_of_size, write_two_runs
from test_scalars_view import _controls, _view

STEP = 1200


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return write_two_runs(tmp_path_factory.mktemp("focus") / "runs")


def _marker(fig):
    shapes = [s for s in fig.layout.get("shapes", []) if s.get("name") == "focus"]
    notes = [a["text"] for a in fig.layout.get("annotations", [])]
    return shapes, notes


def test_focus_of_ignores_the_views_own_clicks_and_crafted_values():
    from flowlog.dashboard.scalars_focus import focus_of, step_window

    assert focus_of({"run": "a", "step": 7, "node": "n"}) == {"run": "a", "step": 7}
    assert focus_of({"run": "a", "step": 7, "from": "scalars"}) is None
    assert focus_of({"run": ["a"], "step": 7}) is None and focus_of("x") is None
    lo, hi = step_window(500, 0, 3000)
    assert (lo + hi) / 2 == 500 and hi - lo == 600
    assert step_window(5, 0, 10) == (-5, 15)  # at least MIN_STEPS wide


def test_focus_zooms_the_runs_charts_onto_the_step_and_marks_it(logdir):
    from flowlog.dashboard.views.scalars import FOCUS, VISIBLE, build_chart

    view, info = _view(logdir)
    gid = {"type": "sc-graph", "tag": "loss/train"}
    _, state = build_chart(view, _controls(), {"type": VISIBLE}, gid, None, info)
    focus = {"run": "beta", "step": STEP, "node": "loss"}
    fig, got = build_chart(view, _controls(focus=focus), FOCUS, gid, state, info)
    lo, hi = fig.layout["xaxis"]["range"]
    assert lo < STEP < hi and abs((lo + hi) / 2 - STEP) < 1 and got["range"] == [lo, hi]
    shapes, notes = _marker(fig)
    assert [s["x0"] for s in shapes] == [STEP] and f"step {STEP}" in notes
    assert shapes[0]["line"]["color"] == {r["name"]: r["color"] for r in info}["beta"]
    assert got["focus"] == {"run": "beta", "step": STEP}
    # a smoothing change keeps zoom and marker; a click on a curve leaves them alone
    fig2, kept = build_chart(view, _controls(weight=0.5, focus=focus), "sc-smoothing", gid, got,
                             info)  # fmt: skip
    assert kept["range"] == [lo, hi] and _marker(fig2)[0]
    click = {"run": "alpha", "tag": "loss/train", "step": 3, "from": "scalars"}
    assert build_chart(view, _controls(focus=click), FOCUS, gid, got, info) == "unchanged"
    # cleared: back to the whole range, no marker
    fig3, cleared = build_chart(view, _controls(focus=None), FOCUS, gid, got, info)
    assert cleared["range"] is None and not _marker(fig3)[0]
    # a chart built after the focus moved comes zoomed; one without the run is untouched
    fig4, late = build_chart(view, _controls(focus=focus), {"type": VISIBLE}, gid, None, info)
    assert late["range"] == [lo, hi] and _marker(fig4)[0]
    alone = _controls(selected=["alpha"])
    _, a_state = build_chart(view, alone, {"type": VISIBLE}, gid, None, info)
    assert build_chart(view, {**alone, "focus": focus}, FOCUS, gid, a_state, info) == "unchanged"


def _sel(tag):
    key = json.dumps({"tag": tag, "type": "sc-graph"}, separators=(",", ":"))
    return f"[id='{key}'] .js-plotly-plot"


@pytest.mark.browser
def test_show_this_step_in_scalars_centres_and_marks_the_step(browser, dash_server, logdir):
    with page_of_size(browser, (1400, 1000), dash_server(logdir, reload_interval=30)) as page:
        page.wait_for_function(
            "s => document.querySelector(s)?._fullLayout", arg=_sel("loss/train")
        )
        page.locator(".tab", has_text="Graph").first.click()
        # what the Graph view's "show this step in Scalars" does (views/graph.py _jump)
        page.evaluate(
            """s => { dash_clientside.set_props('focus', {data: {run: 'beta', step: s,
              node: 'loss'}}); dash_clientside.set_props('view-tabs', {value: 'scalars'}); }""",
            STEP,
        )
        for tag in ("loss/train", "loss/val"):
            got = page.wait_for_function(
                """([sel, step]) => { const gd = document.querySelector(sel);
                  if (!gd || !gd._fullLayout) return null;
                  const [lo, hi] = gd._fullLayout.xaxis.range;
                  const mark = (gd._fullLayout.shapes || []).find(s => s.name === 'focus');
                  return lo < step && step < hi && mark ? {lo, hi, x: mark.x0} : null; }""",
                arg=[_sel(tag), STEP],
            ).json_value()
            assert abs((got["lo"] + got["hi"]) / 2 - STEP) < 0.05 * (got["hi"] - got["lo"])
            assert got["x"] == STEP and got["hi"] - got["lo"] < N / 2
        label = page.locator(_sel("loss/train") + " .annotation-text", has_text=f"step {STEP}")
        assert label.count() == 1
        bar = page.locator(".fl-focus-bar")
        assert f"step {STEP} of run beta" in bar.text_content() and bar.is_visible()
        bar.get_by_text("show all steps").click()  # back to the whole range, unmarked
        page.wait_for_function(
            """([sel, n]) => { const gd = document.querySelector(sel);
              const [lo, hi] = gd._fullLayout.xaxis.range;
              return hi - lo > 0.9 * n && !(gd._fullLayout.shapes || []).some(
                s => s.name === 'focus'); }""",
            arg=[_sel("loss/train"), N],
        )
        page.wait_for_selector(".fl-focus-bar", state="hidden")
