"""The writer's batch path: flat buffer, chunks of many tags from one numpy pass, concurrent
callers with the flush thread, and WAL checkpoints done by the flush thread."""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time

import numpy as np
from conftest import assert_chunks_sound, stored_points

from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter


def test_mixed_batches_keep_chunks_sound_and_last_write_wins(tmp_path):
    """Many interleaved tags per flush, some continuing, some rewriting or going back, with
    NaN/Inf, across flushes and a resume: chunks stay sound, the last write of a step wins."""
    rng = np.random.default_rng(3)
    tags = [f"m/{i}" for i in range(40)]
    expected: dict[str, dict[int, float]] = {t: {} for t in tags}
    for session in range(2):
        with SummaryWriter(logdir=tmp_path, run_name="r", max_queue=333) as w:
            for step in range(session * 150, session * 150 + 300):
                for i, tag in enumerate(tags):
                    if i % 7 == 0 and step % 11 == 0:
                        s = int(rng.integers(0, step + 1))  # a rewrite or a step back
                    else:
                        s = step
                    v = float(
                        rng.choice([rng.normal(), np.nan, np.inf, -np.inf], p=[0.94] + [0.02] * 3)
                    )
                    w.add_scalar(tag, v, s)
                    expected[tag][s] = v
    assert_chunks_sound(os.path.join(tmp_path, "r", "flowlog.db"))
    run = Logdir(tmp_path).run("r")
    for tag in tags[:10]:
        s = run.scalars(tag)
        steps = sorted(expected[tag])
        np.testing.assert_array_equal(s.step, steps)
        np.testing.assert_array_equal(s.value, [expected[tag][k] for k in steps])


def test_threads_log_concurrently_with_the_flush_thread(tmp_path):
    """Four threads on the lock-free fast path while size and time flushes race: every point
    arrives whole (no torn or lost points) and the chunks stay sound."""
    steps = 3000
    with SummaryWriter(logdir=tmp_path, run_name="r", max_queue=97, flush_secs=0.005) as w:
        for t in range(4):
            for k in range(5):
                w.add_scalar(f"t{t}/{k}", 0.0, 0)  # register: later calls take the fast path

        def work(t):
            for step in range(1, steps):
                for k in range(5):
                    w.add_scalar(f"t{t}/{k}", float(step * 10 + k), step)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    run = Logdir(tmp_path).run("r")
    for t in range(4):
        for k in range(5):
            s = run.scalars(f"t{t}/{k}")
            np.testing.assert_array_equal(s.step, np.arange(steps))
            np.testing.assert_array_equal(s.value[1:], np.arange(1, steps) * 10.0 + k)
    assert_chunks_sound(os.path.join(tmp_path, "r", "flowlog.db"))


def test_flush_thread_checkpoints_the_wal_while_the_writer_is_open(tmp_path):
    path = os.path.join(tmp_path, "r", "flowlog.db")
    w = SummaryWriter(logdir=tmp_path, run_name="r", flush_secs=60)
    start = os.path.getsize(path)
    for step in range(60_000):
        w.add_scalar("a", float(step), step)
    w.flush()  # wakes the flush thread, which copies the WAL into the database file
    deadline = time.monotonic() + 20
    while os.path.getsize(path) < start + 1_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.getsize(path) > start + 1_000_000  # the points reached the main file
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert stored_points(conn) == 60_000
    conn.close()
    w.close()
    assert sorted(os.listdir(tmp_path / "r")) == ["flowlog.db"]  # WAL folded in and removed
    run = Logdir(tmp_path).run("r")
    assert run.info.status == "finished" and len(run.scalars("a").step) == 60_000


def test_close_with_a_reader_open_keeps_everything_readable(tmp_path):
    path = os.path.join(tmp_path, "r", "flowlog.db")
    w = SummaryWriter(logdir=tmp_path, run_name="r")
    for step in range(5000):
        w.add_scalar("a", math.sin(step), step)
    w.flush()
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    reader.execute("BEGIN")
    assert stored_points(reader) == 5000
    for step in range(5000, 6000):
        w.add_scalar("a", math.sin(step), step)
    w.fold_secs = 0.2  # the reader's open snapshot pins the WAL: close() stops trying soon
    w.close()
    reader.execute("COMMIT")
    assert stored_points(reader) == 6000
    reader.close()
    assert_chunks_sound(path)
