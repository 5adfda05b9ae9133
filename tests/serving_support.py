"""Shared parts of the serving tests: real exports, a real ``flowlog serve`` process on
loopback, and a small keep-alive HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

import flowlog as fl

START_TIMEOUT_S = 60
_LISTENING = re.compile(r"serving (\S+) at http://[^:]+:(\d+)/")


def export_linear(base: Path, version: int, w, b, *, name_x="x") -> Path:
    """A linear model y = x @ w + b (float32) exported as ``base/<version>``."""
    w = np.asarray(w, np.float32).reshape(-1, 1)
    graph = fl.Graph()
    with graph.as_default():
        x = fl.placeholder(fl.float32, shape=(None, w.shape[0]), name=name_x)
        wv = fl.Variable(w, name="w")
        bv = fl.Variable(np.asarray([b], np.float32), name="b")
        y = fl.add(fl.matmul(x, wv), bv, name="y")
    return fl.saved_model.save(fl.Session(graph), base / str(version), {"x": x}, {"y": y})


def linear_answer(x, w, b) -> np.ndarray:
    """What the engine computes for the linear model (float32 throughout)."""
    x = np.asarray(x, np.float32)
    return x @ np.asarray(w, np.float32).reshape(-1, 1) + np.float32(b)


class Served:
    """``flowlog serve ARGS`` in a subprocess on a free loopback port; stderr is collected."""

    def __init__(self, *args: str, env: dict | None = None):
        cmd = [sys.executable, "-m", "flowlog.cli", "serve", "--port", "0", *args]
        full_env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
        self.proc = subprocess.Popen(
            cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=full_env
        )
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.port = None
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT_S) or self.port is None:
            self.kill()
            raise AssertionError("flowlog serve did not start:\n" + "".join(self.lines))

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            found = _LISTENING.search(line)
            if found and self.port is None:
                self.port = int(found.group(2))
                self._ready.set()
        self._ready.set()  # exited before listening

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def client(self) -> Client:
        return Client(self.port)

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in the server's log:\n{self.log}")
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM and wait: the clean shutdown."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


class Client:
    """One keep-alive connection; ``request`` returns (status, parsed JSON or raw bytes)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body=None, headers=None):
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.getheader("Content-Type") == "application/json":
            return resp.status, json.loads(raw)
        return resp.status, raw

    def predict(self, model: str, body, version: int | None = None):
        where = f"/v1/models/{model}" + (f"/versions/{version}" if version else "")
        return self.request("POST", where + ":predict", body)

    def status(self, model: str):
        return self.request("GET", f"/v1/models/{model}")

    def close(self) -> None:
        self.conn.close()


def states(client: Client, model: str) -> dict[int, str]:
    """``{version: state}`` from the status endpoint (empty while the model has none)."""
    _, body = client.status(model)
    return {int(v["version"]): v["state"] for v in body.get("model_version_status", [])}


def wait_for_states(client: Client, model: str, wanted: dict, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        now = states(client, model)
        if all(now.get(v) == s for v, s in wanted.items()):
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"states {now}, waited for {wanted}")
        time.sleep(0.05)
