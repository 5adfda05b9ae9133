"""Schema: versioning, refusal of foreign/newer files, migration of row logs to chunks, NaN/Inf
kept bit for bit, chunks sound and reads exact for any write order."""

from __future__ import annotations

import math
import os
import sqlite3
import tempfile

import numpy as np
import pytest
from conftest import assert_chunks_sound
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowlog import schema, schema_chunks, schema_legacy
from flowlog.reader import Logdir
from flowlog.writer import SummaryWriter

META = {
    "name": "r",
    "start_time": 1.0,
    "heartbeat": 1.0,
    "host": "h",
    "pid": 1,
    "cmdline": ["x"],
    "flowlog_version": "0",
    "flush_secs": 5.0,
}


def test_new_log_has_version_application_id_wal_and_tables(tmp_path):
    path = str(tmp_path / "r.flowlog.db")
    assert schema.create_log(path, META) is True
    assert schema.create_log(path, META) is False  # never overwrites
    assert sorted(os.listdir(tmp_path)) == ["r.flowlog.db"]  # no temporary files left
    conn = schema.open_for_write(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for table, columns in schema.required_columns(schema.SCHEMA_VERSION).items():
        assert columns <= schema.table_columns(conn, table), table
    assert not {"scalars", "scalar_rollups"} & schema.table_names(conn)  # rows: v1/v2 only
    index = conn.execute("SELECT name FROM pragma_index_info('scalar_chunks_steps')")
    assert [r[0] for r in index] == ["tag_id", "step_first", "step_last", "n"]
    assert schema.read_run(conn)["cmdline"] == ["x"]
    conn.close()


def test_writers_refuse_foreign_and_newer_files(tmp_path):
    foreign = tmp_path / "foreign.flowlog.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(schema.LogFileError, match="foreign.flowlog.db.*not a flowlog log"):
        schema.open_for_write(str(foreign))
    other_app = tmp_path / "other.flowlog.db"
    conn = sqlite3.connect(other_app)
    conn.execute("PRAGMA application_id = 42")
    conn.close()
    with pytest.raises(schema.LogFileError, match="application_id 0x2a"):
        schema.open_for_write(str(other_app))
    newer = str(tmp_path / "newer.flowlog.db")
    schema.create_log(newer, META)
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(schema.LogFileError, match="newer"):
        schema.open_for_write(newer)
    with pytest.raises(schema.LogFileError, match="newer"):
        SummaryWriter(logdir=tmp_path, run_name="newer")


def test_migration_from_an_empty_file_and_idempotence(tmp_path):
    path = str(tmp_path / "x.flowlog.db")
    conn = schema.open_for_write(path)  # empty file: migrated from version 0
    conn.close()
    conn = schema.open_for_write(path)  # already current: untouched
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()
    assert sorted(schema.MIGRATIONS) == list(range(schema.SCHEMA_VERSION))


def test_nan_and_infinities_keep_their_bits(tmp_path):
    path = str(tmp_path / "r.flowlog.db")
    schema.create_log(path, META)
    conn = schema.open_for_write(path)
    payload_nan = np.frombuffer(np.uint64(0x7FF8_0000_0000_0ABC).tobytes(), np.float64)[0]
    values = np.array([math.nan, math.inf, -math.inf, -0.0, payload_nan, 1e-310])
    schema.write_scalars(conn, 1, np.arange(6), np.zeros(6), values)
    step, _wall, got = schema.read_series(conn, 1)
    assert step.tolist() == list(range(6))
    assert got.tobytes() == values.tobytes()  # not NULL, not a canonical NaN: the same bits
    conn.close()


def test_small_flushes_leave_few_chunks_and_big_writes_are_cut(tmp_path):
    """One point per flush: the tail absorbs its smaller predecessors (a binary counter), so
    1000 flushes leave popcount(1000) = 6 chunks; a big write is cut at CHUNK_POINTS."""
    path = str(tmp_path / "r.flowlog.db")
    schema.create_log(path, META)
    conn = schema.open_for_write(path)
    for step in range(1000):
        schema.write_scalars(conn, 1, np.array([step]), np.zeros(1), np.array([float(step)]))
    n = schema_chunks.CHUNK_POINTS
    schema.write_scalars(conn, 2, np.arange(3 * n + 5), np.zeros(3 * n + 5), np.ones(3 * n + 5))
    sizes = conn.execute("SELECT tag_id, n FROM scalar_chunks ORDER BY tag_id, step_first")
    by_tag: dict[int, list[int]] = {}
    for tid, k in sizes:
        by_tag.setdefault(tid, []).append(k)
    assert by_tag[1] == [512, 256, 128, 64, 32, 8]
    assert by_tag[2] == [n, n, n, 5]
    assert schema.read_series(conn, 1)[2].tolist() == [float(s) for s in range(1000)]
    assert schema_chunks.check(conn) == 10
    conn.close()


def _v2_log(path: str, points) -> None:
    """A version-2 log as the writer of schema v2 left it: rows and rollups."""
    conn = sqlite3.connect(path, isolation_level=None)
    for version in (0, 1):
        for statement in schema.MIGRATIONS[version].split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    schema.start_run(conn, META)
    conn.execute("INSERT INTO tags (id, tag, kind) VALUES (1, 'loss', 'scalar')")
    conn.execute("INSERT INTO tags (id, tag, kind) VALUES (2, 'note', 'text')")
    schema_legacy.insert_scalars(conn, [(1, s, 10.0 + s, v) for s, v in points])
    schema_legacy.update_rollups(conn, 1, 0, points[-1][0])
    schema.insert_texts(conn, [(2, 3, 1.0, "kept")])
    conn.close()


def test_a_v2_log_reads_as_it_is_and_a_writer_migrates_it_to_chunks(tmp_path):
    points = [(s, math.nan if s == 7 else math.inf if s == 9 else s / 2) for s in range(0, 900, 3)]
    path = str(tmp_path / "r.flowlog.db")
    _v2_log(path, points)
    want_steps = [s for s, _ in points]
    want = np.array([v for _, v in points])
    with Logdir(tmp_path) as ld:  # read-only: rows and rollups
        run = ld.run("r")
        np.testing.assert_array_equal(run.scalars("loss").value, want)
        assert run.scalars_downsampled("loss", 4).count.sum() == len(points)
    conn = schema.open_for_write(path)  # a resuming writer migrates
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert not {"scalars", "scalar_rollups"} & schema.table_names(conn)
    step, wall, value = schema.read_series(conn, 1)
    assert step.tolist() == want_steps and wall.tolist() == [10.0 + s for s in want_steps]
    np.testing.assert_array_equal(value, want)
    assert schema.read_texts(conn) == [("note", 3, 1.0, "kept")]
    conn.close()
    with Logdir(tmp_path) as ld:
        tag = ld.run("r").tags("scalar")[0]
        assert (tag.count, tag.first_step, tag.last_step) == (300, 0, 897)


def test_legacy_rollup_widths():
    assert [schema_legacy.rollup_width(k) for k in (1, 2, 3)] == [32, 128, 512]
    assert schema_legacy.rollup_width(schema_legacy.ROLLUP_LEVELS) == 2**21


values = st.one_of(
    st.floats(-1e6, 1e6),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
writes = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 3000), values), min_size=1, max_size=120
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.integers(0, 600),
    writes=writes,
    max_queue=st.integers(1, 50),
    purge=st.none() | st.integers(0, 3000),
)
def test_reads_stay_exact_for_any_write_order(prefix, writes, max_queue, purge):
    """Sequential runs, rewrites, out-of-order steps and purges: the chunks stay sound, a full
    read is the last value written per step, and downsampling agrees with numpy over it."""
    with tempfile.TemporaryDirectory() as tmp:
        with SummaryWriter(logdir=tmp, run_name="r", max_queue=max_queue) as w:
            for step in range(prefix):
                w.add_scalar("a", float(step % 17), step)
            for tag, step, value in writes:
                w.add_scalar(tag, value, step)
        if purge is not None:
            SummaryWriter(logdir=tmp, run_name="r", purge_step=purge).close()
        path = os.path.join(tmp, "r", "flowlog.db")
        assert_chunks_sound(path, allow_empty=True)
        expected: dict[str, dict[int, float]] = {"a": {s: float(s % 17) for s in range(prefix)}}
        expected.setdefault("b", {})
        for tag, step, value in writes:
            expected[tag][step] = value
        ld = Logdir(tmp)
        run = ld.run("r")
        for tag, points in expected.items():
            points = {s: v for s, v in points.items() if purge is None or s < purge}
            if not points:
                continue
            steps = np.array(sorted(points))
            vals = np.array([points[s] for s in steps.tolist()])
            s = run.scalars(tag)
            np.testing.assert_array_equal(s.step, steps)
            np.testing.assert_array_equal(s.value, vals)
            b = run.scalars_downsampled(tag, 5)
            assert b.count.sum() == steps.size and b.nan.sum() == np.isnan(vals).sum()
            fin = vals[np.isfinite(vals)]
            if fin.size:
                assert np.nanmax(b.max) == fin.max() and np.nanmin(b.min) == fin.min()
        ld.close()
