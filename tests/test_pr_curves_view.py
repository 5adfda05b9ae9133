"""The PR Curves view: figures from PR curves written by the real writer (plain functions), and
the view in a real headless Chromium."""

from __future__ import annotations

import base64

import dash
import numpy as np
import pytest

from flowlog.backends import open_logdir
from flowlog.dashboard import pr_data
from flowlog.dashboard.patterns import PatternError
from flowlog.dashboard.views import pr_curves
from flowlog.provider import PrCurve, ReadError
from flowlog.writer import SummaryWriter

LABELS = [0, 1, 1, 0]
PREDICTIONS = [0.1, 0.9, 0.6, 0.4]
# num_thresholds=5: thresholds 0, .25, .5, .75, 1; predictions >= threshold count as positive
HAND = {
    "tp": [2, 2, 2, 1, 0],
    "fp": [2, 1, 0, 0, 0],
    "tn": [0, 1, 2, 2, 2],
    "fn": [0, 0, 0, 1, 2],
    "precision": [0.5, 2 / 3, 1.0, 1.0, 0.0],  # 0 where nothing is predicted positive
    "recall": [1.0, 1.0, 1.0, 0.5, 0.0],
}


def array(v) -> np.ndarray:
    """A figure array as plotly.js gets it: Plotly's binary form or a list."""
    if isinstance(v, dict) and "bdata" in v:
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            out = out.reshape([int(n) for n in v["shape"].split(",")])
        return out
    return np.asarray(v)


def info(*names):
    return [{"name": n, "color": c} for n, c in zip(names, ("#1f77b4", "#ff7f0e"), strict=False)]


@pytest.fixture
def tiny(tmp_path):
    d = tmp_path / "runs"
    with SummaryWriter(logdir=d, run_name="tiny") as w:
        w.add_pr_curve("pr", np.array(LABELS), np.array(PREDICTIONS), 0, num_thresholds=5)
    return open_logdir(d)


def test_stored_table_is_the_hand_computed_one(tiny):
    [curve] = tiny.pr_curves("tiny", "pr")
    assert curve.step == 0 and curve.num_thresholds == 5
    rows = ("tp", "fp", "tn", "fn", "precision", "recall")
    np.testing.assert_allclose(curve.table, [HAND[r] for r in rows])


def test_figure_points_are_the_stored_table_up_to_the_last_positive_threshold(tiny):
    curves = {"tiny": tiny.pr_curves("tiny", "pr")}
    fig = pr_data.pr_figure("pr", curves, {"tiny": "#1f77b4"}, 0).to_plotly_json()
    [trace] = fig["data"]
    # threshold 1.0 predicts nothing positive (precision undefined): TensorBoard leaves it out
    np.testing.assert_allclose(array(trace["x"]), HAND["recall"][:4])
    np.testing.assert_allclose(array(trace["y"]), HAND["precision"][:4])
    cd = array(trace["customdata"])
    np.testing.assert_allclose(cd[:, 0], [0, 0.25, 0.5, 0.75])  # the thresholds
    for col, row in enumerate(("tp", "fp", "tn", "fn"), start=1):
        np.testing.assert_allclose(cd[:, col], HAND[row][:4])
    assert trace["line"]["color"] == "#1f77b4" and trace["name"] == "tiny"
    hover = trace["hovertemplate"]
    assert "threshold %{customdata[0]" in hover and "precision %{y" in hover
    assert "recall %{x" in hover and "TP %{customdata[1]" in hover and "FN %{customdata[4]" in hover
    layout = fig["layout"]
    assert layout["xaxis"]["title"]["text"] == "recall"
    assert layout["yaxis"]["title"]["text"] == "precision"
    assert layout["xaxis"]["range"][0] < 0 and 1 < layout["xaxis"]["range"][1] < 1.1
    assert layout["yaxis"]["scaleanchor"] == "x"


def test_curve_points_of_a_curve_that_predicts_nothing_keep_one_point():
    table = np.zeros((6, 3))
    table[pr_data.FN] = 4  # 4 positives, none predicted at any threshold
    pts = pr_data.curve_points(PrCurve(0, 0.0, 3, table))
    assert pts["recall"].size == 1 and pts["fn"][0] == 4
    with pytest.raises(ValueError, match="6 rows"):
        pr_data.curve_points(PrCurve(0, 0.0, 3, np.zeros((2, 3))))


def write_steps(logdir, name, steps, seed=0):
    rng = np.random.default_rng(seed)
    with SummaryWriter(logdir=logdir, run_name=name) as w:
        for i, s in enumerate(steps):
            labels = rng.integers(0, 2, 200)
            preds = np.clip(labels * (0.3 + 0.2 * i) + rng.uniform(0, 0.6, 200), 0, 1)
            w.add_pr_curve("pr/val", labels, preds, s, num_thresholds=21)


def test_step_selection_takes_the_latest_curve_at_or_before_the_step(tmp_path):
    d = tmp_path / "runs"
    write_steps(d, "a", [0, 10, 20])
    write_steps(d, "b", [10, 30], seed=1)
    data = open_logdir(d)
    curves = {n: data.pr_curves(n, "pr/val") for n in ("a", "b")}
    assert pr_data.steps_of(curves) == [0, 10, 20, 30]
    assert pr_data.curve_at(curves["a"], 15).step == 10
    assert pr_data.curve_at(curves["a"], 20).step == 20
    assert pr_data.curve_at(curves["a"], None).step == 20
    assert pr_data.curve_at(curves["b"], 5) is None
    colors = {"a": "#1f77b4", "b": "#ff7f0e"}

    fig = pr_data.pr_figure("pr/val", curves, colors, 20).to_plotly_json()
    names = [t["name"] for t in fig["data"]]
    assert names == ["a", "b · step 10"]  # b has no curve at 20: its latest before it
    assert "step 10" in fig["data"][1]["hovertemplate"]
    want = pr_data.curve_points(curves["b"][0])
    np.testing.assert_allclose(array(fig["data"][1]["y"]), want["precision"])
    assert "step 20" in fig["layout"]["title"]["text"]

    early = pr_data.pr_figure("pr/val", curves, colors, 0).to_plotly_json()
    assert [t["name"] for t in early["data"]] == ["a"]
    note = early["layout"]["annotations"][0]["text"]
    assert "b (first curve at step 10)" in note

    # the slider: a stop per step, its value the index of the step shown
    assert pr_data.step_at([0, 10, 20, 30], 2) == 20
    for bad in (4, -1, "2", None, 1.5, True, [1]):
        assert pr_data.step_at([0, 10, 20, 30], bad) is None
    f = pr_curves.step_figure(
        data, {"tag": "pr/val"}, 1, [0, 10, 20, 30], ["a", "b"], info("a", "b")
    )
    assert "step 10" in f.to_plotly_json()["layout"]["title"]["text"]
    assert [t["name"] for t in f.to_plotly_json()["data"]] == ["a", "b"]


def test_a_rebuilt_chart_follows_the_latest_step_unless_an_earlier_one_was_picked():
    assert pr_data.default_step([]) is None
    assert pr_data.default_step([0, 10, 20]) == 20
    assert pr_data.default_step([0, 10, 20, 30], old=20, old_latest=20) == 30  # followed
    assert pr_data.default_step([0, 10, 20, 30], old=10, old_latest=20) == 10  # kept
    assert pr_data.default_step([0, 20, 30], old=10, old_latest=20) == 0  # latest before it
    assert pr_data.default_step([5, 20, 30], old=1, old_latest=20) == 30
    marks = pr_data.slider_marks(list(range(0, 1000, 10)))
    assert list(marks) == list(range(100))  # every step a stop
    labelled = [i for i, text in marks.items() if text]
    assert len(labelled) == pr_data.MAX_MARK_LABELS and labelled[0] == 0 and labelled[-1] == 99
    assert marks[99] == "990"
    old = pr_curves.old_slider_steps(
        [1, 0, "x", 3], [[0, 10, 20], [5], [0, 1], "junk"], [{"tag": "t"}, {"tag": "u"}, 5, {}]
    )
    assert old == {"t": (10, 20), "u": (5, 5)}
    assert pr_curves.old_slider_steps(None, 5, "x") == {}


class Broken:
    """A provider whose run 'bad' is damaged and 'a' has one curve."""

    def __init__(self, good):
        self.good = good

    def tags(self, run, kind=None, **kw):
        if run == "bad":
            raise ReadError("run 'bad' cannot be read: database disk image is malformed")
        return self.good.tags(run, kind)

    def pr_curves(self, run, tag, **kw):
        return self.good.pr_curves(run, tag)


def test_crafted_requests_and_damaged_runs_never_fail_the_callbacks(tmp_path):
    d = tmp_path / "runs"
    write_steps(d, "a", [0, 10])
    data = Broken(open_logdir(d))
    sel, runs = ["a", "bad"], info("a", "bad")
    for gid in (None, 5, {"tag": 5}, {"tag": ""}, "pr/val"):
        assert pr_curves.step_figure(data, gid, 0, [0], sel, runs) is dash.no_update
    for index, steps, selected, inf in [
        ("x", None, sel, runs), (10**9, [0, 10], sel, runs), (1, "junk", 5, runs),
        (1, [0, 10], sel, {"a": 1}), (None, [{"a": 1}], [None, 5, ["a"]], [5, "x"]),
    ]:  # fmt: skip
        fig = pr_curves.step_figure(data, {"tag": "pr/val"}, index, steps, selected, inf)
        assert "layout" in fig.to_plotly_json()
    fig = pr_curves.step_figure(data, {"tag": "pr/val"}, 1, [0, 10], sel, runs).to_plotly_json()
    notes = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "bad" in notes and "malformed" in notes and len(fig["data"]) == 1
    problems = {}
    by_tag, version = pr_data.collect(data, runs, sel, None, problems)
    assert by_tag == {"pr/val": ["a"]} and "malformed" in problems["bad"]
    assert version == [["a", "pr/val", 2, 10, "#1f77b4"]]
    with pytest.raises(PatternError):
        pr_data.collect(data, runs, sel, "(", {})
    assert pr_data.collect(data, runs, sel, "nothing", {})[0] == {}
    content = pr_curves.charts_children(data, runs, {}, problems, {})
    assert "add_pr_curve" in str(content) and "malformed" in str(content)


def test_the_tab_comes_after_histograms_and_before_hparams(tmp_path):
    from flowlog.dashboard.app import _views

    labels = [v.TAB_LABEL for v in _views()]
    assert "PR Curves" in labels
    assert labels.index("Histograms") < labels.index("PR Curves") < labels.index("HParams")
    for other in ("Images", "Text"):
        if other in labels:
            assert labels.index(other) < labels.index("PR Curves")


# --- in a browser ----------------------------------------------------------------------------


def _chart_js(body: str) -> str:
    return (
        "() => { const gd = document.querySelector(\"[data-fl-tag='pr/val'] .js-plotly-plot\");"
        f" if (!gd || !gd._fullData) return false; {body} }}"
    )


@pytest.mark.browser
def test_pr_curves_tab_draws_a_line_per_run_with_a_step_slider(page, dash_server, tmp_path):
    d = tmp_path / "runs"
    write_steps(d, "alpha", [0, 10, 20], seed=1)
    write_steps(d, "beta", [0, 10, 20], seed=2)
    page.goto(dash_server(d))
    page.locator(".tab", has_text="PR Curves").click()
    page.wait_for_function(_chart_js("return gd._fullData.length === 2;"))
    names = page.evaluate(_chart_js("return gd._fullData.map(t => t.name);"))
    assert names == ["alpha", "beta"]
    title = _chart_js("return gd._fullLayout.title.text.includes('step %s');")
    page.wait_for_function(title % 20)  # the latest step by default

    thumb = page.locator("[data-fl-tag='pr/val'] [role=slider]")
    thumb.focus()
    thumb.press("ArrowLeft")  # one logged step back
    page.wait_for_function(title % 10)
    thumb.press("Home")
    page.wait_for_function(title % 0)
    assert page.evaluate(_chart_js("return gd._fullData.length;")) == 2

    # hovering a point of alpha's line shows its threshold
    xy = page.evaluate(
        _chart_js(
            "const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, t = gd._fullData[0];"
            " const i = Math.floor(t.x.length / 2);"
            " const r = gd.getBoundingClientRect();"
            " return [r.left + xa._offset + xa.l2p(t.x[i]), r.top + ya._offset + ya.l2p(t.y[i])];"
        )
    )
    page.mouse.move(*xy)
    hover = page.locator("[data-fl-tag='pr/val'] .hoverlayer .hovertext").first
    hover.wait_for()
    text = hover.text_content()
    assert "threshold" in text and "precision" in text and "TP" in text and "step 0" in text


@pytest.mark.browser
def test_pr_curves_tab_says_how_to_log_one_when_there_are_none(page, dash_server, tmp_path):
    d = tmp_path / "runs"
    with SummaryWriter(logdir=d, run_name="scalars-only") as w:
        w.add_scalar("loss", 1.0, 0)
    page.goto(dash_server(d))
    page.locator(".tab", has_text="PR Curves").click()
    page.locator(".fl-pr-curves .fl-message", has_text="add_pr_curve").wait_for()
