"""Faults injected into real flushes: items SQLite refuses, a file made read-only under the
writer, a full filesystem, a file-size limit reached mid-run; and close() folding the WAL
into the database while readers poll. The writer keeps going or fails loudly, never drops
the rest of a run silently (flowlog.writer_flush's policy).

The read-only case uses ``chattr +i``: as root neither chmod nor a read-only bind remount
stops the writer (the kernel refuses to remount a mount read-only while files are open for
writing through it, "mount point is busy"), while an immutable file refuses writes even
through descriptors already open.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from conftest import assert_chunks_sound, stored_points

from flowlog import schema
from flowlog.backends import open_logdir
from flowlog.errors import LogWriteError
from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(logdir, name="r"):
    return Logdir(logdir).run(name)


def integrity(path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return schema.integrity_check(conn)
    finally:
        conn.close()


def begins_on(conn) -> list[str]:
    """Every write transaction the connection starts from now on (SQLite's own trace hook)."""
    seen: list[str] = []
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith("BEGIN") else None)
    return seen


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- items SQLite refuses -----------------------------------------------------------------


def test_an_unstorable_row_is_dropped_counted_and_named_once(tmp_path, caplog):
    w = SummaryWriter(tmp_path / "r", flush_secs=60)
    for step in range(100):
        w.add_scalar("loss", step / 4, step)
    w.add_text("note", "first", 0)
    w.flush()
    note = w._tags["note"][0]
    # a validation gap: a row no check caught goes straight into the buffer
    w._pending["text"].append((note, 1, 1.0, "lone \udcff"))
    w.add_text("note", "second", 2)
    w.add_histogram("h", [1.0, 2.0], 0)
    for step in range(100, 200):
        w.add_scalar("loss", step / 4, step)
    with caplog.at_level(logging.WARNING, "flowlog.writer"):
        with pytest.warns(RuntimeWarning, match=r"dropped 1 item\(s\) of tag 'note'.*Unicode"):
            w.flush()
        w._pending["text"].append((note, 3, 1.0, "again \udcff"))  # counted, not re-reported
        w.flush()
    said = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(said) == 1 and "'note'" in said[0]  # once per tag
    assert read(tmp_path).info.dropped == {"note": 2}  # in the metadata while running
    for step in range(200, 300):  # later flushes are fine
        w.add_scalar("loss", step / 4, step)
    w.add_text("note", "third", 4)
    w.close()
    run = read(tmp_path)
    assert run.info.status == "finished" and run.info.dropped == {"note": 2}
    assert run.scalars("loss").value.tolist() == [s / 4 for s in range(300)]
    assert [(t[1], t[3]) for t in run.texts("note")] == [(0, "first"), (2, "second"), (4, "third")]
    assert run.histograms("h")[0].count == 2
    assert open_logdir(tmp_path, cache=False).run_info("r").dropped == {"note": 2}


def test_an_unstorable_tag_and_point_drop_only_themselves(tmp_path):
    w = SummaryWriter(tmp_path / "r", flush_secs=60)
    for step in range(50):
        w.add_scalar("loss", float(step), step)
    w.flush()
    loss = w._tags["loss"][0]
    # gaps on the scalar path: a value that is not a float, a tag SQLite cannot store
    w._buf += (loss, 50, 1.0, "0.5")
    tid = len(w._last)
    w._last.append(-1)
    w._tags["bad\udcff"] = (tid, "scalar")
    w._new_tags.append((tid, "bad\udcff", "scalar", None, None, None))
    w._buf += (tid, 0, 1.0, 2.0, tid, 1, 1.0, 3.0)
    for step in range(51, 150):
        w.add_scalar("loss", float(step), step)
    with pytest.warns(RuntimeWarning) as warned:
        w.flush()
    text = " | ".join(str(m.message) for m in warned)
    assert "of tag 'loss'" in text and "unstorable point" in text
    assert r"of tag 'bad\udcff'" in text and "surrogates not allowed" in text
    with pytest.raises(ValueError, match="not valid Unicode"):
        w.add_scalar("bad\udcff", 4.0, 2)  # the checked path still refuses the name
    w.close()
    run = read(tmp_path)
    assert run.info.status == "finished"
    assert run.info.dropped == {"loss": 1, "bad\\udcff": 2}  # stored as readable text
    assert [t.tag for t in run.tags()] == ["loss"]
    assert run.scalars("loss").step.tolist() == [s for s in range(150) if s != 50]
    assert_chunks_sound(w.path)


def test_the_original_bug_a_surrogate_tag_no_longer_poisons_the_writer(tmp_path):
    w = SummaryWriter(tmp_path / "r", flush_secs=0.05)
    w.add_scalar("loss", 0.0, 0)
    for call in (
        lambda: w.add_scalar("loss/\udcff", 1.0, 0),
        lambda: w.add_histogram("h/\udcff", [1.0], 0),
        lambda: w.add_text("t", "\udcff", 0),
        lambda: w.add_hparams({"k\udcff": 1}, {}),
    ):
        with pytest.raises(ValueError, match="not valid Unicode"):
            call()
    for step in range(1, 1000):
        w.add_scalar("loss", float(step), step)
    w.flush()
    time.sleep(0.2)  # background flushes run fine too
    w.close()
    run = read(tmp_path)
    assert run.info.status == "finished" and len(run.scalars("loss").step) == 1000


# --- the file cannot be written -------------------------------------------------------------


def _immutable_unsupported(folder) -> str | None:
    if shutil.which("chattr") is None:
        return "chattr is not installed"
    probe = os.path.join(folder, "probe")
    fd = os.open(probe, os.O_CREAT | os.O_WRONLY)
    try:
        done = subprocess.run(["chattr", "+i", probe], capture_output=True, text=True)
        if done.returncode:
            return f"chattr +i is not permitted here ({done.stderr.strip()}); needs root"
        try:
            os.write(fd, b"x")
        except OSError:
            return None
        return "chattr +i does not stop writes through open files on this filesystem"
    finally:
        subprocess.run(["chattr", "-i", probe], capture_output=True)
        os.close(fd)
        os.remove(probe)


@contextlib.contextmanager
def immutable(*paths):
    """The files refuse every write, even through the writer's open descriptors."""
    subprocess.run(["chattr", "+i", *paths], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *paths], check=True)


def test_a_file_made_read_only_under_the_writer_holds_everything_then_recovers(tmp_path, caplog):
    why = _immutable_unsupported(tmp_path)
    if why:
        pytest.skip(why)
    w = SummaryWriter(tmp_path / "r", max_queue=100, flush_secs=0.2)
    for step in range(500):
        w.add_scalar("loss", step / 8, step)
    w.add_text("note", "before", 0)
    w.flush()
    with immutable(w.path, w.path + "-wal"), caplog.at_level(logging.INFO, "flowlog.writer"):
        with pytest.warns(RuntimeWarning, match=r"cannot write .*flowlog\.db.*holding"):
            for step in range(500, 3000):  # the hot path hits the fault at a full buffer
                w.add_scalar("loss", step / 8, step)
        w.add_text("note", "during", 1)
        with pytest.raises(LogWriteError, match=r"flowlog\.db.*I/O error.*2501 item\(s\) are not"):
            w.flush()
        begins = begins_on(w._conn)
        t0 = time.monotonic()
        for step in range(3000, 13_000):  # 100 more full buffers: no write attempt each
            w.add_scalar("loss", step / 8, step)
        elapsed = time.monotonic() - t0
        attempts = len(begins)
        with pytest.raises(LogWriteError, match="not written"):
            w.close()
        assert not w.closed  # everything still held, the flush thread still retrying
        assert len(read(tmp_path).scalars("loss").step) == 500
    assert attempts <= elapsed / 0.2 + 2  # only the flush thread retried, every flush_secs
    wait_for(lambda: len(read(tmp_path).scalars("loss").step) == 13_000)
    assert any("works again" in r.getMessage() for r in caplog.records)
    w._conn.set_trace_callback(None)
    w.add_scalar("loss", 0.5, 13_000)
    w.close()
    run = read(tmp_path)
    assert run.info.status == "finished" and run.info.dropped == {}
    assert run.scalars("loss").value.tolist() == [s / 8 for s in range(13_000)] + [0.5]
    assert [t[3] for t in run.texts("note")] == ["before", "during"]
    assert integrity(w.path) == "ok"
    assert_chunks_sound(w.path)


def test_past_the_held_bound_new_points_are_dropped_counted_and_loud(tmp_path, caplog):
    why = _immutable_unsupported(tmp_path)
    if why:
        pytest.skip(why)
    w = SummaryWriter(tmp_path / "r", max_queue=100, flush_secs=3600)  # no background retry
    w.max_held_points = 1000
    for step in range(500):
        w.add_scalar("loss", float(step), step)
    w.flush()
    with immutable(w.path, w.path + "-wal"):
        with pytest.warns(RuntimeWarning) as warned:
            for step in range(500, 5500):
                w.add_scalar("loss", float(step), step)
        said = [str(m.message) for m in warned]
        assert len(said) == 2 and "cannot write" in said[0] and "dropping new items" in said[1]
        with pytest.raises(LogWriteError, match=r"1000 item\(s\) are not .*4000 dropped"):
            w.flush()
    with caplog.at_level(logging.INFO, "flowlog.writer"):
        w.close()  # writing works again: the held points and the counts are written
    assert any("4000 item(s) were dropped" in r.getMessage() for r in caplog.records)
    run = read(tmp_path)
    assert run.info.status == "finished" and run.info.dropped == {"loss": 4000}
    assert run.scalars("loss").step.tolist() == list(range(1500))  # the oldest were kept
    assert_chunks_sound(w.path)


@contextlib.contextmanager
def tiny_filesystem(path, size="16m"):
    os.makedirs(path)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        pytest.skip(f"cannot mount a small filesystem here ({done.stderr.strip()}); needs root")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(path)], check=True)


def fill(path) -> None:
    with open(path, "wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)


def test_a_full_disk_holds_points_until_space_is_freed(tmp_path):
    with tiny_filesystem(tmp_path / "mnt") as mnt:
        w = SummaryWriter(mnt / "r", max_queue=1000, flush_secs=0.2)
        try:
            for step in range(1000):
                w.add_scalar("loss", step * 0.5, step)
            w.flush()
            fill(mnt / "filler")
            with pytest.warns(RuntimeWarning, match="cannot write .*database or disk is full"):
                for step in range(1000, 61_000):
                    w.add_scalar("loss", step * 0.5, step)
            with pytest.raises(LogWriteError, match="disk is full"):
                w.flush()
            os.remove(mnt / "filler")  # space again: the flush thread writes what it held
            wait_for(lambda: len(read(mnt).scalars("loss").step) == 61_000)
        finally:
            w.close()
        run = read(mnt)
        assert run.info.status == "finished" and run.info.dropped == {}
        assert run.scalars("loss").value.tolist() == [s * 0.5 for s in range(61_000)]
        assert integrity(w.path) == "ok"
        Logdir(mnt).close()


FSIZE_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys, time
    from flowlog.writer import LogWriteError, SummaryWriter

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    w = SummaryWriter(sys.argv[1], max_queue=1000, flush_secs=3600)
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    last_ok, step, error = -1, 0, None
    while error is None and step < 1_000_000:
        w.add_scalar("loss", step * 0.25, step)
        step += 1
        if step % 1000 == 0:
            try:
                w.flush()
                last_ok = step - 1
            except LogWriteError as exc:
                error = exc
    print("FLUSH_ERROR", error, flush=True)
    begins = []
    w._conn.set_trace_callback(lambda s: begins.append(s) if s.startswith("BEGIN") else None)
    for s in range(step, step + 20_000):  # training goes on: held, no write attempt per call
        w.add_scalar("loss", s * 0.25, s)
    print("ATTEMPTS", len(begins), flush=True)
    try:
        w.close()
    except LogWriteError as exc:
        print("CLOSE_ERROR", exc, flush=True)
    print("LAST_OK", last_ok, "CLOSED", w.closed, flush=True)
    print("LOGGED", step + 20_000, flush=True)
    """
)


def test_a_file_size_limit_reached_mid_run_is_loud_and_keeps_what_was_committed(tmp_path):
    run_dir = tmp_path / "r"
    done = subprocess.run(
        [sys.executable, "-c", FSIZE_SCRIPT, str(run_dir), str(1_000_000)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": ROOT},
    )  # fmt: skip
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, out + err
    path = str(run_dir / "flowlog.db")
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    assert path in lines["FLUSH_ERROR"] and "not written" in lines["FLUSH_ERROR"], out
    assert lines["ATTEMPTS"] == "0"
    last_ok = int(lines["LAST_OK"].split()[0])
    assert last_ok > 1000
    assert f"cannot write {path}" in err and "RuntimeWarning" in err  # logged and warned
    assert integrity(path) == "ok"
    run = read(tmp_path)
    s = run.scalars("loss")
    n = len(s.step)
    assert s.step.tolist() == list(range(n))  # every committed point, exactly
    assert s.value.tolist() == [k * 0.25 for k in range(n)]
    if "CLOSE_ERROR" not in lines:
        # close() found room: chunks rewritten by earlier flushes left free pages inside the
        # file, which the held points can fill without growing it. Then everything is there.
        assert lines["LAST_OK"].endswith("CLOSED True") and n == int(lines["LOGGED"])
        assert run.info.status == "finished"
        return
    assert path in lines["CLOSE_ERROR"] and "not written" in lines["CLOSE_ERROR"]
    assert lines["LAST_OK"].endswith("CLOSED False")
    assert n in (last_ok + 1, last_ok + 1001)  # an automatic flush may have committed one more
    held = int(re.search(r"(\d+) item\(s\) are not written", lines["CLOSE_ERROR"]).group(1))
    assert n + held == int(lines["LOGGED"])  # the rest was held and said so: none lost silently
    assert run.info.status == "crashed"  # never marked finished: the writer could not say so


# --- close() folds the WAL in, readers attached -----------------------------------------------

READER_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from flowlog.backends import open_logdir

    data = open_logdir(sys.argv[1], cache=False)
    polls, after = 0, None
    while not os.path.exists(sys.argv[2]):
        try:
            data.run_info("r")
            if "loss" in data.tags("r"):
                data.scalars_downsampled("r", "loss", 200)
                s = data.scalars_since("r", "loss", after)
                after = int(s.step[-1]) if len(s.step) else after
        except KeyError:
            pass  # not discovered yet
        polls += 1
        if polls == 1:
            print("READY", flush=True)
    print("POLLS", polls, flush=True)
    """
)


def test_close_folds_the_wal_in_while_readers_poll_from_a_thread_and_a_process(tmp_path):
    logdir, stop = tmp_path / "logs", tmp_path / "stop"
    w = SummaryWriter(logdir=logdir, run_name="r", flush_secs=0.05)
    w.add_scalar("loss", 0.0, 0)
    w.flush()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, str(logdir), str(stop)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ROOT},
    )  # fmt: skip
    polls = [0]

    def poll_in_a_thread():
        run = Logdir(logdir).run("r")
        while not stop.exists():
            last = run.info.last_step or 0
            run.scalars_since("loss", max(0, last - 100))
            polls[0] += 1

    thread = threading.Thread(target=poll_in_a_thread)
    thread.start()
    try:
        assert reader.stdout.readline().strip() == "READY"
        values = np.sin(np.arange(200_000) * 1e-3).tolist()
        for step in range(1, 200_000):
            w.add_scalar("loss", values[step], step)
        w.close()
        wal = w.path + "-wal"
        assert not os.path.exists(wal) or os.path.getsize(wal) == 0
        copy = tmp_path / "copy" / "r"
        os.makedirs(copy)
        shutil.copy(w.path, copy / "flowlog.db")  # the database file alone
    finally:
        stop.touch()
        thread.join(30)
        reader_out, _ = reader.communicate(timeout=60)
    assert polls[0] > 1 and int(reader_out.split()[-1]) > 1  # both really polled
    assert integrity(copy / "flowlog.db") == "ok"
    run = read(tmp_path / "copy")
    assert run.info.status == "finished"
    s = run.scalars("loss")
    assert s.step.tolist() == list(range(200_000))
    assert s.value[1:].tolist() == values[1:]


def test_a_reader_holding_a_snapshot_leaves_the_last_commits_in_the_wal_and_says_so(
    tmp_path, caplog
):
    w = SummaryWriter(tmp_path / "r")
    w.fold_secs = 0.3
    for step in range(5000):
        w.add_scalar("a", float(step), step)
    w.flush()
    reader = sqlite3.connect(f"file:{w.path}?mode=ro", uri=True)
    reader.execute("BEGIN")
    assert stored_points(reader) == 5000
    for step in range(5000, 6000):
        w.add_scalar("a", float(step), step)
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, "flowlog.writer"):
        w.close()
    assert 0.25 < time.monotonic() - t0 < 10  # retried for fold_secs, then gave up
    assert any("still in" in r.getMessage() and "-wal" in r.getMessage() for r in caplog.records)
    reader.execute("COMMIT")
    reader.close()
    run = read(tmp_path)  # read in place (database + WAL), the run is whole
    assert run.info.status == "finished" and len(run.scalars("a").step) == 6000
    SummaryWriter(tmp_path / "r").close()  # the next writer folds it in
    wal = w.path + "-wal"
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0


# --- the dropped counts in older files ----------------------------------------------------------


def test_a_file_without_the_dropped_column_reads_and_gains_it_when_written(tmp_path):
    with SummaryWriter(tmp_path / "r") as w:
        w.add_scalar("a", 1.0, 0)
    conn = sqlite3.connect(w.path)
    conn.execute("ALTER TABLE run DROP COLUMN dropped")  # as every file before this column
    conn.close()
    assert read(tmp_path).info.dropped == {}
    w = SummaryWriter(tmp_path / "r")
    w._pending["text"].append((w._tags["a"][0], 0, 0.0, "\udcff"))  # reported under 'a'
    with pytest.warns(RuntimeWarning, match="'a'"):
        w.close()
    conn = sqlite3.connect(w.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 4
    conn.close()
    run = read(tmp_path)
    assert run.info.dropped == {"a": 1} and run.info.status == "finished"


def test_a_run_of_several_ranks_sums_what_each_rank_dropped(tmp_path, monkeypatch):
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        w = SummaryWriter(tmp_path / "ddp", flush_secs=60)
        w.add_text("note", "ok", 0)
        w.flush()
        w._pending["text"].append((w._tags["note"][0], 1, 1.0, "lone \udcff"))
        with pytest.warns(RuntimeWarning, match="dropped 1 item"):
            w.close()
    info = open_logdir(tmp_path, cache=False).run_info("ddp")
    assert [k.rank for k in info.ranks] == [0, 1]
    assert info.dropped == {"note": 2}
