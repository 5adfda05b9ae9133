"""Which storage backend reads a logdir: the one place the dashboard and the CLI open logs."""

from __future__ import annotations

import os

from flowlog.provider import DataProvider


def open_logdir(path: str | os.PathLike, *, cache: bool = True) -> DataProvider:
    """The data provider of a logdir of flowlog runs; with ``cache``, wrapped in the one
    cache keyed on change tokens (the dashboard's way in; the CLI reads once, uncached)."""
    from flowlog.provider_cache import CachedProvider
    from flowlog.reader import SqliteProvider

    provider = SqliteProvider(path)
    return CachedProvider(provider) if cache else provider


def run_location(path: str | os.PathLike) -> tuple[str, str | None]:
    """``(logdir, run name)`` of a path on the command line: a logdir (name None), a run
    directory, one of its database files or a single-file run; ValueError naming the path for
    anything else. The storage layout stays the backend's business."""
    from flowlog.reader import run_location as sqlite_run_location

    return sqlite_run_location(os.fspath(path))
