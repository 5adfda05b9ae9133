"""Logistic regression on two generated Gaussian clouds, trained by gradient descent.

Usage: python examples/logistic_regression.py [--steps 300] [--lr 0.5] [--logdir runs]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import flowlog as fl
from flowlog.writer import SummaryWriter


def make_data(n=1000, d=5, seed=0, separation=4.0):
    """Two Gaussian clouds whose means are ``separation`` apart along a fixed direction.

    Labels are in {0, 1}, shape (n, 1); the direction does not depend on ``seed``, so different
    seeds give train and test samples of the same problem (Bayes accuracy ~ 0.98).
    """
    direction = np.random.default_rng(12345).normal(size=d)
    direction *= separation / np.linalg.norm(direction)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=(n, 1))
    X = rng.normal(size=(n, d)) + np.where(labels == 1, 0.5, -0.5) * direction
    return X, labels.astype(np.float64)


def build(d, lr):
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, d), name="x")
        y = fl.placeholder(shape=(None, 1), name="y")
        with fl.name_scope("model"):
            w = fl.Variable(np.zeros((d, 1)), name="w")
            b = fl.Variable(np.zeros(1), name="b")
            logits = fl.matmul(x, w) + b
        with fl.name_scope("loss"):
            loss = fl.reduce_mean(fl.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        with fl.name_scope("accuracy"):
            correct = fl.equal(fl.greater(logits, 0.0), fl.greater(y, 0.5))
            accuracy = fl.reduce_mean(fl.cast(correct, fl.float64))
        train = fl.train.GradientDescentOptimizer(lr).minimize(loss)
    return g, {"x": x, "y": y, "loss": loss, "accuracy": accuracy, "train": train}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--logdir", default="runs", help="event log directory")
    parser.add_argument("--run-name", default="logistic_regression", help="run name")
    args = parser.parse_args(argv)

    X, Y = make_data()
    X_test, Y_test = make_data(seed=1)
    graph, m = build(X.shape[1], args.lr)
    feed = {m["x"]: X, m["y"]: Y}
    losses = []
    step = 0
    test_feed = {m["x"]: X_test, m["y"]: Y_test}
    log = SummaryWriter(os.path.join(args.logdir, args.run_name), purge_step=0)
    with fl.Session(graph=graph) as sess, log:
        log.add_graph(graph)
        log.watch(sess, every=5, global_step=lambda: step)
        for step in range(args.steps):
            _, loss_value = sess.run([m["train"], m["loss"]], feed_dict=feed)
            losses.append(float(loss_value))
            log.add_scalar("loss/train", loss_value, step)
            if step % 10 == 0 or step == args.steps - 1:
                log.add_scalar("accuracy/test", sess.run(m["accuracy"], feed_dict=test_feed), step)
            if step % 50 == 0 or step == args.steps - 1:
                print(f"step {step:4d}  loss {loss_value:.4f}")
        train_acc = float(sess.run(m["accuracy"], feed_dict=feed))
        test_acc = float(sess.run(m["accuracy"], feed_dict=test_feed))
        log.add_hparams(
            {"lr": args.lr, "steps": args.steps},
            {"loss/train": losses[-1], "accuracy/test": test_acc},
        )
    print(f"accuracy: train {train_acc:.3f}  test {test_acc:.3f}")
    return {
        "loss": losses[-1],
        "losses": losses,
        "train_accuracy": train_acc,
        "accuracy": test_acc,
        "graph": graph,
    }


if __name__ == "__main__":
    main()
