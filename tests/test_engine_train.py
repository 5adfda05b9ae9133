"""Optimizers (exact update rules and convergence) and the examples' results."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import flowlog as fl

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
A = np.array([1.0, 10.0, 0.5])
C = np.array([1.0, -2.0, 3.0])


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quadratic(optimizer):
    """loss = sum(A * (w - C)^2): minimum at w = C, curvatures differing 20x."""
    g = fl.Graph()
    with g.as_default():
        w = fl.Variable(np.zeros(3), name="w")
        loss = fl.reduce_sum(A * fl.square(w - C))
        train = optimizer.minimize(loss)
    return g, w, loss, train


@pytest.mark.parametrize(
    ("make", "steps"),
    [
        (lambda: fl.train.GradientDescentOptimizer(0.04), 400),
        (lambda: fl.train.MomentumOptimizer(0.02, 0.9), 400),
        (lambda: fl.train.MomentumOptimizer(0.02, 0.9, use_nesterov=True), 400),
        (lambda: fl.train.AdamOptimizer(0.05), 1500),
    ],
    ids=["sgd", "momentum", "nesterov", "adam"],
)
def test_optimizers_converge_to_known_minimum(make, steps):
    g, w, loss, train = quadratic(make())
    sess = fl.Session(graph=g)
    first = sess.run(loss)
    for _ in range(steps):
        sess.run(train)
    np.testing.assert_allclose(sess.value(w), C, atol=1e-3)
    assert sess.run(loss) < 1e-6 < first


def test_update_rules_match_hand_written_numpy():
    grad = lambda w: 2 * A * (w - C)  # noqa: E731
    lr, mu, b1, b2, eps = 0.01, 0.9, 0.8, 0.99, 1e-8
    sessions = {}
    for key, opt in {
        "momentum": fl.train.MomentumOptimizer(lr, mu),
        "nesterov": fl.train.MomentumOptimizer(lr, mu, use_nesterov=True),
        "adam": fl.train.AdamOptimizer(lr, b1, b2, eps),
    }.items():
        g, w, _, train = quadratic(opt)
        sessions[key] = (fl.Session(graph=g), w, train)
    w_m, acc_m = np.zeros(3), np.zeros(3)
    w_n, acc_n = np.zeros(3), np.zeros(3)
    w_a, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
    for t in range(1, 6):
        acc_m = mu * acc_m + grad(w_m)
        w_m = w_m - lr * acc_m
        g_n = grad(w_n)
        acc_n = mu * acc_n + g_n
        w_n = w_n - lr * (g_n + mu * acc_n)
        g_a = grad(w_a)
        m = b1 * m + (1 - b1) * g_a
        v = b2 * v + (1 - b2) * g_a**2
        w_a = w_a - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        for key, expected in (("momentum", w_m), ("nesterov", w_n), ("adam", w_a)):
            sess, w, train = sessions[key]
            sess.run(train)
            np.testing.assert_allclose(sess.value(w), expected, rtol=1e-12, err_msg=key)


def test_minimize_records_gradients_and_names_its_nodes():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 2), name="x")
        w = fl.Variable(np.ones((2, 1)), name="w")
        b = fl.Variable(0.0, name="b")
        frozen = fl.Variable(1.0, name="frozen")
        loss = fl.reduce_mean(fl.square(x @ w + b * frozen))
        opt = fl.train.MomentumOptimizer(0.1, 0.5)
        train = opt.minimize(loss, var_list=[w, b])
        train2 = fl.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[frozen])
    assert train.name == "Momentum" and train.kind == "optimizer" and train.op == "NoOp"
    assert train2.name == "GradientDescent"
    assert set(g.gradient_of) == {"w", "b", "frozen"}
    assert g.gradient_of["w"].kind == "gradient"
    updates = [n for n in g.nodes if n.op == "ApplyMomentum"]
    assert [n.name for n in updates] == ["Momentum/update_w", "Momentum/update_b"]
    assert all(n.kind == "optimizer" for n in updates)
    assert [v.name for v in g.trainable_variables()] == ["w", "b", "frozen"]
    assert "Momentum/w/momentum" in [v.name for v in g.global_variables()]
    sess = fl.Session(graph=g)
    X = np.ones((4, 2))
    sess.run(train, {x: X})
    assert sess.value(frozen) == 1.0  # not in var_list: untouched
    assert sess.value(b) != 0.0
    with g.as_default():
        train3 = fl.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[b])
    assert train3.name == "GradientDescent_1"


def test_minimize_errors():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(3,), name="x")
        unused = fl.Variable(np.ones(3), name="unused")
        loss = fl.reduce_sum(fl.square(x))
        with pytest.raises(fl.NoGradientError, match=r"no variable receives a gradient.*'unused'"):
            fl.train.GradientDescentOptimizer(0.1).minimize(loss)
        counter = fl.Variable(0, name="counter")
        with pytest.raises(TypeError, match="'counter' has dtype int64"):
            fl.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[counter])
        with pytest.raises(TypeError, match="must be variables"):
            fl.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[x])
        with pytest.raises(TypeError, match="loss must be a graph node"):
            fl.train.AdamOptimizer().minimize(1.0)
    empty = fl.Graph()
    with empty.as_default():
        p = fl.placeholder(shape=(), name="p")
        with pytest.raises(fl.NoGradientError, match="no trainable variables"):
            fl.train.AdamOptimizer().minimize(p * p)
    with pytest.raises(ValueError, match="learning_rate must be a positive"):
        fl.train.GradientDescentOptimizer(-1.0)
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        fl.train.GradientDescentOptimizer("fast")
    with pytest.raises(ValueError, match="momentum must be in"):
        fl.train.MomentumOptimizer(0.1, 1.5)
    with pytest.raises(ValueError, match="beta2 must be in"):
        fl.train.AdamOptimizer(0.1, beta2=1.0)
    assert unused.trainable


def test_example_computation_graph(capsys, tmp_path):
    result = load_example("computation_graph").main(["--logdir", str(tmp_path)])
    assert result["value"] == 23.0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "23.0"
    assert all(name in out for name in ("a", "b", "c", "d", "e"))
    assert result["nodes"] == ["a", "b", "c", "d", "e"]


def test_example_linear_regression_matches_least_squares(tmp_path):
    result = load_example("linear_regression").main(["--steps", "300", "--logdir", str(tmp_path)])
    np.testing.assert_allclose(result["w"], result["w_lstsq"], atol=1e-3)
    np.testing.assert_allclose(result["b"], result["b_lstsq"], atol=1e-3)
    assert result["losses"][-1] < result["losses"][0]


def test_example_logistic_regression_reaches_90_percent(tmp_path):
    result = load_example("logistic_regression").main(["--steps", "200", "--logdir", str(tmp_path)])
    assert result["accuracy"] >= 0.9 and result["train_accuracy"] >= 0.9
    assert result["losses"][-1] < 0.5 * result["losses"][0]


def test_example_mlp_reaches_90_percent(tmp_path):
    result = load_example("mlp").main(["--steps", "100", "--logdir", str(tmp_path)])
    assert result["accuracy"] >= 0.9
    names = [n.name for n in result["graph"].nodes]
    assert "hidden/w" in names and "loss/Mean" in names


@pytest.mark.parametrize("shape", [(3,), (300, 100)], ids=["small", "large"])
def test_gradient_descent_update_is_exact_for_small_and_large_variables(shape):
    """Large variables update through a preallocated buffer, small ones directly."""
    target = np.random.default_rng(0).normal(size=shape)
    g = fl.Graph()
    with g.as_default():
        w = fl.Variable(np.zeros(shape), name="w")
        loss = fl.reduce_sum(fl.square(w - target))
        train = fl.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = fl.Session(graph=g)
    expected = np.zeros(shape)
    for _ in range(3):
        sess.run(train)
        expected = expected - 0.1 * 2 * (expected - target)
        np.testing.assert_allclose(sess.value(w), expected, rtol=1e-12, atol=1e-15)
