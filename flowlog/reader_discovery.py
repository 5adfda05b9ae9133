"""Where the runs of a logdir are: run directories, rank files, single-file runs (no opening).

Names alone decide what is a candidate, whatever the entry is (a directory or a FIFO named
``flowlog.db`` is found too, so that the opener can list it as unreadable instead of it
vanishing silently); :mod:`flowlog.reader_open` checks that each is a regular file.
"""

from __future__ import annotations

import os
import re

from flowlog import schema

_RANK_FILE = re.compile(r"flowlog\.rank(0|[1-9]\d{0,5})\.db")  # as the writer names them

#: ``{run name: (location, [(rank, database path)])}``: location is the run directory, or the
#: file itself for a single-file run
Found = dict[str, tuple[str, list[tuple[int | None, str]]]]


def database_names(names) -> frozenset[str]:
    """The names of a run directory's databases among ``names`` (a directory listing)."""
    return frozenset(n for n in names if n == schema.RUN_FILE or _RANK_FILE.fullmatch(n))


def run_location(path: str) -> tuple[str, str | None]:
    """``(logdir, run name)`` of a path a user names: a logdir (name None), a run directory,
    one of its databases, or a single-file run; ValueError for anything else."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        if not database_names(os.listdir(path)):
            return path, None
        run_dir = path  # a run directory: the run of its parent logdir
    else:
        base = os.path.basename(path)
        suffix = schema.RUN_SUFFIX
        if database_names([base]):
            run_dir = os.path.dirname(path)
        elif base.endswith(suffix) and base != suffix:
            run_dir = path[: -len(suffix)]  # the single-file layout
        else:
            raise ValueError(
                f"{path} is not a flowlog log (expected a logdir, a run directory, a "
                f"{schema.RUN_FILE} or a *{suffix} file)"
            )
    return os.path.dirname(run_dir), os.path.basename(run_dir)


def listing(location: str, parts) -> list:
    """``[location, database names, mtime]`` of a run directory as discovered; the mtime is
    None (always list again) when a database appeared since discovery listed it."""
    names = database_names(os.path.basename(p) for _, p in parts)
    try:
        mtime = os.stat(location).st_mtime_ns  # before the listing: a later file changes it
        if database_names(os.listdir(location)) != names:
            mtime = None
    except OSError:
        mtime = None
    return [location, names, mtime]


def discover(logdir: str, on_error) -> tuple[Found, dict[str, str]]:
    """Every run under ``logdir``, and the single files a run directory's name shadows
    (path -> why they are skipped).

    A run is a directory holding ``flowlog.db`` and/or ``flowlog.rank<R>.db`` (named by its
    path relative to the logdir, ``"."`` for the logdir itself), or a single-file run
    ``<name>.flowlog.db`` (the older layout), unless a run directory has its name. Directory
    symlinks are not followed; ``on_error(OSError)`` hears of unlistable directories.
    """
    found: Found = {}
    single: dict[str, str] = {}
    if not os.path.isdir(logdir):
        return found, {}  # not created yet: no runs (the dashboard may start first)
    suffix = schema.RUN_SUFFIX
    for root, dirs, files in os.walk(logdir, onerror=on_error):
        dirs.sort()
        rel_root = os.path.relpath(root, logdir).replace(os.sep, "/")
        parts = []
        for fname in sorted(files + dirs):  # a directory named like a database is listed too
            full = os.path.join(root, fname)
            if fname.endswith(suffix) and len(fname) > len(suffix):
                stem = fname[: -len(suffix)]
                single[stem if rel_root == "." else f"{rel_root}/{stem}"] = full
            elif fname == schema.RUN_FILE:
                parts.append((None, full))
            elif (match := _RANK_FILE.fullmatch(fname)) is not None:
                parts.append((int(match[1]), full))
        if parts:
            parts.sort(key=lambda p: (p[0] is not None, p[0] or 0))
            found[rel_root] = (root, parts)
    shadowed = {}
    for name, path in single.items():
        if name in found:
            shadowed[path] = f"a run directory {name!r} has the same name"
        else:
            found[name] = (path, [(None, path)])
    return found, shadowed
