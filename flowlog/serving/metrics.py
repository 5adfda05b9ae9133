"""The server's own flowlog run: traffic per model and version, written through the writer,
so ``flowlog-dashboard --logdir runs`` shows serving beside training.

Every ``interval_s`` (step = whole intervals since the server started) it writes, per model:

* ``<model>/requests_per_s``, ``<model>/errors_per_s`` (answers ≥ 400) and
  ``<model>/requests_total`` (answers since the start), all versions together;
* ``<model>/latency_ms/p50``, ``/p90``, ``/p99`` and the histogram ``<model>/latency_ms``
  (server-side time from request to answer) when the interval had requests;
* ``<model>/v<N>/requests_per_s`` and ``<model>/v<N>/latency_ms/p50`` per version that answered;
* ``<model>/serving_version``: the newest version serving;

and the version changes of each interval as one Markdown list under ``<model>/events``
(LOADING, AVAILABLE, UNLOADING, END with the reason). Requests only append to a list under a
lock; all statistics and writing happen on the metrics thread.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import numpy as np

from flowlog.writer import SummaryWriter

PERCENTILES = (50, 90, 99)


class ServingMetrics:
    """Collects request outcomes and version events; writes them on its own thread."""

    def __init__(self, writer: SummaryWriter, models, interval_s: float = 1.0, serving=None):
        """``models``: a callable giving the names served now (they change on a config
        reload); ``serving``: model name -> its newest serving version (or None)."""
        self.writer = writer
        self.interval_s = interval_s
        self._models = models
        self._serving = serving or (lambda model: None)  # model -> newest serving version
        self._lock = threading.Lock()
        self._latencies: dict[tuple, list[float]] = defaultdict(list)
        self._errors: dict[str, int] = defaultdict(int)
        self._events: list[tuple[str, str]] = []
        self._totals: dict[str, int] = defaultdict(int)  # answers since the start, per model
        self._start = self._interval_start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="flowlog-serve-metrics", daemon=True
        )
        self._step = 0

    def start(self) -> None:
        self._thread.start()

    def record(self, model: str | None, version: int | None, seconds: float, status: int):
        """One answered request (``model`` None: the path named no model we serve)."""
        with self._lock:
            if model is not None:
                self._latencies[(model, version)].append(seconds)
            if status >= 400:
                self._errors[model or "unrouted"] += 1

    def event(self, model: str, version: int | None, state: str, message: str) -> None:
        where = f"version {version}" if version is not None else "model"
        with self._lock:
            self._events.append((model, f"**{state}** {where}: {message}"))

    def _loop(self) -> None:
        while not self._stop.wait(self._until_next()):
            self.write_interval()

    def _until_next(self) -> float:
        elapsed = time.monotonic() - self._start
        return max(0.0, (self._step + 1) * self.interval_s - elapsed)

    def write_interval(self) -> None:
        """Write what the interval that just ended collected (and start the next one)."""
        with self._lock:
            latencies, self._latencies = self._latencies, defaultdict(list)
            errors, self._errors = self._errors, defaultdict(int)
            events, self._events = self._events, []
            now = time.monotonic()
            # rates over the time the interval really lasted: the last one, written at
            # shutdown, is shorter, and a late wake-up longer
            seconds, self._interval_start = max(now - self._interval_start, 1e-3), now
        self._step += 1
        step, w = self._step, self.writer
        by_model: dict[str, list[str]] = defaultdict(list)
        for model, text in events:
            by_model[model].append(f"- {text}")
        for model, lines in by_model.items():  # one text per tag and step: a list of events
            w.add_text(f"{model}/events", "\n".join(lines), step)
        for model in self._models():
            self._write_model(model, latencies, errors.get(model, 0), step, 1.0 / seconds)
        if errors.get("unrouted"):
            w.add_scalar("unrouted/errors_per_s", errors["unrouted"] / seconds, step)
        w.flush()  # a dashboard sees each interval as it ends

    def _write_model(self, model, latencies: dict, errors: int, step: int, per_s: float) -> None:
        w = self.writer
        mine = {v: np.asarray(t) * 1e3 for (m, v), t in latencies.items() if m == model}
        every = np.concatenate(list(mine.values())) if mine else np.empty(0)
        self._totals[model] += every.size
        w.add_scalar(f"{model}/requests_per_s", every.size * per_s, step)
        w.add_scalar(f"{model}/requests_total", self._totals[model], step)
        w.add_scalar(f"{model}/errors_per_s", errors * per_s, step)
        if every.size:
            for p, value in zip(PERCENTILES, np.percentile(every, PERCENTILES), strict=True):
                w.add_scalar(f"{model}/latency_ms/p{p}", float(value), step)
            w.add_histogram(f"{model}/latency_ms", every, step)
        for version, ms in sorted((v, t) for v, t in mine.items() if v is not None):
            w.add_scalar(f"{model}/v{version}/requests_per_s", ms.size * per_s, step)
            w.add_scalar(f"{model}/v{version}/latency_ms/p50", float(np.median(ms)), step)
        serving = self._serving(model)
        if serving is not None:
            w.add_scalar(f"{model}/serving_version", serving, step)

    def close(self) -> None:
        """Write the last (partial) interval and close the run as finished."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.write_interval()
        self.writer.close()
