"""The writer's batch path: flat buffer, rollups of many tags in one numpy pass, concurrent
callers with the flush thread, and WAL checkpoints done by the flush thread."""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time

import numpy as np
import pytest
from conftest import stored_and_recomputed_rollups

from flowlog import schema
from flowlog.reader import Logdir
from flowlog.records import rollup_rows
from flowlog.writer import SummaryWriter


def assert_rollups_exact(path):
    stored, fresh = stored_and_recomputed_rollups(path)
    assert len(stored) == len(fresh) > 0
    for a, b in zip(stored, fresh, strict=True):
        assert a[:9] + a[10:] == b[:9] + b[10:]
        assert a[9] == pytest.approx(b[9], rel=1e-9, abs=1e-9)  # vsum: summation order


def naive_rollups(points, before):
    """Per (tag, level, bucket): the rollup row by plain Python, for ``points`` [(tid, step,
    wall, value)] sorted by tag then step; ``before`` maps tid to its stored step."""
    rows = {}
    for tid, step, wall, value in points:
        for level in range(1, schema.ROLLUP_LEVELS + 1):
            key = (tid, level, step >> (schema.ROLLUP_BASE_SHIFT + 2 * (level - 1)))
            r = rows.setdefault(key, [0, 0, 0, 0, math.inf, -math.inf, 0.0, step, step, wall])
            r[0] += 1
            r[1] += math.isnan(value)
            r[2] += value == math.inf
            r[3] += value == -math.inf
            if math.isfinite(value):
                r[4], r[5], r[6] = min(r[4], value), max(r[5], value), r[6] + value
            r[7], r[8], r[9] = min(r[7], step), max(r[8], step), max(r[9], wall)
    new, merge = [], []
    for (tid, level, bucket), r in rows.items():
        row = (tid, level, bucket, *r)
        shift = schema.ROLLUP_BASE_SHIFT + 2 * (level - 1)
        b = before.get(tid, -1)
        (merge if b >= 0 and b >> shift == bucket else new).append(row)
    return sorted(new), sorted(merge)


def test_rollup_rows_of_many_tags_match_plain_python():
    rng = np.random.default_rng(7)
    before = {3: -1, 5: 40, 8: 1000, 9: 5000}
    points = []
    for tid, b in before.items():
        steps = np.sort(rng.choice(np.arange(b + 1, b + 3000), size=400, replace=False))
        values = rng.normal(size=400)
        values[rng.integers(0, 400, 12)] = rng.choice([np.nan, np.inf, -np.inf], 12)
        walls = 1e9 + rng.random(400)
        points += list(
            zip([tid] * 400, steps.tolist(), walls.tolist(), values.tolist(), strict=True)
        )
    a = np.array(points)
    tids = a[:, 0].astype(np.int64)
    new, merge = rollup_rows(
        tids,
        np.array([before[t] for t in tids.tolist()]),
        a[:, 1].astype(np.int64),
        a[:, 2],
        a[:, 3],
    )
    want_new, want_merge = naive_rollups(points, before)
    assert len(merge) == len(want_merge) > 0  # tags 5, 8, 9 continue stored buckets
    for got, want in zip(sorted(new) + sorted(merge), want_new + want_merge, strict=True):
        assert got[:9] == tuple(want[:9]) and got[10:] == tuple(want[10:])
        assert got[9] == pytest.approx(want[9], rel=1e-12, abs=1e-12)


def test_mixed_batches_keep_rollups_exact(tmp_path):
    """Many interleaved tags per flush, some continuing, some rewriting or going back, with
    NaN/Inf, across flushes and a resume: rollups equal a recomputation from raw rows."""
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
    assert_rollups_exact(os.path.join(tmp_path, "r", "flowlog.db"))
    run = Logdir(tmp_path).run("r")
    for tag in tags[:10]:
        s = run.scalars(tag)
        steps = sorted(expected[tag])
        np.testing.assert_array_equal(s.step, steps)
        np.testing.assert_array_equal(s.value, [expected[tag][k] for k in steps])


def test_threads_log_concurrently_with_the_flush_thread(tmp_path):
    """Four threads on the lock-free fast path while size and time flushes race: every point
    arrives whole (no torn or lost points) and the rollups stay exact."""
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
    assert_rollups_exact(os.path.join(tmp_path, "r", "flowlog.db"))


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
    assert conn.execute("SELECT count(*) FROM scalars").fetchone()[0] == 60_000
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
    assert reader.execute("SELECT count(*) FROM scalars").fetchone()[0] == 5000
    for step in range(5000, 6000):
        w.add_scalar("a", math.sin(step), step)
    w.fold_secs = 0.2  # the reader's open snapshot pins the WAL: close() stops trying soon
    w.close()
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM scalars").fetchone()[0] == 6000
    reader.close()
    assert_rollups_exact(path)
