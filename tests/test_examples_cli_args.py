"""The examples agree with each other: every one writes its run into ``--logdir`` (the graph
example too), takes the learning rate as ``--lr`` and logs it as the hparam ``lr``.

Each example is run for real (few steps) and its log read back through the provider.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from flowlog.backends import open_logdir

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_computation_graph_writes_its_graph_run_into_the_logdir(tmp_path, capsys):
    result = load("computation_graph").main(["--logdir", str(tmp_path)])
    assert result["value"] == 23.0
    data = open_logdir(tmp_path)
    assert [r.name for r in data.runs()] == ["computation_graph"]
    graph = data.graph("computation_graph")
    names = {n["name"] for n in graph["nodes"]}
    assert {"a", "b", "c", "d", "e"} <= names
    assert list(data.scalars("computation_graph", "e").value) == [23.0]
    assert "wrote run 'computation_graph'" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--lr", "--learning-rate"])  # the old spelling still works
def test_nan_debugging_takes_lr_and_logs_it_as_lr(tmp_path, flag):
    module = load("nan_debugging")
    assert module.main(["--logdir", str(tmp_path), "--steps", "3", flag, "0.03"]) == 0
    hparams, _metrics = open_logdir(tmp_path).hparams("nan_debugging")
    assert hparams == {"lr": 0.03, "seed": 0}


def test_every_example_spells_the_learning_rate_lr():
    for path in sorted(EXAMPLES.glob("*.py")):
        text = path.read_text()
        assert '"learning_rate"' not in text, path.name  # as an hparam key
        if "--learning-rate" in text or "--lr" in text:
            assert re.search(r'add_argument\(\s*"--lr"', text), path.name
