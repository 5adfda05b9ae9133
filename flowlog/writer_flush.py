"""How ``SummaryWriter`` writes its buffer: one transaction per flush, what a failing flush
does, and closing with the WAL folded into the database (a mixin of
:class:`flowlog.writer.SummaryWriter`; docs/architecture.md, "Write failures").

* An item SQLite refuses (a value it cannot bind or store): the batch is written again with
  each record kind in a savepoint and, for the kind that fails, row by row; only the refused
  items are dropped, counted per tag in the run's metadata (``RunInfo.dropped``) and reported
  once per tag; everything else of the batch is committed in the same flush.
* The file or its medium fails (disk full, I/O error, read-only, malformed, busy past the
  busy timeout): nothing is dropped. Everything stays buffered, up to ``max_held_points``
  scalar points and ``max_held_bytes`` of other records; the failure is reported once, the
  flush thread retries every ``flush_secs``, ``add_*`` calls no longer try to write (training
  keeps its speed), ``flush()``/``close()`` raise :class:`LogWriteError`. Past the bound new
  items are dropped, counted and reported. Once a write succeeds, everything held is written
  with the counts.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings

import numpy as np

from flowlog import schema, schema_records
from flowlog.errors import LogWriteError

log = logging.getLogger("flowlog.writer")

#: what a writer keeps in memory while its file cannot be written (~100 bytes per point)
MAX_HELD_POINTS = 1_000_000
MAX_HELD_BYTES = 256 << 20  # histograms, texts, images, … (their payload bytes)
#: how long close() retries folding the WAL into the database while readers hold snapshots
CLOSE_FOLD_SECS = 5.0
_MAX_STEP = schema.MAX_STEP
_REFUSED_TAG = ValueError("SQLite refused the tag's name, so none of its items can be stored")


def _storable(tid: object, step: object, wall: object, value: object) -> bool:
    """What the hot path guarantees of a point; checked only when isolating a failure."""
    return (
        type(tid) is int
        and type(step) is int
        and 0 <= step < _MAX_STEP
        and type(wall) is float
        and type(value) is float
    )


def _point_groups(flat: list) -> list[tuple]:
    """A flat buffer ``[tag id, step, wall, value, ...]`` as ``(tag id, steps, walls, values)``
    per tag, each tag's points in write order (one numpy pass; the stable sort keeps it)."""
    if not flat:
        return []
    n = len(flat) // 4
    a = np.fromiter(flat, np.float64, 4 * n).reshape(n, 4)
    tids = a[:, 0].astype(np.int64)
    if np.any(tids[1:] < tids[:-1]):
        # 16-bit keys let numpy use a radix sort
        key = tids.astype(np.int16) if tids.max() <= 32767 else tids
        order = np.argsort(key, kind="stable")
        a, tids = a[order], tids[order]
    starts = np.flatnonzero(np.r_[True, tids[1:] != tids[:-1]])
    ends = np.r_[starts[1:], n]
    steps = a[:, 1].astype(np.int64)
    walls = np.ascontiguousarray(a[:, 2])
    values = np.ascontiguousarray(a[:, 3])
    return [
        (int(tids[i]), steps[i:j], walls[i:j], values[i:j])
        for i, j in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def _row_bytes(row: tuple) -> int:
    return 100 + sum(len(x) for x in row if isinstance(x, (str, bytes)))


def _key(tag: str) -> str:
    """A tag as text every reader can carry (an unstorable tag may hold lone surrogates)."""
    return tag.encode("utf-8", "backslashreplace").decode("utf-8")


class WriterFlush:
    """Flushing, write faults and closing; state set up by :meth:`_init_flush_state`."""

    max_held_points = MAX_HELD_POINTS
    max_held_bytes = MAX_HELD_BYTES
    fold_secs = CLOSE_FOLD_SECS

    def _init_flush_state(self, dropped: dict[str, int]) -> None:
        self._fault: BaseException | None = None  # why writing fails now (None: it works)
        self._dropped = dict(dropped)  # tag -> items dropped over the run (persisted)
        self._dropped_dirty = False  # counts not yet in the file
        self._overflow = 0  # items dropped past the bound during the current fault
        self._reported: set[str] = set()  # tags whose refused items were reported
        self._dead: dict[int, str] = {}  # ids of tags whose row SQLite refused
        self._error: BaseException | None = None  # last unexpected flush-thread error

    # ------------------------------------------------------------------ entry points

    def flush(self) -> None:
        """Write everything buffered, in one transaction. While the run's file cannot be
        written this raises :class:`LogWriteError` and keeps everything buffered."""
        with self._lock:
            if not self._closed:  # torch: a no-op once closed
                self._flush_locked("explicit")

    def _auto_flush(self) -> None:
        """The buffer is full; while writing fails only the flush thread retries."""
        with self._lock:
            if not self._closed:
                self._flush_locked()

    def _flush_locked(self, mode: str = "auto") -> None:
        """Write what is buffered (caller holds the lock). ``mode``: "auto" (a full buffer,
        an add_* that writes at once), "background" (the flush thread) or "explicit"
        (``flush()``/``close()``, which raise :class:`LogWriteError` on a write fault)."""
        if self._fault is not None:
            if mode == "auto":
                self._hold()
                return
            try:  # a one-page commit first: retrying a large held batch is costly
                self._probe()
            except Exception as exc:
                if not schema_records.is_environmental(exc):
                    raise
                self._failed(exc, mode)
                return
        buf = self._buf
        n = len(buf)
        batch = buf[:n]
        del buf[:n]  # points appended meanwhile stay in the buffer
        try:
            try:
                drops = self._write(batch, isolate=False)
            except Exception as exc:
                if schema_records.is_environmental(exc):
                    raise
                drops = self._write(batch, isolate=True)  # find what SQLite refuses
        except BaseException as exc:
            buf[:0] = batch  # keep the points for the next attempt
            if isinstance(exc, Exception) and schema_records.is_environmental(exc):
                self._failed(exc, mode)
                return
            raise
        self._written(drops)

    # ------------------------------------------------------------------ one transaction

    def _probe(self) -> None:
        """Whether the file takes a write again: a heartbeat in its own transaction."""
        conn = self._conn
        schema_records.begin(conn)
        try:
            schema.heartbeat(conn, time.time())
            schema_records.commit(conn)
        except BaseException:
            schema_records.rollback(conn)
            raise

    def _write(self, batch: list, isolate: bool) -> list:
        """One transaction with everything buffered; the drops.

        The points are grouped into per-tag arrays before the transaction starts, so the write
        lock is held only for the inserts. ``isolate``: each record kind (and each tag's
        points) in a savepoint and, for a kind SQLite refuses, row by row, collecting
        ``(tag, error, items)`` dropped.
        """
        conn = self._conn
        drops: list[tuple[str, BaseException, int]] = []  # (tag, error, items)
        if not isolate:
            if self._dead:
                batch = self._points_of_live_tags(batch, drops)
            groups = _point_groups(batch)
        schema_records.begin(conn)
        try:
            if isolate:
                rows = self._isolated(
                    conn, self._new_tags, schema.insert_tags, lambda r: r[1], drops, items=0
                )
                for row in self._new_tags:
                    if row not in rows:
                        self._dead[row[0]] = row[1]
                points = self._storable_points(batch, drops)
                self._isolated_points(conn, [x for point in points for x in point], drops)
            else:
                if self._new_tags:
                    schema.insert_tags(conn, self._new_tags)
                for group in groups:
                    schema.write_scalars(conn, *group)
            for rows, insert, tag_of in self._record_groups():
                if self._dead and rows and tag_of == self._tag_of:
                    rows = self._rows_of_live_tags(rows, drops)
                if isolate:
                    self._isolated(conn, rows, insert, tag_of, drops)
                elif rows:
                    insert(conn, rows)
            if drops or self._dropped_dirty:
                schema_records.write_dropped(conn, self._counted(drops))
            schema.heartbeat(conn, time.time())
            schema_records.commit(conn)
        except BaseException:
            schema_records.rollback(conn)
            raise
        return drops

    def _isolated_points(self, conn, flat: list, drops: list) -> None:
        """Each tag's points in a savepoint: a tag whose points SQLite refuses loses only
        them (write faults propagate)."""
        for group in _point_groups(flat):
            try:
                with schema_records.savepoint(conn):
                    schema.write_scalars(conn, *group)
            except Exception as exc:
                if schema_records.is_environmental(exc):
                    raise
                drops.append((self._tag_of((group[0],)), exc, int(group[1].size)))

    def _record_groups(self) -> list[tuple[list, object, object]]:
        """``(buffered rows, insert, tag of a row)`` of every kind but tags and scalars."""
        groups: list[tuple[list, object, object]] = [
            (self._pending[kind], insert, self._tag_of) for kind, insert in _INSERTS.items()
        ]
        groups += [
            (self._numerics, schema.insert_numerics, lambda r: "<numerics>"),
            (self._trials, schema_records.insert_trials, lambda r: "<hparams>"),
            (self._layouts, _insert_layouts, lambda r: "<custom_scalars>"),
            (self._graphs, _insert_graphs, lambda r: "<graph>"),
        ]
        return groups

    def _isolated(self, conn, rows: list, insert, tag_of, drops: list, items: int = 1) -> list:
        """Insert ``rows`` in a savepoint; if SQLite refuses them, row by row, dropping each
        row it refuses (``items`` each: 0 for a tag row, which holds no logged value). Returns
        the rows written. Write faults propagate."""
        if not rows:
            return rows
        try:
            with schema_records.savepoint(conn):
                insert(conn, rows)
            return rows
        except Exception as exc:
            if schema_records.is_environmental(exc):
                raise
        kept = []
        for row in rows:
            try:
                with schema_records.savepoint(conn):
                    insert(conn, [row])
            except Exception as exc:
                if schema_records.is_environmental(exc):
                    raise
                drops.append((tag_of(row), exc, items))
            else:
                kept.append(row)
        return kept

    def _tag_of(self, row: tuple) -> str:
        """The tag of a record row ``(tag id, step, …)``, for reports (rare path)."""
        tid = row[0]
        for tag, (known, _kind) in self._tags.items():
            if known == tid:
                return tag
        return self._dead.get(tid, f"<tag id {tid!r}>")

    def _storable_points(self, batch: list, drops: list) -> list[tuple]:
        """The batch as points, without those of refused tags or of values the hot path
        would never buffer (another path's validation gap)."""
        points = []
        it = iter(batch)
        for point in zip(it, it, it, it, strict=True):
            if point[0] in self._dead:
                drops.append((self._dead[point[0]], _REFUSED_TAG, 1))
            elif not _storable(*point):
                error = TypeError(f"unstorable point {point!r:.80}")
                drops.append((self._tag_of(point), error, 1))
            else:
                points.append(point)
        return points

    def _points_of_live_tags(self, batch: list, drops: list) -> list:
        flat = []
        for point in self._storable_points(batch, drops):
            flat += point
        return flat

    def _rows_of_live_tags(self, rows: list, drops: list) -> list:
        drops += [(self._dead[r[0]], _REFUSED_TAG, 1) for r in rows if r[0] in self._dead]
        return [r for r in rows if r[0] not in self._dead]

    def _counted(self, drops: list) -> dict[str, int]:
        counts = dict(self._dropped)
        for tag, _exc, items in drops:
            if items:
                counts[_key(tag)] = counts.get(_key(tag), 0) + items
        return counts

    # ------------------------------------------------------------------ after a flush

    def _written(self, drops: list) -> None:
        """A flush committed: bookkeeping, reports of dropped items, leaving a fault."""
        self._wake.set()
        self._new_tags = []
        for rows in self._pending.values():
            rows.clear()
        self._numerics = []
        self._trials = []
        self._layouts = []
        self._graphs = []
        if drops or self._dropped_dirty:
            self._dropped = self._counted(drops)
            self._dropped_dirty = False
        for tid, tag in self._dead.items():  # later calls register the tag anew
            if self._tags.get(tag, (None,))[0] == tid:
                del self._tags[tag]
                self._scalar_ids.pop(tag, None)
        by_tag: dict[str, list] = {}
        for tag, exc, items in drops:
            by_tag.setdefault(tag, [exc, 0])[1] += items
        for tag, (error, items) in by_tag.items():
            if tag not in self._reported:
                self._reported.add(tag)
                self._loud(
                    logging.WARNING,
                    f"dropped {items} item(s) of tag {tag!r} that {self.path} cannot store "
                    f"({type(error).__name__}: {error}); the rest of the run is written and "
                    "the run's metadata counts what was dropped (RunInfo.dropped)",
                )
        if self._fault is not None:
            lost = f"; {self._overflow} item(s) were dropped meanwhile" if self._overflow else ""
            log.warning("flowlog: writing %s works again, everything held is written%s",
                        self.path, lost)  # fmt: skip
            self._fault = None
            self._overflow = 0
            self._flush_len = self._batch_len

    def _failed(self, exc: BaseException, mode: str) -> None:
        """The file cannot be written: hold everything, report once, and in explicit mode
        raise."""
        first = self._fault is None
        self._fault = exc
        self._hold()
        held = self._held()
        if first:
            self._loud(
                logging.ERROR,
                f"cannot write {self.path} ({type(exc).__name__}: {exc}); holding {held} "
                f"unwritten item(s) in memory (at most {self._held_limit()} points), retrying "
                f"every {self.flush_secs:g} s; past that bound new items are dropped",
            )
        if mode == "explicit":
            raise LogWriteError(
                f"cannot write {self.path} ({type(exc).__name__}: {exc}): {held} item(s) are "
                f"not written (held in memory, retried every {self.flush_secs:g} s)"
                + (f", {self._overflow} dropped past the bound" if self._overflow else "")
            ) from exc

    def _held(self) -> int:
        return (
            len(self._buf) // 4
            + sum(len(rows) for rows in self._pending.values())
            + len(self._numerics) + len(self._trials) + len(self._layouts) + len(self._graphs)
        )  # fmt: skip

    def _held_limit(self) -> int:
        return max(self.max_held_points, self._batch_len // 4)  # never below one batch

    def _hold(self) -> None:
        """While writing fails: keep at most the bound, drop (and count) newer items, and let
        the hot path call again only after another ``max_queue`` points."""
        buf = self._buf
        n = len(buf)
        limit = 4 * self._held_limit()
        dropped: list[tuple[str, int]] = []
        if n > limit:
            tail = buf[limit:n]
            del buf[limit:n]  # only what was copied: points appended meanwhile stay
            ids, counts = np.unique(np.asarray(tail[0::4], dtype=np.int64), return_counts=True)
            pairs = zip(ids.tolist(), counts.tolist(), strict=True)
            dropped += [(self._tag_of((t,)), c) for t, c in pairs]
        budget = self.max_held_bytes
        for rows, _insert, tag_of in self._record_groups():
            for i, row in enumerate(rows):
                budget -= _row_bytes(row)
                if budget < 0:
                    dropped += [(tag_of(r), 1) for r in rows[i:]]
                    del rows[i:]
                    break
        self._flush_len = len(buf) + self._batch_len
        if not dropped:
            return
        for tag, count in dropped:
            self._dropped[_key(tag)] = self._dropped.get(_key(tag), 0) + count
        self._dropped_dirty = True
        total = sum(c for _, c in dropped)
        if not self._overflow:
            self._loud(
                logging.ERROR,
                f"dropping new items: {self.path} still cannot be written ({self._fault}) and "
                f"{self._held()} item(s) are held, the most kept in memory; every dropped item "
                "is counted in the run's metadata (RunInfo.dropped) once writing works again",
            )
        self._overflow += total

    def _loud(self, level: int, message: str) -> None:
        log.log(level, "flowlog: %s", message)
        warnings.warn(f"flowlog: {message}", RuntimeWarning, stacklevel=4)

    # ------------------------------------------------------------------ flush thread

    def _flush_loop(self) -> None:
        """Flush every ``flush_secs`` (the heartbeat, even when idle; the retry while writing
        fails) and copy the WAL into the database after each flush, so checkpoints never run
        on the caller's thread."""
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
                            self._flush_locked("background")
                        except Exception as exc:  # keep the thread alive; report once
                            self._report(f"background flush of {self.path} failed: {exc}", exc)
                self._wake.clear()
                if self._fault is None:
                    try:
                        schema.checkpoint(ckpt)
                    except Exception as exc:  # the WAL just grows; the next checkpoint retries
                        self._report(f"checkpoint of {self.path} failed: {exc}", exc)
        finally:
            ckpt.close()

    def _report(self, message: str, exc: BaseException) -> None:
        if self._error is None:
            log.warning("flowlog: %s", message)
        self._error = exc

    # ------------------------------------------------------------------ closing

    def _finish_file(self) -> None:
        """After the final commit: stop the flush thread, fold the WAL into the database so
        the file alone is the whole run, close the connection."""
        self._stop.set()
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(5)
        try:
            busy, frames, copied = schema_records.fold_wal(self._conn, self.fold_secs)
            if busy or frames != copied:
                log.warning(
                    "flowlog: closed %s with its last commits still in %s-wal (a reader holds "
                    "an older snapshot open: %d of %d WAL frames copied); the run is complete "
                    "when read in place or copied with that file, and the next writer or the "
                    "last connection to close folds it in",
                    self.path, self.path, max(copied, 0), max(frames, 0),
                )  # fmt: skip
        except Exception as exc:  # committed data is safe in the WAL; say so and go on
            log.warning("flowlog: folding the WAL of %s into it failed: %s", self.path, exc)
        finally:
            self._conn.close()


_INSERTS = {
    "histogram": schema.insert_histograms,
    "text": schema.insert_texts,
    "image": schema_records.insert_images,
    "pr_curve": schema_records.insert_pr_curves,
}


def _insert_layouts(conn, rows: list) -> None:
    for wall, layout in rows:
        schema_records.insert_layout(conn, wall, layout)


def _insert_graphs(conn, rows: list) -> None:
    for step, wall, text in rows:
        schema.insert_graph(conn, step, wall, text)
