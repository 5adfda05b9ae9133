"""Runs written before a run was a directory: one file ``<logdir>/<run>.flowlog.db`` at schema
version 1. They read as they are, and a writer resuming one appends to it (migrated to v2, its
hparams record kept as the first trial)."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

from flowlog import schema, schema_legacy
from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter


def _write_v1_run(path: str, points: int = 100) -> None:
    """A version-1 log as flowlog 0.1's writer left it: v1 tables, one hparams record."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in schema.MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    now = time.time()
    meta = {"name": "old", "start_time": now - 100, "heartbeat": now - 50, "host": "h", "pid": 1,
            "cmdline": ["train.py"], "flowlog_version": "0.1.0", "flush_secs": 5.0}  # fmt: skip
    schema.start_run(conn, meta)
    schema.end_run(conn, "finished", now - 50)
    conn.execute("INSERT INTO tags (id, tag, kind) VALUES (1, 'loss', 'scalar')")
    schema_legacy.insert_scalars(conn, [(1, s, now, 1.0 / (s + 1)) for s in range(points)])
    schema_legacy.update_rollups(conn, 1, 0, points - 1)
    conn.executemany(
        "INSERT INTO hparams (role, name, value) VALUES (?, ?, ?)",
        [("hparam", "lr", json.dumps(0.1)), ("hparam", "opt", json.dumps("sgd")),
         ("metric", "acc", json.dumps(0.9))],
    )  # fmt: skip
    conn.close()


def test_a_version_1_single_file_run_reads_as_it_is(tmp_path):
    _write_v1_run(str(tmp_path / "old.flowlog.db"))
    before = (tmp_path / "old.flowlog.db").read_bytes()
    with Logdir(tmp_path) as ld:
        [info] = ld.runs()
        run = ld.run("old")
        assert (info.name, info.status, info.last_step) == ("old", "finished", 99)
        assert run.scalars("loss").value[:3].tolist() == [1.0, 0.5, 1 / 3]
        assert [t.count for t in run.tags()] == [100]
        [trial] = run.trials()
        assert (trial.hparams, trial.metrics) == ({"lr": 0.1, "opt": "sgd"}, {"acc": 0.9})
        assert run.hparams() == ({"lr": 0.1, "opt": "sgd"}, {"acc": 0.9})
        assert run.custom_scalars() is None
    assert (tmp_path / "old.flowlog.db").read_bytes() == before  # reading never migrates


def test_resuming_a_single_file_run_appends_to_it_and_keeps_its_hparams(tmp_path):
    _write_v1_run(str(tmp_path / "old.flowlog.db"))
    with SummaryWriter(logdir=tmp_path, run_name="old") as w:
        assert w.path == str(tmp_path / "old.flowlog.db")
        assert w.get_logdir() == str(tmp_path / "old") and os.path.isdir(w.get_logdir())
        w.add_scalar("loss", 0.001)  # continues after the stored steps
        w.add_hparams({"lr": 0.01, "opt": "adam"}, {"acc": 0.95})
        w.add_image("img", [[0.0, 1.0]], 0, dataformats="HW")
    conn = sqlite3.connect(tmp_path / "old.flowlog.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()
    assert not os.path.exists(tmp_path / "old" / "flowlog.db")
    with Logdir(tmp_path) as ld:
        assert [r.name for r in ld.runs()] == ["old"]
        run = ld.run("old")
        assert run.scalars("loss").step.tolist() == list(range(101))
        assert [(t.hparams["lr"], t.metrics["acc"]) for t in run.trials()] == [
            (0.1, 0.9),
            (0.01, 0.95),
        ]
        assert [i.width for i in run.images("img")] == [2]


def test_a_run_directory_wins_over_a_single_file_of_the_same_name(tmp_path):
    _write_v1_run(str(tmp_path / "exp.flowlog.db"))
    os.makedirs(tmp_path / "exp")
    with SummaryWriter(str(tmp_path / "exp2")) as w:  # a new-layout run beside them
        w.add_scalar("x", 1.0, 0)
    os.rename(tmp_path / "exp2" / "flowlog.db", tmp_path / "exp" / "flowlog.db")
    with Logdir(tmp_path) as ld, pytest.warns(RuntimeWarning, match="exp.flowlog.db"):
        runs = ld.runs()
    assert [(r.name, r.path.endswith(os.path.join("exp", "flowlog.db"))) for r in runs] == [
        ("exp", True)
    ]
    assert any("same name" in w for w in ld.warnings)
