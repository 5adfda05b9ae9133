"""The README's "From PyTorch" script is a torch.utils.tensorboard script: it runs with torch's
writer as it stands, and with flowlog's with only the import swapped, and what it logged reads
back through the provider."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="the PyTorch drop-in tests need torch (the torch extra)"
)
pytest.importorskip("tensorboard", reason="torch.utils.tensorboard needs the tensorboard package")

from flowlog.backends import open_logdir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FLOWLOG_IMPORT = "from flowlog.writer import SummaryWriter"
TORCH_IMPORT = "from torch.utils.tensorboard import SummaryWriter"


def _readme_script() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### From PyTorch") :]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def _run(code: str, cwd: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_readme_script_is_a_torch_script_and_runs_unchanged_on_flowlog(tmp_path):
    code = _readme_script()
    assert FLOWLOG_IMPORT in code and "import flowlog" not in code.replace(FLOWLOG_IMPORT, "")
    (tmp_path / "torch").mkdir()
    _run(code.replace(FLOWLOG_IMPORT, TORCH_IMPORT), tmp_path / "torch")
    assert any(
        f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "torch/runs/exp1")
    )
    (tmp_path / "flowlog").mkdir()
    _run(code, tmp_path / "flowlog")
    run_dir = tmp_path / "flowlog/runs/exp1"
    assert sorted(f for f in os.listdir(run_dir) if not f.endswith(("-wal", "-shm"))) == [
        "flowlog.db",
        "model.pt",
    ]
    data = open_logdir(tmp_path / "flowlog/runs")
    [info] = data.runs()
    assert (info.name, info.status) == ("exp1", "finished")
    tags = data.tags("exp1")
    assert tags["Loss/train"].count == 200
    charts = {(t.chart, t.series) for t in tags.values() if t.series}
    assert charts == {("Accuracy", "train"), ("Accuracy", "val")}
    train = data.scalars("exp1", "Accuracy\x1ftrain").value
    val = data.scalars("exp1", "Accuracy\x1fval").value
    np.testing.assert_allclose(val, train - 0.05, atol=1e-6)  # float32 tensors, stored exactly
    assert [h.step for h in data.histograms("exp1", "fc1/weight")] == [0, 50, 100, 150]
    assert [(i.height, i.width, i.channels) for i in data.images("exp1", "inputs")] == [
        (4, 5, 3)
    ] * 4
    [curve] = data.pr_curves("exp1", "positive")
    assert curve.table.shape == (6, 127) and curve.step == 199
    [trial] = data.trials("exp1")
    assert trial.hparams == {"lr": 0.1, "width": 64} and "hparam/loss" in trial.metrics
