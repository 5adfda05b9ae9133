"""Schema: versioning, refusal of foreign/newer files, NaN encoding, rollups exact in any order."""

from __future__ import annotations

import math
import os
import sqlite3
import tempfile

import numpy as np
import pytest
from conftest import stored_and_recomputed_rollups
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowlog import schema
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
    for table, columns in schema.REQUIRED_COLUMNS.items():
        assert columns <= schema.table_columns(conn, table), table
    pks = conn.execute("SELECT name FROM pragma_table_info('scalars') WHERE pk ORDER BY pk")
    assert [r[0] for r in pks] == ["tag_id", "step"]
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


def test_nan_is_null_and_infinities_are_real(tmp_path):
    path = str(tmp_path / "r.flowlog.db")
    schema.create_log(path, META)
    conn = schema.open_for_write(path)
    schema.insert_scalars(
        conn, [(1, 0, 0.0, math.nan), (1, 1, 0.0, math.inf), (1, 2, 0.0, -math.inf)]
    )
    types = conn.execute("SELECT typeof(value), value FROM scalars ORDER BY step").fetchall()
    assert types == [("null", None), ("real", math.inf), ("real", -math.inf)]
    schema.update_rollups(conn, 1, 0, 2)
    row = conn.execute(
        "SELECT n, nan, posinf, neginf, vmin, vmax, vsum FROM scalar_rollups WHERE level = 1"
    ).fetchone()
    assert row == (3, 1, 1, 1, math.inf, -math.inf, 0.0)  # no finite value: sentinels
    conn.close()


def test_rollup_widths():
    assert [schema.rollup_width(k) for k in (1, 2, 3)] == [32, 128, 512]
    assert schema.rollup_width(schema.ROLLUP_LEVELS) == 2**21


def recomputed_equals_stored(path):
    stored, fresh = stored_and_recomputed_rollups(path)
    assert [r[:9] + r[10:] for r in stored] == [r[:9] + r[10:] for r in fresh]
    for a, b in zip(stored, fresh, strict=True):
        assert a[9] == pytest.approx(b[9], rel=1e-9, abs=1e-9)


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
def test_rollups_stay_exact_for_any_write_order(prefix, writes, max_queue, purge):
    """Sequential runs, rewrites, out-of-order steps and purges: the incrementally maintained
    rollups always equal a recomputation from the raw points, and downsampling agrees with
    numpy over the points actually stored."""
    with tempfile.TemporaryDirectory() as tmp:
        with SummaryWriter(logdir=tmp, run_name="r", max_queue=max_queue) as w:
            for step in range(prefix):
                w.add_scalar("a", float(step % 17), step)
            for tag, step, value in writes:
                w.add_scalar(tag, value, step)
        if purge is not None:
            SummaryWriter(logdir=tmp, run_name="r", purge_step=purge).close()
        path = os.path.join(tmp, "r", "flowlog.db")
        recomputed_equals_stored(path)
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
