"""flowlog's SummaryWriter against torch.utils.tensorboard's on the same loops, in the same run.

Both writers are built as a PyTorch script builds them, ``SummaryWriter(log_dir)`` with their
defaults, and run the same training-style loops; the timed span is construction, the loop and
``close()`` (the data is on disk when close returns: the honest end). The two alternate over
``--repeats`` repetitions (which goes first alternates too) and the median of each counts.

  A  --steps-a steps x --tags tags, ``add_scalar(tag, value, step)`` with Python floats
     (what ``loss.item()`` gives);
  B  the same with 0-d torch tensors as values (what people pass when they forget .item());
  C  --steps-c steps of one ``add_scalar`` plus, every 100 steps, ``add_histogram`` of a
     10,000-element float32 tensor (reported per step).

Values and tensors are built before the clock starts. Wall time is what the loop feels; CPU
time counts all threads of the process (both writers hand work to a background thread).
Bytes on disk are the run directory's after close. ratio = torch / flowlog (> 1: flowlog is
faster).

    .venv/bin/python benchmarks/torch_writer.py [--steps-a 100000] [--tags 4] [--steps-b 20000]
        [--steps-c 5000] [--repeats 3] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial

import torch
from torch.utils.tensorboard import SummaryWriter as TorchWriter

from flowlog.writer import SummaryWriter as FlowlogWriter

WRITERS = {"torch": TorchWriter, "flowlog": FlowlogWriter}
HIST_EVERY = 100
HIST_SIZE = 10_000


def dir_bytes(path: str) -> int:
    return sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
    )


def loop_scalars(w, tags: list[str], values: list[list]) -> None:
    """Loops A and B: one add_scalar per tag per step; values[step][k] is tag k's value."""
    add = w.add_scalar
    for step, row in enumerate(values):
        for tag, v in zip(tags, row, strict=True):
            add(tag, v, step)


def loop_hist(w, values: list[float], hists: list[torch.Tensor]) -> None:
    """Loop C: the loss every step, a weight histogram every HIST_EVERY steps."""
    for step, v in enumerate(values):
        w.add_scalar("train/loss", v, step)
        if step % HIST_EVERY == 0:
            w.add_histogram("weights/fc1", hists[step // HIST_EVERY], step)


def timed(name: str, logdir: str, body) -> tuple[float, float, int]:
    """(wall s, CPU s of all threads, bytes on disk) of construct + body + close."""
    t0, c0 = time.perf_counter(), time.process_time()
    w = WRITERS[name](logdir)
    body(w)
    w.close()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, dir_bytes(logdir)


def run_loop(tmp: str, label: str, body, repeats: int) -> dict[str, list[tuple]]:
    """Alternate the writers ``repeats`` times, swapping who goes first each repetition."""
    results: dict[str, list[tuple]] = {name: [] for name in WRITERS}
    order = list(WRITERS)
    for rep in range(repeats):
        for name in order if rep % 2 == 0 else order[::-1]:
            logdir = os.path.join(tmp, f"{label}-{name}-{rep}")
            results[name].append(timed(name, logdir, body))
            shutil.rmtree(logdir, ignore_errors=True)
    return results


def summarise(results: dict[str, list[tuple]], units: int) -> dict[str, tuple]:
    """Per writer: (us/unit wall, wall s, CPU s, B/unit), medians over repetitions."""
    out = {}
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        size = statistics.median(r[2] for r in runs)
        out[name] = (wall / units * 1e6, wall, cpu, size / units)
    return out


def print_table(rows: list[tuple[str, str, dict[str, tuple]]]) -> None:
    head = (
        f"{'loop':<34} {'writer':<8} {'us/unit':>8} {'wall s':>7} {'CPU s':>7} "
        f"{'B/unit':>7} {'ratio wall':>10} {'ratio CPU':>9}"
    )
    print(head)
    print("-" * len(head))
    for loop, unit, s in rows:
        t, f = s["torch"], s["flowlog"]
        for name in WRITERS:
            us, wall, cpu, b = s[name]
            ratio = f"{t[1] / f[1]:9.1f}x {t[2] / f[2]:8.1f}x" if name == "flowlog" else ""
            line = (
                f"{loop if name == 'torch' else '':<34} {name:<8} {us:8.2f} {wall:7.2f} "
                f"{cpu:7.2f} {b:7.1f} {ratio}"
            )
            print(line.rstrip())
        print(f"{'':<34} (unit = {unit})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-a", type=int, default=100_000, help="loop A steps (floats)")
    parser.add_argument("--tags", type=int, default=4, help="tags per step in loops A and B")
    parser.add_argument("--steps-b", type=int, default=20_000, help="loop B steps (0-d tensors)")
    parser.add_argument("--steps-c", type=int, default=5_000, help="loop C steps (+histograms)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repetitions")
    parser.add_argument("--tmp", default=None, help="parent of the run directories")
    args = parser.parse_args()
    print("command:", shlex.join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"median of {args.repeats} alternating repetitions, close() included"
    )
    tags = [f"train/metric_{k}" for k in range(args.tags)]
    tmp = tempfile.mkdtemp(prefix="flowlog-torchbench-", dir=args.tmp)
    rows = []
    try:
        floats = [
            [math.exp(-step * 1e-5) + 0.01 * math.sin(step + k) for k in range(args.tags)]
            for step in range(args.steps_a)
        ]
        res = run_loop(tmp, "A", partial(loop_scalars, tags=tags, values=floats), args.repeats)
        n = args.steps_a * args.tags
        rows.append((f"A {args.steps_a:,} x {args.tags} float", "point", summarise(res, n)))
        del floats

        tensors = [
            [torch.tensor(math.exp(-step * 1e-5) + 0.01 * k) for k in range(args.tags)]
            for step in range(args.steps_b)
        ]
        res = run_loop(tmp, "B", partial(loop_scalars, tags=tags, values=tensors), args.repeats)
        n = args.steps_b * args.tags
        rows.append((f"B {args.steps_b:,} x {args.tags} 0-d tensor", "point", summarise(res, n)))
        del tensors

        gen = torch.Generator().manual_seed(0)
        n_hist = (args.steps_c + HIST_EVERY - 1) // HIST_EVERY
        hists = [torch.randn(HIST_SIZE, generator=gen, dtype=torch.float32) for _ in range(n_hist)]
        losses = [math.exp(-step * 1e-4) for step in range(args.steps_c)]
        res = run_loop(tmp, "C", partial(loop_hist, values=losses, hists=hists), args.repeats)
        label = f"C {args.steps_c:,} scalar + hist/{HIST_EVERY}"
        rows.append((label, "step", summarise(res, args.steps_c)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(rows)
    print("ratio = torch / flowlog (> 1: flowlog is faster); us/unit is wall time per unit")


if __name__ == "__main__":
    main()
