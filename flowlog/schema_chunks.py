"""Scalar points of schema v3: each tag's points in step-ordered chunks of contiguous arrays.

A chunk row holds up to ``MAX_CHUNK_POINTS`` consecutive points of one tag as one blob: the
steps (int64), then the wall times and the values (float64; NaN and ±Inf keep their IEEE bits,
so nothing is lost to SQLite's NaN-as-NULL), decoded with ``numpy.frombuffer`` after a
checksum (a damaged chunk is an error naming it, never wrong values). Chunks of a tag
never overlap in steps, so a full read is ~100 blobs per million points (~10 ms instead of
~600 ms for a million rows through Python's sqlite3), and a zoomed read decodes only the
chunks the range touches. Figures: benchmarks/writer.py, benchmarks/scale.py.

Writing appends new points as a chunk that absorbs the tag's last chunk while that is no larger
than what is being written (a binary counter: a tag keeps O(log n) small trailing chunks, and a
point is rewritten O(log ``CHUNK_POINTS``) times however small the flushes); rewritten or
out-of-order steps re-chunk the tail of the tag from the earliest rewritten step, last write
winning. Every SQL statement on the chunk table is here (schema.py delegates).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np

CHUNK_POINTS = 8192  # a write of many points is cut into chunks of this size
MAX_CHUNK_POINTS = 2 * CHUNK_POINTS  # a chunk absorbing its predecessor stays below this
_POINT_BYTES = 24  # int64 step + float64 wall + float64 value

DDL_V3 = """
CREATE TABLE scalar_chunks (
    id INTEGER PRIMARY KEY,
    tag_id INTEGER NOT NULL,
    step_first INTEGER NOT NULL,
    step_last INTEGER NOT NULL,
    n INTEGER NOT NULL,
    checksum INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX scalar_chunks_steps ON scalar_chunks (tag_id, step_first, step_last, n)
"""
REQUIRED_COLUMNS = {"scalar_chunks": {"tag_id", "step_first", "step_last", "n", "checksum", "data"}}
#: v4: a tag's generation, bumped whenever its stored points change other than by appending
#: (a rewritten or interleaved step, a purge), so a reader can carry a reduction of the points
#: it has read across commits that only appended (no row: generation 0)
DDL_V4 = """
CREATE TABLE scalar_generations (
    tag_id INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL
)
"""
GENERATIONS = "scalar_generations"

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # steps (int64), walls, values (float64)


def encode(steps: np.ndarray, walls: np.ndarray, values: np.ndarray) -> bytes:
    return (
        np.ascontiguousarray(steps, "<i8").tobytes()
        + np.ascontiguousarray(walls, "<f8").tobytes()
        + np.ascontiguousarray(values, "<f8").tobytes()
    )


def checksum(data: bytes) -> int:
    """The sum of the blob's 64-bit words, wrapping (as SQLite's signed INTEGER): SQLite checks
    its pages' structure, not a blob's bytes, so a torn or flipped byte inside a chunk would
    otherwise read as a wrong value. ~3 ms per million points."""
    return int(np.frombuffer(data, "<u8").sum(dtype=np.uint64).view(np.int64))


def decode(n: int, check: int, data: bytes) -> Arrays:
    """The arrays of one chunk (read-only views of ``data``), after checking its size and
    checksum: a damaged chunk raises :class:`sqlite3.DatabaseError` saying so."""
    if len(data) != n * _POINT_BYTES:
        raise sqlite3.DatabaseError(
            f"damaged scalar chunk: {len(data)} bytes for {n} points (want {n * _POINT_BYTES})"
        )
    if checksum(data) != check:
        raise sqlite3.DatabaseError("damaged scalar chunk: its bytes do not match its checksum")
    return (
        np.frombuffer(data, "<i8", n, 0),
        np.frombuffer(data, "<f8", n, 8 * n),
        np.frombuffer(data, "<f8", n, 16 * n),
    )


def _empty() -> Arrays:
    return np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64)


def _concat(parts: list[Arrays]) -> Arrays:
    if not parts:
        return _empty()
    if len(parts) == 1:
        return tuple(np.array(a) for a in parts[0])  # a writable copy, not a view of the blob
    return tuple(np.concatenate(cols) for cols in zip(*parts, strict=True))


def _split(arrays: Arrays) -> Iterator[Arrays]:
    n = arrays[0].size
    for i in range(0, n, CHUNK_POINTS):
        yield tuple(a[i : i + CHUNK_POINTS] for a in arrays)


def _insert(conn: sqlite3.Connection, tag_id: int, arrays: Arrays) -> None:
    steps = arrays[0]
    data = encode(*arrays)
    conn.execute(
        "INSERT INTO scalar_chunks (tag_id, step_first, step_last, n, checksum, data) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (tag_id, int(steps[0]), int(steps[-1]), int(steps.size), checksum(data), data),
    )


# --------------------------------------------------------------------------- writes


def write(conn: sqlite3.Connection, tag_id: int, arrays: Arrays) -> None:
    """Store points of one tag given in write order; a step already stored (or repeated
    within ``arrays``) takes the last value written for it."""
    steps = arrays[0]
    if not steps.size:
        return
    last = conn.execute(
        "SELECT id, step_last, n FROM scalar_chunks WHERE tag_id = ? "
        "ORDER BY step_first DESC LIMIT 1",
        (tag_id,),
    ).fetchone()
    increasing = steps.size == 1 or bool(np.all(steps[1:] > steps[:-1]))
    if increasing and (last is None or int(steps[0]) > last[1]):
        _append(conn, tag_id, arrays, last)
    else:
        _rewrite(conn, tag_id, arrays)


def _append(conn: sqlite3.Connection, tag_id: int, arrays: Arrays, last) -> None:
    """New steps beyond everything stored: full chunks, then a tail absorbing its smaller
    predecessors (see the module docstring)."""
    pieces = list(_split(arrays))
    tail = pieces.pop()
    for piece in pieces:
        _insert(conn, tag_id, piece)
    if pieces:
        last = None  # the tail's predecessor is a full chunk just written
    parts = [tail]
    size = tail[0].size
    while last is not None and last[2] <= size and last[2] + size <= MAX_CHUNK_POINTS:
        chunk_id, _step_last, n = last
        sql = "SELECT checksum, data FROM scalar_chunks WHERE id = ?"
        check, data = conn.execute(sql, (chunk_id,)).fetchone()
        conn.execute("DELETE FROM scalar_chunks WHERE id = ?", (chunk_id,))
        parts.insert(0, decode(n, check, data))
        size += n
        last = conn.execute(
            "SELECT id, step_last, n FROM scalar_chunks WHERE tag_id = ? "
            "ORDER BY step_first DESC LIMIT 1",
            (tag_id,),
        ).fetchone()
    _insert(conn, tag_id, _concat(parts))


def _rewrite(conn: sqlite3.Connection, tag_id: int, arrays: Arrays) -> None:
    """Merge points that rewrite or interleave stored steps: the tag's chunks from the
    earliest new step on are decoded, merged (last write wins) and chunked again."""
    first = int(arrays[0].min())
    rows = conn.execute(
        "SELECT id, n, checksum, data FROM scalar_chunks WHERE tag_id = ? AND step_last >= ? "
        "ORDER BY step_first",
        (tag_id, first),
    ).fetchall()
    old = _concat([decode(*row[1:]) for row in rows])
    conn.executemany("DELETE FROM scalar_chunks WHERE id = ?", [(r[0],) for r in rows])
    merged = _last_write_wins(_concat([old, arrays]) if old[0].size else arrays)
    for piece in _split(merged):
        _insert(conn, tag_id, piece)
    if rows:  # stored points changed, not only appended to (nothing stored: a first write)
        _next_generation(conn, [tag_id])


def _next_generation(conn: sqlite3.Connection, tag_ids: list[int]) -> None:
    conn.executemany(
        f"INSERT INTO {GENERATIONS} (tag_id, generation) VALUES (?, 1) "
        "ON CONFLICT (tag_id) DO UPDATE SET generation = generation + 1",
        [(t,) for t in tag_ids],
    )


def _last_write_wins(arrays: Arrays) -> Arrays:
    """Sorted by step, one point per step: the last one given."""
    steps = arrays[0]
    rev = steps[::-1]
    uniq, first_in_rev = np.unique(rev, return_index=True)
    keep = steps.size - 1 - first_in_rev
    return uniq.astype(np.int64), arrays[1][keep], arrays[2][keep]


def truncate_from(conn: sqlite3.Connection, step: int) -> None:
    """Delete every point at ``step`` or later (``purge_step``)."""
    rows = conn.execute(
        "SELECT tag_id, n, checksum, data FROM scalar_chunks "
        "WHERE step_last >= ? AND step_first < ?",
        (step, step),
    ).fetchall()
    cut = [r[0] for r in conn.execute(
        "SELECT DISTINCT tag_id FROM scalar_chunks WHERE step_last >= ?", (step,)
    )]  # fmt: skip
    conn.execute("DELETE FROM scalar_chunks WHERE step_last >= ?", (step,))
    _next_generation(conn, cut)
    for tag_id, *chunk in rows:
        steps, walls, values = decode(*chunk)
        keep = int(np.searchsorted(steps, step))
        _insert(conn, tag_id, (steps[:keep], walls[:keep], values[:keep]))


def convert_rows(conn: sqlite3.Connection, rows_of_tag) -> None:
    """Migration from the one-row-per-point table: ``rows_of_tag(tag_id)`` gives a tag's
    stored arrays; each scalar tag's points become chunks."""
    tags = [r[0] for r in conn.execute("SELECT id FROM tags WHERE kind = 'scalar' ORDER BY id")]
    for tag_id in tags:
        arrays = rows_of_tag(tag_id)
        for piece in _split(arrays):
            _insert(conn, tag_id, piece)


# --------------------------------------------------------------------------- reads


def read(
    conn: sqlite3.Connection, tag_id: int, lo: int | None = None, hi: int | None = None
) -> Arrays:
    """The tag's points with ``lo <= step <= hi`` (either bound optional), in step order.

    The chunks are decoded one at a time into arrays sized from their counts (an index-only
    sum), so a read holds the result plus one blob, not every blob and then a copy."""
    lo = -1 if lo is None else lo
    hi = 2**63 - 1 if hi is None else hi
    where = "WHERE tag_id = ? AND step_first <= ? AND step_last >= ?"
    args = (tag_id, hi, lo)
    own = not conn.in_transaction  # both statements see one snapshot of the file
    if own:
        conn.execute("BEGIN")
    try:
        sql = f"SELECT ifnull(sum(n), 0) FROM scalar_chunks {where}"
        total = conn.execute(sql, args).fetchone()[0]
        out = np.empty(total, np.int64), np.empty(total, np.float64), np.empty(total, np.float64)
        at = 0
        sql = f"SELECT n, checksum, data FROM scalar_chunks {where} ORDER BY step_first"
        for n, check, data in conn.execute(sql, args):
            for column, part in zip(out, decode(n, check, data), strict=True):
                column[at : at + n] = part
            at += n
    finally:
        if own:
            conn.execute("COMMIT")
    steps = out[0][:at]
    first = int(np.searchsorted(steps, lo)) if at and steps[0] < lo else 0
    last = int(np.searchsorted(steps, hi, side="right")) if at and steps[-1] > hi else at
    return tuple(column[first:last] for column in out)


def step_range(conn: sqlite3.Connection, tag_id: int) -> tuple[int | None, int | None]:
    # chunks never overlap: the first chunk starts the tag, the last one ends it
    return conn.execute(
        "SELECT (SELECT step_first FROM scalar_chunks WHERE tag_id = ?1 "
        "ORDER BY step_first LIMIT 1), (SELECT step_last FROM scalar_chunks WHERE tag_id = ?1 "
        "ORDER BY step_first DESC LIMIT 1)",
        (tag_id,),
    ).fetchone()


def generation(conn: sqlite3.Connection, tag_id: int) -> int | None:
    """The tag's generation (:data:`DDL_V4`); None for a v3 file, which does not keep one."""
    try:
        row = conn.execute(
            f"SELECT generation FROM {GENERATIONS} WHERE tag_id = ?", (tag_id,)
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # written before v4
            return None
        raise
    return 0 if row is None else row[0]


def count(conn: sqlite3.Connection, tag_id: int) -> int:
    sql = "SELECT ifnull(sum(n), 0) FROM scalar_chunks WHERE tag_id = ?"
    return conn.execute(sql, (tag_id,)).fetchone()[0]


def last_steps(conn: sqlite3.Connection) -> dict[int, int]:
    """Highest stored step per scalar tag (one index seek per tag)."""
    sql = (
        "SELECT id, (SELECT step_last FROM scalar_chunks WHERE tag_id = tags.id "
        "ORDER BY step_first DESC LIMIT 1) FROM tags WHERE kind = 'scalar'"
    )
    return {tid: step for tid, step in conn.execute(sql) if step is not None}


def downsample(
    conn: sqlite3.Connection, tag_id: int, buckets: int, start: int, end: int
) -> list[tuple]:
    """:func:`flowlog.schema.downsample`'s rows, computed from the points with numpy."""
    steps, walls, values = read(conn, tag_id, start, end)
    if not steps.size:
        return []
    per = -(-(end - start + 1) // buckets)
    edges = start + per * np.arange(-(-(end - start + 1) // per) + 1, dtype=np.int64)
    cuts = np.searchsorted(steps, edges[:-1])
    starts = np.unique(cuts[cuts < steps.size])
    ends = np.r_[starts[1:], steps.size] - 1
    finite = np.isfinite(values)
    nfin = np.add.reduceat(finite.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        vmin = np.minimum.reduceat(np.where(finite, values, np.inf), starts)
        vmax = np.maximum.reduceat(np.where(finite, values, -np.inf), starts)
        mean = np.add.reduceat(np.where(finite, values, 0.0), starts) / nfin
    nan = np.add.reduceat(np.isnan(values).astype(np.int64), starts)
    posinf = np.add.reduceat(np.isposinf(values).astype(np.int64), starts)
    neginf = np.add.reduceat(np.isneginf(values).astype(np.int64), starts)
    total = ends - starts + 1
    none = nfin == 0
    columns = [
        steps[starts].tolist(), steps[ends].tolist(), np.maximum.reduceat(walls, starts).tolist(),
        _nullable(vmin, none), _nullable(vmax, none), _nullable(mean, none), total.tolist(),
        nan.tolist(), posinf.tolist(), neginf.tolist(),
    ]  # fmt: skip
    return list(zip(*columns, strict=True))


def _nullable(values: np.ndarray, none: np.ndarray) -> list:
    return [None if k else v for v, k in zip(values.tolist(), none.tolist(), strict=True)]


def check(conn: sqlite3.Connection) -> int:
    """Verify every chunk (blob size, its step bounds and count, steps strictly increasing
    within and across a tag's chunks); the number of chunks. For tests and ``fsck``-style
    checks: raises :class:`sqlite3.DatabaseError` naming the first bad chunk."""
    checked = 0
    prev: dict[int, int] = {}
    sql = "SELECT id, tag_id, step_first, step_last, n, checksum, data FROM scalar_chunks"
    for cid, tid, s0, s1, n, check, data in conn.execute(sql + " ORDER BY tag_id, step_first"):
        steps = decode(n, check, data)[0]
        ok = n > 0 and steps[0] == s0 and steps[-1] == s1 and bool(np.all(np.diff(steps) > 0))
        if not ok or s0 <= prev.get(tid, -1):
            raise sqlite3.DatabaseError(f"scalar chunk {cid} of tag {tid} is inconsistent")
        prev[tid] = s1
        checked += 1
    return checked
