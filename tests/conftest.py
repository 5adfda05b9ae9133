"""Shared fixtures: a real dashboard server on loopback and a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import threading

import pytest

# Single-threaded BLAS before numpy loads: multi-threaded OpenBLAS on 2 contended cores is 7-12x
# slower for the small models the tests train.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

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


class DashServer:
    """Runs a Dash app's Flask server in a thread on a free loopback port."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
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
