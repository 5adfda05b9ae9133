"""A run written from another host (a shared filesystem): a second writer is refused while the
first one's heartbeat is fresh, without touching a byte of the database, and allowed to resume
once the heartbeat is stale (that writer crashed)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from flowlog import schema
from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OTHER_PID = 4_000_000  # above Linux's pid_max: never a process here


def write_run(run_dir, n=100):
    with SummaryWriter(run_dir) as w:
        for step in range(n):
            w.add_scalar("loss", step * 0.5, step)
        w.add_text("note", "hello", 0)


def pretend_running_elsewhere(db, heartbeat, host="other-host"):
    """What a live writer on ``host`` leaves in the run row (as tests may, with sqlite3)."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE run SET host = ?, pid = ?, status = 'running', end_time = NULL, "
            "heartbeat = ? WHERE id = 1",
            (host, OTHER_PID, heartbeat),
        )
    conn.close()  # the last connection: the WAL is folded into the file and removed


def run_row(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return schema.read_run(conn)
    finally:
        conn.close()


def points(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tags = [r[0] for r in conn.execute("SELECT id FROM tags WHERE kind = 'scalar'")]
        out = []
        for tid in sorted(tags):
            steps, walls, values = schema.read_series(conn, tid)
            columns = ([tid] * steps.size, steps.tolist(), walls.tolist(), values.tolist())
            out += zip(*columns, strict=True)
        return out
    finally:
        conn.close()


def snapshot(db):
    """The file's bytes and what its WAL holds (an absent and an empty WAL are the same)."""
    with open(db, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    wal = db + "-wal"
    return digest, os.path.getsize(wal) if os.path.exists(wal) else 0


def test_a_live_writer_on_another_host_is_refused_and_nothing_changes(tmp_path):
    run_dir = str(tmp_path / "runs" / "shared")
    write_run(run_dir)
    db = os.path.join(run_dir, "flowlog.db")
    pretend_running_elsewhere(db, time.time())
    row, before, files = run_row(db), points(db), snapshot(db)
    assert files[1] == 0

    with pytest.raises(ValueError) as info:
        SummaryWriter(run_dir)
    message = str(info.value)
    assert "'other-host'" in message and repr(run_dir) in message and str(OTHER_PID) in message
    assert "one writer per run" in message

    assert run_row(db) == row  # same status, host, pid, heartbeat
    assert row["status"] == "running" and row["host"] == "other-host"
    assert points(db) == before and len(before) == 100
    assert snapshot(db) == files  # not a byte written, no WAL grown
    with pytest.raises(ValueError, match="other-host"):  # a retry is refused the same way
        SummaryWriter(logdir=tmp_path / "runs", run_name="shared")
    assert snapshot(db) == files


def test_a_stale_heartbeat_means_that_writer_crashed_so_resuming_is_allowed(tmp_path):
    import socket

    run_dir = str(tmp_path / "shared")
    write_run(run_dir)
    db = os.path.join(run_dir, "flowlog.db")
    pretend_running_elsewhere(db, time.time() - 10_000)
    assert Logdir(tmp_path).run("shared").info.status == "crashed"

    w = SummaryWriter(run_dir)
    row = run_row(db)
    assert (row["status"], row["host"], row["pid"]) == (
        "running",
        socket.gethostname(),
        os.getpid(),
    )
    assert time.time() - row["heartbeat"] < 60
    w.add_scalar("loss", 99.0)  # continues after the stored steps
    w.close()
    run = Logdir(tmp_path).run("shared")
    assert run.info.status == "finished"
    loss = run.scalars("loss")
    assert loss.step.tolist() == list(range(101)) and loss.value[-1] == 99.0
    assert [t[3] for t in run.texts("note")] == ["hello"]


OTHER_HOST_WRITER = """
    import socket, sys
    socket.gethostname = lambda: "other-host"  # this process is "on another host"
    from flowlog.writer import SummaryWriter
    w = SummaryWriter(sys.argv[1], flush_secs=0.2)
    for step in range(10_000):
        w.add_scalar("loss", step * 0.5, step)
    w.flush()
    print("flushed", flush=True)
    sys.stdin.readline()  # the other writer tries meanwhile
    for step in range(10_000, 20_000):
        w.add_scalar("loss", step * 0.5, step)
    w.close()
    print("closed", flush=True)
"""


def test_a_second_process_on_another_host_is_refused_and_loses_no_point(tmp_path):
    run_dir = str(tmp_path / "shared")
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(OTHER_HOST_WRITER), run_dir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "flushed", proc.stderr.read()
        db = os.path.join(run_dir, "flowlog.db")
        assert run_row(db)["host"] == "other-host"
        with pytest.raises(ValueError, match=r"on host 'other-host'.*one writer per run"):
            SummaryWriter(run_dir)
        with pytest.raises(ValueError, match="other-host"):
            SummaryWriter(run_dir, purge_step=0)  # and purges nothing
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and out.strip() == "closed", err
    run = Logdir(tmp_path).run("shared")
    loss = run.scalars("loss")
    assert loss.step.tolist() == list(range(20_000))
    assert loss.value.tolist() == [s * 0.5 for s in range(20_000)]
    assert (run.info.status, run.info.host) == ("finished", "other-host")
