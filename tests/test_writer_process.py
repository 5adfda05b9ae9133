"""Writers in real subprocesses: SIGKILL mid-run, concurrent writers and a reader, exit status."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from flowlog import schema
from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter

ENV = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}


def spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


KILLED_WRITER = """
    import sys
    from flowlog.writer import SummaryWriter
    w = SummaryWriter(logdir=sys.argv[1], run_name="victim", max_queue=10**9, flush_secs=3600)
    step = 0
    while True:
        for _ in range(1000):
            w.add_scalar("a", step * 0.5, step)
            w.add_scalar("b", -step, step)
            step += 1
        w.add_histogram("h", [step, step + 1.0], step)
        w.flush()
        print("flushed", step, flush=True)
"""


def test_sigkill_leaves_a_sound_database_with_every_flushed_point(tmp_path):
    proc = spawn(KILLED_WRITER, str(tmp_path))
    flushed = 0
    try:
        while flushed < 5000:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            flushed = int(line.split()[1])
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    path = tmp_path / "victim" / "flowlog.db"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert schema.integrity_check(conn) == "ok"
    conn.close()
    ld = Logdir(tmp_path)
    (info,) = ld.runs()
    assert info.status == "crashed"  # still marked running, but its pid is gone
    run = ld.run("victim")
    a, b = run.scalars("a"), run.scalars("b")
    n = len(a.step)
    assert n >= flushed and n % 1000 == 0  # whole flushes only: each is one transaction
    np.testing.assert_array_equal(a.step, np.arange(n))
    np.testing.assert_array_equal(a.value, np.arange(n) * 0.5)
    np.testing.assert_array_equal(b.value, -np.arange(n))
    assert len(run.histograms("h")) == n // 1000
    assert run.scalars_downsampled("a", 10).count.sum() == n


CONCURRENT_WRITER = """
    import sys
    from flowlog.writer import SummaryWriter
    name, n = sys.argv[2], int(sys.argv[3])
    with SummaryWriter(logdir=sys.argv[1], run_name=name, max_queue=1500, flush_secs=0.2) as w:
        for step in range(n):
            w.add_scalar("loss", step + 0.25, step)
            w.add_scalar("acc", -step, step)
    print("done", flush=True)
"""


def test_several_writer_processes_and_a_live_reader(tmp_path):
    n = 30_000
    procs = [spawn(CONCURRENT_WRITER, str(tmp_path), f"w{i}", str(n)) for i in range(3)]
    ld = Logdir(tmp_path)
    seen: dict[str, int] = {}
    reads = 0
    try:
        while any(p.poll() is None for p in procs) or reads == 0:
            for info in ld.runs():
                run = ld.run(info.name)
                if not any(t.tag == "loss" for t in run.tags()):
                    continue
                new = run.scalars_since("loss", seen.get(info.name, -1))
                if new.step.size:
                    # increments are contiguous and exact: nothing lost, nothing reordered
                    start = seen.get(info.name, -1) + 1
                    np.testing.assert_array_equal(new.step, np.arange(start, start + new.step.size))
                    np.testing.assert_array_equal(new.value, new.step + 0.25)
                    seen[info.name] = int(new.step[-1])
                run.scalars_downsampled("loss", 50)
                reads += 1
            time.sleep(0.02)
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == "done"
    assert ld.warnings == []
    assert reads > 3
    infos = {r.name: r for r in ld.runs()}
    assert set(infos) == {"w0", "w1", "w2"}
    for name, info in infos.items():
        assert info.status == "finished" and info.last_step == n - 1
        run = ld.run(name)
        loss = run.scalars("loss")
        np.testing.assert_array_equal(loss.step, np.arange(n))
        np.testing.assert_array_equal(loss.value, np.arange(n) + 0.25)
        np.testing.assert_array_equal(run.scalars("acc").value, -np.arange(n))


@pytest.mark.parametrize(
    "ending, status",
    [("pass", "finished"), ("raise SystemExit(0)", "finished"), ("1 / 0", "crashed")],
)
def test_interpreter_exit_closes_the_run(tmp_path, ending, status):
    code = f"""
        import sys
        from flowlog.writer import SummaryWriter
        w = SummaryWriter(logdir=sys.argv[1], run_name="r", flush_secs=3600)
        for step in range(10):
            w.add_scalar("x", 1.0, step)
        {ending}
    """
    proc = spawn(code, str(tmp_path))
    proc.communicate(timeout=60)
    (info,) = Logdir(tmp_path).runs()
    assert info.status == status and info.end_time is not None
    assert Logdir(tmp_path).run("r").scalars("x").step.size == 10


def test_a_run_written_by_a_live_process_cannot_be_opened_for_writing(tmp_path):
    code = """
        import sys, time
        from flowlog.writer import SummaryWriter
        w = SummaryWriter(logdir=sys.argv[1], run_name="busy")
        w.add_scalar("x", 1.0, 0)
        w.flush()
        print("ready", flush=True)
        sys.stdin.readline() if False else time.sleep(30)
    """
    proc = spawn(code, str(tmp_path))
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(ValueError, match=f"being written by process {proc.pid}"):
            SummaryWriter(logdir=tmp_path, run_name="busy")
        assert Logdir(tmp_path).runs()[0].status == "running"
    finally:
        proc.kill()
        proc.communicate()
    assert Logdir(tmp_path).runs()[0].status == "crashed"
    with SummaryWriter(logdir=tmp_path, run_name="busy") as w:  # a dead writer's run can be resumed
        w.add_scalar("x", 2.0)
    assert Logdir(tmp_path).run("busy").scalars("x").value.tolist() == [1.0, 2.0]
