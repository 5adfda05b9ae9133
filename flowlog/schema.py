"""The SQLite event log: schema, migrations, connections and every SQL statement.

This module and :mod:`flowlog.schema_records` (the record kinds of schema v2) hold all SQL text;
:mod:`flowlog.writer` and :mod:`flowlog.reader` call their functions. A run is a directory
holding one database file per writing process (``flowlog.db``, or ``flowlog.rank<R>.db`` per
torch.distributed rank); the older layout, one file ``<logdir>/<run name>.flowlog.db``, still
reads. The layout and its policies are documented in docs/architecture.md ("Contract 3 — the
event log").

Design points (figures in /work/shared/MEASURED.md and benchmarks/writer.py):

* ``scalars`` is a ``WITHOUT ROWID`` table keyed ``(tag_id, step)``: one B-tree, step-ordered
  reads per tag, ~24 bytes/point, and ``INSERT OR REPLACE`` gives "last write wins" for free.
* NaN is stored as SQL ``NULL`` (SQLite turns a NaN REAL into NULL anyway; ``None`` is rejected
  at input, so NULL is unambiguous). ±Inf survive as REAL.
* ``scalar_rollups`` holds per-bucket summaries at ``ROLLUP_LEVELS`` resolutions (bucket widths
  32, 128, 512, ... steps), written with the points: merged from numpy summaries of new points,
  or recomputed from the raw rows for buckets whose points were rewritten, so they are always
  exact. Downsampling a 1M-point tag reads ~8k summary rows instead of 1M points (aggregating
  raw rows in SQLite costs ~1-2 µs/row, mostly the GROUP BY sorter).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence

from flowlog.provider import SERIES_SEP as _SERIES_SEP
from flowlog.provider import ReadError
from flowlog.schema_records import DDL_V2 as _DDL_V2
from flowlog.schema_records import add_columns as _add_columns

SCHEMA_VERSION = 2
#: ``PRAGMA application_id`` of a flowlog database: ASCII "flog".
APPLICATION_ID = 0x666C6F67
RUN_SUFFIX = ".flowlog.db"  # the single-file layout: <logdir>/<run>.flowlog.db
#: joins an add_scalars main tag and its key in the stored tag (user tags may not contain it)
SERIES_SEP = _SERIES_SEP
RUN_FILE = "flowlog.db"  # a run directory's database (one writing process)
RANK_FILE = "flowlog.rank{rank}.db"  # one per torch.distributed rank
ROLLUP_BASE_SHIFT = 5  # level-1 buckets are 2**5 = 32 steps wide (rows written: ~n/24)
ROLLUP_SHIFT = 2  # each level is 2**2 = 4 times wider than the one below
ROLLUP_LEVELS = 9  # widths 32, 128, 512, ..., 2097152 steps


def rollup_width(level: int) -> int:
    """Steps per bucket at rollup ``level`` (1-based); bucket key = ``step >> log2(width)``."""
    return 1 << (ROLLUP_BASE_SHIFT + ROLLUP_SHIFT * (level - 1))


MAX_STEP = 2**53  # steps are 0 <= step < MAX_STEP: exact as float64 (numpy, JavaScript)
BUSY_TIMEOUT_MS = 10_000
TAG_KINDS = ("scalar", "histogram", "text", "image", "pr_curve")
#: the table holding each kind's records, keyed (tag_id, step)
KIND_TABLES = {
    "scalar": "scalars",
    "histogram": "histograms",
    "text": "texts",
    "image": "images",
    "pr_curve": "pr_curves",
}

# finite part of a value: NULL for NaN (stored NULL) and for ±Inf
_FINITE = (
    "CASE WHEN value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308 THEN value END"
)

_DDL_V1 = """
CREATE TABLE run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL,
    heartbeat REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'crashed')),
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    cmdline TEXT NOT NULL,
    flowlog_version TEXT NOT NULL,
    flush_secs REAL NOT NULL
);
CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    tag TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('scalar', 'histogram', 'text')),
    node TEXT,
    plugin TEXT,
    meta TEXT
);
CREATE INDEX tags_node ON tags (node) WHERE node IS NOT NULL;
CREATE TABLE scalars (
    tag_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    wall REAL NOT NULL,
    value REAL,
    PRIMARY KEY (tag_id, step)
) WITHOUT ROWID;
CREATE TABLE scalar_rollups (
    tag_id INTEGER NOT NULL,
    level INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    nan INTEGER NOT NULL,
    posinf INTEGER NOT NULL,
    neginf INTEGER NOT NULL,
    vmin REAL NOT NULL,
    vmax REAL NOT NULL,
    vsum REAL NOT NULL,
    step_first INTEGER NOT NULL,
    step_last INTEGER NOT NULL,
    wall_last REAL NOT NULL,
    PRIMARY KEY (tag_id, level, bucket)
) WITHOUT ROWID;
CREATE TABLE histograms (
    tag_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    wall REAL NOT NULL,
    edges BLOB NOT NULL,
    counts BLOB NOT NULL,
    vmin REAL,
    vmax REAL,
    vsum REAL NOT NULL,
    vsum_squares REAL NOT NULL,
    n INTEGER NOT NULL,
    nan INTEGER NOT NULL,
    posinf INTEGER NOT NULL,
    neginf INTEGER NOT NULL,
    PRIMARY KEY (tag_id, step)
) WITHOUT ROWID;
CREATE TABLE texts (
    tag_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    wall REAL NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (tag_id, step)
) WITHOUT ROWID;
CREATE TABLE hparams (
    role TEXT NOT NULL CHECK (role IN ('hparam', 'metric')),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (role, name)
) WITHOUT ROWID;
CREATE TABLE graphs (
    version INTEGER PRIMARY KEY,
    step INTEGER,
    wall REAL NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE numerics (
    id INTEGER PRIMARY KEY,
    step INTEGER NOT NULL,
    wall REAL NOT NULL,
    run_index INTEGER,
    node TEXT NOT NULL,
    op TEXT,
    phase TEXT,
    kind TEXT NOT NULL,
    inputs TEXT NOT NULL
);
"""

#: ``MIGRATIONS[v]`` upgrades a version-``v`` database to ``v + 1`` (run by writers only).
MIGRATIONS: dict[int, str] = {0: _DDL_V1, 1: _DDL_V2}

#: tables (and columns) the reader needs; checked when a file is opened for reading. The v2
#: tables (:mod:`flowlog.schema_records`) are optional: a version-1 file has none and reads as
#: having no such records.
REQUIRED_COLUMNS = {
    "run": {"name", "start_time", "end_time", "heartbeat", "status", "host", "pid", "cmdline"},
    "tags": {"id", "tag", "kind", "node"},
    "scalars": {"tag_id", "step", "wall", "value"},
    "scalar_rollups": {"tag_id", "level", "bucket", "n", "vmin", "vmax", "vsum"},
    "histograms": {"tag_id", "step", "edges", "counts"},
    "texts": {"tag_id", "step", "text"},
    "hparams": {"role", "name", "value"},
    "graphs": {"version", "description"},
    "numerics": {"node", "step", "kind"},
}


class LogFileError(ReadError, ValueError):
    """A file that cannot be read as a flowlog log; the message says why."""


# --------------------------------------------------------------------------- connections


def _pragmas(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def open_for_write(path: str) -> sqlite3.Connection:
    """Open (creating or migrating) a run database for writing: WAL, synchronous=NORMAL.

    Autocommit mode (``isolation_level=None``): the writer opens explicit transactions so one
    flush is one transaction. The connection is shared with the writer's flush thread (the
    writer serialises access with its own lock).
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        _pragmas(conn)
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 and app_id == 0:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise LogFileError(f"{path}: an SQLite database that is not a flowlog log")
        elif app_id != APPLICATION_ID:
            raise LogFileError(f"{path}: not a flowlog log (application_id {app_id:#x})")
        if version > SCHEMA_VERSION:
            raise LogFileError(
                f"{path}: schema version {version} is newer than this flowlog "
                f"({SCHEMA_VERSION}); upgrade flowlog"
            )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        _migrate(conn, version)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise LogFileError(f"{path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def open_checkpointer(path: str, writer: sqlite3.Connection) -> sqlite3.Connection:
    """A second connection that copies the WAL into the database (see :func:`checkpoint`).

    Automatic checkpoints on ``writer`` are turned off: they would run inside the writer's
    COMMIT, on the training thread; the writer's flush thread checkpoints instead, while the
    training thread keeps logging (SQLite lets a checkpoint run alongside a writer).
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    _pragmas(conn)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    return conn


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy committed WAL frames into the database without blocking writers or readers."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def create_log(path: str, meta: dict) -> bool:
    """Create a complete run database at ``path`` atomically; False if ``path`` exists.

    The schema and the run row are written to a temporary file first, which is then hard-linked
    into place, so a reader scanning the logdir never sees a half-initialised run and two
    processes can never both create the same run. The WAL mode setting is persistent, so the
    file is in WAL mode from its first appearance.
    """
    import threading

    tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            _pragmas(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            _migrate(conn, 0)
            start_run(conn, meta)
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links on this filesystem: rename (tiny race, documented)
            if os.path.exists(path):
                return False
            os.replace(tmp, path)
        return True
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Apply ``MIGRATIONS`` from ``version`` up, each step in its own transaction."""
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-read under the write lock: another writer may have migrated meanwhile
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    _add_columns(conn)


def open_for_read(path: str, *, immutable: bool = False) -> sqlite3.Connection:
    """Open a run database read-only (``mode=ro`` URI) and check it is a flowlog log we can read.

    ``immutable`` adds ``immutable=1``: no locks, no -wal/-shm (``mode=ro`` alone creates both
    beside a closed WAL file when the directory is writable, and cannot open it at all when it
    is not); the file must not change while the connection is used, which the reader checks.
    Raises :class:`LogFileError` naming the file and the reason (not SQLite, foreign database,
    newer schema, missing tables).
    """
    from pathlib import Path

    uri = Path(path).absolute().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise LogFileError(f"{path}: cannot open ({exc})") from exc
    try:
        _pragmas(conn)
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise LogFileError(f"{path}: not a flowlog log (application_id {app_id:#x})")
        if version > SCHEMA_VERSION:
            raise LogFileError(
                f"{path}: schema version {version} is newer than this flowlog "
                f"({SCHEMA_VERSION}); upgrade flowlog to read it"
            )
        if version < 1:
            raise LogFileError(f"{path}: schema not initialised (user_version {version})")
        for table, columns in REQUIRED_COLUMNS.items():
            present = table_columns(conn, table)
            if not present:
                raise LogFileError(f"{path}: damaged flowlog log, table {table!r} is missing")
            missing = columns - present
            if missing:
                raise LogFileError(
                    f"{path}: damaged flowlog log, table {table!r} lacks {sorted(missing)}"
                )
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise LogFileError(f"{path}: not a readable SQLite database ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """Column names of ``table`` (empty when there is no such table)."""
    return {row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (table,))}


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def present_kind_tables(conn: sqlite3.Connection) -> dict[str, str]:
    """``KIND_TABLES`` restricted to the tables this file has (a v1 file lacks the v2 ones)."""
    names = table_names(conn)
    return {kind: table for kind, table in KIND_TABLES.items() if table in names}


def data_version(conn: sqlite3.Connection) -> int:
    """``PRAGMA data_version``: changes on this connection whenever another one commits."""
    return conn.execute("PRAGMA data_version").fetchone()[0]


def integrity_check(conn: sqlite3.Connection) -> str:
    """``PRAGMA integrity_check`` result ("ok" when the file is sound)."""
    return "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


# --------------------------------------------------------------------------- run metadata

_RUN_COLUMNS = (
    "name, start_time, end_time, heartbeat, status, host, pid, cmdline, flowlog_version, flush_secs"
)


def start_run(conn: sqlite3.Connection, meta: dict) -> None:
    """Create the run row, or mark an existing run as running again (a resumed run).

    A resumed run keeps its original ``start_time``.
    """
    conn.execute(
        f"INSERT INTO run (id, {_RUN_COLUMNS}) VALUES (1, :name, :start_time, NULL, "
        ":heartbeat, 'running', :host, :pid, :cmdline, :flowlog_version, :flush_secs) "
        "ON CONFLICT (id) DO UPDATE SET end_time = NULL, heartbeat = excluded.heartbeat, "
        "status = 'running', host = excluded.host, pid = excluded.pid, "
        "cmdline = excluded.cmdline, flowlog_version = excluded.flowlog_version, "
        "flush_secs = excluded.flush_secs",
        {**meta, "cmdline": json.dumps(meta["cmdline"])},
    )


def heartbeat(conn: sqlite3.Connection, when: float) -> None:
    conn.execute("UPDATE run SET heartbeat = ? WHERE id = 1", (when,))


def end_run(conn: sqlite3.Connection, status: str, when: float) -> None:
    conn.execute(
        "UPDATE run SET status = ?, end_time = ?, heartbeat = ? WHERE id = 1", (status, when, when)
    )


def read_run_file(path: str) -> dict | None:
    """The run row of the database at ``path``, read without writing anything (None when the
    file has none yet); :class:`LogFileError` when it is not a readable flowlog log."""
    conn = open_for_read(path)
    try:
        return read_run(conn)
    except sqlite3.Error as exc:
        raise LogFileError(f"{path}: {exc}") from exc
    finally:
        conn.close()


def read_run(conn: sqlite3.Connection) -> dict | None:
    row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM run WHERE id = 1").fetchone()
    if row is None:
        return None
    keys = [c.strip() for c in _RUN_COLUMNS.split(",")]
    out = dict(zip(keys, row, strict=True))
    out["cmdline"] = json.loads(out["cmdline"])
    return out


# --------------------------------------------------------------------------- tags


def load_tags(conn: sqlite3.Connection) -> list[tuple[int, str, str, str | None]]:
    """All tags as ``(id, tag, kind, node)`` in id order."""
    return conn.execute("SELECT id, tag, kind, node FROM tags ORDER BY id").fetchall()


def insert_tags(conn: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """Rows ``(id, tag, kind, node, plugin, meta)``."""
    conn.executemany(
        "INSERT INTO tags (id, tag, kind, node, plugin, meta) VALUES (?, ?, ?, ?, ?, ?)", rows
    )


def last_steps(conn: sqlite3.Connection) -> dict[int, int]:
    """Highest stored step per tag of any kind (a resumed writer continues from there)."""
    out: dict[int, int] = {}
    for table in present_kind_tables(conn).values():
        # per tag through the primary key: O(tags * log n) instead of a scan of every point
        out.update(
            (tid, step)
            for tid, step in conn.execute(
                f"SELECT id, (SELECT max(step) FROM {table} WHERE tag_id = tags.id) FROM tags"
            )
            if step is not None
        )
    return out


def tag_stats(
    conn: sqlite3.Connection, tag_id: int, kind: str
) -> tuple[int, int | None, int | None]:
    """``(count, first_step, last_step)`` of a tag, cheap at any size.

    Scalar counts come from the coarsest rollup level (a handful of rows) instead of a scan.
    """
    if kind == "scalar":
        first, last = step_range(conn, tag_id)
        count = conn.execute(
            "SELECT ifnull(sum(n), 0) FROM scalar_rollups WHERE tag_id = ? AND level = ?",
            (tag_id, ROLLUP_LEVELS),
        ).fetchone()[0]
        return count, first, last
    table = present_kind_tables(conn).get(kind)
    if table is None:
        return 0, None, None
    return conn.execute(
        f"SELECT (SELECT count(*) FROM {table} WHERE tag_id = ?1), "
        f"(SELECT min(step) FROM {table} WHERE tag_id = ?1), "
        f"(SELECT max(step) FROM {table} WHERE tag_id = ?1)",
        (tag_id,),
    ).fetchone()


def nodes(conn: sqlite3.Connection) -> list[str]:
    """Graph node names that have tags (watch statistics), sorted."""
    sql = "SELECT DISTINCT node FROM tags WHERE node IS NOT NULL ORDER BY node"
    return [r[0] for r in conn.execute(sql)]


def tags_of_node(conn: sqlite3.Connection, node: str) -> list[tuple[int, str, str]]:
    return conn.execute(
        "SELECT id, tag, kind FROM tags WHERE node = ? ORDER BY id", (node,)
    ).fetchall()


# --------------------------------------------------------------------------- scalars (write)

_INSERT_SCALARS = "INSERT OR REPLACE INTO scalars (tag_id, step, wall, value) VALUES (?, ?, ?, ?)"


def insert_scalars(conn: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """Rows ``(tag_id, step, wall, value)``; an existing ``(tag_id, step)`` is replaced."""
    conn.executemany(_INSERT_SCALARS, rows)


def update_rollups(conn: sqlite3.Connection, tag_id: int, lo: int, hi: int) -> None:
    """Recompute, from the raw rows, every rollup bucket that overlaps steps ``lo..hi``.

    Level 1 aggregates raw points, level k aggregates level k-1 rows; buckets left empty (by a
    purge) disappear. Cost is proportional to the points in the touched buckets.
    """
    shift = ROLLUP_BASE_SHIFT
    b_lo, b_hi = lo >> shift, hi >> shift
    conn.execute(
        "DELETE FROM scalar_rollups WHERE tag_id = ? AND level = 1 AND bucket BETWEEN ? AND ?",
        (tag_id, b_lo, b_hi),
    )
    conn.execute(
        "INSERT INTO scalar_rollups (tag_id, level, bucket, n, nan, posinf, neginf, vmin, vmax, "
        "vsum, step_first, step_last, wall_last) "
        f"SELECT ?1, 1, step >> {shift}, count(*), total(value IS NULL), "
        "total(value IS 9e999), total(value IS -9e999), ifnull(min(fv), 9e999), "
        "ifnull(max(fv), -9e999), total(fv), min(step), max(step), max(wall) "
        f"FROM (SELECT step, wall, value, {_FINITE} AS fv FROM scalars "
        "WHERE tag_id = ?1 AND step BETWEEN ?2 AND ?3) "
        f"GROUP BY step >> {shift}",
        (tag_id, b_lo << shift, ((b_hi + 1) << shift) - 1),
    )
    for level in range(2, ROLLUP_LEVELS + 1):
        c_lo, c_hi = b_lo >> ROLLUP_SHIFT, b_hi >> ROLLUP_SHIFT
        conn.execute(
            "DELETE FROM scalar_rollups WHERE tag_id = ? AND level = ? AND bucket BETWEEN ? AND ?",
            (tag_id, level, c_lo, c_hi),
        )
        conn.execute(
            "INSERT INTO scalar_rollups (tag_id, level, bucket, n, nan, posinf, neginf, vmin, "
            "vmax, vsum, step_first, step_last, wall_last) "
            f"SELECT tag_id, ?2, bucket >> {ROLLUP_SHIFT}, sum(n), sum(nan), sum(posinf), "
            "sum(neginf), min(vmin), max(vmax), sum(vsum), min(step_first), max(step_last), "
            "max(wall_last) FROM scalar_rollups "
            "WHERE tag_id = ?1 AND level = ?2 - 1 AND bucket BETWEEN ?3 AND ?4 "
            f"GROUP BY bucket >> {ROLLUP_SHIFT}",
            (tag_id, level, c_lo << ROLLUP_SHIFT, ((c_hi + 1) << ROLLUP_SHIFT) - 1),
        )
        b_lo, b_hi = c_lo, c_hi


_ROLLUP_COLUMNS = (
    "(tag_id, level, bucket, n, nan, posinf, neginf, vmin, vmax, vsum, step_first, step_last, "
    "wall_last) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MERGE_ROLLUPS = (
    f"INSERT INTO scalar_rollups {_ROLLUP_COLUMNS} "
    "ON CONFLICT (tag_id, level, bucket) DO UPDATE SET n = n + excluded.n, "
    "nan = nan + excluded.nan, posinf = posinf + excluded.posinf, "
    "neginf = neginf + excluded.neginf, vmin = min(vmin, excluded.vmin), "
    "vmax = max(vmax, excluded.vmax), vsum = vsum + excluded.vsum, "
    "step_first = min(step_first, excluded.step_first), "
    "step_last = max(step_last, excluded.step_last), "
    "wall_last = max(wall_last, excluded.wall_last)"
)


def merge_rollups(conn: sqlite3.Connection, new: Sequence[tuple], merge: Sequence[tuple]) -> None:
    """Add summaries of *new* points (steps beyond everything stored for their tag).

    Rows ``(tag_id, level, bucket, n, nan, posinf, neginf, vmin, vmax, vsum, step_first,
    step_last, wall_last)``, vmin = +inf / vmax = -inf when a bucket has no finite value.
    ``new`` rows are buckets that cannot exist yet (plain INSERT, the bulk); ``merge`` rows may
    extend an existing bucket (counts and sums add, min/max combine). This is the writer's fast
    path; rewritten steps go through :func:`update_rollups` instead.
    """
    if new:
        conn.executemany(f"INSERT INTO scalar_rollups {_ROLLUP_COLUMNS}", new)
    if merge:
        conn.executemany(_MERGE_ROLLUPS, merge)


def purge_from(conn: sqlite3.Connection, step: int) -> None:
    """Delete every record (and hparams trial) at ``step`` or later (``purge_step``)."""
    affected = conn.execute(
        "SELECT tag_id, max(step) FROM scalars WHERE step >= ? GROUP BY tag_id", (step,)
    ).fetchall()
    conn.execute("DELETE FROM scalars WHERE step >= ?", (step,))
    for tag_id, hi in affected:
        update_rollups(conn, tag_id, step, hi)
    for kind, table in present_kind_tables(conn).items():
        if kind != "scalar":
            conn.execute(f"DELETE FROM {table} WHERE step >= ?", (step,))
    conn.execute("DELETE FROM numerics WHERE step >= ?", (step,))
    if "trials" in table_names(conn):
        conn.execute("DELETE FROM trials WHERE step >= ?", (step,))


# --------------------------------------------------------------------------- other records


def insert_histograms(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Rows ``(tag_id, step, wall, edges, counts, min, max, sum, sum_squares, n, nan, posinf,
    neginf)``; ``edges``/``counts`` are float64 byte strings."""
    conn.executemany(
        "INSERT OR REPLACE INTO histograms (tag_id, step, wall, edges, counts, vmin, vmax, vsum, "
        "vsum_squares, n, nan, posinf, neginf) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def insert_texts(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Rows ``(tag_id, step, wall, text)``."""
    conn.executemany(
        "INSERT OR REPLACE INTO texts (tag_id, step, wall, text) VALUES (?, ?, ?, ?)", rows
    )


def insert_graph(conn: sqlite3.Connection, step: int | None, wall: float, description: str) -> None:
    conn.execute(
        "INSERT INTO graphs (step, wall, description) VALUES (?, ?, ?)", (step, wall, description)
    )


def insert_numerics(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Rows ``(step, wall, run_index, node, op, phase, kind, inputs_json)``."""
    conn.executemany(
        "INSERT INTO numerics (step, wall, run_index, node, op, phase, kind, inputs) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


# --------------------------------------------------------------------------- reads


def read_series(
    conn: sqlite3.Connection,
    tag_id: int,
    start: int | None = None,
    end: int | None = None,
    after: int | None = None,
) -> sqlite3.Cursor:
    """Raw points ``(step, wall, value)`` in step order, as a cursor to stream from.

    NaN (stored NULL) comes back as the text ``'NaN'`` so that ``numpy.fromiter`` can convert
    rows straight into float64 (it rejects ``None``); that is ~2x faster than fetchall + zip
    at 1M points. ``start``/``end`` are inclusive; ``after`` keeps only steps strictly greater.
    """
    lo = -1 if start is None else start - 1
    if after is not None:
        lo = max(lo, after)
    hi = MAX_STEP if end is None else end
    return conn.execute(
        "SELECT step, wall, ifnull(value, 'NaN') FROM scalars "
        "WHERE tag_id = ? AND step > ? AND step <= ? ORDER BY step",
        (tag_id, lo, hi),
    )


def step_range(conn: sqlite3.Connection, tag_id: int) -> tuple[int | None, int | None]:
    # two subqueries: SQLite answers a lone min() or max() from the index in O(log n), but
    # "SELECT min(step), max(step)" scans every row of the tag
    return conn.execute(
        "SELECT (SELECT min(step) FROM scalars WHERE tag_id = ?1), "
        "(SELECT max(step) FROM scalars WHERE tag_id = ?1)",
        (tag_id,),
    ).fetchone()


_RAW_PART = (
    "SELECT step AS s0, step AS s1, wall AS w1, 1 AS n, value IS NULL AS nan, "
    "value IS 9e999 AS posinf, value IS -9e999 AS neginf, ifnull(fv, 9e999) AS vmin, "
    "ifnull(fv, -9e999) AS vmax, ifnull(fv, 0.0) AS vsum "
    f"FROM (SELECT step, wall, value, {_FINITE} AS fv FROM scalars "
    "WHERE tag_id = :tag AND ({where}))"
)
_ROLLUP_PART = (
    "SELECT step_first AS s0, step_last AS s1, wall_last AS w1, n, nan, "
    "posinf, neginf, vmin, vmax, vsum FROM scalar_rollups WHERE tag_id = :tag AND level = :level "
    "AND bucket BETWEEN :b0 AND :b1"
)
_BUCKETS = (
    "SELECT min(s0), max(s1), max(w1), nullif(min(vmin), 9e999), "
    "nullif(max(vmax), -9e999), "
    "sum(vsum) / nullif(sum(n) - sum(nan) - sum(posinf) - sum(neginf), 0), "
    "sum(n), sum(nan), sum(posinf), sum(neginf) "
    "FROM ({parts}) GROUP BY (s0 - :start) / :per ORDER BY 1"
)


def downsample(
    conn: sqlite3.Connection, tag_id: int, buckets: int, start: int, end: int
) -> list[tuple]:
    """Summarise steps ``start..end`` into at most ``buckets`` step-ordered buckets.

    Each row is ``(first_step, last_step, last_wall, min, max, mean, count, nan, posinf,
    neginf)``; min/max/mean are over finite values (``None`` when a bucket has none), counts
    include every point. Output bucket ``i`` takes the points whose step is in ``[start + i*per,
    start + (i+1)*per)``, ``per = ceil(span / buckets)``. Wide ranges read the rollup level with
    the largest width ``w <= per / 2`` (or ``w <= per`` if none) for the interior, and raw
    points for the two ragged ends: each point is counted exactly once, and a rollup bucket
    goes wholly to the output bucket holding its first step (boundaries move by < ``w``).
    Narrow ranges (``per < 32``) aggregate raw points.
    """
    span = end - start + 1
    per = -(-span // buckets)  # integer width: no overflow for huge steps
    params = {"tag": tag_id, "start": start, "end": end, "per": per}
    level = 0
    for candidate in range(ROLLUP_LEVELS, 0, -1):
        if 2 * rollup_width(candidate) <= per:
            level = candidate
            break
    if level == 0 and rollup_width(1) <= per:
        level = 1
    if level == 0:
        parts = _RAW_PART.format(where="step BETWEEN :start AND :end")
    else:
        width = rollup_width(level)
        b0 = -(-start // width)  # first bucket fully inside
        b1 = (end + 1) // width - 1  # last bucket fully inside
        params.update(level=level, b0=b0, b1=b1, e0=b0 * width - 1, s1=(b1 + 1) * width)
        parts = " UNION ALL ".join(
            (
                _ROLLUP_PART,
                _RAW_PART.format(where="step BETWEEN :start AND :e0"),
                _RAW_PART.format(where="step BETWEEN :s1 AND :end"),
            )
        )
    return conn.execute(_BUCKETS.format(parts=parts), params).fetchall()


def read_histograms(conn: sqlite3.Connection, tag_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT step, wall, edges, counts, vmin, vmax, vsum, vsum_squares, n, nan, posinf, "
        "neginf FROM histograms WHERE tag_id = ? ORDER BY step",
        (tag_id,),
    ).fetchall()


def read_texts(conn: sqlite3.Connection, tag_id: int | None = None) -> list[tuple]:
    """``(tag, step, wall, text)`` ordered by tag then step."""
    sql = "SELECT t.tag, x.step, x.wall, x.text FROM texts x JOIN tags t ON t.id = x.tag_id"
    if tag_id is None:
        return conn.execute(sql + " ORDER BY t.tag, x.step").fetchall()
    return conn.execute(sql + " WHERE x.tag_id = ? ORDER BY x.step", (tag_id,)).fetchall()


def read_graph(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT description FROM graphs ORDER BY version DESC LIMIT 1").fetchone()
    return None if row is None else row[0]


def read_numerics(conn: sqlite3.Connection) -> list[tuple]:
    """``(node, op, phase, step, kind, inputs_json, run_index, wall)`` in log order."""
    return conn.execute(
        "SELECT node, op, phase, step, kind, inputs, run_index, wall FROM numerics ORDER BY id"
    ).fetchall()


def last_logged_step(conn: sqlite3.Connection) -> int | None:
    """Highest step of any record in the run: one primary-key seek per tag ((tag_id, step) is
    each table's key), so it costs the same at 100 points or 10M."""
    steps = []
    for kind, table in present_kind_tables(conn).items():
        steps += [
            r[0]
            for r in conn.execute(
                f"SELECT (SELECT max(step) FROM {table} WHERE tag_id = tags.id) FROM tags "
                "WHERE kind = ?",
                (kind,),
            )
        ]
    steps = [s for s in steps if s is not None]
    return max(steps) if steps else None


def find_tag(conn: sqlite3.Connection, tag: str) -> tuple[int, str, str | None] | None:
    """``(id, kind, node)`` of a tag, or None."""
    return conn.execute("SELECT id, kind, node FROM tags WHERE tag = ?", (tag,)).fetchone()
