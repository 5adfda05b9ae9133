"""What ``writer.watch(model)`` costs a PyTorch training loop, against no logging, in one run.

Two loops, batch 64, SGD (lr 0.01), one thread (``torch.set_num_threads(1)``):

  mlp  784-128-10 MLP on random 784-feature inputs;
  cnn  conv(1→16, 3×3) → ReLU → max-pool → conv(16→32, 3×3) → ReLU → max-pool → linear, 28×28.

Each loop runs under these configurations (every one on a fresh model with the same seed, the
same batches, inside ``--repeats`` repetitions whose configuration order rotates, so slow
phases of a noisy machine hit all of them alike; the median repetition counts):

  none           no logging: the baseline;
  watch/10       ``writer.watch(model, every=10, optimizer=opt)`` (histograms every 100);
  watch/10+h10   the same with ``histograms_every=10`` (what ``tb by hand`` logs);
  watch/1        ``watch(every=1)``;
  numerics       ``watch(every=10, optimizer=opt, check_numerics=True)``;
  numerics only  the numerics check alone (``every=10**9``: no statistics, no graph);
  anomaly        ``torch.autograd.detect_anomaly(check_nan=True)`` around the loop, no writer;
  tb by hand     ``torch.utils.tensorboard.SummaryWriter``: every 10 steps, for each parameter
                 ``add_histogram`` of its value and gradient and ``add_scalar`` of both norms
                 (``.item()``) — skipped when tensorboard is not installed.

The step is ``zero_grad(); loss = f(model(x), y); backward(); step()`` (no ``.item()``).
``--warmup`` steps run before the clock starts; the first of them is the one where watch
captures the graph (``torch.export``), reported separately as "first step". The timed span
ends with ``torch.cuda.synchronize()`` on CUDA; ``writer.close()`` is timed apart ("close").

Then the graph of a ResNet-18-style model (BasicBlocks, BatchNorm, 1×1 downsample; input
1×3×64×64) is captured and rendered to SVG by ``flowlog export-graph`` itself: logged with
``writer.add_graph(model, x)``, then ``flowlog.cli.main(["export-graph", logdir, "--run",
"resnet", "-o", svg])`` with the CLI's defaults (it reads the graph back, folds it by its
``--max-nodes`` rule and runs Graphviz). Cold is the first call in the process (this runs
first, before any other ``torch.export``), warm the median of the next ``--graph-repeats``.

Targets: watch/10 ≤ 1.05×, numerics ≤ 1.3× (each vs none), graph capture + render ≤ 2 s.

    .venv/bin/python benchmarks/torch_watch.py [--device cpu|cuda] [--quick] [--repeats 5]
        [--steps-mlp 1000] [--steps-cnn 200] [--warmup 20] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from flowlog import cli, render
from flowlog.backends import open_logdir
from flowlog.writer import SummaryWriter

try:
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
except ImportError:  # tensorboard is not installed
    TorchWriter = None

BATCH, LR, SEED, N_BATCHES = 64, 0.01, 0, 8
TARGETS = {"watch/10": 1.05, "numerics": 1.3, "numerics only": 1.3}
GRAPH_TARGET_S = 2.0


# --------------------------------------------------------------------------- models
def mlp() -> nn.Module:
    return nn.Sequential(
        OrderedDict(fc1=nn.Linear(784, 128), act=nn.ReLU(), fc2=nn.Linear(128, 10))
    )


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, cin = [64, 128, 256, 512], 64
        for i, cout in enumerate(widths, start=1):
            stride = 1 if i == 1 else 2
            self.add_module(f"layer{i}", nn.Sequential(BasicBlock(cin, cout, stride),
                                                       BasicBlock(cout, cout, 1)))  # fmt: skip
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


MODELS = {
    "mlp": ("MLP 784-128-10", mlp, (784,)),
    "cnn": ("CNN 2 conv + 2 pool + linear", SmallCNN, (1, 28, 28)),
}


# --------------------------------------------------------------------------- configurations
def tb_hand_logger(tb, model, every: int = 10):
    """What a torch.utils.tensorboard user writes for the same histograms and norms."""
    named = list(model.named_parameters())

    def log(step: int) -> None:
        if step % every:
            return
        for name, p in named:
            tb.add_histogram(f"{name}/value", p, step)
            tb.add_scalar(f"{name}/value_norm", p.detach().norm().item(), step)
            if p.grad is not None:
                tb.add_histogram(f"{name}/grad", p.grad, step)
                tb.add_scalar(f"{name}/grad_norm", p.grad.norm().item(), step)

    return log


CONFIGS = [
    "none", "watch/10", "watch/10+h10", "watch/1", "numerics", "numerics only", "anomaly",
    "tb by hand",
]  # fmt: skip


def setup(config: str, model, opt, logdir: str):
    """``(per-step callback or None, context manager, closer or None)`` of a configuration."""
    if config in ("none", "anomaly"):
        ctx = torch.autograd.detect_anomaly(check_nan=True) if config == "anomaly" else None
        return None, ctx or contextlib.nullcontext(), None
    if config == "tb by hand":
        tb = TorchWriter(logdir)
        return tb_hand_logger(tb, model), contextlib.nullcontext(), tb.close
    writer = SummaryWriter(logdir)
    kwargs = {
        "watch/10": {"every": 10},
        "watch/10+h10": {"every": 10, "histograms_every": 10},
        "watch/1": {"every": 1},
        "numerics": {"every": 10, "check_numerics": True},
        "numerics only": {"every": 10**9, "check_numerics": True, "log_graph": False},
    }[config]
    writer.watch(model, optimizer=opt, **kwargs)
    return None, contextlib.nullcontext(), writer.close


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_one(kind: str, config: str, batches, steps: int, warmup: int, device, logdir: str):
    """``(µs/step, first step s, close s)`` of one configuration on a fresh model."""
    torch.manual_seed(SEED)
    model = MODELS[kind][1]().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # detect_anomaly warns when it is made
        after, ctx, close = setup(config, model, opt, logdir)
    with ctx:

        def step(i: int) -> None:
            x, y = batches[i % len(batches)]
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            if after is not None:
                after(i)

        sync(device)
        t0 = time.perf_counter()
        step(0)  # watch captures the graph in this forward
        sync(device)
        first = time.perf_counter() - t0
        for i in range(1, warmup):
            step(i)
        sync(device)
        t0 = time.perf_counter()
        for i in range(warmup, warmup + steps):
            step(i)
        sync(device)
        loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    if close is not None:
        close()
    closing = time.perf_counter() - t0
    return loop / steps * 1e6, first, closing


def bench_loops(kinds, configs, args, device, tmp) -> dict:
    """``{(kind, config): [(µs/step, first s, close s) per repetition]}``."""
    results: dict = {}
    for kind in kinds:
        shape = MODELS[kind][2]
        gen = torch.Generator().manual_seed(SEED + 1)
        batches = [
            (
                torch.randn(BATCH, *shape, generator=gen).to(device),
                torch.randint(0, 10, (BATCH,), generator=gen).to(device),
            )
            for _ in range(N_BATCHES)
        ]
        steps = args.steps_mlp if kind == "mlp" else args.steps_cnn
        for rep in range(args.repeats):
            k = rep % len(configs)
            for config in configs[k:] + configs[:k]:
                logdir = os.path.join(tmp, f"{kind}-{config.replace('/', '_')}-{rep}")
                out = run_one(kind, config, batches, steps, args.warmup, device, logdir)
                results.setdefault((kind, config), []).append(out)
                shutil.rmtree(logdir, ignore_errors=True)
    return results


# --------------------------------------------------------------------------- graph
def cli_max_nodes() -> int:
    """``flowlog export-graph``'s ``--max-nodes`` default (fold graphs drawing more)."""
    return cli.build_parser().parse_args(["export-graph", "-"]).max_nodes


def graph_once(model, x, logdir: str) -> dict:
    """Seconds of add_graph (capture + log) and of ``flowlog export-graph`` with its defaults
    (read back, fold, render to SVG); plus what was drawn (found outside the clock)."""
    svg_path = os.path.join(logdir, "resnet.svg")
    t0 = time.perf_counter()
    with SummaryWriter(os.path.join(logdir, "resnet")) as writer:
        writer.add_graph(model, x)
    t1 = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()) as err:
        rc = cli.main(["export-graph", logdir, "--run", "resnet", "-o", svg_path])
    t2 = time.perf_counter()
    if rc != 0:
        raise RuntimeError(f"flowlog export-graph failed: {err.getvalue().strip()}")
    desc = open_logdir(logdir, cache=False).graph("resnet")
    drawn, depth, limit = render.count_visible(desc), None, cli_max_nodes()
    if limit and drawn > limit:
        depth = render.auto_depth(desc, limit)
    return {"capture": t1 - t0, "export": t2 - t1, "total": t2 - t0, "nodes": len(desc["nodes"]),
            "drawn": drawn, "depth": depth, "shown": render.count_visible(desc, depth=depth),
            "limit": limit, "svg": os.path.getsize(svg_path),
            "how": desc.get("capture") or "per module"}  # fmt: skip


def bench_graph(repeats: int, device, tmp: str) -> tuple[dict, dict]:
    torch.manual_seed(SEED)
    model = ResNet18().to(device)
    x = torch.randn(1, 3, 64, 64, device=device)
    runs = []
    for rep in range(1 + repeats):
        logdir = os.path.join(tmp, f"graph-{rep}")
        runs.append(graph_once(model, x, logdir))
        shutil.rmtree(logdir, ignore_errors=True)
    warm = {k: statistics.median(r[k] for r in runs[1:]) for k in ("capture", "export", "total")}
    return runs[0], warm


# --------------------------------------------------------------------------- report
def report(results, kinds, configs, args) -> list[tuple[str, float, float]]:
    head = (
        f"{'model':<30} {'configuration':<14} {'µs/step':>9} {'ratio':>7} {'min..max µs':>17} "
        f"{'first step ms':>13} {'close ms':>8}"
    )
    print(head)
    print("-" * len(head))
    checks = []
    for kind in kinds:
        base = statistics.median(r[0] for r in results[(kind, "none")])
        base_first = statistics.median(r[1] for r in results[(kind, "none")])
        for config in configs:
            runs = results[(kind, config)]
            us = statistics.median(r[0] for r in runs)
            first = statistics.median(r[1] for r in runs)
            closing = statistics.median(r[2] for r in runs)
            spread = f"{min(r[0] for r in runs):,.0f}..{max(r[0] for r in runs):,.0f}"
            label = MODELS[kind][0] if config == configs[0] else ""
            print(
                f"{label:<30} {config:<14} {us:9,.0f} {us / base:6.2f}x {spread:>17} "
                f"{first * 1e3:13.1f} {closing * 1e3:8.1f}"
            )
            if config in TARGETS:
                checks.append((f"{kind} {config}", us / base, TARGETS[config]))
        print(f"{'':<30} (first step of none: {base_first * 1e3:.1f} ms; the difference in "
              "the watch rows is the graph capture)")  # fmt: skip
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions (median counts)")
    parser.add_argument("--steps-mlp", type=int, default=1000, help="timed MLP steps per run")
    parser.add_argument("--steps-cnn", type=int, default=200, help="timed CNN steps per run")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before timing")
    parser.add_argument("--graph-repeats", type=int, default=3, help="warm ResNet repetitions")
    parser.add_argument("--tmp", default=None, help="parent of the temporary logdirs")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.steps_mlp, args.steps_cnn = 2, 50, 20
        args.warmup, args.graph_repeats = 10, 1
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available: nothing to measure with --device cuda (skipped)")
        return 0
    torch.set_num_threads(1)
    configs = [c for c in CONFIGS if c != "tb by hand" or TorchWriter is not None]
    print("command:", shlex.join([os.path.basename(sys.executable), *sys.argv]))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"torch {torch.__version__}, device {name}, threads {torch.get_num_threads()}, "
        f"batch {BATCH}, SGD; median of {args.repeats} repetitions (rotating order) of "
        f"{args.steps_mlp} (mlp) / {args.steps_cnn} (cnn) timed steps after {args.warmup} warm-up"
    )
    if TorchWriter is None:
        print("tensorboard is not installed: the 'tb by hand' rows are skipped")
    tmp = tempfile.mkdtemp(prefix="flowlog-watchbench-", dir=args.tmp)
    try:
        cold, warm = bench_graph(args.graph_repeats, device, tmp)
        results = bench_loops(list(MODELS), configs, args, device, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    checks = report(results, list(MODELS), configs, args)
    print()
    print(
        f"ResNet-18-style graph (input 1x3x64x64, capture: {cold['how']}): {cold['nodes']} nodes; "
        f"export-graph defaults (--max-nodes {cold['limit']}): fold depth {cold['depth']}, "
        f"{cold['shown']} drawn of {cold['drawn']}, SVG {cold['svg'] / 1024:.0f} KiB"
    )
    for label, r in (("cold (first in process)", cold),
                     (f"warm (median of {args.graph_repeats})", warm)):  # fmt: skip
        print(
            f"  {label:<24} add_graph {r['capture']:.2f} s + export-graph (read, fold, "
            f"render SVG) {r['export']:.2f} s = {r['total']:.2f} s"
        )
    checks.append(("graph capture+render cold (s)", cold["total"], GRAPH_TARGET_S))
    checks.append(("graph capture+render warm (s)", warm["total"], GRAPH_TARGET_S))
    print()
    print("targets:")
    for label, value, target in checks:
        unit = "s" if "(s)" in label else "x"
        verdict = "ok" if value <= target else "MISSED"
        print(f"  {label:<32} {value:6.2f}{unit}  target <= {target:.2f}{unit}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
