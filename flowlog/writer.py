"""``SummaryWriter``: the torch.utils.tensorboard API, writing one SQLite database per run.

Points are validated on the caller's thread, appended to an in-memory buffer and written in
one transaction when the buffer holds ``max_queue`` points, when a daemon thread sees
``flush_secs`` pass, on ``flush()`` and on ``close()`` (also run at interpreter exit). A killed
process loses at most the unflushed buffer; the database stays consistent. A batch becomes
per-tag numpy arrays, stored as chunks (:mod:`flowlog.schema_chunks`), and the WAL is
checkpointed by the flush thread, so the caller's thread only pays for the copies.
What a failing flush does is :mod:`flowlog.writer_flush`'s policy.

Importing this module does not import the flowlog engine (``add_graph`` and ``watch`` load what
they need when called), so PyTorch scripts can use it cheaply.
"""

from __future__ import annotations

import atexit
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

from flowlog import __version__, graphdesc, records, run_dir, schema, schema_records
from flowlog.errors import LogWriteError
from flowlog.reader import effective_status
from flowlog.writer_flush import WriterFlush
from flowlog.writer_media import WriterMedia

log = logging.getLogger(__name__)

__all__ = ["LogWriteError", "SummaryWriter", "validate_graph_description"]

#: Check a graph description (contract 1) as ``add_graph`` does; public for other frameworks.
validate_graph_description = graphdesc.validate

_OPEN_PATHS: set[str] = set()  # databases open for writing in this process
_time = time.time
#: flowlog's defaults where torch's would hurt: 50,000 buffered points per transaction (torch's
#: max_queue=10 counts queued events) and a 5 s flush (the heartbeat readers judge crashes by)
DEFAULT_MAX_QUEUE = 50_000
DEFAULT_FLUSH_SECS = 5.0


def _is_torch_module(obj: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


class SummaryWriter(WriterFlush, WriterMedia):
    """``torch.utils.tensorboard.SummaryWriter``'s API, writing a run directory of SQLite.

    Args (torch's, in torch's order):
        log_dir: the run's directory (``"runs/exp1"``), created on open; default
            ``runs/<Mon><DD>_<HH>-<MM>-<SS>_<host><comment>`` as torch. An existing run is
            resumed (appended to).
        comment: appended to the default run name (ignored when ``log_dir`` is given).
        purge_step: delete every record at this step or later on open (restarting from a
            checkpoint).
        max_queue: flush when this many points are buffered (default 50,000; torch's 10
            counts events in a queue and would make a transaction per 10 points).
        flush_secs: a background thread flushes this often (default 5 s, torch's 120: the
            dashboard shows a live run's points and judges a silent writer crashed by it).
        filename_suffix: accepted for torch's signature; a run directory holds one database
            per process (``flowlog.db``, ``flowlog.rank<R>.db``), so there is no file to name.

    flowlog's extras, keyword-only: ``logdir`` (the directory holding runs, default "runs")
    with ``run_name`` (a relative path such as ``"sweep/lr0.1"``) instead of ``log_dir``.

    Under torchrun/torch.distributed each rank writes its own file in the same run directory
    (see :mod:`flowlog.run_dir`); the reader shows them as one run.

    ``global_step=None`` means "previous step of this tag + 1" (0 for a new tag); torch stores
    step 0 for every such point, which piles a curve onto one x position.
    Writing a step a tag already has replaces that point (last write wins).
    The run's status becomes "finished" on ``close()`` or normal interpreter exit, "crashed"
    when a ``with`` block or the interpreter exits on an exception; a killed process is
    recognised by readers (dead pid / stale heartbeat). Any ``add_*`` after ``close()`` reopens
    the run, as torch does. One writer per database: a second one, from this or another process
    or host, is refused while the first is alive.

    While the database cannot be written (disk full, read-only, I/O errors) everything is held
    in memory up to a bound and retried every ``flush_secs``; ``flush()`` and ``close()`` raise
    :class:`flowlog.errors.LogWriteError` meanwhile (see :mod:`flowlog.writer_flush`).
    """

    def __init__(
        self,
        log_dir: str | os.PathLike | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int | None = None,
        flush_secs: float | None = None,
        filename_suffix: str = "",
        *,
        logdir: str | os.PathLike | None = None,
        run_name: str | None = None,
    ):
        flush_secs = DEFAULT_FLUSH_SECS if flush_secs is None else flush_secs
        max_queue = DEFAULT_MAX_QUEUE if max_queue is None else max_queue
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
        for name, value in (("comment", comment), ("filename_suffix", filename_suffix)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {value!r}")
        records.check_path("comment", comment)
        self.flush_secs = float(flush_secs)
        self._batch_len = 4 * int(max_queue)  # the scalar buffer holds 4 items per point
        self._flush_len = self._batch_len  # the hot path flushes at this length
        self.rank = run_dir.distributed_rank()
        self.log_dir = self._run_directory(log_dir, comment, logdir, run_name)
        self._run_dir = os.fspath(self.log_dir)
        self.run_name = os.path.basename(os.path.normpath(self._run_dir))
        self.path = run_dir.database_file(self._run_dir, self.rank)
        self._closed = True
        self._lock = threading.Lock()  # one for the writer's life: reopening keeps it
        self._graph_logged = False
        self._before_close: list = []  # torch watch handles: log their last step first
        self._last_graph: dict | None = None  # what numerics findings are placed on
        self._open(purge_step)

    def _run_directory(self, log_dir, comment, logdir, run_name) -> str | os.PathLike:
        """torch's ``log_dir`` as given, ``logdir/run_name``, or the default; created."""
        if run_name is not None:
            if log_dir:
                raise ValueError(
                    "give log_dir (the run's directory) or logdir= with run_name=, not both"
                )
            base = os.fspath(run_dir.DEFAULT_LOGDIR if logdir is None else logdir)
            records.check_path("logdir", base)
            path = os.path.join(base, records.check_run_name(run_name))
        elif log_dir:
            if logdir is not None:
                raise ValueError("give log_dir (the run's directory) or logdir=, not both")
            if not isinstance(log_dir, (str, os.PathLike)):
                raise TypeError(f"log_dir must be a str or path, got {log_dir!r}")
            records.check_path("log_dir", log_dir)
            os.makedirs(log_dir, exist_ok=True)
            return log_dir  # as torch: get_logdir() returns the object given
        else:
            base = os.fspath(run_dir.DEFAULT_LOGDIR if logdir is None else logdir)
            records.check_path("logdir", base)
            return run_dir.default_run_dir(base, comment, self.rank)
        os.makedirs(path, exist_ok=True)
        return path

    def _open(self, purge_step: int | None) -> None:
        """Open (or reopen after ``close()``) the run's database and start the flush thread."""
        real = os.path.realpath(self.path)
        if real in _OPEN_PATHS:
            raise ValueError(f"run {self._run_dir!r} is already open for writing in this process")
        if os.path.exists(self.path):
            self._refuse_if_written_elsewhere(schema.read_run_file(self.path))
        else:
            schema.create_log(self.path, self._meta())  # False: another process won
        self._conn = schema.open_for_write(self.path)
        try:
            self._open_run(purge_step)
            self._ckpt_conn = schema.open_checkpointer(self.path, self._conn)
        except BaseException:
            self._conn.close()
            raise
        _OPEN_PATHS.add(real)
        self._real = real
        self._closed = False
        self._stop = threading.Event()
        self._wake = threading.Event()  # set after each flush: the flush thread checkpoints
        self._thread = threading.Thread(
            target=self._flush_loop, name=f"flowlog-flush-{self.run_name}", daemon=True
        )
        self._thread.start()
        atexit.register(self._atexit_close)

    def _reopen(self) -> None:
        """torch reopens a closed writer on the next ``add_*``; flowlog resumes the run."""
        log.info("flowlog: reopening run %s after close()", self._run_dir)
        self._open(None)

    # ------------------------------------------------------------------ setup

    def _meta(self) -> dict:
        now = _time()
        return {
            # a directory name os.fsdecode made of non-UTF-8 bytes: stored readably, as SQLite
            # cannot hold its lone surrogates (discovery names the run by its path anyway)
            "name": self.run_name.encode("utf-8", "backslashreplace").decode("utf-8"),
            "start_time": now,
            "heartbeat": now,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "cmdline": list(sys.argv),
            "flowlog_version": __version__,
            "flush_secs": self.flush_secs,
        }

    def _refuse_if_written_elsewhere(self, prev: dict | None) -> None:
        """Refuse a database another live writer holds: another process on this host (its pid
        is alive) or on another host sharing the filesystem (its heartbeat is fresh, see
        :func:`flowlog.reader.effective_status`). Raised before anything is written."""
        if prev is None or effective_status(prev) != "running":
            return
        if prev["host"] == socket.gethostname() and prev["pid"] == os.getpid():
            return  # this process: the run was left open (a reopen after a crash of ours)
        age = max(0.0, _time() - prev["heartbeat"])
        raise ValueError(
            f"run {self._run_dir!r} ({self.path}) is being written by process {prev['pid']} "
            f"on host {prev['host']!r} (last heartbeat {age:.0f} s ago); one writer per run: "
            "use another log_dir, or wait until that writer closes"
        )

    def _open_run(self, purge_step: int | None) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._refuse_if_written_elsewhere(schema.read_run(conn))
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
        self._buf: list = []  # flat: tag id, step, wall, value per point
        self._new_tags: list[tuple] = []
        self._pending: dict[str, list[tuple]] = {k: [] for k in schema.TAG_KINDS if k != "scalar"}
        self._numerics: list[tuple] = []
        self._trials: list[tuple] = []
        self._layouts: list[tuple] = []
        self._graphs: list[tuple] = []
        self._flush_len = self._batch_len
        self._init_flush_state(schema_records.read_dropped(conn))

    def _register(self, tag: object, kind: str, node: str | None = None, series=False) -> int:
        """Tag id for ``tag`` of ``kind``, creating it; raises for misuse (caller holds lock).

        ``series``: an add_scalars tag, whose parts were checked and joined by the caller.
        """
        self._ensure_open()
        if not series:
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
        ``global_step``: an int (numpy ints and 1-element int tensors too); torch's ``int()``
        of a float step would silently truncate it onto its neighbour's point, so flowlog
        refuses floats.
        """
        # Hot path, lock-free: a known tag, a float, an int step, no walltime. The buffer is
        # flat (tag id, step, wall, value, tag id, ...): extending a list by a tuple is atomic
        # under the GIL and the flusher detaches whole points with slice + del, so no point is
        # lost or torn; a flat list also turns into one numpy array in a single C call.
        try:
            tid = self._scalar_ids.get(tag)
        except TypeError:  # an unhashable tag: the checked path names the problem
            tid = None
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
            self._auto_flush()

    def _add_scalar_checked(self, tag, value, global_step, walltime, series=False) -> None:
        """Everything the hot path does not handle: conversion, validation, new tags."""
        if not series:
            records.check_tag(tag)  # first: an unhashable tag fails here, named
        with self._lock:
            if type(value) is not float:
                value = records.to_float(tag, value)
            if global_step is not None:
                global_step = records.check_step(tag, global_step)
            wall = _time() if walltime is None else records.check_wall(tag, walltime)
            tid = self._scalar_ids.get(tag)
            if tid is None:
                tid = self._register(tag, "scalar", series=series)
            if global_step is None:
                global_step = self._last[tid] + 1
            self._last[tid] = global_step
            self._buf += (tid, global_step, wall, value)
            full = len(self._buf) >= self._flush_len
        if full:
            self._auto_flush()

    def _add_scalar_points(self, tag, steps, walls, values) -> None:
        """Many points of one tag with their wall times, checked as arrays: what an importer
        of old logs feeds (one Python call per point would be its bottleneck)."""
        records.check_tag(tag)
        steps = np.asarray(steps, dtype=np.int64)
        walls = np.asarray(walls, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        n = steps.size
        if not steps.shape == walls.shape == values.shape == (n,):
            raise ValueError(f"tag {tag!r}: steps, walls and values must be 1-D of one length")
        if n == 0:
            return
        if steps.min() < 0 or steps.max() >= 2**53:
            raise ValueError(f"tag {tag!r}: steps must be in [0, 2**53)")
        if not np.isfinite(walls).all():
            raise ValueError(f"tag {tag!r}: wall times must be finite")
        flat: list = [None] * (4 * n)
        flat[1::4], flat[2::4], flat[3::4] = steps.tolist(), walls.tolist(), values.tolist()
        with self._lock:
            self._ensure_open()
            tid = self._scalar_ids.get(tag)
            if tid is None:
                tid = self._register(tag, "scalar")
            flat[0::4] = [tid] * n
            self._last[tid] = int(steps[-1])
            self._buf += flat
            if len(self._buf) >= self._flush_len:
                self._flush_locked()

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """One chart ``main_tag`` with a line per key, as torch shows it.

        torch writes each key to a sub-run directory ``<run>/<main_tag>_<key>``; flowlog keeps
        them in the run as series of ``main_tag`` (stored tag ``main_tag`` + U+001F + key,
        which no ``add_scalar`` tag can spell, so the two never collide). Everything is
        validated before anything is logged, so a bad entry logs nothing.
        """
        records.check_tag(main_tag)
        if not isinstance(tag_scalar_dict, Mapping) or not tag_scalar_dict:
            raise TypeError(f"tag {main_tag!r}: add_scalars needs a non-empty dict of values")
        wall = _time() if walltime is None else records.check_wall(main_tag, walltime)
        items = []
        for name, value in tag_scalar_dict.items():
            if not isinstance(name, str):
                raise TypeError(f"tag {main_tag!r}: add_scalars keys must be str, got {name!r}")
            tag = f"{main_tag}{schema.SERIES_SEP}{records.check_tag(name)}"
            items.append((tag, records.to_float(f"{main_tag}/{name}", value)))
        if global_step is not None:
            global_step = records.check_step(main_tag, global_step)
        for tag, value in items:
            self._add_scalar_checked(tag, value, global_step, wall, series=True)

    # ------------------------------------------------------------------ other records

    def _step_for(self, tid: int, global_step: int | None) -> int:
        step = self._last[tid] + 1 if global_step is None else global_step
        self._last[tid] = max(self._last[tid], step)
        return step

    def _add_record(self, kind: str, tag: str, global_step, walltime, row: tuple) -> None:
        """Buffer ``(tag id, step, wall, *row)`` for ``kind`` (validated input only)."""
        if global_step is not None:  # checked before the lock; _step_for takes the int as is
            global_step = records.check_step(tag, global_step)
        wall = _time() if walltime is None else records.check_wall(tag, walltime)
        with self._lock:
            tid = self._register(tag, kind)
            step = self._step_for(tid, global_step)
            self._pending[kind].append((tid, step, wall, *row))

    def add_histogram(
        self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None
    ):
        """Log a histogram of ``values`` (any shape); see :func:`histogram_record`.

        ``max_bins`` is torch's argument and is unused (``bins`` decides the buckets).
        """
        record = records.histogram_record(records.check_tag(tag), values, bins)
        self._add_record("histogram", tag, global_step, walltime, record)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Log a text (Markdown). The tag is kept as given; torch appends ``/text_summary``,
        an artefact of TensorBoard's storage that would only rename the user's tag."""
        records.check_tag(tag)
        if not isinstance(text_string, str):
            raise TypeError(f"tag {tag!r}: text must be a str, got {type(text_string).__name__}")
        records.check_text(tag, text_string)
        self._add_record("text", tag, global_step, walltime, (text_string,))

    def add_hparams(
        self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None
    ):
        """Record one trial: its hyper-parameters, its metrics and its time. Every call adds one
        (a sweep loop gives one HParams row per call); nothing is replaced.

        torch writes each call to a sub-run ``<run>/<run_name or time>`` and logs the metrics
        as scalars there; flowlog keeps the trial in the run (named ``run_name`` when given)
        and the metrics in the trial. hparam values: bool, int, float, str, a 1-element tensor
        or None (skipped, as torch); metric values: numbers. ``hparam_domain_discrete``:
        ``{name: [allowed values]}`` for hparams of this call.
        """
        self._add_trial(hparam_dict, metric_dict, hparam_domain_discrete, run_name, global_step)

    def _add_trial(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                   global_step=None, walltime=None):  # fmt: skip
        """add_hparams at ``walltime`` (now when None): what an importer of old logs needs."""
        clean_h, clean_m = records.check_hparams(hparam_dict, metric_dict)
        domains = records.check_domains(hparam_domain_discrete, clean_h)
        if run_name is not None and (not isinstance(run_name, str) or not run_name.strip()):
            raise ValueError(f"add_hparams: run_name must be a non-empty str, got {run_name!r}")
        records.check_strings("add_hparams: run_name", run_name)
        step = None if global_step is None else records.check_step("<hparams>", global_step)
        with self._lock:
            self._ensure_open()
            wall = _time() if walltime is None else float(walltime)
            self._trials.append((run_name, step, wall, clean_h, clean_m, domains))
            self._flush_locked()

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True, *,
                  step=None):  # fmt: skip
        """Log a graph: a flowlog ``Graph``, a ``torch.nn.Module`` or a contract-1 description.

        A minimal description: ``{"nodes": [{"name": "x", "op": "Placeholder", "inputs": []},
        {"name": "y", "op": "Relu", "inputs": ["x"]}]}``. Each call stores a new version; readers
        show the latest. A ``torch.nn.Module`` is captured on ``input_to_model`` (a tensor, a
        tuple of positional inputs or a dict of keyword inputs) by
        :func:`flowlog.torch_graph.describe_module`; ``verbose`` and ``use_strict_trace`` are
        torch's ``jit.trace`` flags, accepted and unused.
        """
        if isinstance(model, Mapping):
            desc = graphdesc.validate(model)
        elif type(model).__module__.startswith("flowlog."):
            from flowlog.describe import describe_graph

            desc = graphdesc.validate(describe_graph(model))
        elif _is_torch_module(model):
            from flowlog.torch_graph import describe_module

            desc = graphdesc.validate(describe_module(model, input_to_model))
        else:
            raise TypeError(
                f"add_graph needs a flowlog Graph or a graph description dict, got "
                f"{type(model).__name__}"
            )
        if step is not None:
            step = records.check_step("<graph>", step)
        records.check_strings("add_graph: graph description", desc)
        text = json.dumps(desc)
        with self._lock:
            self._ensure_open()
            self._graphs.append((step, _time(), text))
            self._graph_logged = True
            self._last_graph = desc
            self._flush_locked()

    def watch(self, session, every=10, histograms_every=None, global_step=None, log_graph=True,
              *, optimizer=None, check_numerics=False):  # fmt: skip
        """Log per-variable statistics of a flowlog session (:func:`flowlog.watch.watch`) or of
        a ``torch.nn.Module`` (:func:`flowlog.torch_watch.watch_module`; ``optimizer`` and
        ``check_numerics`` are for modules: a flowlog Session checks its own numerics)."""
        if _is_torch_module(session):
            from flowlog.torch_watch import watch_module

            # names become tags and graph nodes: refused here, not in the first forward
            records.check_strings("watch: module name", [n for n, _ in session.named_modules()])
            names = [n for n, _ in session.named_parameters()]
            records.check_strings("watch: parameter name", names)

            return watch_module(self, session, every=every, histograms_every=histograms_every,
                                optimizer=optimizer, log_graph=log_graph,
                                check_numerics=check_numerics, global_step=global_step)  # fmt: skip
        if optimizer is not None or check_numerics:
            raise TypeError("watch: optimizer and check_numerics are for torch.nn.Module models; "
                            "a flowlog Session takes Session(check_numerics=True)")  # fmt: skip
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
        records.check_strings("watch: node name", node)
        with self._lock:
            for tag, kind in tags:
                self._register(tag, kind, node)

    def _add_numerics(self, step: int, run_index, node, op, phase, kind, inputs) -> None:
        records.check_strings("numerics finding", [node, op, phase, kind, inputs])
        with self._lock:
            self._ensure_open()
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

    def _ensure_open(self) -> None:
        """Reopen a closed writer, as torch does on the next ``add_*`` (caller holds lock)."""
        if self._closed:
            self._reopen()

    # ------------------------------------------------------------------ closing

    def close(self, *, status: str = "finished") -> None:
        """Flush, mark the run ``status`` ("finished" or "crashed"), fold the WAL into the
        database and close. Idempotent.

        ``status`` is keyword-only, so ``close()`` keeps torch's positional signature. While
        the database cannot be written this raises :class:`LogWriteError` and the writer stays
        open with everything held (retried every ``flush_secs``; call ``close()`` again)."""
        if status not in ("finished", "crashed"):
            raise ValueError(f"status must be 'finished' or 'crashed', got {status!r}")
        for finish in list(self._before_close):
            finish()
        with self._lock:
            if self._closed:
                return
            self._flush_locked("explicit")
            conn = self._conn
            try:
                schema_records.begin(conn)
                schema.end_run(conn, status, _time())
                schema_records.commit(conn)
            except Exception as exc:
                schema_records.rollback(conn)
                if not schema_records.is_environmental(exc):
                    raise
                raise LogWriteError(
                    f"cannot write {self.path} ({type(exc).__name__}: {exc}): the run's "
                    f"{status!r} status is not written; the writer stays open"
                ) from exc
            self._closed = True
            self._scalar_ids = {}  # every add_scalar now takes the checked slow path
            _OPEN_PATHS.discard(self._real)
        self._finish_file()
        atexit.unregister(self._atexit_close)

    def _atexit_close(self) -> None:
        # an uncaught exception leaves sys.last_value set before atexit handlers run
        crashed = getattr(sys, "last_value", None) is not None
        self.close(status="crashed" if crashed else "finished")

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        self.close(status="crashed" if exc_type is not None else "finished")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"SummaryWriter({self._run_dir!r}, {state})"

    def get_logdir(self) -> str | os.PathLike:
        """The run's directory, exactly as torch returns it (the ``log_dir`` given, or the
        generated path); checkpoints and other files may go beside the database."""
        return self.log_dir
