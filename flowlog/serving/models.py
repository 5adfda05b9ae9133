"""The versions of each served model: discovery under its base path, loading and warm-up,
availability-preserving swaps, and the handles requests hold while they run.

The rules are TensorFlow Serving's (``core/availability_preserving_policy.cc``):

* a version directory is ``<base_path>/<int>/``, written by :func:`flowlog.saved_model.save`,
  which renames a complete temporary directory into place: a half-copied version never has
  its integer name, so the poller never sees one (:func:`flowlog.saved_model.versions`);
* the wanted versions (the policy applied to the versions found, less those that failed)
  load highest first, each warmed up before it is AVAILABLE;
* an unwanted version is unloaded only once a wanted one is AVAILABLE, so there is no gap:
  a request takes its version when it starts and keeps it to the end (a handle), the old
  version goes UNLOADING when no new request can reach it and END when its last request
  has finished;
* a version that fails to load or warm up is END with the error in its status and the old
  one keeps serving. It is not retried until its directory changes (a re-export): the files
  of a complete version do not heal by themselves, so TF Serving's timed retries would only
  repeat the error.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowlog import saved_model
from flowlog.serving.config import ModelConfig
from flowlog.serving.errors import ServingError

LOADING, AVAILABLE, UNLOADING, END = "LOADING", "AVAILABLE", "UNLOADING", "END"
UNLOAD_WAIT_S = 30.0  # TF Serving's default request timeout: no request runs longer


@dataclass
class Version:
    """One version of a model and its state; ``loaded`` is set while it can serve."""

    number: int
    path: Path
    state: str = LOADING
    error_code: str = "OK"
    error_message: str = ""
    loaded: saved_model.Loaded | None = None
    inflight: int = 0
    warm_up_s: float = float("inf")  # one warm run of one row (inf: no warm-up was possible)

    @property
    def signature(self) -> dict:
        return self.loaded.signature


class Handle:
    """A request's hold on one AVAILABLE version (``with model.acquire(...) as version``)."""

    __slots__ = ("_model", "version")

    def __init__(self, model: ServedModel, version: Version):
        self._model, self.version = model, version

    def __enter__(self) -> Version:
        return self.version

    def __exit__(self, *exc) -> None:
        self._model.release(self.version)


def _warm_feed(signature: dict) -> dict[str, np.ndarray] | None:
    """A one-row feed of zeros matching the signature, or None when an input has no
    static rank (nothing sensible to make up)."""
    feed = {}
    for key, spec in signature["inputs"].items():
        if spec["shape"] is None:
            return None
        shape = [1 if d is None else d for d in spec["shape"]]
        feed[key] = np.zeros(shape, dtype=spec["dtype"])
    return feed


def _warm_up(loaded: saved_model.Loaded, sessions: int) -> float:
    """Compile ``sessions`` sessions' plans on a one-row feed; returns the time of one more
    (warm) run, which tells the app whether the model is quick enough to run inline."""
    feed = _warm_feed(loaded.signature)
    if feed is None:
        return float("inf")
    checked = loaded.check_inputs(feed)
    loaded.warm_up(checked, sessions)
    started = time.perf_counter()
    loaded.run_checked(checked)
    return time.perf_counter() - started


def _dir_stamp(path: Path) -> tuple:
    """What changes when a version directory is replaced or re-exported."""
    try:
        st = path.stat()
        files = [(path / f).stat().st_mtime_ns for f in saved_model.FILES]
    except OSError:
        return ()
    return (st.st_ino, st.st_mtime_ns, *files)


class ServedModel:
    """One model name: its tracked versions and the ones serving now."""

    def __init__(self, config: ModelConfig, on_event, warm_sessions: int = 1):
        self.config = config
        self.name = config.name
        self._on_event = on_event
        self._warm_sessions = warm_sessions
        self._lock = threading.Condition()
        self._versions: dict[int, Version] = {}  # every version ever tracked, END included
        self._serving: dict[int, Version] = {}
        self._latest: Version | None = None
        self._failed: dict[int, tuple] = {}  # version -> directory stamp when it failed
        self._warned_missing_base = False

    # ------------------------------------------------------------- requests
    def acquire(self, version: int | None = None, label: str | None = None) -> Handle:
        """A handle on the version a request asked for (the latest serving when none)."""
        with self._lock:
            if label is not None:
                version = self._label_version(label)
            if version is None:
                chosen = self._latest
                if chosen is None:
                    raise ServingError(404, f"Servable not found for request: Latest({self.name})")
            else:
                chosen = self._serving.get(version)
                if chosen is None:
                    raise ServingError(
                        404, f"Servable not found for request: Specific({self.name}, {version})"
                    )
            chosen.inflight += 1
        return Handle(self, chosen)

    def release(self, version: Version) -> None:
        with self._lock:
            version.inflight -= 1
            if version.inflight == 0 and version.state == UNLOADING:
                self._lock.notify_all()

    def _label_version(self, label: str) -> int:
        found = self.config.labels.get(label)
        if found is None:
            raise ServingError(400, f"Unrecognized servable version label: {label}")
        return found

    def status(self, version: int | None = None) -> list[tuple[int, str, str, str]]:
        """``(version, state, error_code, error_message)`` rows, newest first."""
        with self._lock:
            rows = [
                (v.number, v.state, v.error_code, v.error_message)
                for v in self._versions.values()
                if version is None or v.number == version
            ]
        if not rows:
            if version is None:
                raise ServingError(404, f"Could not find any versions of model {self.name}")
            raise ServingError(404, f"Could not find version {version} of model {self.name}")
        return sorted(rows, reverse=True)

    def unload_all(self) -> None:
        """Unload every serving version (the model left the config)."""
        for number in self.serving_versions():
            self._unload(number)

    def serving_versions(self) -> list[int]:
        with self._lock:
            return sorted(self._serving)

    # ------------------------------------------------------------- versions
    def poll(self) -> list[str]:
        """Bring the served versions in line with the base path; returns load errors."""
        base = Path(self.config.base_path)
        try:
            found = saved_model.versions(base)
        except FileNotFoundError:
            found = []
            if not self._warned_missing_base:
                self._warned_missing_base = True
                self._event(None, "WARNING", f"base path {base} does not exist (yet)")
        self._forget_changed_failures(base, found)
        usable = [n for n in found if n not in self._failed]
        wanted = self.config.policy.wanted(usable)
        errors = []
        for number in sorted(set(wanted) - set(self._serving), reverse=True):
            error = self._load(number, base / str(number))
            if error:
                errors.append(error)
        with self._lock:
            wanted_up = any(n in self._serving for n in wanted)
        for number in sorted(set(self._serving) - set(wanted)):
            if wanted_up or number not in found:
                self._unload(number)
        return errors

    def _forget_changed_failures(self, base: Path, found: list[int]) -> None:
        for number, stamp in list(self._failed.items()):
            if number not in found or _dir_stamp(base / str(number)) != stamp:
                del self._failed[number]

    def _load(self, number: int, path: Path) -> str | None:
        version = Version(number, path)
        with self._lock:
            self._versions[number] = version
        self._event(number, LOADING, f"loading {path}")
        started = time.perf_counter()
        try:
            loaded = saved_model.load(path)
            version.warm_up_s = _warm_up(loaded, self._warm_sessions)
        except Exception as exc:  # a broken version must never take the server down
            code = "DATA_LOSS" if isinstance(exc, (OSError, ValueError)) else "UNKNOWN"
            message = f"{type(exc).__name__}: {exc}"
            with self._lock:
                version.state, version.error_code, version.error_message = END, code, message
            self._failed[number] = _dir_stamp(path)
            self._event(number, END, f"failed to load: {message}")
            return f"{self.name} version {number}: {message}"
        with self._lock:
            version.loaded, version.state = loaded, AVAILABLE
            self._serving = {**self._serving, number: version}
            self._latest = self._serving[max(self._serving)]
        took = 1e3 * (time.perf_counter() - started)
        self._event(number, AVAILABLE, f"serving version {number} (loaded in {took:.0f} ms)")
        return None

    def _unload(self, number: int) -> None:
        with self._lock:
            version = self._serving.pop(number)
            self._serving = dict(self._serving)
            self._latest = self._serving[max(self._serving)] if self._serving else None
            version.state = UNLOADING
        self._event(number, UNLOADING, f"unloading version {number}")
        with self._lock:
            done = self._lock.wait_for(lambda: version.inflight == 0, UNLOAD_WAIT_S)
            version.state, version.loaded = END, None
            if not done:
                version.error_message = f"unloaded with {version.inflight} requests running"
        self._event(number, END, f"version {number} unloaded")

    def _event(self, number: int | None, state: str, message: str) -> None:
        self._on_event(self.name, number, state, message)


class ModelManager:
    """Every served model, and the threads that poll their base paths and the config file."""

    def __init__(self, configs: list[ModelConfig], on_event=None, warm_sessions: int = 1):
        self._on_event = on_event or (lambda *a: None)
        self._warm_sessions = warm_sessions
        self.models = {c.name: self._new_model(c) for c in configs}  # replaced, never mutated
        self._poll_lock = threading.Lock()  # one poll or reconfiguration at a time
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _new_model(self, config: ModelConfig) -> ServedModel:
        return ServedModel(config, self._on_event, self._warm_sessions)

    def model(self, name: str, *, status: bool = False) -> ServedModel:
        """The model called ``name``; a 404 worded as TF Serving words it otherwise."""
        found = self.models.get(name)
        if found is None:
            if status:
                raise ServingError(404, f"Could not find any versions of model {name}")
            raise ServingError(404, f"Servable not found for request: Latest({name})")
        return found

    def poll_once(self) -> list[str]:
        with self._poll_lock:
            return [e for m in self.models.values() for e in m.poll()]

    def reconfigure(self, configs: list[ModelConfig]) -> list[str]:
        """Serve exactly ``configs`` (TF Serving's config reload): a new model loads, a removed
        one is unloaded once its requests finish, a changed policy or label applies from this
        poll, and a model whose base path changed is served anew from there."""
        with self._poll_lock:
            current, kept, dropped = self.models, {}, []
            for config in configs:
                model = current.get(config.name)
                if model is not None and model.config.base_path != config.base_path:
                    dropped.append(model)
                    model = None
                if model is None:
                    model = self._new_model(config)
                    self._on_event(config.name, None, "ADDED", f"serving {config.base_path}")
                elif model.config != config or dict(model.config.labels) != dict(config.labels):
                    model.config = config
                    self._on_event(config.name, None, "CHANGED", "new version policy or labels")
                kept[config.name] = model
            dropped += [m for name, m in current.items() if name not in kept]
            self.models = kept  # one assignment: a request sees the old mapping or the new
            errors = [e for m in kept.values() for e in m.poll()]
        for model in dropped:
            model.unload_all()
            if model.name not in kept:
                self._on_event(model.name, None, "REMOVED", "no longer in the config file")
        return errors

    def start_polling(self, every_s: float) -> None:
        """Poll the base paths every ``every_s`` seconds on a daemon thread (0: never again)."""
        self._start_loop(every_s, self.poll_once, "flowlog-serve-poll", "poll")

    def start_config_polling(self, read_configs, every_s: float) -> None:
        """Re-read the model config every ``every_s`` seconds (0: never). A file that cannot
        be read or parsed is reported and the models served stay as they are."""
        self._start_loop(
            every_s, lambda: self.reconfigure(read_configs()), "flowlog-serve-config", "config"
        )

    def _start_loop(self, every_s: float, work, name: str, what: str) -> None:
        if every_s <= 0:
            return

        def loop():
            while not self._stop.wait(every_s):
                try:
                    work()
                except Exception as exc:  # the poller must outlive any bad directory or file
                    message = f"{what} failed, serving as before: {type(exc).__name__}: {exc}"
                    self._on_event("*", None, "WARNING", message)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=UNLOAD_WAIT_S + 5)
