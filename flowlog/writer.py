"""``SummaryWriter``: the torch.utils.tensorboard API, writing one SQLite database per run.

Points are validated on the caller's thread, appended to an in-memory buffer and inserted in
one transaction (``executemany``) when the buffer holds ``max_queue`` points, when a daemon
thread sees ``flush_secs`` pass, on ``flush()`` and on ``close()`` (also run at interpreter
exit). A killed process loses at most the unflushed buffer; the database stays consistent.
The rollup summaries of a batch are computed with numpy before its transaction, and the WAL is
checkpointed by the flush thread, so the caller's thread only pays for the inserts themselves.

Importing this module does not import the flowlog engine (``add_graph`` and ``watch`` load what
they need when called), so PyTorch scripts can use it cheaply.
"""

from __future__ import annotations

import atexit
import datetime
import json
import logging
import numbers
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping

import numpy as np

from flowlog import __version__, graphdesc, records, schema
from flowlog.reader import pid_alive

log = logging.getLogger(__name__)

__all__ = ["SummaryWriter", "validate_graph_description"]

#: Check a graph description (contract 1) as ``add_graph`` does; public for other frameworks.
validate_graph_description = graphdesc.validate

_OPEN_PATHS: set[str] = set()  # runs open for writing in this process
_time = time.time


def _default_run_name(comment: str) -> str:
    stamp = datetime.datetime.now().strftime("%b%d_%H-%M-%S")
    return f"{stamp}_{socket.gethostname()}{comment}"


class SummaryWriter:
    """Write one run (one SQLite file ``<logdir>/<run_name>.flowlog.db``).

    Args:
        logdir: directory holding runs (created if needed).
        run_name: run name, a relative path (``"exp1"``, ``"sweep/lr0.1"``); default
            ``<Mon><DD>_<HH>-<MM>-<SS>_<host><comment>`` as TensorBoard, made unique. An existing
            run with that name is resumed (appended to).
        flush_secs: a background thread flushes buffered points this often.
        max_queue: flush when this many points are buffered.
        purge_step: delete every record at this step or later on open (TensorBoard's
            ``purge_step``, for restarting from a checkpoint).
        log_dir: torch's spelling; names the run itself: ``log_dir="runs/exp1"`` is
            ``logdir="runs", run_name="exp1"``.
        comment, filename_suffix: appended to the default run name (torch's arguments).

    ``global_step=None`` means "previous step of this tag + 1" (0 for a new tag).
    Writing a step a tag already has replaces that point (last write wins).
    The run's status becomes "finished" on ``close()`` or normal interpreter exit, "crashed"
    when a ``with`` block or the interpreter exits on an exception; a killed process is
    recognised by readers (dead pid / stale heartbeat). One writer per run at a time.
    """

    def __init__(
        self,
        logdir: str | os.PathLike = "runs",
        run_name: str | None = None,
        flush_secs: float = 5.0,
        max_queue: int = 50_000,
        purge_step: int | None = None,
        *,
        log_dir: str | os.PathLike | None = None,
        comment: str = "",
        filename_suffix: str = "",
    ):
        if log_dir is not None:
            if run_name is not None:
                raise ValueError("give either log_dir (the run's path) or run_name, not both")
            log_dir = os.fspath(log_dir).rstrip("/\\")
            logdir, run_name = os.path.dirname(log_dir) or ".", os.path.basename(log_dir)
        if isinstance(flush_secs, bool) or not isinstance(flush_secs, numbers.Real):
            raise TypeError(f"flush_secs must be a number, got {flush_secs!r}")
        if not flush_secs > 0:
            raise ValueError(f"flush_secs must be > 0, got {flush_secs}")
        if isinstance(max_queue, bool) or not isinstance(max_queue, numbers.Integral):
            raise TypeError(f"max_queue must be an int, got {max_queue!r}")
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        if purge_step is not None:
            purge_step = records.check_step("<purge_step>", purge_step)
        if not isinstance(comment, str):
            raise TypeError(f"comment must be a str, got {comment!r}")
        self.logdir = os.fspath(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        self.flush_secs = float(flush_secs)
        self._flush_len = 4 * int(max_queue)  # the scalar buffer holds 4 items per point
        if run_name is None:
            self.run_name, self.path = self._claim_default(comment + filename_suffix)
        else:
            self.run_name = records.check_run_name(run_name)
            self.path = os.path.join(self.logdir, self.run_name + schema.RUN_SUFFIX)
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            if not os.path.exists(self.path):
                schema.create_log(self.path, self._meta())  # False: another process won
        real = os.path.realpath(self.path)
        if real in _OPEN_PATHS:
            raise ValueError(f"run {self.run_name!r} is already open for writing in this process")
        self._conn = schema.open_for_write(self.path)
        self._lock = threading.Lock()
        self._closed = False
        self._graph_logged = False
        try:
            self._open_run(purge_step)
            self._ckpt_conn = schema.open_checkpointer(self.path, self._conn)
        except BaseException:
            self._conn.close()
            raise
        _OPEN_PATHS.add(real)
        self._real = real
        self._stop = threading.Event()
        self._wake = threading.Event()  # set after each flush: the flush thread checkpoints
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._flush_loop, name=f"flowlog-flush-{self.run_name}", daemon=True
        )
        self._thread.start()
        atexit.register(self._atexit_close)

    # ------------------------------------------------------------------ setup

    def _claim_default(self, suffix: str) -> tuple[str, str]:
        """Pick the default name and create its file exclusively, so two processes started in
        the same second never share a run."""
        base = _default_run_name(suffix)
        for i in range(1, 1000):
            self.run_name = base if i == 1 else f"{base}_{i}"
            path = os.path.join(self.logdir, self.run_name + schema.RUN_SUFFIX)
            if schema.create_log(path, self._meta()):
                return self.run_name, path
        raise RuntimeError(f"cannot find a free run name like {base!r} in {self.logdir}")

    def _meta(self) -> dict:
        now = _time()
        return {
            "name": self.run_name,
            "start_time": now,
            "heartbeat": now,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "cmdline": list(sys.argv),
            "flowlog_version": __version__,
            "flush_secs": self.flush_secs,
        }

    def _open_run(self, purge_step: int | None) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            prev = schema.read_run(conn)
            if (
                prev is not None
                and prev["status"] == "running"
                and prev["host"] == socket.gethostname()
                and prev["pid"] != os.getpid()
                and pid_alive(prev["pid"])
            ):
                raise ValueError(
                    f"run {self.run_name!r} ({self.path}) is being written by process "
                    f"{prev['pid']}; use another run_name"
                )
            schema.start_run(conn, self._meta())
            if purge_step is not None:
                schema.purge_from(conn, purge_step)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        # tag registry: name -> (id, kind); _last (latest step, for step=None) is indexed by id
        self._tags: dict[str, tuple[int, str]] = {}
        self._scalar_ids: dict[str, int] = {}
        last = schema.last_steps(conn)
        rows = schema.load_tags(conn)
        size = max((r[0] for r in rows), default=0) + 1
        self._last: list[int] = [-1] * size
        for tid, tag, kind, _node in rows:
            self._tags[tag] = (tid, kind)
            if kind == "scalar":
                self._scalar_ids[tag] = tid
            self._last[tid] = last.get(tid, -1)
        # highest step stored per scalar tag: decides whether a flush may merge rollups
        self._stored: dict[int, int] = {
            tid: last[tid] for tid in self._scalar_ids.values() if tid in last
        }
        self._buf: list = []  # flat: tag id, step, wall, value per point
        self._new_tags: list[tuple] = []
        self._hists: list[tuple] = []
        self._texts: list[tuple] = []
        self._numerics: list[tuple] = []
        self._hparams: tuple[dict, dict] | None = None
        self._graphs: list[tuple] = []

    def _register(self, tag: object, kind: str, node: str | None = None) -> int:
        """Tag id for ``tag`` of ``kind``, creating it; raises for misuse (caller holds lock)."""
        if self._closed:
            raise ValueError(f"tag {tag!r}: the writer for run {self.run_name!r} is closed")
        tag = records.check_tag(tag)
        known = self._tags.get(tag)
        if known is not None:
            if known[1] != kind:
                raise ValueError(f"tag {tag!r} is a {known[1]} tag; cannot log a {kind} to it")
            return known[0]
        tid = len(self._last)
        self._last.append(-1)
        self._tags[tag] = (tid, kind)
        if kind == "scalar":
            self._scalar_ids[tag] = tid
        self._new_tags.append((tid, tag, kind, node, None, None))
        return tid

    # ------------------------------------------------------------------ hot path

    def add_scalar(
        self,
        tag,
        scalar_value,
        global_step=None,
        walltime=None,
        new_style=False,
        double_precision=False,
    ):
        """Log one point. ``scalar_value``: a real number, numpy scalar, 0-d/1-element array or
        anything with ``.item()``; NaN and ±Inf are stored faithfully. ``new_style`` and
        ``double_precision`` are torch's flags, accepted and unused (values are float64).
        """
        # Hot path, lock-free: a known tag, a float, an int step, no walltime. The buffer is
        # flat (tag id, step, wall, value, tag id, ...): extending a list by a tuple is atomic
        # under the GIL and the flusher detaches whole points with slice + del, so no point is
        # lost or torn; a flat list also turns into one numpy array in a single C call.
        tid = self._scalar_ids.get(tag)
        if (
            tid is None
            or type(scalar_value) is not float
            or type(global_step) is not int
            or not 0 <= global_step < 9007199254740992
            or walltime is not None
        ):
            self._add_scalar_checked(tag, scalar_value, global_step, walltime)
            return
        self._last[tid] = global_step
        buf = self._buf
        buf += (tid, global_step, _time(), scalar_value)
        if len(buf) >= self._flush_len:
            self.flush()

    def _add_scalar_checked(self, tag, value, global_step, walltime) -> None:
        """Everything the hot path does not handle: conversion, validation, new tags."""
        with self._lock:
            if type(value) is not float:
                value = records.to_float(tag, value)
            if global_step is not None:
                global_step = records.check_step(tag, global_step)
            wall = _time() if walltime is None else records.check_wall(tag, walltime)
            tid = self._scalar_ids.get(tag)
            if tid is None:
                tid = self._register(tag, "scalar")
            if global_step is None:
                global_step = self._last[tid] + 1
            self._last[tid] = global_step
            self._buf += (tid, global_step, wall, value)
            full = len(self._buf) >= self._flush_len
        if full:
            self.flush()

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Log ``main_tag/<name>`` for each entry (torch logs them as separate runs instead).

        Everything is validated before anything is logged, so a bad entry logs nothing.
        """
        records.check_tag(main_tag)
        if not isinstance(tag_scalar_dict, Mapping) or not tag_scalar_dict:
            raise TypeError(f"tag {main_tag!r}: add_scalars needs a non-empty dict of values")
        wall = _time() if walltime is None else records.check_wall(main_tag, walltime)
        items = []
        for name, value in tag_scalar_dict.items():
            tag = f"{main_tag}/{records.check_tag(name)}"
            items.append((tag, records.to_float(tag, value)))
        if global_step is not None:
            global_step = records.check_step(main_tag, global_step)
        for tag, value in items:
            self.add_scalar(tag, value, global_step, wall)

    # ------------------------------------------------------------------ other records

    def _step_for(self, tag: str, tid: int, global_step: object) -> int:
        step = self._last[tid] + 1 if global_step is None else records.check_step(tag, global_step)
        self._last[tid] = max(self._last[tid], step)
        return step

    def add_histogram(
        self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None
    ):
        """Log a histogram of ``values`` (any shape); see :func:`histogram_record`.

        ``max_bins`` is torch's argument and is unused (``bins`` decides the buckets).
        """
        record = records.histogram_record(records.check_tag(tag), values, bins)
        wall = _time() if walltime is None else records.check_wall(tag, walltime)
        with self._lock:
            tid = self._register(tag, "histogram")
            step = self._step_for(tag, tid, global_step)
            self._hists.append((tid, step, wall, *record))

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Log a text (markdown in the dashboard)."""
        records.check_tag(tag)
        if not isinstance(text_string, str):
            raise TypeError(f"tag {tag!r}: text must be a str, got {type(text_string).__name__}")
        wall = _time() if walltime is None else records.check_wall(tag, walltime)
        with self._lock:
            tid = self._register(tag, "text")
            step = self._step_for(tag, tid, global_step)
            self._texts.append((tid, step, wall, text_string))

    def add_hparams(
        self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None
    ):
        """Record the run's hyper-parameters and final metrics (replacing earlier ones).

        hparam values: bool, int, float, str or None; metric values: numbers. The torch-only
        arguments are accepted and ignored (flowlog keeps hparams in the run itself).
        """
        hparams = records.check_mapping("hparam_dict", hparam_dict)
        metrics = records.check_mapping("metric_dict", metric_dict)
        clean_h = {}
        for key, value in hparams.items():
            if hasattr(value, "item") and not isinstance(value, (str, bytes)):
                value = value.item()
            if value is not None and not isinstance(value, (bool, int, float, str)):
                raise TypeError(
                    f"hparam {key!r}: value must be bool, int, float, str or None, "
                    f"got {type(value).__name__}"
                )
            clean_h[key] = value
        clean_m = {key: records.to_float(key, value) for key, value in metrics.items()}
        with self._lock:
            self._ensure_open("add_hparams")
            self._hparams = (clean_h, clean_m)
            self._flush_locked()

    def add_graph(self, graph, input_to_model=None, verbose=False, *, step=None):
        """Log a graph: a flowlog ``Graph`` or a contract-1 description dict (other frameworks).

        A minimal description: ``{"nodes": [{"name": "x", "op": "Placeholder", "inputs": []},
        {"name": "y", "op": "Relu", "inputs": ["x"]}]}``. Each call stores a new version; readers
        show the latest. ``input_to_model``/``verbose`` are torch's arguments and unused (no
        tracing is needed).
        """
        if isinstance(graph, Mapping):
            desc = graphdesc.validate(graph)
        elif type(graph).__module__.startswith("flowlog."):
            from flowlog.describe import describe_graph

            desc = graphdesc.validate(describe_graph(graph))
        else:
            raise TypeError(
                f"add_graph needs a flowlog Graph or a graph description dict, got "
                f"{type(graph).__name__}"
            )
        if step is not None:
            step = records.check_step("<graph>", step)
        text = json.dumps(desc)
        with self._lock:
            self._ensure_open("add_graph")
            self._graphs.append((step, _time(), text))
            self._graph_logged = True
            self._flush_locked()

    def watch(self, session, every=10, histograms_every=None, global_step=None, log_graph=True):
        """Log per-variable statistics of a flowlog session; see :func:`flowlog.watch.watch`."""
        from flowlog.watch import watch

        return watch(
            self,
            session,
            every=every,
            histograms_every=histograms_every,
            global_step=global_step,
            log_graph=log_graph,
        )

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def graph_logged(self) -> bool:
        """Whether this writer has logged a graph (``watch`` logs one only if not)."""
        return self._graph_logged

    # hooks for flowlog.watch -------------------------------------------------------------

    def _declare_node_tags(self, node: str, tags: list[tuple[str, str]]) -> None:
        """Create ``(tag, kind)`` tags that belong to graph node ``node``."""
        with self._lock:
            for tag, kind in tags:
                self._register(tag, kind, node)

    def _add_numerics(self, step: int, run_index, node, op, phase, kind, inputs) -> None:
        with self._lock:
            self._ensure_open("numerics")
            self._numerics.append(
                (
                    step,
                    _time(),
                    run_index,
                    node,
                    op,
                    phase,
                    kind,
                    json.dumps(list(inputs), default=records.jsonable),
                )
            )

    # ------------------------------------------------------------------ flushing

    def _ensure_open(self, what: str) -> None:
        if self._closed:
            raise ValueError(f"{what}: the writer for run {self.run_name!r} is closed")

    def flush(self) -> None:
        """Write everything buffered, in one transaction."""
        with self._lock:
            self._ensure_open("flush")
            self._flush_locked()

    def _flush_locked(self) -> None:
        """One transaction with everything buffered (caller holds the lock).

        The rollup summaries of the batch are computed before the transaction starts, so the
        write lock is held only for the inserts.
        """
        conn = self._conn
        buf = self._buf
        n = len(buf)
        batch = buf[:n]
        del buf[:n]  # points appended meanwhile stay in the buffer
        try:
            new, merge, recompute, stored = self._plan_rollups(batch)
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._new_tags:
                    schema.insert_tags(conn, self._new_tags)
                if batch:
                    it = iter(batch)
                    schema.insert_scalars(conn, zip(it, it, it, it, strict=True))
                    schema.merge_rollups(conn, new, merge)
                    for tid, lo, hi in recompute:
                        schema.update_rollups(conn, tid, lo, hi)
                if self._hists:
                    schema.insert_histograms(conn, self._hists)
                if self._texts:
                    schema.insert_texts(conn, self._texts)
                if self._numerics:
                    schema.insert_numerics(conn, self._numerics)
                if self._hparams is not None:
                    schema.replace_hparams(conn, *self._hparams)
                for step, wall, text in self._graphs:
                    schema.insert_graph(conn, step, wall, text)
                schema.heartbeat(conn, _time())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            buf[:0] = batch  # keep the points for the next attempt
            raise
        self._wake.set()
        self._stored.update(stored)
        self._new_tags = []
        self._hists = []
        self._texts = []
        self._numerics = []
        self._hparams = None
        self._graphs = []

    def _plan_rollups(
        self, batch: list
    ) -> tuple[list[tuple], list[tuple], list[tuple[int, int, int]], dict[int, int]]:
        """Rollup work for a flat batch of points: ``(new, merge, recompute, stored)``.

        A tag whose points in the batch all lie beyond its stored steps, in increasing order
        (the normal case), gets its summaries computed here with numpy (``new``/``merge`` rows
        for :func:`flowlog.schema.merge_rollups`). Any other tag (steps rewritten or out of
        order) is listed in ``recompute`` as ``(tag id, first step, last step)``: its touched
        buckets are recomputed from the raw rows, which is always exact. ``stored`` is each
        tag's highest step once the batch is written.
        """
        if not batch:
            return [], [], [], {}
        n = len(batch) // 4
        a = np.fromiter(batch, np.float64, 4 * n).reshape(n, 4)
        tids = a[:, 0].astype(np.int64)
        if np.any(tids[1:] < tids[:-1]):
            # stable: keeps each tag's write order; 16-bit keys let numpy use a radix sort
            key = tids.astype(np.int16) if len(self._last) <= 32767 else tids
            order = np.argsort(key, kind="stable")
            a = a[order]
            tids = tids[order]
        steps = a[:, 1].astype(np.int64)
        new_tag = np.r_[True, tids[1:] != tids[:-1]]
        starts = np.flatnonzero(new_tag)
        utids = tids[starts].tolist()
        known = self._stored
        before = np.array([known.get(t, -1) for t in utids], np.int64)
        tag_of = np.cumsum(new_tag) - 1
        ok = steps[starts] > before
        bad = ~new_tag[1:] & (steps[1:] <= steps[:-1])
        if bad.any():
            ok[tag_of[1:][bad]] = False
        ends = np.r_[starts[1:], n] - 1
        last = steps[ends].tolist()
        stored: dict[int, int] = {}
        recompute: list[tuple[int, int, int]] = []
        for i in np.flatnonzero(~ok).tolist():
            tag_steps = steps[starts[i] : ends[i] + 1]
            lo, hi = int(tag_steps.min()), int(tag_steps.max())
            recompute.append((utids[i], lo, hi))
            stored[utids[i]] = max(int(before[i]), hi)
        if not ok.any():
            return [], [], recompute, stored
        for i in np.flatnonzero(ok).tolist():
            stored[utids[i]] = last[i]
        rows = ok[tag_of]
        if not rows.all():
            a, tids, steps, tag_of = a[rows], tids[rows], steps[rows], tag_of[rows]
        new, merge = records.rollup_rows(tids, before[tag_of], steps, a[:, 2], a[:, 3])
        return new, merge, recompute, stored

    def _flush_loop(self) -> None:
        """Flush every ``flush_secs`` (the heartbeat, even when idle) and copy the WAL into the
        database after each flush, so checkpoints never run on the caller's thread."""
        ckpt = self._ckpt_conn
        try:
            deadline = time.monotonic() + self.flush_secs
            while True:
                woken = self._wake.wait(max(0.0, deadline - time.monotonic()))
                if self._stop.is_set():
                    return
                if not woken:
                    deadline = time.monotonic() + self.flush_secs
                    with self._lock:
                        if self._closed:
                            return
                        try:
                            self._flush_locked()
                        except Exception as exc:  # keep the thread alive; report once
                            self._report(f"background flush of {self.path} failed: {exc}", exc)
                self._wake.clear()
                try:
                    schema.checkpoint(ckpt)
                except Exception as exc:  # the WAL just grows; the next checkpoint retries
                    self._report(f"checkpoint of {self.path} failed: {exc}", exc)
        finally:
            ckpt.close()  # the last connection to close folds the rest of the WAL in

    def _report(self, message: str, exc: BaseException) -> None:
        if self._error is None:
            log.warning("flowlog: %s", message)
        self._error = exc

    # ------------------------------------------------------------------ closing

    def close(self, status: str = "finished") -> None:
        """Flush, mark the run ``status`` ("finished" or "crashed") and close. Idempotent."""
        if status not in ("finished", "crashed"):
            raise ValueError(f"status must be 'finished' or 'crashed', got {status!r}")
        with self._lock:
            if self._closed:
                return
            try:
                self._flush_locked()
                self._conn.execute("BEGIN IMMEDIATE")
                schema.end_run(self._conn, status, _time())
                self._conn.execute("COMMIT")
            finally:
                self._closed = True
                self._scalar_ids = {}  # every add_scalar now takes the checked slow path
                self._conn.close()
                _OPEN_PATHS.discard(self._real)
        self._stop.set()
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(5)
        atexit.unregister(self._atexit_close)

    def _atexit_close(self) -> None:
        # an uncaught exception leaves sys.last_value set before atexit handlers run
        self.close("crashed" if getattr(sys, "last_value", None) is not None else "finished")

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("crashed" if exc_type is not None else "finished")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"SummaryWriter({self.path!r}, {state})"

    def get_logdir(self) -> str:
        """torch compatibility: the run's location (its database file)."""
        return self.path
