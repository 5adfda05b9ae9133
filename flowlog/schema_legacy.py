"""Scalar points of schema versions 1 and 2: one row per point plus rollup summaries.

Logs written before schema v3 (:mod:`flowlog.schema_chunks`) keep this layout until a writer
resumes them (the migration converts them); readers read them as they are. The writer no
longer writes it: :func:`insert_scalars` and :func:`update_rollups` remain so that tests can
build such logs.

* ``scalars`` is a ``WITHOUT ROWID`` table keyed ``(tag_id, step)``; NaN is stored as NULL.
* ``scalar_rollups`` holds per-bucket summaries at ``ROLLUP_LEVELS`` resolutions (bucket widths
  32, 128, 512, ... steps): downsampling a 1M-point tag reads ~8k summary rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

MAX_STEP = 2**53
_SERIES_DTYPE = np.dtype([("step", np.int64), ("wall", np.float64), ("value", np.float64)])

ROLLUP_BASE_SHIFT = 5  # level-1 buckets are 2**5 = 32 steps wide (rows written: ~n/24)
ROLLUP_SHIFT = 2  # each level is 2**2 = 4 times wider than the one below
ROLLUP_LEVELS = 9  # widths 32, 128, 512, ..., 2097152 steps


def rollup_width(level: int) -> int:
    """Steps per bucket at rollup ``level`` (1-based); bucket key = ``step >> log2(width)``."""
    return 1 << (ROLLUP_BASE_SHIFT + ROLLUP_SHIFT * (level - 1))


# finite part of a value: NULL for NaN (stored NULL) and for ±Inf
_FINITE = (
    "CASE WHEN value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308 THEN value END"
)

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


def read_series(
    conn: sqlite3.Connection,
    tag_id: int,
    start: int | None = None,
    end: int | None = None,
    after: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw points as arrays ``(step, wall, value)`` in step order.

    NaN (stored NULL) comes back as the text ``'NaN'`` so that ``numpy.fromiter`` can convert
    rows straight into float64 (it rejects ``None``); that is ~2x faster than fetchall + zip
    at 1M points. ``start``/``end`` are inclusive; ``after`` keeps only steps strictly greater.
    """
    lo = -1 if start is None else start - 1
    if after is not None:
        lo = max(lo, after)
    hi = MAX_STEP if end is None else end
    cursor = conn.execute(
        "SELECT step, wall, ifnull(value, 'NaN') FROM scalars "
        "WHERE tag_id = ? AND step > ? AND step <= ? ORDER BY step",
        (tag_id, lo, hi),
    )
    arr = np.fromiter(cursor, dtype=_SERIES_DTYPE)
    return arr["step"].copy(), arr["wall"].copy(), arr["value"].copy()


def count(conn: sqlite3.Connection, tag_id: int) -> int:
    """Points of a tag, from the coarsest rollup level (a handful of rows)."""
    return conn.execute(
        "SELECT ifnull(sum(n), 0) FROM scalar_rollups WHERE tag_id = ? AND level = ?",
        (tag_id, ROLLUP_LEVELS),
    ).fetchone()[0]


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
    """:func:`flowlog.schema.downsample` from rows and rollups. Wide ranges read the rollup
    level with the largest width ``w <= per / 2`` (or ``w <= per`` if none) for the interior,
    and raw points for the two ragged ends: each point is counted exactly once, and a rollup
    bucket goes wholly to the output bucket holding its first step (boundaries move by less
    than ``w``). Narrow ranges (``per < 32``) aggregate raw points."""
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
