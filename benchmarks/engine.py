"""Engine speed against the same computation written by hand in numpy (and PyTorch if present).

Single-threaded BLAS, each measurement the median of several repeats, all in one run so the
ratios compare like with like. Usage: ``python benchmarks/engine.py [--repeats 7] [--quick]``.
"""

from __future__ import annotations

import os

for _var in (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import flowlog as fl  # noqa: E402


def measure(contenders: dict, steps: int, repeats: int) -> dict:
    """Per-step µs of each contender, median over ``repeats``, plus the median of per-repeat
    ratios to the first contender.

    Contenders run interleaved within each repeat, so load from other processes on a shared
    machine hits all of them alike and the ratios stay meaningful.
    """
    for fn in contenders.values():
        fn(max(1, steps // 10))  # warm-up: plan compilation, caches
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn(steps)
            times[name].append((time.perf_counter() - t0) / steps * 1e6)
    base = next(iter(contenders))
    return {
        name: {
            "us_per_step": statistics.median(ts),
            "ratio": statistics.median(t / b for t, b in zip(ts, times[base], strict=True)),
        }
        for name, ts in times.items()
    }


# ------------------------------------------------------------------ linear regression
def linreg_data(n=1000, d=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = X @ rng.normal(size=(d, 1)) + 0.5 + 0.1 * rng.normal(size=(n, 1))
    return X, Y


def linreg_numpy(X, Y, lr=0.05):
    w = np.zeros((X.shape[1], 1))
    b = np.zeros(1)
    n = X.shape[0]

    def run(steps):
        nonlocal w, b
        for _ in range(steps):
            err = X @ w + b - Y
            loss = np.mean(err**2)  # noqa: F841 - the loss is fetched every step in flowlog too
            g = err * (2.0 / n)
            w -= lr * (X.T @ g)
            b -= lr * g.sum(axis=0)

    return run


def linreg_flowlog(X, Y, lr=0.05):
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, X.shape[1]), name="x")
        y = fl.placeholder(shape=(None, 1), name="y")
        w = fl.Variable(np.zeros((X.shape[1], 1)), name="w")
        b = fl.Variable(np.zeros(1), name="b")
        with fl.name_scope("loss"):
            loss = fl.reduce_mean(fl.square(x @ w + b - y))
        train = fl.train.GradientDescentOptimizer(lr).minimize(loss)
    sess = fl.Session(graph=g)
    fetches, feed = [train, loss], {x: X, y: Y}

    def run(steps):
        for _ in range(steps):
            sess.run(fetches, feed)

    return run


def linreg_torch(X, Y, lr=0.05):
    import torch

    torch.set_num_threads(1)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    w = torch.zeros((X.shape[1], 1), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=lr)

    def run(steps):
        for _ in range(steps):
            opt.zero_grad()
            loss = ((Xt @ w + b - Yt) ** 2).mean()
            loss.backward()
            opt.step()
            loss.item()

    return run


# ------------------------------------------------------------------ MLP
def mlp_data(n=64, d=784, h=128, k=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.eye(k)[rng.integers(0, k, n)]
    W1 = rng.normal(scale=np.sqrt(2 / d), size=(d, h))
    W2 = rng.normal(scale=np.sqrt(2 / h), size=(h, k))
    return X, Y, W1, W2


def mlp_numpy(X, Y, W1, W2, lr=0.01):
    W1, W2 = W1.copy(), W2.copy()
    b1, b2 = np.zeros(W1.shape[1]), np.zeros(W2.shape[1])
    n = X.shape[0]

    def run(steps):
        nonlocal W1, b1, W2, b2
        for _ in range(steps):
            a1 = X @ W1 + b1
            h = np.maximum(a1, 0)
            logits = h @ W2 + b2
            shifted = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            loss = np.mean(np.log(s[:, 0]) - (shifted * Y).sum(axis=1))  # noqa: F841
            dlogits = (e / s - Y) / n
            dW2 = h.T @ dlogits
            db2 = dlogits.sum(axis=0)
            dh = (dlogits @ W2.T) * (a1 > 0)
            dW1 = X.T @ dh
            db1 = dh.sum(axis=0)
            W1 -= lr * dW1
            b1 -= lr * db1
            W2 -= lr * dW2
            b2 -= lr * db2

    return run


def mlp_flowlog(X, Y, W1, W2, lr=0.01):
    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(shape=(None, W1.shape[0]), name="x")
        y = fl.placeholder(shape=(None, W2.shape[1]), name="y")
        with fl.name_scope("layer1"):
            w1 = fl.Variable(W1, name="w")
            b1 = fl.Variable(np.zeros(W1.shape[1]), name="b")
            h = fl.relu(x @ w1 + b1)
        with fl.name_scope("layer2"):
            w2 = fl.Variable(W2, name="w")
            b2 = fl.Variable(np.zeros(W2.shape[1]), name="b")
            logits = h @ w2 + b2
        with fl.name_scope("loss"):
            loss = fl.reduce_mean(fl.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = fl.train.GradientDescentOptimizer(lr).minimize(loss)
    sess = fl.Session(graph=g)
    fetches, feed = [train, loss], {x: X, y: Y}

    def run(steps):
        for _ in range(steps):
            sess.run(fetches, feed)

    return run


def mlp_torch(X, Y, W1, W2, lr=0.01):
    import torch

    torch.set_num_threads(1)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    w1 = torch.tensor(W1, requires_grad=True)
    w2 = torch.tensor(W2, requires_grad=True)
    b1 = torch.zeros(W1.shape[1], dtype=torch.float64, requires_grad=True)
    b2 = torch.zeros(W2.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w1, b1, w2, b2], lr=lr)

    def run(steps):
        for _ in range(steps):
            opt.zero_grad()
            logits = torch.relu(Xt @ w1 + b1) @ w2 + b2
            loss = -(torch.log_softmax(logits, 1) * Yt).sum(1).mean()
            loss.backward()
            opt.step()
            loss.item()

    return run


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="fewer steps (smoke test)")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False

    lr_steps = 100 if args.quick else 1000
    X, Y = linreg_data()
    contenders = {"numpy": linreg_numpy(X, Y), "flowlog": linreg_flowlog(X, Y)}
    if have_torch:
        contenders["torch"] = linreg_torch(X, Y)
    linreg = measure(contenders, lr_steps, args.repeats)

    mlp_steps = 20 if args.quick else 100
    data = mlp_data()
    contenders = {"numpy": mlp_numpy(*data), "flowlog": mlp_flowlog(*data)}
    if have_torch:
        contenders["torch"] = mlp_torch(*data)
    mlp = measure(contenders, mlp_steps, args.repeats)

    targets = {"linreg": 1.5, "mlp": 1.1}
    print(
        f"numpy {np.__version__}, single-threaded BLAS, median of {args.repeats} interleaved "
        "repeats; ratio = median of per-repeat ratios to numpy"
    )
    for key, title, res in (
        ("linreg", f"linear regression 1000x10 full batch, {lr_steps} steps/repeat", linreg),
        ("mlp", f"MLP 784-128-10, batch 64, SGD, {mlp_steps} steps/repeat", mlp),
    ):
        print(title)
        for name, r in res.items():
            note = ""
            if name == "flowlog":
                note = f"  (target <= {targets[key]}x)"
            if name == "torch":
                note = (
                    f"  (flowlog is {r['us_per_step'] / res['flowlog']['us_per_step']:.1f}x faster)"
                )
            print(f"  {name:8s} {r['us_per_step']:9.1f} us/step  {r['ratio']:5.2f}x numpy{note}")
    if not have_torch:
        print("(PyTorch not installed: torch comparison skipped)")
    return {"linreg": linreg, "mlp": mlp}


if __name__ == "__main__":
    main()
