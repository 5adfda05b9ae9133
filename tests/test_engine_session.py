"""Session: fetch structures, feeds, state, errors, check_numerics and run hooks."""

from __future__ import annotations

import gc
import subprocess
import sys

import numpy as np
import pytest

import flowlog as fl


@pytest.fixture
def model():
    """A small linear model with a train op in its own graph."""
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 2), name="x")
        y = fl.placeholder(shape=(None, 1), name="y")
        w = fl.Variable(np.array([[1.0], [2.0]]), name="w")
        pred = fl.matmul(x, w, name="pred")
        with fl.name_scope("loss"):
            loss = fl.reduce_mean(fl.square(pred - y))
        train = fl.train.GradientDescentOptimizer(0.1).minimize(loss)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [2.0]])
    return dict(g=g, x=x, y=y, w=w, pred=pred, loss=loss, train=train, X=X, Y=Y)


def test_guide_example_default_and_explicit_graph():
    g = fl.Graph()
    with g.as_default():
        a = fl.constant(5.0, name="a")
        b = fl.constant(3.0, name="b")
        c = a * b + (a + b)
    with fl.Session(graph=g) as sess:
        assert sess.run(c) == 23.0
    with g.as_default(), fl.Session() as sess:  # the default graph inside as_default
        assert sess.graph is g and sess.run(c) == 23.0


def test_fetch_structures(model):
    m = model
    sess = fl.Session(graph=m["g"])
    feed = {m["x"]: m["X"], m["y"]: m["Y"]}
    pred = m["X"] @ np.array([[1.0], [2.0]])
    loss = np.mean((pred - m["Y"]) ** 2)
    assert sess.run(m["loss"], feed) == pytest.approx(loss)
    lst = sess.run([m["loss"], m["pred"]], feed)
    assert isinstance(lst, list) and lst[0] == pytest.approx(loss)
    np.testing.assert_allclose(lst[1], pred)
    tup = sess.run((m["loss"],), feed)
    assert isinstance(tup, tuple) and len(tup) == 1
    nested = sess.run({"a": [m["loss"], (m["pred"], m["loss"])], "b": {"c": m["w"]}}, feed)
    assert set(nested) == {"a", "b"}
    assert isinstance(nested["a"], list) and isinstance(nested["a"][1], tuple)
    assert nested["a"][0] == nested["a"][1][1] == pytest.approx(loss)
    np.testing.assert_allclose(nested["b"]["c"], [[1.0], [2.0]])
    by_name = sess.run(["loss/Mean", "pred:0"], {"x": m["X"], "y": m["Y"]})
    assert by_name[0] == pytest.approx(loss)
    assert sess.run([], feed) == []


def test_train_op_returns_none_and_updates_once(model):
    m = model
    sess = fl.Session(graph=m["g"])
    feed = {m["x"]: m["X"], m["y"]: m["Y"]}
    w0 = sess.value(m["w"])
    grad = sess.run(m["g"].gradient_of["w"], feed)
    # fetching the train op twice in one run still runs it once
    out = sess.run([m["train"], m["train"], m["w"]], feed)
    assert out[0] is None and out[1] is None
    np.testing.assert_allclose(out[2], w0)  # the fetched value is from before the update
    np.testing.assert_allclose(sess.value(m["w"]), w0 - 0.1 * grad)


def test_variables_keep_state_and_fetched_values_are_copies(model):
    m = model
    sess = fl.Session(graph=m["g"])
    feed = {m["x"]: m["X"], m["y"]: m["Y"]}
    before = sess.run(m["w"])
    snapshot = before.copy()
    values = [sess.run([m["train"], m["loss"]], feed)[1] for _ in range(20)]
    assert values[-1] < values[0]
    np.testing.assert_array_equal(before, snapshot)  # not mutated by the in-place updates
    other = fl.Session(graph=m["g"])  # each session has its own variable values
    np.testing.assert_array_equal(other.value(m["w"]), snapshot)
    with m["g"].as_default():
        init = fl.global_variables_initializer()
    assert sess.run(init) is None
    np.testing.assert_array_equal(sess.value(m["w"]), snapshot)
    sess.assign(m["w"], [[3.0], [4.0]])
    np.testing.assert_array_equal(sess.run(m["w"]), [[3.0], [4.0]])
    with pytest.raises(ValueError, match="shape"):
        sess.assign(m["w"], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="not a variable"):
        sess.value(m["loss"])


def test_constants_cannot_be_corrupted_through_fetches():
    g = fl.Graph()
    with g.as_default():
        c = fl.constant([1.0, 2.0], name="c")
        r = fl.reshape(c, [2, 1])
    sess = fl.Session(graph=g)
    v, rv = sess.run([c, r])
    v[0] = 99.0
    rv[1, 0] = 99.0
    np.testing.assert_array_equal(sess.run(c), [1.0, 2.0])


def test_only_the_needed_subgraph_runs(model):
    m = model
    sess = fl.Session(graph=m["g"])
    # pred needs x but not y: y may stay unfed
    np.testing.assert_allclose(sess.run(m["pred"], {m["x"]: m["X"]}), m["X"] @ [[1.0], [2.0]])
    with m["g"].as_default():
        k = fl.constant(2.0) * 3.0
    assert sess.run(k) == 6.0  # no feeds at all


def test_feed_conversions(model):
    m = model
    sess = fl.Session(graph=m["g"])
    lists = sess.run(m["pred"], {m["x"]: [[1, 0], [0, 1]]})  # ints -> float64
    np.testing.assert_allclose(lists, [[1.0], [2.0]])
    f32 = sess.run(m["pred"], {m["x"]: np.ones((1, 2), np.float32)})
    assert f32.dtype == np.float64 and f32[0, 0] == 3.0


def test_feed_errors_name_the_placeholder(model):
    m = model
    sess = fl.Session(graph=m["g"])
    with pytest.raises(fl.FeedError, match=r"placeholder 'y'.*must be fed.*'loss/Mean'"):
        sess.run(m["loss"], {m["x"]: m["X"]})
    with pytest.raises(fl.FeedError, match=r"'x' expects shape \(None, 2\).*\(3, 3\)"):
        sess.run(m["pred"], {m["x"]: np.ones((3, 3))})
    with pytest.raises(fl.FeedError, match=r"'x' expects shape.*\(2,\)"):
        sess.run(m["pred"], {m["x"]: np.ones(2)})
    with pytest.raises(fl.FeedError, match="'x' has dtype float64.*<U1"):
        sess.run(m["pred"], {m["x"]: [["a", "b"]]})
    with pytest.raises(fl.FeedError, match="cannot feed 'w'.*only placeholders"):
        sess.run(m["pred"], {m["x"]: m["X"], m["w"]: np.ones((2, 1))})
    with pytest.raises(fl.FeedError, match="graph node 'w'"):
        sess.run(m["pred"], {m["x"]: m["w"]})
    # a fed placeholder that the fetch does not need is still checked
    with pytest.raises(fl.FeedError, match="'y' expects shape"):
        sess.run(m["pred"], {m["x"]: m["X"], m["y"]: np.ones(4)})
    g = fl.Graph()
    with g.as_default():
        n = fl.placeholder(fl.int64, shape=(), name="n")
        doubled = n * 2
    with pytest.raises(fl.FeedError, match="'n' has dtype int64 but was fed.*float64"):
        fl.Session(graph=g).run(doubled, {n: 1.5})
    assert fl.Session(graph=g).run(doubled, {n: 4}) == 8


def test_fetch_errors(model):
    m = model
    sess = fl.Session(graph=m["g"])
    other = fl.Graph()
    with other.as_default():
        stranger = fl.constant(1.0, name="stranger")
    with pytest.raises(fl.GraphError, match="'stranger' is not in this session's graph"):
        sess.run(stranger)
    with pytest.raises(fl.GraphError, match="'nope'"):
        sess.run("nope")
    with pytest.raises(TypeError, match="graph node or a node name"):
        sess.run([m["loss"], 3.0])
    with pytest.raises(fl.GraphError, match="not in this session's graph"):
        sess.run(m["pred"], {stranger: 1.0})
    sess.close()
    with pytest.raises(RuntimeError, match="closed"):
        sess.run(m["pred"], {m["x"]: m["X"]})


@pytest.mark.parametrize("inspected", [False, True], ids=["compiled", "interpreted"])
def test_runtime_kernel_errors_name_the_node(inspected):
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None,), name="x")
        with fl.name_scope("block"):
            r = fl.reshape(x, [2, 3])
    sess = fl.Session(graph=g, check_numerics=inspected)
    with pytest.raises(fl.OpError, match=r"Reshape node 'block/Reshape' failed.*'x' \(4,\)"):
        sess.run(r, {x: np.ones(4)})
    assert sess.run(r, {x: np.arange(6.0)}).shape == (2, 3)


def test_plans_are_cached_per_fetches_and_feed_keys(model):
    m = model
    sess = fl.Session(graph=m["g"])
    feed = {m["x"]: m["X"], m["y"]: m["Y"]}
    for _ in range(3):
        sess.run([m["train"], m["loss"]], feed)
        sess.run({"l": [m["loss"]]}, feed)
    plans = {id(p) for p in sess._plans.values()}
    assert len(plans) == 2
    assert sess.run_count == 6


def test_check_numerics_forward_finds_first_node():
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None,), name="x")
        w = fl.Variable(np.array([1.0, 1.0]), name="w")
        with fl.name_scope("model"):
            h = fl.log(x * w)  # log(0) = -inf: the first bad node
            out = fl.reduce_sum(h * 0.0)  # -inf * 0 = nan, a consequence, not reported
    sess = fl.Session(graph=g, check_numerics=True)
    assert sess.last_numerics is None
    sess.run(out, {x: np.array([1.0, 2.0])})
    assert sess.last_numerics is None and sess.numerics_findings == []
    value = sess.run(out, {x: np.array([0.0, 2.0])})
    assert np.isnan(value)  # the run completed as it would unchecked
    f = sess.last_numerics
    assert (f.node, f.op, f.phase, f.kind, f.run_index) == ("model/Log", "Log", "forward", "inf", 1)
    assert f.inputs == [
        {"name": "model/Mul", "shape": [2], "min": 0.0, "max": 2.0, "nan": 0, "inf": 0}
    ]
    assert sess.numerics_findings == [f] and f.to_dict()["node"] == "model/Log"
    sess.run(out, {x: np.array([1.0, 2.0])})
    assert sess.last_numerics is None and len(sess.numerics_findings) == 1


def test_check_numerics_backward_and_update_still_happens():
    g = fl.Graph()
    with g.as_default():
        w = fl.Variable(np.array([0.0, 4.0]), name="w")
        with fl.name_scope("loss"):
            loss = fl.reduce_sum(fl.sqrt(w))  # finite forward; d sqrt/dw at 0 is inf
        train = fl.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = fl.Session(graph=g, check_numerics=True)
    assert sess.run([train, loss])[1] == pytest.approx(2.0)
    f = sess.last_numerics
    assert f.phase == "backward" and f.kind == "inf" and f.run_index == 0
    assert f.node == "gradients/loss/Sqrt_grad/SqrtGrad" and f.op == "SqrtGrad"
    # we are a debugger, not a fixer: the update wrote -inf as it would without the check
    assert sess.value(w)[0] == -np.inf
    raising = fl.Session(graph=g, check_numerics="raise")
    with pytest.raises(fl.NumericsError, match="gradients/loss/Sqrt_grad/SqrtGrad") as info:
        raising.run(train)
    assert info.value.finding.phase == "backward"
    assert raising.value(w)[0] == -np.inf
    # the variable now holds -inf: the next run's first bad node is the variable itself
    raising.check_numerics = True
    raising.run(loss)
    assert raising.last_numerics.node == "w" and raising.last_numerics.run_index == 1


def test_check_numerics_rejects_bad_mode():
    with pytest.raises(ValueError, match="check_numerics"):
        fl.Session(graph=fl.Graph(), check_numerics="loud")


class RecordingHook:
    def __init__(self, nodes):
        self.nodes, self.calls, self.seen = nodes, [], []

    def before_run(self, sess):
        self.calls.append("before")

    def after_run(self, sess, values):
        self.calls.append("after")
        self.seen.append(
            {k: (None if values(n) is None else np.array(values(n))) for k, n in self.nodes.items()}
        )


def test_hooks_see_the_values_of_each_run(model):
    m = model
    sess = fl.Session(graph=m["g"])
    hook = RecordingHook(
        {"loss": m["loss"], "grad": m["g"].gradient_of["w"], "w": m["w"], "pred_by_name": "pred"}
    )
    sess.add_hook(hook)
    feed = {m["x"]: m["X"], m["y"]: m["Y"]}
    _, loss = sess.run([m["train"], m["loss"]], feed)
    assert hook.calls == ["before", "after"]
    seen = hook.seen[-1]
    assert seen["loss"] == pytest.approx(loss)
    np.testing.assert_allclose(seen["w"], sess.value(m["w"]))  # after the update
    assert seen["grad"].shape == (2, 1) and seen["pred_by_name"].shape == (3, 1)
    sess.run(m["pred"], {m["x"]: m["X"]})
    assert hook.seen[-1]["loss"] is None and hook.seen[-1]["grad"] is None
    sess.remove_hook(hook)
    sess.run(m["pred"], {m["x"]: m["X"]})
    assert len(hook.calls) == 4
    with pytest.raises(TypeError, match="before_run"):
        sess.add_hook(object())


def test_results_are_identical_with_and_without_inspection(model):
    m = model
    feed = {m["x"]: m["X"], m["y"]: m["Y"]}
    plain, checked = fl.Session(graph=m["g"]), fl.Session(graph=m["g"], check_numerics=True)
    for _ in range(5):
        a = plain.run([m["train"], m["loss"], m["w"]], feed)
        b = checked.run([m["train"], m["loss"], m["w"]], feed)
        assert a[1] == b[1]
        np.testing.assert_array_equal(a[2], b[2])


def test_momentum_and_adam_slots_are_updated_in_place_not_reallocated(model):
    g = fl.Graph()
    with g.as_default():
        w = fl.Variable(np.ones(3), name="w")
        loss = fl.reduce_sum(fl.square(w))
        train = fl.train.AdamOptimizer(0.1).minimize(loss)
    sess = fl.Session(graph=g)
    storage = sess._var(w)
    sess.run(train)
    assert sess._var(w) is storage  # plans bind the arrays; updates must stay in place
    assert sess.value("Adam/step") == 1.0


def test_importing_flowlog_does_not_import_the_engine():
    code = (
        "import sys, flowlog\n"
        "assert not any(m in sys.modules for m in "
        "('flowlog.api', 'flowlog.session', 'flowlog.ops')), sorted(sys.modules)\n"
        "import flowlog as fl\n"
        "assert fl.constant(1.0).op == 'Const' and 'flowlog.api' in sys.modules\n"
        "missing = [n for n in fl._LAZY if getattr(fl, n, None) is None]\n"
        "assert not missing, missing\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_steady_state_runs_leave_no_garbage_cycles(model):
    """Per-step reference cycles would make Python's cycle collector a cost of training."""
    m = model
    feed = {m["x"]: m["X"], m["y"]: m["Y"]}
    sess = fl.Session(graph=m["g"])
    sess.run([m["train"], m["loss"]], feed)  # compile the plan first
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            sess.run([m["train"], m["loss"]], feed)
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0


class SelectiveHook(RecordingHook):
    """Asks for specific nodes, so runs stay on the compiled path."""

    def before_run(self, sess):
        super().before_run(sess)
        return [n for n in self.nodes.values() if n != "pred"]


def test_hooks_that_name_their_nodes_keep_runs_compiled(model):
    m = model
    sess = fl.Session(graph=m["g"])
    hook = SelectiveHook(
        {"loss": m["loss"], "grad": m["g"].gradient_of["w"], "w": m["w"], "pred": "pred"}
    )
    sess.add_hook(hook)
    feed = {m["x"]: m["X"], m["y"]: m["Y"]}
    w0 = sess.value(m["w"])
    _, loss = sess.run([m["train"], m["loss"]], feed)
    seen = hook.seen[-1]
    assert seen["loss"] == pytest.approx(loss)
    np.testing.assert_allclose(seen["w"], sess.value(m["w"]))  # after the update
    np.testing.assert_allclose(w0 - 0.1 * seen["grad"], seen["w"])
    assert seen["pred"] is None  # not asked for, so not captured
    assert any(key[1] == "frozen" for key in sess._plans)  # a compiled plan with extra fetches
    sess.add_hook(RecordingHook({"pred": m["pred"]}))  # one hook wanting everything
    sess.run([m["train"], m["loss"]], feed)
    assert hook.seen[-1]["pred"] is not None and hook.calls.count("before") == 2
