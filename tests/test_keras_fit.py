"""fl.keras training on the real engine: fit reaches known answers (least squares, learnable
classification and image sets), losses and metrics agree with numpy, dropout runs only in
fit, validation, callbacks, checkpoints and progress output behave as in Keras."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import flowlog as fl
from flowlog.keras.progbar import Progbar

keras = fl.keras
L = keras.layers


pytestmark = pytest.mark.usefixtures("keras_fresh")


def _blobs(n, seed, classes=3):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])[:classes]
    labels = rng.integers(0, classes, n)
    return (centers[labels] + 0.5 * rng.normal(size=(n, 2))).astype(np.float32), labels


def _bars(n, seed):
    """8x8 images of a horizontal (0) or vertical (1) bar at a random place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = 0.3 * rng.normal(size=(n, 8, 8, 1))
    pos = rng.integers(0, 8, n)
    for i, (label, p) in enumerate(zip(labels, pos, strict=True)):
        if label:
            x[i, :, p, 0] += 1.0
        else:
            x[i, p, :, 0] += 1.0
    return x.astype(np.float32), labels


def _linear_model(loss="mse", metrics=None, lr=0.1):
    model = keras.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile(keras.optimizers.SGD(lr), loss, metrics=metrics)
    return model


def test_linear_regression_reaches_least_squares():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 3)).astype(np.float32)
    y = x @ np.array([1.5, -2.0, 0.7]) + 0.3 + 0.1 * rng.normal(size=128)
    model = _linear_model()
    model.fit(x, y, batch_size=128, epochs=400, verbose=0, shuffle=False)
    design = np.hstack([x, np.ones((128, 1))]).astype(np.float64)
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel[:, 0], solution[:3], atol=2e-5)
    np.testing.assert_allclose(bias, solution[3:], atol=2e-5)
    residual = np.mean((design @ solution - y) ** 2)
    assert model.evaluate(x, y) == pytest.approx(residual, rel=1e-4)


def test_mlp_learns_three_classes():
    x, y = _blobs(600, 1)
    x_test, y_test = _blobs(300, 2)
    model = keras.Sequential(
        [L.Dense(16, activation="relu", input_shape=(2,)), L.Dense(3, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
    loss, accuracy = model.evaluate(x_test, y_test)
    assert accuracy >= 0.95 and loss < history.history["loss"][0]
    predicted = model.predict(x_test).argmax(1)
    assert np.mean(predicted == y_test) == pytest.approx(accuracy)


def test_cnn_learns_bars():
    x, y = _bars(400, 1)
    x_test, y_test = _bars(200, 2)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(4, 3, activation="relu", padding="same"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(2, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    assert model.evaluate(x_test, y_test)[1] >= 0.9


def _probabilities_model(units, activation):
    model = keras.Sequential([L.Dense(units, activation=activation, input_shape=(4,))])
    return model, np.random.default_rng(3).normal(size=(50, 4)).astype(np.float32)


def test_losses_and_accuracies_agree_with_numpy():
    model, x = _probabilities_model(3, "softmax")
    p = model.predict(x).astype(np.float64)
    labels = np.random.default_rng(4).integers(0, 3, 50)
    onehot = keras.utils.to_categorical(labels, 3)
    ce = -np.mean(np.log(p[np.arange(50), labels]))
    acc = np.mean(p.argmax(1) == labels)
    for loss, target in (
        ("sparse_categorical_crossentropy", labels),
        ("categorical_crossentropy", onehot),
    ):
        model.compile("sgd", loss, metrics=["accuracy"])
        assert model.evaluate(x, target, batch_size=16) == pytest.approx([ce, acc], rel=1e-5)
    model.compile("sgd", "mse", metrics=["mae"])
    expected = [np.mean((p - onehot) ** 2), np.mean(np.abs(p - onehot))]
    assert model.evaluate(x, onehot) == pytest.approx(expected, rel=1e-5)

    binary, xb = _probabilities_model(1, "sigmoid")
    q = binary.predict(xb)[:, 0].astype(np.float64)
    yb = (np.random.default_rng(5).random(50) > 0.5).astype(np.float32)
    bce = -np.mean(yb * np.log(q) + (1 - yb) * np.log(1 - q))
    binary.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    assert binary.evaluate(xb, yb) == pytest.approx([bce, np.mean((q > 0.5) == yb)], rel=1e-5)


def test_from_logits_losses_match_the_probability_versions():
    model, x = _probabilities_model(3, None)
    z = model.predict(x).astype(np.float64)
    labels = np.arange(50) % 3
    log_p = z - z.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert model.evaluate(x, labels) == pytest.approx(-log_p[np.arange(50), labels].mean(), 1e-5)
    binary, xb = _probabilities_model(1, None)
    zb = binary.predict(xb)[:, 0].astype(np.float64)
    yb = (np.arange(50) % 2).astype(np.float32)
    binary.compile("sgd", keras.losses.BinaryCrossentropy(from_logits=True))
    expected = np.mean(np.maximum(zb, 0) - zb * yb + np.log1p(np.exp(-np.abs(zb))))
    assert binary.evaluate(xb, yb) == pytest.approx(expected, rel=1e-5)


def test_evaluate_returns_a_scalar_without_metrics():
    model = _linear_model()
    x, y = np.ones((10, 3), np.float32), np.arange(10, dtype=np.float32)
    result = model.evaluate(x, y)
    assert isinstance(result, float)
    assert result == pytest.approx(np.mean((model.predict(x)[:, 0] - y) ** 2), rel=1e-6)
    assert model.evaluate(x, y, return_dict=True) == {"loss": result}


def test_dropout_runs_in_fit_only():
    model = keras.Sequential(
        [L.Dropout(0.5, input_shape=(200,)), L.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    model.compile(keras.optimizers.SGD(1e-9), "mse")
    dropped = model.layers[0].output
    zeros = []

    class Probe(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.model.extra_fetches = {"dropped": dropped}

        def on_train_batch_end(self, batch, logs=None):
            zeros.append(float(np.mean(self.model.extra_results["dropped"] == 0)))

    x = np.ones((64, 200), np.float32)
    model.fit(x, np.zeros(64), batch_size=32, epochs=1, verbose=0, callbacks=[Probe()])
    assert len(zeros) == 2 and all(0.4 < z < 0.6 for z in zeros)
    first, second = model.predict(x), model.predict(x)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first[:, 0], 200.0, rtol=1e-4)
    assert model.evaluate(x, np.full(64, 200.0)) == pytest.approx(0.0, abs=1e-3)


def test_validation_split_and_validation_data():
    x, y = _blobs(200, 3, classes=2)
    model = keras.Sequential([L.Dense(2, activation="softmax", input_shape=(2,))])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    assert list(hist.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 3 for v in hist.history.values()) and hist.epoch == [0, 1, 2]
    # the split is the last quarter, evaluated with the weights at the end of the epoch
    val = model.evaluate(x[150:], y[150:], return_dict=True)
    assert hist.history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-6)
    hist = model.fit(x[:100], y[:100], epochs=2, validation_data=(x[100:], y[100:]), verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.history is hist


def test_early_stopping_stops_and_restores_the_best_weights():
    x = np.random.default_rng(6).normal(size=(64, 3)).astype(np.float32)
    y = x.sum(1)
    model = _linear_model(lr=0.05)
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    stop = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    # validation targets of the opposite sign: val_loss is best after the first epoch
    hist = model.fit(x, y, epochs=20, validation_data=(x, -y), callbacks=[Snapshot(), stop],
                     verbose=0)  # fmt: skip
    assert len(hist.epoch) == 3 and stop.stopped_epoch == 2 and stop.best_epoch == 0
    assert hist.history["val_loss"][0] == min(hist.history["val_loss"])
    for restored, best in zip(model.get_weights(), snapshots[0], strict=True):
        np.testing.assert_array_equal(restored, best)


def test_model_checkpoint_writes_formatted_names(tmp_path):
    x = np.random.default_rng(7).normal(size=(32, 3)).astype(np.float32)
    y = x @ np.array([1.0, 2.0, 3.0])
    model = _linear_model(lr=0.05)
    pattern = str(tmp_path / "ckpt_{epoch:02d}_{val_loss:.2f}.keras")
    best = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.npz"), save_best_only=True,
                                           save_weights_only=True)  # fmt: skip
    callbacks = [keras.callbacks.ModelCheckpoint(pattern), best]
    hist = model.fit(x, y, epochs=3, validation_data=(x, y), callbacks=callbacks, verbose=0)
    expected = sorted(
        f"ckpt_{e + 1:02d}_{v:.2f}.keras" for e, v in enumerate(hist.history["val_loss"])
    )
    assert sorted(p.name for p in tmp_path.glob("ckpt_*")) == expected
    last = keras.models.load_model(tmp_path / expected[-1])
    np.testing.assert_array_equal(last.predict(x), model.predict(x))
    other = _linear_model()
    other.load_weights(tmp_path / "best.npz")  # val_loss falls each epoch: the last is best
    np.testing.assert_array_equal(other.predict(x), model.predict(x))


def test_callback_hooks_order_params_and_stop_training():
    calls = []

    def recorder(hook):
        return lambda self, *args: calls.append(hook)

    hooks = {h: recorder(h) for h in keras.callbacks.HOOKS}
    Recorder = type("Recorder", (keras.callbacks.Callback,), hooks)  # noqa: N806

    class StopAfter3(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.global_step == 3:
                self.model.stop_training = True

    model = _linear_model()
    rec = Recorder()
    x = np.ones((20, 3), np.float32)
    model.fit(x, np.ones(20), batch_size=10, epochs=2, validation_data=(x, np.ones(20)),
              callbacks=[rec], verbose=0)  # fmt: skip
    epoch = ["on_epoch_begin", *["on_train_batch_begin", "on_train_batch_end"] * 2,
             "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_batch_begin",
             "on_test_batch_end", "on_test_end", "on_epoch_end"]  # fmt: skip
    assert calls == ["on_train_begin", *epoch, *epoch, "on_train_end"]
    assert rec.params == {"verbose": 0, "epochs": 2, "steps": 2} and rec.model is model
    assert model.global_step == 4  # batches since compile, across fits
    model = _linear_model()
    hist = model.fit(x, np.ones(20), batch_size=2, epochs=5, callbacks=[StopAfter3()], verbose=0)
    assert model.global_step == 3 and len(hist.epoch) == 1


def test_progress_lines_when_not_a_terminal(capsys):
    x, y = _blobs(100, 8, classes=2)
    model = keras.Sequential([L.Dense(2, activation="softmax", input_shape=(2,))])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=32, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert lines[::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    line = re.compile(
        r"^4/4 \[={30}\] - \d+s \d+(us|ms|s)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4}$"
    )
    assert len(lines) == 6 and all(line.match(ln) for ln in lines[1::2])
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y)
    model.predict(x)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(
        re.match(r"^3/3 - \d+s - loss: .* - val_accuracy: \d\.\d{4} - \d+(us|ms|s)/step$", ln)
        for ln in lines[1::2]
    )


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_redraws_in_place_on_a_terminal():
    stream = _Terminal()
    bar = Progbar(10, verbose=1, stream=stream)
    bar._last -= 1  # the first update is not throttled
    bar.update(5, {"loss": 0.5})
    bar.finish({"loss": 0.25})
    text = stream.getvalue()
    assert text.startswith("\r 5/10 [==============>...............] - ETA: ")
    assert text.endswith("\r10/10 [==============================] - 0s " + text.split(" - 0s ")[1])
    assert text.rstrip("\n").endswith("loss: 0.2500") and text.count("\n") == 1


def test_fit_errors_say_what_is_wrong():
    model = keras.Sequential([L.Dense(1, input_shape=(3,))])
    x = np.ones((10, 3), np.float32)
    with pytest.raises(RuntimeError, match="must compile your model before training"):
        model.fit(x, np.ones(10))
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"x sizes: 10; y sizes: 9"):
        model.fit(x, np.ones(9))
    with pytest.raises(ValueError, match=r'layer "dense".*\(None, 3\).*\(10, 5\)'):
        model.fit(np.ones((10, 5)), np.ones(10))
    with pytest.raises(ValueError, match=r'layer "dense".*\(None, 3\).*\(4, 2\)'):
        model.predict(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"targets of shape \(10, 4\) do not fit .*\(None, 1\)"):
        model.fit(x, np.ones((10, 4)))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        model.fit(x, np.ones(10), batch_size=0)
