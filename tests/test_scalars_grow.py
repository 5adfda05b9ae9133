"""A long live series' chart extends what it read at the last commit instead of re-reading
the run: the same points as a pass over every point, and a fresh pass whenever the stored
points changed other than by appending (real writer, real SQLite files)."""

from __future__ import annotations

import contextlib
import sqlite3

import numpy as np
import pytest

from flowlog import schema
from flowlog.backends import open_logdir
from flowlog.dashboard import scalars_grow
from flowlog.dashboard.scalars_data import Line, ScalarsData
from flowlog.dashboard.scalars_zoom import selected_on
from flowlog.dashboard.series import grid_extremes
from flowlog.dashboard.smoothing import ema
from flowlog.provider_cache import CachedProvider
from flowlog.writer import SummaryWriter

BUCKETS = 20  # few drawn buckets: the fine buckets coarsen within a few growths
N0 = scalars_grow.MIN_POINTS + 7


class CountingProvider(CachedProvider):
    """The real cached provider, counting the points its piece reads return."""

    read = 0

    def scalars_pieces(self, *args, **kwargs):
        for piece in super().scalars_pieces(*args, **kwargs):
            self.read += piece.step.size
            yield piece


def curve(lo: int, hi: int) -> np.ndarray:
    rng = np.random.default_rng(lo)
    v = np.sin(np.arange(lo, hi) / 5000.0) + rng.normal(0, 0.3, hi - lo)
    v[rng.integers(0, hi - lo, 5)] = np.nan
    if lo == 0:
        v[[11, 50_000]] = [np.inf, -np.inf]
    return v


def log(w: SummaryWriter, lo: int, hi: int, stride: int = 3) -> None:
    for i, v in zip(range(lo, hi), curve(lo, hi).tolist(), strict=True):
        w.add_scalar("loss", v, stride * i)
    w.flush()


@contextlib.contextmanager
def drawn_then_grown(tmp_path, provider, weights, more: int):
    """Run "r"'s line drawn from N0 points at each of ``weights``, then ``more`` points written;
    yields ``(data, reads, line)`` with the writer still open."""
    data = provider(open_logdir(tmp_path, cache=False))
    reads = ScalarsData(data)
    line = Line("r", "loss")
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        log(w, 0, N0)
        for weight in weights:
            reads.points(line, weight, "step", None, BUCKETS)
        log(w, N0, N0 + more)
        yield data, reads, line


def reference(reads: ScalarsData, weight: float, by_smoothed: bool, edges) -> dict:
    """Bucket extremes over every point on the grown extract's own buckets."""
    step, _wall, value = reads.series("r", "loss")
    smooth = ema(value, weight) if weight > 0 else value
    sel = grid_extremes(step, selected_on(value, smooth, weight, by_smoothed), edges)
    return {"x": step[sel], "v": value[sel], "s": smooth[sel]}


def assert_same(got: dict, want: dict) -> None:
    np.testing.assert_array_equal(got["x"], want["x"])
    np.testing.assert_array_equal(got["v"], want["v"])
    np.testing.assert_allclose(got["s"], want["s"], rtol=1e-10, equal_nan=True)


@pytest.mark.parametrize("dense", [False, True])  # True: equal buckets (one row each)
@pytest.mark.parametrize("width", [1, 7, 12, 400])
def test_grid_extremes_take_each_integer_buckets_extremes(width, dense):
    rng = np.random.default_rng(width)
    x = np.arange(3, 5003) if dense else np.cumsum(rng.integers(1, 4, 5000))
    raw = rng.normal(size=x.size).round(1)  # ties
    raw[rng.integers(0, x.size, 30)] = np.nan
    smooth = ema(raw, 0.8)
    edges = 5 + width * np.arange((int(x[-1]) - 5) // width + 2)
    got = grid_extremes(x, [raw, smooth], edges).tolist()
    inside = np.flatnonzero((x >= edges[0]) & (x < edges[-1]))
    want = {int(inside[0]), int(inside[-1])}
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        members = range(*np.searchsorted(x, [lo, hi]).tolist())  # lo <= x < hi
        for k, y in enumerate((raw, smooth)):
            fin = [i for i in members if np.isfinite(y[i])]
            if fin:
                want |= {min(fin, key=lambda i: (y[i], i)), min(fin, key=lambda i: (-y[i], i))}
            if k == 0:
                want |= set([i for i in members if np.isnan(y[i])][:1])
    assert got == sorted(want)


def grown_state(data, weight, by_smoothed):
    info = data.tags("r", "scalar")["loss"]
    group = ScalarsData._grown_group(Line("r", "loss"))
    return data.carried_value("r", group, (weight, BUCKETS, by_smoothed), info.generation)


@pytest.mark.parametrize(("weight", "by_smoothed"), [(0.0, False), (0.9, False), (0.6, True)])
def test_a_growing_series_reads_only_new_points_and_draws_as_every_point(
    tmp_path, weight, by_smoothed
):
    data = CountingProvider(open_logdir(tmp_path, cache=False))
    reads = ScalarsData(data)
    line = Line("r", "loss")
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        total, widths = 0, []
        for grown in (N0, 40_000, 3, 150_000, 90_001):
            log(w, total, total + grown)
            total += grown
            before = data.read
            got = reads.points(line, weight, "step", None, BUCKETS, by_smoothed)
            assert data.read - before == (N0 if total == N0 else grown)  # only the new points
            state = grown_state(data, weight, by_smoothed)
            assert state.points == got["count"] == total
            widths.append(state.width)
            edges = scalars_grow.drawn_edges(state, BUCKETS)
            assert BUCKETS * 0.85 <= edges.size - 1 <= BUCKETS  # whole fine buckets per bucket
            assert_same(got, reference(reads, weight, by_smoothed, edges))
            assert got["last_step"] == 3 * (total - 1) and got["first_step"] == 0
    assert widths[-1] > widths[0]  # the fine buckets coarsened as the series grew
    data.close()


def test_the_checkpoints_a_grown_pass_leaves_serve_zooms_exactly(tmp_path):
    with drawn_then_grown(tmp_path, CachedProvider, [0.9], 70_000) as (data, reads, line):
        reads.points(line, 0.9, "step", None, BUCKETS)
    rng = (3 * (N0 + 1000) + 0.5, 3 * (N0 + 1500))
    zoomed = reads.points(line, 0.9, "step", rng, 300)
    step, _wall, value = reads.series("r", "loss")
    inside = (step >= rng[0]) & (step <= rng[1])
    np.testing.assert_array_equal(zoomed["x"], step[inside])
    np.testing.assert_allclose(zoomed["s"], ema(value, 0.9)[inside], rtol=1e-10)
    data.close()


@pytest.mark.parametrize("change", ["rewrite", "interleave", "purge"])
def test_points_changed_other_than_by_appending_start_a_fresh_pass(tmp_path, change):
    data = CountingProvider(open_logdir(tmp_path, cache=False))
    reads = ScalarsData(data)
    line = Line("r", "loss")
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        log(w, 0, N0)
        reads.points(line, 0.9, "step", None, BUCKETS)
        generation = data.tags("r", "scalar")["loss"].generation
    kept = N0
    if change == "purge":  # a resumed run restarting at a step: everything from it goes
        kept = N0 - 1000
        w = SummaryWriter(logdir=tmp_path, run_name="r", purge_step=3 * kept)
    else:
        w = SummaryWriter(logdir=tmp_path, run_name="r")
    with w:
        if change == "rewrite":
            w.add_scalar("loss", 1e6, 3 * 500)  # a stored step, written again
        elif change == "interleave":
            w.add_scalar("loss", -1e6, 3 * 500 + 1)  # between two stored steps
        log(w, kept, kept + 5000)
    assert data.tags("r", "scalar")["loss"].generation != generation
    before = data.read
    got = reads.points(line, 0.9, "step", None, BUCKETS)
    total = kept + 5000 + (change == "interleave")
    assert data.read - before == total  # read anew, not extended
    state = grown_state(data, 0.9, False)
    assert_same(got, reference(reads, 0.9, False, scalars_grow.drawn_edges(state, BUCKETS)))
    if change != "purge":
        assert (1e6 if change == "rewrite" else -1e6) in got["v"]  # the new extreme is drawn
    data.close()


def test_a_generation_is_kept_from_v4_on_and_unknown_before(tmp_path):
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        w.add_scalar("loss", 1.0, 0)
        w.flush()
        w.add_scalar("loss", 2.0, 0)  # a stored step rewritten: generation 1
    path = tmp_path / "r" / schema.RUN_FILE
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT generation FROM scalar_generations").fetchall() == [(1,)]
    conn.execute("DROP TABLE scalar_generations")  # as a v3 file is
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    backend = open_logdir(tmp_path, cache=False)
    assert backend.tags("r", "scalar")["loss"].generation is None  # unknown: never carried
    backend.close()
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:  # a writer upgrades it to v4
        w.add_scalar("loss", 3.0, 1)
    backend = open_logdir(tmp_path, cache=False)
    info = backend.tags("r", "scalar")["loss"]
    assert info.generation is not None and info.count == 2
    backend.close()


def test_the_variants_of_a_line_grow_together_from_one_read(tmp_path):
    """A smoothing change on a live run: the other weight drawn lately was extended with the
    one drawn, so switching back reads nothing new, and draws as every point."""
    with drawn_then_grown(tmp_path, CountingProvider, [0.6, 0.9], 30_000) as (data, reads, line):
        before = data.read
        reads.points(line, 0.6, "step", None, BUCKETS)
        assert data.read - before == 30_000  # once, for both weights
        assert grown_state(data, 0.9, False).points == N0 + 30_000
        got = reads.points(line, 0.9, "step", None, BUCKETS)
        assert data.read - before == 30_000  # nothing more to read
    state = grown_state(data, 0.9, False)
    assert_same(got, reference(reads, 0.9, False, scalars_grow.drawn_edges(state, BUCKETS)))
    data.close()


def test_two_callers_extending_one_line_read_its_new_points_once(tmp_path):
    """A chart request while a live catch-up extends the same line waits for it, then
    extends what it left: the new points are read once, not by both."""
    import threading

    with drawn_then_grown(tmp_path, CountingProvider, [0.6], 60_000) as (data, reads, line):
        before = data.read
        calls = [threading.Thread(target=reads.points, args=(line, 0.6, "step", None, BUCKETS))
                 for _ in range(2)]  # fmt: skip
        for t in calls:
            t.start()
        for t in calls:
            t.join()
    assert data.read - before == 60_000
    assert grown_state(data, 0.6, False).points == N0 + 60_000
    data.close()


def test_a_live_catch_up_leaves_the_rebuild_nothing_to_read(tmp_path):
    """ScalarsView.catch_up (a live chart whose rebuild waits) extends the chart's own
    variant with the points written since: the rebuild then reads none, and draws what the
    same rebuild draws without a catch-up."""
    from flowlog.dashboard.scalars_charts import ScalarsView

    data = CountingProvider(open_logdir(tmp_path, cache=False))
    caught, plain = (
        ScalarsView(data),
        ScalarsView(CachedProvider(open_logdir(tmp_path, cache=False))),
    )
    info = [{"name": "r", "color": "#1f77b4"}]
    args = ("loss", info, ["r"], 0.6, "step", [], "none", None, None)
    with SummaryWriter(logdir=tmp_path, run_name="r") as w:
        log(w, 0, N0)
        _fig, state = caught.build(*args)
        plain.build(*args)
        log(w, N0, N0 + 50_000)
        lines = caught.run_lines("loss", ["r"], info, "each", {})
        before = data.read
        caught.catch_up(state, lines).result()
        assert data.read - before == 50_000  # the new points, read in the background
        fig, _new = caught.build(*args)
        assert data.read - before == 50_000  # the rebuild read nothing more
        assert caught.catch_up({**state, "xmode": "wall"}, lines) is None  # nothing carried
    want, _ = plain.build(*args)
    assert [t.get("y") for t in fig.data] == [t.get("y") for t in want.data]
    data.close()
