"""HParams at a glance: the parallel coordinates follow the table's filters (and say when none
match), a trial that lacks most values is drawn faint and under the others, and an axis of
only n/a/NaN puts them at its bottom end, not mid-axis.

Plain functions first, then the real dashboard on real logs in headless Chromium.
"""

from __future__ import annotations

import pytest
from test_hparams_view import API, N_RUNS, open_hparams, sweep, wait_parcoords

from flowlog.dashboard import hparams_grid as grid
from flowlog.dashboard.colors import shade
from flowlog.dashboard.hparams_data import MISSING, NAN
from flowlog.dashboard.hparams_figures import (
    RUN_COLORS,
    is_sparse,
    numeric_dimension,
    parcoords_figure,
)


def test_filtered_rows_are_the_grids_virtual_rows():
    rows = [{"id": i, "run": i} for i in ("a", "b", "c")]
    assert grid.filtered_rows(rows, None) == rows  # the grid has not reported its rows yet
    assert grid.filtered_rows(rows, [{"id": "c", "run": "c"}, "junk"]) == [rows[2]]
    assert grid.filtered_rows(rows, []) == []


def test_an_axis_of_only_missing_values_puts_them_at_its_bottom_end():
    dim = numeric_dimension("final loss", ["NaN", None, "NaN"])
    lo, hi = dim["range"]
    places = dict(zip(dim["ticktext"], dim["tickvals"], strict=True))
    assert set(places) == {NAN, MISSING}
    for y in places.values():  # the lowest quarter of the axis (it was the middle)
        assert (y - lo) / (hi - lo) < 0.25


def test_trials_lacking_most_values_are_faint_and_drawn_under():
    keys = ["hp:lr", "hp:batch", "hp:opt", "metric:loss"]
    full = {"id": "full", "run": "full", "hp:lr": 0.1, "hp:batch": 32, "hp:opt": "adam",
            "metric:loss": 0.2}  # fmt: skip
    sparse = {"id": "sparse", "run": "sparse", "hp:lr": 0.3, "metric:loss": "NaN"}
    assert is_sparse(sparse, keys) and not is_sparse(full, keys)
    assert not is_sparse({"hp:opt": "sgd", "hp:lr": 1, "hp:batch": None}, keys[:3])
    colors = {"full": "#1f77b4", "sparse": "#d62728"}
    fig = parcoords_figure([sparse, full], keys, colors, RUN_COLORS)
    line = fig.data[0].line
    assert list(fig.data[0].dimensions[0].values) == [0.3, 0.1]  # sparse first: under
    scale = [c for _p, c in line.colorscale]
    assert scale == [shade("#d62728", 0.7), "#1f77b4"]


PARCOORDS_LINES = (
    "document.querySelector('#hp-parcoords .js-plotly-plot')._fullData[0]"
    ".dimensions[0].values.length"
)


@pytest.mark.browser
def test_the_table_filter_filters_the_parallel_coordinates(page, dash_server, tmp_path):
    sweep(tmp_path)
    open_hparams(page, dash_server(tmp_path))
    wait_parcoords(page)
    assert page.evaluate(PARCOORDS_LINES) == N_RUNS
    page.evaluate(
        f"{API}.setFilterModel({{'hp:batch':"
        " {filterType: 'number', type: 'greaterThanOrEqual', filter: 64}})"
    )
    page.wait_for_function(f"{API}.getDisplayedRowCount() === 12")
    page.wait_for_function(f"{PARCOORDS_LINES} === 12")  # the trials the table shows

    # nothing matches: both say so instead of an empty grid and blank axes
    page.evaluate(
        f"{API}.setFilterModel({{'hp:batch':"
        " {filterType: 'number', type: 'greaterThan', filter: 1e9}})"
    )
    page.locator("#hp-table", has_text="No trial matches the filters").wait_for()
    page.wait_for_function(
        "(document.querySelector('#hp-parcoords .js-plotly-plot')?.layout?.annotations || [])"
        ".some(a => a.text.includes('No trial matches'))"
    )
    page.evaluate(f"{API}.setFilterModel(null)")  # cleared: every trial again
    page.wait_for_function(
        f"document.querySelector('#hp-parcoords .js-plotly-plot')._fullData[0]?.type"
        f" === 'parcoords' && {PARCOORDS_LINES} === {N_RUNS}"
    )


@pytest.mark.browser
def test_columns_cut_off_on_the_right_are_announced(page, dash_server, tmp_path):
    sweep(tmp_path)
    page.set_viewport_size({"width": 1024, "height": 768})
    open_hparams(page, dash_server(tmp_path))
    chip = page.locator(".fl-hp-more:not(.fl-hidden) .fl-hp-more-chip")
    chip.wait_for()
    assert "more column" in chip.inner_text()
    for _ in range(6):  # each click scrolls most of a screen right, to the last column
        if not chip.count():
            break
        chip.click()
        page.wait_for_timeout(900)
    page.locator(".fl-hp-more.fl-hidden").wait_for(state="attached")
    last = page.locator("#hp-table .ag-header-cell[col-id='best:loss/train']").first
    box, grid = last.bounding_box(), page.locator("#hp-table").bounding_box()
    assert box["x"] + box["width"] <= grid["x"] + grid["width"] + 1  # now in view
    page.set_viewport_size({"width": 1800, "height": 900})  # wide enough: no cue
    page.wait_for_timeout(1200)
    assert page.locator(".fl-hp-more:not(.fl-hidden)").count() == 0
