"""A 784-128-10 multilayer perceptron trained with minibatch SGD on generated "digits".

The data are ten random 784-pixel class prototypes plus heavy noise, so the task needs the
hidden layer to average over many pixels. Usage:
python examples/mlp.py [--steps 400] [--lr 0.1] [--batch 64] [--logdir runs]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import flowlog as fl
from flowlog.writer import SummaryWriter


def make_data(n, seed, prototypes_seed=0, noise=2.0):
    protos = np.random.default_rng(prototypes_seed).normal(size=(10, 784))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    X = protos[labels] + noise * rng.normal(size=(n, 784))
    return X / np.sqrt(784), np.eye(10)[labels]


def build(lr, seed=0):
    rng = np.random.default_rng(seed)
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, 784), name="x")
        y = fl.placeholder(shape=(None, 10), name="y")
        with fl.name_scope("hidden"):
            w1 = fl.Variable(rng.normal(scale=np.sqrt(2 / 784), size=(784, 128)), name="w")
            b1 = fl.Variable(np.zeros(128), name="b")
            h = fl.relu(fl.matmul(x, w1) + b1)
        with fl.name_scope("output"):
            w2 = fl.Variable(rng.normal(scale=np.sqrt(1 / 128), size=(128, 10)), name="w")
            b2 = fl.Variable(np.zeros(10), name="b")
            logits = fl.matmul(h, w2) + b2
        with fl.name_scope("loss"):
            loss = fl.reduce_mean(fl.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        with fl.name_scope("accuracy"):
            correct = fl.equal(fl.argmax(logits, axis=1), fl.argmax(y, axis=1))
            accuracy = fl.reduce_mean(fl.cast(correct, fl.float64))
        train = fl.train.GradientDescentOptimizer(lr).minimize(loss)
    return g, {"x": x, "y": y, "loss": loss, "accuracy": accuracy, "train": train}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--logdir", default="runs", help="event log directory")
    parser.add_argument("--run-name", default=None, help="run name (default: mlp/lr=LR)")
    args = parser.parse_args(argv)

    X, Y = make_data(6000, seed=1)
    X_test, Y_test = make_data(1000, seed=2)
    graph, m = build(args.lr)
    rng = np.random.default_rng(3)
    losses = []
    step = 0
    test_feed = {m["x"]: X_test, m["y"]: Y_test}
    run_name = args.run_name or f"mlp/lr={args.lr:g}"
    with (
        fl.Session(graph=graph) as sess,
        SummaryWriter(os.path.join(args.logdir, run_name), purge_step=0) as log,
    ):
        log.add_graph(graph)
        # watch logs each trainable variable's value/gradient statistics under its node name
        log.watch(sess, every=5, histograms_every=25, global_step=lambda: step)
        for step in range(args.steps):
            idx = rng.integers(0, len(X), size=args.batch)
            feed = {m["x"]: X[idx], m["y"]: Y[idx]}
            _, loss_value, train_acc = sess.run(
                [m["train"], m["loss"], m["accuracy"]], feed_dict=feed
            )
            losses.append(float(loss_value))
            log.add_scalar("loss/train", loss_value, step)
            log.add_scalar("accuracy/train", train_acc, step)
            if step % 25 == 0 or step == args.steps - 1:
                log.add_scalar("accuracy/test", sess.run(m["accuracy"], feed_dict=test_feed), step)
            if step % 100 == 0 or step == args.steps - 1:
                print(f"step {step:4d}  loss {loss_value:.4f}")
        acc = float(sess.run(m["accuracy"], feed_dict=test_feed))
        log.add_hparams(
            {"lr": args.lr, "batch": args.batch, "steps": args.steps},
            {"loss/train": losses[-1], "accuracy/test": acc},
        )
    print(f"test accuracy: {acc:.3f}")
    return {"loss": losses[-1], "losses": losses, "accuracy": acc, "graph": graph}


if __name__ == "__main__":
    main()
