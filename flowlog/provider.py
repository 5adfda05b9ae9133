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
    "RankInfo",
    "Unreadable",
    "TagInfo",
    "ImageInfo",
    "PrCurve",
    "Trial",
    "Series",
    "Buckets",
    "Histogram",
    "TAG_KINDS",
]

TAG_KINDS = ("scalar", "histogram", "text", "image", "pr_curve")
SERIES_SEP = "\x1f"  # stored add_scalars tag: main tag + SERIES_SEP + key (flowlog.schema)


class ReadError(RuntimeError):
    """A run (or a file of it) exists but cannot be read: the message names it and why."""


@dataclass(frozen=True)
class RankInfo:
    """One process of a run written by several torch.distributed ranks (one file each)."""

    rank: int | None  # None: the run's ``flowlog.db`` (written without a rank)
    path: str
    status: str
    host: str
    pid: int
    heartbeat: float
    last_step: int | None


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
    # the ranks of a run written by several processes (empty for a single-file run); the
    # run's status is then the worst of theirs: crashed, else running, else finished
    ranks: tuple[RankInfo, ...] = ()
    # tag -> items the writer could not store and dropped (flowlog.writer_flush's policy)
    dropped: dict = field(default_factory=dict, compare=False)
    # record kind -> its highest step ({"scalar": 999, "histogram": 9}): a view of one kind
    # follows its own records, which may lag the run's last step (histograms per epoch)
    last_steps: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Unreadable:
    """A run (or one rank file of it) that discovery found but cannot read: the views show it
    as damaged, with its name and the reason, while every other run draws normally."""

    name: str  # the run name as it would be listed (``name [rank R]`` for one rank's file)
    path: str  # the file, for messages
    reason: str  # why, in words ("not a readable SQLite database (file is not a database)",
    # "not a regular file (FIFO)", "open timed out after 2 s", "cannot read run metadata (…)")


@dataclass(frozen=True)
class TagInfo:
    tag: str  # the stored name: what every read method takes
    kind: str  # one of TAG_KINDS
    count: int
    first_step: int | None
    last_step: int | None
    node: str | None  # graph node name for watch tags
    #: changes whenever the tag's points change other than by appending (a rewritten step, a
    #: purge, a new file); None where the backend cannot tell. A reader may extend what it
    #: derived from the points while this holds (:meth:`CachedProvider.carried`).
    generation: Hashable | None = None

    @property
    def chart(self) -> str:
        """The chart the tag is drawn in: its ``add_scalars`` main tag, else the tag."""
        return self.tag.split(SERIES_SEP, 1)[0]

    @property
    def series(self) -> str | None:
        """The ``add_scalars`` key (one line of the chart), or None for a plain tag."""
        parts = self.tag.split(SERIES_SEP, 1)
        return parts[1] if len(parts) == 2 else None

    @property
    def label(self) -> str:
        """How the tag reads in lists and files: ``Loss/train`` for add_scalars' series."""
        return tag_label(self.tag)


def first_finding(findings: list[dict]) -> dict | None:
    """The earliest of a run's check_numerics findings (:meth:`DataProvider.numerics`): lowest
    step, then logged order — the NaN origin every view and ``export-graph`` point at."""
    if not findings:
        return None
    return min(enumerate(findings), key=lambda p: (p[1].get("step") or 0, p[0]))[1]


def tag_label(tag: str) -> str:
    """A stored tag as users read it: an add_scalars series ``main U+001F key`` is ``main/key``."""
    return tag.replace(SERIES_SEP, "/")


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


@dataclass(frozen=True)
class ImageInfo:
    """An image at one step; its PNG bytes come from :meth:`DataProvider.image_png`."""

    step: int
    wall: float
    height: int
    width: int
    channels: int
    meta: dict | None  # e.g. {"labels": [...]} of add_image_with_boxes


@dataclass(frozen=True)
class PrCurve:
    step: int
    wall: float
    num_thresholds: int
    # rows: TP, FP, TN, FN, precision, recall (TensorBoard's order), one column per threshold
    table: np.ndarray


@dataclass(frozen=True)
class Trial:
    """One ``add_hparams`` call."""

    index: int  # 1, 2, ... in logging order within the run
    name: str | None  # the call's run_name
    step: int | None
    wall: float | None
    hparams: dict
    metrics: dict
    domains: dict  # hparam_domain_discrete


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

    def unreadable(self) -> list[Unreadable]:
        """Runs the last discovery found but cannot read (damaged, foreign, newer schema, not
        a regular file, an open that timed out), sorted by name; :meth:`runs` leaves them out
        and every read of one raises :class:`ReadError` naming it."""
        ...

    def run_info(self, run: str) -> RunInfo: ...

    def change_token(self, run: str) -> Hashable:
        """Cheap; changes whenever anything is committed to the run (caches key on it)."""
        ...

    def tags(self, run: str, kind: str | None = None, *, rank: int | None = None
             ) -> dict[str, TagInfo]:  # fmt: skip
        """``{tag: TagInfo}`` in creation order, optionally of one kind only.

        ``rank`` (every read method takes it): one rank of a run written by several
        (:attr:`RunInfo.ranks`); None reads the run's first rank that has the tag, and
        ``tags`` lists the union of all ranks' tags.
        """
        ...

    def scalars(
        self, run: str, tag: str, start: int | None = None, end: int | None = None, *,
        rank: int | None = None,
    ) -> Series: ...  # fmt: skip

    def scalars_downsampled(
        self, run: str, tag: str, buckets: int, start: int | None = None, end: int | None = None,
        *, rank: int | None = None,
    ) -> Buckets:  # fmt: skip
        """At most ``buckets`` equal step ranges; every point of the range in exactly one."""
        ...

    def scalars_since(self, run: str, tag: str, after_step: int | None, *,
                      rank: int | None = None) -> Series:  # fmt: skip
        """Points with ``step > after_step`` (all when None): what a live view appends."""
        ...

    def histograms(self, run: str, tag: str, *, rank: int | None = None) -> list[Histogram]: ...

    def texts(self, run: str, tag: str | None = None, *, rank: int | None = None
              ) -> list[tuple[str, int, float, str]]:  # fmt: skip
        """``(tag, step, wall, text)`` for one tag or all."""
        ...

    def hparams(self, run: str) -> tuple[dict, dict]:
        """``(hparams, metrics)`` of the run's latest trial; both empty when none."""
        ...

    def trials(self, run: str) -> list[Trial]:
        """Every ``add_hparams`` call of the run, in order."""
        ...

    def images(self, run: str, tag: str, *, rank: int | None = None) -> list[ImageInfo]: ...

    def image_png(self, run: str, tag: str, step: int, *, rank: int | None = None) -> bytes:
        """The PNG logged at ``step``; KeyError when there is none."""
        ...

    def pr_curves(self, run: str, tag: str, *, rank: int | None = None) -> list[PrCurve]: ...

    def custom_scalars(self, run: str) -> dict | None:
        """The latest custom-scalars layout (:func:`flowlog.media.custom_scalars_layout`)."""
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
