"""TensorBoard runs converted once into flowlog runs in a cache directory, then kept up to date.

Reading event files is slow (TensorBoard's ``EventAccumulator`` takes ~12 µs per event here), so
each TensorBoard run of a logdir is converted into a flowlog run under a cache root outside the
logdir and served from there. A manifest beside each converted run records, per event file, its
identity (device, inode), size and the offset read up to: a file that grew is appended from
that offset (a live training run), a file replaced or shrunk has its run converted again.
Nothing is ever written into the logdir. One process converts a cache at a time (``flock``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field

from flowlog import tensorboard_events as te
from flowlog.provider import Unreadable

CACHE_ENV = "FLOWLOG_CACHE_DIR"
MANIFEST = "tensorboard.json"
FORMAT = 1  # bump to convert every cached run again (a converter change)
ROOT_RUN = "_logdir_"  # the cache directory of the run "." (event files in the logdir itself)


def default_cache_root() -> str:
    """``$FLOWLOG_CACHE_DIR``, else ``$XDG_CACHE_HOME/flowlog``, else ``~/.cache/flowlog``."""
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "flowlog",
    )
    return os.path.abspath(base)


def cache_dir_for(logdir: str, cache_root: str | None = None) -> str:
    """The cache of one logdir: ``<root>/tensorboard/<logdir name>-<hash of its real path>``.

    The logdir is never written: a default root inside it (``--logdir ~``) gives way to the
    temporary directory; ValueError when a root given, or every candidate, lies inside it.
    """
    real = os.path.realpath(logdir)
    candidates = [cache_root] if cache_root else [
        default_cache_root(), os.path.join(tempfile.gettempdir(), f"flowlog-{os.getuid()}"),
    ]  # fmt: skip
    for candidate in candidates:
        root = os.path.realpath(candidate)
        if not (root == real or root.startswith(real.rstrip(os.sep) + os.sep)):
            break
    else:
        raise ValueError(
            f"the conversion cache {root} is inside the logdir {real}, which flowlog never "
            f"writes into: set ${CACHE_ENV} (or --cache-dir) to a directory outside it"
        )
    digest = hashlib.sha1(real.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = os.path.basename(real.rstrip(os.sep)) or "root"
    return os.path.join(root, "tensorboard", f"{name}-{digest}")


@dataclass
class Converted:
    """A TensorBoard run as converted: where its flowlog copy is, and what its files say."""

    name: str  # the run's name in the logdir (TensorBoard's: the directory, "." for the top)
    source: str  # its directory in the logdir
    cache_name: str  # its run name under the cache directory
    files: list[str]
    origin: te.Origin
    first_wall: float | None
    last_wall: float | None
    mtime: float  # newest event file's modification time
    skipped: dict = field(default_factory=dict)  # tag -> values skipped (kept across passes)
    file_entries: dict = field(default_factory=dict)  # the manifest's, per event file


@dataclass
class SyncResult:
    runs: dict[str, Converted]
    unreadable: list[Unreadable]
    warnings: list[str]


class TensorBoardCache:
    """Keeps ``cache_dir`` a converted copy of the TensorBoard runs of ``logdir``."""

    def __init__(self, logdir: str, cache_dir: str, root_name: str = ROOT_RUN):
        self.logdir = os.path.abspath(logdir)
        self.cache_dir = cache_dir
        self.root_name = root_name  # what the run "." is called under cache_dir
        self._lock = threading.Lock()
        self._last: SyncResult = SyncResult({}, [], [])
        # target -> (the manifest file's identity, its content): every discovery consults
        # each run's manifest; it is read again only when a pass replaced it
        self._manifests: dict[str, tuple[tuple, dict]] = {}

    def sync(self) -> SyncResult:
        """Convert what is new in every TensorBoard run; the runs found, each readable from
        its ``cache_name`` under :attr:`cache_dir` (or listed as unreadable, with why)."""
        with self._lock:
            found = te.event_runs(self.logdir)
            if not found:
                self._last = SyncResult({}, [], [])
                return self._last
            try:
                event_cls = te.protos()
            except te.MissingTensorBoard as exc:
                return self._without_protos(found, str(exc))
            runs, unreadable, warnings = {}, [], []
            with self._exclusive() as owner:
                for name, files in found.items():
                    try:
                        conv = self._sync_run(name, files, event_cls.Event, owner)
                    except (OSError, ValueError, RuntimeError) as exc:
                        why = f"cannot convert its event files ({exc})"
                        unreadable.append(Unreadable(name, os.path.dirname(files[0]), why))
                        continue
                    runs[name] = conv
                    warnings += _skip_warnings(conv)
            self._last = SyncResult(runs, unreadable, warnings)
            return self._last

    def _without_protos(self, found: dict, why: str) -> SyncResult:
        unreadable = [
            Unreadable(name, os.path.dirname(files[0]), f"TensorBoard event files: {why}")
            for name, files in found.items()
        ]
        self._last = SyncResult({}, unreadable, [])
        return self._last

    @contextlib.contextmanager
    def _exclusive(self):
        """An advisory lock on the cache: True while this process may convert, False while
        another holds it (this pass then reads what is converted so far)."""
        import fcntl

        os.makedirs(self.cache_dir, exist_ok=True)
        fd = os.open(os.path.join(self.cache_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                owner = True
            except OSError:
                owner = False
            yield owner
        finally:
            os.close(fd)  # releases the lock

    # ------------------------------------------------------------------ one run
    def _sync_run(self, name: str, files: list[str], event_cls, owner: bool) -> Converted:
        stored_as = self.root_name if name == "." else name
        target = os.path.join(self.cache_dir, stored_as)
        manifest = self._manifest(target)
        states = {os.path.basename(p): _file_state(p) for p in files}
        if owner:
            if manifest is None or _must_rebuild(manifest, states):
                _clear_run(target, manifest is not None)
                manifest = {"format": FORMAT, "files": {}, "state": {}, "skipped": {}}
            pending = [p for p in files if _unread(manifest, os.path.basename(p), states)]
            if pending:
                manifest = self._convert(target, manifest, pending, files[0], states, event_cls)
        elif manifest is None or manifest.get("converting"):
            raise RuntimeError("another process is converting it; shown once converted")
        if not os.path.exists(os.path.join(target, "flowlog.db")):
            # nothing stored yet (no values in the files so far): an empty run, as TensorBoard
            manifest = self._convert(target, manifest, [], files[0], states, event_cls)
        state = manifest.get("state", {})
        return Converted(
            name=name,
            source=os.path.dirname(files[0]),
            cache_name=stored_as,
            files=files,
            origin=te.origin(files[0]),
            first_wall=state.get("first_wall"),
            last_wall=state.get("last_wall"),
            mtime=max(s["mtime_ns"] for s in states.values()) / 1e9,
            skipped=manifest.get("skipped", {}),
            file_entries=manifest.get("files", {}),
        )

    def _manifest(self, target: str) -> dict | None:
        path = os.path.join(target, MANIFEST)
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)  # replaced whole: new inode
        hit = self._manifests.get(target)
        if hit is not None and hit[0] == key:
            return hit[1]
        manifest = _load(target)
        if manifest is not None:
            self._manifests[target] = (key, manifest)
        return manifest

    def _convert(self, target, manifest, pending, first_file, states, event_cls) -> dict:
        """Append the unread part of each pending file; the manifest says 'converting' while
        the cached run is being written, so a pass cut short is converted again whole."""
        from flowlog.tensorboard_convert import EventConverter
        from flowlog.writer import SummaryWriter

        os.makedirs(target, exist_ok=True)
        _store(target, {**manifest, "converting": True})
        class ImportWriter(SummaryWriter):
            def _meta(self) -> dict:  # the run started when its first event file was made
                meta = super()._meta()
                meta["start_time"] = te.origin(first_file).start_time or meta["start_time"]
                meta["cmdline"] = ["flowlog import-tensorboard", os.path.dirname(first_file)]
                return meta

        writer = ImportWriter(log_dir=target, max_queue=100_000, flush_secs=30)
        try:
            conv = EventConverter(writer, manifest.get("state"))
            files = dict(manifest["files"])
            for path in pending:
                base = os.path.basename(path)
                offset = files.get(base, {}).get("offset", 0)
                offset, damaged = _read_file(path, offset, conv, event_cls)
                files[base] = {**states[base], "offset": offset, "damaged": damaged}
            conv.finish()
        finally:
            writer.close()
        skipped = dict(manifest.get("skipped", {}))
        for tag, count in conv.skipped.items():
            old = skipped.get(tag, [0, conv.reasons[tag]])
            skipped[tag] = [old[0] + count, old[1]]
        out = {"format": FORMAT, "files": files, "state": conv.state, "skipped": skipped}
        _store(target, out)
        return out


def _clear_run(target: str, converted: bool) -> None:
    """Remove a converted run's own files (not the runs nested below it); a flowlog run that
    no conversion made (``import-tensorboard`` into a logdir holding one) is never removed."""
    try:
        names = os.listdir(target)
    except FileNotFoundError:
        return
    if not converted and any(n.startswith("flowlog.") for n in names):
        raise ValueError(f"{target} holds a flowlog run that is not a conversion: not replaced")
    for n in names:
        if n.startswith("flowlog.") or n == MANIFEST:
            os.unlink(os.path.join(target, n))


def _read_file(path: str, offset: int, conv, event_cls) -> tuple[int, str | None]:
    """Feed ``path``'s records from ``offset``; ``(offset read up to, why it stopped early)``."""
    try:
        for record, end in te.records(path, offset):
            conv.add(record, event_cls)
            offset = end
    except ValueError as exc:  # a damaged record: keep what came before it
        return offset, str(exc)
    return offset, None


def _unread(manifest: dict, base: str, states: dict) -> bool:
    """Whether the file has bytes past what was read (a damaged one only once it changes)."""
    entry = manifest["files"].get(base)
    if entry is None:
        return True
    if entry.get("damaged") and states[base] == _state_of(entry):
        return False
    return states[base]["size"] > entry["offset"]


def _file_state(path: str) -> dict:
    st = os.stat(path)
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _must_rebuild(manifest: dict, states: dict) -> bool:
    """A pass cut short, another converter version, or a file replaced, shrunk or gone."""
    if manifest.get("format") != FORMAT or manifest.get("converting"):
        return True
    for base, old in manifest.get("files", {}).items():
        now = states.get(base)
        if now is None or (now["dev"], now["ino"]) != (old["dev"], old["ino"]):
            return True
        if now["size"] < old["offset"] or (old.get("damaged") and now != _state_of(old)):
            return True  # a damaged file that changed: read it again from the start
    return False


def _state_of(entry: dict) -> dict:
    return {k: entry[k] for k in ("dev", "ino", "size", "mtime_ns")}


def _skip_warnings(conv: Converted) -> list[str]:
    out = [
        f"{conv.source}: {count} value(s) of {tag!r} not shown: {why}"
        for tag, (count, why) in sorted(conv.skipped.items())
    ]
    out += [
        f"{entry['damaged']}; what follows in the file is not shown"
        for entry in conv.file_entries.values()
        if entry.get("damaged")
    ]
    return out


def _load(target: str) -> dict | None:
    try:
        with open(os.path.join(target, MANIFEST), encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) and "files" in data else None
    except (OSError, ValueError):
        return None


def _store(target: str, manifest: dict) -> None:
    """Written whole or not at all (a rename), so a killed converter leaves a readable one."""
    path = os.path.join(target, MANIFEST)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
    os.replace(tmp, path)
