"""flowlog.render against the real `dot`: produced SVG is parsed and checked element by element."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from flowlog import render
from flowlog.render import (
    NAN_COLOR,
    ColorScale,
    DotNotFound,
    auto_depth,
    color_scale,
    count_visible,
    default_collapse,
    feeders,
    fold,
    resolve,
    scopes,
    to_dot,
)

SVG = "{http://www.w3.org/2000/svg}"


def node(name, op, inputs=(), kind=None, shape=None, scope=None):
    nd = {"name": name, "op": op, "inputs": list(inputs)}
    if kind is not None:
        nd["kind"] = kind
    if shape is not None:
        nd["shape"] = shape
    nd["scope"] = name.rpartition("/")[0] if scope is None else scope
    return nd


def mlp_desc():
    """A small training graph in contract-1 form, every kind present."""
    return {
        "format": "flowlog.graph/1",
        "nodes": [
            node("x", "Placeholder", kind="placeholder", shape=[None, 784]),
            node("layer1/w", "Variable", kind="variable", shape=[784, 10]),
            node("layer1/MatMul", "MatMul", ["x", "layer1/w"], "op", [None, 10]),
            node("loss/c", "Const", kind="constant", shape=[]),
            node("loss/Mean", "Mean", ["layer1/MatMul", "loss/c"], "op", []),
            node(
                "gradients/loss/Mean_grad",
                "MeanGrad",
                ["loss/Mean", "layer1/MatMul"],
                "gradient",
                [None, 10],
            ),
            node(
                "gradients/layer1/MatMul_grad",
                "MatMulGrad",
                ["gradients/loss/Mean_grad", "x"],
                "gradient",
                [784, 10],
            ),
            node(
                "GradientDescent/update_w",
                "AssignSub",
                ["layer1/w", "gradients/layer1/MatMul_grad"],
                "optimizer",
                [784, 10],
            ),
        ],
    }


def svg_of(desc, **kw) -> ET.Element:
    return ET.fromstring(render.render(desc, "svg", **kw))


def groups(root, cls) -> dict[str, ET.Element]:
    """SVG <g> elements whose class list contains ``cls``, keyed by their id."""
    return {g.get("id"): g for g in root.iter(SVG + "g") if cls in (g.get("class") or "").split()}


def title(g) -> str:
    return g.find(SVG + "title").text


def texts(g) -> list[str]:
    return [t.text or "" for t in g.iter(SVG + "text")]


def edges(root) -> dict[str, list[str]]:
    """Edge title ``src->dst`` → label texts."""
    out: dict[str, list[str]] = {}
    for g in groups(root, "edge").values():
        out.setdefault(title(g), []).extend(texts(g))
    return out


def fill(g) -> str:
    shape = next(e for e in g if e.tag in (SVG + "polygon", SVG + "ellipse", SVG + "path"))
    return shape.get("fill")


# --------------------------------------------------------------------------- structure


def test_every_node_has_id_class_title_and_label():
    desc = mlp_desc()
    root = svg_of(desc, show_gradients=True)
    nodes = groups(root, "fl-node")
    assert set(nodes) == {"node:" + nd["name"] for nd in desc["nodes"]}
    for nd in desc["nodes"]:
        g = nodes["node:" + nd["name"]]
        assert title(g) == nd["name"]
        assert f"fl-kind-{nd['kind']}" in g.get("class").split()
        assert "node" in g.get("class").split()
    assert texts(nodes["node:layer1/w"]) == ["w", "Variable"]
    assert texts(nodes["node:loss/Mean"]) == ["Mean"]  # short name == op type: shown once


def test_kinds_get_distinct_shapes_and_fills():
    root = svg_of(mlp_desc(), show_gradients=True)
    nodes = groups(root, "fl-node")
    looks = {}
    for g in nodes.values():
        kind = next(c for c in g.get("class").split() if c.startswith("fl-kind-"))
        first = next(e for e in g if e.tag != SVG + "title")
        looks.setdefault(kind, set()).add((first.tag, fill(g)))
    assert len(looks) == 6
    assert all(len(v) == 1 for v in looks.values())  # one look per kind
    assert len({next(iter(v)) for v in looks.values()}) == 6  # and all six differ


def test_clusters_are_labelled_with_full_scope_path():
    root = svg_of(mlp_desc(), show_gradients=True)
    clusters = groups(root, "fl-cluster")
    assert set(clusters) == {
        "cluster:layer1",
        "cluster:loss",
        "cluster:gradients",
        "cluster:gradients/loss",
        "cluster:gradients/layer1",
        "cluster:GradientDescent",
    }
    assert texts(clusters["cluster:gradients/layer1"]) == ["gradients/layer1"]
    # nesting: the gradients/loss cluster is drawn inside the gradients cluster's box
    dot = to_dot(mlp_desc(), show_gradients=True)
    outer = dot.index('subgraph "cluster:gradients" {')
    inner = dot.index('subgraph "cluster:gradients/loss" {')
    assert outer < inner < dot.index("\n  }", outer)


def test_edges_carry_static_shapes():
    e = edges(svg_of(mlp_desc(), show_gradients=True))
    assert e["x->layer1/MatMul"] == ["?×784"]
    assert e["layer1/w->layer1/MatMul"] == ["784×10"]
    assert e["loss/c->loss/Mean"] == ["scalar"]
    # gradient → gradient edges are laid out reversed but still drawn from input to consumer
    assert "gradients/layer1/MatMul_grad->gradients/loss/Mean_grad" in e
    assert 'dir="back"' in to_dot(mlp_desc(), show_gradients=True)


def test_minimal_description_renders_with_inferred_kinds():
    desc = {
        "nodes": [
            {"name": "in", "op": "Placeholder", "inputs": []},
            {"name": "net/w", "op": "Variable", "inputs": []},
            {"name": "net/y", "op": "MatMul", "inputs": ["in", "net/w"]},
            {"name": "gradients/net/y_grad", "op": "MatMulGrad", "inputs": ["net/y"]},
        ]
    }
    root = svg_of(desc, show_gradients=True)
    nodes = groups(root, "fl-node")
    assert "fl-kind-placeholder" in nodes["node:in"].get("class")
    assert "fl-kind-variable" in nodes["node:net/w"].get("class")
    assert "fl-kind-gradient" in nodes["node:gradients/net/y_grad"].get("class")
    assert "cluster:net" in groups(root, "fl-cluster")
    assert default_collapse(desc) == ["gradients"]


# --------------------------------------------------------------------------- folding


def test_gradients_and_optimizer_fold_by_default():
    root = svg_of(mlp_desc())
    nodes = groups(root, "fl-node")
    assert not any(k.startswith("node:gradients/") for k in nodes)
    folded = groups(root, "fl-scope")
    assert set(folded) == {"scope:gradients", "scope:GradientDescent"}
    assert title(folded["scope:gradients"]) == "gradients"
    assert texts(folded["scope:gradients"]) == ["gradients", "2 ops"]
    assert texts(folded["scope:GradientDescent"]) == ["GradientDescent", "1 op"]
    e = edges(root)
    assert "gradients->GradientDescent" in e and "layer1/w->GradientDescent" in e


def test_default_collapse_finds_outermost_machinery_scope():
    desc = {
        "nodes": [
            node("train/x", "Placeholder", kind="placeholder"),
            node("train/gradients/a/g", "G", ["train/x"], "gradient"),
            node("train/gradients/b/g", "G", ["train/gradients/a/g"], "gradient"),
            node("Adam/slots/m", "Variable", kind="optimizer"),
            node("Adam/update", "Apply", ["Adam/slots/m", "train/gradients/b/g"], "optimizer"),
        ]
    }
    # "train" also holds the model, so only train/gradients folds
    assert default_collapse(desc) == ["train/gradients", "Adam"]


def test_merged_edges_are_labelled_with_counts():
    desc = {
        "nodes": [
            node("enc/a", "Placeholder"),
            node("enc/b", "Relu", ["enc/a"]),
            node("enc/c", "Relu", ["enc/a"]),
            node("dec/out", "AddN", ["enc/a", "enc/b", "enc/c"]),
        ]
    }
    e = edges(svg_of(desc, collapse=["enc"]))
    assert e == {"enc->dec/out": ["3 edges"]}
    e = edges(svg_of(desc))
    assert len(e) == 5 and "enc/a->dec/out" in e


def test_depth_folding_and_expand():
    desc = {
        "nodes": [
            node("a/b/c/x", "Placeholder"),
            node("a/b/c/y", "Relu", ["a/b/c/x"]),
            node("a/b/z", "Relu", ["a/b/c/y"]),
            node("a/q", "Relu", ["a/b/z"]),
            node("top", "Identity", ["a/q"]),
        ]
    }
    root = svg_of(desc, depth=0)
    assert set(groups(root, "fl-scope")) == {"scope:a"}
    assert texts(groups(root, "fl-scope")["scope:a"]) == ["a", "4 ops"]
    assert set(groups(root, "fl-node")) == {"node:top"}

    root = svg_of(desc, depth=1)
    assert set(groups(root, "fl-scope")) == {"scope:a/b"}
    assert set(groups(root, "fl-cluster")) == {"cluster:a"}
    assert texts(groups(root, "fl-scope")["scope:a/b"]) == ["b", "3 ops"]

    assert count_visible(desc) == 5
    assert count_visible(desc, depth=1) == 3  # top, a/q, scope a/b
    assert fold(desc, depth=1)["a/b/c/x"] == "scope:a/b"
    assert fold(desc, depth=1, expand=["a/b"])["a/b/c/x"] == "scope:a/b/c"
    assert fold(desc, depth=0, expand=["a/b/c"])["a/b/c/x"] == "node:a/b/c/x"
    assert fold(desc, depth=5, collapse=["a"])["a/q"] == "scope:a"


def test_folded_scope_named_like_a_node_gets_distinct_id():
    desc = {"nodes": [node("loss", "Placeholder"), node("loss/Mean", "Mean", ["loss"])]}
    root = svg_of(desc, collapse=["loss"])
    folded = groups(root, "fl-scope")["scope:loss"]
    assert title(folded) == "loss/"
    assert title(groups(root, "fl-node")["node:loss"]) == "loss"


def test_hub_edges_are_bundled_per_cluster():
    nodes = []
    for blk in range(3):
        for i in range(6):
            nodes.append(node(f"b{blk}/n{i}", "Relu", [f"b{blk}/n{i - 1}"] if i else []))
    hub_inputs = [nd["name"] for nd in nodes]
    nodes.append(node("gradients/g", "G", hub_inputs, "gradient"))
    desc = {"nodes": nodes}
    e = edges(svg_of(desc, max_fan=4))
    into_hub = {k: v for k, v in e.items() if k.endswith("->gradients")}
    assert len(into_hub) == 3  # one bundle per block cluster instead of 18 edges
    assert sorted(v[0] for v in into_hub.values()) == ["6 edges"] * 3
    assert 'ltail="cluster:b0"' in to_dot(desc, max_fan=4)
    unbundled = edges(svg_of(desc, max_fan=None))
    assert sum(k.endswith("->gradients") for k in unbundled) == 18


def test_auto_depth_picks_deepest_fitting_fold():
    desc = {
        "nodes": [
            node(f"s{i}/t{j}/n{k}", "Relu") for i in range(4) for j in range(3) for k in range(5)
        ]
    }
    assert auto_depth(desc, max_nodes=1000) is None
    assert auto_depth(desc, max_nodes=12) == 1  # 4×3 folded t-scopes
    assert auto_depth(desc, max_nodes=11) == 0
    assert auto_depth(desc, max_nodes=2) == 0


# --------------------------------------------------------------------------- helpers


def test_scopes_tree_counts():
    info = {s.path: s for s in scopes(mlp_desc())}
    assert info["gradients"].count == 2 and info["gradients"].direct == 0
    assert info["gradients/loss"].parent == "gradients" and info["gradients/loss"].level == 2
    assert info["layer1"].kinds == {"op": 1, "variable": 1}
    assert list(info) == [
        "layer1",
        "loss",
        "gradients",
        "gradients/loss",
        "gradients/layer1",
        "GradientDescent",
    ]


def test_feeders_and_resolve():
    desc = mlp_desc()
    assert feeders(desc, "loss/Mean") == ["x", "layer1/w", "layer1/MatMul", "loss/c"]
    assert feeders(desc, "x") == []
    with pytest.raises(KeyError, match="nope"):
        feeders(desc, "nope")
    assert resolve(desc, "node:x") == ["x"]
    assert resolve(desc, "scope:gradients") == [
        "gradients/loss/Mean_grad",
        "gradients/layer1/MatMul_grad",
    ]
    assert resolve(desc, "cluster:layer1") == ["layer1/w", "layer1/MatMul"]
    with pytest.raises(ValueError, match="not a graph element id"):
        resolve(desc, "edge3")


# --------------------------------------------------------------------------- escaping

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    'say "hi"',
    "R&D &amp; co",
    "C:\\temp\\N\\G",
    "trailing\\",
    'bs-quote\\"x',
    "line\nbreak",
    "ünïcødé ∑ 🚀",
    "a--b",
    "node",
    "<b>/inner",
]


def test_hostile_names_render_as_text():
    desc = {"nodes": []}
    prev = []
    for nm in HOSTILE:
        desc["nodes"].append(node(nm, "Relu", prev))
        prev = [nm]
    svg = render.render(desc, "svg", show_gradients=True)
    root = ET.fromstring(svg)  # raises if anything broke the XML
    allowed = {"svg", "g", "title", "text", "polygon", "ellipse", "path", "polyline", "defs"}
    tags = {el.tag.removeprefix(SVG) for el in root.iter()}
    assert tags <= allowed, tags - allowed
    nodes = groups(root, "fl-node")
    for nm in HOSTILE:
        g = nodes["node:" + nm]
        assert title(g) == nm
        short = nm.rpartition("/")[2] if "/" in nm else nm
        assert "\n".join(texts(g)) == short + "\nRelu"
    assert "cluster:<b>" in groups(root, "fl-cluster")
    assert b"<img" not in svg and b"<b>" not in svg


def test_hostile_value_label_and_scope_in_legend():
    desc = {"nodes": [node("<script>/x", "Relu")]}
    root = svg_of(desc, values={"<script>/x": 1.0}, value_label="<script>alert(1)</script>")
    assert not any(el.tag == SVG + "script" for el in root.iter())
    legend_text = " ".join(texts(groups(root, "fl-legend")["fl-legend-table"]))
    assert "<script>alert(1)</script>" in legend_text


# --------------------------------------------------------------------------- overlays


def test_value_overlay_colours_nodes_on_the_scale():
    desc = mlp_desc()
    vals = {"x": 1.0, "layer1/w": 3.0, "loss/Mean": float("nan"), "gradients/loss/Mean_grad": 2.0}
    root = svg_of(desc, values=vals, value_label="grad norm")
    nodes = groups(root, "fl-node")
    scale = color_scale(vals)
    assert (scale.vmin, scale.vmax) == (1.0, 3.0)
    assert fill(nodes["node:x"]) == scale.color(1.0) == "#440154"
    assert fill(nodes["node:layer1/w"]) == scale.color(3.0) == "#fde725"
    assert fill(nodes["node:loss/Mean"]) == NAN_COLOR
    assert fill(nodes["node:layer1/MatMul"]) == "#d3d6db"  # no value: grey
    assert texts(nodes["node:loss/Mean"])[-1] == "NaN"
    scope = groups(root, "fl-scope")["scope:gradients"]
    assert fill(scope) == scale.color(2.0) and texts(scope)[-1] == "max 2"
    legend = " ".join(texts(groups(root, "fl-legend")["fl-legend-table"]))
    assert "grad norm" in legend and "NaN / Inf" in legend
    plain = groups(svg_of(desc), "fl-node")
    assert fill(plain["node:x"]) != fill(nodes["node:x"])


def test_folded_scope_with_a_nan_inside_shows_nan():
    vals = {"gradients/loss/Mean_grad": 5.0, "gradients/layer1/MatMul_grad": float("inf")}
    scope = groups(svg_of(mlp_desc(), values=vals), "fl-scope")["scope:gradients"]
    assert fill(scope) == NAN_COLOR and texts(scope)[-1] == "max +Inf"


def test_log_scale():
    s = color_scale({"a": 1e-4, "b": 1e-2, "c": 1.0, "d": 0.0, "e": -3.0}, log=True)
    assert (s.vmin, s.vmax) == (1e-4, 1.0)
    assert s.position(1e-2) == pytest.approx(0.5)
    assert s.position(0.0) == 0.0 and s.position(-3) == 0.0
    lin = color_scale([1e-4, 1e-2, 1.0])
    assert lin.position(1e-2) == pytest.approx(0.0099, abs=1e-3)
    assert "log scale" in " ".join(
        texts(
            groups(
                svg_of({"nodes": [node("a", "Relu")]}, values={"a": 0.5}, value_log=True),
                "fl-legend",
            )["fl-legend-table"]
        )
    )


def test_colour_scale_is_nan_safe_and_monotonic():
    s = color_scale([float("nan"), float("inf"), 2.0, 4.0])
    assert (s.vmin, s.vmax) == (2.0, 4.0)
    assert s.color(float("nan")) == s.color(float("-inf")) == NAN_COLOR
    assert math.isnan(s.position(float("nan")))
    pos = [s.position(v) for v in (0, 2, 2.5, 3, 3.5, 4, 9)]
    assert pos == sorted(pos) and pos[0] == 0.0 and pos[-1] == 1.0
    assert color_scale([float("nan")]).color(1.0).startswith("#")  # all-NaN: still a colour
    assert ColorScale(5.0, 5.0).position(5.0) == 0.5
    assert s.text_color(2.0) == "#ffffff" and s.text_color(4.0) == "#000000"
    assert [v for v, _ in s.stops(3)] == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="numbers"):
        color_scale(["high"])


def test_marked_and_highlighted_nodes():
    desc = mlp_desc()
    marked = ["loss/Mean", *feeders(desc, "loss/Mean")]
    root = svg_of(desc, marked=marked, highlight=["gradients/loss/Mean_grad"])
    nodes = groups(root, "fl-node")
    for nm in marked:
        g = nodes["node:" + nm]
        assert "fl-marked" in g.get("class").split()
        strokes = [e.get("stroke") for e in g if e.tag != SVG + "title" and e.get("stroke")]
        assert strokes.count(render.MARK_COLOR) >= 2  # doubled outline
    # a highlighted node hidden in a folded scope highlights the scope
    assert "fl-highlight" in groups(root, "fl-scope")["scope:gradients"].get("class")
    assert all("fl-highlight" not in g.get("class") for g in nodes.values())
    hl = groups(svg_of(desc, highlight=["x"]), "fl-node")["node:x"]
    assert "fl-highlight" in hl.get("class").split()
    assert render.HIGHLIGHT_COLOR in [e.get("stroke") for e in hl]
    legend = " ".join(texts(groups(root, "fl-legend")["fl-legend-table"]))
    assert "marked" in legend and "highlighted" in legend


def test_legend_toggle():
    assert "fl-legend-table" in groups(svg_of(mlp_desc()), "fl-legend")
    assert groups(svg_of(mlp_desc(), legend=False), "fl-legend") == {}


# --------------------------------------------------------------------------- output


def test_dot_text_is_deterministic():
    a = to_dot(mlp_desc(), values={"x": 1.0}, marked=["x"])
    b = to_dot(json.loads(json.dumps(mlp_desc())), values={"x": 1.0}, marked=["x"])
    assert a == b
    assert render.render(mlp_desc(), "dot", values={"x": 1.0}, marked=["x"]) == a.encode()
    assert to_dot(mlp_desc()) != a


def test_png_and_pdf():
    assert render.render(mlp_desc(), "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert render.render(mlp_desc(), "pdf").startswith(b"%PDF-")
    with pytest.raises(ValueError, match="unknown output format 'gif'"):
        render.render(mlp_desc(), "gif")


def test_missing_dot_raises_with_install_hint(tmp_path):
    code = (
        "from flowlog import render\n"
        "try:\n"
        "    render.render({'nodes': [{'name': 'a', 'op': 'Relu', 'inputs': []}]})\n"
        "except render.DotNotFound as e:\n"
        "    print('DotNotFound:', e)\n"
    )
    env = dict(os.environ, PATH=str(tmp_path))  # a PATH without dot's directory
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("DotNotFound:")
    assert "apt-get install graphviz" in out.stdout
    assert issubclass(DotNotFound, RuntimeError)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("desc", "kwargs", "message"),
    [
        ([], {}, "must be a dict"),
        ({"nodes": "x"}, {}, "'nodes' list"),
        ({"format": "tf.GraphDef", "nodes": []}, {}, "unsupported graph description format"),
        ({"nodes": [{"op": "Relu", "inputs": []}]}, {}, "#0 has no 'name'"),
        ({"nodes": [{"name": "a", "inputs": []}]}, {}, "'a' has no 'op'"),
        ({"nodes": [node("a", "R"), node("a", "R")]}, {}, "'a' appears more than once"),
        ({"nodes": [node("a", "R", ["ghost"])]}, {}, "input 'ghost'"),
        ({"nodes": [node("a", "R", kind="tensor")]}, {}, "unknown kind 'tensor'"),
        ({"nodes": [node("a", "R", shape=[1.5])]}, {}, "'shape' must be a list"),
        ({"nodes": [node("s/a", "R")]}, {"collapse": ["t"]}, "no scope 't'.*scopes: s"),
        ({"nodes": [node("s/a", "R")]}, {"depth": -1}, "depth must be"),
        ({"nodes": [node("s/a", "R")]}, {"values": {"b": 1.0}}, "values: 'b'"),
        ({"nodes": [node("s/a", "R")]}, {"values": {"s/a": "hi"}}, "non-numeric value 'hi'"),
        ({"nodes": [node("s/a", "R")]}, {"marked": ["zz"]}, "marked: 'zz'"),
        ({"nodes": [node("s/a", "R")]}, {"rankdir": "XY"}, "rankdir"),
    ],
)
def test_bad_input_names_the_problem(desc, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        to_dot(copy.deepcopy(desc), **kwargs)


# --------------------------------------------------------------------------- engine graph


def test_real_engine_graph_renders():
    fl = pytest.importorskip("flowlog.api")
    from flowlog import describe
    from flowlog.graph import Graph, name_scope
    from flowlog.train import GradientDescentOptimizer

    g = Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 4), name="x")
        with name_scope("dense"):
            w = fl.Variable([[0.1] * 3] * 4, name="w")
            h = fl.relu(fl.matmul(x, w))
        with name_scope("loss"):
            loss = fl.reduce_mean(fl.square(h))
        GradientDescentOptimizer(0.1).minimize(loss)
    desc = describe.describe_graph(g)
    root = svg_of(desc)
    assert "node:dense/w" in groups(root, "fl-node")
    assert "cluster:dense" in groups(root, "fl-cluster")
    assert any(k.startswith("scope:gradients") for k in groups(root, "fl-scope"))
    assert any(v == ["?×4"] for v in edges(root).values())
    full = svg_of(desc, show_gradients=True)
    assert len(groups(full, "fl-node")) == len(desc["nodes"])


def test_big_graphs_get_the_fast_layout():
    small = {"nodes": [node(f"s/n{i}", "Relu") for i in range(10)]}
    big = {"nodes": [node(f"s{i % 7}/n{i}", "Relu") for i in range(render.LINE_THRESHOLD + 1)]}
    assert "nslimit" not in to_dot(small) and "splines" not in to_dot(small)
    text = to_dot(big)
    assert "nslimit=0.2" in text and "splines=line" in text
    assert "nslimit" not in to_dot(big, fast=False)
    assert "nslimit=0.2" in to_dot(small, fast=True)
    # still a valid graph for dot
    assert len(groups(svg_of(big, legend=False), "fl-node")) == render.LINE_THRESHOLD + 1


def test_legend_without_finite_overlay_values_shows_only_the_nan_entry():
    desc = {"nodes": [{"name": "a", "op": "Variable", "inputs": []}]}
    dot_text = render.to_dot(desc, values={"a": float("nan")}, value_label="grad_norm")
    assert "NaN / Inf" in dot_text
    assert ">0<" not in dot_text and ">1<" not in dot_text  # no degenerate numeric stops
    one = render.to_dot(desc, values={"a": 2.5}, value_label="grad_norm")
    assert one.count(">2.5<") == 1


def test_an_optimizers_slot_and_step_variables_fold_with_it():
    """Adam keeps its state in non-trainable variables of its own scope (kind "variable", as
    the session needs): the scope still folds whole; a layer's non-trainable variable does not
    make the layer machinery."""
    desc = {
        "nodes": [
            node("dense/kernel", "Variable", kind="variable"),
            node("dense/moving_mean", "Variable", kind="variable"),
            node("dense/y", "MatMul", ["dense/kernel"]),
            node("Adam/step", "Variable", kind="variable"),
            node("Adam/dense/kernel/m", "Variable", kind="variable"),
            node("Adam/update", "ApplyAdam", ["dense/kernel", "Adam/dense/kernel/m"], "optimizer"),
        ],
        "trainable": ["dense/kernel"],
    }
    assert default_collapse(desc) == ["Adam"]
    # without the trainable list nothing says the slots are state: Adam stays open
    assert default_collapse({"nodes": desc["nodes"]}) == []
