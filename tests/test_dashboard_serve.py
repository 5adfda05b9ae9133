"""The dashboard as `flowlog-dashboard` serves it: waitress (not Flask's development server),
quiet by default, an access token on every endpoint for non-loopback binds, and a logdir the
server cannot write read without creating a file in it. Real server processes on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAIN = "import sys; from flowlog.dashboard.app import main; sys.exit(main())"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_runs(logdir: Path) -> None:
    from flowlog.writer import SummaryWriter

    for name in ("alpha", "beta"):
        with SummaryWriter(logdir=str(logdir), run_name=name) as w:
            for step in range(200):
                w.add_scalar("loss/train", 1.0 / (step + 1), step)
            w.add_histogram("weights/w", [0.1, 0.2, 0.3], 0)


class Server:
    """A `flowlog-dashboard` process; ``output()`` is everything it printed so far."""

    def __init__(self, logdir, *args, env=None, user=None):
        self.port = _free_port()
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        os.chmod(self.log.name, 0o666)
        cmd = [sys.executable, "-c", MAIN, "--logdir", str(logdir), "--port", str(self.port), *args]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
        env = {**os.environ, **(env or {})}
        out = self.log
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dashboard exited {self.proc.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"dashboard never listened:\n{self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(10)
        out = self.output()
        os.unlink(self.log.name)
        return out


@pytest.fixture
def logdir(tmp_path):
    _write_runs(tmp_path / "runs")
    return tmp_path / "runs"


@pytest.fixture
def server():
    started = []

    def start(logdir, *args, **kwargs):
        s = Server(logdir, *args, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.stop()


def fetch(url, *, data=None, headers=None, method=None):
    """``(status, headers, body)`` without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _endpoints(base):
    """Every kind of URL the page uses: the page, Dash's layout/dependencies, a callback POST,
    a stylesheet and a component bundle."""
    status, _, body = fetch(f"{base}/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    bundle = next(
        part.split('"')[0]
        for part in body.decode().split('src="')[1:]
        if "_dash-component-suites" in part
    )
    callback = b'{"output":"x.children","outputs":{"id":"x","property":"children"},"inputs":[]}'
    return [
        ("GET", f"{base}/", None),
        ("GET", f"{base}/_dash-layout", None),
        ("GET", f"{base}/_dash-dependencies", None),
        ("POST", f"{base}/_dash-update-component", callback),
        ("GET", f"{base}/assets/app.css", None),
        ("GET", f"{base}{bundle}", None),
    ]


TOKEN = "s3cret-token-for-tests"


def test_default_server_is_waitress_and_logs_no_requests(server, logdir):
    s = server(logdir)
    for _ in range(10):
        status, headers, _ = fetch(f"{s.url}/_dash-layout")
        assert status == 200
    assert headers["Server"] == "flowlog"  # waitress with our ident; Werkzeug names itself
    out = s.stop()
    assert "development server" not in out
    assert "_dash-layout" not in out and "GET /" not in out
    assert "at http://127.0.0.1:" in out


def test_access_log_lines_when_asked(server, logdir):
    s = server(logdir, "--access-log")
    fetch(f"{s.url}/_dash-layout?token=leak")
    fetch(f"{s.url}/assets/missing.css")
    time.sleep(0.2)
    out = s.stop()
    assert "GET /_dash-layout 200" in out
    assert "GET /assets/missing.css 404" in out
    assert "leak" not in out  # query strings (which may hold the token) are not logged


def test_token_is_checked_on_every_endpoint(server, logdir):
    s = server(logdir, "--auth-token", TOKEN)
    cases = _endpoints(s.url)
    for method, url, data in cases:
        assert fetch(url, data=data, method=method)[0] == 401, url
        wrong = {"Authorization": "Bearer nope"}
        assert fetch(url, data=data, method=method, headers=wrong)[0] == 401, url
        bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        assert fetch(url, data=data, method=method, headers=bearer)[0] != 401, url
    # ?token= once: a cookie, and a redirect to the same page without the token in the URL
    status, headers, _ = fetch(f"{s.url}/?token={TOKEN}&x=1")
    assert status == 302 and headers["Location"] == "/?x=1"
    cookie = headers["Set-Cookie"].split(";")[0]
    assert TOKEN not in cookie and "HttpOnly" in headers["Set-Cookie"]
    for method, url, data in cases:
        jar = {"Cookie": cookie, "Content-Type": "application/json"}
        assert fetch(url, data=data, method=method, headers=jar)[0] != 401, url
    assert fetch(f"{s.url}/?token=wrong")[0] == 401
    assert TOKEN not in s.stop()  # a token the user chose is never echoed


def test_non_loopback_host_warns_and_generates_a_token(server, logdir):
    s = server(logdir, "--host", "0.0.0.0")
    deadline = time.monotonic() + 20
    while "token=" not in s.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    out = s.output()
    assert "WARNING: --host 0.0.0.0 serves the dashboard to every machine" in out
    token = out.split("?token=")[1].split()[0]
    assert len(token) >= 24
    assert fetch(f"{s.url}/_dash-layout")[0] == 401
    assert fetch(f"{s.url}/_dash-layout", headers={"Authorization": f"Bearer {token}"})[0] == 200


def test_token_from_the_environment(server, logdir):
    s = server(logdir, "--host", "0.0.0.0", env={"FLOWLOG_DASHBOARD_TOKEN": TOKEN})
    assert fetch(f"{s.url}/_dash-layout")[0] == 401
    assert fetch(f"{s.url}/_dash-layout", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert TOKEN not in s.stop()


def test_no_auth_serves_openly_with_a_warning(server, logdir):
    s = server(logdir, "--host", "0.0.0.0", "--no-auth")
    assert fetch(f"{s.url}/_dash-layout")[0] == 200
    assert "with no access token" in s.stop()


def test_bad_flags_and_busy_port_are_clear_errors(logdir):
    main = MAIN
    empty = subprocess.run(
        [sys.executable, "-c", main, "--logdir", str(logdir), "--auth-token", " "],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert empty.returncode == 2 and "--auth-token must not be empty" in empty.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run(
            [sys.executable, "-c", main, "--logdir", str(logdir), "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert taken.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr and "--port" in taken.stderr


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the server as user nobody (needs root)")
def test_a_logdir_the_server_cannot_write_reads_and_stays_untouched():
    """A teammate's logdir: owned by root, the server runs as nobody. Closed runs are listed
    (not skipped as unreadable) and browsing creates no -wal/-shm or any other file."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    base = Path(tempfile.mkdtemp(prefix="flowlog-ro-"))
    try:
        os.chmod(base, 0o755)
        logdir = base / "runs"
        _write_runs(logdir)
        for p in [logdir, *logdir.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        before = _listing(logdir)
        s = Server(logdir, user=65534)
        try:
            status, _, layout = fetch(f"{s.url}/_dash-layout")
            assert status == 200
            text = layout.decode()
            assert '"alpha"' in text and '"beta"' in text
            assert "skipped" not in text and "not a readable" not in text
            for _ in range(3):  # refresh ticks re-scan the logdir
                fetch(f"{s.url}/_dash-layout")
                time.sleep(0.3)
        finally:
            out = s.stop()
        assert _listing(logdir) == before, out
    finally:
        shutil.rmtree(base, ignore_errors=True)
