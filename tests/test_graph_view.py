"""Graph view helpers and figures, on hand-built graph descriptions and numpy arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flowlog.dashboard import graph_data as gd
from flowlog.dashboard import graph_figures as gf
from flowlog.dashboard import tab_gate

DESC = {
    "format": "flowlog.graph/1",
    "nodes": [
        {"name": "x", "op": "Placeholder", "inputs": [], "scope": "", "kind": "placeholder",
         "shape": [None, 3], "dtype": "float64", "attrs": {}},
        {"name": "dense/w", "op": "Variable", "inputs": [], "scope": "dense", "kind": "variable",
         "shape": [3, 2], "dtype": "float64", "attrs": {}},
        {"name": "dense/b", "op": "Variable", "inputs": [], "scope": "dense", "kind": "variable",
         "shape": [2], "dtype": "float64", "attrs": {}},
        {"name": "dense/MatMul", "op": "MatMul", "inputs": ["x", "dense/w"], "scope": "dense"},
        {"name": "dense/Add", "op": "Add", "inputs": ["dense/MatMul", "dense/b"],
         "scope": "dense"},
        {"name": "loss/Log", "op": "Log", "inputs": ["dense/Add"], "scope": "loss"},
        {"name": "loss/Mean", "op": "Mean", "inputs": ["loss/Log"], "scope": "loss"},
        {"name": "gradients/loss/Log_grad/Div", "op": "Div", "inputs": ["dense/Add"],
         "scope": "gradients/loss/Log_grad", "kind": "gradient"},
        {"name": "GradientDescent/update_w", "op": "ApplyGD",
         "inputs": ["dense/w", "gradients/loss/Log_grad/Div"], "scope": "GradientDescent",
         "kind": "optimizer"},
    ],
    "trainable": ["dense/w", "dense/b"],
}  # fmt: skip


def test_scopes_consumers_and_chain():
    assert gd.all_scopes(DESC) == [
        "dense", "loss", "gradients", "gradients/loss", "gradients/loss/Log_grad",
        "GradientDescent",
    ]  # fmt: skip
    cons = gd.consumers(DESC)
    assert cons["dense/Add"] == ["loss/Log", "gradients/loss/Log_grad/Div"]
    assert cons["loss/Mean"] == []
    assert gd.scope_chain("a/b/c") == ["a", "a/b", "a/b/c"]
    assert gd.scope_chain("") == []


def test_scope_falls_back_to_name_prefix_for_minimal_descriptions():
    assert gd.node_scope({"name": "a/b/op"}) == "a/b"
    assert gd.node_scope({"name": "top"}) == ""


def test_unfold_for_opens_every_scope_hiding_the_node():
    node = gd.node_index(DESC)["gradients/loss/Log_grad/Div"]
    folded = ["gradients", "gradients/loss/Log_grad", "GradientDescent", "dense"]
    assert gd.unfold_for(folded, node) == ["GradientDescent", "dense"]


def test_visible_folded_keeps_only_outermost():
    assert gd.visible_folded(["a/b", "a", "c", "a", "c/d/e"]) == ["a", "c"]


def test_search_ranks_exact_then_short_then_suffix_then_substring():
    assert gd.search(DESC, "loss/mean") == ["loss/Mean"]
    # "w" is the short name of dense/w; other names merely contain a "w"
    hits = gd.search(DESC, "w")
    assert hits[0] == "dense/w"
    assert "GradientDescent/update_w" in hits
    assert gd.search(DESC, "  ") == []
    assert gd.search(DESC, "nothing-like-this") == []


def test_bad_descriptions_raise_naming_the_problem():
    with pytest.raises(gd.GraphDescriptionError, match="'nodes' list"):
        gd.node_index({"format": "flowlog.graph/1"})
    with pytest.raises(gd.GraphDescriptionError, match="#1"):
        gd.node_index({"nodes": [{"name": "a"}, {"op": "X"}]})
    with pytest.raises(gd.GraphDescriptionError, match="must be a dict"):
        gd.node_index(["a"])


def test_trainable_order_follows_graph_order_and_appends_unknown_watched():
    assert gd.trainable_order(DESC) == ["dense/w", "dense/b"]
    no_list = {"nodes": DESC["nodes"]}
    assert gd.trainable_order(no_list, watched=["dense/b", "extra"]) == [
        "dense/w", "dense/b", "extra",
    ]  # fmt: skip


def test_value_at_step_uses_latest_at_or_before():
    steps, vals = np.array([0, 5, 10]), np.array([1.0, 2.0, 3.0])
    assert gd.value_at_step(steps, vals, 7) == 2.0
    assert gd.value_at_step(steps, vals, 10) == 3.0
    assert gd.value_at_step(steps, vals, -1) is None
    assert gd.value_at_step(np.array([]), np.array([]), 3) is None


def test_overlay_values_keeps_nonfinite_and_skips_missing():
    stats = {
        "dense/w": {"grad_norm": (np.array([0, 1]), np.array([0.5, np.nan]))},
        "dense/b": {"grad_norm": (np.array([1]), np.array([2.0]))},
        "other": {"value_norm": (np.array([0]), np.array([1.0]))},
    }
    values, nonfinite = gd.overlay_values(stats, "grad_norm", 0)
    assert values == {"dense/w": 0.5}
    values, nonfinite = gd.overlay_values(stats, "grad_norm", 1)
    assert math.isnan(values["dense/w"]) and values["dense/b"] == 2.0
    assert nonfinite == ["dense/w"]
    with pytest.raises(ValueError, match="unknown colour statistic 'bogus'"):
        gd.overlay_values(stats, "bogus", 0)


def test_nearest_index():
    assert gd.nearest_index([0, 10, 20], 13) == 1
    assert gd.nearest_index([0, 10, 20], 16) == 2
    assert gd.nearest_index([], 5) == 0
    assert gd.nearest_index([0, 10], "not a step") == 1


# ----------------------------------------------------------------------------- figures
def test_gradient_flow_calls_out_vanishing_exploding_and_nonfinite():
    steps = np.arange(5)
    series = {
        "dense/w": (steps, np.array([1.0, 0.5, 1e-9, 0.1, 0.2])),
        "dense/b": (steps, np.array([1.0, 2e4, 3.0, np.nan, np.inf])),
    }
    fig = gf.gradient_flow_figure(["dense/w", "dense/b", "unlogged"], series)
    heat = fig.data[0]
    assert heat.type == "heatmap"
    assert list(heat.y) == ["dense/w", "dense/b"]  # graph order, unlogged rows dropped
    z = np.asarray(heat.z, dtype=float)
    assert z[0, 0] == pytest.approx(0.0) and z[0, 2] == pytest.approx(-9.0)
    assert z[1, 1] == pytest.approx(math.log10(2e4))
    assert np.isnan(z[1, 3]) and np.isnan(z[1, 4])  # non-finite: no colour, a marker instead
    assert gf.flagged_cells(fig) == {"vanishing": 1, "exploding": 1, "non-finite": 2}
    marks = {tr.name.split(" (")[0]: list(zip(tr.x, tr.y, strict=True)) for tr in fig.data[1:]}
    assert marks["vanishing"] == [(2, "dense/w")]
    assert marks["exploding"] == [(1, "dense/b")]
    assert marks["non-finite"] == [(3, "dense/b"), (4, "dense/b")]


def test_gradient_flow_buckets_long_runs_keeping_the_extreme_cell():
    steps = np.arange(1000)
    vals = np.full(1000, 0.1)
    vals[501] = 1e5
    fig = gf.gradient_flow_figure(["w"], {"w": (steps, vals)}, max_columns=100)
    heat = fig.data[0]
    assert len(heat.x) == 100
    z = np.asarray(heat.z, dtype=float)[0]
    assert np.nanmax(z) == pytest.approx(5.0)
    assert gf.flagged_cells(fig) == {"exploding": 1}


def test_gradient_flow_empty_state_says_what_to_do():
    fig = gf.gradient_flow_figure(["w"], {})
    assert "writer.watch" in fig.layout.annotations[0].text


def test_histogram_heatmap_rebins_columns_to_a_common_grid():
    edges = [np.array([0.0, 1.0, 2.0]), np.array([2.0, 3.0, 4.0])]
    counts = [np.array([3.0, 1.0]), np.array([0.0, 5.0])]
    fig = gf.histogram_heatmap([0, 1], edges, counts, "value", bins=4)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (4, 2)
    np.testing.assert_allclose(z[:, 0], [0.75, 0.25, 0.0, 0.0])
    np.testing.assert_allclose(z[:, 1], [0.0, 0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="3 edges for 3 counts"):
        gf.histogram_heatmap([0], [np.array([0.0, 1.0, 2.0])], [np.ones(3)], "grad")


def test_norms_figure_marks_nonfinite_steps_and_uses_log_axis():
    steps = np.arange(4)
    fig = gf.norms_figure({
        "value_norm": (steps, np.array([1.0, 2.0, 4.0, 8.0])),
        "grad_norm": (steps, np.array([0.1, 0.2, np.nan, np.inf])),
    })  # fmt: skip
    assert fig.layout.yaxis.type == "log"
    bad = [tr for tr in fig.data if tr.name == "grad_norm non-finite"]
    assert len(bad) == 1 and list(bad[0].x) == [2, 3]
    assert "no value/gradient norms" in gf.norms_figure({}).layout.annotations[0].text


def test_moments_figure_draws_std_band():
    steps = np.arange(3)
    fig = gf.moments_figure({
        "value_mean": (steps, np.array([0.0, 1.0, 2.0])),
        "value_std": (steps, np.array([1.0, 1.0, 1.0])),
    })  # fmt: skip
    upper, lower, mean = fig.data
    np.testing.assert_allclose(upper.y, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(lower.y, [-1.0, 0.0, 1.0])
    assert lower.fill == "tonexty" and mean.name == "value mean"


def test_histogram_heatmap_keeps_all_nonfinite_steps_as_marked_empty_columns():
    fig = gf.histogram_heatmap(
        [0, 1],
        [np.array([0.0, 1.0]), np.array([])],
        [np.array([4.0]), np.array([])],
        "grad",
        bins=2,
        nonfinite=[0, 4],
    )
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.isnan(z[:, 1]).all() and z[:, 0].sum() == pytest.approx(1.0)
    assert list(fig.data[1].x) == [1]  # the NaN marker sits on step 1 only
    only_bad = gf.histogram_heatmap([0], [np.array([])], [np.array([])], "grad")
    assert "all NaN/Inf" in only_bad.layout.annotations[0].text


# ----------------------------------------------------------------------------- view helpers
def test_render_options_only_pass_known_outermost_scopes_from_the_client():
    from flowlog.dashboard.graph_model import cli_command, render_options

    client = ["gradients/loss", "gradients", "../etc", 7, "GradientDescent", "nope"]
    opts = render_options(client, DESC)
    assert opts == {"collapse": ("gradients", "GradientDescent"), "show_gradients": True}
    cmd = cli_command("/logs dir", "run 1", client, DESC)
    assert cmd == (
        "flowlog export-graph '/logs dir' --run 'run 1' --show-gradients "
        "--collapse gradients --collapse GradientDescent -o graph.svg"
    )


def test_big_graphs_open_folded_to_a_readable_depth():
    from flowlog import render
    from flowlog.dashboard.graph_model import initial_folds

    nodes = []
    for a in range(12):
        for b in range(6):
            prev = None
            for k in range(10):  # 12 × 6 × 10 = 720 ops in two levels of scopes
                name = f"block{a}/layer{b}/op{k}"
                nodes.append({"name": name, "op": "Add", "inputs": [prev] if prev else []})
                prev = name
    big = {"nodes": nodes}
    folds = initial_folds(big, max_nodes=400)
    assert folds == [f"block{a}/layer{b}" for a in range(12) for b in range(6)]
    assert render.count_visible(big, collapse=folds, show_gradients=True) == 72
    assert initial_folds(DESC) == ["gradients", "GradientDescent"]  # small: machinery only


def test_live_run_extends_the_step_slider(tmp_path, dash_server):
    """A run still being written: the refresh tick extends the watched steps, following the
    newest one when the slider was at the end, and leaves a slider moved back where it is."""
    import json

    from test_security_graph import _dependencies, _post_callback

    import flowlog as fl
    from flowlog.writer import SummaryWriter

    graph = fl.Graph()
    with graph.as_default():
        w = fl.Variable(np.ones(3), name="w")
        loss = fl.reduce_sum(fl.square(w), name="loss")
        train = fl.train.GradientDescentOptimizer(0.1).minimize(loss)
    writer = SummaryWriter(logdir=tmp_path, run_name="live")
    writer.add_graph(graph)
    sess = fl.Session(graph)
    writer.watch(sess, every=1)
    for _ in range(3):
        sess.run(train)
    writer.flush()  # not closed: the run is still "running"
    url = dash_server(tmp_path)
    ticks = tab_gate.ticks("graph")  # REFRESH ticks, passed on while the Graph tab is shown
    (follow,) = [d for d in _dependencies(url) if d["inputs"][0]["id"] == ticks
                 and "graph-steps.data" in d["output"]]  # fmt: skip
    state = {"graph-run.value": "live", "view-tabs.value": "graph",
             "graph-loaded.data": {"run": "live", "focus": None}}  # fmt: skip
    status, text = _post_callback(
        url, follow, {**state, "graph-steps.data": [0], "graph-step.value": 0}
    )
    assert status == 200
    out = json.loads(text)["response"]
    assert out["graph-steps"]["data"] == [0, 1, 2] and out["graph-step"]["value"] == 2
    status, text = _post_callback(
        url, follow, {**state, "graph-steps.data": [0, 1], "graph-step.value": 0}
    )
    assert json.loads(text)["response"]["graph-step"]["value"] == 0
    # nothing new: no update at all
    status, _ = _post_callback(
        url, follow, {**state, "graph-steps.data": [0, 1, 2], "graph-step.value": 2}
    )
    assert status == 204
    writer.close()
    status, _ = _post_callback(
        url, follow, {**state, "graph-steps.data": [0], "graph-step.value": 0}
    )
    assert status == 204  # finished runs are not followed
