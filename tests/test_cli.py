"""The `flowlog` CLI end to end: real runs written by SummaryWriter (and the MLP example),
read back through the reader, rendered by the real `dot`."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flowlog.cli import main
from flowlog.writer import SummaryWriter

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"

TINY_GRAPH = {
    "nodes": [
        {"name": "x", "op": "Placeholder", "inputs": [], "shape": [None, 3]},
        {"name": "dense/w", "op": "Variable", "inputs": [], "shape": [3, 2]},
        {"name": "dense/y", "op": "MatMul", "inputs": ["x", "dense/w"], "shape": [None, 2]},
        {"name": "gradients/dense/y_grad", "op": "MatMulGrad", "inputs": ["dense/y", "x"]},
    ]
}


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    """Two runs: `exp1` with scalars (including NaN/Inf) and a graph; `sweep/b` without graph."""
    d = tmp_path_factory.mktemp("logs")
    with SummaryWriter(logdir=d, run_name="exp1") as w:
        for i in range(5):
            w.add_scalar("loss", 1.0 / (i + 1), i)
            w.add_scalar("acc", i / 10, i)
        w.add_scalar("loss", float("nan"), 5)
        w.add_scalar("acc", float("inf"), 5)
        w.add_graph(TINY_GRAPH)
    with SummaryWriter(logdir=d, run_name="sweep/b") as w:
        w.add_scalar("loss", 2.0, 0)
        w.add_text("note", "hello", 0)
    return d


def run_cli(capsysbinary, *argv) -> tuple[int, bytes, str]:
    code = main([str(a) for a in argv])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


def svg_ids(data: bytes) -> set[str]:
    return {g.get("id") for g in ET.fromstring(data).iter(SVG + "g")}


# --------------------------------------------------------------------------- runs


def test_runs_lists_runs(logdir, capsysbinary):
    code, out, err = run_cli(capsysbinary, "runs", logdir)
    assert code == 0, err
    lines = out.decode().splitlines()
    assert lines[0].split()[:3] == ["RUN", "STARTED", "STATUS"]
    exp1 = next(line for line in lines if line.startswith("exp1 "))
    assert "finished" in exp1 and " 6 " in exp1 and "2: loss, acc" in exp1 and " yes " in exp1
    sweep = next(line for line in lines if line.startswith("sweep/b "))
    assert " no " in sweep and "note" in sweep


def test_runs_json(logdir, capsysbinary):
    code, out, _ = run_cli(capsysbinary, "runs", logdir, "--json")
    assert code == 0
    rows = {r["run"]: r for r in json.loads(out)}
    assert set(rows) == {"exp1", "sweep/b"}
    assert rows["exp1"]["steps"] == 6 and rows["exp1"]["last_step"] == 5
    assert rows["exp1"]["graph"] is True and rows["sweep/b"]["graph"] is False
    assert sorted(rows["exp1"]["tags"]) == ["acc", "loss"]


# --------------------------------------------------------------------------- export-graph


def test_export_graph_svg_default_name(logdir, tmp_path, capsysbinary, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsysbinary, "export-graph", logdir, "--run", "exp1")
    assert code == 0, err
    ids = svg_ids((tmp_path / "exp1.svg").read_bytes())
    assert {"node:x", "node:dense/w", "node:dense/y", "scope:gradients", "cluster:dense"} <= ids
    assert "wrote exp1.svg" in err


def test_export_graph_formats_from_extension(logdir, tmp_path, capsysbinary):
    for ext, magic in [(".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF-"), (".dot", b"digraph")]:
        out = tmp_path / f"g{ext}"
        code, _, err = run_cli(capsysbinary, "export-graph", logdir, "--run", "exp1", "-o", out)
        assert code == 0, err
        assert out.read_bytes().startswith(magic), ext
    code, _, err = run_cli(
        capsysbinary, "export-graph", logdir, "--run", "exp1", "-o", tmp_path / "g.bin",
        "--format", "svg",
    )  # fmt: skip
    assert code == 0 and (tmp_path / "g.bin").read_bytes().startswith(b"<?xml")


def test_export_graph_to_stdout_with_options(logdir, capsysbinary):
    db = logdir / "exp1" / "flowlog.db"
    code, out, err = run_cli(capsysbinary, "export-graph", db, "-o", "-", "--show-gradients")
    assert code == 0, err
    ids = svg_ids(out)
    assert "node:gradients/dense/y_grad" in ids and "scope:gradients" not in ids
    code, out, _ = run_cli(
        capsysbinary, "export-graph", db, "-o", "-", "--format", "dot", "--collapse", "dense",
        "--no-legend",
    )  # fmt: skip
    text = out.decode()
    assert code == 0 and text.startswith("digraph flowlog {")
    assert 'id="scope:dense"' in text and "fl-legend" not in text
    code, out, _ = run_cli(capsysbinary, "export-graph", db, "-o", "-", "--depth", "0")
    assert code == 0 and "scope:dense" in svg_ids(out)


def test_export_graph_auto_folds_big_graphs(tmp_path, capsysbinary):
    nodes = [
        {"name": f"s{i}/t{j}/n{k}", "op": "Relu", "inputs": []}
        for i in range(3)
        for j in range(4)
        for k in range(5)
    ]
    with SummaryWriter(logdir=tmp_path, run_name="big") as w:
        w.add_graph({"nodes": nodes})
    code, out, err = run_cli(
        capsysbinary, "export-graph", tmp_path, "-o", "-", "--format", "dot", "--max-nodes", "20"
    )
    assert code == 0
    assert "folded to depth 1" in err
    assert out.decode().count('class="fl-scope"') == 12
    code, out, err = run_cli(
        capsysbinary, "export-graph", tmp_path, "-o", "-", "--format", "dot", "--max-nodes", "0"
    )
    assert code == 0 and "folded" not in err and 'class="fl-scope"' not in out.decode()


def test_export_graph_of_the_mlp_example(tmp_path, capsysbinary):
    spec = importlib.util.spec_from_file_location("mlp_example", ROOT / "examples" / "mlp.py")
    mlp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mlp)
    mlp.main(["--steps", "3", "--logdir", str(tmp_path), "--run-name", "mlp"])
    capsysbinary.readouterr()
    out = tmp_path / "mlp.svg"
    code, _, err = run_cli(capsysbinary, "export-graph", tmp_path, "-o", out)
    assert code == 0, err
    root = ET.fromstring(out.read_bytes())
    ids = {g.get("id") for g in root.iter(SVG + "g")}
    assert {"node:x", "node:hidden/w", "node:output/w", "cluster:hidden", "cluster:loss"} <= ids
    assert any(i.startswith("scope:gradients") for i in ids)
    labels = {t.text for t in root.iter(SVG + "text")}
    assert "?×784" in labels and "784×128" in labels
    code, out_runs, _ = run_cli(capsysbinary, "runs", tmp_path, "--json")
    assert code == 0 and "loss/train" in json.loads(out_runs)[0]["tags"]


# --------------------------------------------------------------------------- export-scalars


def test_export_scalars_csv_all(logdir, tmp_path, capsysbinary):
    out = tmp_path / "s.csv"
    code, _, err = run_cli(capsysbinary, "export-scalars", logdir, "-o", out)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {(r["run"], r["tag"]) for r in rows} == {
        ("exp1", "loss"),
        ("exp1", "acc"),
        ("sweep/b", "loss"),
    }
    loss = [r for r in rows if r["run"] == "exp1" and r["tag"] == "loss"]
    assert [int(r["step"]) for r in loss] == [0, 1, 2, 3, 4, 5]
    assert float(loss[1]["value"]) == 0.5 and math.isnan(float(loss[5]["value"]))
    acc = [r for r in rows if r["tag"] == "acc"]
    assert float(acc[-1]["value"]) == math.inf
    assert all(float(r["wall_time"]) > 1e9 for r in rows)


def test_export_scalars_json_filtered(logdir, tmp_path, capsysbinary):
    out = tmp_path / "s.json"
    code, _, err = run_cli(
        capsysbinary, "export-scalars", logdir, "--run", "exp1", "--tag", "acc", "-o", out
    )
    assert code == 0, err
    doc = json.loads(out.read_text())  # strict JSON: no bare NaN/Infinity
    assert doc["format"] == "flowlog.scalars/2"
    [series] = doc["series"]
    assert (series["run"], series["tag"]) == ("exp1", "acc")
    assert series["step"] == [0, 1, 2, 3, 4, 5]
    assert series["value"][:5] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert series["value"][5] == "Infinity" and float(series["value"][5]) == math.inf


def test_export_scalars_stdout(logdir, capsysbinary):
    code, out, _ = run_cli(
        capsysbinary, "export-scalars", logdir, "--tag", "loss", "-o", "-", "--format", "json"
    )
    assert code == 0
    assert {s["run"] for s in json.loads(out)["series"]} == {"exp1", "sweep/b"}
    code, out, _ = run_cli(capsysbinary, "export-scalars", logdir, "--run", "sweep/b", "-o", "-")
    assert out.decode().splitlines()[1].startswith("sweep/b,loss,0,")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export-graph", "{logdir}"], "holds 2 runs; choose one with --run: exp1, sweep/b"),
        (["export-graph", "{logdir}", "--run", "nope"], "no run named 'nope'.*runs: exp1, sweep/b"),
        (["export-graph", "{logdir}", "--run", "sweep/b"], "run 'sweep/b' has no graph logged"),
        (["export-graph", "{logdir}/missing"], "path does not exist: .*missing"),
        (["export-graph", "{logdir}", "--run", "exp1", "--collapse", "zz"], "no scope 'zz'"),
        (["export-graph", "{logdir}", "--run", "exp1", "-o", "g.gif"], "cannot tell the format"),
        (["export-graph", "{junk}"], "not a flowlog log"),
        (["export-graph", "{notlog}"], "not a flowlog log"),
        (["runs", "{empty}"], "no flowlog runs under"),
        (["export-scalars", "{logdir}", "--tag", "los", "-o", "-"], "'los'.*mean 'loss'"),
        (["export-scalars", "{logdir}", "--run", "x", "-o", "-"], "no run named 'x'"),
        (
            ["export-graph", "{logdir}", "--run", "exp1", "-o", "{logdir}/no/dir/g.svg"],
            "cannot write",
        ),
    ],
)
def test_errors_are_one_line(argv, message, logdir, tmp_path, capsysbinary):
    junk = tmp_path / "junk.flowlog.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    notlog = tmp_path / "notes.txt"
    notlog.write_text("hello")
    (tmp_path / "empty").mkdir()
    fill = {"logdir": logdir, "junk": junk, "notlog": notlog, "empty": tmp_path / "empty"}
    code, out, err = run_cli(capsysbinary, *[a.format(**fill) for a in argv])
    assert code == 1
    assert err.startswith("flowlog: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err


def test_console_script_without_dot_exits_cleanly(logdir, tmp_path):
    exe = shutil.which("flowlog", path=os.path.dirname(sys.executable))
    assert exe, "console script not installed: pip install -e ."
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))  # no dot on PATH
    proc = subprocess.run(
        [exe, "export-graph", str(logdir), "--run", "exp1", "-o", str(tmp_path / "g.svg")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("flowlog: error: ") and "apt-get install graphviz" in proc.stderr
    usage = subprocess.run([exe, "export-graph"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr
