"""Optional request batching, like TF Serving's ``--enable_batching``.

Concurrent requests for the same model version are concatenated along axis 0, run once and
split back, which trades a little latency for throughput. The scheduling follows TF's shared
batch scheduler: one queue per key, each queue a list of batches of which only the last is
open; a batch is ready when full, when a newer batch was started behind it, or
``batch_timeout_micros`` after its first request; ``num_batch_threads`` threads run ready
batches, taking queues round-robin; more than ``max_enqueued_batches`` waiting batches in a
queue is a 503 and a request larger than ``max_batch_size`` a 400.

Two choices differ from TF, both so that batching never changes an answer:

* A merged batch whose ``run`` raises, or whose outputs cannot be split (an output's dim 0 is
  not the merged row count), is re-run one request at a time, so one bad request fails alone
  and the others get the answer they would get unbatched.
* A request that cannot be concatenated (no inputs, a scalar input, inputs with different
  dim 0) runs unbatched in its own thread rather than getting TF's 400.

With ``batch_timeout_micros == 0`` a request that finds nothing queued and a batch thread free
runs at once in the request thread itself: a lone request then pays a lock and two counters
instead of two thread hand-offs. Requests queue (and merge) only while every slot is busy,
which is exactly when TF's scheduler would merge them too.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

import numpy as np

from flowlog.serving.errors import ServingError

if TYPE_CHECKING:
    from flowlog.serving.config import BatchingParameters

Feeds = dict[str, np.ndarray]
RunFn = Callable[[Feeds], Feeds]

QUEUE_FULL = "The batch scheduling queue to which this task was submitted is full"
SHUTTING_DOWN = "The batch scheduler is shutting down"


class _Task:
    """One request: its feeds, row count and a lock its thread blocks on until it is answered."""

    __slots__ = ("feeds", "rows", "run", "done", "answered", "result", "error")

    def __init__(self, feeds: Feeds, rows: int, run: RunFn):
        self.feeds, self.rows, self.run = feeds, rows, run
        self.done = threading.Lock()
        self.done.acquire()
        self.answered = False
        self.result: Feeds | None = None
        self.error: BaseException | None = None

    def answer(self, result: Feeds | None = None, error: BaseException | None = None) -> None:
        if not self.answered:
            self.answered, self.result, self.error = True, result, error
            self.done.release()

    def run_alone(self) -> None:
        try:
            self.answer(self.run(self.feeds))
        except BaseException as exc:  # delivered to the request thread, which re-raises it
            self.answer(error=exc)


class _Batch:
    __slots__ = ("tasks", "rows", "deadline")

    def __init__(self, task: _Task, deadline: float):
        self.tasks, self.rows, self.deadline = [task], task.rows, deadline


class Batcher:
    """Merges concurrent :meth:`submit` calls that share a key into one ``run`` call."""

    def __init__(
        self,
        max_batch_size: int = 1000,
        batch_timeout_micros: int = 0,
        num_batch_threads: int | None = None,
        max_enqueued_batches: int = 10,
    ):
        if max_batch_size < 1 or batch_timeout_micros < 0 or max_enqueued_batches < 1:
            raise ValueError("max_batch_size and max_enqueued_batches must be >= 1, timeout >= 0")
        self.max_batch_size = max_batch_size
        self.timeout = batch_timeout_micros / 1e6
        self.num_batch_threads = max(1, num_batch_threads or os.cpu_count() or 1)
        self.max_enqueued_batches = max_enqueued_batches
        self._cond = threading.Condition(threading.Lock())
        self._queues: OrderedDict[Hashable, deque[_Batch]] = OrderedDict()
        self._queued = 0  # tasks waiting in all queues
        self._running = 0  # batches being run, by workers or by request threads
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"flowlog-batch-{i}", daemon=True)
            for i in range(self.num_batch_threads)
        ]
        for t in self._threads:
            t.start()

    @classmethod
    def from_parameters(cls, params: BatchingParameters) -> Batcher:
        """From a :class:`flowlog.serving.config.BatchingParameters`."""
        return cls(
            params.max_batch_size,
            params.batch_timeout_micros,
            params.num_batch_threads,
            params.max_enqueued_batches,
        )

    @property
    def queued(self) -> int:
        """Requests waiting for a batch thread (a queue-depth gauge)."""
        return self._queued

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called: every new request gets 503."""
        return self._closed

    # -- request side -------------------------------------------------------------------------

    def submit(self, key: Hashable, feeds: Feeds, run: RunFn) -> Feeds:
        """Run ``run(feeds)``, possibly merged with other requests of ``key``; block for the
        result and return this request's rows only (or raise what its run raised).

        ``key`` must identify the servable (model and version): every request of a queue is run
        with the first request's ``run``. Inputs' names, dtypes and trailing shapes are added
        to the key here, so only concatenable requests share a queue.
        """
        rows = _rows(feeds)
        if rows is None:
            if self._closed:
                raise ServingError(503, SHUTTING_DOWN)
            return run(feeds)
        if rows > self.max_batch_size:
            limit = self.max_batch_size
            raise ServingError(
                400, f"Task size {rows} is larger than maximum input batch size {limit}"
            )
        if self.timeout == 0 and self._try_slot():
            try:
                return run(feeds)
            finally:
                self._release_slot()
        task = _Task(feeds, rows, run)
        self._enqueue((key, _signature(feeds)), task)
        task.done.acquire()
        if task.error is not None:
            raise task.error
        return task.result  # type: ignore[return-value]

    def _try_slot(self) -> bool:
        with self._cond:
            if self._closed:
                raise ServingError(503, SHUTTING_DOWN)
            if self._queued or self._running >= self.num_batch_threads:
                return False
            self._running += 1
            return True

    def _release_slot(self) -> None:
        with self._cond:
            self._running -= 1
            if self._queued:
                self._cond.notify()

    def _enqueue(self, key: Hashable, task: _Task) -> None:
        with self._cond:
            if self._closed:
                raise ServingError(503, SHUTTING_DOWN)
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = deque()
            last = queue[-1] if queue else None
            if last is not None and last.rows + task.rows <= self.max_batch_size:
                last.tasks.append(task)
                last.rows += task.rows
            elif len(queue) >= self.max_enqueued_batches:
                raise ServingError(503, QUEUE_FULL)
            else:
                queue.append(_Batch(task, time.monotonic() + self.timeout))
            self._queued += 1
            if self._running < self.num_batch_threads:
                self._cond.notify()

    # -- worker side --------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
                if batch is None:
                    return
                self._running += 1
            try:
                _execute(batch.tasks)
            finally:
                with self._cond:
                    self._running -= 1

    def _next_batch(self) -> _Batch | None:
        """Wait (holding the condition) for a ready batch and a free slot; None once closed."""
        while not self._closed:
            wait = None
            if self._running < self.num_batch_threads:
                now = time.monotonic()
                for key, queue in self._queues.items():
                    first = queue[0]
                    full = len(queue) > 1 or first.rows >= self.max_batch_size
                    if full or first.deadline <= now:
                        return self._pop(key, queue)
                    left = first.deadline - now
                    wait = left if wait is None else min(wait, left)
            self._cond.wait(wait)
        return None

    def _pop(self, key: Hashable, queue: deque[_Batch]) -> _Batch:
        batch = queue.popleft()
        if queue:
            self._queues.move_to_end(key)  # round-robin: this queue goes behind the others
        else:
            del self._queues[key]
        self._queued -= len(batch.tasks)
        return batch

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads; waiting requests get 503, running batches finish (threads are
        joined for at most ``timeout`` seconds in all; they are daemons either way)."""
        with self._cond:
            self._closed = True
            pending = [t for q in self._queues.values() for b in q for t in b.tasks]
            self._queues.clear()
            self._queued = 0
            self._cond.notify_all()
        for task in pending:
            task.answer(error=ServingError(503, SHUTTING_DOWN))
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Batcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _rows(feeds: Feeds) -> int | None:
    """The common dim 0 of every input, or None when the request cannot be concatenated."""
    rows = None
    for value in feeds.values():
        shape = getattr(value, "shape", ())
        if not shape or (rows is not None and shape[0] != rows):
            return None
        rows = shape[0]
    return rows


def _signature(feeds: Feeds) -> tuple:
    return tuple(sorted((name, v.dtype.str, v.shape[1:]) for name, v in feeds.items()))


def _execute(tasks: list[_Task]) -> None:
    """Run one batch and answer every task; whatever happens, no task is left waiting."""
    try:
        if len(tasks) == 1:
            tasks[0].run_alone()
            return
        parts = _run_merged(tasks)
        if parts is None:
            for task in tasks:
                task.run_alone()
        else:
            for task, part in zip(tasks, parts, strict=True):
                task.answer(part)
    finally:
        for task in tasks:
            task.answer(error=ServingError(500, "request batching failed"))


def _run_merged(tasks: list[_Task]) -> list[Feeds] | None:
    """Each task's slice of one merged run, or None when the merged run failed or its outputs
    do not split by rows (then the caller runs the tasks one by one)."""
    try:
        merged = {name: np.concatenate([t.feeds[name] for t in tasks]) for name in tasks[0].feeds}
        outputs = tasks[0].run(merged)
    except Exception:
        return None
    total = sum(t.rows for t in tasks)
    if not outputs or any(getattr(v, "shape", ())[:1] != (total,) for v in outputs.values()):
        return None
    parts, start = [], 0
    for task in tasks:
        stop = start + task.rows
        parts.append({name: value[start:stop] for name, value in outputs.items()})
        start = stop
    return parts
