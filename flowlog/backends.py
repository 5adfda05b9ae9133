"""Which storage backend reads a logdir: the one place the dashboard and the CLI open logs."""

from __future__ import annotations

import os

from flowlog.provider import DataProvider


def open_logdir(
    path: str | os.PathLike, *, cache: bool = True, cache_dir: str | None = None
) -> DataProvider:
    """The data provider of a logdir: its flowlog runs beside its TensorBoard runs (event
    files converted once into ``cache_dir``, by default ``$FLOWLOG_CACHE_DIR`` or
    ``~/.cache/flowlog``, never inside the logdir); with ``cache``, wrapped in the one cache
    keyed on change tokens (the dashboard's way in; the CLI reads once, uncached)."""
    from flowlog.provider_cache import CachedProvider
    from flowlog.provider_merge import MergedProvider
    from flowlog.reader import SqliteProvider
    from flowlog.tensorboard_provider import TensorBoardProvider

    flowlog_runs = SqliteProvider(path)
    tensorboard_runs = TensorBoardProvider(path, cache_dir)
    provider = MergedProvider([(flowlog_runs, "flowlog"), (tensorboard_runs, "tensorboard")])
    return CachedProvider(provider) if cache else provider


def run_location(path: str | os.PathLike) -> tuple[str, str | None]:
    """``(logdir, run name)`` of a path on the command line: a logdir (name None), a run
    directory, one of its database files or a single-file run; ValueError naming the path for
    anything else. The storage layout stays the backend's business."""
    from flowlog.reader import run_location as sqlite_run_location

    return sqlite_run_location(os.fspath(path))
