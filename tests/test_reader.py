"""Reader API: discovery, skipped files, read-only access, downsampling, live reads, status."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sqlite3
import time

import numpy as np
import pytest

from flowlog import schema
from flowlog.reader import Logdir, effective_status
from flowlog.writer import SummaryWriter


def make_run(logdir, name, n=10, tag="x"):
    with SummaryWriter(logdir=logdir, run_name=name) as w:
        for step in range(n):
            w.add_scalar(tag, float(step), step)


def test_runs_are_discovered_recursively_and_new_ones_appear(tmp_path):
    ld = Logdir(tmp_path)
    assert ld.runs() == [] and ld.warnings == []
    make_run(tmp_path, "a")
    make_run(tmp_path, "group/b")
    make_run(tmp_path, "group/deeper/c")
    (tmp_path / "notes.txt").write_text("not a run")
    runs = ld.runs()
    assert [r.name for r in runs] == ["a", "group/b", "group/deeper/c"]
    assert runs[1].path == str(tmp_path / "group" / "b" / "flowlog.db")
    assert all(r.status == "finished" and r.last_step == 9 for r in runs)
    assert runs[0].pid == os.getpid() and runs[0].host == socket.gethostname()
    make_run(tmp_path, "z")
    assert [r.name for r in ld.runs()] == ["a", "group/b", "group/deeper/c", "z"]
    os.remove(tmp_path / "a" / "flowlog.db")
    assert [r.name for r in ld.runs()] == ["group/b", "group/deeper/c", "z"]
    with pytest.raises(KeyError, match="'a'"):
        ld.run("a")


def test_missing_logdir_is_empty_and_a_file_is_rejected(tmp_path):
    assert Logdir(tmp_path / "nothing-yet").runs() == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        Logdir(tmp_path / "f")


def test_bad_files_are_skipped_with_warnings_naming_them(tmp_path):
    make_run(tmp_path, "good")
    (tmp_path / "garbage.flowlog.db").write_bytes(os.urandom(4096))
    (tmp_path / "empty.flowlog.db").write_bytes(b"")
    foreign = sqlite3.connect(tmp_path / "foreign.flowlog.db")
    foreign.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    foreign.commit()
    foreign.close()
    shutil.copy(tmp_path / "good" / "flowlog.db", tmp_path / "newer.flowlog.db")
    conn = sqlite3.connect(tmp_path / "newer.flowlog.db")
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    shutil.copy(tmp_path / "good" / "flowlog.db", tmp_path / "damaged.flowlog.db")
    conn = sqlite3.connect(tmp_path / "damaged.flowlog.db")
    conn.execute("DROP TABLE texts")
    conn.close()
    data = (tmp_path / "good" / "flowlog.db").read_bytes()
    (tmp_path / "truncated.flowlog.db").write_bytes(data[: len(data) // 3])

    ld = Logdir(tmp_path)
    with pytest.warns(RuntimeWarning) as caught:
        runs = ld.runs()
    assert [r.name for r in runs] == ["good"]
    by_file = {os.path.basename(m.split(": ")[0].removeprefix("skipped ")): m for m in ld.warnings}
    assert set(by_file) == {
        "garbage.flowlog.db",
        "empty.flowlog.db",
        "foreign.flowlog.db",
        "newer.flowlog.db",
        "damaged.flowlog.db",
        "truncated.flowlog.db",
    }
    assert "not a readable SQLite database" in by_file["garbage.flowlog.db"]
    assert "not a flowlog log" in by_file["foreign.flowlog.db"]
    assert "not a flowlog log" in by_file["empty.flowlog.db"]
    assert "newer" in by_file["newer.flowlog.db"]
    assert "'texts' is missing" in by_file["damaged.flowlog.db"]
    assert len(caught) == 6 and all("skipped" in str(w.message) for w in caught)
    # warned once: a re-scan keeps the warnings but does not repeat them
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")
        assert [r.name for r in ld.runs()] == ["good"]
    assert len(ld.warnings) == 6
    for name in ("garbage", "newer"):
        with pytest.raises(KeyError):
            ld.run(name)
    os.remove(tmp_path / "garbage.flowlog.db")
    ld.runs()
    assert len(ld.warnings) == 5


def test_run_lookup_never_leaves_the_logdir(tmp_path):
    inside = tmp_path / "logs"
    make_run(inside, "mine")
    make_run(tmp_path, "secret")  # a valid run outside the logdir
    ld = Logdir(inside)
    assert ld.run("mine").scalars("x").value.size == 10
    for name in [
        "../secret",
        str(tmp_path / "secret"),
        str(tmp_path / "secret.flowlog.db"),
        "mine.flowlog.db",
        "./mine",
        "",
        "MINE",
    ]:
        with pytest.raises(KeyError):
            ld.run(name)
    with pytest.raises(TypeError):
        ld.run(None)


def test_reading_never_changes_the_database(tmp_path):
    make_run(tmp_path, "r", n=500)
    path = tmp_path / "r" / "flowlog.db"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    ld = Logdir(tmp_path)
    run = ld.run("r")
    run.scalars("x")
    run.scalars_downsampled("x", 10)
    run.tags()
    run.info  # noqa: B018
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        run._conn.execute("DELETE FROM scalar_chunks")
    ld.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_tags_listing(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        for step in range(5, 25):
            w.add_scalar("loss", 1.0, step)
        w.add_histogram("weights", [1.0, 2.0], 3)
        w.add_text("notes", "hi", 7)
        w._declare_node_tags("dense/w", [("watch/dense/w/value_norm", "scalar")])
        w.add_scalar("watch/dense/w/value_norm", 2.0, 0)
    run = Logdir(tmp_path).run("r")
    tags = {t.tag: t for t in run.tags()}
    assert (tags["loss"].kind, tags["loss"].count) == ("scalar", 20)
    assert (tags["loss"].first_step, tags["loss"].last_step) == (5, 24)
    assert (tags["weights"].kind, tags["weights"].count, tags["weights"].last_step) == (
        "histogram",
        1,
        3,
    )
    assert tags["notes"].kind == "text"
    assert tags["watch/dense/w/value_norm"].node == "dense/w" and tags["loss"].node is None
    assert [t.tag for t in run.tags("histogram")] == ["weights"]
    assert run.watched_nodes() == ["dense/w"]
    assert run.watch_stats("dense/w")["value_norm"].value.tolist() == [2.0]
    with pytest.raises(KeyError, match="'nope'"):
        run.watch_stats("nope")
    with pytest.raises(ValueError, match="kind"):
        run.tags("audio")
    with pytest.raises(KeyError, match="'r'.*'absent'"):
        run.scalars("absent")
    assert run.info.last_step == 24
    # each kind's own highest step: a view of histograms follows them, not the scalars' steps
    assert run.info.last_steps == {"scalar": 24, "histogram": 3, "text": 7}


def test_a_ranked_runs_last_step_of_each_kind_is_the_highest_over_its_ranks(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank, (scalars, hist) in enumerate([(10, 2), (5, 6)]):
        monkeypatch.setenv("RANK", str(rank))
        with SummaryWriter(str(tmp_path / "ddp")) as w:
            for s in range(scalars):
                w.add_scalar("loss", 1.0, s)
            w.add_histogram("weights", [1.0, 2.0], hist)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    with Logdir(tmp_path) as logdir:
        (info,) = logdir.runs()
        assert len(info.ranks) == 2 and info.last_step == 9
        assert info.last_steps == {"scalar": 9, "histogram": 6}


def check_buckets(b, steps, values, start, end, nbuckets):
    """Every bucket's stats equal numpy's over the points in its step range."""
    sel = (steps >= start) & (steps <= end)
    assert 0 < len(b.step) <= nbuckets
    assert b.count.sum() == sel.sum()
    assert np.all(b.last_step[:-1] < b.step[1:]) and np.all(b.step <= b.last_step)
    assert b.step[0] == steps[sel][0] and b.last_step[-1] == steps[sel][-1]
    los = np.searchsorted(steps, b.step)
    his = np.searchsorted(steps, b.last_step, side="right")
    for i in range(len(b.step)):
        v = values[los[i] : his[i]]
        assert b.count[i] == v.size
        assert b.nan[i] == np.isnan(v).sum()
        assert b.posinf[i] == np.isposinf(v).sum() and b.neginf[i] == np.isneginf(v).sum()
        fin = v[np.isfinite(v)]
        if fin.size:
            assert b.min[i] == fin.min() and b.max[i] == fin.max()
            assert b.mean[i] == pytest.approx(fin.mean(), rel=1e-9, abs=1e-12)
        else:
            assert np.isnan(b.min[i]) and np.isnan(b.max[i]) and np.isnan(b.mean[i])


@pytest.fixture(scope="module")
def spiky(tmp_path_factory):
    """300k points (steps with gaps), a random walk with spikes, NaN and Inf."""
    logdir = tmp_path_factory.mktemp("spiky")
    rng = np.random.default_rng(7)
    steps = np.sort(rng.choice(400_000, size=300_000, replace=False))
    values = np.cumsum(rng.normal(size=steps.size))
    values[12_345] = 1e6  # a single-point spike
    values[200_000] = -1e6
    values[rng.choice(steps.size, 40, replace=False)] = np.nan
    values[rng.choice(steps.size, 20, replace=False)] = np.inf
    values[rng.choice(steps.size, 20, replace=False)] = -np.inf
    values[50_000:50_100] = np.nan  # a bucket with no finite value
    with SummaryWriter(logdir=logdir, run_name="r", max_queue=7919) as w:
        for s, v in zip(steps.tolist(), values.tolist(), strict=True):
            w.add_scalar("walk", v, s)
    return Logdir(logdir).run("r"), steps, values


@pytest.mark.parametrize(
    "nbuckets, start, end",
    [
        (2000, None, None),  # rollups (interior) + raw ends
        (1000, 1234, 399_000),
        (7, None, None),  # very coarse: top rollup levels
        (500, 66_000, 67_000),  # narrow: raw aggregation
        (100, 66_000, 69_000),
        (1, 10, 10_000),
    ],
)
def test_downsampling_matches_numpy_and_keeps_spikes(spiky, nbuckets, start, end):
    run, steps, values = spiky
    b = run.scalars_downsampled("walk", nbuckets, start, end)
    lo = steps[0] if start is None else start
    hi = steps[-1] if end is None else end
    check_buckets(b, steps, values, lo, hi, nbuckets)
    sel = (steps >= lo) & (steps <= hi)
    fin = values[sel][np.isfinite(values[sel])]
    assert np.nanmax(b.max) == fin.max() and np.nanmin(b.min) == fin.min()


def test_downsampling_full_range_sees_both_spikes(spiky):
    run, _, _ = spiky
    b = run.scalars_downsampled("walk", 300)
    assert np.nanmax(b.max) == 1e6 and np.nanmin(b.min) == -1e6
    assert b.posinf.sum() == 20 and b.neginf.sum() == 20 and b.nan.sum() == 140
    assert b.count.sum() == 300_000


def test_downsampling_edge_cases(tmp_path):
    make_run(tmp_path, "r", n=5)
    run = Logdir(tmp_path).run("r")
    b = run.scalars_downsampled("x", 100)
    assert b.step.tolist() == [0, 1, 2, 3, 4] and b.mean.tolist() == [0, 1, 2, 3, 4]
    assert run.scalars_downsampled("x", 10, start=100).step.size == 0
    assert run.scalars_downsampled("x", 10, start=3, end=1).step.size == 0
    with pytest.raises(ValueError, match="buckets"):
        run.scalars_downsampled("x", 0)
    with pytest.raises(TypeError, match="buckets"):
        run.scalars_downsampled("x", 2.5)


def test_series_ranges_and_since(tmp_path):
    w = SummaryWriter(logdir=tmp_path, run_name="live")
    for step in range(100):
        w.add_scalar("x", float(step), step)
    w.flush()
    run = Logdir(tmp_path).run("live")
    s = run.scalars("x", start=10, end=19)
    assert s.step.tolist() == list(range(10, 20))
    assert run.scalars_since("x", 95).step.tolist() == [96, 97, 98, 99]
    assert run.scalars_since("x", None).step.size == 100
    assert run.info.status == "running"
    for step in range(100, 110):
        w.add_scalar("x", float(step), step)
    w.flush()
    new = run.scalars_since("x", 99)  # the same open Run sees the new flush
    assert new.step.tolist() == list(range(100, 110)) and new.value[0] == 100.0
    w.close()
    assert run.info.status == "finished"


def test_a_running_run_without_heartbeat_or_process_is_crashed(tmp_path):
    make_run(tmp_path, "r")
    conn = sqlite3.connect(tmp_path / "r" / "flowlog.db")
    now = time.time()
    conn.execute(
        "UPDATE run SET status = 'running', host = 'elsewhere', heartbeat = ?, flush_secs = 5",
        (now,),
    )
    conn.commit()
    ld = Logdir(tmp_path)
    assert ld.runs()[0].status == "running"  # other host, fresh heartbeat: trust it
    conn.execute("UPDATE run SET heartbeat = ?", (now - 3600,))
    conn.commit()
    assert ld.runs()[0].status == "crashed"  # no heartbeat for an hour
    conn.execute("UPDATE run SET host = ?, heartbeat = ?, pid = ?", (socket.gethostname(), now, 1))
    conn.commit()
    conn.close()
    row = {"status": "running", "host": socket.gethostname(), "pid": 2**22 + 12345}
    row.update(heartbeat=now, flush_secs=5.0)
    assert effective_status(row) == "crashed"  # this host, pid not alive
    row["pid"] = os.getpid()
    assert effective_status(row) == "running"
    assert effective_status(row, now=now + 10_000) == "crashed"
