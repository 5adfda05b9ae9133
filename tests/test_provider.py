"""The data-provider interface, its SQLite backend and the one cache (real SQLite files)."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from flowlog import export
from flowlog.backends import open_logdir
from flowlog.provider import DataProvider, ReadError
from flowlog.provider_cache import CachedProvider
from flowlog.provider_merge import MergedProvider
from flowlog.reader import SqliteProvider
from flowlog.tensorboard_provider import TensorBoardProvider
from flowlog.writer import SummaryWriter


def write(logdir, name="r", n=20, flush_secs=60):
    w = SummaryWriter(logdir=logdir, run_name=name, flush_secs=flush_secs)
    for i in range(n):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    w.flush()
    return w


def test_both_providers_implement_the_interface(tmp_path):
    write(tmp_path).close()
    plain, cached = open_logdir(tmp_path, cache=False), open_logdir(tmp_path)
    assert isinstance(plain, MergedProvider) and isinstance(cached, CachedProvider)
    flowlog_runs, tensorboard_runs = (p for p, _ in plain.parts)
    assert isinstance(flowlog_runs, SqliteProvider)
    assert isinstance(tensorboard_runs, TensorBoardProvider)
    for provider in (plain, cached, flowlog_runs, tensorboard_runs):
        assert isinstance(provider, DataProvider)
    assert tensorboard_runs.runs() == []
    for provider in (plain, cached):
        assert isinstance(provider, DataProvider)
        (info,) = provider.runs()
        assert info.name == "r" and info.status == "finished" and info.token is not None
        assert list(provider.tags("r")) == ["loss"]
        assert provider.scalars("r", "loss").step.tolist() == list(range(20))
        assert provider.scalars_downsampled("r", "loss", 4).count.sum() == 20
        assert provider.scalars_since("r", "loss", 17).step.tolist() == [18, 19]
        assert provider.location == str(tmp_path)


def test_change_token_moves_on_every_commit_and_only_then(tmp_path):
    w = write(tmp_path)
    provider = open_logdir(tmp_path, cache=False)
    first = provider.change_token("r")
    assert provider.change_token("r") == first
    provider.scalars("r", "loss")  # reading changes nothing
    assert provider.change_token("r") == first
    w.add_scalar("loss", 0.5, 20)
    w.flush()
    second = provider.change_token("r")
    assert second != first
    w.close()
    assert provider.change_token("r") != second  # the status row changed
    assert provider.run_info("r").token == provider.change_token("r")


def test_a_replaced_file_never_reuses_an_old_token(tmp_path):
    write(tmp_path).close()
    provider = open_logdir(tmp_path, cache=False)
    old = provider.change_token("r")
    (tmp_path / "r/flowlog.db").unlink()
    write(tmp_path, n=5).close()
    provider.runs()
    assert provider.change_token("r") != old
    assert provider.scalars("r", "loss").step.size == 5


def test_cache_answers_until_the_run_changes(tmp_path):
    w = write(tmp_path)
    data = open_logdir(tmp_path)
    tags = data.tags("r", "scalar")
    series = data.scalars("r", "loss")
    assert data.tags("r", "scalar") is tags and data.scalars("r", "loss") is series
    assert data.scalars("r", "loss", 0, 5) is not series  # other arguments, other entry
    calls = []
    derived = data.memo("r", "doubled", lambda: calls.append(1) or series.value * 2)
    assert data.memo("r", "doubled", lambda: calls.append(1)) is derived and calls == [1]
    assert data.is_cached("r", "doubled")
    w.add_scalar("extra", 1.0, 3)
    w.add_scalar("loss", 0.0, 20)
    w.flush()
    assert not data.is_cached("r", "doubled")
    again = data.tags("r", "scalar")
    assert list(again) == ["loss", "extra"] and again["loss"].count == 21
    assert data.scalars("r", "loss").step.size == 21
    w.close()
    assert data.numerics("r") == []


def test_live_tail_is_never_cached(tmp_path):
    w = write(tmp_path, n=3)
    data = open_logdir(tmp_path)
    assert data.scalars_since("r", "loss", 1).step.tolist() == [2]
    w.add_scalar("loss", 0.1, 3)
    w.flush()
    assert data.scalars_since("r", "loss", 1).step.tolist() == [2, 3]
    w.close()


def test_cache_stays_within_its_byte_budget_and_big_reads_keep_small_answers(tmp_path):
    for name in "abc":
        write(tmp_path, name=name, n=10_000).close()
    data = CachedProvider(SqliteProvider(tmp_path), max_bytes=500_000)  # ~2 series of 240 kB
    extract = data.memo("a", "drawn", lambda: np.zeros(3000))  # 24 kB: a small answer
    for name in "abc":
        data.scalars(name, "loss")
    assert data.cached_bytes <= 500_000 + 32 * 2**20
    assert data.has_scalars("c", "loss")
    assert not data.has_scalars("a", "loss")  # least recently used
    assert data.memo("a", "drawn", lambda: None) is extract  # not pushed out by the big reads
    tiny = CachedProvider(SqliteProvider(tmp_path), max_small_bytes=50_000)
    for i in range(5):
        tiny.memo("a", i, lambda: np.zeros(3000))
    assert [tiny.is_cached("a", i) for i in range(5)] == [False, False, False, True, True]


def test_discovery_is_shared_within_max_age(tmp_path):
    write(tmp_path, name="one").close()
    data = open_logdir(tmp_path)
    assert [r.name for r in data.runs(max_age=60)] == ["one"]
    write(tmp_path, name="two").close()
    assert [r.name for r in data.runs(max_age=60)] == ["one"]  # a scan younger than that
    assert [r.name for r in data.runs(max_age=0)] == ["one", "two"]


def test_unknown_runs_and_tags_are_key_errors_naming_them(tmp_path):
    write(tmp_path).close()
    data = open_logdir(tmp_path)
    with pytest.raises(KeyError, match="no run named '../r'"):
        data.scalars("../r", "loss")
    with pytest.raises(KeyError, match="has no tag 'nope'"):
        data.scalars("r", "nope")


def test_a_run_damaged_after_discovery_raises_read_error_not_sqlite(tmp_path):
    write(tmp_path, n=5000).close()
    data = open_logdir(tmp_path)
    assert data.runs()[0].name == "r"
    path = tmp_path / "r/flowlog.db"
    raw = bytearray(path.read_bytes())
    raw[4096:] = b"\xff" * (len(raw) - 4096)  # every page after the first is garbage
    path.write_bytes(bytes(raw))
    with pytest.raises(ReadError, match="'r'.*cannot be read"):
        data.scalars("r", "loss")
    assert data.warnings() == []  # the good runs' views go on; the error names this run


def series(run="r", tag="t", values=(1.0, math.nan, math.inf, -math.inf), smoothed=None):
    n = len(values)
    return export.ExportSeries(
        run, tag, np.arange(n), np.linspace(1e9, 1e9 + 1, n), np.array(values), smoothed
    )


def test_export_spells_non_finite_values_one_way_in_csv_and_json():
    text = export.to_csv([series()])
    assert "\r" not in text and text.splitlines()[0] == "run,tag,step,wall_time,value"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["value"] for r in rows] == ["1.0", "NaN", "Infinity", "-Infinity"]
    assert [float(r["value"]) for r in rows][2:] == [math.inf, -math.inf]
    doc = json.loads(export.to_json([series()], smoothing=0.0))
    assert doc["format"] == export.FORMAT == "flowlog.scalars/2"
    assert doc["series"][0]["value"] == [1.0, "NaN", "Infinity", "-Infinity"]
    assert "smoothed" not in doc["series"][0]
    smooth = series(smoothed=np.array([1.0, 1.0, math.nan, 2.0]))
    assert list(csv.DictReader(io.StringIO(export.to_csv([smooth]))))[2]["smoothed"] == "NaN"
    with pytest.raises(ValueError, match="'xml'"):
        export.encode([], "xml")


def test_dashboard_export_without_smoothing_equals_the_cli_export(tmp_path, capsys):
    from flowlog.cli import main
    from flowlog.dashboard.scalars_data import ScalarsData

    w = write(tmp_path, n=6)
    w.add_scalar("loss", math.nan, 6)
    w.close()
    out = tmp_path / "cli.csv"
    assert main(["export-scalars", str(tmp_path), "-o", str(out)]) == 0
    rows = ScalarsData(open_logdir(tmp_path)).export_series(["r"], ["loss"], 0.0, {})
    assert export.to_csv(rows) == out.read_text()
    assert out.read_text().splitlines()[-1].endswith(",NaN")
