"""Hot swaps under load on a real ``flowlog serve``: 8 concurrent clients while version 2
replaces version 1 (no failed request, every answer exactly one version's), a broken
version 3 that changes nothing, the swap in the server's own flowlog run, and kill -9."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest
from serving_support import Served, export_linear, linear_answer, wait_for_states

from flowlog.backends import open_logdir

W1, B1 = [1.0, 2.0], 0.5
W2, B2 = [-3.0, 1.0], 2.0
CLIENTS = 8
INTERVAL_S = 0.25


class Load:
    """CLIENTS threads, each on its own connection, predicting random rows until stopped."""

    def __init__(self, server):
        self.server = server
        self.stop = threading.Event()
        self.answers: list[tuple[np.ndarray, np.ndarray, float]] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(i,)) for i in range(CLIENTS)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads)

    def _client(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        client = self.server.client()
        try:
            while not self.stop.is_set():
                rows = rng.normal(size=(int(rng.integers(1, 4)), 2)).astype(np.float32)
                code, body = client.predict("linreg", {"instances": rows.tolist()})
                with self._lock:
                    if code != 200:
                        self.failures.append(f"{code} {body}")
                    else:
                        got = np.asarray(body["predictions"], np.float32)
                        self.answers.append((rows, got, time.monotonic()))
        except Exception as exc:  # a dropped connection is a failed request too
            with self._lock:
                self.failures.append(repr(exc))
        finally:
            client.close()

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < n:
            assert time.monotonic() < deadline, f"only {self.count()} answers"
            assert not self.failures, self.failures[:3]
            time.sleep(0.02)


def _which(rows, got) -> int:
    """1 or 2: the version whose exact output this is (never a mix of them)."""
    if np.array_equal(got, linear_answer(rows, W1, B1)):
        return 1
    if np.array_equal(got, linear_answer(rows, W2, B2)):
        return 2
    raise AssertionError(f"answer {got.tolist()} for {rows.tolist()} is neither version's")


def _break(base, version):
    """A complete-looking version whose variables.npz was cut short (a bad copy)."""
    staged = export_linear(base.parent / "staging", version, W2, B2)
    data = (staged / "variables.npz").read_bytes()
    (staged / "variables.npz").write_bytes(data[: len(data) // 2])
    shutil.move(staged, base / str(version))


@pytest.fixture
def base(tmp_path):
    path = tmp_path / "models" / "linreg"
    export_linear(path, 1, W1, B1)
    return path


def test_hot_swap_under_load_drops_nothing_and_never_mixes(base, tmp_path):
    logdir = tmp_path / "runs"
    served = Served(
        "--model-name", "linreg", "--model-base-path", str(base), "--logdir", str(logdir),
        "--file-system-poll-wait-seconds", "0.1", "--metrics-interval-s", str(INTERVAL_S),
    )  # fmt: skip
    watcher = served.client()
    try:
        with Load(served) as load:
            load.wait_for(200)
            time.sleep(3 * INTERVAL_S)  # version 1's traffic reaches the log
            export_linear(base, 2, W2, B2)
            wait_for_states(watcher, "linreg", {2: "AVAILABLE", 1: "END"})
            switched = time.monotonic()
            load.wait_for(load.count() + 200)
            _break(base, 3)
            now = wait_for_states(watcher, "linreg", {3: "END", 2: "AVAILABLE"})
            load.wait_for(load.count() + 200)
        assert load.failures == []
        versions = [(_which(rows, got), t) for rows, got, t in load.answers]
        assert {v for v, _ in versions} == {1, 2}
        assert all(v == 2 for v, t in versions if t > switched)  # none of 1 after its END
        assert sorted(now) == [1, 2, 3]
        code, body = watcher.request("GET", "/v1/models/linreg/versions/3")
        status = body["model_version_status"][0]["status"]
        assert status["error_code"] == "DATA_LOSS" and "variables.npz" in status["error_message"]
    finally:
        watcher.close()
        assert served.stop() == 0
    _assert_the_run_shows_the_swap(logdir, len(load.answers))


def _assert_the_run_shows_the_swap(logdir, answered: int) -> None:
    provider = open_logdir(logdir, cache=False)
    (run,) = [r.name for r in provider.runs()]
    assert provider.run_info(run).status == "finished"
    version = provider.scalars(run, "linreg/serving_version").value
    assert version[0] == 1 and version[-1] == 2
    total = provider.scalars(run, "linreg/requests_total").value
    assert total[-1] >= answered  # every answer counted (the status polls too)
    assert max(provider.scalars(run, "linreg/requests_per_s").value) > 0
    events = " ".join(text for *_, text in provider.texts(run, "linreg/events"))
    assert "**AVAILABLE** version 2" in events and "**END** version 3" in events
    assert "variables.npz" in events


def test_kill_9_then_restart_serves_again_from_the_base_path(base, tmp_path):
    export_linear(base, 2, W2, B2)
    logdir = tmp_path / "runs"
    first = Served(
        "--model-name", "linreg", "--model-base-path", str(base), "--logdir", str(logdir)
    )
    client = first.client()
    assert client.predict("linreg", {"instances": [[1.0, 1.0]]})[0] == 200
    client.close()
    time.sleep(1.5)  # at least one metrics interval reaches the log
    first.kill()
    again = Served(
        "--model-name", "linreg", "--model-base-path", str(base), "--logdir", str(logdir)
    )
    client = again.client()
    try:
        code, body = client.predict("linreg", {"instances": [[1.0, 1.0]]})
        assert code == 200 and body["predictions"] == [[0.0]]  # version 2: -3 + 1 + 2
    finally:
        client.close()
        assert again.stop() == 0
    provider = open_logdir(logdir, cache=False)
    runs = provider.runs()
    assert len(runs) == 2  # the killed server's run is still readable beside the new one
    assert sorted(r.status for r in runs) == ["crashed", "finished"]
    for run in runs:
        assert len(provider.scalars(run.name, "linreg/requests_per_s").value) >= 1


def test_batched_requests_under_load_get_exactly_their_own_rows(base, tmp_path):
    params = tmp_path / "batching.txt"
    params.write_text("max_batch_size { value: 16 } batch_timeout_micros { value: 1000 }\n")
    served = Served(
        "--model-name", "linreg", "--model-base-path", str(base),
        "--enable-batching", "--batching-parameters-file", str(params),
    )  # fmt: skip
    try:
        with Load(served) as load:
            load.wait_for(300)
        assert load.failures == []
        assert {_which(rows, got) for rows, got, _ in load.answers} == {1}
        client = served.client()
        code, body = client.predict("linreg", {"instances": [[0.0, 0.0]] * 17})
        client.close()
        assert code == 400 and "larger than maximum input batch size 16" in body["error"]
    finally:
        assert served.stop() == 0


def _write_config(path, models: dict) -> None:
    """Replace the config file atomically (the server never reads half a file)."""
    blocks = "".join(f"  config {{ name: '{n}' base_path: '{p}' }}\n" for n, p in models.items())
    staged = path.with_suffix(".tmp")
    staged.write_text(f"model_config_list {{\n{blocks}}}\n")
    staged.replace(path)


def test_a_reloaded_config_file_adds_and_removes_models(base, tmp_path):
    other = tmp_path / "models" / "other"
    export_linear(other, 4, W2, B2)
    config = tmp_path / "models.config"
    _write_config(config, {"linreg": base})
    served = Served(
        "--model-config-file", str(config), "--model-config-file-poll-wait-seconds", "0.1"
    )
    client = served.client()
    try:
        assert client.status("other")[0] == 404
        _write_config(config, {"linreg": base, "other": other})
        wait_for_states(client, "other", {4: "AVAILABLE"})
        config.write_text("model_config_list { config { name: 'broken'")  # a bad edit
        served.wait_for_log("config failed, serving as before")
        code, body = client.predict("other", {"instances": [[1.0, 1.0]]})
        assert code == 200 and body["predictions"] == [[0.0]]
        _write_config(config, {"other": other})
        served.wait_for_log("linreg: REMOVED")
        assert client.predict("linreg", {"instances": [[1.0, 1.0]]})[0] == 404
    finally:
        client.close()
        assert served.stop() == 0
