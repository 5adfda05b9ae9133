"""A PyTorch run that goes NaN, and ``watch(..., check_numerics=True)`` naming the op that did it.

The model classifies readings of 8 positive sensors (light intensities, spread over two
orders of magnitude). Its first stage is a custom module, ``LogFeatures``, that log-scales the
readings and standardises them — ``(log(x) - mean) / std`` — inside a nested
``nn.Sequential``: ``model.features.log``, so its ops live in the graph scope ``features/log``.

Training is fine until sensor 5 fails at ``--fault-step`` (default 40, 0-based optimizer
steps) and reads exactly 0 from then on — the kind of data drift nobody notices in the input
pipeline. ``torch.log(0)`` is ``-inf``; the linear layer after it turns that into ``±inf`` and
the head into ``inf - inf = NaN``; the loss is NaN at step 40 and the NaN gradients wreck every
weight, so every later step is NaN too.

``writer.watch(model, every=5, optimizer=opt, check_numerics=True)`` keeps one device-side
``aminmax`` check per module output and gradient, checks them once per step, and records the
first non-finite one: here the output of ``features/log`` at step 40, and — re-running that
module op by op on the inputs it had — the op ``log`` itself, on the graph node
``features/log/log``, with a summary of its input (min exactly 0, no NaN or Inf: the input
is the culprit, not an earlier op). To see it::

    python examples/torch_nan.py --logdir runs
    flowlog-dashboard --logdir runs

Graph tab, run ``torch_nan``: the view opens at step 40 with the banner "first non-finite
value: node features/log/log (log, forward) at step 40 — inf", the ``features/log`` scope
unfolded and the log op marked in red with everything that feeds it (the input ``input``).

The loss curve (Scalars) and the ``watch/<param>/grad_nan`` curves (every 5 steps) show the same
step from the other side; ``torch.autograd.detect_anomaly`` would report a backward traceback,
not a place in the model, and slow every step down.
"""

from __future__ import annotations

import argparse
import math
import os
from collections import OrderedDict

import torch
from torch import nn

from flowlog.backends import open_logdir
from flowlog.writer import SummaryWriter

SENSORS, CLASSES, DEAD_SENSOR = 8, 3, 5


class LogFeatures(nn.Module):
    """Log-scale positive readings and standardise them with fixed (training-set) statistics."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x):
        return (torch.log(x) - self.mean) / self.std  # the bug: log(0) = -inf


def build_model(mean: torch.Tensor, std: torch.Tensor) -> nn.Module:
    features = nn.Sequential(
        OrderedDict(log=LogFeatures(mean, std), proj=nn.Linear(SENSORS, 32), act=nn.ReLU())
    )
    return nn.Sequential(OrderedDict(features=features, head=nn.Linear(32, CLASSES)))


def batches(size: int, fault_step: int, seed: int):
    """Endless minibatches ``(step, readings, labels)``; from ``fault_step`` on the dead
    sensor reads exactly 0."""
    centres = torch.randn(CLASSES, SENSORS, generator=torch.Generator().manual_seed(0)) + 2.0
    gen = torch.Generator().manual_seed(seed)
    step = 0
    while True:
        labels = torch.randint(0, CLASSES, (size,), generator=gen)
        x = torch.exp(centres[labels] + 0.8 * torch.randn(size, SENSORS, generator=gen))
        if step >= fault_step:
            x[:, DEAD_SENSOR] = 0.0
        yield step, x, labels
        step += 1


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="runs", help="directory of run logs (default: runs)")
    parser.add_argument("--run-name", default="torch_nan", help="name of the run to write")
    parser.add_argument("--steps", type=int, default=60, help="training steps at most")
    parser.add_argument("--fault-step", type=int, default=40, help="step the sensor dies at")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(args.seed)

    # the standardisation statistics come from clean data, as they would in practice
    _, clean, _ = next(batches(4096, fault_step=args.steps + 1, seed=args.seed + 100))
    logs = clean.log()
    model = build_model(logs.mean(0), logs.std(0))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    first_nan = None
    with SummaryWriter(os.path.join(args.logdir, args.run_name), purge_step=0) as writer:
        writer.watch(model, every=5, optimizer=opt, check_numerics=True)
        for step, x, y in batches(args.batch, args.fault_step, args.seed):
            if step >= args.steps:
                break
            logits = model(x)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            value = loss.item()
            writer.add_scalar("loss/train", value, step)
            writer.add_scalar("accuracy/train", (logits.argmax(1) == y).float().mean(), step)
            if first_nan is None and not math.isfinite(value):
                first_nan = step
                print(f"step {step}: loss is {value}")
            elif first_nan is None and step % 10 == 0:
                print(f"step {step:3d}: loss {value:.4f}")
            if first_nan is not None and step >= first_nan + 5:
                break  # the weights are NaN by now; a few more steps show the curves flatten
    findings = open_logdir(args.logdir, cache=False).numerics(args.run_name)
    first = findings[0] if findings else None
    if first is not None:
        print(
            f"check_numerics: first non-finite value at step {first['step']}: {first['node']} "
            f"({first['op']}, {first['phase']}, {first['kind']})"
        )
    print(
        f"wrote run {args.run_name!r} to {args.logdir}; see it with "
        f"`flowlog-dashboard --logdir {args.logdir}` (Graph tab)"
    )
    return {"first_nan": first_nan, "finding": first}


if __name__ == "__main__":
    main()
