"""TensorBoard event files: where they are in a logdir and their records, read incrementally.

An event file is a TFRecord stream: per record a little-endian uint64 length, a masked CRC-32C
of the length, the serialized ``Event`` proto and a masked CRC-32C of it. The record framing is
read here (the length CRC is checked, which is what tells a torn or foreign file from a good
one); the protos are TensorBoard's own compiled ones (``tensorboard.compat.proto``), parsed by
protobuf's C implementation — docs/architecture.md says why this and not a reader of our own.
A record cut short by a writer still writing ends the read; the next read starts there.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from dataclasses import dataclass

#: what TensorBoard takes for an event file: the name contains "tfevents"
EVENT_FILE = re.compile(r"tfevents")
#: events.out.tfevents.<seconds>.<host>[.<pid>.<n>][suffix], as TF, torch and tensorboardX name them
_NAME_PARTS = re.compile(r"tfevents\.(\d+)(?:\.\d+)?\.(.+?)(?:\.(\d+)\.\d+)?(?:\..*)?$")
INSTALL_HINT = "pip install 'flowlog[tensorboard]'"
CHUNK_BYTES = 16 << 20  # read this much at a time: a long file never sits in memory whole
MAX_RECORD_BYTES = 1 << 30  # a length past this is not an event (a foreign or damaged file)


class MissingTensorBoard(ImportError):
    """The optional ``tensorboard`` package (its compiled protos) is not installed."""


def protos():
    """TensorBoard's compiled protos, or :class:`MissingTensorBoard` naming what to install."""
    try:
        from tensorboard.compat.proto import event_pb2
    except ImportError as exc:
        raise MissingTensorBoard(
            f"reading TensorBoard event files needs the tensorboard package: {INSTALL_HINT}"
        ) from exc
    return event_pb2


def event_runs(logdir: str, on_error=None) -> dict[str, list[str]]:
    """``{run name: [event file paths, in name order]}``: as TensorBoard, a run is a directory
    holding event files, named by its path relative to the logdir (``"."`` for the logdir).
    Directory symlinks are not followed; only regular files count."""
    found: dict[str, list[str]] = {}
    if not os.path.isdir(logdir):
        return found
    for root, dirs, files in os.walk(logdir, onerror=on_error):
        dirs.sort()
        names = sorted(f for f in files if EVENT_FILE.search(f))
        paths = [os.path.join(root, f) for f in names if _regular(os.path.join(root, f))]
        if paths:
            found[os.path.relpath(root, logdir).replace(os.sep, "/")] = paths
    return found


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


@dataclass(frozen=True)
class Origin:
    """What an event file's name tells of its writer (TensorBoard runs keep no metadata)."""

    start_time: float | None
    host: str
    pid: int


def origin(path: str) -> Origin:
    match = _NAME_PARTS.search(os.path.basename(path))
    if match is None:
        return Origin(None, "", 0)
    seconds, host, pid = match.groups()
    return Origin(float(seconds), host, int(pid) if pid else 0)


def records(path: str, offset: int = 0):
    """Yield ``(record bytes, offset after it)`` from ``offset`` to the last whole record.

    Raises ``ValueError`` naming the file and offset when a record's length fails its CRC
    (not an event file, or damaged there); a short last record is left for the next read.
    """
    unpack = struct.unpack_from
    checked: dict[bytes, bool] = {}  # length header -> CRC ok (lengths repeat: checked once)
    with open(path, "rb") as fh:
        fh.seek(offset)
        buf = b""
        base = offset  # file offset of buf[0]
        while chunk := fh.read(CHUNK_BYTES):
            buf = buf + chunk if buf else chunk
            pos, end = 0, len(buf)
            while pos + 12 <= end:
                header = buf[pos : pos + 8]
                ok = checked.get(header)
                if ok is None:
                    ok = checked[header] = unpack("<I", buf, pos + 8)[0] == _masked_crc(header)
                (length,) = unpack("<Q", header)
                if not ok or length > MAX_RECORD_BYTES:
                    raise ValueError(
                        f"{path}: not a TensorBoard event record at byte {base + pos} "
                        "(length checksum mismatch)"
                    )
                stop = pos + 12 + length + 4
                if stop > end:
                    break
                yield buf[pos + 12 : pos + 12 + length], base + stop
                pos = stop
            base += pos
            buf = buf[pos:]


# --------------------------------------------------------------------------- CRC-32C

def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record: bytes) -> bytes:
    """One TFRecord: what TensorBoard's writers write around each serialized event."""
    header = struct.pack("<Q", len(record))
    return (
        header
        + struct.pack("<I", _masked_crc(header))
        + record
        + struct.pack("<I", _masked_crc(record))
    )
