"""Zooming reads only the window: EMA checkpoints give the same smoothed values as smoothing
every point, with the full series gone from the cache (real writer, real SQLite files)."""

from __future__ import annotations

import numpy as np
import pytest

from flowlog.backends import open_logdir
from flowlog.dashboard import scalars_zoom
from flowlog.dashboard.scalars_data import Line, ScalarsData, extract
from flowlog.dashboard.smoothing import ema, ema_continue
from flowlog.provider_cache import CachedProvider
from flowlog.writer import SummaryWriter

N = 3 * scalars_zoom.EVERY + 1234  # several checkpoints and a ragged end


def reference_checkpoints(values, w: float):
    """(indices, biased EMA state, finite count) after every EVERY-th point, by
    TensorBoard's plain loop (NaN/Inf do not feed the average)."""
    last, count, at, lasts, counts = 0.0, 0, [], [], []
    for i, v in enumerate(values.tolist()):
        if np.isfinite(v):
            last, count = last * w + (1 - w) * v, count + 1
        if (i + 1) % scalars_zoom.EVERY == 0:
            at.append(i)
            lasts.append(last)
            counts.append(count)
    return np.array(at), np.array(lasts), np.array(counts)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("zoom")
    rng = np.random.default_rng(5)
    values = np.cumsum(rng.normal(size=N))
    values[rng.integers(0, N, 40)] = np.nan
    values[[100, 20000]] = [np.inf, -np.inf]
    with SummaryWriter(logdir=d, run_name="r") as w:
        for step in range(N):
            w.add_scalar("loss", float(values[step]), 2 * step)  # steps 0, 2, 4, ...
        for step in range(10_000):  # a full read in the cache's large class, as "loss"
            w.add_scalar("other", 1.0, step)
    return d


def test_ema_continue_equals_smoothing_the_whole_series():
    v = np.cumsum(np.random.default_rng(1).normal(size=5000))
    v[[7, 3000]] = np.nan
    for w in (0.3, 0.9, 0.999):
        head, state = ema_continue(v[:1700], w, (0.0, 0))
        tail, _ = ema_continue(v[1700:], w, state)
        np.testing.assert_allclose(np.r_[head, tail], ema(v, w), rtol=1e-11, equal_nan=True)


@pytest.mark.parametrize("weight", [0.0, 0.6, 0.99])
@pytest.mark.parametrize(
    "rng", [(0, 900), (20_001.5, 21_999.2), (2 * N - 3000, 2 * N), (-50.0, 1e12), (17_000, 17_004)]
)
def test_a_zoom_reads_the_window_and_smooths_as_every_point(logdir, weight, rng):
    # a full-read budget of 1 byte: only the newest full series stays, beside the checkpoints
    data = CachedProvider(open_logdir(logdir, cache=False), max_bytes=1)
    reads = ScalarsData(data)
    line = Line("r", "loss")
    reads.points(line, weight, "step", None, 300)  # the full build leaves the checkpoints
    reads.series("r", "other")
    assert not data.has_scalars("r", "loss")
    zoomed = reads.points(line, weight, "step", rng, 300)
    step, wall, value = reads.series("r", "loss")
    full = extract(step, wall, value, weight, "step", rng, 300)
    np.testing.assert_array_equal(zoomed["x"], full["x"])
    np.testing.assert_array_equal(zoomed["v"], full["v"])
    np.testing.assert_allclose(zoomed["s"], full["s"], rtol=1e-11, equal_nan=True)
    for key in ("wall0", "ema", "first_step", "last_step"):
        assert zoomed[key] == full[key]
    data.close()


def test_the_window_read_starts_after_the_checkpoint_before_it(logdir):
    data = open_logdir(logdir)
    reads = ScalarsData(data)
    ck = reads.checkpoints(Line("r", "loss"), 0.9)
    assert ck["step"].tolist() == [2 * (k * scalars_zoom.EVERY - 1) for k in (1, 2, 3)]
    start, end, state = scalars_zoom.read_window(ck, (40_000.0, 41_000.9))
    assert (start, end) == (ck["step"][1] + 1, 41_000)  # 2 * 16383 = 32766 < 40000
    assert state[1] == int(np.isfinite(reads.series("r", "loss")[2][: 2 * 8192]).sum())
    assert scalars_zoom.read_window(ck, (10.0, 20.0)) == (None, 20, (0.0, 0))
    data.close()


@pytest.mark.parametrize("weight", [0.0, 0.6, 0.999])
@pytest.mark.parametrize("buckets,by_smoothed", [(300, False), (40, False), (40, True)])
def test_a_streamed_extract_draws_the_points_of_the_whole_series(logdir, weight, buckets,
                                                                 by_smoothed):  # fmt: skip
    """Windows of 1,000 points (26 windows): the same drawn points, values and final EMA
    state as extracting from the whole series at once, and the same checkpoints."""
    data = open_logdir(logdir)
    info = data.tags("r", "scalar")["loss"]
    pieces = data.scalars_pieces("r", "loss", points=1000)
    got, ck = scalars_zoom.streamed_extract(
        pieces, weight, buckets, by_smoothed, (info.first_step, info.last_step)
    )
    s = data.scalars("r", "loss")
    want = extract(s.step, s.wall, s.value, weight, "step", None, buckets, by_smoothed)
    np.testing.assert_array_equal(got["x"], want["x"])
    np.testing.assert_array_equal(got["v"], want["v"])
    np.testing.assert_allclose(got["s"], want["s"], rtol=1e-11, equal_nan=True)
    assert got["ema"] == pytest.approx(want["ema"], rel=1e-11)
    assert (got["first_step"], got["last_step"], got["wall0"]) == (0, 2 * (N - 1), s.wall[0])
    want_step, want_last, want_count = reference_checkpoints(s.value, weight)
    np.testing.assert_array_equal(ck["step"], s.step[want_step])
    np.testing.assert_array_equal(ck["count"], want_count)
    np.testing.assert_allclose(ck["last"], want_last, rtol=1e-9, atol=1e-12)
    data.close()


def test_checkpoint_states_inside_runs_of_nan_match_the_plain_loop():
    """A checkpoint may fall inside a run of NaN/Inf (a diverged stretch, one at the piece's
    start): its state is the one after the last finite point before it."""
    v = np.cumsum(np.random.default_rng(3).normal(size=40_000))
    v[:500] = np.nan  # the piece starts with a run: the state before it holds
    v[8000:20000] = np.nan  # a long run over a checkpoint
    v[[8191, 24575, 24576]] = [np.inf, -np.inf, np.nan]  # on checkpoints, a short run
    before = (2.5, 10)
    smooth, _ = ema_continue(v, 0.9, before)
    at = np.arange(scalars_zoom.EVERY - 1, v.size, scalars_zoom.EVERY)
    at = np.r_[3, at]  # inside the leading run
    last, count = scalars_zoom.states_at(at, v, smooth, 0.9, before)
    biased, n, want_last, want_count = before[0], before[1], [], []
    for i, x in enumerate(v.tolist()):
        if np.isfinite(x):
            biased, n = biased * 0.9 + 0.1 * x, n + 1
        if i in set(at.tolist()):
            want_last.append(biased)
            want_count.append(n)
    np.testing.assert_allclose(last, want_last, rtol=1e-10)
    assert count.tolist() == want_count
