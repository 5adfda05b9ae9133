"""Broadcasting gradients are summed back centrally (flowlog.gradients), not by each op."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
from conftest import numeric_grads

import flowlog as fl

OPS_DIR = pathlib.Path(fl.__file__).parent / "ops"
rng = np.random.default_rng(7)


def positive(size):
    return rng.uniform(0.5, 2.0, size=size)


def away_from_zero(size):
    return positive(size) * rng.choice([-1.0, 1.0], size=size)


OPS = {
    "add": (fl.add, rng.normal, rng.normal),
    "subtract": (fl.subtract, rng.normal, rng.normal),
    "multiply": (fl.multiply, rng.normal, rng.normal),
    "divide": (fl.divide, rng.normal, away_from_zero),
    "pow": (fl.pow, positive, rng.normal),
    "maximum": (fl.maximum, rng.normal, rng.normal),
    "minimum": (fl.minimum, rng.normal, rng.normal),
    "where": (
        lambda a, b: fl.where(fl.greater(a, b), a * 2.0, b),
        rng.normal,
        rng.normal,
    ),
}
# (value shapes, static placeholder shapes): None marks a batch dimension known only at run time
CASES = {
    "col_row": (((3, 1), (1, 4)), ((3, 1), (1, 4))),
    "matrix_vector": (((5, 3), (3,)), ((5, 3), (3,))),
    "vector_matrix": (((3,), (5, 3)), ((3,), (5, 3))),
    "scalar_matrix": (((), (2, 3)), ((), (2, 3))),
    "matrix_scalar": (((2, 3), ()), ((2, 3), ())),
    "batch_vector": (((5, 3), (3,)), ((None, 3), (3,))),
    "batch_batch": (((5, 3), (1, 3)), ((None, 3), (None, 3))),
    "batch_col_row": (((4, 1), (1, 3)), ((None, 1), (1, 3))),
    "unknown_rank": (((2, 3), (3,)), (None, (3,))),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", sorted(OPS))
def test_broadcasting_gradients_match_finite_differences(name, case):
    fn, da, db = OPS[name]
    (sa, sb), static = CASES[case]
    a, b = np.asarray(da(size=sa)), np.asarray(db(size=sb))
    analytic, numeric, _ = numeric_grads(fn, [a, b], static)
    for i, (got, want, value) in enumerate(zip(analytic, numeric, (a, b), strict=True)):
        got = np.asarray(got)
        assert got.shape == value.shape, f"input {i}: gradient shape {got.shape}"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"input {i}")


def test_losses_and_batched_matmul_with_a_none_batch_dimension():
    labels = rng.uniform(size=(1, 4))
    logits = 2 * rng.normal(size=(5, 4))
    for loss in (fl.sigmoid_cross_entropy_with_logits, fl.softmax_cross_entropy_with_logits):
        analytic, numeric, _ = numeric_grads(
            lambda z, x, f=loss: f(labels=z, logits=x), [labels, logits], [(1, 4), (None, 4)]
        )
        for got, want in zip(analytic, numeric, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    a, b = rng.normal(size=(1, 3, 4)), rng.normal(size=(2, 4, 5))
    analytic, numeric, _ = numeric_grads(fl.matmul, [a, b], [(None, 3, 4), (2, 4, 5)])
    for got, want in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _reductions(graph):
    return [n for n in graph.nodes if n.op in ("Unbroadcast", "UnbroadcastLike")]


def test_reduction_nodes_only_where_static_shapes_allow_broadcasting():
    """Statically matching shapes cost no node (no per-step work); the rest get one each."""
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 3), name="x")
        b = fl.Variable(np.zeros(3), name="b")
        w = fl.Variable(np.zeros((3, 2)), name="w")
        m = fl.Variable(np.zeros((4, 3)), name="m")
        y = fl.placeholder(shape=(None, 3), name="y")
        gx, gb = fl.gradients(fl.reduce_sum(x + b), [x, b])
        (gw,) = fl.gradients(fl.reduce_sum(fl.relu(x @ w)), [w])
        (gm,) = fl.gradients(fl.reduce_sum(m * m - 1.0), [m])
        gx2, gy = fl.gradients(fl.reduce_sum(x * y), [x, y])
    assert gx.op != "Unbroadcast" and gx.op != "UnbroadcastLike"  # (None, 3) cannot be broadcast
    assert gb.op == "Unbroadcast" and gb.attrs["shape"] == [3]
    assert gw.op == "MatMul" and gm.op != "Unbroadcast"
    # two unknown batch dimensions: either side may be 1 at run time
    assert gx2.op == gy.op == "UnbroadcastLike"
    assert len(_reductions(g)) == 3
    sess = fl.Session(graph=g)
    feed = {x: np.ones((2, 3)), y: np.full((1, 3), 2.0)}
    np.testing.assert_allclose(sess.run(gx2, feed), np.full((2, 3), 2.0))
    np.testing.assert_allclose(sess.run(gy, feed), np.full((1, 3), 2.0))


def test_gradients_of_a_graph_that_is_not_the_default():
    g = fl.Graph()
    with g.as_default():
        a = fl.placeholder(shape=(2, 1), name="a")
        b = fl.Variable(np.array([0.5, -1.0, 2.0]), name="b")
        loss = fl.reduce_sum(fl.maximum(a, b))
    ga, gb = fl.gradients(loss, [a, b])  # builds a "zero" constant: it must go into g
    assert ga.graph is g and all(n.graph is g for n in g.nodes)
    values = fl.Session(graph=g).run([ga, gb], {a: np.array([[0.0], [1.0]])})
    np.testing.assert_allclose(values[0], [[1.0], [2.0]])
    np.testing.assert_allclose(values[1], [1.0, 0.0, 2.0])


def _names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.alias):
            yield node.name


def test_no_op_module_unbroadcasts_by_itself():
    """Only flowlog.gradients sums gradients back; ops state their own maths."""
    modules = sorted(OPS_DIR.glob("*.py"))
    assert {p.stem for p in modules} >= {"core", "math", "nn", "array", "reduce", "state"}
    forbidden = {"unbroadcast", "Unbroadcast", "UnbroadcastLike", "_sum_to_shape"}
    for path in modules:
        tree = ast.parse(path.read_text())
        if path.stem == "core":  # defines the reduction; must not apply it
            calls = [
                n.func.id
                for n in ast.walk(tree)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            ]
            assert "unbroadcast" not in calls
            continue
        if path.stem == "__init__":  # re-exports only
            continue
        used = forbidden & set(_names(tree))
        assert not used, f"{path.name} uses {sorted(used)}"
    gradients_src = (OPS_DIR.parent / "gradients.py").read_text()
    assert "unbroadcast(" in gradients_src


def test_ops_modules_import_nothing_above_them():
    """graph ← ops ← api: no op module imports flowlog.api, gradients, train or session."""
    above = {"flowlog.api", "flowlog.gradients", "flowlog.train", "flowlog.session"}
    for path in sorted(OPS_DIR.glob("*.py")) + [OPS_DIR.parent / "graph.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                targets = {a.name for a in node.names}
            else:
                continue
            assert not targets & above, f"{path.name} imports {sorted(targets & above)}"
            if path.name == "graph.py":
                assert not any(t.startswith("flowlog.ops") for t in targets)


def test_op_modules_stay_small():
    for path in sorted(OPS_DIR.glob("*.py")):
        assert len(path.read_text().splitlines()) < 800, path.name
