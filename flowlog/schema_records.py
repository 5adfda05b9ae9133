"""SQL of the record kinds schema version 2 added: images, PR curves, hparams trials and
custom-scalar layouts (the rest of the schema is :mod:`flowlog.schema`).

A version-1 file has none of these tables; every read here answers "no records" for it, so old
logs read unchanged. Images and PR curves are rowid tables keyed ``(tag_id, step)``: their rows
are kilobytes, which ``WITHOUT ROWID`` tables store badly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

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
    return None if row is None else bytes(row[0])


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
