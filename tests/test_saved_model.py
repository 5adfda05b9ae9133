"""fl.saved_model: export the inference subgraph, load it back, refuse damaged exports."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import flowlog as fl
from flowlog import keras
from flowlog.keras import layers as L

sm = fl.saved_model


def _linear(tmp_path):
    """A linear regression trained a few steps; returns (session, x, pred, export dir)."""
    graph = fl.Graph()
    with graph.as_default():
        x = fl.placeholder(fl.float32, shape=(None, 3), name="x")
        y = fl.placeholder(fl.float32, shape=(None, 1), name="y")
        w = fl.Variable(np.zeros((3, 1), np.float32), name="w")
        b = fl.Variable(np.zeros(1, np.float32), name="b")
        pred = fl.add(fl.matmul(x, w), b, name="pred")
        loss = fl.reduce_mean(fl.square(pred - y), name="loss")
        train = fl.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = fl.Session(graph)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(64, 3)).astype(np.float32)
    ys = xs @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    for _ in range(20):
        sess.run(train, {x: xs, y: ys})
    return sess, x, pred, tmp_path / "models" / "linear" / "1"


@pytest.fixture
def linear(tmp_path):
    sess, x, pred, path = _linear(tmp_path)
    sm.save(sess, path, inputs={"x": x}, outputs={"y": pred})
    return sess, x, pred, path


def test_linear_roundtrip_matches_the_session_exactly(linear):
    sess, x, pred, path = linear
    xs = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    loaded = sm.load(path)
    np.testing.assert_array_equal(loaded(x=xs)["y"], sess.run(pred, {x: xs}))
    np.testing.assert_array_equal(loaded(xs)["y"], sess.run(pred, {x: xs}))
    assert sorted(p.name for p in path.iterdir()) == sorted(sm.FILES)


def test_inference_subgraph_has_no_training_nodes(linear):
    _, _, _, path = linear
    desc = json.loads((path / "graph.json").read_text())
    names = [n["name"] for n in desc["nodes"]]
    assert sorted(names) == ["MatMul", "b", "pred", "w", "x"]
    assert {n["kind"] for n in desc["nodes"]} <= {"placeholder", "variable", "op", "constant"}
    assert desc["gradient_of"] == {}
    assert sorted(np.load(path / "variables.npz").files) == ["b", "w"]


def test_signature_contents(linear):
    _, _, _, path = linear
    sig = json.loads((path / "signature.json").read_text())
    assert sig == {
        "format": "flowlog.saved_model/1",
        "inputs": {"x": {"name": "x", "dtype": "float32", "shape": [None, 3]}},
        "outputs": {"y": {"name": "pred", "dtype": "float32", "shape": [None, 1]}},
    }
    assert sm.load(path).signature == sig


def test_keras_mlp_with_dropout_predicts_like_the_model(tmp_path):
    model = keras.Sequential(
        [L.Dense(16, activation="relu", input_shape=(4,)), L.Dropout(0.5), L.Dense(3)]
    )
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(40, 4)).astype(np.float32)
    model.fit(xs, rng.normal(size=(40, 3)).astype(np.float32), epochs=2, verbose=0)
    sm.save(model, tmp_path / "1")
    loaded = sm.load(tmp_path / "1")
    (in_key,), (out_key,) = loaded.signature["inputs"], loaded.signature["outputs"]
    assert out_key == model.layers[-1].name
    np.testing.assert_array_equal(loaded(**{in_key: xs})[out_key], model.predict(xs))
    ops = {n.op for n in loaded.graph.nodes}
    assert not ops & {"DropoutMask", "Dropout", "PlaceholderWithDefault"}
    assert not {n.kind for n in loaded.graph.nodes} & {"gradient", "optimizer"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"missing inputs \['x'\].*expected: x float32 \(None, 3\)"),
        ({"x": np.zeros((2, 3)), "z": 1}, r"unexpected inputs \['z'\]"),
        ({"x": np.zeros((2, 3), complex)}, r"input 'x' expects dtype float32.*got dtype complex"),
        ({"x": np.array([["a"] * 3])}, r"input 'x' expects dtype float32.*got dtype <U1"),
        ({"x": np.zeros(3)}, r"input 'x' expects shape \(None, 3\).*got shape \(3,\)"),
        ({"x": np.zeros((2, 4))}, r"input 'x' expects shape \(None, 3\).*got shape \(2, 4\)"),
    ],
)
def test_bad_inputs_name_the_input_and_the_expectation(linear, kwargs, message):
    loaded = sm.load(linear[3])
    with pytest.raises(ValueError, match=message):
        loaded(**kwargs)


def test_safe_casts_are_accepted(linear):
    sess, x, pred, path = linear
    ints = np.arange(6).reshape(2, 3)
    got = sm.load(path)(x=ints)["y"]
    np.testing.assert_array_equal(got, sess.run(pred, {x: ints.astype(np.float32)}))


def test_truncated_variables_npz(linear):
    path = linear[3] / "variables.npz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(sm.SavedModelError, match=r"variables\.npz: damaged npz"):
        sm.load(linear[3])


def test_missing_graph_json(linear):
    (linear[3] / "graph.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"graph\.json: missing"):
        sm.load(linear[3])


def test_variable_missing_from_npz(linear):
    path = linear[3]
    np.savez(path / "variables.npz", w=np.zeros((3, 1), np.float32))
    with pytest.raises(sm.SavedModelError, match=r"variables\.npz has no value for variable 'b'"):
        sm.load(path)


def test_variable_of_the_wrong_shape(linear):
    path = linear[3]
    np.savez(path / "variables.npz", w=np.zeros((4, 1), np.float32), b=np.zeros(1, np.float32))
    with pytest.raises(sm.SavedModelError, match=r"graph\.json.*'w'.*shape"):
        sm.load(path)


def test_signature_naming_an_unknown_node(linear):
    path = linear[3] / "signature.json"
    sig = json.loads(path.read_text())
    sig["outputs"]["y"]["name"] = "nope"
    path.write_text(json.dumps(sig))
    with pytest.raises(sm.SavedModelError, match=r"signature\.json: output 'y' names unknown node"):
        sm.load(linear[3])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[: len(text) // 2], r"graph\.json: not valid JSON"),
        (
            lambda text: text.replace('"op": "MatMul"', '"op": "Nope"'),
            r"'MatMul' has an op 'Nope' that cannot be served",
        ),
        (lambda text: text.replace('"op": "MatMul"', '"op": "AssignAdd"'), r"'AssignAdd'"),
        (lambda text: text.replace('"inputs": ["x", "w"]', '"inputs": ["w"]'), r"'MatMul'"),
    ],
)
def test_damaged_graph_json(linear, damage, message):
    path = linear[3] / "graph.json"
    path.write_text(damage(path.read_text()))
    with pytest.raises(sm.SavedModelError, match=message):
        sm.load(linear[3])


def test_save_needs_a_session_or_a_model(tmp_path):
    with pytest.raises(TypeError, match="Session or a Keras model, got Graph"):
        sm.save(fl.Graph(), tmp_path / "1")


def test_overwrite_is_refused_and_leaves_the_export_intact(linear):
    sess, x, pred, path = linear
    before = (path / "variables.npz").read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        sm.save(sess, path, inputs={"x": x}, outputs={"y": pred})
    assert (path / "variables.npz").read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["1"]  # no temporary left behind


def test_outputs_needing_an_unlisted_placeholder_are_refused(tmp_path):
    sess, x, pred, _ = _linear(tmp_path)
    loss = sess.graph.get_tensor_by_name("loss")
    with pytest.raises(sm.SavedModelError, match="placeholder 'y', which is not among the inputs"):
        sm.save(sess, tmp_path / "1", inputs={"x": x}, outputs={"loss": loss})
    assert not (tmp_path / "1").exists()


def test_versions_ignores_temporary_and_non_integer_dirs(linear, tmp_path):
    sess, x, pred, path = linear
    base = path.parent
    sm.save(sess, base / "10", inputs={"x": x}, outputs={"y": pred})
    (base / ".3.tmp-abc").mkdir()
    (base / "latest").mkdir()
    (base / "7").mkdir()  # incomplete: no files
    assert sm.versions(base) == [1, 10]


def _fixed_batch_export(tmp_path):
    """Static shapes, so the session reuses intermediate buffers across runs (unsafe unlocked);
    the 64-element constant is too big for the description and comes from constants.npz."""
    graph = fl.Graph()
    with graph.as_default():
        x = fl.placeholder(fl.float32, shape=(32, 64), name="x")
        w = fl.Variable(np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32))
        bias = fl.constant(np.linspace(-1, 1, 64, dtype=np.float32), name="bias")
        h = fl.tanh(fl.matmul(x, w) + bias)
        out = fl.reduce_sum(fl.matmul(h, w), axis=1, name="out")
    sess = fl.Session(graph)
    sm.save(sess, tmp_path / "1", inputs={"x": x}, outputs={"y": out})
    return sess, x, out, tmp_path / "1"


def test_concurrent_calls_from_eight_threads(tmp_path):
    sess, x, out, path = _fixed_batch_export(tmp_path)
    loaded = sm.load(path)
    rng = np.random.default_rng(2)
    batches = [rng.normal(size=(32, 64)).astype(np.float32) for _ in range(8)]
    expected = [sess.run(out, {x: b}) for b in batches]
    wrong = {i: 0 for i in range(8)}

    def worker(i):
        for _ in range(40):
            wrong[i] += not np.array_equal(loaded(x=batches[i])["y"], expected[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == {i: 0 for i in range(8)}
    assert "bias" in np.load(path / "constants.npz").files
