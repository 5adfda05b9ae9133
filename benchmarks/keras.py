"""``fl.keras`` training speed: a LeNet step against PyTorch eager and hand-written numpy, and
``fit``'s own overhead against a hand-written ``sess.run`` loop.

* LeNet (28x28x1 → conv 6@5x5 relu → pool 2 → conv 16@5x5 relu → pool 2 → flatten → dense 120
  relu → 84 relu → 10, softmax cross-entropy), batch 64, one forward + backward + SGD step,
  float32: the ``fl.keras`` model's ``fit`` (ms per batch, ``verbose=0``) and its raw step
  ``model.session.run(model.train_op, feed)``; PyTorch eager on CPU (when installed); the same
  maths in numpy (im2col). Target: flowlog ≤ 2x torch. All three start from the same weights
  and are checked to give the same first-batch loss, and the same loss after one step.
* MLP 784-128-10, batch 64: ``fit(x, y, epochs=1, batch_size=64, verbose=0)`` against a loop
  of ``sess.run(train_op, feed)`` over batches shuffled the same way. Target: ≤ 1.10x.

Contenders alternate within each round, so load from other processes hits them alike; ms/step
is the median over rounds (after a warm-up), a ratio the median of the per-round ratios, and
the noise each contender's (max - min) / median over rounds. BLAS and torch use the same
thread count, ``--threads`` (default 1). ``--profile`` adds a cProfile of the flowlog step.

Memory: a step allocates ~10 MB of large numpy arrays; with glibc's default malloc, freed
blocks can go back to the OS (heap trimming) and be faulted in again next step, which costs
numpy-based steps several ms (~2500 minor faults a step), depending on what the process ran
before. Minor faults per step are printed, and LeNet runs twice: default malloc first, then
with ``mallopt`` keeping freed memory (``--malloc steady``), which measures the compute alone.
Usage: ``python benchmarks/keras.py [--quick] [--threads N] [--repeats R]
[--malloc default|steady|both] [--profile]``.
"""

from __future__ import annotations

import os
import sys


def _threads_arg(argv) -> str:
    """``--threads`` from the command line, read before numpy loads its BLAS."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


if __name__ == "__main__":
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[_var] = _threads_arg(sys.argv[1:])

import argparse  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import ctypes  # noqa: E402
import ctypes.util  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

try:
    import resource  # noqa: E402
except ImportError:  # not POSIX
    resource = None

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import flowlog as fl  # noqa: E402
from flowlog.keras.initializers import shared_rng  # noqa: E402

F32 = np.float32
LR = 0.05
TARGETS = {"lenet": 2.0, "mlp": 1.10}
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
# (kernel or weight shape, bias size) in fl.keras' weight order (HWIO kernels, NHWC flatten)
LENET_SHAPES = [
    ((5, 5, 1, 6), 6),
    ((5, 5, 6, 16), 16),
    ((256, 120), 120),
    ((120, 84), 84),
    ((84, 10), 10),
]


# ====================================================================== data and weights
def lenet_data(n, seed=0):
    """``n`` random 28x28x1 images, their integer labels and the one-hot targets."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 28, 28, 1)).astype(F32)
    labels = rng.integers(0, 10, n)
    return x, labels, np.eye(10, dtype=F32)[labels]


def lenet_weights(seed=0) -> list[np.ndarray]:
    """Glorot-uniform kernels and small non-zero biases (so bias gradients count in checks)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, bias in LENET_SHAPES:
        receptive = int(np.prod(shape[:-2]))
        limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
        out.append(rng.uniform(-limit, limit, size=shape).astype(F32))
        out.append(rng.uniform(-0.05, 0.05, size=bias).astype(F32))
    return out


# ====================================================================== flowlog (fl.keras)
def lenet_keras(weights, lr=LR):
    L = fl.keras.layers
    model = fl.keras.Sequential(
        [
            L.Conv2D(6, 5, activation="relu", input_shape=(28, 28, 1)),
            L.MaxPooling2D(2),
            L.Conv2D(16, 5, activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(120, activation="relu"),
            L.Dense(84, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile(fl.keras.optimizers.SGD(lr), "categorical_crossentropy")
    model.set_weights(weights)
    return model


def _batch_slices(n_batches, batch):
    return [slice(i * batch, (i + 1) * batch) for i in range(n_batches)]


def flowlog_fit(model, x, y, batch):
    """``fit`` over the first ``steps`` batches, in order (no shuffle, as the others)."""

    def run(steps):
        n = steps * batch
        model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0, shuffle=False)

    return run


def flowlog_step(model, x, y, batch):
    """The raw step: ``model.session.run(model.train_op, feed)`` per batch."""
    sess, train_op = model.session, model.train_op
    inp, target = model.inputs[0], model.target
    slices = _batch_slices(len(x) // batch, batch)

    def run(steps):
        for i in range(steps):
            rows = slices[i % len(slices)]
            sess.run(train_op, {inp: x[rows], target: y[rows]})

    return run


def flowlog_losses(weights, x, y, lr=LR):
    """(loss at ``weights``, loss after one SGD step on the same batch), and the new weights."""
    model = lenet_keras(weights, lr)
    feed = {model.inputs[0]: x, model.target: y}
    before = float(model.session.run(model.total_loss, feed))
    model.session.run(model.train_op, feed)
    after = float(model.session.run(model.total_loss, feed))
    return before, after, model.get_weights()


# ====================================================================== numpy by hand
def _im2col(x, k):
    """VALID stride-1 patches of NHWC ``x`` as ``(N*oh*ow, k*k*C)`` (one copy)."""
    win = sliding_window_view(x, (k, k), axis=(1, 2))  # N oh ow C k k
    n, oh, ow = win.shape[:3]
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, -1)


def _col2im(dcols, x_shape, k):
    """Patch gradients ``(N*oh*ow, k*k*C)`` added back onto the input positions."""
    n, h, w, c = x_shape
    oh, ow = h - k + 1, w - k + 1
    per_offset = np.ascontiguousarray(dcols.reshape(n, oh, ow, k * k, c).transpose(3, 0, 1, 2, 4))
    dx = np.zeros(x_shape, dcols.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, i : i + oh, j : j + ow] += per_offset[i * k + j]
    return dx


def _pool(a):
    """2x2 max pooling, stride 2 (even sizes): three strided ``np.maximum`` passes."""
    y = np.maximum(a[:, 0::2, 0::2], a[:, 0::2, 1::2])
    np.maximum(y, a[:, 1::2, 0::2], out=y)
    return np.maximum(y, a[:, 1::2, 1::2], out=y)


def _pool_back(a, y, dy):
    """``dy`` to each window's maximum. Ties only occur among ReLU zeros, whose gradient the
    ReLU mask removes next, so no first-maximum rule is needed."""
    dx = np.empty_like(a)
    for i in (0, 1):
        for j in (0, 1):
            np.multiply(a[:, i::2, j::2] == y, dy, out=dx[:, i::2, j::2])
    return dx


def _colsum(a):
    """Column sums as a matmul (far faster than ``sum(axis=0)`` on tall, narrow arrays)."""
    return np.ones(len(a), a.dtype) @ a


def _conv_relu_pool(x, kernel, bias):
    n, h, w, _ = x.shape
    k, f = kernel.shape[0], kernel.shape[3]
    cols = _im2col(x, k)
    a = np.maximum((cols @ kernel.reshape(-1, f)).reshape(n, h - k + 1, w - k + 1, f) + bias, 0)
    return cols, a, _pool(a)


def numpy_step(w, x, y, lr=LR, train=True) -> float:
    """One LeNet step on the weight list ``w`` (updated in place); returns the batch loss."""
    k1, b1, k2, b2, w3, b3, w4, b4, w5, b5 = w
    n = x.shape[0]
    c1, h1, p1 = _conv_relu_pool(x, k1, b1)
    c2, h2, p2 = _conv_relu_pool(p1, k2, b2)
    f = p2.reshape(n, -1)
    h3 = np.maximum(f @ w3 + b3, 0)
    h4 = np.maximum(h3 @ w4 + b4, 0)
    z = h4 @ w5 + b5
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) - (shifted * y).sum(axis=1)))
    if not train:
        return loss
    dz = (e / s - y) / F32(n)
    dh4 = (dz @ w5.T) * (h4 > 0)
    dh3 = (dh4 @ w4.T) * (h3 > 0)
    df = dh3 @ w3.T
    da2 = _pool_back(h2, p2, df.reshape(p2.shape)) * (h2 > 0)
    da2f = da2.reshape(-1, 16)
    dp1 = _col2im(da2f @ k2.reshape(-1, 16).T, p1.shape, 5)
    da1 = _pool_back(h1, p1, dp1) * (h1 > 0)
    da1f = da1.reshape(-1, 6)
    grads = [
        (c1.T @ da1f).reshape(k1.shape),
        _colsum(da1f),
        (c2.T @ da2f).reshape(k2.shape),
        _colsum(da2f),
        f.T @ dh3,
        _colsum(dh3),
        h3.T @ dh4,
        _colsum(dh4),
        h4.T @ dz,
        _colsum(dz),
    ]
    for var, grad in zip(w, grads, strict=True):
        var -= lr * grad
    return loss


def numpy_run(weights, x, y, batch):
    w = [a.copy() for a in weights]
    slices = _batch_slices(len(x) // batch, batch)

    def run(steps):
        for i in range(steps):
            rows = slices[i % len(slices)]
            numpy_step(w, x[rows], y[rows])

    return run


def numpy_losses(weights, x, y, lr=LR):
    w = [a.copy() for a in weights]
    before = numpy_step(w, x, y, lr)
    return before, numpy_step(w, x, y, lr, train=False), w


# ====================================================================== PyTorch eager
def have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def torch_threads(n):
    """torch's intra-op threads set to ``n`` for the block (restored: callers may be tests)."""
    if not have_torch():
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def lenet_torch(weights, lr=LR):
    """The same net in NCHW; the first dense kernel's rows are permuted from the NHWC flatten
    order to torch's CHW one, so the same weights compute the same function."""
    import torch
    from torch import nn

    net = nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )
    k1, b1, k2, b2, w3, b3, w4, b4, w5, b5 = weights
    w3 = w3.reshape(4, 4, 16, 120).transpose(2, 0, 1, 3).reshape(256, 120)
    values = [k1.transpose(3, 2, 0, 1), b1, k2.transpose(3, 2, 0, 1), b2]
    values += [w3.T, b3, w4.T, b4, w5.T, b5]
    with torch.no_grad():
        for p, v in zip(net.parameters(), values, strict=True):
            p.copy_(torch.from_numpy(np.ascontiguousarray(v)))
    return net, torch.optim.SGD(net.parameters(), lr=lr)


def torch_inputs(x, labels):
    import torch

    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(labels)


def _torch_step(net, opt, xt, lt) -> float:
    import torch.nn.functional as tf

    opt.zero_grad(set_to_none=True)
    loss = tf.cross_entropy(net(xt), lt)
    loss.backward()
    opt.step()
    return loss.item()


def torch_run(weights, x, labels, batch):
    net, opt = lenet_torch(weights)
    xt, lt = torch_inputs(x, labels)
    slices = _batch_slices(len(x) // batch, batch)

    def run(steps):
        for i in range(steps):
            rows = slices[i % len(slices)]
            _torch_step(net, opt, xt[rows], lt[rows])

    return run


def torch_losses(weights, x, labels, lr=LR):
    import torch
    import torch.nn.functional as tf

    net, opt = lenet_torch(weights, lr)
    xt, lt = torch_inputs(x, labels)
    before = _torch_step(net, opt, xt, lt)
    with torch.no_grad():
        after = float(tf.cross_entropy(net(xt), lt))
    return before, after


# ====================================================================== agreement
def check_agreement(batch=64, seed=0, tol=1e-4) -> dict:
    """The first-batch loss and the loss after one step on it, per implementation, from the
    same weights; raises ``AssertionError`` if they differ (and if flowlog's and numpy's
    updated weights differ), since timing different maths would be moot."""
    weights = lenet_weights(seed)
    x, labels, y = lenet_data(batch, seed + 1)
    fl_before, fl_after, fl_w = flowlog_losses(weights, x, y)
    np_before, np_after, np_w = numpy_losses(weights, x, y)
    found = {"flowlog": (fl_before, fl_after), "numpy": (np_before, np_after)}
    if have_torch():
        found["torch"] = torch_losses(weights, x, labels)
    for name, got in found.items():
        np.testing.assert_allclose(got, found["flowlog"], rtol=tol, err_msg=name)
    for a, b in zip(fl_w, np_w, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 1e-2)
    return found


# ====================================================================== measuring
def measure(contenders: dict, steps: int, repeats: int) -> tuple[dict, dict]:
    """ms/step per round for each contender, run alternately round by round after a warm-up,
    and each one's minor page faults per step (memory the allocator gave back to the OS and
    touches again)."""
    for fn in contenders.values():
        fn(max(1, steps // 4))
    times = {name: [] for name in contenders}
    faults = dict.fromkeys(contenders, 0)
    for _ in range(repeats):
        for name, fn in contenders.items():
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0
            t0 = time.perf_counter()
            fn(steps)
            times[name].append((time.perf_counter() - t0) / steps * 1e3)
            if resource:
                faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    return times, {name: f / (steps * repeats) for name, f in faults.items()}


def steady_malloc() -> bool:
    """Make glibc keep freed memory (no trimming, no mmap per large array), so the step's big
    arrays reuse pages already faulted in. Process-wide and one-way: measured last."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(
            libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
        )
    except (OSError, AttributeError):  # not glibc
        return False


def ratios(times, a, b) -> list[float]:
    """Per-round ratios of contender ``a`` to ``b`` (same round, same load)."""
    return [x / y for x, y in zip(times[a], times[b], strict=True)]


def ratio(times, a, b) -> float:
    return statistics.median(ratios(times, a, b))


def noise(ts) -> float:
    return (max(ts) - min(ts)) / statistics.median(ts)


def lenet_contenders(batch, steps, seed=0) -> dict:
    weights = lenet_weights(seed)
    x, labels, y = lenet_data(batch * steps, seed + 1)
    model = lenet_keras(weights)
    found = {
        "flowlog fit": flowlog_fit(model, x, y, batch),
        "flowlog sess.run": flowlog_step(lenet_keras(weights), x, y, batch),
        "numpy": numpy_run(weights, x, y, batch),
    }
    if have_torch():
        found["torch"] = torch_run(weights, x, labels, batch)
    return found


def mlp_contenders(batch, steps, seed=0) -> dict:
    """``fit`` and the hand loop on one model; both shuffle with the shared generator."""
    rng = np.random.default_rng(seed)
    n = batch * steps
    x = rng.normal(size=(n, 784)).astype(F32)
    y = np.eye(10, dtype=F32)[rng.integers(0, 10, n)]
    L = fl.keras.layers
    model = fl.keras.Sequential(
        [L.Dense(128, activation="relu", input_shape=(784,)), L.Dense(10, activation="softmax")]
    )
    model.compile(fl.keras.optimizers.SGD(LR), "categorical_crossentropy")
    sess, inp, target = model.session, model.inputs[0], model.target

    def fit(k):
        m = k * batch
        model.fit(x[:m], y[:m], epochs=1, batch_size=batch, verbose=0)

    def loop(fetches, k):
        m = k * batch
        xs, ys = x[:m], y[:m]
        order = shared_rng().permutation(m)
        for start in range(0, m, batch):
            rows = order[start : start + batch]
            sess.run(fetches, {inp: xs[rows], target: ys[rows]})

    return {
        "sess.run loop": lambda k: loop(model.train_op, k),
        "fit": fit,
        "loop + loss": lambda k: loop([model.train_op, model.total_loss], k),
    }


def profile_step(batch, steps, top=15) -> str:
    """cProfile of the raw flowlog LeNet step, the top functions by own time."""
    weights = lenet_weights()
    x, _, y = lenet_data(batch * steps, 1)
    run = flowlog_step(lenet_keras(weights), x, y, batch)
    run(2)
    prof = cProfile.Profile()
    prof.enable()
    run(steps)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return f"cProfile, flowlog sess.run step, {steps} steps (times are totals):\n" + out.getvalue()


# ====================================================================== report
def _rows(times, faults, base):
    for name, ts in times.items():
        vs = "" if name == base else f"  {ratio(times, name, base):5.2f}x {base}"
        yield (
            f"  {name:18s} {statistics.median(ts):8.3f} ms/step  noise {noise(ts):5.1%}  "
            f"{faults[name]:6.0f} faults/step{vs}"
        )


def summary(lenet: dict, mlp: dict) -> list[tuple]:
    """``(target, median ratio, lowest and highest round's ratio, limit)`` rows; ``lenet`` maps
    a malloc mode to its times (rows only when torch ran)."""
    pairs = [
        (times, f"flowlog {way}", "torch", f"LeNet ({mode} malloc)", TARGETS["lenet"])
        for mode, times in lenet.items()
        if "torch" in times
        for way in ("fit", "sess.run")
    ]
    pairs.append((mlp, "fit", "sess.run loop", "MLP", TARGETS["mlp"]))
    rows = []
    for times, a, b, what, limit in pairs:
        rs = ratios(times, a, b)
        rows.append((f"{what} {a} / {b}", statistics.median(rs), min(rs), max(rs), limit))
    return rows


def _print_lenet(mode, times, faults, steps):
    print(f"LeNet train step, {mode} malloc, {steps} steps/round:")
    print("\n".join(_rows(times, faults, "torch" if "torch" in times else "numpy")))
    print(f"  flowlog sess.run / numpy {ratio(times, 'flowlog sess.run', 'numpy'):5.2f}x")


def _print_summary(rows, load_before, load_after, worst):
    print(f"{'target':48s} {'median':>7s} {'rounds':>13s} {'limit':>6s}")
    for name, value, low, high, limit in rows:
        verdict = "PASS" if value <= limit else "MISS"
        print(f"{name:48s} {value:6.2f}x  {low:5.2f}-{high:5.2f}x {limit:5.2f}x  {verdict}")
    print(f"load average (1 min) {load_before:.2f} -> {load_after:.2f}; worst noise {worst:.0%}")


def _measure_all(batch, steps, repeats, modes):
    """LeNet under each malloc mode, printed as it goes, and the MLP (default malloc). The
    default LeNet run comes first: a fresh process is what a training script starts as, and
    page-fault churn depends on what ran before; the MLP runs before the one-way switch."""
    lenet, faults, mlp = {}, {}, None
    for mode in modes:
        if mode == "steady":
            mlp = measure(mlp_contenders(batch, steps * 10), steps * 10, repeats)
            if not steady_malloc():
                print("(mallopt unavailable: no steady-malloc run)")
                continue
        lenet[mode], faults[mode] = measure(lenet_contenders(batch, steps), steps, repeats)
        _print_lenet(mode, lenet[mode], faults[mode], steps)
    if mlp is None:
        mlp = measure(mlp_contenders(batch, steps * 10), steps * 10, repeats)
    return lenet, faults, *mlp


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few steps and rounds (smoke test)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    ap.add_argument("--repeats", type=int, help="rounds (default 15, --quick 3)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, help="LeNet steps per round (default 10, --quick 3)")
    ap.add_argument("--malloc", choices=("default", "steady", "both"), default="both")
    ap.add_argument("--profile", action="store_true", help="cProfile the flowlog LeNet step")
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)
    steps = args.steps or (3 if args.quick else 10)
    modes = ["default", "steady"] if args.malloc == "both" else [args.malloc]
    load_before = os.getloadavg()[0]
    print(
        f"numpy {np.__version__}, float32, {args.threads} BLAS/torch thread(s) "
        f"(env OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}), {repeats} rounds, "
        f"batch {args.batch}; load average {load_before:.2f} at the start"
    )
    with torch_threads(args.threads):
        agreement = check_agreement(args.batch)
        print("first-batch loss, loss after one SGD step (same weights):")
        for name, (before, after) in agreement.items():
            print(f"  {name:18s} {before:.6f}  {after:.6f}")
        lenet, faults, mlp, mlp_faults = _measure_all(args.batch, steps, repeats, modes)
    if not have_torch():
        print("  (PyTorch not installed: torch comparison skipped)")
    print(f"MLP 784-128-10 fit overhead (default malloc), {steps * 10} steps/round:")
    print("\n".join(_rows(mlp, mlp_faults, "sess.run loop")))
    rows = summary(lenet, mlp)
    worst = max(
        noise(ts) for ts in [*mlp.values()] + [t for m in lenet.values() for t in m.values()]
    )
    _print_summary(rows, load_before, os.getloadavg()[0], worst)
    if args.profile:
        print(profile_step(args.batch, max(steps, 30)))
    return {"agreement": agreement, "lenet": lenet, "faults": faults, "mlp": mlp, "summary": rows}


if __name__ == "__main__":
    main()
