"""The data-provider interface: what every view and the CLI read, whatever stores the runs.

Modelled on TensorBoard's ``DataProvider``: plain methods that take a run name and return
plain values (numpy arrays, dataclasses, dicts). A storage backend implements
:class:`DataProvider` — :class:`flowlog.reader.SqliteProvider` for flowlog's own SQLite event
log is the first; a TensorBoard event-file backend or a run made of several rank files fits
behind the same methods. :class:`flowlog.provider_cache.CachedProvider` wraps any backend with
the one cache, keyed on each run's change token; :func:`flowlog.backends.open_logdir` picks the
backend for a logdir.

Errors a backend raises: ``KeyError`` naming the run (or tag) when it does not exist,
``ValueError`` for a tag of another kind, :class:`ReadError` when a run exists but cannot be
read now (a damaged file, an I/O error). No backend lets its storage library's exceptions
(``sqlite3.Error``) escape, so callers never import that library to catch them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DataProvider",
    "ReadError",
    "RunInfo",
    "TagInfo",
    "Series",
    "Buckets",
    "Histogram",
    "TAG_KINDS",
]

TAG_KINDS = ("scalar", "histogram", "text")


class ReadError(RuntimeError):
    """A run (or a file of it) exists but cannot be read: the message names it and why."""


@dataclass(frozen=True)
class RunInfo:
    name: str
    path: str  # where the run is stored (file or directory), for messages
    start_time: float
    end_time: float | None
    status: str  # 'running' | 'finished' | 'crashed'
    host: str
    pid: int
    cmdline: list[str]
    last_step: int | None
    heartbeat: float
    flowlog_version: str
    # changes whenever anything is committed to the run; equal tokens mean equal data
    token: Hashable = field(default=None, compare=False)


@dataclass(frozen=True)
class TagInfo:
    tag: str
    kind: str  # 'scalar' | 'histogram' | 'text'
    count: int
    first_step: int | None
    last_step: int | None
    node: str | None  # graph node name for watch tags


class Series(NamedTuple):
    step: np.ndarray  # int64
    wall: np.ndarray  # float64
    value: np.ndarray  # float64; NaN and ±Inf as logged


class Buckets(NamedTuple):
    """Downsampled series; min/max/mean over the finite points of each bucket (NaN if none)."""

    step: np.ndarray  # first step in the bucket (int64)
    last_step: np.ndarray  # last step in the bucket (int64)
    wall: np.ndarray  # wall time of the bucket's last point
    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    count: np.ndarray  # points in the bucket, including non-finite ones (int64)
    nan: np.ndarray  # NaN points in the bucket (int64)
    posinf: np.ndarray
    neginf: np.ndarray


@dataclass(frozen=True)
class Histogram:
    step: int
    wall: float
    edges: np.ndarray  # len(counts) + 1 bucket edges (empty when no value was finite)
    counts: np.ndarray
    min: float  # over finite values; NaN when none
    max: float
    sum: float
    sum_squares: float
    count: int  # all values, including non-finite ones
    nan: int
    posinf: int
    neginf: int


@runtime_checkable
class DataProvider(Protocol):
    """Everything a view or the CLI reads. ``run`` is a run name as listed by :meth:`runs`.

    Names are looked up among discovered runs, never joined onto paths, so a name from a
    browser request cannot reach outside the logdir. Steps in ``start``/``end`` are inclusive.
    """

    @property
    def location(self) -> str:
        """The logdir (or other source) as an absolute path or URL, for messages."""
        ...

    def runs(self) -> list[RunInfo]:
        """Every readable run, sorted by name (re-discovers what is stored)."""
        ...

    def warnings(self) -> list[str]:
        """What the last discovery skipped, each naming the file and why."""
        ...

    def run_info(self, run: str) -> RunInfo: ...

    def change_token(self, run: str) -> Hashable:
        """Cheap; changes whenever anything is committed to the run (caches key on it)."""
        ...

    def tags(self, run: str, kind: str | None = None) -> dict[str, TagInfo]:
        """``{tag: TagInfo}`` in creation order, optionally of one kind only."""
        ...

    def scalars(
        self, run: str, tag: str, start: int | None = None, end: int | None = None
    ) -> Series: ...

    def scalars_downsampled(
        self, run: str, tag: str, buckets: int, start: int | None = None, end: int | None = None
    ) -> Buckets:
        """At most ``buckets`` equal step ranges; every point of the range in exactly one."""
        ...

    def scalars_since(self, run: str, tag: str, after_step: int | None) -> Series:
        """Points with ``step > after_step`` (all when None): what a live view appends."""
        ...

    def histograms(self, run: str, tag: str) -> list[Histogram]: ...

    def texts(self, run: str, tag: str | None = None) -> list[tuple[str, int, float, str]]:
        """``(tag, step, wall, text)`` for one tag or all."""
        ...

    def hparams(self, run: str) -> tuple[dict, dict]:
        """``(hparams, metrics)``; both empty when none were logged."""
        ...

    def graph(self, run: str) -> dict | None:
        """The latest logged graph description (docs/architecture.md contract 1), or None."""
        ...

    def watched_nodes(self, run: str) -> list[str]: ...

    def watch_stats(self, run: str, node: str) -> dict[str, Series]:
        """``{stat: Series}`` of the scalar watch tags of one graph node."""
        ...

    def numerics(self, run: str) -> list[dict]:
        """check_numerics findings: node, op, phase, step, kind, inputs, run_index, wall."""
        ...
