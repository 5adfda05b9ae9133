"""fl.keras models on the real engine: Sequential and functional build the same graph,
summary tables, weights, save/load round trips, the attributes a logging callback uses, and
errors that say what is wrong (and list what is valid)."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest

import flowlog as fl

keras = fl.keras
L = keras.layers


pytestmark = pytest.mark.usefixtures("keras_fresh")


def _mlp_seq():
    return keras.Sequential(
        [L.Dense(8, activation="relu", input_shape=(3,)), L.Dropout(0.2), L.Dense(2)]
    )


def _mlp_functional():
    with fl.Graph().as_default():
        x = keras.Input((3,))
        y = L.Dense(2)(L.Dropout(0.2)(L.Dense(8, activation="relu")(x)))
        return keras.Model(x, y)


def _cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(4, 3, padding="same", activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(2, 3, strides=2),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(3, activation="softmax"),
        ]
    )


def test_lazy_names():
    assert fl.keras.layers.Dense is L.Dense
    assert fl.keras.Sequential is keras.models.Sequential
    assert fl.keras.Model is keras.models.Model and fl.keras.Input is L.Input
    assert callable(fl.keras.models.load_model)
    assert fl.keras.optimizers.SGD and fl.keras.callbacks.EarlyStopping
    assert "keras" in dir(fl)


def test_sequential_and_functional_build_the_same_graph():
    seq, fun = _mlp_seq(), _mlp_functional()
    assert seq.graph is not fun.graph

    def signature(g):
        return [(n.name, n.op, n.shape, n.kind) for n in g.nodes]

    assert signature(seq.graph) == signature(fun.graph)
    assert [lay.name for lay in seq.layers] == ["dense", "dropout", "dense_1"]
    assert [lay.name for lay in fun.layers] == ["input_1", "dense", "dropout", "dense_1"]
    assert [v.name for v in seq.weights] == [
        "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias",
    ]  # fmt: skip
    assert [lay.scope for lay in seq.layers] == ["dense", "dropout", "dense_1"]


def test_summary_totals_and_rows(capsys):
    model = _cnn()
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == f'Model: "{model.name}"'
    rows = [ln for ln in lines if re.match(r"^\w+ \(\w+\)", ln) and "Layer (" not in ln]
    cells = [(r[:29].strip(), r[29:55].strip(), r[55:].strip()) for r in rows]  # Keras' columns
    assert [c[0] for c in cells] == [
        "conv2d (Conv2D)", "max_pooling2d (MaxPooling2D)", "conv2d_1 (Conv2D)",
        "flatten (Flatten)", "dropout (Dropout)", "dense (Dense)",
    ]  # fmt: skip
    assert [c[1] for c in cells] == [
        "(None, 8, 8, 4)", "(None, 4, 4, 4)", "(None, 1, 1, 2)", "(None, 2)", "(None, 2)",
        "(None, 3)",
    ]  # fmt: skip
    counts = [int(c[2]) for c in cells]
    assert counts == [3 * 3 * 4 + 4, 0, 3 * 3 * 4 * 2 + 2, 0, 0, 2 * 3 + 3]
    total = sum(int(np.prod(v.shape)) for v in model.graph.trainable_variables())
    assert sum(counts) == total == model.count_params()
    assert f"Total params: {total:,}" in lines and "Non-trainable params: 0" in lines
    model.summary()
    assert capsys.readouterr().out.splitlines() == lines


def test_functional_summary_shows_the_input_layer():
    lines = []
    _mlp_functional().summary(print_fn=lines.append)
    assert any(re.match(r"input_1 \(InputLayer\)\s+\[\(None, 3\)\]\s+0", ln) for ln in lines)
    assert "Total params: 50" in lines  # 3*8+8 + 8*2+2


def test_unbuilt_sequential_builds_from_the_first_data():
    model = keras.Sequential()
    model.add(L.Dense(4, activation="tanh"))
    model.add(L.Dense(1))
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()
    model.compile("sgd", "mse")
    x = np.ones((10, 5), np.float32)
    model.fit(x, np.zeros(10), epochs=1, verbose=0)
    assert model.built and model.layers[1].name == "dense_1"
    assert model.predict(x).shape == (10, 1)
    assert model.count_params() == 5 * 4 + 4 + 4 + 1


def test_get_set_weights():
    model = _mlp_seq()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 8), (8,), (8, 2), (2,)]
    new = [np.full_like(w, 0.5) for w in weights]
    model.set_weights(new)
    x = np.ones((4, 3), np.float32)
    hidden = np.maximum(x @ new[0] + new[1], 0)
    np.testing.assert_allclose(model.predict(x), hidden @ new[2] + new[3], rtol=1e-6)
    weights[0][:] = 99  # get_weights gives copies
    assert model.get_weights()[0][0, 0] == 0.5
    with pytest.raises(ValueError, match="has 4 weights, got 3 arrays"):
        model.set_weights(new[:3])


@pytest.mark.parametrize("make", [_cnn, _mlp_functional])
def test_save_and_load_round_trip(tmp_path, make):
    model = make()
    shape = (20, *model.inputs[0].shape[1:])
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    loss = "sparse_categorical_crossentropy" if make is _cnn else "mse"
    y = np.arange(20) % 3 if make is _cnn else np.zeros((20, 2))
    model.compile(keras.optimizers.Adam(0.01), loss, metrics=["accuracy"] * (make is _cnn))
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.graph is not model.graph
    assert [lay.name for lay in loaded.layers] == [lay.name for lay in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y) == model.evaluate(x, y)
    assert loaded.optimizer.get_config()["learning_rate"] == 0.01
    loaded.fit(x, y, epochs=1, verbose=0)  # compiled, trainable


def test_save_weights_and_load_weights(tmp_path):
    a, b = _mlp_seq(), _mlp_seq()
    x = np.ones((3, 3), np.float32)
    assert not np.array_equal(a.predict(x), b.predict(x))
    a.save_weights(tmp_path / "w.npz")
    b.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    with pytest.raises(ValueError, match="does not fit the model"):
        _cnn().load_weights(tmp_path / "w.npz")


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "nothing.keras"
    with pytest.raises(FileNotFoundError, match=re.escape(repr(str(missing)))):
        keras.models.load_model(missing)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=re.escape(repr(str(junk))) + ".*not a readable"):
        keras.models.load_model(junk)
    good = tmp_path / "good.keras"
    _mlp_seq().save(good)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.keras"):
        keras.models.load_model(truncated)
    foreign = tmp_path / "foreign.keras"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("config.json", '{"format": "other"}')
        z.writestr("weights.npz", b"")
    with pytest.raises(ValueError, match="foreign.keras"):
        keras.models.load_model(foreign)


def test_compile_builds_loss_metrics_gradients_and_train_op():
    model = _mlp_seq()
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse", metrics=["mae", "mse"])
    assert model.metrics_names == ["loss", "mae", "mse"]
    assert model.total_loss.scope.startswith("loss")
    assert all(t.name.startswith("metrics/") for t in model.metrics_tensors.values())
    assert set(model.gradients) == {v.name for v in model.trainable_weights}
    for grad, var in model.grads_and_vars:
        assert grad.shape == var.shape and grad.name.startswith("gradients/")
        assert model.graph.gradient_of[var.name] is grad
    assert model.train_op.op == "NoOp" and model.target.shape == (None, 2)
    assert model.session.graph is model.graph
    assert model.learning_phase is model.graph.get_tensor_by_name("keras_learning_phase")


def test_extra_fetches_and_global_step_for_logging_callbacks():
    model = _mlp_seq()
    model.compile("sgd", "mse")
    kernel = model.layers[0].weights[0]
    seen = []

    class GradNorms(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.model.extra_fetches = {"g": self.model.gradients[kernel.name]} if batch % 2 else {}

        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, self.model.global_step, dict(self.model.extra_results), logs))
            self.model.extra_results = {}

    x = np.random.default_rng(2).normal(size=(40, 3)).astype(np.float32)
    model.fit(x, np.zeros((40, 2)), batch_size=10, epochs=2, verbose=0, callbacks=[GradNorms()])
    assert [s[1] for s in seen] == list(range(1, 9)) and model.global_step == 8
    assert [bool(s[2]) for s in seen] == [False, True] * 4
    assert all(s[2]["g"].shape == (3, 8) for s in seen if s[2])
    assert all(set(s[3]) == {"loss"} for s in seen)


def test_unknown_names_list_the_valid_ones():
    model = _mlp_seq()
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*'mse'.*'binary_crossentropy'"):
        model.compile("sgd", "hinge")
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'.*'sgd', 'adam'"):
        model.compile("rmsprop", "mse")
    with pytest.raises(ValueError, match=r"unknown metric 'auc'.*'accuracy'.*'mae'"):
        model.compile("sgd", "mse", metrics=["auc"])
    with pytest.raises(ValueError, match="a loss is required"):
        model.compile("sgd")


def test_engine_optimizer_is_accepted_as_is():
    model = _mlp_seq()
    opt = fl.train.GradientDescentOptimizer(0.05)
    model.compile(opt, "mae")
    assert model.engine_optimizer is opt
    before = model.get_weights()
    model.fit(np.ones((8, 3)), np.ones((8, 2)), verbose=0)
    assert not np.array_equal(before[0], model.get_weights()[0])


def test_functional_disconnected_and_duplicate_names():
    with fl.Graph().as_default():
        stray = fl.placeholder(fl.float32, shape=(None, 3), name="stray")
        x = keras.Input((3,))
        y = L.Dense(2)(stray)
        with pytest.raises(ValueError, match="Graph disconnected.*'stray'"):
            keras.Model(x, y)
    with pytest.raises(ValueError, match="unique names; 'a'"):
        keras.Sequential([L.Dense(2, name="a"), L.Dense(2, name="a")])


def test_every_layer_op_lives_in_its_layer_scope():
    model = _cnn()
    scopes = [lay.scope for lay in model.layers]
    assert scopes == ["conv2d", "max_pooling2d", "conv2d_1", "flatten", "dropout", "dense"]
    outside = [
        n.name
        for n in model.graph.nodes
        if n.kind != "placeholder" and not any(n.name.startswith(s + "/") for s in scopes)
    ]
    assert outside == []
    for layer in model.layers:
        assert all(v.name.startswith(layer.scope + "/") for v in layer.weights)
        assert layer.output.name.startswith(layer.scope + "/")
