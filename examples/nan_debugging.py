"""A training run that diverges into NaN, logged so the dashboard can show where it started.

A small classifier trained on unnormalised sensor readings (values in the tens) with a
hand-written cross-entropy ``-(y·log p + (1-y)·log(1-p))`` instead of the stable
``fl.sigmoid_cross_entropy_with_logits``. Training is fine until one batch carries a glitched
reading (a sensor spike, ``--glitch-step``): the logits jump into the hundreds, ``sigmoid``
rounds to exactly 0 or 1, a ``log`` returns -inf and ``0 · -inf`` turns the loss into NaN; the NaN
gradients then wreck every weight.

``Session(check_numerics=True)`` records the first node that produced a non-finite value and
``writer.watch`` logs it with per-variable statistics, so the dashboard's Graph view opens on
the culprit::

    python examples/nan_debugging.py --logdir runs
    flowlog-dashboard --logdir runs     # Graph tab: banner + red path to the origin
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

import flowlog as fl
from flowlog.writer import SummaryWriter


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping classes of 4 raw (unscaled) sensor readings."""
    y = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    centre = np.where(y > 0, 42.0, 38.0)
    x = centre + rng.normal(0.0, 6.0, size=(n, 4))
    return x, y


def build_model(learning_rate: float, seed: int):
    """The graph: two dense layers, a naive cross-entropy and plain gradient descent."""
    rng = np.random.default_rng(seed)
    x = fl.placeholder(fl.float64, shape=[None, 4], name="x")
    y = fl.placeholder(fl.float64, shape=[None, 1], name="y")
    with fl.name_scope("hidden"):
        w1 = fl.Variable(rng.normal(0.0, 0.3, size=(4, 8)), name="w")
        b1 = fl.Variable(np.zeros(8), name="b")
        h = fl.relu(fl.matmul(x, w1) + b1)
    with fl.name_scope("output"):
        w2 = fl.Variable(rng.normal(0.0, 0.3, size=(8, 1)), name="w")
        b2 = fl.Variable(np.zeros(1), name="b")
        p = fl.sigmoid(fl.matmul(h, w2) + b2, name="prob")
    with fl.name_scope("loss"):
        # log(p) and log(1 - p) reach -inf once sigmoid saturates: the bug this run shows
        log_p = fl.log(p, name="log_p")
        log_not_p = fl.log(1.0 - p, name="log_not_p")
        loss = fl.negative(fl.reduce_mean(y * log_p + (1.0 - y) * log_not_p), name="xent")
    train_op = fl.train.GradientDescentOptimizer(learning_rate).minimize(loss)
    return x, y, loss, train_op


def batches(x: np.ndarray, y: np.ndarray, size: int, glitch_step: int):
    """Endless minibatches; the one at ``glitch_step`` has a reading multiplied by 1000."""
    step = 0
    while True:
        idx = np.arange(step * size, (step + 1) * size) % len(x)
        bx, by = x[idx].copy(), y[idx]
        if step == glitch_step:
            bx[0, 2] *= 1000.0
        yield bx, by
        step += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="runs", help="directory of run logs (default: runs)")
    parser.add_argument("--run-name", default="nan_debugging", help="name of the run to write")
    parser.add_argument("--steps", type=int, default=40, help="training steps at most")
    parser.add_argument("--glitch-step", type=int, default=25, help="step of the corrupt batch")
    # --lr as in the other examples; --learning-rate, its old spelling, still works
    parser.add_argument("--lr", "--learning-rate", dest="lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")

    fl.reset_default_graph()
    x, y, loss, train_op = build_model(args.lr, args.seed)
    data_x, data_y = make_data(1024, np.random.default_rng(args.seed + 1))
    feed = batches(data_x, data_y, 32, args.glitch_step)

    writer = SummaryWriter(os.path.join(args.logdir, args.run_name))
    writer.add_hparams({"lr": args.lr, "seed": args.seed}, {})
    writer.add_graph(fl.get_default_graph())
    sess = fl.Session(check_numerics=True)
    writer.watch(sess, every=1)
    first_bad = None
    for step in range(args.steps):
        bx, by = next(feed)
        value, _ = sess.run([loss, train_op], feed_dict={x: bx, y: by})
        writer.add_scalar("loss", float(value), step)
        if first_bad is None and sess.last_numerics is not None:
            first_bad = step
            f = sess.last_numerics
            print(f"step {step}: first non-finite value at {f.node} ({f.op}, {f.phase}, {f.kind})")
        if not math.isfinite(float(value)) and first_bad is not None and step >= first_bad + 5:
            break  # the weights are NaN by now; a few more steps show the curves flatten out
    writer.close()
    print(
        f"wrote run {args.run_name!r} to {args.logdir}; see it with "
        f"`flowlog-dashboard --logdir {args.logdir}` (Graph tab)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
