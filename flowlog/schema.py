"""The SQLite event log: schema, migrations, connections and every SQL statement.

This module and :mod:`flowlog.schema_records` (the record kinds of schema v2) hold all SQL text;
:mod:`flowlog.writer` and :mod:`flowlog.reader` call their functions. A run is a directory
holding one database file per writing process (``flowlog.db``, or ``flowlog.rank<R>.db`` per
torch.distributed rank); the older layout, one file ``<logdir>/<run name>.flowlog.db``, still
reads. The layout and its policies are documented in docs/architecture.md ("Contract 3 — the
event log").

Design points (figures in /work/shared/MEASURED.md and benchmarks/writer.py):

* Scalar points (schema v3, :mod:`flowlog.schema_chunks`) are step-ordered chunks of
  contiguous arrays per tag, ~24 bytes/point: a full series reads with ``numpy.frombuffer`` at
  memory speed, a zoom decodes only the chunks it touches, NaN/±Inf keep their IEEE bits, and
  a rewritten step takes the last value written. Logs of versions 1 and 2 (one row per point
  plus rollups, :mod:`flowlog.schema_legacy`) read as they are; a resuming writer migrates them.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence

from flowlog import schema_chunks as _chunks
from flowlog import schema_legacy as _legacy
from flowlog.provider import SERIES_SEP as _SERIES_SEP
from flowlog.provider import ReadError
from flowlog.schema_records import DDL_V2 as _DDL_V2
from flowlog.schema_records import add_columns as _add_columns

SCHEMA_VERSION = 4
CHUNKED_VERSION = 3  # scalar points in chunks from this version on
#: ``PRAGMA application_id`` of a flowlog database: ASCII "flog".
APPLICATION_ID = 0x666C6F67
RUN_SUFFIX = ".flowlog.db"  # the single-file layout: <logdir>/<run>.flowlog.db
#: joins an add_scalars main tag and its key in the stored tag (user tags may not contain it)
SERIES_SEP = _SERIES_SEP
RUN_FILE = "flowlog.db"  # a run directory's database (one writing process)
RANK_FILE = "flowlog.rank{rank}.db"  # one per torch.distributed rank
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


def _to_chunks(conn: sqlite3.Connection) -> None:
    """v2 -> v3: every scalar tag's rows become chunks; the row and rollup tables go."""
    for statement in _chunks.DDL_V3.split(";"):
        conn.execute(statement)
    _chunks.convert_rows(conn, lambda tag_id: _legacy.read_series(conn, tag_id))
    conn.execute("DROP TABLE scalars")
    conn.execute("DROP TABLE scalar_rollups")


#: ``MIGRATIONS[v]`` upgrades a version-``v`` database to ``v + 1`` (run by writers only): SQL
#: statements, or a function of the connection for a step SQL alone cannot do.
MIGRATIONS: dict[int, object] = {0: _DDL_V1, 1: _DDL_V2, 2: _to_chunks, 3: _chunks.DDL_V4}

#: tables (and columns) the reader needs; checked when a file is opened for reading. The v2
#: tables (:mod:`flowlog.schema_records`) are optional: a version-1 file has none and reads as
#: having no such records. A version-3 file has chunks instead of the two scalar tables.
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
_ROW_TABLES = ("scalars", "scalar_rollups")
REQUIRED_COLUMNS_V3 = {
    **{t: c for t, c in REQUIRED_COLUMNS.items() if t not in _ROW_TABLES},
    **_chunks.REQUIRED_COLUMNS,
}


def required_columns(version: int) -> dict[str, set[str]]:
    return REQUIRED_COLUMNS_V3 if version >= CHUNKED_VERSION else REQUIRED_COLUMNS


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
                step = MIGRATIONS[version]
                if callable(step):
                    step(conn)
                else:
                    for statement in step.split(";"):
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
        for table, columns in required_columns(version).items():
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


def chunked(conn: sqlite3.Connection) -> bool:
    """Whether the file keeps scalar points in chunks (v3) rather than rows (v1, v2)."""
    return conn.execute("PRAGMA user_version").fetchone()[0] >= CHUNKED_VERSION


def present_kind_tables(conn: sqlite3.Connection) -> dict[str, str]:
    """``KIND_TABLES`` restricted to the tables this file has (a v1 file lacks the v2 ones; a
    v3 file keeps its scalar points in chunks, not in a table of rows)."""
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
    if chunked(conn):
        out.update(_chunks.last_steps(conn))
    return out


def tag_stats(
    conn: sqlite3.Connection, tag_id: int, kind: str
) -> tuple[int, int | None, int | None]:
    """``(count, first_step, last_step)`` of a tag, cheap at any size.

    Scalar counts come from the chunks' counts (v3) or the coarsest rollup level (v1, v2).
    """
    if kind == "scalar":
        first, last = step_range(conn, tag_id)
        count = (_chunks if chunked(conn) else _legacy).count(conn, tag_id)
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


def scalar_generation(conn: sqlite3.Connection, tag_id: int) -> int | None:
    """The scalar tag's generation: bumped when its points change other than by appending
    (v4 on); None for an older file, which does not keep one."""
    return _chunks.generation(conn, tag_id) if chunked(conn) else None


def nodes(conn: sqlite3.Connection) -> list[str]:
    """Graph node names that have tags (watch statistics), sorted."""
    sql = "SELECT DISTINCT node FROM tags WHERE node IS NOT NULL ORDER BY node"
    return [r[0] for r in conn.execute(sql)]


def tags_of_node(conn: sqlite3.Connection, node: str) -> list[tuple[int, str, str]]:
    return conn.execute(
        "SELECT id, tag, kind FROM tags WHERE node = ? ORDER BY id", (node,)
    ).fetchall()


# --------------------------------------------------------------------------- scalars (write)


def purge_from(conn: sqlite3.Connection, step: int) -> None:
    """Delete every record (and hparams trial) at ``step`` or later (``purge_step``).

    Only a writer calls it, on a file it has migrated to this version (chunked scalars)."""
    _chunks.truncate_from(conn, step)
    for kind, table in present_kind_tables(conn).items():
        if kind != "scalar":
            conn.execute(f"DELETE FROM {table} WHERE step >= ?", (step,))
    conn.execute("DELETE FROM numerics WHERE step >= ?", (step,))
    if "trials" in table_names(conn):
        conn.execute("DELETE FROM trials WHERE step >= ?", (step,))


def write_scalars(conn: sqlite3.Connection, tag_id: int, steps, walls, values) -> None:
    """Store one tag's points (numpy arrays, in write order; last write wins per step)."""
    _chunks.write(conn, tag_id, (steps, walls, values))


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
) -> tuple:
    """Points ``(step, wall, value)`` as arrays in step order; ``start``/``end`` inclusive,
    ``after`` keeps only steps strictly greater."""
    if not chunked(conn):
        return _legacy.read_series(conn, tag_id, start, end, after)
    lo = start
    if after is not None:
        lo = after + 1 if lo is None else max(lo, after + 1)
    return _chunks.read(conn, tag_id, lo, end)


def step_range(conn: sqlite3.Connection, tag_id: int) -> tuple[int | None, int | None]:
    """``(first, last)`` step of a scalar tag (``(None, None)`` when it has none)."""
    return (_chunks if chunked(conn) else _legacy).step_range(conn, tag_id)


def downsample(
    conn: sqlite3.Connection, tag_id: int, buckets: int, start: int, end: int
) -> list[tuple]:
    """Summarise steps ``start..end`` into at most ``buckets`` step-ordered buckets.

    Each row is ``(first_step, last_step, last_wall, min, max, mean, count, nan, posinf,
    neginf)``; min/max/mean are over finite values (``None`` when a bucket has none), counts
    include every point. Output bucket ``i`` takes the points whose step is in ``[start + i*per,
    start + (i+1)*per)``, ``per = ceil(span / buckets)`` (exact on chunked files; a v1/v2 file
    answers wide ranges from its rollups, whose boundaries move by less than a rollup bucket).
    """
    return (_chunks if chunked(conn) else _legacy).downsample(conn, tag_id, buckets, start, end)


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


def last_logged_steps(conn: sqlite3.Connection) -> dict[str, int]:
    """Highest step of the run's records of each kind that has any (``{"scalar": 999,
    "histogram": 9}``): one primary-key seek per tag ((tag_id, step) is each table's key), so
    it costs the same at 100 points or 10M."""
    out: dict[str, int] = {}
    for kind, table in present_kind_tables(conn).items():
        per_tag = f"SELECT max(step) FROM {table} WHERE tag_id = tags.id"
        sql = f"SELECT max(({per_tag})) FROM tags WHERE kind = ?"
        (step,) = conn.execute(sql, (kind,)).fetchone()
        if step is not None:
            out[kind] = step
    if chunked(conn):  # a v3 file keeps its scalar points in chunks (no table of rows)
        chunk_steps = _chunks.last_steps(conn).values()
        if chunk_steps:
            out["scalar"] = max(chunk_steps)
    return out


def find_tag(conn: sqlite3.Connection, tag: str) -> tuple[int, str, str | None] | None:
    """``(id, kind, node)`` of a tag, or None."""
    return conn.execute("SELECT id, kind, node FROM tags WHERE tag = ?", (tag,)).fetchone()
