"""Smoothing (TensorBoard's debiased EMA) and bucket math, against straightforward references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlog.dashboard.series import group_stats, minmax_select, nonfinite_points
from flowlog.dashboard.smoothing import ema, ema_continue, ema_state, ema_state_from


def reference_ema(values, weight):
    """TensorBoard's JavaScript smoothing, transcribed literally."""
    last, num_accum, out = 0.0, 0, []
    is_constant = all(v == values[0] for v in values)
    for v in values:
        if not math.isfinite(v) or is_constant:
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        num_accum += 1
        debias = 1.0 if weight == 1 else 1 - weight**num_accum
        out.append(last / debias)
    return np.array(out)


@pytest.mark.parametrize("weight", [0.0, 0.01, 0.3, 0.6, 0.9, 0.99, 0.999])
def test_ema_matches_reference_on_long_series(weight):
    rng = np.random.default_rng(1)
    v = np.cumsum(rng.normal(size=5000)) + 100
    np.testing.assert_allclose(ema(v, weight), reference_ema(list(v), weight), rtol=1e-9, atol=1e-9)


@given(
    st.lists(
        st.one_of(
            st.floats(-1e6, 1e6),
            st.sampled_from([math.nan, math.inf, -math.inf]),
        ),
        min_size=1,
        max_size=300,
    ),
    st.floats(0.0, 0.995),
)
@settings(max_examples=200, deadline=None)
def test_ema_matches_reference_with_nonfinite(values, weight):
    got = ema(values, weight)
    want = reference_ema(values, weight)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    assert np.array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-7, atol=1e-6)


def test_first_point_is_not_pulled_to_zero_and_constant_stays_constant():
    assert ema([5.0, 5.0, 5.0], 0.9).tolist() == [5.0, 5.0, 5.0]
    assert ema([5.0], 0.9)[0] == 5.0
    out = ema([10.0, 0.0], 0.5)
    assert out[0] == 10.0 and 0 < out[1] < 10.0


def test_nonfinite_pass_through_and_do_not_poison_the_average():
    out = ema([1.0, math.nan, math.inf, 3.0, -math.inf, 3.0], 0.6)
    assert math.isnan(out[1]) and out[2] == math.inf and out[4] == -math.inf
    assert np.isfinite(out[[0, 3, 5]]).all()
    np.testing.assert_allclose(out[[0, 3, 5]], ema([1.0, 3.0, 3.0], 0.6))


def test_huge_values_do_not_overflow():
    v = np.array([1e300, -1e300] * 2000)
    np.testing.assert_allclose(ema(v, 0.5), reference_ema(list(v), 0.5), rtol=1e-9)


def test_continue_equals_smoothing_the_whole_series():
    rng = np.random.default_rng(2)
    v = rng.normal(size=1000)
    v[[10, 500]] = np.nan
    head, tail = v[:700], v[700:]
    new, state = ema_continue(tail, 0.8, ema_state(head, 0.8))
    np.testing.assert_allclose(new, ema(v, 0.8)[700:], rtol=1e-10)
    assert state[1] == np.isfinite(v).sum()


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2, "x", None])
def test_bad_weight_is_rejected(bad):
    with pytest.raises(ValueError, match="smoothing weight"):
        ema([1.0, 2.0], bad)


def test_small_ranges_return_every_point():
    x = np.arange(100)
    assert minmax_select(x, np.sin(x), buckets=50).tolist() == list(range(100))
    assert minmax_select(x, np.sin(x), buckets=10, lo=20, hi=29).tolist() == list(range(20, 30))


def test_minmax_select_keeps_spikes_and_bucket_extremes():
    rng = np.random.default_rng(3)
    x = np.arange(100_000)
    y = rng.normal(size=x.size)
    y[12345] = 50.0
    y[77777] = -60.0
    sel = minmax_select(x, y, buckets=1000)
    assert sel.size <= 2002 and np.all(np.diff(sel) > 0)
    assert sel[0] == 0 and sel[-1] == x.size - 1
    assert 12345 in sel and 77777 in sel
    # every bucket's min and max is among the selected points (reference: a Python loop)
    b = np.floor(x * (1000 / (x[-1] - x[0]))).clip(0, 999).astype(int)
    chosen = set(sel.tolist())
    for k in (0, 1, 500, 999):
        members = np.flatnonzero(b == k)
        assert members[np.argmax(y[members])] in chosen
        assert members[np.argmin(y[members])] in chosen


def test_minmax_select_keeps_nonfinite_points():
    x = np.arange(10_000)
    y = np.zeros(x.size)
    y[[100, 5000, 9000]] = [np.nan, np.inf, -np.inf]
    sel = minmax_select(x, y, buckets=100)
    assert {100, 5000, 9000} <= set(sel.tolist())
    nf = nonfinite_points(x, y)
    assert nf["nan"].tolist() == [100] and nf["+inf"].tolist() == [5000]
    assert nf["-inf"].tolist() == [9000]


def test_minmax_select_rejects_mismatched_input():
    with pytest.raises(ValueError, match="equal length"):
        minmax_select(np.arange(3), np.arange(4), 10)


def test_group_stats_mean_and_std_over_runs():
    x = np.arange(0, 101, dtype=float)
    grid, mean, std, n = group_stats([x, x, x[::2]], [x, x + 2, x[::2] + 4], points=11)
    assert n == 3
    np.testing.assert_allclose(grid, np.linspace(0, 100, 11))
    np.testing.assert_allclose(mean, grid + 2)
    np.testing.assert_allclose(std, np.full(11, np.std([0, 2, 4])))


def test_histogram_percentiles_match_numpy_on_fine_buckets():
    from flowlog.dashboard.series import histogram_percentiles

    rng = np.random.default_rng(4)
    v = rng.normal(size=200_000)
    counts, edges = np.histogram(v, bins=2000)
    qs = [0, 0.07, 0.16, 0.5, 0.84, 0.93, 1]
    got = histogram_percentiles(edges, counts, qs)
    np.testing.assert_allclose(got, np.quantile(v, qs), atol=0.01)
    assert got[0] == edges[0] and got[-1] == edges[-1]


def test_histogram_percentiles_with_empty_buckets_and_no_data():
    from flowlog.dashboard.series import histogram_percentiles

    got = histogram_percentiles([0, 1, 2, 3], [5, 0, 5], [0.25, 0.5, 0.75])
    np.testing.assert_allclose(got, [0.5, 1.0, 2.5])
    assert np.isnan(histogram_percentiles([], [], [0.5])).all()
    assert np.isnan(histogram_percentiles([0, 1], [0], [0.5])).all()
    with pytest.raises(ValueError, match="quantiles"):
        histogram_percentiles([0, 1], [1], [1.5])
    with pytest.raises(ValueError, match="len\\(edges\\)"):
        histogram_percentiles([0, 1, 2], [1], [0.5])


def test_rebin_preserves_counts_and_spreads_uniformly():
    from flowlog.dashboard.series import rebin

    out = rebin([0, 2, 4], [10, 20], np.linspace(0, 4, 5))
    np.testing.assert_allclose(out, [5, 5, 10, 10])
    assert rebin([], [], [0, 1, 2]).tolist() == [0, 0]
    np.testing.assert_allclose(rebin([0, 1], [4], [-1, 0, 0.5, 2]), [0, 2, 2])


def test_state_from_smoothed_equals_state_from_a_second_pass():
    rng = np.random.default_rng(5)
    v = rng.normal(size=3000)
    v[[5, 2999]] = [np.inf, np.nan]
    for w in (0.0, 0.5, 0.95):
        got, want = ema_state_from(ema(v, w), v, w), ema_state(v, w)
        assert got[1] == want[1] and got[0] == pytest.approx(want[0], rel=1e-9, abs=1e-12)
    assert ema_state_from(ema([2.0] * 10, 0.9), [2.0] * 10, 0.9) == pytest.approx(
        ema_state([2.0] * 10, 0.9)
    )


def test_minmax_select_on_unsorted_x_matches_sorted_logic():
    rng = np.random.default_rng(6)
    x = np.sort(rng.uniform(0, 100, size=5000))
    y = rng.normal(size=x.size)
    sel_sorted = minmax_select(x, y, buckets=50)
    # same points, x perturbed so buckets are no longer monotone in index order
    x2 = x.copy()
    x2[[10, 11]] = x2[[11, 10]] + [0.0, 0.0]
    x2[100], x2[4000] = x2[4000], x2[100]
    sel2 = minmax_select(x2, y, buckets=50)
    from flowlog.dashboard.series import bucket_index

    b = bucket_index(x2, x2[0], x2[-1], 50)
    chosen = set(sel2.tolist())
    for k in (0, 25, 49):
        members = np.flatnonzero(b == k)
        assert members[np.argmax(y[members])] in chosen
        assert members[np.argmin(y[members])] in chosen
    assert sel_sorted.size <= 102
