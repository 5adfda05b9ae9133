"""SQL of the record kinds schema version 2 added: images, PR curves, hparams trials and
custom-scalar layouts (the rest of the schema is :mod:`flowlog.schema`), and of the writer's
fault handling: transactions and savepoints, which errors retrying cannot fix, the run's
counts of dropped items.

A version-1 file has none of these tables; every read here answers "no records" for it, so old
logs read unchanged. Images and PR curves are rowid tables keyed ``(tag_id, step)``: their rows
are kilobytes, which ``WITHOUT ROWID`` tables store badly.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Sequence

from flowlog.provider import ReadError

# v1 -> v2: the tags table loses its CHECK on kind (new kinds need no table rebuild again); the
# new tables; a v1 run's one hparams record becomes its first trial
DDL_V2 = """
CREATE TABLE tags_v2 (
    id INTEGER PRIMARY KEY,
    tag TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    node TEXT,
    plugin TEXT,
    meta TEXT
);
INSERT INTO tags_v2 (id, tag, kind, node, plugin, meta)
    SELECT id, tag, kind, node, plugin, meta FROM tags;
DROP TABLE tags;
ALTER TABLE tags_v2 RENAME TO tags;
CREATE INDEX tags_node ON tags (node) WHERE node IS NOT NULL;
CREATE TABLE images (
    tag_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    wall REAL NOT NULL,
    height INTEGER NOT NULL,
    width INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    png BLOB NOT NULL,
    meta TEXT,
    PRIMARY KEY (tag_id, step)
);
CREATE TABLE pr_curves (
    tag_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    wall REAL NOT NULL,
    num_thresholds INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (tag_id, step)
);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    name TEXT,
    step INTEGER,
    wall REAL NOT NULL,
    hparams TEXT NOT NULL,
    metrics TEXT NOT NULL,
    domains TEXT NOT NULL
);
CREATE TABLE layouts (
    id INTEGER PRIMARY KEY,
    wall REAL NOT NULL,
    layout TEXT NOT NULL
);
INSERT INTO trials (name, step, wall, hparams, metrics, domains)
    SELECT NULL, NULL, (SELECT start_time FROM run),
        (SELECT json_group_object(name, json(value)) FROM hparams WHERE role = 'hparam'),
        (SELECT json_group_object(name, json(value)) FROM hparams WHERE role = 'metric'), '{}'
    WHERE EXISTS (SELECT 1 FROM hparams)
"""


def _has(conn: sqlite3.Connection, table: str) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return conn.execute(sql, (table,)).fetchone() is not None


# --------------------------------------------------------------------------- images


def insert_images(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Rows ``(tag_id, step, wall, height, width, channels, png, meta_json)``."""
    conn.executemany(
        "INSERT OR REPLACE INTO images (tag_id, step, wall, height, width, channels, png, meta) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def read_images(conn: sqlite3.Connection, tag_id: int) -> list[tuple]:
    """``(step, wall, height, width, channels, meta_json)`` per step, without the PNG bytes."""
    if not _has(conn, "images"):
        return []
    return conn.execute(
        "SELECT step, wall, height, width, channels, meta FROM images WHERE tag_id = ? "
        "ORDER BY step",
        (tag_id,),
    ).fetchall()


def read_image_png(conn: sqlite3.Connection, tag_id: int, step: int) -> bytes | None:
    if not _has(conn, "images"):
        return None
    row = conn.execute(
        "SELECT png FROM images WHERE tag_id = ? AND step = ?", (tag_id, step)
    ).fetchone()
    if row is None:
        return None
    if not isinstance(row[0], bytes):  # a hostile or damaged file: text or a number there
        raise ReadError(f"the image at step {step} is not stored as PNG bytes")
    return row[0]


# --------------------------------------------------------------------------- PR curves


def insert_pr_curves(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Rows ``(tag_id, step, wall, num_thresholds, data)``; data: float64 (6, n) bytes."""
    conn.executemany(
        "INSERT OR REPLACE INTO pr_curves (tag_id, step, wall, num_thresholds, data) "
        "VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def read_pr_curves(conn: sqlite3.Connection, tag_id: int) -> list[tuple]:
    """``(step, wall, num_thresholds, data)`` per step."""
    if not _has(conn, "pr_curves"):
        return []
    return conn.execute(
        "SELECT step, wall, num_thresholds, data FROM pr_curves WHERE tag_id = ? ORDER BY step",
        (tag_id,),
    ).fetchall()


# --------------------------------------------------------------------------- hparams trials


def insert_trials(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Rows ``(name, step, wall, hparams, metrics, domains)``; the last three as dicts."""
    conn.executemany(
        "INSERT INTO trials (name, step, wall, hparams, metrics, domains) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(n, s, w, json.dumps(h), json.dumps(m), json.dumps(d)) for n, s, w, h, m, d in rows],
    )


def read_trials(conn: sqlite3.Connection) -> list[tuple]:
    """``(index, name, step, wall, hparams, metrics, domains)`` in logging order.

    A version-1 file kept one hparams record per run (table ``hparams``): it reads as one
    trial without a name, step or time.
    """
    if _has(conn, "trials"):
        rows = conn.execute(
            "SELECT id, name, step, wall, hparams, metrics, domains FROM trials ORDER BY id"
        ).fetchall()
        if rows:
            return [
                (i, n, s, w, json.loads(h), json.loads(m), json.loads(d))
                for i, n, s, w, h, m, d in rows
            ]
    old: dict[str, dict] = {"hparam": {}, "metric": {}}
    for role, name, value in conn.execute("SELECT role, name, value FROM hparams ORDER BY name"):
        old[role][name] = json.loads(value)
    if not old["hparam"] and not old["metric"]:
        return []
    return [(1, None, None, None, old["hparam"], old["metric"], {})]


# --------------------------------------------------------------------------- layouts


def insert_layout(conn: sqlite3.Connection, wall: float, layout: dict) -> None:
    conn.execute("INSERT INTO layouts (wall, layout) VALUES (?, ?)", (wall, json.dumps(layout)))


def read_layout(conn: sqlite3.Connection) -> dict | None:
    """The latest custom-scalars layout, or None."""
    if not _has(conn, "layouts"):
        return None
    row = conn.execute("SELECT layout FROM layouts ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else json.loads(row[0])


# --------------------------------------------------------------------------- write faults

#: nullable columns added without a version bump: readers that predate them ignore them, so a
#: file they are in still reads everywhere; writers add them on open (``add_columns``)
ADDED_COLUMNS = (("run", "dropped", "TEXT"),)  # JSON {tag: items the writer had to drop}

# result codes (low byte of the extended code) of a failure of the file or its medium, not
# of one item: busy, locked, out of memory, read-only, interrupted, I/O error, malformed,
# disk full, cannot open, locking protocol, not a database
_ENVIRONMENTAL = {5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 26}


def is_environmental(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the file or its medium (disk full, I/O error, read-only,
    malformed, busy): writing the same rows later can succeed, dropping them would be wrong.
    Anything else (a value SQLite cannot bind or store) is an error of the items."""
    if isinstance(exc, (OSError, MemoryError)):
        return True
    if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
        code = getattr(exc, "sqlite_errorcode", None)
        return code is None or (code & 0xFF) in _ENVIRONMENTAL
    return False


def _has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    sql = "SELECT 1 FROM pragma_table_info(?) WHERE name = ?"
    return conn.execute(sql, (table, column)).fetchone() is not None


def add_columns(conn: sqlite3.Connection) -> None:
    """Add the ``ADDED_COLUMNS`` a file lacks, re-checked under the write lock."""
    for table, column, decl in ADDED_COLUMNS:
        if _has_column(conn, table, column):
            continue
        begin(conn)
        try:
            if not _has_column(conn, table, column):
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise


def begin(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, after rolling back what a failed COMMIT may have left open."""
    if conn.in_transaction:
        rollback(conn)
    conn.execute("BEGIN IMMEDIATE")


def commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; a failing ROLLBACK (I/O error) is left for the next
    :func:`begin` to retry, as the failure that caused it is already being reported."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


@contextlib.contextmanager
def savepoint(conn: sqlite3.Connection):
    """Undo what the block wrote if it raises, keeping the enclosing transaction."""
    conn.execute("SAVEPOINT flowlog_item")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO flowlog_item")
        conn.execute("RELEASE flowlog_item")
        raise
    conn.execute("RELEASE flowlog_item")


def read_dropped(conn: sqlite3.Connection) -> dict[str, int]:
    """``{tag: count}`` of items the writer could not store (empty for older files)."""
    if not _has_column(conn, "run", "dropped"):
        return {}
    row = conn.execute("SELECT dropped FROM run WHERE id = 1").fetchone()
    try:
        counts = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}
    if not isinstance(counts, dict):
        return {}
    return {str(k): v for k, v in counts.items() if type(v) is int}


def write_dropped(conn: sqlite3.Connection, counts: dict[str, int]) -> None:
    conn.execute("UPDATE run SET dropped = ? WHERE id = 1", (json.dumps(counts, sort_keys=True),))


def fold_wal(conn: sqlite3.Connection, timeout: float) -> tuple[int, int, int]:
    """Copy the whole WAL into the database and truncate it (``wal_checkpoint(TRUNCATE)``),
    retried with backoff for up to ``timeout`` s while readers hold snapshots older than the
    last commit. Returns the last ``(busy, wal frames, frames copied)``: ``busy == 0`` and
    equal counts mean the database file alone holds everything."""
    busy_ms = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    deadline = time.monotonic() + timeout
    delay = 0.01
    try:
        while True:
            left = deadline - time.monotonic()
            # the busy handler waits for readers within an attempt; bounded per attempt
            conn.execute(f"PRAGMA busy_timeout = {max(1, int(min(left, 1.0) * 1000))}")
            try:
                row = tuple(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
            except sqlite3.OperationalError:  # a concurrent checkpoint holds the lock
                row = (1, -1, -1)
            if (row[0] == 0 and row[1] == row[2]) or time.monotonic() + delay >= deadline:
                return row
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
