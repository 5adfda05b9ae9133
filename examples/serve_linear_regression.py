"""Train two versions of a linear regression on different data and export them for
``flowlog serve`` (TensorFlow Serving's layout: ``<model-dir>/linreg/<version>/``).

Version 1 learns y = 2·x0 − x1 + 0.5, version 2 learns y = −x0 + 3·x1 − 1 (say, after the
data changed); each is checked against least squares before it is exported. Serve them with

    flowlog serve --model-name linreg --model-base-path models/linreg --logdir runs

An existing version directory is kept (exports never overwrite: a server may be serving it).
With ``--demo-traffic`` the example also runs that server for a few seconds: it exports
version 1 (into a fresh ``<model-dir>/linreg``), starts ``flowlog serve --logdir``, sends
predictions from 4 clients, exports version 2 while they run (the server swaps to it),
checks every answer is one version's output, and stops the server, leaving its traffic run
beside the training runs.

Usage: python examples/serve_linear_regression.py [--model-dir models] [--logdir runs]
       [--versions 1 2] [--steps 300] [--demo-traffic]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

import flowlog as fl
from flowlog.writer import SummaryWriter

TRUTH = {1: ([2.0, -1.0], 0.5), 2: ([-1.0, 3.0], -1.0)}


def make_data(version: int, n=400, seed=0):
    w, b = TRUTH[version]
    rng = np.random.default_rng(seed + version)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    Y = (X @ np.array(w, np.float32)[:, None] + b + 0.05 * rng.normal(size=(n, 1))).astype(
        np.float32
    )
    return X, Y


def train(version: int, steps: int, logdir: str):
    """Train one version; returns (session, x placeholder, prediction, w, b)."""
    X, Y = make_data(version)
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder("float32", shape=(None, 2), name="x")
        y = fl.placeholder("float32", shape=(None, 1), name="y")
        with fl.name_scope("model"):
            w = fl.Variable(np.zeros((2, 1), np.float32), name="w")
            b = fl.Variable(np.zeros(1, np.float32), name="b")
            pred = fl.matmul(x, w) + b
        loss = fl.reduce_mean(fl.square(pred - y), name="loss")
        step_op = fl.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = fl.Session(graph=g)
    run = os.path.join(logdir, f"serve_linear_regression/v{version}")
    with SummaryWriter(run, purge_step=0) as log:
        log.add_graph(g)
        for step in range(steps):
            _, value = sess.run([step_op, loss], {x: X, y: Y})
            log.add_scalar("loss/train", value, step)
    return sess, x, pred, sess.value(w), sess.value(b), (X, Y)


def export(version: int, model_dir: Path, steps: int, logdir: str) -> Path:
    target = model_dir / "linreg" / str(version)
    if target.exists():
        print(f"{target} exists: kept")
        return target
    sess, x, pred, w, b, (X, Y) = train(version, steps, logdir)
    coef = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), Y, rcond=None)[0]
    if not np.allclose(np.r_[w.ravel(), b], coef.ravel(), atol=1e-3):
        raise SystemExit(f"version {version} did not converge: w={w.ravel()} b={b}")
    fl.saved_model.save(sess, target, inputs={"x": x}, outputs={"y": pred})
    print(f"exported version {version}: w={np.round(w.ravel(), 3)} b={np.round(b, 3)} -> {target}")
    return target


def _clients(port: int, stop: threading.Event, answers: list) -> list[threading.Thread]:
    def client(seed: int):
        rng = np.random.default_rng(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            rows = rng.normal(size=(2, 2)).round(2).tolist()
            conn.request("POST", "/v1/models/linreg:predict", json.dumps({"instances": rows}))
            reply = conn.getresponse()
            answers.append((rows, reply.status, json.loads(reply.read())))
            time.sleep(0.002)
        conn.close()

    return [threading.Thread(target=client, args=(i,)) for i in range(4)]


def demo_traffic(model_dir: Path, steps: int, logdir: str) -> dict[int, int]:
    """Serve version 1, swap in version 2 under load; returns answers per version."""
    base = model_dir / "linreg"
    if base.exists():  # this example's own output: the demo starts from version 1 alone
        shutil.rmtree(base)
    export(1, model_dir, steps, logdir)
    cmd = [sys.executable, "-m", "flowlog.cli", "serve", "--port", "0", "--model-name", "linreg"]
    cmd += ["--model-base-path", str(base), "--logdir", logdir, "--metrics-interval-s", "0.5"]
    cmd += ["--file-system-poll-wait-seconds", "0.2"]
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        port = next(int(m[1]) for line in server.stderr if (m := re.search(r":(\d+)/v1/", line)))
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
        stop, answers = threading.Event(), []
        clients = _clients(port, stop, answers)
        for c in clients:
            c.start()
        time.sleep(2.0)
        export(2, model_dir, steps, logdir)  # while the clients run: the server swaps
        time.sleep(2.0)
        stop.set()
        for c in clients:
            c.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return _count_versions(answers, base)


def _count_versions(answers, base: Path) -> dict[int, int]:
    """Answers per version: each must be exactly what that export computes in-process."""
    models = {v: fl.saved_model.load(base / str(v)) for v in (1, 2)}
    counts = {1: 0, 2: 0}
    for rows, status, body in answers:
        if status != 200:
            raise SystemExit(f"a request failed during the swap: {status} {body}")
        got = np.asarray(body["predictions"], np.float32)
        x = np.asarray(rows, np.float32)
        matches = [v for v, m in models.items() if np.array_equal(got, m(x)["y"])]
        if len(matches) != 1:
            raise SystemExit(f"answer {got.tolist()} for {rows} is not one version's")
        counts[matches[0]] += 1
    print(f"served {len(answers)} requests during the swap: {counts} (answers per version)")
    return counts


def main(argv=None) -> dict:
    """Returns ``{"paths": exported version dirs, "served": answers per version (demo)}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="models", help="base of the model directories")
    parser.add_argument("--logdir", default="runs", help="event log directory (training runs)")
    parser.add_argument("--versions", type=int, nargs="+", default=[1, 2], choices=sorted(TRUTH))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument(
        "--demo-traffic", action="store_true", help="serve and swap versions under load"
    )
    args = parser.parse_args(argv)
    served = None
    if args.demo_traffic:
        served = demo_traffic(Path(args.model_dir), args.steps, args.logdir)
        paths = [Path(args.model_dir) / "linreg" / str(v) for v in (1, 2)]
    else:
        paths = [export(v, Path(args.model_dir), args.steps, args.logdir) for v in args.versions]
    base = Path(args.model_dir) / "linreg"
    print(f"\nserve them:  flowlog serve --model-name linreg --model-base-path {base}")
    print(
        "predict:     curl -d '{\"instances\": [[1.0, 2.0]]}' "
        "http://127.0.0.1:8501/v1/models/linreg:predict"
    )
    return {"paths": paths, "served": served}


if __name__ == "__main__":
    main()
