"""Whether a run marked 'running' still is: its process on this host, or its heartbeat.

The writer asks the same question before it takes a run over (one writer per database).
"""

from __future__ import annotations

import os
import socket
import time

#: a 'running' run whose heartbeat is older than this many flush intervals (+ grace) crashed
STALE_FLUSHES = 3
STALE_GRACE_SECS = 60.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def effective_status(row: dict, now: float | None = None) -> str:
    """The stored status, except a 'running' run is 'crashed' when its process is gone.

    Gone means: on this host and its pid is not alive, or (any host) no heartbeat for
    ``STALE_FLUSHES`` flush intervals plus ``STALE_GRACE_SECS`` (the writer's flush thread
    beats at every ``flush_secs`` while the process lives).
    """
    if row["status"] != "running":
        return row["status"]
    if row["host"] == socket.gethostname() and not pid_alive(row["pid"]):
        return "crashed"
    now = time.time() if now is None else now
    if now - row["heartbeat"] > STALE_FLUSHES * row["flush_secs"] + STALE_GRACE_SECS:
        return "crashed"
    return "running"
