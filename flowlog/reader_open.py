"""Opening one run database without ever hanging, writing, or creating a file.

* Only regular files are opened: a FIFO blocks ``open()`` until a writer appears, a device
  reads forever, a directory is not a database. The database and, beside the file it resolves
  to (SQLite follows symlinks), its ``-wal`` and ``-shm`` are checked with ``os.stat`` first.
* Every open and its validation run in a daemon thread the caller waits on at most
  ``OPEN_TIMEOUT_SECS`` (a file locked by another program, a hung network mount). An open
  that timed out is remembered while its thread still runs, so no second open of the same
  files starts, and the caller is told at once.
* A file whose WAL is absent or empty is current on its own and is opened ``immutable=1``
  (no locks, no -wal/-shm created; a read-only directory works). A WAL with content needs the
  WAL-reading ``mode=ro`` connection, which uses the -shm that is there (SQLite >= 3.22 reads a
  read-only one). A WAL without a -shm cannot be read without creating one: the database is
  read immutable without the WAL's commits, and the state says so.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass

from flowlog import schema

#: the longest an open of one database (connect + validation) may take before it is given up
OPEN_TIMEOUT_SECS = 2.0

_KINDS = {
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFDIR: "directory",
}


def kind_of(mode: int) -> str | None:
    """None for a regular file, else what it is, in words."""
    if stat.S_ISREG(mode):
        return None
    return _KINDS.get(stat.S_IFMT(mode), "special file")


class OpenTimeout(schema.LogFileError):
    """An open that did not finish within ``OPEN_TIMEOUT_SECS``."""


@dataclass(frozen=True)
class FileState:
    """A database file and its -wal/-shm as one stat each: ``(dev, ino, size, mtime_ns)``, None
    when absent. ``problem`` says why it must not be opened (None when it may)."""

    main: tuple
    wal: tuple | None
    shm: tuple | None
    problem: str | None = None
    real: str | None = None  # the file the path resolves to (beside which the -wal/-shm are)

    @property
    def immutable(self) -> bool:
        """Whether the database file alone holds every commit that can be read (or, WAL
        without -shm, every commit that can be read without creating a file)."""
        return self.wal is None or self.wal[2] == 0 or self.shm is None

    @property
    def unread_wal(self) -> bool:
        """A WAL with commits that only a -shm would let us read."""
        return self.wal is not None and self.wal[2] > 0 and self.shm is None

    @property
    def key(self) -> tuple:
        """Which files these are (not their contents): the identity of an open in flight."""
        return tuple(None if s is None else s[:2] for s in (self.main, self.wal, self.shm))

    def view(self) -> tuple:
        """What an immutable connection's answers depend on: the database's identity, size
        and mtime; the WAL's size; whether a -shm exists (a writer opened the file)."""
        return (self.main, None if self.wal is None else self.wal[2], self.shm is not None)


def _ident(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def probe(path: str, real: str | None = None) -> FileState:
    """The state of the database at ``path``; FileNotFoundError when it has gone. ``real``:
    where it resolved to before (resolving symlinks is most of the cost), when it is the same
    file still."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return FileState((None, None, 0, 0), None, None, "a symbolic link to a missing file")
        raise
    kind = kind_of(st.st_mode)
    if kind is not None:
        return FileState(_ident(st), None, None, f"not a regular file ({kind})")
    if real is None:
        real = os.path.realpath(path)  # SQLite puts the -wal/-shm beside the resolved file
    sides = []
    problem = None
    for suffix in ("-wal", "-shm"):
        try:
            side = os.stat(real + suffix)
        except FileNotFoundError:
            sides.append(None)
            continue
        sides.append(_ident(side))
        kind = kind_of(side.st_mode)
        if kind is not None and problem is None:
            problem = f"its {os.path.basename(real)}{suffix} is not a regular file ({kind})"
    return FileState(_ident(st), sides[0], sides[1], problem, real)


class _Opening:
    """One open in a daemon thread; the result waits for the caller, or is closed when the
    caller has given up on it."""

    def __init__(self, path: str, state: FileState):
        self.path = path
        self.state = state
        self.done = threading.Event()
        self.conn = None
        self.error: BaseException | None = None
        self.abandoned = False

    def run(self) -> None:
        conn = None
        try:
            conn = schema.open_for_read(self.path, immutable=self.state.immutable)
            if schema.read_run(conn) is None:
                raise schema.LogFileError(f"{self.path}: run metadata row is missing")
        except BaseException as exc:  # handed to the caller, which knows sqlite3's errors
            if conn is not None:
                conn.close()
            conn = None
            self.error = exc
        with _pending_lock:
            if self.abandoned:
                _pending.pop(self.state.key, None)
                if conn is not None:
                    conn.close()
                conn = None
            self.conn = conn
            self.done.set()


_pending: dict[tuple, _Opening] = {}  # files key -> an open that timed out and still runs
_pending_lock = threading.Lock()


def pending(state: FileState) -> bool:
    """Whether an open of these very files timed out and has not finished yet."""
    with _pending_lock:
        return state.key in _pending


def open_run_file(path: str, state: FileState, timeout: float | None = None):
    """A validated read-only connection to the database ``state`` describes (immutable when
    its WAL is empty), within ``timeout`` seconds; :class:`OpenTimeout` when it takes longer
    (its thread runs on and closes what it opens), LogFileError or the open's own exception
    otherwise."""
    timeout = OPEN_TIMEOUT_SECS if timeout is None else timeout
    if state.problem is not None:
        raise schema.LogFileError(f"{path}: {state.problem}")
    with _pending_lock:
        if state.key in _pending:
            raise OpenTimeout(f"{path}: {_timed_out(timeout)} (still waiting for it)")
        opening = _Opening(path, state)
        name = f"flowlog-open {path}"
        threading.Thread(target=opening.run, name=name, daemon=True).start()
    if not opening.done.wait(timeout):
        with _pending_lock:
            if not opening.done.is_set():
                opening.abandoned = True
                _pending[state.key] = opening
                raise OpenTimeout(f"{path}: {_timed_out(timeout)}")
    if opening.error is not None:
        raise opening.error
    return opening.conn


def _timed_out(timeout: float) -> str:
    return f"open timed out after {timeout:g} s"


def wait_for_pending(deadline_secs: float) -> bool:
    """Wait until no timed-out open is still running (tests, shutdown); whether none is."""
    end = time.monotonic() + deadline_secs
    while True:
        with _pending_lock:
            left = list(_pending.values())
        if not left:
            return True
        remaining = end - time.monotonic()
        if remaining <= 0:
            return False
        left[0].done.wait(remaining)
