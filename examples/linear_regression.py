"""Linear regression by gradient descent on synthetic data, checked against least squares.

Usage: python examples/linear_regression.py [--steps 300] [--lr 0.1] [--logdir runs]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import flowlog as fl
from flowlog.writer import SummaryWriter


def make_data(n=500, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    true_w = rng.normal(size=(d, 1))
    Y = X @ true_w + 0.7 + 0.1 * rng.normal(size=(n, 1))
    return X, Y


def build(d, lr):
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, d), name="x")
        y = fl.placeholder(shape=(None, 1), name="y")
        with fl.name_scope("model"):
            w = fl.Variable(np.zeros((d, 1)), name="w")
            b = fl.Variable(np.zeros(1), name="b")
            pred = fl.matmul(x, w) + b
        with fl.name_scope("loss"):
            loss = fl.reduce_mean(fl.square(pred - y))
        train = fl.train.GradientDescentOptimizer(lr).minimize(loss)
    return g, {"x": x, "y": y, "w": w, "b": b, "loss": loss, "train": train}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--logdir", default="runs", help="event log directory")
    parser.add_argument("--run-name", default=None, help="default: linear_regression/lr=LR")
    args = parser.parse_args(argv)

    X, Y = make_data()
    graph, m = build(X.shape[1], args.lr)
    feed = {m["x"]: X, m["y"]: Y}
    losses = []
    run_name = args.run_name or f"linear_regression/lr={args.lr:g}"
    # purge_step=0: re-running the example starts its run afresh instead of appending
    with (
        fl.Session(graph=graph) as sess,
        SummaryWriter(os.path.join(args.logdir, run_name), purge_step=0) as log,
    ):
        log.add_graph(graph)
        log.watch(sess, every=5)
        for step in range(args.steps):
            _, loss_value = sess.run([m["train"], m["loss"]], feed_dict=feed)
            losses.append(float(loss_value))
            log.add_scalar("loss/train", loss_value, step)
            if step % 50 == 0 or step == args.steps - 1:
                print(f"step {step:4d}  loss {loss_value:.6f}")
        w, b = sess.value(m["w"]), sess.value(m["b"])
        log.add_hparams({"lr": args.lr, "steps": args.steps}, {"loss/train": losses[-1]})

    # closed form: least squares with a column of ones for the bias
    coef = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), Y, rcond=None)[0]
    w_ls, b_ls = coef[:-1], coef[-1]
    print("gradient descent: w =", np.round(w.ravel(), 4), " b =", np.round(b, 4))
    print("least squares:    w =", np.round(w_ls.ravel(), 4), " b =", np.round(b_ls, 4))
    return {
        "loss": losses[-1],
        "losses": losses,
        "w": w,
        "b": b,
        "w_lstsq": w_ls,
        "b_lstsq": b_ls,
        "graph": graph,
    }


if __name__ == "__main__":
    main()
