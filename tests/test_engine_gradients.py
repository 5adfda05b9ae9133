"""Every differentiable op's gradient against central finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import numeric_grads
from hypothesis import given, settings
from hypothesis import strategies as st

import flowlog as fl


def check_grad(build, inputs, dynamic=False, rtol=1e-5, atol=1e-6, seed=0):
    """Compare fl.gradients of sum(build(*inputs) * R) with central differences.

    ``dynamic`` gives the placeholders all-unknown dimensions, exercising the runtime shape
    paths (UnbroadcastLike, ReshapeLike …) instead of the static ones.
    """
    inputs = [np.asarray(a, dtype=np.float64) for a in inputs]
    shapes = [(None,) * a.ndim if dynamic else a.shape for a in inputs]
    analytic, numeric, _ = numeric_grads(build, inputs, shapes, seed)
    checked = 0
    for i, a in enumerate(inputs):
        if analytic[i] is None:
            continue
        got = np.asarray(analytic[i])
        assert got.shape == a.shape, f"gradient of input {i} has shape {got.shape}, not {a.shape}"
        np.testing.assert_allclose(got, numeric[i], rtol=rtol, atol=atol, err_msg=f"input {i}")
        checked += 1
    return checked


rng = np.random.default_rng(42)


def away_from_zero(size, low=0.3, high=2.0, seed=1):
    r = np.random.default_rng(seed)
    return r.uniform(low, high, size=size) * r.choice([-1.0, 1.0], size=size)


UNARY = {
    "negative": (fl.negative, lambda s: rng.normal(size=s)),
    "square": (fl.square, lambda s: rng.normal(size=s)),
    "sqrt": (fl.sqrt, lambda s: rng.uniform(0.5, 2, size=s)),
    "exp": (fl.exp, lambda s: rng.normal(size=s)),
    "log": (fl.log, lambda s: rng.uniform(0.5, 2, size=s)),
    "abs": (fl.abs, away_from_zero),
    "relu": (fl.relu, away_from_zero),
    "sigmoid": (fl.sigmoid, lambda s: 3 * rng.normal(size=s)),
    "tanh": (fl.tanh, lambda s: rng.normal(size=s)),
    "identity": (fl.identity, lambda s: rng.normal(size=s)),
    "softmax": (fl.softmax, lambda s: rng.normal(size=s)),
    "softmax_axis0": (lambda x: fl.softmax(x, axis=0), lambda s: rng.normal(size=s)),
    "log_softmax": (fl.log_softmax, lambda s: rng.normal(size=s)),
    "pow_const": (lambda x: x**3.0, lambda s: rng.normal(size=s)),
    "rpow": (lambda x: 2.0**x, lambda s: rng.normal(size=s)),
}


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops(name, dynamic):
    fn, data = UNARY[name]
    assert check_grad(fn, [data((3, 4))], dynamic=dynamic) == 1


def test_cast_gradient_is_cast_back():
    """Finite differences through float32 are too coarse, so check the exact value instead."""
    g = fl.Graph()
    with g.as_default():
        x = fl.Variable(np.array([1.5, -2.0]), name="x")
        y = fl.reduce_sum(fl.cast(x, fl.float32) * np.array([2.0, 3.0], np.float32))
        gx, gi = fl.gradients(y, [x, fl.cast(x, fl.int64)])
    assert y.dtype == np.float32 and gx.dtype == np.float64 and gi is None
    np.testing.assert_array_equal(fl.Session(graph=g).run(gx), [2.0, 3.0])


REDUCTIONS = [
    (fl.reduce_sum, None, False),
    (fl.reduce_sum, 0, False),
    (fl.reduce_sum, 1, True),
    (fl.reduce_sum, (0, 2), False),
    (fl.reduce_mean, None, True),
    (fl.reduce_mean, -1, False),
    (fl.reduce_mean, (0, 1), True),
    (fl.reduce_max, None, False),
    (fl.reduce_max, 1, False),
    (fl.reduce_max, (0, 2), True),
]


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize(("fn", "axis", "keepdims"), REDUCTIONS)
def test_reductions(fn, axis, keepdims, dynamic):
    x = rng.permutation(24).reshape(2, 3, 4) / 7.0  # distinct values: max has no ties
    check_grad(lambda t: fn(t, axis=axis, keepdims=keepdims), [x], dynamic=dynamic)


def test_reduce_max_splits_gradient_between_ties():
    g = fl.Graph()
    with g.as_default():
        x = fl.Variable(np.array([1.0, 3.0, 3.0, 2.0]), name="x")
        (dx,) = fl.gradients(fl.reduce_max(x), [x])
    np.testing.assert_allclose(fl.Session(graph=g).run(dx), [0, 0.5, 0.5, 0])


BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((), (2, 3)),
    ((4,), (2, 1, 4)),
]
BINARY = {
    "add": (fl.add, rng.normal, rng.normal),
    "subtract": (fl.subtract, rng.normal, rng.normal),
    "multiply": (fl.multiply, rng.normal, rng.normal),
    "divide": (fl.divide, rng.normal, away_from_zero),
    "pow": (fl.pow, lambda size: rng.uniform(0.5, 2, size=size), rng.normal),
    "maximum": (fl.maximum, rng.normal, rng.normal),
    "minimum": (fl.minimum, rng.normal, rng.normal),
}


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_with_broadcasting(name, shapes, dynamic):
    fn, da, db = BINARY[name]
    a, b = np.asarray(da(size=shapes[0])), np.asarray(db(size=shapes[1]))
    assert check_grad(fn, [a, b], dynamic=dynamic) == 2


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(1, 3), min_size=0, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.sampled_from(["add", "multiply", "divide", "maximum"]),
    st.integers(0, 2**31 - 1),
)
def test_binary_broadcasting_property(shape, drop_a, drop_b, name, seed):
    """Random shapes where either side may have size-1 or missing dimensions."""
    r = np.random.default_rng(seed)
    shape_a = tuple(1 if drop_a[i] else d for i, d in enumerate(shape))
    shape_b = tuple(1 if drop_b[i] else d for i, d in enumerate(shape))
    if drop_b[-1] and shape_b:
        shape_b = shape_b[1:]  # also a lower rank
    a = r.normal(size=shape_a)
    b = r.uniform(0.5, 1.5, size=shape_b) * r.choice([-1, 1], size=shape_b)
    fn = getattr(fl, name)
    assert check_grad(fn, [a, b], seed=seed) == 2


@pytest.mark.parametrize(
    ("shape_a", "shape_b", "ta", "tb"),
    [
        ((3, 4), (4, 2), False, False),
        ((4, 3), (4, 2), True, False),
        ((3, 4), (2, 4), False, True),
        ((4, 3), (2, 4), True, True),
        ((2, 3, 4), (4, 5), False, False),
        ((1, 3, 4), (2, 4, 5), False, False),
        ((2, 4, 3), (2, 5, 4), True, True),
    ],
)
@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_matmul(shape_a, shape_b, ta, tb, dynamic):
    a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
    fn = lambda x, y: fl.matmul(x, y, transpose_a=ta, transpose_b=tb)  # noqa: E731
    assert check_grad(fn, [a, b], dynamic=dynamic) == 2


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_shape_ops(dynamic):
    x = rng.normal(size=(2, 3, 4))
    check_grad(lambda t: fl.reshape(t, [4, -1]), [x], dynamic=dynamic)
    check_grad(lambda t: fl.transpose(t), [x], dynamic=dynamic)
    check_grad(lambda t: fl.transpose(t, [1, 2, 0]), [x], dynamic=dynamic)
    y, z = rng.normal(size=(2, 1, 4)), rng.normal(size=(2, 2, 4))
    assert check_grad(lambda a, b, c: fl.concat([a, b, c], axis=1), [x, y, z], dynamic=dynamic) == 3
    assert check_grad(lambda a, b: fl.concat([a, b], axis=-1), [x, x * 2], dynamic=dynamic) == 2


def test_where_routes_gradient():
    cond = rng.normal(size=(3, 4)) > 0

    def build(a, b):
        return fl.where(fl.constant(cond), a, b)

    assert check_grad(build, [rng.normal(size=(3, 4)), rng.normal(size=(4,))]) == 2


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_losses(dynamic):
    logits, labels = 3 * rng.normal(size=(5, 4)), rng.uniform(size=(5, 4))
    assert (
        check_grad(
            lambda z, x: fl.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
            [labels, logits],
            dynamic=dynamic,
        )
        == 2
    )
    dist = rng.dirichlet(np.ones(4), size=5)
    assert (
        check_grad(
            lambda z, x: fl.softmax_cross_entropy_with_logits(labels=z, logits=x),
            [dist, logits],
            dynamic=dynamic,
        )
        == 2
    )
    assert (
        check_grad(
            lambda z, x: fl.softmax_cross_entropy_with_logits(z, x, axis=0),
            [dist, logits],
            dynamic=dynamic,
        )
        == 2
    )
    assert (
        check_grad(lambda z, x: fl.mean_squared_error(z, x), [labels, logits], dynamic=dynamic) == 2
    )


def test_losses_are_stable_for_huge_logits():
    g = fl.Graph()
    with g.as_default():
        x = fl.constant([[1000.0, -1000.0, 0.0]])
        z = fl.constant([[1.0, 0.0, 0.0]])
        sig = fl.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
        soft = fl.softmax_cross_entropy_with_logits(labels=z, logits=x)
        sm = fl.softmax(x)
        s = fl.sigmoid(x)
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # no intermediate overflow
        sig_v, soft_v, sm_v, s_v = fl.Session(graph=g).run([sig, soft, sm, s])
    np.testing.assert_allclose(sig_v, [[0.0, 0.0, np.log(2)]], atol=1e-12)
    np.testing.assert_allclose(soft_v, [0.0], atol=1e-12)
    np.testing.assert_allclose(sm_v, [[1.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(s_v, [[1.0, 0.0, 0.5]], atol=1e-12)


def test_composite_expressions():
    def mlp(x, w1, b1, w2):
        h = fl.tanh(x @ w1 + b1)
        return fl.log_softmax(fl.relu(h) @ w2)

    x = rng.normal(size=(5, 3))
    w1, b1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4,)), rng.normal(size=(4, 2))
    assert check_grad(mlp, [x, w1, b1, w2]) == 4

    # a node used several times: gradients of its uses are summed (AddN)
    def reuse(a, b):
        c = a * b
        return c * c + fl.exp(c) / (1.0 + fl.square(b)) - fl.sqrt(fl.abs(c) + 1.0)

    assert check_grad(reuse, [rng.normal(size=(2, 3)), rng.normal(size=(3,))]) == 2


def test_gradient_nodes_live_under_gradients_scope():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 2), name="x")
        w = fl.Variable(np.ones((2, 1)), name="w")
        with fl.name_scope("loss"):
            loss = fl.reduce_mean(fl.square(x @ w))
        (dw,) = fl.gradients(loss, [w])
        again = fl.gradients(loss, w)
    new = [n for n in g.nodes if n.index > loss.index]
    assert new and all(n.name.startswith(("gradients/", "gradients_1/")) for n in new)
    assert all(n.kind == "gradient" for n in new)
    assert any(n.name.startswith("gradients/loss/Mean_grad/") for n in new)
    assert dw.name.startswith("gradients/loss/MatMul_grad/")
    assert again[0].name.startswith("gradients_1/")


def test_gradients_of_unrelated_or_integer_xs_are_none():
    g = fl.Graph()
    with g.as_default():
        a = fl.Variable(2.0, name="a")
        b = fl.Variable(3.0, name="b")
        n = fl.placeholder(fl.int64, shape=(), name="n")
        y = a * a + fl.cast(n, fl.float64)
        ga, gb, gn = fl.gradients(y, [a, b, n])
        (gy,) = fl.gradients(y, [y])
    assert gb is None and gn is None
    sess = fl.Session(graph=g)
    assert sess.run(ga, {n: 1}) == pytest.approx(4.0)
    assert sess.run(gy, {n: 1}) == pytest.approx(1.0)


def test_grad_ys_and_multiple_ys():
    g = fl.Graph()
    with g.as_default():
        x = fl.Variable(np.array([1.0, 2.0]), name="x")
        y1, y2 = x * 3.0, fl.square(x)
        (gx,) = fl.gradients([y1, y2], [x])
        (gw,) = fl.gradients(y2, [x], grad_ys=[np.array([10.0, 100.0])])
    sess = fl.Session(graph=g)
    np.testing.assert_allclose(sess.run(gx), [3 + 2, 3 + 4])
    np.testing.assert_allclose(sess.run(gw), [20.0, 400.0])


def test_gradients_rejects_bad_arguments():
    g = fl.Graph()
    with g.as_default():
        x = fl.Variable(1.0, name="x")
        k = fl.constant(3)
    with pytest.raises(TypeError, match="only floating"):
        fl.gradients(k, [x])
    with pytest.raises(TypeError, match="graph nodes"):
        fl.gradients(x * 2.0, [np.ones(2)])
    other = fl.Graph()
    with other.as_default():
        z = fl.Variable(1.0, name="z")
    with pytest.raises(fl.GraphError, match="different graph"):
        fl.gradients(x * 2.0, [z])
