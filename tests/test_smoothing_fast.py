"""The blocked EMA and the per-bucket extremes of several series, against plain-Python
references, and the drawn smoothed line keeping its own range (scalars_data.extract)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_smoothing import reference_ema

from flowlog.dashboard.scalars_data import extract
from flowlog.dashboard.series import bucket_extremes, minmax_select
from flowlog.dashboard.smoothing import _block_len, ema, ema_continue, ema_state

WEIGHTS = [1e-6, 0.01, 0.5, 0.6, 0.9, 0.99, 0.999, 0.9999]


def sprinkled(n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """A random walk (offset from 0) with NaN, +Inf and -Inf at random places."""
    rng = np.random.default_rng(seed)
    v = (np.cumsum(rng.normal(size=n)) + 50.0) * scale
    for bad, p in ((math.nan, 0.03), (math.inf, 0.01), (-math.inf, 0.01)):
        v[rng.random(n) < p] = bad
    return v


def assert_matches_reference(v: np.ndarray, w: float, rtol: float = 1e-9) -> None:
    got, want = ema(v, w), reference_ema(list(v), w)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    assert np.array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=0)


@pytest.mark.parametrize("weight", WEIGHTS)
def test_fast_ema_matches_reference_on_long_series_with_nonfinite(weight):
    assert_matches_reference(sprinkled(30_000, seed=1), weight)


@pytest.mark.parametrize("weight", [1e-6, 0.5, 0.9, 0.999])
def test_lengths_around_the_block_size(weight):
    """One block, one short of a block, a point over, several blocks: carries and padding."""
    size = _block_len(10**9, weight)
    for n in sorted({1, 2, size - 1, size, size + 1, 2 * size - 1, 2 * size, 3 * size + 5}):
        if n >= 1:
            assert_matches_reference(sprinkled(n, seed=n), weight)


@pytest.mark.parametrize("scale", [1e300, 1e250, 1e-300, 1e-200])
@pytest.mark.parametrize("weight", [0.5, 0.9, 0.999])
def test_values_near_float64_limits(scale, weight):
    assert_matches_reference(sprinkled(5000, seed=7, scale=scale), weight)


@pytest.mark.parametrize("weight", [0.5, 0.9])
@pytest.mark.parametrize(("big", "small"), [(1e300, 1e-300), (1e250, 1e-30), (1e200, 1e-300)])
def test_huge_values_decay_into_tiny_ones_exactly(weight, big, small):
    """A burst of huge values amid tiny ones: its tail decays over thousands of points (many
    blocks) into the tiny values; neither may be lost to overflow, underflow or scaling (the
    exact path, the scaled block path, and a carry spanning blocks past float64's range)."""
    tiny = small * (1 + np.arange(6000) % 3)
    v = np.r_[tiny[:300], np.full(50, big), tiny]
    assert_matches_reference(v, weight)


def test_constant_finite_values_stay_exact_around_nonfinite():
    v = np.full(10_000, 3.25)
    v[[7, 5000]] = [math.nan, math.inf]
    out = ema(v, 0.999)
    assert np.array_equal(out[np.isfinite(v)], v[np.isfinite(v)])
    assert math.isnan(out[7]) and out[5000] == math.inf


def test_state_and_continue_over_many_blocks():
    v = sprinkled(50_000, seed=3)
    for w in (0.6, 0.999):
        head, tail = v[:31_111], v[31_111:]
        new, state = ema_continue(tail, w, ema_state(head, w))
        np.testing.assert_allclose(new[np.isfinite(new)], ema(v, w)[31_111:][np.isfinite(new)])
        assert state[1] == np.isfinite(v).sum()


def bucket_reference(x, ys, buckets, lo=None, hi=None) -> list[int]:
    """bucket_extremes' documented rule as plain Python loops."""
    lo = x[0] if lo is None else lo
    hi = x[-1] if hi is None else hi
    inside = [i for i in range(len(x)) if lo <= x[i] <= hi]
    if len(inside) <= 2 * len(ys) * buckets:
        return inside
    per = {}
    for i in inside:
        b = (
            0
            if not hi > lo
            else min(max(math.floor((x[i] - lo) * (buckets / (hi - lo))), 0), buckets - 1)
        )
        per.setdefault(b, []).append(i)
    chosen = {inside[0], inside[-1]}
    for members in per.values():
        for k, y in enumerate(ys):
            fin = [i for i in members if math.isfinite(y[i])]
            if fin:
                chosen.add(min(fin, key=lambda i: (y[i], i)))
                chosen.add(min(fin, key=lambda i: (-y[i], i)))
            if k == 0:
                for kind in (math.isnan, lambda t: t == math.inf, lambda t: t == -math.inf):
                    chosen.update([i for i in members if kind(y[i])][:1])
    return sorted(chosen)


def _cases():
    rng = np.random.default_rng(11)
    n = 3000
    steps = np.arange(n)
    dup = np.sort(rng.integers(0, 700, n)).astype(float)  # repeated x values
    unsorted = rng.uniform(0, 1000, n)
    raw = sprinkled(n, seed=5).round(0)  # rounded: many ties
    smooth = ema(raw, 0.9)
    yield steps, [raw], 100, None, None
    yield steps, [raw, smooth], 100, None, None
    yield steps, [raw, smooth], 37, 500.5, 2400
    yield dup, [raw, smooth], 50, None, None
    yield dup, [smooth, raw], 7, 100, 650
    yield unsorted, [raw, smooth], 64, None, None
    yield unsorted, [raw], 10, 200, 900
    yield steps, [np.full(n, math.nan), raw], 20, None, None
    yield np.zeros(n), [raw, smooth], 5, None, None  # hi == lo: one bucket
    yield steps, [raw], 3, 4000, 5000  # no point in range
    yield steps, [raw], 3, 2000, 1000  # lo > hi
    yield steps, [raw, smooth], 300, 1000, 2000  # 1001 points <= 4 * 300: all of them
    # more buckets than series._LOOP_SEGMENTS: the vectorised path, ties and NaNs included
    yield steps, [raw, smooth], 350, None, None
    yield dup, [raw], 400, None, None
    yield steps, [np.full(n, math.nan), raw], 320, None, None
    yield steps, [sprinkled(n, seed=8), raw], 1200, None, None


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: f"{len(c[1])}ys-{c[2]}b")
def test_bucket_extremes_match_a_plain_python_reference(case):
    x, ys, buckets, lo, hi = case
    got = bucket_extremes(x, ys, buckets, lo, hi)
    assert got.tolist() == bucket_reference(x.tolist(), [y.tolist() for y in ys], buckets, lo, hi)


def test_bucket_extremes_of_one_series_is_minmax_select_and_rejects_bad_input():
    x, y = np.arange(10_000), sprinkled(10_000, seed=2)
    assert np.array_equal(bucket_extremes(x, [y], 100), minmax_select(x, y, 100))
    assert bucket_extremes(np.arange(0), [np.arange(0)], 10).tolist() == []
    with pytest.raises(ValueError, match="equal length"):
        bucket_extremes(x, [y, y[:-1]], 10)
    with pytest.raises(ValueError, match="at least one"):
        bucket_extremes(x, [], 10)


def _per_bucket_range(x, values, sel, buckets):
    """Per bucket: the fraction of the smoothed series' min-max range the drawn points reach."""
    b = np.minimum(((x - x[0]) * (buckets / (x[-1] - x[0]))).astype(int), buckets - 1)
    out = []
    for k in range(buckets):
        full = values[b == k]
        drawn = values[sel][b[sel] == k]
        span = full.max() - full.min()
        out.append(1.0 if span == 0 else (drawn.max() - drawn.min()) / span)
    return np.array(out)


@pytest.mark.parametrize("weight", [0.6, 0.9])
def test_the_drawn_smoothed_line_reaches_its_own_extremes(weight):
    """Drawn at the raw extremes only, the smoothed line missed part of each bucket's range;
    now it reaches the smoothed curve's max and min in every bucket, raw extremes still drawn."""
    n, buckets = 200_000, 300
    rng = np.random.default_rng(9)
    step = np.arange(n)
    value = np.exp(-step / 50_000) + 0.1 * rng.normal(size=n)
    got = extract(step, step * 0.5 + 1e9, value, weight, "step", None, buckets)
    sel = np.searchsorted(step, got["st"])
    smooth = ema(value, weight)
    np.testing.assert_array_equal(got["s"], smooth[sel])
    np.testing.assert_array_equal(got["v"], value[sel])
    assert _per_bucket_range(step, smooth, sel, buckets).min() == 1.0
    assert set(minmax_select(step, value, buckets).tolist()) <= set(sel.tolist())
    old = minmax_select(step, value, buckets)  # the raw extremes alone: a visible gap
    assert _per_bucket_range(step, smooth, old, buckets).mean() < 0.98
    lean = extract(step, step * 0.5 + 1e9, value, weight, "step", None, buckets, True)
    assert lean["st"].tolist() == step[minmax_select(step, smooth, buckets)].tolist()


def test_raw_and_smoothed_lines_get_a_budget_of_their_own():
    """Up to 4 points per bucket in two traces: ``raw_too`` fits 20 such lines in CHART_BYTES,
    while the default budget (and what the callers get today) is unchanged."""
    from flowlog.dashboard import chart_budget as cb

    assert [cb.line_buckets(n) for n in (1, 20, 300)] == [cb.BUCKETS, cb.BUCKETS, 26]
    assert cb.line_buckets(12, True, raw_too=True) == cb.BUCKETS
    per_point = cb.SMOOTHED_COST[0] + cb.RAW_COST[0]
    per_line = cb.SMOOTHED_COST[1] + cb.RAW_COST[1]
    for n in (13, 20):
        b = cb.line_buckets(n, True, raw_too=True)
        assert b < cb.BUCKETS and n * (4 * b * per_point + per_line) <= cb.CHART_BYTES
    assert cb.line_buckets(20, False, raw_too=True) == cb.BUCKETS  # unsmoothed: min+max only
