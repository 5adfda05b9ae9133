"""The provider of a logdir's TensorBoard runs: converted into flowlog runs in a cache
(:mod:`flowlog.tensorboard_cache`) on each discovery, then read like any flowlog run."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace

from flowlog.provider import RunInfo, Unreadable
from flowlog.provider_merge import Router
from flowlog.reader import SqliteProvider
from flowlog.reader_status import pid_alive
from flowlog.tensorboard_cache import Converted, TensorBoardCache, cache_dir_for

#: a TensorBoard run whose files changed this recently counts as running (they hold no status)
RUNNING_SECS = 120.0
SOURCE = "tensorboard"  # RunInfo.flowlog_version of a converted run: where it came from


class TensorBoardProvider(Router):
    def __init__(self, logdir: str | os.PathLike, cache_root: str | None = None):
        self.logdir = os.path.abspath(os.fspath(logdir))
        self.cache = TensorBoardCache(self.logdir, cache_dir_for(self.logdir, cache_root))
        self.store = SqliteProvider(self.cache.cache_dir)
        self._names: dict[str, str] = {}  # run name -> its name in the cache
        self._unreadable: list[Unreadable] = []
        self._warnings: list[str] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TensorBoardProvider({self.logdir!r}, cache={self.cache.cache_dir!r})"

    @property
    def location(self) -> str:
        return self.logdir

    def runs(self) -> list[RunInfo]:
        result = self.cache.sync()
        unreadable = list(result.unreadable)
        names, out = {}, []
        if result.runs:
            stored = {r.name: r for r in self.store.runs()}
            for name, conv in result.runs.items():
                info = stored.get(conv.cache_name)
                if info is None:
                    why = "its converted copy cannot be read (see the warnings)"
                    unreadable.append(Unreadable(name, conv.source, why))
                    continue
                names[name] = conv.cache_name
                out.append(_as_tensorboard(info, conv))
        warnings = result.warnings + self.store.warnings()  # a damaged converted copy
        with self._lock:
            self._names, self._unreadable, self._warnings = names, unreadable, warnings
        return sorted(out, key=lambda r: r.name)

    def warnings(self) -> list[str]:
        return list(self._warnings)

    def unreadable(self) -> list[Unreadable]:
        return list(self._unreadable)

    def _route(self, run: str):
        with self._lock:
            inner = self._names.get(run)
        if inner is None:
            raise KeyError(f"no TensorBoard run named {run!r} under {self.logdir}")
        return self.store, inner

    def close(self) -> None:
        self.store.close()


def _as_tensorboard(info: RunInfo, conv: Converted) -> RunInfo:
    """The cached run's info, with what the event files say of the original run."""
    origin = conv.origin
    running = time.time() - conv.mtime < RUNNING_SECS
    if running and origin.pid and origin.host == socket.gethostname():
        running = pid_alive(origin.pid)
    start = conv.first_wall if conv.first_wall is not None else origin.start_time
    return replace(
        info,
        name=conv.name,
        path=conv.source,
        start_time=start if start is not None else conv.mtime,
        end_time=None if running else (conv.last_wall or conv.mtime),
        status="running" if running else "finished",
        host=origin.host,
        pid=origin.pid,
        cmdline=[],
        heartbeat=conv.mtime,
        flowlog_version=SOURCE,
        ranks=(),
    )
