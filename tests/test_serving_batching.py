"""Request batching with a real numpy model (x @ W + b) and real threads.

Concurrency is forced, not hoped for: the first request's run blocks on an Event while holding
the only batch thread, so later requests must queue; the test waits (bounded) until they have,
then opens the gate. Every thread join has a timeout.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from flowlog.serving.batching import QUEUE_FULL, Batcher
from flowlog.serving.errors import ServingError

W = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
B = np.array([0.5, -1.0, 2.0])
JOIN_S = 10


def expected(x: np.ndarray) -> np.ndarray:
    return x @ W + B


class Model:
    """x @ W + b that records each call's batch size; its first call can be held on a gate."""

    def __init__(self, hold_first: bool = False, tag: str = ""):
        self.sizes: list[int] = []
        self.tags: list[str] = []
        self.tag = tag
        self.entered = threading.Event()
        self.gate = threading.Event()
        if not hold_first:
            self.gate.set()
        self.lock = threading.Lock()

    def __call__(self, feeds):
        x = feeds["x"]
        with self.lock:
            first = not self.sizes
            self.sizes.append(x.shape[0])
            self.tags.append(self.tag)
        if first:
            self.entered.set()
            assert self.gate.wait(JOIN_S)
        if np.isnan(x).any():
            raise ValueError("input contains NaN")
        return {"y": x @ W + B}


def rows(n: int, start: float) -> dict[str, np.ndarray]:
    return {"x": np.arange(start, start + 4 * n, dtype=np.float64).reshape(n, 4)}


class Submitter(threading.Thread):
    """One request thread, started at once; keeps the result or the exception."""

    def __init__(self, batcher, feeds, run, key=("m", 1), barrier=None):
        super().__init__(daemon=True)
        self.batcher, self.request, self.barrier = batcher, (key, feeds, run), barrier
        self.result = self.error = None
        self.start()

    def run(self):
        try:
            if self.barrier is not None:
                self.barrier.wait(JOIN_S)
            self.result = self.batcher.submit(*self.request)
        except Exception as exc:
            self.error = exc

    def finish(self):
        self.join(JOIN_S)
        assert not self.is_alive(), "request thread did not finish"
        return self


def wait_until(condition, timeout=JOIN_S):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


@pytest.fixture
def make_batcher():
    made = []

    def make(**kwargs):
        made.append(Batcher(**kwargs))
        return made[-1]

    yield make
    for b in made:
        b.close()


def hold(batcher, model, key=("m", 1)):
    """A first request that takes the batch thread and blocks in run until model.gate is set."""
    first = Submitter(batcher, rows(1, -100), model, key)
    assert model.entered.wait(JOIN_S)
    return first


def test_lone_request_returns_run_output(make_batcher):
    model = Model()
    b = make_batcher(max_batch_size=8, num_batch_threads=2)
    feeds = rows(3, 0)
    out = b.submit(("m", 1), feeds, model)
    np.testing.assert_allclose(out["y"], expected(feeds["x"]))
    assert model.sizes == [3]


def test_lone_request_with_timeout_goes_through_a_worker(make_batcher):
    model = Model()
    b = make_batcher(max_batch_size=8, batch_timeout_micros=1000, num_batch_threads=1)
    feeds = rows(2, 5)
    np.testing.assert_allclose(b.submit("k", feeds, model)["y"], expected(feeds["x"]))
    assert model.sizes == [2] and b.queued == 0


def test_queued_requests_merge_and_each_gets_its_own_rows(make_batcher):
    model = Model(hold_first=True)
    b = make_batcher(max_batch_size=64, num_batch_threads=1)
    first = hold(b, model)
    sizes = [1, 3, 2, 4, 1]
    feeds = [rows(n, 100 * i) for i, n in enumerate(sizes)]
    threads = [Submitter(b, f, model) for f in feeds]
    wait_until(lambda: b.queued == len(sizes))
    model.gate.set()
    for t, f in zip(threads, feeds, strict=True):
        t.finish()
        assert t.error is None
        np.testing.assert_allclose(t.result["y"], expected(f["x"]))
        assert t.result["y"].shape == (f["x"].shape[0], 3)
    assert first.finish().error is None
    assert model.sizes == [1, sum(sizes)]


def test_full_batch_runs_without_waiting_for_the_timeout(make_batcher):
    model = Model()
    n = 6
    # a 60 s timeout: the batch can only have run because it filled up
    b = make_batcher(max_batch_size=n, batch_timeout_micros=60_000_000, num_batch_threads=2)
    start = threading.Barrier(n)
    feeds = [rows(1, 10 * i) for i in range(n)]
    threads = [Submitter(b, f, model, key="k", barrier=start) for f in feeds]
    for t, f in zip(threads, feeds, strict=True):
        assert t.finish().error is None
        np.testing.assert_allclose(t.result["y"], expected(f["x"]))
    assert model.sizes == [n]


def test_max_batch_size_is_respected(make_batcher):
    model = Model(hold_first=True)
    b = make_batcher(max_batch_size=8, num_batch_threads=1, max_enqueued_batches=10)
    first = hold(b, model)
    threads = [Submitter(b, rows(3, 10 * i), model) for i in range(10)]
    wait_until(lambda: b.queued == 10)
    model.gate.set()
    for t in threads:
        assert t.finish().error is None
    first.finish()
    assert model.sizes[1:] == [6, 6, 6, 6, 6]  # a third 3-row request would make 9 > 8


def test_request_larger_than_max_batch_size_is_400(make_batcher):
    model = Model()
    b = make_batcher(max_batch_size=64)
    with pytest.raises(ServingError) as info:
        b.submit("k", rows(65, 0), model)
    assert info.value.http_status == 400
    assert info.value.message == "Task size 65 is larger than maximum input batch size 64"
    assert model.sizes == []


def test_full_queue_is_503(make_batcher):
    model = Model(hold_first=True)
    b = make_batcher(max_batch_size=2, num_batch_threads=1, max_enqueued_batches=1)
    first = hold(b, model)
    waiting = Submitter(b, rows(2, 0), model)  # fills the one batch the queue may hold
    wait_until(lambda: b.queued == 1)
    with pytest.raises(ServingError) as info:
        b.submit(("m", 1), rows(1, 50), model)
    assert (info.value.http_status, info.value.message) == (503, QUEUE_FULL)
    other_key = Submitter(b, rows(1, 50), model, key=("m", 2))  # another queue is not full
    wait_until(lambda: b.queued == 2)
    model.gate.set()
    for t in (first, waiting, other_key):
        assert t.finish().error is None
    np.testing.assert_allclose(waiting.result["y"], expected(rows(2, 0)["x"]))


def test_a_failing_request_fails_alone(make_batcher):
    model = Model(hold_first=True)
    b = make_batcher(max_batch_size=64, num_batch_threads=1)
    first = hold(b, model)
    good = [rows(2, 0), rows(1, 30)]
    bad = rows(1, 60)
    bad["x"][0, 1] = np.nan
    threads = [Submitter(b, good[0], model), Submitter(b, bad, model)]
    wait_until(lambda: b.queued == 2)
    threads.append(Submitter(b, good[1], model))
    wait_until(lambda: b.queued == 3)
    model.gate.set()
    for t in threads:
        t.finish()
    first.finish()
    assert isinstance(threads[1].error, ValueError)
    assert str(threads[1].error) == "input contains NaN"
    for t, f in zip((threads[0], threads[2]), good, strict=True):
        assert t.error is None
        np.testing.assert_allclose(t.result["y"], expected(f["x"]))
    assert model.sizes == [1, 4, 2, 1, 1]  # the merged try, then each request alone


def test_lone_failing_request_raises_its_own_error(make_batcher):
    b = make_batcher(max_batch_size=8, batch_timeout_micros=1)
    bad = rows(1, 0)
    bad["x"][:] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        b.submit("k", bad, Model())


def test_outputs_that_do_not_split_by_rows_run_one_by_one(make_batcher):
    model = Model(hold_first=True)
    calls = []

    def total(feeds):  # one row per call, whatever the batch: cannot be split back
        calls.append(feeds["x"].shape[0])
        return {"sum": feeds["x"].sum(keepdims=True)}

    b = make_batcher(max_batch_size=64, num_batch_threads=1)
    first = hold(b, model)
    feeds = [rows(2, 0), rows(3, 40)]
    threads = [Submitter(b, f, total) for f in feeds]
    wait_until(lambda: b.queued == 2)
    model.gate.set()
    for t, f in zip(threads, feeds, strict=True):
        assert t.finish().error is None
        np.testing.assert_allclose(t.result["sum"], [[f["x"].sum()]])
    first.finish()
    assert calls == [5, 2, 3]


def test_only_compatible_requests_merge(make_batcher):
    model = Model(hold_first=True)
    b = make_batcher(max_batch_size=64, num_batch_threads=1)
    first = hold(b, model)
    f32 = {"x": rows(1, 0)["x"].astype(np.float32)}
    threads = [Submitter(b, rows(1, 0), model), Submitter(b, f32, model)]
    threads.append(Submitter(b, rows(2, 9), model, key=("m", 2)))
    wait_until(lambda: b.queued == 3)
    threads.append(Submitter(b, rows(1, 20), model))
    wait_until(lambda: b.queued == 4)
    model.gate.set()
    for t in threads:
        assert t.finish().error is None
    first.finish()
    np.testing.assert_allclose(threads[1].result["y"], expected(f32["x"]), rtol=1e-6)
    assert sorted(model.sizes[1:]) == [1, 2, 2]  # (m,1) float64 merged; f32 and (m,2) apart


def test_unbatchable_requests_run_unmerged(make_batcher):
    b = make_batcher(max_batch_size=4, batch_timeout_micros=60_000_000)
    seen = []

    def scale(feeds):
        seen.append({k: v.shape for k, v in feeds.items()})
        return {"y": feeds["x"] * feeds["k"]}

    out = b.submit("k", {"x": np.ones((9, 2)), "k": np.array(3.0)}, scale)
    np.testing.assert_allclose(out["y"], np.full((9, 2), 3.0))
    assert seen == [{"x": (9, 2), "k": ()}]


def test_queues_are_served_round_robin(make_batcher):
    model = Model(hold_first=True, tag="hold")
    b = make_batcher(max_batch_size=1, num_batch_threads=1, max_enqueued_batches=5)
    first = hold(b, model, key="hold")
    threads = []
    for key in ("a", "b"):
        tagged = Model(tag=key)
        tagged.sizes, tagged.tags, tagged.lock = model.sizes, model.tags, model.lock
        for i in range(3):
            threads.append(Submitter(b, rows(1, i), tagged, key=key))
            count = len(threads)
            wait_until(lambda count=count: b.queued == count)
    model.gate.set()
    for t in threads:
        assert t.finish().error is None
    first.finish()
    assert model.tags == ["hold", "a", "b", "a", "b", "a", "b"]


def test_close_fails_waiting_requests_and_stops_threads():
    model = Model(hold_first=True)
    b = Batcher(max_batch_size=8, num_batch_threads=2, batch_timeout_micros=60_000_000)
    first = Submitter(b, rows(1, 0), model)
    waiting = Submitter(b, rows(1, 5), model)
    wait_until(lambda: b.queued == 2)
    b.close()
    for t in (first, waiting):
        t.finish()
        assert isinstance(t.error, ServingError)
        assert (t.error.http_status, t.error.message) == (
            503,
            "The batch scheduler is shutting down",
        )
    assert not any(t.is_alive() for t in b._threads)
    with pytest.raises(ServingError, match="shutting down"):
        b.submit("k", rows(1, 0), model)
    assert model.sizes == []


def test_close_lets_a_running_batch_finish():
    model = Model(hold_first=True)
    b = Batcher(max_batch_size=8, num_batch_threads=1, batch_timeout_micros=1)
    running = hold(b, model)  # held inside a worker thread (a timeout disables the fast path)
    closer = threading.Thread(target=b.close, daemon=True)
    closer.start()
    wait_until(lambda: b.closed)
    assert closer.is_alive()  # close() waits for the running batch
    model.gate.set()
    closer.join(JOIN_S)
    assert not closer.is_alive()
    assert running.finish().error is None
    np.testing.assert_allclose(running.result["y"], expected(rows(1, -100)["x"]))
    assert not any(t.is_alive() for t in b._threads)
