"""Reader API (contract 4): discover runs under a logdir and read them while they are written.

Databases are opened read-only (``mode=ro`` URI) with a busy timeout; WAL lets readers see
each committed flush without blocking the writer. A file that is not a readable flowlog log is
skipped with a warning naming it and why (``Logdir.warnings``, :mod:`warnings`, logging).
Run names are paths relative to the logdir without the ``.flowlog.db`` suffix, and
``Logdir.run(name)`` only opens a run that discovery found, so a name supplied by a dashboard
request can never reach a file outside the logdir.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import socket
import sqlite3
import threading
import time
import warnings

import numpy as np

from flowlog import schema, schema_records
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
from flowlog.reader_ranks import RankedRun

log = logging.getLogger(__name__)

__all__ = [
    "Logdir", "Run", "SqliteProvider", "RunInfo", "TagInfo", "Series", "Buckets", "Histogram",
    "ReadError",
]  # fmt: skip

#: a 'running' run whose heartbeat is older than this many flush intervals (+ grace) crashed
STALE_FLUSHES = 3
STALE_GRACE_SECS = 60.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def effective_status(row: dict, now: float | None = None) -> str:
    """The stored status, except a 'running' run is 'crashed' when its process is gone.

    Gone means: on this host and its pid is not alive, or (any host) no heartbeat for
    ``STALE_FLUSHES`` flush intervals plus ``STALE_GRACE_SECS`` (the writer's flush thread
    beats at every ``flush_secs`` while the process lives).
    """
    if row["status"] != "running":
        return row["status"]
    if row["host"] == socket.gethostname() and not pid_alive(row["pid"]):
        return "crashed"
    now = time.time() if now is None else now
    if now - row["heartbeat"] > STALE_FLUSHES * row["flush_secs"] + STALE_GRACE_SECS:
        return "crashed"
    return "running"


def _ints(values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _floats(values) -> np.ndarray:
    # None (SQL NULL) becomes NaN: that is how NaN is stored
    return np.array(values, dtype=np.float64)


_RANK_FILE = re.compile(r"flowlog\.rank(0|[1-9]\d{0,5})\.db")  # as the writer names them


def run_location(path: str) -> tuple[str, str | None]:
    """``(logdir, run name)`` of a path a user names: a logdir (name None), a run directory,
    one of its databases, or a single-file run; ValueError for anything else."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        if not _database_names(os.listdir(path)):
            return path, None
        run_dir = path  # a run directory: the run of its parent logdir
    else:
        base = os.path.basename(path)
        suffix = schema.RUN_SUFFIX
        if _database_names([base]):
            run_dir = os.path.dirname(path)
        elif base.endswith(suffix) and base != suffix:
            run_dir = path[: -len(suffix)]  # the single-file layout
        else:
            raise ValueError(
                f"{path} is not a flowlog log (expected a logdir, a run directory, a "
                f"{schema.RUN_FILE} or a *{suffix} file)"
            )
    return os.path.dirname(run_dir), os.path.basename(run_dir)


def _listing(location: str, parts) -> list:
    """``[location, database names, mtime]`` of a run directory as discovered; the mtime is
    None (always list again) when a database appeared since discovery listed it."""
    names = _database_names(os.path.basename(p) for _, p in parts)
    try:
        mtime = os.stat(location).st_mtime_ns  # before the listing: a later file changes it
        if _database_names(os.listdir(location)) != names:
            mtime = None
    except OSError:
        mtime = None
    return [location, names, mtime]


def _database_names(names) -> frozenset[str]:
    """The names of a run directory's databases among ``names`` (a directory listing)."""
    return frozenset(n for n in names if n == schema.RUN_FILE or _RANK_FILE.fullmatch(n))


def _parts_of(run) -> list[tuple[int | None, Run]]:
    return run.parts if isinstance(run, RankedRun) else [(None, run)]


_SERIALS = itertools.count(1)
_SERIES_DTYPE = np.dtype([("step", np.int64), ("wall", np.float64), ("value", np.float64)])


class Run:
    """One run's database, opened read-only. Obtain it with :meth:`Logdir.run`."""

    def __init__(self, name: str, path: str, conn: sqlite3.Connection):
        self.name = name
        self.path = path
        self._conn = conn
        self._lock = threading.Lock()  # one connection, shared by a threaded web server
        self._serial = next(_SERIALS)  # tokens of a re-opened file never equal the old ones

    @contextlib.contextmanager
    def _reading(self):
        """Hold the connection; SQLite and OS errors become :class:`ReadError` naming the run."""
        with self._lock:
            try:
                yield
            except (sqlite3.Error, OSError) as exc:
                raise ReadError(f"run {self.name!r} ({self.path}) cannot be read: {exc}") from exc

    def token(self) -> tuple[int, int]:
        """Changes whenever another connection commits to the file (``PRAGMA data_version``,
        a few microseconds), so it keys every cache of this run's data."""
        with self._reading():
            return self._token_held()

    def _token_held(self) -> tuple[int, int]:  # with the connection held
        return (self._serial, schema.data_version(self._conn))

    def __repr__(self) -> str:
        return f"Run({self.name!r}, {self.path!r})"

    def close(self) -> None:
        with self._reading():
            self._conn.close()

    # ------------------------------------------------------------------ metadata

    @property
    def info(self) -> RunInfo:
        with self._reading():
            token = self._token_held()
            row = schema.read_run(self._conn)
            last = schema.last_logged_step(self._conn)
        if row is None:
            raise schema.LogFileError(f"{self.path}: run metadata row is missing")
        return RunInfo(
            name=self.name,
            path=self.path,
            start_time=row["start_time"],
            end_time=row["end_time"],
            status=effective_status(row),
            host=row["host"],
            pid=row["pid"],
            cmdline=row["cmdline"],
            last_step=last,
            heartbeat=row["heartbeat"],
            flowlog_version=row["flowlog_version"],
            token=token,
        )

    def tags(self, kind: str | None = None) -> list[TagInfo]:
        """Tags in creation order, optionally only one kind."""
        if kind is not None and kind not in schema.TAG_KINDS:
            raise ValueError(f"kind must be one of {schema.TAG_KINDS} or None, got {kind!r}")
        out = []
        with self._reading():
            for tid, tag, tag_kind, node in schema.load_tags(self._conn):
                if kind is None or tag_kind == kind:
                    count, first, last = schema.tag_stats(self._conn, tid, tag_kind)
                    out.append(TagInfo(tag, tag_kind, count, first, last, node))
        return out

    def has_tag(self, tag: str) -> bool:
        """One key lookup (``tags()`` would also count every tag's records)."""
        with self._reading():
            return schema.find_tag(self._conn, tag) is not None

    def _tag_id(self, tag: str, kind: str) -> int:
        if not isinstance(tag, str):
            raise TypeError(f"tag must be a str, got {type(tag).__name__}")
        found = schema.find_tag(self._conn, tag)
        if found is None:
            raise KeyError(f"run {self.name!r} has no tag {tag!r}")
        if found[1] != kind:
            raise ValueError(f"run {self.name!r}: tag {tag!r} is a {found[1]} tag, not {kind}")
        return found[0]

    # ------------------------------------------------------------------ scalars

    def scalars(self, tag: str, start: int | None = None, end: int | None = None) -> Series:
        """Every point of ``tag`` with ``start <= step <= end`` (inclusive; None = open)."""
        with self._reading():
            cursor = schema.read_series(self._conn, self._tag_id(tag, "scalar"), start, end)
            return self._series(cursor)

    def scalars_since(self, tag: str, after_step: int | None) -> Series:
        """Points with ``step > after_step`` (all when None): what live refresh appends."""
        with self._reading():
            cursor = schema.read_series(self._conn, self._tag_id(tag, "scalar"), after=after_step)
            return self._series(cursor)

    @staticmethod
    def _series(cursor) -> Series:
        arr = np.fromiter(cursor, dtype=_SERIES_DTYPE)
        return Series(
            np.ascontiguousarray(arr["step"]),
            np.ascontiguousarray(arr["wall"]),
            np.ascontiguousarray(arr["value"]),
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
        with self._reading():
            tid = self._tag_id(tag, "scalar")
            first, last = schema.step_range(self._conn, tid)
            rows = []
            if first is not None:
                lo = first if start is None else max(int(start), first)
                hi = last if end is None else min(int(end), last)
                if lo <= hi:
                    rows = schema.downsample(self._conn, tid, int(buckets), lo, hi)
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
        with self._reading():
            rows = schema.read_histograms(self._conn, self._tag_id(tag, "histogram"))
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
        with self._reading():
            tid = None if tag is None else self._tag_id(tag, "text")
            return schema.read_texts(self._conn, tid)

    def trials(self) -> list[Trial]:
        """Every add_hparams call, in order (a version-1 file's one record reads as one)."""
        with self._reading():
            rows = schema_records.read_trials(self._conn)
        return [Trial(*row) for row in rows]

    def hparams(self) -> tuple[dict, dict]:
        """``(hparams, metrics)`` of the latest trial; both empty when none were logged."""
        trials = self.trials()
        return (trials[-1].hparams, trials[-1].metrics) if trials else ({}, {})

    def images(self, tag: str) -> list[ImageInfo]:
        with self._reading():
            rows = schema_records.read_images(self._conn, self._tag_id(tag, "image"))
        return [
            ImageInfo(step, wall, h, w, c, None if meta is None else json.loads(meta))
            for step, wall, h, w, c, meta in rows
        ]

    def image_png(self, tag: str, step: int) -> bytes:
        with self._reading():
            data = schema_records.read_image_png(self._conn, self._tag_id(tag, "image"), step)
        if data is None:
            raise KeyError(f"run {self.name!r}: tag {tag!r} has no image at step {step}")
        return data

    def pr_curves(self, tag: str) -> list[PrCurve]:
        with self._reading():
            rows = schema_records.read_pr_curves(self._conn, self._tag_id(tag, "pr_curve"))
        return [
            PrCurve(step, wall, n, np.frombuffer(data, np.float64).reshape(6, -1).copy())
            for step, wall, n, data in rows
        ]

    def custom_scalars(self) -> dict | None:
        with self._reading():
            return schema_records.read_layout(self._conn)

    def part(self, rank: int | None = None, tag: str | None = None) -> Run:
        """This run itself: a single-file run has no ranks (see :class:`RankedRun`)."""
        if rank is not None:
            raise KeyError(f"run {self.name!r} was written by one process: it has no rank {rank}")
        return self

    def graph(self) -> dict | None:
        """The latest logged graph description (contract 1), or None."""
        with self._reading():
            text = schema.read_graph(self._conn)
        return None if text is None else json.loads(text)

    def watched_nodes(self) -> list[str]:
        """Graph node names that have watch statistics, sorted."""
        with self._reading():
            return schema.nodes(self._conn)

    def watch_stats(self, node: str) -> dict[str, Series]:
        """``{stat: Series}`` for the scalar watch tags of ``node`` (``watch/<node>/<stat>``)."""
        with self._reading():
            tags = schema.tags_of_node(self._conn, node)
            if not tags:
                raise KeyError(f"run {self.name!r} has no statistics for node {node!r}")
            prefix = f"watch/{node}/"
            out = {}
            for tid, tag, kind in tags:
                if kind == "scalar":
                    stat = tag[len(prefix) :] if tag.startswith(prefix) else tag
                    out[stat] = self._series(schema.read_series(self._conn, tid))
        return out

    def numerics(self) -> list[dict]:
        """check_numerics findings in log order: node, op, phase, step, kind, inputs, …"""
        with self._reading():
            rows = schema.read_numerics(self._conn)
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
    file is re-examined only when its size or mtime changes, and warned about once.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.path.abspath(os.fspath(path))
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise NotADirectoryError(f"logdir {self.path!r} is not a directory")
        self._lock = threading.Lock()
        self._files: dict[str, tuple[tuple, Run]] = {}  # path -> (file identity, Run)
        self._runs: dict[str, Run | RankedRun] = {}  # name -> run, as of the last scan
        # name -> [run directory, its database names, the directory's mtime] as of the last
        # scan: a rank whose file appears later (ranks start at different times) makes run()
        # re-scan; the mtime spares run() a listing while the directory is unchanged
        self._listed: dict[str, list] = {}
        self._skipped: dict[str, tuple[tuple, str]] = {}  # path -> (file identity, reason)
        self._shadowed: set[str] = set()  # single-file runs a run directory's name hides
        self.warnings: list[str] = []
        self.unreadable: list[Unreadable] = []  # as of the last scan (and runs())

    def __repr__(self) -> str:
        return f"Logdir({self.path!r})"

    def _discover(self) -> dict[str, tuple[str, list[tuple[int | None, str]]]]:
        """``{run name: (location, [(rank, database path)])}`` of every run under the logdir.

        A run is a directory holding ``flowlog.db`` and/or ``flowlog.rank<R>.db`` (named by its
        path relative to the logdir, ``"."`` for the logdir itself), or a single-file run
        ``<name>.flowlog.db`` (the older layout), unless a run directory has its name.
        """
        found: dict[str, tuple[str, list]] = {}
        single: dict[str, str] = {}
        if not os.path.isdir(self.path):
            return found  # not created yet: no runs (the dashboard may start first)
        suffix = schema.RUN_SUFFIX
        for root, dirs, files in os.walk(self.path, onerror=self._walk_error):
            dirs.sort()
            rel_root = os.path.relpath(root, self.path).replace(os.sep, "/")
            parts = []
            for fname in sorted(files):
                full = os.path.join(root, fname)
                if fname.endswith(suffix) and len(fname) > len(suffix):
                    stem = fname[: -len(suffix)]
                    single[stem if rel_root == "." else f"{rel_root}/{stem}"] = full
                elif fname == schema.RUN_FILE:
                    parts.append((None, full))
                elif (match := _RANK_FILE.fullmatch(fname)) is not None:
                    parts.append((int(match[1]), full))
            if parts:
                parts.sort(key=lambda p: (p[0] is not None, p[0] or 0))
                found[rel_root] = (root, parts)
        self._shadowed = set()
        for name, path in single.items():
            if name in found:
                self._shadowed.add(path)  # skipped, but still there: keep its warning
                self._note_skip(path, f"a run directory {name!r} has the same name")
            else:
                found[name] = (path, [(None, path)])
        return found

    def _note_skip(self, path: str, reason: str) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if self._skipped.get(path, (None,))[0] != ident:
            self._skipped[path] = (ident, f"skipped {path}: {reason}")
            self._warn(path, reason)

    def _walk_error(self, exc: OSError) -> None:
        self._warn(exc.filename or self.path, f"cannot list directory ({exc.strerror})")

    def _warn(self, path: str, reason: str) -> None:
        message = f"skipped {path}: {reason}"
        self.warnings.append(message)
        log.warning("flowlog: %s", message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)

    def _open_file(self, name: str, path: str) -> Run | None:
        """The validated reader of one database file (cached while the file is the same one),
        or None when it is skipped (warned about once per version of the file)."""
        try:
            st = os.stat(path)
        except OSError:
            return None  # deleted between listing and stat
        ident = (st.st_dev, st.st_ino)
        cached = self._files.get(path)
        if cached is not None and cached[0] == ident:
            return cached[1]
        if cached is not None:
            cached[1].close()
            del self._files[path]
        skip_ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        skipped = self._skipped.get(path)
        if skipped is not None and skipped[0] == skip_ident:
            return None
        try:
            conn = schema.open_for_read(path)
            if schema.read_run(conn) is None:
                conn.close()
                raise schema.LogFileError(f"{path}: run metadata row is missing")
        except (schema.LogFileError, sqlite3.Error) as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            self._skipped[path] = (skip_ident, f"skipped {path}: {reason}")
            self._warn(path, reason)
            return None
        self._skipped.pop(path, None)
        run = Run(name, path, conn)
        self._files[path] = (ident, run)
        return run

    def _scan(self) -> dict[str, Run | RankedRun]:
        with self._lock:
            self.warnings = [msg for _, msg in self._skipped.values()]
            live: dict[str, Run | RankedRun] = {}
            listed: dict[str, list] = {}
            unreadable: list[Unreadable] = []
            seen_paths = set()
            for name, (location, parts) in self._discover().items():
                if parts[0][1] != location:  # a run directory, not a single-file run
                    listed[name] = _listing(location, parts)
                opened = []
                for rank, path in parts:
                    seen_paths.add(path)
                    label = name if rank is None else f"{name} [rank {rank}]"
                    run = self._open_file(label, path)
                    if run is not None:
                        opened.append((rank, run))
                    elif path in self._skipped:
                        reason = self._skipped[path][1].removeprefix(f"skipped {path}: ")
                        unreadable.append(Unreadable(label, path, reason))
                if len(opened) == 1 and opened[0][0] is None:
                    live[name] = opened[0][1]
                elif opened:
                    live[name] = RankedRun(name, location, opened)
            seen_paths |= self._shadowed
            for path in set(self._files) - seen_paths:
                self._files.pop(path)[1].close()
            for path in set(self._skipped) - seen_paths:
                del self._skipped[path]
            self._runs = live
            self._listed = listed
            self.unreadable = sorted(unreadable, key=lambda u: u.name)
            self.warnings = [msg for _, msg in self._skipped.values()]
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
            self.unreadable = sorted(self.unreadable + broken, key=lambda u: u.name)
        return out

    def run(self, name: str) -> Run | RankedRun:
        """The run called ``name`` (as listed by :meth:`runs`); KeyError if discovery did not
        find it. Names are looked up, never joined onto a path."""
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
            same = _database_names(os.listdir(location)) == names
        except OSError:
            return False
        if same:
            listed[2] = now  # another file changed the directory (a checkpoint, the WAL)
        return same

    def close(self) -> None:
        with self._lock:
            for _, run in self._files.values():
                run.close()
            self._files.clear()
            self._runs.clear()
            self._listed.clear()

    def __enter__(self) -> Logdir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SqliteProvider:
    """The :class:`flowlog.provider.DataProvider` of a logdir of flowlog SQLite runs.

    A thin adapter over :class:`Logdir`: run names in, the reader's values out. The change
    token is ``(connection serial, PRAGMA data_version)``, which moves on every commit (a
    tuple of those for a run of several ranks).
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
