"""``fl.keras.callbacks.FlowLog`` on the real engine, writer and SQLite log, read back through
the provider as the dashboard reads it: Keras' two runs and tag names at Keras' steps, the
graph with layer scopes, per-layer watch statistics under the graph's node names, hparams,
argument errors, a crash mid-training; and the two Keras examples reach their answers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import flowlog as fl
from flowlog import render
from flowlog.backends import open_logdir

keras = fl.keras
L = keras.layers
ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("conv2d", "max_pooling2d", "flatten", "dropout", "dense")


@pytest.fixture(autouse=True)
def _fresh():
    """Seeded, and layer names from a fresh default graph (``conv2d``, not ``conv2d_3``)."""
    keras.utils.set_random_seed(0)
    with fl.Graph().as_default():
        yield


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, n)


def _cnn():
    model = keras.Sequential([
        keras.Input((6, 6, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
        L.Flatten(), L.Dropout(0.2), L.Dense(3, activation="softmax"),
    ])  # fmt: skip
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def _fit(logdir, epochs=3, model=None, callbacks=(), **flowlog_args):
    """Fit the small CNN on 40 samples (batches of 16: 3 per epoch) + 8 validation samples."""
    model = model or _cnn()
    x, y = _images(48)
    log = keras.callbacks.FlowLog(logdir, **flowlog_args)
    hist = model.fit(x[:40], y[:40], batch_size=16, epochs=epochs, validation_data=(x[40:], y[40:]),
                     callbacks=[log, *callbacks], verbose=0)  # fmt: skip
    return model, hist, log


def _steps(data, run, tag):
    return [int(s) for s in data.scalars(run, tag).step]


def test_train_and_validation_runs_carry_keras_epoch_tags(tmp_path):
    _, hist, _ = _fit(tmp_path)
    data = open_logdir(tmp_path, cache=False)
    assert sorted(r.name for r in data.runs()) == ["train", "validation"]
    scalars = {run: sorted(data.tags(run, "scalar")) for run in ("train", "validation")}
    assert scalars["validation"] == ["epoch_accuracy", "epoch_loss"]
    assert not [t for t in scalars["train"] if t.startswith("batch_")]  # update_freq="epoch"
    for run, prefix in (("train", ""), ("validation", "val_")):
        for metric in ("loss", "accuracy"):
            series = data.scalars(run, f"epoch_{metric}")
            assert list(series.step) == [0, 1, 2]
            np.testing.assert_allclose(series.value, hist.history[prefix + metric], rtol=1e-6)


def test_batch_tags_at_the_global_step_every_batch_or_every_n(tmp_path):
    model, hist, _ = _fit(tmp_path / "every", update_freq="batch")
    data = open_logdir(tmp_path / "every", cache=False)
    assert _steps(data, "train", "batch_loss") == list(range(9))
    # a batch's logs are the epoch's running averages: the last batch's is the epoch's value
    np.testing.assert_allclose(
        data.scalars("train", "batch_loss").value[2::3], hist.history["loss"], rtol=1e-6
    )
    assert "batch_loss" not in data.tags("validation")
    _fit(tmp_path / "n", update_freq=4)
    assert _steps(open_logdir(tmp_path / "n", cache=False), "train", "batch_accuracy") == [0, 4, 8]
    # a second fit of the same model appends: its batches continue the global step
    _fit(tmp_path / "every", model=model, epochs=1, update_freq="batch")
    assert _steps(open_logdir(tmp_path / "every", cache=False), "train", "batch_loss") == list(
        range(12)
    )


def test_graph_is_logged_with_layer_scopes_and_folded_machinery(tmp_path):
    _fit(tmp_path)
    desc = open_logdir(tmp_path, cache=False).graph("train")
    names = {n["name"] for n in desc["nodes"]}
    weights = {"conv2d/kernel", "conv2d/bias", "dense/kernel", "dense/bias"}
    assert {s.path for s in render.scopes(desc) if s.level == 1} >= {*LAYERS, "loss", "gradients"}
    assert weights <= names and set(desc["gradient_of"]) == weights
    assert "gradients" in render.default_collapse(desc)
    assert open_logdir(tmp_path, cache=False).graph("validation") is None


def test_watch_statistics_per_layer_weight_every_histogram_freq_epochs(tmp_path):
    model, _, _ = _fit(tmp_path, epochs=5, histogram_freq=2)
    data = open_logdir(tmp_path, cache=False)
    desc = data.graph("train")
    # the Graph view colours a node by the statistics logged under its name
    assert sorted(data.watched_nodes("train")) == sorted(desc["trainable"])
    weights = dict(zip([v.name for v in model.weights], model.get_weights(), strict=True))
    for node in desc["trainable"]:
        stats = data.watch_stats("train", node)
        assert {"grad_norm", "value_norm", "update_ratio", "grad_nan"} <= set(stats)
        assert list(stats["grad_norm"].step) == [0, 2, 4]
        assert np.all(np.isfinite(stats["grad_norm"].value)) and stats["grad_norm"].value[-1] > 0
        # epoch 4's statistics are of the epoch's last batch: the weights the model ends with
        assert stats["value_norm"].value[-1] == pytest.approx(np.linalg.norm(weights[node]))
        assert 0 < stats["update_ratio"].value[-1] < 1
        assert [h.step for h in data.histograms("train", f"watch/{node}/grad")] == [0, 2, 4]


def test_histogram_freq_zero_logs_no_statistics(tmp_path):
    _fit(tmp_path, histogram_freq=0)
    data = open_logdir(tmp_path, cache=False)
    assert data.watched_nodes("train") == []
    assert not [t for t in data.tags("train") if t.startswith("watch/")]


def test_hparams_are_the_compile_and_fit_arguments_with_the_final_metrics(tmp_path):
    _, hist, _ = _fit(tmp_path, hparams={"model": "small-cnn"})
    hparams, metrics = open_logdir(tmp_path, cache=False).hparams("train")
    assert hparams == {
        "optimizer": "Adam", "lr": 0.01, "loss": "sparse_categorical_crossentropy",
        "batch_size": 16, "epochs": 3, "model": "small-cnn",
    }  # fmt: skip
    assert metrics == pytest.approx({k: v[-1] for k, v in hist.history.items()})


def test_a_fit_from_scratch_restarts_its_runs(tmp_path):
    _fit(tmp_path, epochs=4)
    _fit(tmp_path, epochs=2)  # a new model: as re-running the script
    data = open_logdir(tmp_path, cache=False)
    assert _steps(data, "train", "epoch_loss") == [0, 1]
    assert _steps(data, "validation", "epoch_loss") == [0, 1]
    assert len(data.trials("train")) == 1


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"update_freq": "epochs"}, ValueError, "FlowLog: update_freq .*got 'epochs'"),
        ({"update_freq": 0}, ValueError, "FlowLog: update_freq .*got 0"),
        ({"update_freq": True}, ValueError, "FlowLog: update_freq .*got True"),
        ({"update_freq": 2.5}, ValueError, "FlowLog: update_freq .*got 2.5"),
        ({"histogram_freq": -1}, ValueError, "FlowLog: histogram_freq must be >= 0 .*got -1"),
        ({"histogram_freq": "1"}, TypeError, "FlowLog: histogram_freq must be an int.*got '1'"),
        ({"run_name": ""}, ValueError, "FlowLog: run_name .*got ''"),
        ({"hparams": {"layers": [1, 2]}}, TypeError, "hparam 'layers': .*got list"),
    ],
)
def test_bad_arguments_are_refused_naming_the_value(tmp_path, args, error, message):
    with pytest.raises(error, match=message):
        keras.callbacks.FlowLog(tmp_path, **args)


def test_training_that_raises_leaves_a_readable_log_and_the_next_fit_appends(tmp_path):
    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("boom")

    model = _cnn()
    with pytest.raises(RuntimeError, match="boom"):
        _fit(tmp_path, model=model, callbacks=[Boom()])
    data = open_logdir(tmp_path, cache=False)
    assert _steps(data, "train", "epoch_loss") == [0, 1]  # flushed after each epoch
    assert _steps(data, "validation", "epoch_loss") == [0, 1]
    _, _, log = _fit(tmp_path, model=model, epochs=3)  # same dirs, writers reopened
    assert _steps(open_logdir(tmp_path, cache=False), "train", "epoch_loss") == [0, 1, 2]
    assert all(w.closed for w in log._writers.values())


def test_run_name_puts_both_runs_under_it(tmp_path):
    _fit(tmp_path, run_name="cnn/lr=0.01", epochs=1)
    names = sorted(r.name for r in open_logdir(tmp_path, cache=False).runs())
    assert names == ["cnn/lr=0.01/train", "cnn/lr=0.01/validation"]


def test_keras_core_does_not_import_the_writer_until_callbacks_is_used():
    code = (
        "import sys, flowlog as fl; fl.keras.Sequential; "
        "assert 'flowlog.writer' not in sys.modules, 'eager'; "
        "assert fl.keras.callbacks.EarlyStopping and fl.keras.callbacks.FlowLog; "
        "assert 'flowlog.writer' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ------------------------------------------------------------------------- examples
def _example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / f"examples/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_keras_linear_regression_equals_the_from_scratch_example_and_lstsq(tmp_path, capsys):
    module = _example("keras_linear_regression")
    result = module.main(["--logdir", str(tmp_path)])
    scratch = _example("linear_regression").main(["--logdir", str(tmp_path)])
    tol = module.TOLERANCE
    np.testing.assert_allclose(result["w"], result["w_lstsq"], atol=tol)
    np.testing.assert_allclose(result["b"], result["b_lstsq"], atol=tol)
    np.testing.assert_allclose(result["w"], scratch["w"], atol=tol)
    np.testing.assert_allclose(result["b"], scratch["b"], atol=tol)
    assert "keras_linear_regression/lr=0.1/train" in capsys.readouterr().out
    data = open_logdir(tmp_path, cache=False)
    assert _steps(data, "keras_linear_regression/lr=0.1/train", "epoch_loss") == list(range(300))
    assert data.hparams("keras_linear_regression/lr=0.1/train")[0]["lr"] == 0.1


def test_keras_mnist_like_learns_the_digits_in_a_short_run(tmp_path):
    result = _example("keras_mnist_like").main(["--logdir", str(tmp_path), "--epochs", "5"])
    assert result["val_accuracy"] > 0.9  # the docstring's 0.92 after 5 epochs
    data = open_logdir(tmp_path, cache=False)
    run = "keras_mnist_like/lr=0.01"
    assert sorted(r.name for r in data.runs()) == [f"{run}/train", f"{run}/validation"]
    assert {"conv2d/kernel", "conv2d_1/kernel", "dense/kernel"} <= set(
        data.watched_nodes(f"{run}/train")
    )
    assert _steps(data, f"{run}/validation", "epoch_accuracy") == list(range(5))
