"""The Graph view's decisions as plain functions, on real logs and without a browser.

Runs are written by the engine and :class:`flowlog.writer.SummaryWriter` (examples/nan_debugging.py
for the NaN story) and read through the dashboard's provider; drawings use the real `dot`.
"""

from __future__ import annotations

import shlex

import numpy as np
import pytest
from conftest import run_nan_example

import flowlog as fl
from flowlog import render
from flowlog.backends import open_logdir
from flowlog.dashboard import graph_model as gm
from flowlog.writer import SummaryWriter

NAN = "nan_debugging"


def _train_small(writer, steps: int, sess=None, train=None):
    """A two-scope model watched every step; returns (sess, train) to train it further."""
    if sess is None:
        graph = fl.Graph()
        with graph.as_default():
            with fl.name_scope("dense"):
                w = fl.Variable(np.ones(3), name="w")
            loss = fl.reduce_sum(fl.square(w), name="loss")
            train = fl.train.GradientDescentOptimizer(0.1).minimize(loss)
        sess = fl.Session(graph)
        writer.watch(sess, every=1)
    for _ in range(steps):
        sess.run(train)
    writer.flush()
    return sess, train


@pytest.fixture(scope="module")
def nan_logdir(tmp_path_factory):
    logdir = run_nan_example(tmp_path_factory.mktemp("nan") / "runs")
    with SummaryWriter(logdir=logdir, run_name="scalars-only") as w:  # a run without a graph
        w.add_scalar("loss", 1.0, 0)
    return logdir


@pytest.fixture
def data(nan_logdir):
    return open_logdir(nan_logdir)


@pytest.fixture
def origin(data):
    return gm.first_numerics(data.numerics(NAN))


def opened_fresh(data):
    return gm.open_run(data, NAN, None, gm.Shown(), on_tab_or_focus=True)


# ----------------------------------------------------------------------------- reading
def test_statistics_arrays_are_read_once_per_change_of_the_run(tmp_path):
    writer = SummaryWriter(logdir=tmp_path, run_name="live")
    sess, train = _train_small(writer, 3)
    data = open_logdir(tmp_path)
    stats = gm.node_stats(data, "live")
    assert set(stats) == {"dense/w"}
    steps, values = stats["dense/w"]["grad_norm"]
    assert list(steps) == [0, 1, 2] and values.dtype == float
    assert gm.node_stats(data, "live") is stats  # cached: nothing re-read
    assert gm.run_steps(data, "live") == [0, 1, 2]
    _train_small(writer, 2, sess, train)  # a commit moves the run's change token
    assert gm.node_stats(data, "live") is not stats
    assert gm.run_steps(data, "live") == [0, 1, 2, 3, 4]
    writer.close()


def test_first_numerics_is_the_lowest_step_then_the_first_logged():
    found = [
        {"node": "b", "step": 7, "op": "Log", "phase": "forward", "kind": "nan", "wall": 1.0},
        {"node": "a", "step": 3, "op": "Div", "phase": "backward", "kind": "inf"},
        {"node": "c", "step": 3, "op": "Mul", "phase": "forward", "kind": "nan"},
    ]
    first = gm.first_numerics(found)
    assert first == dict(node="a", op="Div", phase="backward", step=3, kind="inf", inputs=None)
    assert first is not found[1]  # a new dict: the provider's cached findings stay untouched
    assert gm.first_numerics([]) is None


def test_loss_tag_skips_watch_statistics():
    assert gm.loss_tag(["watch/w/grad_norm", "loss", "acc"]) == "loss"
    assert gm.loss_tag({"watch/w/grad_norm": None}) is None


def test_watched_steps_merge_every_node_and_statistic():
    stats = {
        "a": {"grad_norm": (np.array([0, 2]), np.zeros(2))},
        "b": {"value_norm": (np.array([1, 2, 5]), np.zeros(3))},
    }
    assert gm.watched_steps(stats) == [0, 1, 2, 5]
    assert gm.watched_steps({}) == []


# ----------------------------------------------------------------------------- choosing a run
def test_run_choice_follows_focus_then_current_then_selection():
    names = ["a", "b", "c"]
    assert gm.pick_run(names, ["b"], {"run": "c"}, "a", "focus") == "c"
    assert gm.pick_run(names, ["b"], {"run": "zzz"}, "a", "focus") == "a"  # unknown focus run
    assert gm.pick_run(names, ["b"], None, "a", None) == "a"  # a refresh keeps the current run
    assert gm.pick_run(names, ["b"], None, "a", "selection") == "b"  # a deselected: next one
    assert gm.pick_run(names, ["a", "b"], None, "a", "selection") == "a"
    assert gm.pick_run(names, [], None, None, None) == "a"
    assert gm.pick_run(names, ["../x"], None, "gone", None) == "a"
    assert gm.pick_run([], [], None, None, None) is None
    assert gm.run_names([{"name": "a"}, "junk", {"name": "b"}]) == ["a", "b"]


# ----------------------------------------------------------------------------- loading a run
def test_a_run_opens_at_its_nan_origin(data, origin):
    opened = opened_fresh(data)
    steps = gm.run_steps(data, NAN)
    assert opened.loaded == {"run": NAN, "focus": None} and opened.message is None
    assert opened.steps == steps and steps[opened.step_index] == origin["step"]
    assert opened.selected == origin["node"]
    assert opened.origin == {**origin, "tag": "loss"}  # the Scalars jump shows the loss curve
    assert opened.origin_op == "Log"
    # the machinery starts folded, and the origin's scope is open
    assert opened.folded == ["gradients", "GradientDescent"]
    assert "loss" in opened.scopes and "loss" not in opened.folded
    heat = opened.flow.data[0]
    assert heat.type == "heatmap" and list(heat.y) == [
        "hidden/w",
        "hidden/b",
        "output/w",
        "output/b",
    ]


def test_coming_back_to_the_tab_changes_nothing_unless_the_focus_is_new(data):
    first = opened_fresh(data)
    shown = gm.Shown(first.loaded, "hidden/b", ["GradientDescent"], first.steps, 3)
    assert gm.open_run(data, NAN, None, shown, on_tab_or_focus=True) is None
    # a NaN marker / curve click in Scalars: its step and node, the user's other folds kept
    focus = {"run": NAN, "step": 12, "node": "gradients/hidden/MatMul_grad/MatMul"}
    shown = gm.Shown(first.loaded, None, ["gradients", "GradientDescent"], first.steps, 3)
    moved = gm.open_run(data, NAN, focus, shown, on_tab_or_focus=True)
    assert moved.steps[moved.step_index] == 12
    assert moved.selected == focus["node"] and moved.folded == ["GradientDescent"]
    assert moved.loaded == {"run": NAN, "focus": focus}
    # the same focus again (the user came back from Scalars): applied once only
    again = gm.Shown(moved.loaded, moved.selected, moved.folded, moved.steps, 0)
    assert gm.open_run(data, NAN, focus, again, on_tab_or_focus=True) is None
    # a focus on another run is not this view's business
    other = {"run": "scalars-only", "step": 1}
    assert gm.open_run(data, NAN, other, again, on_tab_or_focus=True) is None


def test_reloading_the_same_run_keeps_the_users_state(data):
    first = opened_fresh(data)
    shown = gm.Shown(first.loaded, "hidden/b", ["GradientDescent"], first.steps, 3)
    again = gm.open_run(data, NAN, None, shown, on_tab_or_focus=False)
    assert (again.selected, again.folded, again.step_index) == ("hidden/b", ["GradientDescent"], 3)
    # state from the browser that does not fit the run is dropped
    junk = gm.Shown(first.loaded, ["hidden/b"], "gradients", [0, 1], "x")
    cleaned = gm.open_run(data, NAN, None, junk, on_tab_or_focus=False)
    assert cleaned.selected is None and cleaned.folded == []
    assert cleaned.step_index == len(first.steps) - 1


def test_runs_that_cannot_be_shown_say_why(data, nan_logdir):
    none = gm.open_run(data, None, None, gm.Shown(), on_tab_or_focus=False)
    assert none.message == gm.NO_RUNS and none.steps == [] and none.folded == []
    gone = gm.open_run(data, "no-such-run", None, gm.Shown(), on_tab_or_focus=False)
    assert gone.message == f"no run named 'no-such-run' in {data.location}"
    assert gone.loaded == {"run": "no-such-run", "focus": None}
    assert "select a run" in gone.flow.layout.annotations[0].text
    bare = gm.open_run(data, "scalars-only", None, gm.Shown(), on_tab_or_focus=False)
    assert "logged no graph" in bare.message and "add_graph" in bare.message
    assert bare.origin is None and bare.selected is None


# ----------------------------------------------------------------------------- live runs
def test_a_live_run_extends_the_slider_and_a_finished_one_is_left_alone(tmp_path):
    writer = SummaryWriter(logdir=tmp_path, run_name="live")
    sess, train = _train_small(writer, 2)
    data = open_logdir(tmp_path)
    assert gm.follow(data, "live", [0, 1], 1) is None  # nothing new
    _train_small(writer, 2, sess, train)
    at_end = gm.follow(data, "live", [0, 1], 1)
    assert at_end.steps == [0, 1, 2, 3] and at_end.step_index == 3
    assert list(at_end.flow.data[0].y) == ["dense/w"]
    assert gm.follow(data, "live", [0, 1], 0).step_index == 0  # moved back: stays
    assert gm.follow(data, "live", None, None).step_index == 3
    writer.close()
    assert gm.follow(data, "live", [0], 0) is None
    assert gm.follow(data, "gone", [0], 0) is None


# ----------------------------------------------------------------------------- navigation
def test_clicks_search_links_and_fold_buttons(data):
    desc = data.graph(NAN)
    folded = ["gradients", "GradientDescent"]
    assert gm.navigate(desc, folded, "click", {"id": "scope:gradients"}) == gm.Navigation(
        folded=["GradientDescent"]
    )
    assert gm.navigate(desc, folded, "click", {"id": "node:hidden/w"}) == gm.Navigation("hidden/w")
    for junk in ({"id": "node:nope"}, {"id": 3}, "node:hidden/w", None):
        assert gm.navigate(desc, folded, "click", junk) is None
    target = next(n["name"] for n in desc["nodes"] if n["name"].startswith("GradientDescent/"))
    found = gm.navigate(desc, folded, "search", target.upper())
    assert found.selected == target and found.folded == ["gradients"]
    assert found.status == f"found {target}"
    several = gm.navigate(desc, folded, "search", "hidden/")
    n = len(several.hits["names"])
    assert n > 1 and several.status == f"1 of {n}: {several.selected}"
    assert gm.navigate(desc, folded, "search", "zzz") == gm.Navigation(
        status="no node matches 'zzz'", hits={"names": [], "i": 0}
    )
    assert gm.navigate(desc, folded, "search", None).status == ""
    grad = next(n["name"] for n in desc["nodes"] if n["name"].startswith("gradients/"))
    assert gm.navigate(desc, folded, "nav", grad) == gm.Navigation(grad, ["GradientDescent"])
    assert gm.navigate(desc, [], "nav", "hidden/w") == gm.Navigation("hidden/w", [])
    assert gm.navigate(desc, [], "nav", ["hidden/w"]) is None
    assert gm.navigate(desc, [], "fold", "hidden") == gm.Navigation(folded=["hidden"])
    assert gm.navigate(desc, ["hidden"], "fold", "hidden") is None
    assert gm.navigate(desc, [], "fold", "../etc") is None
    assert gm.navigate(None, [], "click", {"id": "node:hidden/w"}) is None


# ----------------------------------------------------------------------------- drawing
def _nodes(svg: str) -> dict[str, tuple[set, str]]:
    """``{node name: (classes, fill of its shape)}`` of a rendered SVG."""
    import xml.etree.ElementTree as ET

    out = {}
    for g in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
        if (g.get("id") or "").startswith("node:"):
            shape = next(e for e in g if e.tag.rsplit("}", 1)[-1] in ("ellipse", "polygon", "path"))
            out[g.get("id")[5:]] = (set(g.get("class").split()), shape.get("fill"))
    return out


def _fills(svg: str, names) -> set[str]:
    nodes = _nodes(svg)
    return {nodes[n][1] for n in names}


def test_drawing_colours_by_statistic_at_a_step_and_marks_the_origin(data, origin):
    opened = opened_fresh(data)
    variables = ["hidden/w", "hidden/b", "output/w", "output/b"]
    at_nan = gm.draw(data, NAN, opened.folded, "grad_norm", opened.step_index, origin, opened.steps)
    assert at_nan.step_label == f"step {origin['step']}"
    assert (
        at_nan.legend[0]
        == f"colour: gradient norm at step {origin['step']} (4 nodes; grey = no value)"
    )
    assert at_nan.legend[1].startswith(" · non-finite at this step: ")
    assert at_nan.svg[
        "key"
    ] == f"{NAN}|gradients,GradientDescent|grad_norm|{origin['step']}|" + str(
        len(at_nan.svg["svg"])
    )
    nodes = _nodes(at_nan.svg["svg"])
    assert {"fl-marked", "fl-highlight"} <= nodes[origin["node"]][0]
    marked = {n for n, (classes, _) in nodes.items() if "fl-marked" in classes}
    feeders = set(render.feeders(data.graph(NAN), origin["node"])) & set(nodes)
    assert feeders and marked == feeders | {origin["node"]}
    assert len(_fills(at_nan.svg["svg"], variables)) == 1  # all in the NaN colour
    at_0 = gm.draw(data, NAN, opened.folded, "grad_norm", 0, origin, opened.steps)
    assert at_0.step_label == "step 0" and len(at_0.legend) == 1
    assert len(_fills(at_0.svg["svg"], variables)) > 1  # a colour scale
    by_value = gm.draw(data, NAN, opened.folded, "value_norm", 0, None, opened.steps)
    assert "value norm at step 0" in by_value.legend[0]
    assert not any("fl-marked" in c for c, _ in _nodes(by_value.svg["svg"]).values())
    # the command under the graph writes what is shown: folds, and the colouring at the step
    collapse = gm.render_options(opened.folded, data.graph(NAN))["collapse"]
    expected = gm.export_command(data.location, NAN, collapse, ("value_norm", 0))
    assert by_value.cli == expected and "--color-by value_norm --step 0" in expected


def test_drawing_copes_with_odd_controls_from_the_browser(data):
    bogus = gm.draw(data, NAN, "gradients", "no-such-stat", 10**9, {"node": ["x"]}, [0, 5])
    assert bogus.step_label == "step 5"  # clamped to the last step
    assert "gradient norm at step 5" in bogus.legend[0]  # unknown stat: the default one
    assert "--collapse" not in bogus.cli  # a fold "list" that is a string folds nothing
    no_steps = gm.draw(data, NAN, [], "grad_norm", 0, None, [])
    assert no_steps.step_label == "no watched steps"
    assert no_steps.legend == ["no watch statistics in this run: use writer.watch(sess, every=N)"]
    assert gm.step_at(["a"], 0) is None and gm.step_at([1, 2], "x") is None
    assert gm.draw(data, "scalars-only", [], "grad_norm", 0, None, []) == gm.Drawing()


def test_legend_names_missing_statistics():
    assert gm.legend("grad_nan", 4, {}, []) == ["no NaN count in the gradient logged at step 4"]


def test_download_is_the_cli_export_byte_for_byte(data, tmp_path):
    from flowlog import cli

    folded = ["gradients", "hidden"]
    svg, filename = gm.download(data, NAN, folded)
    assert filename == "nan_debugging-graph.svg" and svg.startswith(b"<")
    argv = shlex.split(gm.cli_command(data.location, NAN, folded, data.graph(NAN)))
    argv[argv.index("-o") + 1] = str(tmp_path / "cli.svg")
    assert cli.main(argv[1:]) == 0
    assert (tmp_path / "cli.svg").read_bytes() == svg
    assert svg == render.render(
        data.graph(NAN), format="svg", **gm.render_options(folded, data.graph(NAN))
    )
    name = gm.download(data, "scalars-only", [])
    assert name is None


def test_jump_to_scalars_focus(origin):
    focus = gm.jump_focus(NAN, {**origin, "tag": "loss"})
    assert focus == {"run": NAN, "tag": "loss", "step": origin["step"], "node": origin["node"]}
    assert gm.jump_focus(NAN, None) is None and gm.jump_focus(NAN, "junk") is None


def test_search_next_and_previous_step_through_the_matches(data):
    desc = data.graph(NAN)
    first = gm.navigate(desc, [], "search", "hidden/")
    names = first.hits["names"]
    assert len(names) > 2 and first.selected == names[0]
    second = gm.navigate(desc, [], "next", first.hits)
    assert second.selected == names[1] and second.status == f"2 of {len(names)}: {names[1]}"
    back = gm.navigate(desc, [], "prev", first.hits)  # wraps to the last match
    assert back.selected == names[-1] and back.hits["i"] == len(names) - 1
    hidden = gm.navigate(desc, ["hidden"], "next", first.hits)
    assert hidden.folded == []  # a match inside a folded scope is unfolded
    for junk in (None, {"names": "x"}, {"names": ["../etc"]}, {"names": names, "i": "1"}):
        nav = gm.navigate(desc, [], "next", junk)
        assert nav is None or nav.selected in names
