"""Reader API (contract 4): discover runs under a logdir and read them while they are written.

Databases are opened read-only and never written, nor is any file created beside them: a run
whose WAL is empty or absent (closed cleanly) is opened ``immutable=1``, one being written (its
WAL has commits) with a WAL-reading ``mode=ro`` connection; each read first checks that the
files still match its connection and opens again when they do not (:mod:`flowlog.reader_open`:
only regular files, every open under a timeout). A file that is not a readable flowlog log is
skipped with a warning naming it and why (``Logdir.warnings``, :mod:`warnings`, logging) and
listed in ``Logdir.unreadable``. Run names are paths relative to the logdir without the
``.flowlog.db`` suffix, and ``Logdir.run(name)`` only opens a run that discovery found, so a
name supplied by a dashboard request can never reach a file outside the logdir.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
import threading
import warnings

import numpy as np

from flowlog import reader_open, schema, schema_records
from flowlog.provider import (
    Buckets,
    Histogram,
    ImageInfo,
    PrCurve,
    ReadError,
    RunInfo,
    Series,
    TagInfo,
    Trial,
    Unreadable,
)
from flowlog.reader_discovery import database_names, discover, listing, run_location
from flowlog.reader_open import FileState
from flowlog.reader_ranks import RankedRun
from flowlog.reader_status import STALE_FLUSHES, STALE_GRACE_SECS, effective_status, pid_alive

log = logging.getLogger(__name__)

__all__ = [
    "Logdir", "Run", "SqliteProvider", "RunInfo", "TagInfo", "Series", "Buckets", "Histogram",
    "ReadError", "UnreadableRunError", "run_location", "effective_status", "pid_alive",
    "STALE_FLUSHES", "STALE_GRACE_SECS",
]  # fmt: skip


def _ints(values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _floats(values) -> np.ndarray:
    # None (SQL NULL) becomes NaN: that is how NaN is stored
    return np.array(values, dtype=np.float64)


def _parts_of(run) -> list[tuple[int | None, Run]]:
    return run.parts if isinstance(run, RankedRun) else [(None, run)]


_SERIALS = itertools.count(1)


class UnreadableRunError(ReadError, KeyError):
    """A run discovery found but cannot open (damaged, not a regular file, timed out): a
    :class:`ReadError`, and a KeyError for callers that only ask whether the run is there."""

    __str__ = ReadError.__str__  # not KeyError's quoting


def _reason(exc: BaseException, path: str) -> str:
    return str(exc).removeprefix(f"{path}: ")


# errors an immutable connection gets when a writer checkpoints into the file meanwhile
_TORN = (sqlite3.DatabaseError,)
_NOT_TORN = (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.IntegrityError)


def _generation(run: dict | None, tag_id: int, stored: int | None):
    """A scalar tag's :attr:`TagInfo.generation`: the file's own counter, with the writer's
    start and process, so a replaced or resumed log never passes for the one read before."""
    if stored is None or run is None:
        return None
    return (run["start_time"], run["pid"], tag_id, stored)


class Run:
    """One run's database, opened read-only. Obtain it with :meth:`Logdir.run`.

    ``state`` is the files' state the connection was opened on (:func:`reader_open.probe`);
    with it, every read first compares the files to it and opens again when an immutable
    connection's file changed (or a WAL-reading one's WAL went), which also moves the token.
    """

    def __init__(
        self, name: str, path: str, conn: sqlite3.Connection, state: FileState | None = None
    ):
        self.name = name
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._state = state
        self._closed = False
        self._lock = threading.Lock()  # one connection, shared by a threaded web server
        self._serial = next(_SERIALS)  # tokens of a re-opened file never equal the old ones

    def _call(self, read):
        """``read(connection)`` with the connection held and current; SQLite, OS and open
        errors become :class:`ReadError` naming the run."""
        with self._lock:
            try:
                self._refresh()
                if self._conn is None:  # a failed re-open, then close()
                    raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
                try:
                    return read(self._conn)
                except _TORN as exc:
                    if isinstance(exc, _NOT_TORN) or not self.immutable or self._closed:
                        raise
                    # a writer may have checkpointed into the file under this immutable
                    # connection (a torn page): open again, as the files are now, and retry once
                    self._reopen(reader_open.probe(self.path))
                    return read(self._conn)
            except (sqlite3.Error, OSError, schema.LogFileError) as exc:
                why = _reason(exc, self.path)
                raise ReadError(f"run {self.name!r} ({self.path}) cannot be read: {why}") from exc

    @property
    def immutable(self) -> bool:
        """Whether the connection is an ``immutable=1`` one (the file's WAL was empty)."""
        return self._state is not None and self._state.immutable

    def _refresh(self) -> None:
        if self._state is None or self._closed:
            return  # a connection made elsewhere, or closed: used as it is
        try:
            now = reader_open.probe(self.path, self._state.real)
        except FileNotFoundError:
            return  # deleted: the open connection still reads the file it had
        if now.main[:2] != self._state.main[:2]:
            return  # replaced: Logdir opens the new file; this reader keeps the old one
        if self._conn is None:
            self._reopen(now)  # the last re-open failed
        elif self._state.immutable:
            if now.view() != self._state.view():
                self._reopen(now)  # changed, or a writer's WAL appeared
        elif now.wal is None:
            self._reopen(now)  # reading on in WAL mode would create the WAL again

    def _reopen(self, now: FileState) -> None:
        old, self._conn = self._conn, None
        if old is not None:
            old.close()
        self._conn = reader_open.open_run_file(self.path, now)
        self._state = now
        self._serial = next(_SERIALS)

    def token(self) -> tuple[int, int]:
        """Changes whenever the run's data may have: ``PRAGMA data_version`` moves when another
        connection commits (a few microseconds), and every re-open (the immutable connection
        of a changed file) takes a new serial, so it keys every cache of this run's data."""
        return self._call(lambda conn: (self._serial, schema.data_version(conn)))

    def __repr__(self) -> str:
        return f"Run({self.name!r}, {self.path!r})"

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()

    # ------------------------------------------------------------------ metadata

    @property
    def info(self) -> RunInfo:
        def read(conn):
            token = (self._serial, schema.data_version(conn))
            dropped = schema_records.read_dropped(conn)
            return token, schema.read_run(conn), schema.last_logged_steps(conn), dropped

        token, row, steps, dropped = self._call(read)
        if row is None:
            raise ReadError(f"run {self.name!r} ({self.path}) cannot be read: no run metadata")
        return RunInfo(
            name=self.name,
            path=self.path,
            start_time=row["start_time"],
            end_time=row["end_time"],
            status=effective_status(row),
            host=row["host"],
            pid=row["pid"],
            cmdline=row["cmdline"],
            last_step=max(steps.values(), default=None),
            heartbeat=row["heartbeat"],
            flowlog_version=row["flowlog_version"],
            token=token,
            dropped=dropped,
            last_steps=steps,
        )

    def tags(self, kind: str | None = None) -> list[TagInfo]:
        """Tags in creation order, optionally only one kind."""
        if kind is not None and kind not in schema.TAG_KINDS:
            raise ValueError(f"kind must be one of {schema.TAG_KINDS} or None, got {kind!r}")

        def read(conn):
            out, run = [], None
            for tid, tag, tag_kind, node in schema.load_tags(conn):
                if kind is None or tag_kind == kind:
                    count, first, last = schema.tag_stats(conn, tid, tag_kind)
                    gen = None
                    if tag_kind == "scalar":
                        run = schema.read_run(conn) if run is None else run
                        gen = _generation(run, tid, schema.scalar_generation(conn, tid))
                    out.append(TagInfo(tag, tag_kind, count, first, last, node, gen))
            return out

        return self._call(read)

    def has_tag(self, tag: str) -> bool:
        """One key lookup (``tags()`` would also count every tag's records)."""
        return self._call(lambda conn: schema.find_tag(conn, tag) is not None)

    def _tag_id(self, conn, tag: str, kind: str) -> int:
        if not isinstance(tag, str):
            raise TypeError(f"tag must be a str, got {type(tag).__name__}")
        found = schema.find_tag(conn, tag)
        if found is None:
            raise KeyError(f"run {self.name!r} has no tag {tag!r}")
        if found[1] != kind:
            raise ValueError(f"run {self.name!r}: tag {tag!r} is a {found[1]} tag, not {kind}")
        return found[0]

    # ------------------------------------------------------------------ scalars

    def scalars(self, tag: str, start: int | None = None, end: int | None = None) -> Series:
        """Every point of ``tag`` with ``start <= step <= end`` (inclusive; None = open)."""
        return self._call(
            lambda c: self._series(
                schema.read_series(c, self._tag_id(c, tag, "scalar"), start, end)
            )
        )

    def scalars_since(self, tag: str, after_step: int | None) -> Series:
        """Points with ``step > after_step`` (all when None): what live refresh appends."""
        return self._call(
            lambda c: self._series(
                schema.read_series(c, self._tag_id(c, tag, "scalar"), after=after_step)
            )
        )

    @staticmethod
    def _series(arrays) -> Series:
        step, wall, value = arrays
        return Series(
            np.ascontiguousarray(step),
            np.ascontiguousarray(wall),
            np.ascontiguousarray(value),
        )

    def scalars_downsampled(
        self, tag: str, buckets: int, start: int | None = None, end: int | None = None
    ) -> Buckets:
        """At most ``buckets`` equal step ranges, each with min/max/mean/count, computed in SQL.

        Spikes survive (min/max per bucket); a bucket's min/max/mean ignore NaN/±Inf, whose
        counts are reported per bucket. Large ranges are answered from precomputed rollups.
        """
        if isinstance(buckets, bool) or not isinstance(buckets, (int, np.integer)):
            raise TypeError(f"buckets must be an int, got {buckets!r}")
        if buckets < 1:
            raise ValueError(f"buckets must be >= 1, got {buckets}")

        def read(conn):
            tid = self._tag_id(conn, tag, "scalar")
            first, last = schema.step_range(conn, tid)
            if first is None:
                return []
            lo = first if start is None else max(int(start), first)
            hi = last if end is None else min(int(end), last)
            return schema.downsample(conn, tid, int(buckets), lo, hi) if lo <= hi else []

        rows = self._call(read)
        if not rows:
            z = np.zeros(0, np.int64)
            return Buckets(z, z, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), z, z, z, z)
        cols = list(zip(*rows, strict=True))
        return Buckets(
            step=_ints(cols[0]),
            last_step=_ints(cols[1]),
            wall=_floats(cols[2]),
            min=_floats(cols[3]),
            max=_floats(cols[4]),
            mean=_floats(cols[5]),
            count=_ints(cols[6]),
            nan=_ints(cols[7]),
            posinf=_ints(cols[8]),
            neginf=_ints(cols[9]),
        )

    # ------------------------------------------------------------------ other records

    def histograms(self, tag: str) -> list[Histogram]:
        rows = self._call(lambda c: schema.read_histograms(c, self._tag_id(c, tag, "histogram")))
        out = []
        for step, wall, edges, counts, vmin, vmax, vsum, sq, n, nan, posinf, neginf in rows:
            out.append(
                Histogram(
                    step=step,
                    wall=wall,
                    edges=np.frombuffer(edges, dtype=np.float64).copy(),
                    counts=np.frombuffer(counts, dtype=np.float64).copy(),
                    min=float("nan") if vmin is None else vmin,
                    max=float("nan") if vmax is None else vmax,
                    sum=vsum,
                    sum_squares=sq,
                    count=n,
                    nan=nan,
                    posinf=posinf,
                    neginf=neginf,
                )
            )
        return out

    def texts(self, tag: str | None = None) -> list[tuple[str, int, float, str]]:
        """``(tag, step, wall, text)`` for one tag or all (ordered by tag, then step)."""
        return self._call(
            lambda c: schema.read_texts(c, None if tag is None else self._tag_id(c, tag, "text"))
        )

    def trials(self) -> list[Trial]:
        """Every add_hparams call, in order (a version-1 file's one record reads as one)."""
        return [Trial(*row) for row in self._call(schema_records.read_trials)]

    def hparams(self) -> tuple[dict, dict]:
        """``(hparams, metrics)`` of the latest trial; both empty when none were logged."""
        trials = self.trials()
        return (trials[-1].hparams, trials[-1].metrics) if trials else ({}, {})

    def images(self, tag: str) -> list[ImageInfo]:
        rows = self._call(lambda c: schema_records.read_images(c, self._tag_id(c, tag, "image")))
        return [
            ImageInfo(step, wall, h, w, c, None if meta is None else json.loads(meta))
            for step, wall, h, w, c, meta in rows
        ]

    def image_png(self, tag: str, step: int) -> bytes:
        data = self._call(
            lambda c: schema_records.read_image_png(c, self._tag_id(c, tag, "image"), step)
        )
        if data is None:
            raise KeyError(f"run {self.name!r}: tag {tag!r} has no image at step {step}")
        return data

    def pr_curves(self, tag: str) -> list[PrCurve]:
        rows = self._call(
            lambda c: schema_records.read_pr_curves(c, self._tag_id(c, tag, "pr_curve"))
        )
        return [
            PrCurve(step, wall, n, np.frombuffer(data, np.float64).reshape(6, -1).copy())
            for step, wall, n, data in rows
        ]

    def custom_scalars(self) -> dict | None:
        return self._call(schema_records.read_layout)

    def part(self, rank: int | None = None, tag: str | None = None) -> Run:
        """This run itself: a single-file run has no ranks (see :class:`RankedRun`)."""
        if rank is not None:
            raise KeyError(f"run {self.name!r} was written by one process: it has no rank {rank}")
        return self

    def graph(self) -> dict | None:
        """The latest logged graph description (contract 1), or None."""
        text = self._call(schema.read_graph)
        return None if text is None else json.loads(text)

    def watched_nodes(self) -> list[str]:
        """Graph node names that have watch statistics, sorted."""
        return self._call(schema.nodes)

    def watch_stats(self, node: str) -> dict[str, Series]:
        """``{stat: Series}`` for the scalar watch tags of ``node`` (``watch/<node>/<stat>``)."""

        def read(conn):
            tags = schema.tags_of_node(conn, node)
            if not tags:
                raise KeyError(f"run {self.name!r} has no statistics for node {node!r}")
            prefix = f"watch/{node}/"
            out = {}
            for tid, tag, kind in tags:
                if kind == "scalar":
                    stat = tag[len(prefix) :] if tag.startswith(prefix) else tag
                    out[stat] = self._series(schema.read_series(conn, tid))
            return out

        return self._call(read)

    def numerics(self) -> list[dict]:
        """check_numerics findings in log order: node, op, phase, step, kind, inputs, …"""
        rows = self._call(schema.read_numerics)
        return [
            {
                "node": node,
                "op": op,
                "phase": phase,
                "step": step,
                "kind": kind,
                "inputs": json.loads(inputs),
                "run_index": run_index,
                "wall": wall,
            }
            for node, op, phase, step, kind, inputs, run_index, wall in rows
        ]


class Logdir:
    """All runs under a directory (recursively). Cheap to create; each :meth:`runs` re-scans.

    Validated connections are cached per file (re-opened if the file is replaced); a skipped
    file is re-examined when it or its -wal/-shm change, and warned about once per version.
    One scan runs at a time (``_scan_lock``); opens, which may take up to
    ``reader_open.OPEN_TIMEOUT_SECS``, happen outside ``_lock``, so lookups of runs already
    found go on answering meanwhile.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.path.abspath(os.fspath(path))
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise NotADirectoryError(f"logdir {self.path!r} is not a directory")
        self._lock = threading.Lock()  # the published scan: _runs, _listed, _broken, _files
        self._scan_lock = threading.Lock()
        self._files: dict[str, tuple[tuple, Run]] = {}  # path -> ((dev, ino), Run)
        self._runs: dict[str, Run | RankedRun] = {}  # name -> run, as of the last scan
        # name -> [run directory, its database names, the directory's mtime] as of the last
        # scan: a rank whose file appears later (ranks start at different times) makes run()
        # re-scan; the mtime spares run() a listing while the directory is unchanged
        self._listed: dict[str, list] = {}
        # path -> (FileState, message, whether its open timed out) of each skipped file
        self._skipped: dict[str, tuple[FileState, str, bool]] = {}
        self._broken: dict[str, str] = {}  # run name -> why, for runs with no readable file
        self._partial_warned: set[tuple] = set()  # (path, file state) read without its WAL
        self.warnings: list[str] = []
        self.unreadable: list[Unreadable] = []  # as of the last scan (and runs())

    def __repr__(self) -> str:
        return f"Logdir({self.path!r})"

    def _note_skip(self, path: str, state: FileState, reason: str, timed_out=False) -> str:
        """Record why ``path`` is skipped; warn when its file or the reason is new."""
        old = self._skipped.get(path)
        message = f"skipped {path}: {reason}"
        self._skipped[path] = (state, message, timed_out)
        if old is None or old[1] != message or old[0].main != state.main:
            self._warn(path, reason)
        return reason

    def _partial(self, runs) -> list[str]:
        """Warnings for files read without their WAL's commits (a -wal but no -shm: reading
        it would create one), each warned about once per version of the file."""
        out = []
        for run in runs:
            state = run._state
            if state is not None and state.unread_wal:
                message = (
                    f"partly read {run.path}: its -wal holds commits that cannot be read "
                    "without creating a -shm beside it; showing the database without them"
                )
                out.append(message)
                if (run.path, state.main) not in self._partial_warned:
                    self._partial_warned.add((run.path, state.main))
                    log.warning("flowlog: %s", message)
                    warnings.warn(message, RuntimeWarning, stacklevel=4)
        return out

    def _walk_error(self, exc: OSError) -> None:
        self._warn(exc.filename or self.path, f"cannot list directory ({exc.strerror})")

    def _warn(self, path: str, reason: str) -> None:
        message = f"skipped {path}: {reason}"
        self.warnings.append(message)
        log.warning("flowlog: %s", message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)

    def _open_file(self, name: str, path: str) -> tuple[Run | None, str | None]:
        """``(reader, None)`` of one database file (cached while the file is the same one), or
        ``(None, why)`` when it is skipped (warned about once per version of the file), or
        ``(None, None)`` when it has gone since the listing."""
        try:
            state = reader_open.probe(path)
        except OSError:
            return None, None
        cached = self._files.get(path)
        if cached is not None and cached[0] == state.main[:2]:
            return cached[1], None
        if cached is not None:
            with self._lock:
                del self._files[path]
            cached[1].close()
        skipped = self._skipped.get(path)
        if skipped is not None and skipped[0] == state:
            if not skipped[2] or reader_open.pending(state):
                return None, skipped[1].removeprefix(f"skipped {path}: ")
        try:
            conn = reader_open.open_run_file(path, state)
        except reader_open.OpenTimeout as exc:
            return None, self._note_skip(path, state, _reason(exc, path), timed_out=True)
        except (schema.LogFileError, sqlite3.Error, OSError) as exc:
            return None, self._note_skip(path, state, _reason(exc, path))
        self._skipped.pop(path, None)
        run = Run(name, path, conn, state)
        with self._lock:
            self._files[path] = (state.main[:2], run)
        return run, None

    def _scan(self) -> dict[str, Run | RankedRun]:
        with self._scan_lock:
            self.warnings = [msg for _, msg, _ in self._skipped.values()]
            found, shadowed = discover(self.path, self._walk_error)
            for path, reason in shadowed.items():
                try:
                    self._note_skip(path, reader_open.probe(path), reason)
                except OSError:
                    pass
            live: dict[str, Run | RankedRun] = {}
            listed: dict[str, list] = {}
            unreadable: list[Unreadable] = []
            broken: dict[str, str] = {}
            seen_paths = set(shadowed)
            for name, (location, parts) in found.items():
                if parts[0][1] != location:  # a run directory, not a single-file run
                    listed[name] = listing(location, parts)
                opened = []
                for rank, path in parts:
                    seen_paths.add(path)
                    label = name if rank is None else f"{name} [rank {rank}]"
                    run, reason = self._open_file(label, path)
                    if run is not None:
                        opened.append((rank, run))
                    elif reason is not None:
                        unreadable.append(Unreadable(label, path, reason))
                        broken.setdefault(name, f"{path}: {reason}")
                if len(opened) == 1 and opened[0][0] is None:
                    live[name] = opened[0][1]
                elif opened:
                    live[name] = RankedRun(name, location, opened)
            with self._lock:
                gone = [self._files.pop(p)[1] for p in set(self._files) - seen_paths]
                for path in set(self._skipped) - seen_paths:
                    del self._skipped[path]
                self._runs = live
                self._listed = listed
                self._broken = {n: why for n, why in broken.items() if n not in live}
                self.unreadable = sorted(unreadable, key=lambda u: u.name)
                self.warnings = [msg for _, msg, _ in self._skipped.values()]
                self.warnings += self._partial(run for _, run in self._files.values())
            for run in gone:
                run.close()
            return live

    def runs(self) -> list[RunInfo]:
        """Every readable run, sorted by name (re-scans the directory)."""
        out = []
        broken = []
        for run in sorted(self._scan().values(), key=lambda r: r.name):
            try:
                out.append(run.info)
            except ReadError as exc:
                self._warn(run.path, f"cannot read run metadata ({exc})")
                broken.append(Unreadable(run.name, run.path, f"cannot read run metadata ({exc})"))
        if broken:
            with self._lock:
                self.unreadable = sorted(self.unreadable + broken, key=lambda u: u.name)
        return out

    def run(self, name: str) -> Run | RankedRun:
        """The run called ``name`` (as listed by :meth:`runs`); KeyError if discovery did not
        find it, :class:`UnreadableRunError` (a ReadError and a KeyError) if it found it but
        cannot open it. Names are looked up, never joined onto a path."""
        if not isinstance(name, str):
            raise TypeError(f"run name must be a str, got {type(name).__name__}")
        with self._lock:
            cached = self._runs.get(name)
            fresh = (
                cached is not None
                and all(self._same_file(run.path) for _, run in _parts_of(cached))
                and self._same_listing(name)
            )
        if fresh:
            return cached
        run = self._scan().get(name)
        if run is None:
            why = self._broken.get(name)
            if why is not None:
                raise UnreadableRunError(f"run {name!r} cannot be read: {why}")
            raise KeyError(f"no run named {name!r} under {self.path}")
        return run

    def _same_file(self, path: str) -> bool:
        try:
            st = os.stat(path)
        except OSError:
            return False
        cached = self._files.get(path)
        return cached is not None and cached[0] == (st.st_dev, st.st_ino)

    def _same_listing(self, name: str) -> bool:
        """Whether the run directory still holds the databases the last scan found."""
        listed = self._listed.get(name)
        if listed is None:
            return True
        location, names, mtime = listed
        try:
            now = os.stat(location).st_mtime_ns
            if now == mtime:
                return True
            same = database_names(os.listdir(location)) == names
        except OSError:
            return False
        if same:
            listed[2] = now  # another file changed the directory (a checkpoint, the WAL)
        return same

    def close(self) -> None:
        with self._scan_lock, self._lock:
            runs = [run for _, run in self._files.values()]
            self._files.clear()
            self._runs.clear()
            self._listed.clear()
        for run in runs:
            run.close()

    def __enter__(self) -> Logdir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SqliteProvider:
    """The :class:`flowlog.provider.DataProvider` of a logdir of flowlog SQLite runs.

    A thin adapter over :class:`Logdir`: run names in, the reader's values out. The change
    token is ``(connection serial, PRAGMA data_version)``, which moves on every commit and on
    every re-open of a changed file (a tuple of those for a run of several ranks).
    """

    def __init__(self, path: str | os.PathLike):
        self.logdir = Logdir(path)

    def __repr__(self) -> str:
        return f"SqliteProvider({self.logdir.path!r})"

    @property
    def location(self) -> str:
        return self.logdir.path

    def runs(self) -> list[RunInfo]:
        return self.logdir.runs()

    def warnings(self) -> list[str]:
        return list(self.logdir.warnings)

    def unreadable(self) -> list[Unreadable]:
        return list(self.logdir.unreadable)

    def _run(self, run: str) -> Run | RankedRun:
        return self.logdir.run(run)

    def _part(self, run: str, rank: int | None, tag: str | None = None) -> Run:
        return self.logdir.run(run).part(rank, tag)

    def run_info(self, run: str) -> RunInfo:
        return self._run(run).info

    def change_token(self, run: str):
        return self._run(run).token()

    def tags(self, run: str, kind: str | None = None, *, rank=None) -> dict[str, TagInfo]:
        found = self._run(run) if rank is None else self._part(run, rank)
        return {t.tag: t for t in found.tags(kind)}

    def scalars(self, run, tag, start=None, end=None, *, rank=None) -> Series:
        return self._part(run, rank, tag).scalars(tag, start, end)

    def scalars_downsampled(self, run, tag, buckets, start=None, end=None, *, rank=None):
        return self._part(run, rank, tag).scalars_downsampled(tag, buckets, start, end)

    def scalars_since(self, run, tag, after_step, *, rank=None) -> Series:
        return self._part(run, rank, tag).scalars_since(tag, after_step)

    def histograms(self, run, tag, *, rank=None) -> list[Histogram]:
        return self._part(run, rank, tag).histograms(tag)

    def texts(self, run, tag=None, *, rank=None):
        return self._part(run, rank, tag).texts(tag)

    def images(self, run, tag, *, rank=None) -> list[ImageInfo]:
        return self._part(run, rank, tag).images(tag)

    def image_png(self, run, tag, step, *, rank=None) -> bytes:
        return self._part(run, rank, tag).image_png(tag, step)

    def pr_curves(self, run, tag, *, rank=None) -> list[PrCurve]:
        return self._part(run, rank, tag).pr_curves(tag)

    def hparams(self, run) -> tuple[dict, dict]:
        return self._run(run).hparams()

    def trials(self, run) -> list[Trial]:
        return self._run(run).trials()

    def custom_scalars(self, run) -> dict | None:
        return self._run(run).custom_scalars()

    def graph(self, run) -> dict | None:
        return self._run(run).graph()

    def watched_nodes(self, run) -> list[str]:
        return self._run(run).watched_nodes()

    def watch_stats(self, run, node) -> dict[str, Series]:
        return self._run(run).watch_stats(node)

    def numerics(self, run) -> list[dict]:
        return self._run(run).numerics()

    def close(self) -> None:
        self.logdir.close()
