"""examples/serve_linear_regression.py: two versions trained on different data, exported,
served and swapped under load, with the server's traffic run beside the training runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import flowlog as fl
from flowlog.backends import open_logdir

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "serve_linear_regression.py"


def _example():
    spec = importlib.util.spec_from_file_location("serve_linear_regression", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_swaps_versions_under_load_and_logs_it(tmp_path):
    example = _example()
    logdir, models = tmp_path / "runs", tmp_path / "models"
    args = ["--logdir", str(logdir), "--model-dir", str(models), "--steps", "200"]
    result = example.main([*args, "--demo-traffic"])
    assert result["served"][1] > 0 and result["served"][2] > 0  # both versions answered
    for version, path in zip((1, 2), result["paths"], strict=True):
        w, b = example.TRUTH[version]
        got = fl.saved_model.load(path)(np.float32([[1.0, 2.0]]))["y"]
        assert abs(float(got[0, 0]) - (w[0] + 2 * w[1] + b)) < 0.02  # the closed form
    provider = open_logdir(logdir, cache=False)
    names = sorted(r.name for r in provider.runs())
    assert {"serve_linear_regression/v1", "serve_linear_regression/v2"} < set(names)
    (serving,) = [n for n in names if n.startswith("serve-")]
    served = provider.scalars(serving, "linreg/serving_version").value
    assert served[0] == 1 and served[-1] == 2
    assert provider.run_info(serving).status == "finished"
