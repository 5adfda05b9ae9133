"""The one cache between storage and the views: any :class:`DataProvider`, memoised per run on
its change token.

A cached answer is reused while the run's token is unchanged, so a zoom, a smoothing change,
a page reload or a second viewer re-reads nothing from disk; the first call after a commit to
the run sees the new token and drops everything cached for that run. Derived values a view
computes from a run (drawn extracts, per-node arrays) are cached the same way through
:meth:`CachedProvider.memo`, so no view keeps a cache of its own. Entries are evicted least
recently used beyond a byte budget (numpy arrays counted by size), small and large entries each
within their own budget: reading 100 long series must not push out the few-kB extracts that
draw their charts, which are what a page reload or a second viewer needs.

Cached values are shared between callers and threads: treat them as read-only.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import fields, is_dataclass

import numpy as np

from flowlog.provider import DataProvider, RunInfo, Unreadable

DEFAULT_MAX_BYTES = 48 * 2**20  # full-resolution reads: ~2M points of (step, wall, value)
PIECE_POINTS = 1 << 18  # a window of scalars_pieces: ~6 MB of (step, wall, value)
DEFAULT_MAX_SMALL_BYTES = 32 * 2**20  # small answers: ~1,300 drawn extracts of ~25 kB
SMALL_BYTES = 128 * 2**10  # an entry up to this size is small
DEFAULT_MAX_CARRIED_BYTES = 64 * 2**20  # carried reductions: ~100 long lines' candidates
CARRIED_SIBLINGS = 3  # other variants of a tag extended with the one asked for, at most
CARRIED_SIBLING_S = 300.0  # ... among those asked for this recently
_ENTRY_OVERHEAD = 256  # bytes charged per entry beyond its arrays (keys, small objects)


def size_of(value, depth: int = 0) -> int:
    """Rough bytes held by a cached value: numpy arrays exactly, strings by length, containers
    a few levels deep."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (str, bytes)):
        return len(value)  # graph JSON texts, SVG: characters are close enough to bytes
    if depth > 3:
        return 0
    if isinstance(value, dict):
        return sum(size_of(v, depth + 1) + 64 for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(size_of(v, depth + 1) + 8 for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return sum(size_of(getattr(value, f.name), depth + 1) for f in fields(value))
    return 0


class CachedProvider:
    """A :class:`DataProvider` that memoises ``backend``'s answers per run and change token."""

    def __init__(
        self,
        backend: DataProvider,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_small_bytes: int = DEFAULT_MAX_SMALL_BYTES,
    ):
        self.backend = backend
        self._budget = {False: max_bytes, True: max_small_bytes}  # by "is small"
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._used = {False: 0, True: 0}
        self._tokens: dict[str, Hashable] = {}  # run -> token its cached entries belong to
        self._lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._scan: tuple[float, list[RunInfo]] | None = None  # (monotonic start, runs)
        # (run, group, variant) -> (generation, value, bytes, monotonic time last asked for):
        # kept across commits, see carried()
        self._carried: OrderedDict[tuple, tuple] = OrderedDict()
        self._carried_used = 0
        # (run, group) -> the lock held while one caller extends it: a second caller (a
        # chart request during a live catch-up) extends what the first left, not the same
        # points again
        self._growing: dict[tuple, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"CachedProvider({self.backend!r})"

    def close(self) -> None:
        """Drop the cache and close the backend's files (when it has any to close)."""
        self.clear()
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------------ discovery
    @property
    def location(self) -> str:
        return self.backend.location

    def runs(self, max_age: float = 0.0) -> list[RunInfo]:
        """The runs, from a discovery at most ``max_age`` seconds old.

        Every page load and every open page's refresh tick asks for the runs, and a discovery
        reads each run's metadata; callers arriving during a scan wait for it and share it.
        """
        with self._scan_lock:
            now = time.monotonic()
            if self._scan is None or now - self._scan[0] > max_age:
                self._scan = (now, self.backend.runs())  # as fresh as the scan's start
            return self._scan[1]

    def expire_runs(self) -> None:
        """The next :meth:`runs` scans again, whatever its ``max_age``."""
        with self._scan_lock:
            self._scan = None

    def warnings(self) -> list[str]:
        return self.backend.warnings()

    def unreadable(self) -> list[Unreadable]:
        return self.backend.unreadable()

    def run_info(self, run: str) -> RunInfo:
        return self.backend.run_info(run)  # status can change without a commit: never cached

    def change_token(self, run: str) -> Hashable:
        return self.backend.change_token(run)

    # ------------------------------------------------------------------ the cache
    def memo(self, run: str, key: Hashable, compute: Callable[[], object]):
        """``compute()``, cached for ``run`` under ``key`` until the run's token changes."""
        token = self.backend.change_token(run)
        full = (run, key)
        with self._lock:
            if self._tokens.get(run) != token:
                self._drop_run(run)
                self._tokens[run] = token
            hit = self._items.get(full)
            if hit is not None:
                self._items.move_to_end(full)
                return hit[0]
        value = compute()  # outside the lock: other runs' reads go on meanwhile
        cost = size_of(value) + _ENTRY_OVERHEAD
        with self._lock:
            if self._tokens.get(run) == token:  # not overtaken by a newer commit meanwhile
                old = self._items.pop(full, None)
                if old is not None:
                    self._used[old[1] <= SMALL_BYTES] -= old[1]
                self._items[full] = (value, cost)
                self._used[cost <= SMALL_BYTES] += cost
                self._evict(cost <= SMALL_BYTES)
        return value

    def is_cached(self, run: str, key: Hashable) -> bool:
        """Whether :meth:`memo` (or a read method) would answer ``key`` without reading."""
        token = self.backend.change_token(run)
        with self._lock:
            return self._tokens.get(run) == token and (run, key) in self._items

    def carried(self, run: str, group: Hashable, variant: Hashable, generation, grow):
        """A reduction of a tag's points extended across commits, for ``variant`` of
        ``group`` (one tag: its smoothing weights, bucket budgets …).

        ``grow(previous)`` gets ``{variant: value or None, ...}``: what it returned last for
        each while the tag's :attr:`TagInfo.generation` was ``generation`` (its points only
        appended to since; None: first time, points rewritten, or ``generation`` None,
        unknown), for the variant asked and up to ``CARRIED_SIBLINGS`` others of the group
        asked for in the last ``CARRIED_SIBLING_S`` seconds, so one read of the new points
        extends them all (a smoothing change on a live run then reads seconds of points, not
        the run); it returns the same keys' new values, which are kept (least recently used
        beyond a budget of their own) whatever the change token. Returns ``variant``'s.
        ``grow`` must not modify what it is given (another thread may read it)."""
        if generation is None:  # nothing carried over, nothing to keep
            return grow({variant: None})[variant]
        with self._lock:
            growing = self._growing.setdefault((run, group), threading.Lock())
        with growing:
            return self._carried_grow(run, group, variant, generation, grow)

    def _carried_grow(self, run: str, group: Hashable, variant: Hashable, generation, grow):
        now = time.monotonic()
        with self._lock:
            siblings = [
                (k[2], e) for k, e in reversed(self._carried.items())
                if k[:2] == (run, group) and k[2] != variant and now - e[3] < CARRIED_SIBLING_S
                and e[0] == generation
            ][:CARRIED_SIBLINGS]  # fmt: skip
        previous = {v: e[1] for v, e in siblings}
        previous[variant] = self.carried_value(run, group, variant, generation)
        values = grow(previous)
        with self._lock:
            for v, value in values.items():
                full = (run, group, v)
                old = self._carried.pop(full, None)
                used = now if v == variant or old is None else old[3]
                cost = size_of(value) + _ENTRY_OVERHEAD
                self._carried_used += cost - (old[2] if old is not None else 0)
                self._carried[full] = (generation, value, cost, used)
            while self._carried_used > DEFAULT_MAX_CARRIED_BYTES and len(self._carried) > 1:
                self._carried_used -= self._carried.popitem(last=False)[1][2]
        return values[variant]

    def carried_value(self, run: str, group: Hashable, variant: Hashable, generation):
        """What :meth:`carried` would pass for ``variant`` now (None: nothing to extend)."""
        with self._lock:
            hit = self._carried.get((run, group, variant))
        same = hit is not None and generation is not None and hit[0] == generation
        return hit[1] if same else None

    def clear(self) -> None:
        with self._lock:
            self._carried.clear()
            self._carried_used = 0
            self._items.clear()
            self._tokens.clear()
            self._used = {False: 0, True: 0}

    @property
    def cached_bytes(self) -> int:
        return self._used[False] + self._used[True]

    def _drop_run(self, run: str) -> None:
        for full in [k for k in self._items if k[0] == run]:
            cost = self._items.pop(full)[1]
            self._used[cost <= SMALL_BYTES] -= cost

    def _evict(self, small: bool) -> None:
        """Least recently used entries of one size class go until it fits its budget (the
        newest entry stays, even when it alone is over)."""
        if self._used[small] <= self._budget[small]:
            return
        for full in list(self._items)[:-1]:
            cost = self._items[full][1]
            if (cost <= SMALL_BYTES) == small:
                del self._items[full]
                self._used[small] -= cost
                if self._used[small] <= self._budget[small]:
                    return

    def _read(self, method: str, run: str, *args, rank=None):
        def compute():
            if rank is None:
                return getattr(self.backend, method)(run, *args)
            return getattr(self.backend, method)(run, *args, rank=rank)

        return self.memo(run, (method, rank, *args), compute)

    # ------------------------------------------------------------------ reads
    def tags(self, run, kind=None, *, rank=None):
        return self._read("tags", run, kind, rank=rank)

    def scalars(self, run, tag, start=None, end=None, *, rank=None):
        return self._read("scalars", run, tag, start, end, rank=rank)

    def has_scalars(self, run, tag, start=None, end=None, *, rank=None) -> bool:
        """Whether :meth:`scalars` with these arguments would answer without reading."""
        return self.is_cached(run, ("scalars", rank, tag, start, end))

    def scalars_pieces(self, run, tag, points: int = PIECE_POINTS, *, rank=None, start=None):
        """The tag's series from step ``start`` on (default: all of it) as consecutive step
        windows of about ``points`` points each, read straight from the backend and not
        cached: for reductions over a series too long to hold whole (memory, and the page
        faults of fresh memory, grow with what is held). The windows end at the last step the
        tag had when this was called."""
        info = self._read("tags", run, "scalar", rank=rank).get(tag)
        if info is None or not info.count:
            return
        first, last = info.first_step, info.last_step
        if start is not None and start > first:
            if start > last:
                return
            # the points from start on, as if evenly spread over the steps
            count = info.count * (last - start + 1) / (last - first + 1)
            first = start
        else:
            count = info.count
        windows = max(1, -(-int(count) // points))
        width = -(-(last - first + 1) // windows)
        for lo in range(first, last + 1, width):
            hi = min(lo + width - 1, last)
            if rank is None:
                yield self.backend.scalars(run, tag, lo, hi)
            else:
                yield self.backend.scalars(run, tag, lo, hi, rank=rank)

    def scalars_downsampled(self, run, tag, buckets, start=None, end=None, *, rank=None):
        return self._read("scalars_downsampled", run, tag, buckets, start, end, rank=rank)

    def scalars_since(self, run, tag, after_step, *, rank=None):
        # the live tail: always fresh
        if rank is None:
            return self.backend.scalars_since(run, tag, after_step)
        return self.backend.scalars_since(run, tag, after_step, rank=rank)

    def histograms(self, run, tag, *, rank=None):
        return self._read("histograms", run, tag, rank=rank)

    def texts(self, run, tag=None, *, rank=None):
        return self._read("texts", run, tag, rank=rank)

    def images(self, run, tag, *, rank=None):
        return self._read("images", run, tag, rank=rank)

    def image_png(self, run, tag, step, *, rank=None):
        return self._read("image_png", run, tag, step, rank=rank)

    def pr_curves(self, run, tag, *, rank=None):
        return self._read("pr_curves", run, tag, rank=rank)

    def hparams(self, run):
        return self._read("hparams", run)

    def trials(self, run):
        return self._read("trials", run)

    def custom_scalars(self, run):
        return self._read("custom_scalars", run)

    def graph(self, run):
        return self._read("graph", run)

    def watched_nodes(self, run):
        return self._read("watched_nodes", run)

    def watch_stats(self, run, node):
        return self._read("watch_stats", run, node)

    def numerics(self, run):
        return self._read("numerics", run)
