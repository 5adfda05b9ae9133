"""Graph construction: names and scopes, default graphs, static shapes, the description."""

from __future__ import annotations

import json

import numpy as np
import pytest

import flowlog as fl
from flowlog.describe import describe_graph, graph_from_description


def test_unique_hierarchical_names_like_tensorflow():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 3), name="x")
        with fl.name_scope("loss"):
            m1 = fl.reduce_mean(x)
            m2 = fl.reduce_mean(x)
        with fl.name_scope("loss") as second:
            m3 = fl.reduce_mean(x)
        with fl.name_scope("loss/"):  # re-enter the first scope exactly
            m4 = fl.reduce_mean(x)
        with fl.name_scope(second):  # the string a scope yields re-enters it
            m5 = fl.reduce_mean(x)
        with fl.name_scope("outer"), fl.name_scope("inner"):
            m6 = fl.reduce_mean(x, name="avg")
            with fl.name_scope(None):
                top = fl.identity(x, name="top")
        named = [fl.constant(1.0, name="k") for _ in range(3)]
    assert [m.name for m in (m1, m2, m3, m4, m5, m6)] == [
        "loss/Mean",
        "loss/Mean_1",
        "loss_1/Mean",
        "loss/Mean_2",
        "loss_1/Mean_1",
        "outer/inner/avg",
    ]
    assert second == "loss_1/"
    assert top.name == "top"
    assert [n.name for n in named] == ["k", "k_1", "k_2"]
    assert m6.scope == "outer/inner" and x.scope == ""
    assert g.get_tensor_by_name("loss/Mean_1") is m2
    assert g.get_tensor_by_name("loss/Mean_1:0") is m2
    with pytest.raises(fl.GraphError, match="no node named 'missing'"):
        g.get_tensor_by_name("missing")


def test_invalid_names_are_rejected():
    g = fl.Graph()
    with g.as_default():
        with pytest.raises(ValueError, match="invalid node name"):
            fl.constant(1.0, name="bad name")
        with pytest.raises(ValueError, match="invalid name scope"), fl.name_scope("a b"):
            pass


def test_default_graph_and_explicit_graphs():
    fl.reset_default_graph()
    a = fl.constant(1.0, name="a")
    assert a.graph is fl.get_default_graph()
    g = fl.Graph()
    with g.as_default() as entered:
        assert entered is g and fl.get_default_graph() is g
        b = fl.constant(2.0, name="a")
        with pytest.raises(fl.GraphError, match="inside"):
            fl.reset_default_graph()
    assert b.graph is g and b.name == "a"  # names are per graph
    assert fl.get_default_graph() is a.graph
    # operators on nodes of another graph build in that graph
    c = b * 2.0
    assert c.graph is g and c in g and c not in a.graph
    with pytest.raises(fl.GraphError, match="different graphs"):
        a + b
    fl.reset_default_graph()
    assert fl.get_default_graph() is not a.graph


def test_operators_and_python_numbers():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(fl.float32, shape=(2,), name="x")
        exprs = {
            "add": 1 + x,
            "sub": 1 - x,
            "mul": x * 2,
            "div": 1 / x,
            "pow": x**2,
            "rpow": 2**x,
            "neg": -x,
            "abs": abs(x),
            "np_left": np.array([1.0, 2.0], np.float32) * x,
        }
        m = fl.placeholder(shape=(2, 2), name="m")
        mm = np.eye(2) @ m
    assert all(e.dtype == np.float32 for e in exprs.values())  # Python numbers adopt x's dtype
    assert exprs["np_left"].op == "Mul" and mm.op == "MatMul"
    sess = fl.Session(graph=g)
    vals = sess.run(exprs, {x: np.array([1.0, 2.0], np.float32)})
    np.testing.assert_allclose(vals["sub"], [0.0, -1.0])
    np.testing.assert_allclose(vals["rpow"], [2.0, 4.0])
    np.testing.assert_allclose(vals["np_left"], [1.0, 4.0])
    with pytest.raises(TypeError, match="truth value"):
        bool(x)
    with pytest.raises(TypeError, match="use fl.greater"):
        if x > 0:  # comparisons are functions (fl.greater); a node is never a bool
            pass


def test_comparisons_and_argmax():
    g = fl.Graph()
    with g.as_default():
        a = fl.constant([1.0, 5.0, 3.0])
        b = fl.constant([2.0, 5.0, 1.0])
        cmp = [
            fl.equal(a, b),
            fl.greater(a, b),
            fl.less(a, b),
            fl.not_equal(a, b),
            fl.greater_equal(a, b),
            fl.less_equal(a, b),
        ]
        am = fl.argmax(fl.reshape(fl.concat([a, b], 0), [2, 3]), axis=1)
    assert all(c.dtype == np.dtype(bool) for c in cmp) and am.dtype == np.int64
    vals = fl.Session(graph=g).run(cmp + [am])
    assert [v.tolist() for v in vals[:6]] == [
        [False, True, False],
        [False, False, True],
        [True, False, False],
        [True, False, True],
        [False, True, True],
        [True, True, False],
    ]
    assert vals[6].tolist() == [1, 1]


def test_static_shape_inference():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 3), name="x")
        u = fl.placeholder(name="unknown")
        w = fl.Variable(np.zeros((3, 4)), name="w")
        assert (x @ w).shape == (None, 4)
        assert (x + fl.constant(np.ones(3))).shape == (None, 3)
        assert (fl.reshape(x, [-1]) + 1.0).shape == (None,)
        assert fl.reshape(w, [2, -1]).shape == (2, 6)
        assert fl.reduce_sum(w, axis=0).shape == (4,)
        assert fl.reduce_mean(x, axis=-1, keepdims=True).shape == (None, 1)
        assert fl.reduce_max(w).shape == ()
        assert fl.transpose(x).shape == (3, None)
        assert fl.concat([w, w], axis=0).shape == (6, 4)
        assert fl.concat([x, x], axis=0).shape == (None, 3)
        assert fl.softmax_cross_entropy_with_logits(x, x).shape == (None,)
        assert u.shape is None and (u * x).shape is None and (u @ w).shape is None
        assert fl.argmax(x, axis=1).shape == (None,)


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (
            lambda a, b, w: fl.matmul(a, b, name="proj"),
            r"MatMul 'scope/proj': incompatible shapes \(2, 3\) @ \(4, 5\).*3 and 4",
        ),
        (lambda a, b, w: a + w, r"Add 'scope/Add': shapes \(2, 3\) and \(3, 2\) do not broadcast"),
        (
            lambda a, b, w: fl.reshape(a, [4, 2]),
            r"Reshape 'scope/Reshape': cannot reshape \(2, 3\) \(6 elements\) into \(4, 2\)",
        ),
        (lambda a, b, w: fl.reduce_sum(a, axis=2), r"Sum 'scope/Sum': axis 2 is out of range"),
        (lambda a, b, w: fl.concat([a, b], axis=0), r"Concat 'scope/Concat': dimension 1 differs"),
        (lambda a, b, w: fl.matmul(fl.reduce_sum(a, axis=0), b), r"need rank >= 2"),
        (lambda a, b, w: fl.transpose(a, [0, 0]), r"not a permutation"),
        (lambda a, b, w: fl.where(a, a, a), r"condition must have dtype bool"),
    ],
)
def test_incompatible_static_shapes_raise_naming_the_node(build, pattern):
    g = fl.Graph()
    with g.as_default():
        a = fl.constant(np.ones((2, 3)), name="a")
        b = fl.constant(np.ones((4, 5)), name="b")
        w = fl.constant(np.ones((3, 2)), name="w")
        n = len(g.nodes)
        with fl.name_scope("scope"), pytest.raises(fl.ShapeError, match=pattern) as info:
            build(a, b, w)
    assert "(inputs: '" in str(info.value)  # each input's name, shape and dtype
    assert all(node.op == "Const" or node.name.startswith("scope") for node in g.nodes[n:])


def test_constant_and_placeholder_validation():
    g = fl.Graph()
    with g.as_default():
        assert fl.constant(3).dtype == np.int64
        assert fl.constant(2.0, shape=(2, 2)).shape == (2, 2)
        with pytest.raises(ValueError, match="does not fit"):
            fl.constant([1.0, 2.0], shape=(3,))
        with pytest.raises(TypeError, match="unsupported dtype"):
            fl.constant("text")
        with pytest.raises(TypeError, match="first argument is the dtype"):
            fl.placeholder((None, 3))
        with pytest.raises(TypeError, match="initial value must be array-like"):
            fl.Variable(fl.constant(1.0), name="v")
        with pytest.raises(TypeError, match="dtype <U"):
            fl.Variable(["a"], name="v")


def build_model():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 3), name="x")
        y = fl.placeholder(shape=(None, 1), name="y")
        with fl.name_scope("dense"):
            w = fl.Variable(np.zeros((3, 1)), name="w")
            b = fl.Variable(np.zeros(1), name="b")
            pred = x @ w + b
        big = fl.constant(np.arange(20.0), name="big")
        odd = fl.constant([np.nan, np.inf, -np.inf, 1.0], name="odd")
        with fl.name_scope("loss"):
            loss = fl.reduce_mean(fl.square(pred - y)) + fl.reduce_sum(big) * 0.0
        fl.train.AdamOptimizer(0.01).minimize(loss)
    return g, odd


def test_description_matches_contract_and_is_strict_json():
    g, odd = build_model()
    desc = describe_graph(g)
    text = json.dumps(desc, allow_nan=False)  # strict JSON: no NaN/Infinity literals
    assert json.loads(text) == desc
    assert desc["format"] == "flowlog.graph/1"
    nodes = {n["name"]: n for n in desc["nodes"]}
    assert [n["name"] for n in desc["nodes"]] == [n.name for n in g.nodes]  # creation order
    for n in desc["nodes"]:
        assert set(n) == {"name", "op", "inputs", "scope", "shape", "dtype", "kind", "attrs"}
        assert n["name"] == (n["scope"] + "/" if n["scope"] else "") + n["name"].split("/")[-1]
        assert all(i in nodes for i in n["inputs"])
    assert nodes["x"]["kind"] == "placeholder" and nodes["x"]["shape"] == [None, 3]
    assert nodes["dense/w"]["kind"] == "variable" and nodes["dense/w"]["attrs"] == {
        "trainable": True
    }
    assert nodes["loss/Mean"]["attrs"] == {"axis": None, "keepdims": False}
    assert nodes["loss/Mean"]["inputs"] == ["loss/Square"] and nodes["loss/Mean"]["scope"] == "loss"
    assert "value" not in nodes["big"]["attrs"]  # more than 16 elements
    assert nodes["odd"]["attrs"]["value"] == ["NaN", "Infinity", "-Infinity", 1.0]
    kinds = {n["kind"] for n in desc["nodes"]}
    assert kinds == {"op", "variable", "placeholder", "constant", "gradient", "optimizer"}
    assert all(n["name"].startswith("gradients/") for n in desc["nodes"] if n["kind"] == "gradient")
    assert all(n["name"].startswith("Adam") for n in desc["nodes"] if n["kind"] == "optimizer")
    assert nodes["Adam/dense/w/m"]["kind"] == "variable"
    assert nodes["Adam/dense/w/m"]["attrs"] == {"trainable": False}
    assert desc["trainable"] == ["dense/w", "dense/b"]
    assert set(desc["gradient_of"]) == {"dense/w", "dense/b"}
    assert all(v in nodes and v.startswith("gradients/") for v in desc["gradient_of"].values())


def test_description_is_deterministic_and_round_trips():
    d1, d2 = describe_graph(build_model()[0]), describe_graph(build_model()[0])
    assert json.dumps(d1, sort_keys=True) == json.dumps(d2, sort_keys=True)
    rebuilt = graph_from_description(json.loads(json.dumps(d1)))
    assert describe_graph(rebuilt) == d1
    assert rebuilt.display_only
    assert [v.name for v in rebuilt.trainable_variables()] == ["dense/w", "dense/b"]
    assert rebuilt.get_tensor_by_name("loss/Mean").inputs[0].name == "loss/Square"
    with pytest.raises(fl.GraphError, match="display-only"):
        fl.Session(graph=rebuilt)
    with pytest.raises(fl.GraphError, match="display-only"):
        rebuilt.get_tensor_by_name("x") * 2.0


def test_minimal_and_bad_descriptions():
    minimal = {
        "nodes": [
            {"name": "b", "op": "Relu", "inputs": ["a"]},
            {"name": "a", "op": "Input", "inputs": []},
        ]
    }
    g = graph_from_description(minimal)
    assert g.get_tensor_by_name("b").inputs == (g.get_tensor_by_name("a"),)
    full = describe_graph(g)
    assert full["nodes"][0] == {
        "name": "b",
        "op": "Relu",
        "inputs": ["a"],
        "scope": "",
        "shape": None,
        "dtype": None,
        "kind": "op",
        "attrs": {},
    }
    with pytest.raises(ValueError, match="inputs not in the description: \\['zz'\\]"):
        graph_from_description({"nodes": [{"name": "b", "op": "Relu", "inputs": ["zz"]}]})
    with pytest.raises(ValueError, match="has no 'op'"):
        graph_from_description({"nodes": [{"name": "b", "inputs": []}]})
    with pytest.raises(ValueError, match="appears twice"):
        graph_from_description({"nodes": [{"name": "b", "op": "X", "inputs": []}] * 2})
    with pytest.raises(ValueError, match="unsupported graph description format"):
        graph_from_description({"format": "other/9", "nodes": []})
    with pytest.raises(ValueError, match="unknown kind"):
        graph_from_description({"nodes": [{"name": "b", "op": "X", "inputs": [], "kind": "?"}]})
