"""The reader in a hostile logdir: FIFOs, sockets, devices and directories named like runs,
opens that hang, read-only logdirs (another user's, a read-only mount), damaged files.

Real files written by the real SummaryWriter, real FIFOs and sockets, real subprocesses (a
writer killed with SIGKILL, a process holding SQLite's exclusive lock, the reader as user
nobody), a real read-only bind mount.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from flowlog import reader_open
from flowlog.backends import open_logdir
from flowlog.provider import ReadError
from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter

pytestmark = pytest.mark.filterwarnings("ignore:skipped:RuntimeWarning")

ROOT = Path(__file__).resolve().parents[1]
PROMPT = 10.0  # seconds: "returns promptly" (a hang is forever; 2 s is the open timeout)


def make_run(logdir, name, n=10, histograms=0):
    with SummaryWriter(logdir=logdir, run_name=name) as w:
        for step in range(n):
            w.add_scalar("x", float(step), step)
            w.add_scalar("y", -float(step), step)
        for step in range(histograms):
            w.add_histogram("h", np.arange(100.0) + step, step)


def in_thread(fn, timeout=PROMPT):
    """``(finished, result or exception, seconds)`` of ``fn()`` run in a daemon thread: a call
    that hangs cannot hang the test."""
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["value"] = exc

    t0 = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), out.get("value"), time.monotonic() - t0


def release_fifos(*paths, quiet_secs=0.2, max_secs=3.0):
    """Give a reader blocked in open() on one of these FIFOs a writer, until none has been
    blocked for ``quiet_secs`` (a scan goes on to block on the next one) or for ``max_secs``
    (a connection may keep one open), so that a thread a regression blocks ends too."""
    start = last = time.monotonic()
    while time.monotonic() - last < quiet_secs and time.monotonic() - start < max_secs:
        for path in paths:
            with contextlib.suppress(OSError):  # ENXIO: nobody has it open for reading
                if stat.S_ISFIFO(os.lstat(path).st_mode):  # not the run that replaced it
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                    last = time.monotonic()
        time.sleep(0.02)


def listing(root) -> dict[str, tuple]:
    """Every entry under ``root``, hidden ones included, with its type, size and mtime (a -shm
    only by type: it is SQLite's shared lock and index memory, which a WAL reader updates)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            seen = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
            out[os.path.relpath(full, root)] = seen[:1] if name.endswith("-shm") else seen
    return out


@pytest.fixture
def short_dir():
    """A logdir with a short path (a Unix socket path must fit in 108 bytes)."""
    path = tempfile.mkdtemp(prefix="flh-", dir="/tmp")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_fifos_named_like_runs_never_block_discovery(short_dir):
    make_run(short_dir, "a")
    make_run(short_dir, "b")
    os.mkfifo(short_dir / "x.flowlog.db")
    (short_dir / "run").mkdir()
    os.mkfifo(short_dir / "run" / "flowlog.db")
    data = open_logdir(short_dir)
    try:
        finished, runs, secs = in_thread(data.runs)
        assert finished, "discovery blocked on a FIFO"
        assert [r.name for r in runs] == ["a", "b"]
        assert {(u.name, u.reason) for u in data.unreadable()} == {
            ("run", "not a regular file (FIFO)"),
            ("x", "not a regular file (FIFO)"),
        }
        assert secs < 2.0, secs  # never even tried: no open timeout was waited for
        warned = [w for w in data.warnings() if "FIFO" in w]
        assert len(warned) == 2 and any("x.flowlog.db" in w for w in warned)
        import warnings

        with warnings.catch_warnings(record=True) as again:
            warnings.simplefilter("always")
            assert [r.name for r in data.backend.runs()] == ["a", "b"]
        assert again == []  # warned once per file
        finished, err, _ = in_thread(lambda: data.scalars("x", "x"))
        assert finished and isinstance(err, ReadError) and "'x'" in str(err)
        assert "FIFO" in str(err)
    finally:
        release_fifos(short_dir / "x.flowlog.db", short_dir / "run" / "flowlog.db")
        data.close()


def test_a_fifo_appearing_later_or_replacing_a_run_never_hangs_and_goes_away(short_dir):
    make_run(short_dir, "a")
    make_run(short_dir, "b")
    data = open_logdir(short_dir)
    fifos = [short_dir / "late.flowlog.db", short_dir / "b" / "flowlog.db"]
    try:
        assert [r.name for r in data.runs()] == ["a", "b"]
        os.mkfifo(fifos[0])
        os.remove(fifos[1])
        os.mkfifo(fifos[1])
        finished, runs, _ = in_thread(data.runs)
        assert finished, "discovery blocked on a FIFO that appeared while it ran"
        assert [r.name for r in runs] == ["a"]
        assert [u.name for u in data.unreadable()] == ["b", "late"]
        finished, err, _ = in_thread(lambda: data.scalars("b", "x"))
        assert finished and isinstance(err, ReadError) and "'b'" in str(err)
        finished, points, _ = in_thread(lambda: data.scalars("a", "x"))
        assert finished and points.value.tolist() == [float(i) for i in range(10)]
        for fifo in fifos:
            os.remove(fifo)
        make_run(short_dir, "b", n=3)
        finished, runs, _ = in_thread(data.runs)
        assert finished and [r.name for r in runs] == ["a", "b"]
        assert data.unreadable() == []
        assert data.scalars("b", "x").value.tolist() == [0.0, 1.0, 2.0]
    finally:
        release_fifos(*fifos)
        data.close()


def test_sockets_devices_and_directories_named_like_runs_are_listed_unreadable(short_dir):
    make_run(short_dir, "good")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(short_dir / "sock.flowlog.db"))
    os.symlink("/dev/zero", short_dir / "zero.flowlog.db")
    (short_dir / "null").mkdir()
    os.symlink("/dev/null", short_dir / "null" / "flowlog.db")
    (short_dir / "dir" / "flowlog.db").mkdir(parents=True)
    os.symlink(short_dir / "missing", short_dir / "dangling.flowlog.db")
    data = open_logdir(short_dir)
    try:
        finished, runs, _ = in_thread(data.runs)
        assert finished
        assert [r.name for r in runs] == ["good"]
        assert {u.name: u.reason for u in data.unreadable()} == {
            "dangling": "a symbolic link to a missing file",
            "dir": "not a regular file (directory)",
            "null": "not a regular file (character device)",
            "sock": "not a regular file (socket)",
            "zero": "not a regular file (character device)",
        }
        for name in ("sock", "zero", "null", "dir"):
            with pytest.raises(ReadError, match=f"'{name}'.*not a regular file"):
                data.tags(name)
            with pytest.raises(KeyError):  # still "not a run we can give you" to old callers
                data.scalars(name, "x")
        assert data.scalars("good", "x").value.size == 10
    finally:
        sock.close()
        data.close()


def test_a_run_whose_wal_is_a_fifo_is_unreadable_not_hung(short_dir):
    make_run(short_dir, "good")
    make_run(short_dir, "w")
    os.mkfifo(short_dir / "w" / "flowlog.db-wal")
    data = open_logdir(short_dir)
    try:
        finished, runs, _ = in_thread(data.runs)
        assert finished
        assert [r.name for r in runs] == ["good"]
        [bad] = data.unreadable()
        assert bad.name == "w" and bad.reason == "its flowlog.db-wal is not a regular file (FIFO)"
    finally:
        release_fifos(short_dir / "w" / "flowlog.db-wal")
        data.close()


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("UPDATE run SET heartbeat = heartbeat + 0.001")  # a commit in the WAL
conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE run SET heartbeat = heartbeat + 0.001")
conn.execute("COMMIT")  # the exclusive lock stays: every reader waits its busy timeout
print("locked", flush=True)
time.sleep(120)
"""


def test_an_open_that_hangs_times_out_and_never_holds_the_logdir(short_dir):
    make_run(short_dir, "good", n=50)
    data = open_logdir(short_dir)
    locker = None
    try:
        assert [r.name for r in data.runs()] == ["good"]
        make_run(short_dir, "locked", n=5)
        path = str(short_dir / "locked" / "flowlog.db")
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, path], stdout=subprocess.PIPE, text=True
        )
        assert locker.stdout.readline().strip() == "locked"
        scan = {}
        thread = threading.Thread(target=lambda: scan.update(runs=data.runs()), daemon=True)
        t0 = time.monotonic()
        thread.start()
        answers = []
        while thread.is_alive() and time.monotonic() - t0 < PROMPT:
            t1 = time.monotonic()
            assert data.scalars_since("good", "x", 10).step[0] == 11  # uncached: reads the file
            answers.append(time.monotonic() - t1)
            time.sleep(0.05)
        thread.join(PROMPT)
        scan_secs = time.monotonic() - t0
        assert not thread.is_alive(), "the scan hung on a locked file"
        assert 1.5 < scan_secs < 6, scan_secs  # the 2 s open timeout, not the 10 s busy wait
        assert len(answers) > 5 and max(answers) < 1.0, answers  # other runs kept answering
        assert [r.name for r in scan["runs"]] == ["good"]
        [hung] = data.unreadable()
        assert hung.name == "locked" and hung.reason.startswith("open timed out after 2 s")
        # while that open still waits, later scans answer at once and start no second one
        finished, runs, secs = in_thread(data.runs)
        assert finished and secs < 1.0 and [r.name for r in runs] == ["good"]
        openers = [t for t in threading.enumerate() if t.name == f"flowlog-open {path}"]
        assert len(openers) == 1
        finished, err, secs = in_thread(lambda: data.scalars("locked", "x"))
        assert finished and secs < 1.0 and isinstance(err, ReadError) and "'locked'" in str(err)
        locker.kill()
        locker.wait()
        assert reader_open.wait_for_pending(15)
        assert [r.name for r in data.runs()] == ["good", "locked"]
        assert data.scalars("locked", "x").value.size == 5
    finally:
        if locker is not None and locker.poll() is None:
            locker.kill()
            locker.wait()
        data.close()


CRASHER = """
import sys, time
from flowlog.writer import SummaryWriter
w = SummaryWriter(logdir=sys.argv[1], run_name="crashed", flush_secs=30)
for step in range(200):
    w.add_scalar("x", float(step), step)
w.flush()
print("flushed", flush=True)
time.sleep(120)
"""


def write_hostile_free_runs(logdir) -> dict[str, int]:
    """Closed runs, a run a SIGKILLed writer left with its -wal/-shm, and a closed run with the
    zero-length -wal and -shm a reader beside a closing writer leaves; ``{run: points}``."""
    make_run(logdir, "closed", n=300, histograms=5)
    make_run(logdir, "group/other", n=7)
    make_run(logdir, "left", n=20)
    left = Path(logdir) / "left" / "flowlog.db"
    conn = sqlite3.connect(f"{left.as_uri()}?mode=ro", uri=True)  # what browsing used to leave
    conn.execute("SELECT count(*) FROM scalar_chunks").fetchall()
    conn.close()
    assert os.path.getsize(f"{left}-wal") == 0 and os.path.exists(f"{left}-shm")
    crasher = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(logdir)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert crasher.stdout.readline().strip() == "flushed"
    finally:
        crasher.send_signal(signal.SIGKILL)
        crasher.wait()
    crashed = Path(logdir) / "crashed" / "flowlog.db"
    assert os.path.getsize(f"{crashed}-wal") > 0 and os.path.exists(f"{crashed}-shm")
    return {"closed": 300, "group/other": 7, "left": 20, "crashed": 200}


READ_ALL = """
import json, sys, warnings
warnings.simplefilter("ignore")
from flowlog.backends import open_logdir
data = open_logdir(sys.argv[1])
out = {"runs": {}, "unreadable": [[u.name, u.reason] for u in []]}
for info in data.runs():
    tags = data.tags(info.name)
    out["runs"][info.name] = {
        "status": info.status,
        "x": int(data.scalars(info.name, "x").value.size),
        "buckets": int(data.scalars_downsampled(info.name, "x", 10).count.sum()),
        "histograms": len(data.histograms(info.name, "h")) if "h" in tags else 0,
    }
out["unreadable"] = [[u.name, u.reason] for u in data.unreadable()]
out["warnings"] = data.warnings()
data.close()
print(json.dumps(out))
"""


def read_all(logdir, prefix=()) -> dict:
    done = subprocess.run(
        [*prefix, sys.executable, "-c", READ_ALL, str(logdir)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def check_everything_read(found: dict, points: dict[str, int]) -> None:
    assert found["unreadable"] == [] and found["warnings"] == [], found
    assert {name: r["x"] for name, r in found["runs"].items()} == points
    assert {name: r["buckets"] for name, r in found["runs"].items()} == points
    assert found["runs"]["closed"]["histograms"] == 5
    assert found["runs"]["crashed"]["status"] == "crashed"
    assert found["runs"]["closed"]["status"] == "finished"


def test_a_logdir_the_reader_cannot_write_reads_every_run_and_creates_nothing():
    """A teammate's logdir: as root, the reader runs as user nobody; as anyone else, the
    logdir's directories are made read-only (0555) for the read."""
    base = Path(tempfile.mkdtemp(prefix="flowlog-ro-", dir="/tmp"))  # not pytest's 0700 tmp
    logdir = base / "runs"
    try:
        os.chmod(base, 0o755)
        points = write_hostile_free_runs(logdir)
        dirs = [logdir, *(p for p in logdir.rglob("*") if p.is_dir())]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("setpriv (util-linux) is needed to read as user nobody")
            for p in [logdir, *logdir.rglob("*")]:
                os.chmod(p, 0o755 if p.is_dir() else 0o644)
            prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
            probe = subprocess.run(
                [*prefix, sys.executable, "-c", "import flowlog.backends"],
                capture_output=True, text=True, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            if probe.returncode != 0:
                pytest.skip(f"user nobody cannot run {sys.executable}: {probe.stderr[-200:]}")
        else:
            prefix = ()
            for p in dirs:
                os.chmod(p, 0o555)
        before = listing(logdir)
        check_everything_read(read_all(logdir, prefix), points)
        assert listing(logdir) == before
    finally:
        for p in [logdir, *logdir.rglob("*")] if logdir.exists() else []:
            if p.is_dir():
                os.chmod(p, 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_a_read_only_mount_reads_every_run_and_creates_nothing(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    mnt.mkdir()
    points = write_hostile_free_runs(src)
    bound = subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True, text=True)
    if bound.returncode != 0:
        pytest.skip(f"mount --bind is not permitted here: {bound.stderr.strip()}")
    try:
        ro = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(mnt)], capture_output=True, text=True
        )
        if ro.returncode != 0:
            pytest.skip(f"remount read-only is not permitted here: {ro.stderr.strip()}")
        with pytest.raises(OSError):
            (mnt / "probe").write_text("x")  # the mount is read-only, even for root
        before = listing(src)
        check_everything_read(read_all(mnt), points)
        assert listing(src) == before
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_browsing_a_writable_logdir_creates_no_file(tmp_path):
    points = write_hostile_free_runs(tmp_path)
    crashed = tmp_path / "crashed" / "flowlog.db"
    (tmp_path / "noshm").mkdir()  # a WAL without its -shm (a copied logdir)
    for suffix in ("", "-wal"):
        shutil.copy(f"{crashed}{suffix}", tmp_path / "noshm" / f"flowlog.db{suffix}")
    before = listing(tmp_path)
    data = open_logdir(tmp_path)
    with pytest.warns(RuntimeWarning, match="partly read .*noshm"):
        runs = data.runs()
    assert {r.name for r in runs} == {*points, "noshm"}
    for info in runs:
        for tag, tag_info in data.tags(info.name).items():
            if tag_info.kind == "scalar":
                assert data.scalars(info.name, tag).value.size == tag_info.count
                data.scalars_downsampled(info.name, tag, 7)
            elif tag_info.kind == "histogram":
                assert len(data.histograms(info.name, tag)) == tag_info.count
        data.graph(info.name)
        data.trials(info.name)
    assert listing(tmp_path) == before
    assert [w for w in data.warnings() if "noshm" in w] == [
        f"partly read {tmp_path}/noshm/flowlog.db: its -wal holds commits that cannot be read "
        "without creating a -shm beside it; showing the database without them"
    ]
    data.close()
    assert listing(tmp_path) == before


def damage(path, seed=13):
    """16 KiB of random bytes written into the middle of the file, in place."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(random.Random(seed).randbytes(16 * 1024))


def provider_calls(run):
    return {
        "run_info": lambda d: d.run_info(run),
        "change_token": lambda d: d.change_token(run),
        "tags": lambda d: d.tags(run),
        "scalars": lambda d: d.scalars(run, "x"),
        "scalars_since": lambda d: d.scalars_since(run, "x", 10),
        "scalars_downsampled": lambda d: d.scalars_downsampled(run, "x", 10),
        "histograms": lambda d: d.histograms(run, "h"),
        "texts": lambda d: d.texts(run),
        "images": lambda d: d.images(run, "img"),
        "pr_curves": lambda d: d.pr_curves(run, "pr"),
        "hparams": lambda d: d.hparams(run),
        "trials": lambda d: d.trials(run),
        "custom_scalars": lambda d: d.custom_scalars(run),
        "graph": lambda d: d.graph(run),
        "watched_nodes": lambda d: d.watched_nodes(run),
        "watch_stats": lambda d: d.watch_stats(run, "w"),
        "numerics": lambda d: d.numerics(run),
    }


def outcomes_of(data, run) -> dict[str, str]:
    """What each provider method does on ``run``: answers, or raises ReadError / KeyError
    naming it; an sqlite3 error (or any other) escaping fails the test."""
    outcomes = {}
    for method, call in provider_calls(run).items():
        try:
            call(data)
            outcomes[method] = "answered"
        except ReadError as exc:
            assert f"'{run}'" in str(exc), (method, exc)
            outcomes[method] = "ReadError"
        except KeyError as exc:  # a tag or node the run never had
            assert f"'{run}'" in str(exc), (method, exc)
            outcomes[method] = "KeyError"
    return outcomes


@pytest.mark.parametrize("when", ["before_discovery", "after_discovery"])
def test_a_damaged_run_raises_read_error_naming_it_and_the_others_read_on(tmp_path, when):
    make_run(tmp_path, "good", n=30)
    for name in ("bad", "worse"):
        with SummaryWriter(logdir=tmp_path, run_name=name) as w:
            for step in range(20_000):
                w.add_scalar("x", float(step), step)
    data = open_logdir(tmp_path)
    if when == "after_discovery":
        assert data.scalars("bad", "x").value.size == data.scalars("worse", "x").value.size
    damage(tmp_path / "bad" / "flowlog.db")  # in scalar pages: metadata and tags still read
    with open(tmp_path / "worse" / "flowlog.db", "r+b") as f:
        f.write(random.Random(7).randbytes(16 * 1024))  # the header and schema pages
    assert [r.name for r in data.runs()] == ["bad", "good"]
    [worse] = data.unreadable()
    assert worse.name == "worse" and "not a readable SQLite database" in worse.reason
    outcomes = outcomes_of(data, "bad")
    assert outcomes["scalars"] == outcomes["scalars_since"] == "ReadError", outcomes
    assert set(outcomes_of(data, "worse").values()) == {"ReadError"}
    assert data.scalars("good", "x").value.size == 30
    with pytest.raises(ReadError, match="'bad'.*malformed"):  # errors are not cached
        data.scalars("bad", "x")
    assert data.scalars("good", "x").value.size == 30
    data.close()


def test_a_run_read_immutably_shows_points_appended_later(tmp_path):
    make_run(tmp_path, "r", n=10)
    wal = tmp_path / "r" / "flowlog.db-wal"
    assert not wal.exists()  # closed cleanly: the reader opens it immutable
    ld = Logdir(tmp_path)
    data = open_logdir(tmp_path)
    assert ld.run("r").immutable
    assert data.scalars("r", "x").value.size == 10
    token = data.change_token("r")
    w = SummaryWriter(logdir=tmp_path, run_name="r")  # resumes the run: appends
    try:
        for step in range(10, 25):
            w.add_scalar("x", float(step), step)
        w.flush()
        assert data.change_token("r") != token
        assert data.scalars("r", "x").step.tolist() == list(range(25))
        assert ld.run("r").scalars("x").value.size == 25
        assert not ld.run("r").immutable  # its WAL has commits: read in WAL mode
        token = data.change_token("r")
        w.add_scalar("x", 25.0, 25)
        w.flush()
        assert data.change_token("r") != token
        assert data.scalars("r", "x").value.size == 26
    finally:
        w.close()
    assert data.scalars("r", "x").value.size == 26
    assert data.run_info("r").status == "finished"
    data.close()
    ld.close()
