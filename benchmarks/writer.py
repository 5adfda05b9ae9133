"""Writer and reader speed, measured against baselines in the same run (ratios printed).

Workload (issue 3): 10 tags x 100,000 steps, one ``add_scalar`` call per point, then close.
Baseline: raw ``sqlite3.executemany`` of the same 1M prebuilt tuples in one transaction into a
table declared exactly like flowlog's ``scalars`` of schema v2, one row per point (WAL,
synchronous=NORMAL, ``WITHOUT ROWID`` keyed (tag, step)); the baseline does no validation or
buffering. flowlog itself (schema v3) stores each tag's points as chunks of numpy arrays.
Wall time is what a training loop feels; flowlog's WAL checkpoints run on its flush thread, so
its CPU time (all threads of the process) is the like-for-like cost and is printed too.
tensorboardX is included when importable. Then one 1M-point tag is read downsampled to 2,000
buckets (target <= 100 ms) and in full.

    .venv/bin/python benchmarks/writer.py [--steps 100000] [--tags 10]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sqlite3
import statistics
import tempfile
import time

import numpy as np

from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter


def dir_bytes(path: str) -> int:
    return sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
    )


def bench_raw(tmp: str, rows: list[tuple], rep: int) -> tuple[float, float, int]:
    path = os.path.join(tmp, f"raw{rep}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE s (tag_id INTEGER NOT NULL, step INTEGER NOT NULL, wall REAL NOT NULL, "
        "value REAL, PRIMARY KEY (tag_id, step)) WITHOUT ROWID"
    )
    t0, c0 = time.perf_counter(), time.process_time()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO s VALUES (?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t0, time.process_time() - c0, os.path.getsize(path)


def bench_flowlog(
    tmp: str, tags: list[str], steps: int, rep: int, image_every: int = 0
) -> tuple[float, float, int]:
    """add_scalar of every tag at every step; with ``image_every``, also a 64x64 RGB image
    every that many steps (images go to their own table: scalars must not slow down). The
    time counted is the scalars' (each add_image call is timed and left out)."""
    logdir = os.path.join(tmp, f"flowlog{rep}-{image_every}")
    values = [math.sin(i * 0.001) for i in range(steps)]
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    images_s = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    w = SummaryWriter(logdir=logdir, run_name="bench")
    add = w.add_scalar
    for step in range(steps):
        v = values[step]
        for tag in tags:
            add(tag, v, step)
        if image_every and step % image_every == 0:
            i0 = time.perf_counter()
            w.add_image("sample", image, step, dataformats="HWC")
            images_s += time.perf_counter() - i0
    w.close()
    return time.perf_counter() - t0 - images_s, time.process_time() - c0, dir_bytes(logdir)


def bench_tensorboardx(tmp: str, tags: list[str], steps: int) -> float | None:
    try:
        from tensorboardX import SummaryWriter as TBWriter
    except ImportError:
        return None
    t0 = time.perf_counter()
    w = TBWriter(os.path.join(tmp, "tbx"))
    for step in range(steps):
        for tag in tags:
            w.add_scalar(tag, 0.5, step)
    w.close()
    return time.perf_counter() - t0


def bench_read(tmp: str, points: int, repeats: int = 5) -> tuple[float, float, float]:
    logdir = os.path.join(tmp, "read")
    with SummaryWriter(logdir=logdir, run_name="big", max_queue=50_000) as w:
        for step in range(points):
            w.add_scalar("loss", math.sin(step * 0.0003) + (5.0 if step % 9973 == 0 else 0.0), step)
    run = Logdir(logdir).run("big")
    run.scalars_downsampled("loss", 2000)  # warm the page cache, as a dashboard would be
    down = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        b = run.scalars_downsampled("loss", 2000)
        down.append(time.perf_counter() - t0)
    assert len(b.step) <= 2000 and int(b.count.sum()) == points
    t0 = time.perf_counter()
    s = run.scalars("loss")
    full = time.perf_counter() - t0
    assert len(s.step) == points
    t0 = time.perf_counter()
    run.scalars_since("loss", points - 1001)
    since = time.perf_counter() - t0
    return statistics.median(down), full, since


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--read-points", type=int, default=1_000_000)
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved write repeats; the best of each counts"
    )
    args = parser.parse_args()
    tags = [f"train/metric_{i}" for i in range(args.tags)]
    n = args.steps * len(tags)
    tmp = tempfile.mkdtemp(prefix="flowlog-bench-")
    try:
        rows = [
            (t, step, 1.7e9 + step, math.sin(step * 0.001))
            for step in range(args.steps)
            for t in range(len(tags))
        ]
        # interleaved repeats, best of each: the machines are shared and noisy
        raw_runs, fl_runs, img_runs = [], [], []
        for rep in range(args.repeats):
            raw_runs.append(bench_raw(tmp, rows, rep))
            fl_runs.append(bench_flowlog(tmp, tags, args.steps, rep))
            img_runs.append(bench_flowlog(tmp, tags, args.steps, rep, image_every=1000))
        del rows
        raw_t, raw_b = min(r[0] for r in raw_runs), raw_runs[0][2]
        fl_t, fl_b = min(r[0] for r in fl_runs), fl_runs[0][2]
        raw_c, fl_c = min(r[1] for r in raw_runs), min(r[1] for r in fl_runs)
        img_t = min(r[0] for r in img_runs)
        tbx_t = bench_tensorboardx(tmp, tags, args.steps)
        print(f"write {len(tags)} tags x {args.steps} steps = {n} points (best of {args.repeats})")
        print(
            f"  raw sqlite3 executemany : {raw_t / n * 1e6:6.2f} us/point  {raw_b / n:5.1f} B/point"
        )
        print(
            f"  flowlog add_scalar      : {fl_t / n * 1e6:6.2f} us/point  {fl_b / n:5.1f} B/point"
            f"  ratio vs raw {fl_t / raw_t:.2f}x (target <= 1.5x)"
        )
        print(
            f"  CPU time, all threads (less sensitive to other load): raw "
            f"{raw_c / n * 1e6:.2f}, flowlog {fl_c / n * 1e6:.2f} us/point, ratio "
            f"{fl_c / raw_c:.2f}x"
        )
        print(
            f"  add_scalar, an image every 1000 steps in the same run: {img_t / n * 1e6:.2f} "
            f"us/point, ratio vs scalars alone {img_t / fl_t:.2f}x (target: within noise)"
        )
        if tbx_t is None:
            print("  tensorboardX            : not installed")
        else:
            print(
                f"  tensorboardX add_scalar : {tbx_t / n * 1e6:6.2f} us/point"
                f"  flowlog is {tbx_t / fl_t:.1f}x faster"
            )
        down, full, since = bench_read(tmp, args.read_points)
        print(f"read one {args.read_points}-point tag")
        print(f"  downsampled to 2000 buckets: {down * 1e3:7.1f} ms (median of 5; target <= 100)")
        print(f"  full read (numpy arrays)   : {full * 1e3:7.1f} ms")
        print(f"  scalars_since last 1000    : {since * 1e3:7.1f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
