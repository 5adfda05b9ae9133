"""benchmarks/keras.py smoke test: its flowlog, numpy and torch LeNets compute the same loss
from the same weights (before and after one SGD step), and a tiny run of ``main`` reports every
contender and target. Speed is printed by the script, never asserted here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_keras", ROOT / "benchmarks/keras.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_three_implementations_agree_on_first_batch_loss(bench):
    found = bench.check_agreement(batch=8, seed=3)
    before, after = found["flowlog"]
    assert before == pytest.approx(np.log(10), rel=0.2)  # near-uniform logits at the start
    assert after < before  # the step moved the weights downhill
    for name in ("numpy", "torch") if bench.have_torch() else ("numpy",):
        np.testing.assert_allclose(found[name], (before, after), rtol=1e-4, err_msg=name)


def test_numpy_step_gradient_matches_finite_difference(bench):
    """The hand-written backward pass is right (a wrong baseline would pass the agreement
    check only if flowlog were wrong the same way): one bias, central difference."""
    weights = bench.lenet_weights(seed=5)
    x, _, y = bench.lenet_data(4, seed=6)
    stepped = [w.astype(np.float64) for w in weights]
    lr = 1.0
    bench.numpy_step(stepped, x.astype(np.float64), y.astype(np.float64), lr)
    analytic = (weights[1].astype(np.float64) - stepped[1]) / lr  # conv1 bias gradient
    eps, i = 1e-5, 2
    losses = []
    for sign in (1, -1):
        w = [a.astype(np.float64) for a in weights]
        w[1][i] += sign * eps
        losses.append(bench.numpy_step(w, x.astype(np.float64), y.astype(np.float64), train=False))
    assert analytic[i] == pytest.approx((losses[0] - losses[1]) / (2 * eps), rel=1e-4)


def test_tiny_main_reports_every_contender_and_target(bench, capsys):
    """Default malloc only: the steady mode would change this test process's allocator."""
    argv = ["--quick", "--batch", "8", "--steps", "2", "--repeats", "1", "--malloc", "default"]
    result = bench.main(argv)
    out = capsys.readouterr().out
    lenet = {"flowlog fit", "flowlog sess.run", "numpy"}
    lenet |= {"torch"} if bench.have_torch() else set()
    assert list(result["lenet"]) == ["default"]
    assert set(result["lenet"]["default"]) == set(result["faults"]["default"]) == lenet
    assert set(result["mlp"]) == {"sess.run loop", "fit", "loop + loss"}
    times = [*result["lenet"]["default"].values(), *result["mlp"].values()]
    assert all(t > 0 for ts in times for t in ts)
    assert [row[0] for row in result["summary"]][-1] == "MLP fit / sess.run loop"
    assert "load average" in out and ("PASS" in out or "MISS" in out)
