"""Shared fixtures (a real dashboard server on loopback, a real headless Chromium) and helpers
that several test modules import."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sqlite3
import tempfile
import threading

import pytest

# Single-threaded BLAS before numpy loads: multi-threaded OpenBLAS on 2 contended cores is 7-12x
# slower for the small models the tests train.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# TensorBoard runs are converted into a cache outside the logdir: the tests' own, never ~/.cache
os.environ.setdefault("FLOWLOG_CACHE_DIR", tempfile.mkdtemp(prefix="flowlog-test-cache-"))

# Generous: a loaded 2-core CI machine can take many seconds for a first Dash page load. Tests wait
# on DOM state, so a passing test never waits this long.
BROWSER_TIMEOUT_MS = int(os.environ.get("FLOWLOG_BROWSER_TIMEOUT_MS", "45000"))

CHROMIUM = os.environ.get("FLOWLOG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (its own browser download cannot work here)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"chromium not found at {CHROMIUM}: run `make setup-browser`")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield pg
    context.close()


@contextlib.contextmanager
def page_of_size(browser, size, url):
    """A page of window ``size`` (width, height) opened on ``url``, closed on exit."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    pg = context.new_page()
    pg.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        pg.goto(url)
        yield pg
    finally:
        context.close()


class DashServer:
    """Runs a Dash app's Flask server in a thread on a free loopback port."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        # a short poll: shutdown() waits for the loop to notice (0.5 s per server by default)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def dash_server():
    """Call with a logdir: ``url = dash_server(logdir, reload_interval=0.5)``."""
    servers = []

    def start(logdir, **kwargs):
        from flowlog.dashboard import create_app

        server = DashServer(create_app(logdir, **kwargs))
        servers.append(server)
        return server.url

    yield start
    for s in servers:
        s.stop()


# --- helpers shared by test modules (import them: `from conftest import ...`) ---------------


def linear_model(lr=0.1):
    """The tests' watched model: ``dense/w`` (3x1) and ``dense/b`` fit by gradient descent.
    Returns ``(graph, x, y, w, b, loss, train)``."""
    import numpy as np  # not at the top: BLAS threads are set before numpy loads

    import flowlog as fl

    g = fl.Graph()
    with g.as_default():
        x = fl.placeholder(fl.float64, shape=[None, 3], name="x")
        y = fl.placeholder(fl.float64, shape=[None, 1], name="y")
        with fl.name_scope("dense"):
            w = fl.Variable(np.array([[0.5], [-0.25], [1.0]]), name="w")
            b = fl.Variable(np.zeros(1), name="b")
            pred = fl.matmul(x, w) + b
        loss = fl.reduce_mean(fl.square(pred - y), name="loss")
        train = fl.train.GradientDescentOptimizer(lr).minimize(loss)
    return g, x, y, w, b, loss, train


def assert_chunks_sound(path, allow_empty: bool = False) -> int:
    """Every scalar chunk the writer left is consistent (blob size, step bounds, steps
    strictly increasing within and across a tag's chunks); how many there are (> 0 unless
    ``allow_empty``)."""
    from flowlog import schema_chunks

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        checked = schema_chunks.check(conn)
    finally:
        conn.close()
    assert checked > 0 or allow_empty
    return checked


def stored_points(conn) -> int:
    """Scalar points stored in an open database (every tag)."""
    return conn.execute("SELECT ifnull(sum(n), 0) FROM scalar_chunks").fetchone()[0]


EVIL = "<img src=x onerror=window.__pwned=1>"
N = 3000


def write_run(logdir, name, *, n=N, seed=0, lr=0.1, nan_at=None, evil_tag=False, close=True):
    """A run with loss/train (every step), loss/val (every 10th), a histogram and hparams."""
    import numpy as np  # not at the top: BLAS threads are set before numpy loads

    from flowlog.writer import SummaryWriter

    rng = np.random.default_rng(seed)
    w = SummaryWriter(logdir=logdir, run_name=name, flush_secs=0.2)
    loss = np.exp(-np.arange(n) / 700) + 0.05 * rng.normal(size=n)
    if nan_at is not None:
        loss[nan_at] = math.nan
    for s in range(n):
        w.add_scalar("loss/train", float(loss[s]), s)
        if s % 10 == 0:
            w.add_scalar("loss/val", float(loss[s]) + 0.1, s)
    for s in range(0, n, 300):
        w.add_histogram("weights/w", rng.normal(loc=s / n, size=500), s)
    if evil_tag:
        w.add_scalar(EVIL, 1.0, 0)
    w.add_hparams({"lr": lr, "seed": seed}, {"final_loss": float(loss[-1])})
    if close:
        w.close()
    else:
        w.flush()
    return w, loss


def write_two_runs(logdir):
    """The Scalars tests' logdir: alpha (a NaN at step 1500) and beta."""
    write_run(logdir, "alpha", seed=1, lr=0.1, nan_at=1500)
    write_run(logdir, "beta", seed=2, lr=0.01)
    return logdir


def run_nan_example(logdir):
    """``examples/nan_debugging.py`` into ``logdir``: a run whose loss goes NaN, with its graph."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples/nan_debugging.py"
    spec = importlib.util.spec_from_file_location("nan_debugging", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--logdir", str(logdir)]) == 0
    return logdir


def numeric_grads(build, values, shapes, seed=0):
    """``(analytic, numeric, graph)``: fl.gradients of sum(build(*xs) * R) for placeholders of
    ``shapes`` fed ``values``, and central finite differences of the same loss."""
    import numpy as np

    import flowlog as fl

    eps = 1e-6
    values = [np.asarray(v, dtype=np.float64) for v in values]
    g = fl.Graph()
    with g.as_default():
        phs = [fl.placeholder(shape=s, name=f"in{i}") for i, s in enumerate(shapes)]
        out = build(*phs)
        r = fl.placeholder(shape=None, name="r")
        loss = fl.reduce_sum(out * r)
        grads = fl.gradients(loss, phs)
    sess = fl.Session(graph=g)
    feed = dict(zip(phs, values, strict=True))
    feed[r] = np.random.default_rng(seed).normal(size=np.shape(sess.run(out, feed)))
    analytic = sess.run(grads, feed)
    numeric = []
    for ph, a in zip(phs, values, strict=True):
        n = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus, minus = a.copy(), a.copy()
            plus[idx] += eps
            minus[idx] -= eps
            n[idx] = (sess.run(loss, {**feed, ph: plus}) - sess.run(loss, {**feed, ph: minus})) / (
                2 * eps
            )
        numeric.append(n)
    return analytic, numeric, g


@pytest.fixture
def keras_fresh():
    """Seeded, and ``Input()`` tensors in a fresh default graph: Keras' auto names do not
    depend on the order tests run in (``pytestmark = pytest.mark.usefixtures(...)``)."""
    import flowlog as fl

    fl.keras.utils.set_random_seed(0)
    with fl.Graph().as_default():
        yield
