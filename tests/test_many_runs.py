"""Many runs (a sweep of 300): the default selection of the most recent runs, the runs panel's
"showing N of M" note, and each chart's payload budget, on real logs of the real writer."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest
from conftest import BROWSER_TIMEOUT_MS

from flowlog.writer import SummaryWriter

RUNS, POINTS = 300, 2000


def write_sweep(logdir, runs: int, points: int, seed: int = 0) -> list[str]:
    """``runs`` runs of a "loss" tag (every 50th with a NaN), written in a shuffled order so
    start-time order differs from name order; returns the names in the order written."""
    rng = np.random.default_rng(seed)
    order = [f"run{i:03d}" for i in rng.permutation(runs).tolist()]
    steps = np.arange(points)
    for k, name in enumerate(order):
        w = SummaryWriter(logdir=logdir, run_name=name, flush_secs=60, max_queue=100_000)
        loss = np.exp(-steps / (points / 4)) + 0.05 * rng.normal(size=points)
        if k % 50 == 0:
            loss[points // 2] = math.nan
        for s, v in zip(steps.tolist(), loss.tolist(), strict=True):
            w.add_scalar("loss", v, s)
        w.close()
    return order


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep") / "runs"
    return d, write_sweep(d, RUNS, POINTS)


def _app(logdir):
    from flowlog.dashboard import create_app

    return create_app(logdir, reload_interval=60)


def xs(trace) -> list[int]:
    """The steps a trace draws (its binary x array)."""
    return np.frombuffer(base64.b64decode(trace["x"]["bdata"]), "<i4").tolist()


def payload_bytes(fig, state) -> int:
    """What the chart callback sends for one chart: its figure and live state, as Dash
    serialises them."""
    from plotly.io.json import to_json_plotly

    return len(to_json_plotly(fig)) + len(to_json_plotly(state))


def test_a_new_page_selects_the_20_most_recent_of_300_runs(sweep):
    from flowlog.dashboard.run_selection import MAX_DEFAULT_RUNS
    from flowlog.dashboard.runs_panel import initial_state

    logdir, order = sweep
    init = initial_state(_app(logdir).flowlog_context)
    assert len(init["info"]) == RUNS
    assert MAX_DEFAULT_RUNS == 20
    assert init["selected"] == sorted(order[-20:])  # the last written, in the panel's order
    assert init["selected"] != [r["name"] for r in init["info"]][:20]  # not the first by name


def test_payload_per_chart_stays_under_1_mb_with_all_300_runs_selected(sweep):
    from flowlog.dashboard.chart_budget import BUCKETS
    from flowlog.dashboard.runs_panel import initial_state

    logdir, _order = sweep
    ctx = _app(logdir).flowlog_context
    view, info = ctx.extra["scalars"], initial_state(ctx)["info"]
    names = [r["name"] for r in info]
    fig, state = view.build("loss", info, names, 0.6, "step", [], "none", None, None)
    assert len(state["runs"]) == RUNS and state["buckets"] < BUCKETS
    assert payload_bytes(fig, state) <= 1_000_000
    # smoothed: no faint raw lines (one grey mass), the hover of each smoothed point tells
    # the raw value
    assert not any("raw" in e for e in state["runs"].values())
    assert "value %{customdata[1]" in fig.data[state["runs"][names[0]]["smooth"]]["hovertemplate"]
    b = state["buckets"]  # every run still draws its line, coarser: each bucket's min and max
    drawn = [len(xs(fig.data[e["smooth"]])) for e in state["runs"].values()]
    assert all(2 * b <= n <= 2 * b + 3 for n in drawn)  # (+ the ends and a NaN's position)
    # ... through the smoothed series' own bucket extremes (no zigzag towards raw extremes)
    from flowlog.dashboard.series import minmax_select
    from flowlog.dashboard.smoothing import ema

    got = ctx.data.scalars(names[3], "loss")
    smoothed = ema(got.value, 0.6)
    want = got.step[minmax_select(got.step, smoothed, b)].tolist()
    assert xs(fig.data[state["runs"][names[3]]["smooth"]]) == want
    assert want != got.step[minmax_select(got.step, got.value, b)].tolist()
    nan_runs = [e for e in state["runs"].values() if "nf" in e]
    assert len(nan_runs) == RUNS // 50  # the coarse lines keep their NaN markers
    assert len(fig.data) == RUNS + RUNS // 50
    # without smoothing, and grouped (300 groups: no name matches the regex), also in budget
    fig, state = view.build("loss", info, names, 0.0, "step", [], "none", None, None)
    assert payload_bytes(fig, state) <= 1_000_000
    fig, state = view.build("loss", info, names, 0.6, "step", [], "regex", "^x(.)", None)
    # mean + band per group, and the NaN markers grouped charts keep
    assert len(fig.data) == 2 * RUNS + RUNS // 50 and payload_bytes(fig, state) <= 1_000_000


def test_zooming_a_300_run_chart_still_reaches_every_point(sweep):
    from flowlog.dashboard.runs_panel import initial_state

    logdir, _order = sweep
    ctx = _app(logdir).flowlog_context
    view, info = ctx.extra["scalars"], initial_state(ctx)["info"]
    names = [r["name"] for r in info]
    _, state = view.build("loss", info, names, 0.0, "step", [], "none", None, None)
    lo, hi = 1000, 1000 + 2 * state["buckets"] - 1  # as many points as a line may draw
    fig, zoomed = view.build("loss", info, names, 0.0, "step", [], "none", None, (lo, hi))
    raw = fig.data[zoomed["runs"][names[7]]["raw"]]
    assert xs(raw) == list(range(lo, hi + 1))


def test_a_few_runs_keep_full_resolution(sweep):
    """Up to 20 lines a chart draws exactly what it drew before the budget existed."""
    from flowlog.dashboard.chart_budget import BUCKETS, line_buckets
    from flowlog.dashboard.runs_panel import initial_state
    from flowlog.dashboard.series import minmax_select

    assert [line_buckets(n) for n in (1, 20)] == [BUCKETS, BUCKETS]
    assert line_buckets(300) < line_buckets(100) < line_buckets(40) < BUCKETS
    logdir, _order = sweep
    ctx = _app(logdir).flowlog_context
    init = initial_state(ctx)
    view = ctx.extra["scalars"]
    fig, state = view.build("loss", init["info"], init["selected"], 0.0, "step", [], "none",
                            None, None)  # fmt: skip
    assert state["buckets"] == BUCKETS
    run = init["selected"][0]
    s = ctx.data.scalars(run, "loss")
    raw = fig.data[state["runs"][run]["raw"]]
    assert xs(raw) == s.step[minmax_select(s.step, s.value, BUCKETS)].tolist()
    assert raw["mode"] == "lines"


def test_300_runs_get_300_distinct_readable_colours():
    """Beyond the 20-colour palette, colours must neither repeat nor fade to black."""
    from flowlog.dashboard.colors import PALETTE, run_colors

    colors = run_colors(f"run{i:03d}" for i in range(300))
    assert list(colors.values())[:20] == PALETTE  # a few runs keep their colours
    assert len(set(colors.values())) == 300
    for c in colors.values():
        r, g, b = (int(c[i : i + 2], 16) for i in (1, 3, 5))
        luma = 0.2126 * r + 0.7152 * g + 0.0722 * b
        assert 30 < luma < 180, c  # visible on white, and not black


def _info(names_and_starts):
    return [{"name": n, "start_time": t} for n, t in names_and_starts]


def test_new_runs_join_the_selection_by_the_cap_rules():
    from flowlog.dashboard.run_selection import with_new_runs

    old = _info((f"r{i:02d}", float(i)) for i in range(25))  # r24 started last
    default = {f"r{i:02d}" for i in range(5, 25)}
    new = [*old, {"name": "r99", "start_time": 99.0}]
    known = {r["name"] for r in old}
    # the untouched default follows the most recent runs, as a reload would
    assert with_new_runs(default, new, known) == (default - {"r05"}) | {"r99"}
    # every run asked for ("show all"): the new one too
    everything = set(known)
    assert with_new_runs(everything, new, known) == everything | {"r99"}
    # the user's own selection under the cap: the new run joins it; at the cap it does not
    mine = {"r00", "r01"}
    assert with_new_runs(mine, new, known) == mine | {"r99"}
    full = {f"r{i:02d}" for i in range(20)}
    assert with_new_runs(full, new, known) == full
    # under the cap nothing changes from before the cap: every new run is checked
    few = _info((f"r{i}", float(i)) for i in range(3))
    grown = [*few, {"name": "r3", "start_time": 3.0}]
    assert with_new_runs({"r0", "r1", "r2"}, grown, {"r0", "r1", "r2"}) == {"r0", "r1", "r2", "r3"}
    assert with_new_runs({"r0"}, grown, {"r0", "r1", "r2"}) == {"r0", "r3"}
    # runs appearing in an empty logdir: the default selection of them
    assert with_new_runs(set(), old, set()) == default


def test_the_note_says_how_many_runs_are_shown():
    from flowlog.dashboard.run_selection import selection_note

    assert selection_note(3, 3, 5) == ("", "")  # few runs: no note
    assert selection_note(20, 20, 300) == ("showing 20 of 300 runs", "capped")
    assert selection_note(300, 300, 300) == ("showing all 300 runs", "all")
    text, mode = selection_note(4, 20, 300)
    assert mode == "capped"
    assert text == "showing 4 of 300 runs (16 more checked, hidden by the filter)"


def test_a_run_started_after_the_page_joins_a_default_selection(tmp_path):
    """Live: a new run of a 25-run logdir is checked, the oldest of the default 20 leaves."""
    from flowlog.dashboard.run_selection import with_new_runs
    from flowlog.dashboard.runs_panel import discover, initial_state

    order = write_sweep(tmp_path, 25, 5)
    ctx = _app(tmp_path).flowlog_context
    init = initial_state(ctx)
    assert init["selected"] == sorted(order[5:])
    write_sweep(tmp_path / "late", 1, 5)  # a run "late/run000" that started last
    info, _warnings, _problem = discover(ctx, max_age=0)
    checked = with_new_runs(set(init["selected"]), info, {r["name"] for r in init["info"]})
    assert checked == (set(order[6:]) | {"late/run000"})


def test_live_points_reach_a_chart_of_many_smoothed_lines(tmp_path):
    """A chart of 25 smoothed lines draws no raw lines: new points go to the smoothed one."""
    from flowlog.dashboard.runs_panel import initial_state
    from flowlog.dashboard.views.scalars import live_update

    order = write_sweep(tmp_path, 25, 50)
    ctx = _app(tmp_path).flowlog_context
    view, info = ctx.extra["scalars"], initial_state(ctx)["info"]
    names = [r["name"] for r in info]
    _, state = view.build("loss", info, names, 0.6, "step", [], "none", None, None)
    entry = state["runs"][order[-1]]
    assert "raw" not in entry and state["ntraces"] == 25 + 1  # (+ one run's NaN markers)
    with SummaryWriter(logdir=tmp_path, run_name=order[-1], flush_secs=60) as w:
        for s in range(50, 55):
            w.add_scalar("loss", 0.5, s)
    grown = [{**r, "last_step": 54} if r["name"] == order[-1] else r for r in info]
    spec, fig, after = live_update(view, state, grown, names, [], None)
    assert fig is None and spec["traces"] == [entry["smooth"]]
    assert spec["update"]["x"] == [list(range(50, 55))]
    assert after["runs"][order[-1]]["last_step"] == 54


@pytest.mark.browser
def test_runs_panel_shows_20_of_300_and_show_all_draws_every_run(sweep, page, dash_server):
    logdir, order = sweep
    page.goto(dash_server(logdir, reload_interval=60))
    note = page.locator("#runs-note")
    note.wait_for()
    assert note.inner_text().split("\n")[0].startswith("showing 20 of 300 runs")
    assert page.locator("#runs-show-all").is_visible()
    assert not page.locator("#runs-show-recent").is_visible()
    sel = ".fl-chart .js-plotly-plot"
    page.wait_for_function(f"document.querySelector('{sel}')?.data?.length === 20 * 2")
    drawn = f"[...new Set(document.querySelector('{sel}').data.map(t => t.meta[0]))]"
    assert sorted(page.evaluate(drawn)) == sorted(order[-20:])  # the 20 most recent
    # (the list is virtualised: only the rows on screen are in the page)
    boxes = "Array.from(document.querySelectorAll('.fl-runs-list input'), b => b.checked)"
    assert False in page.evaluate(boxes)
    page.locator("#runs-show-all").click()
    page.wait_for_function(
        "document.querySelector('#runs-note-text').textContent === 'showing all 300 runs'"
    )
    page.wait_for_function(f"{boxes}.every(b => b)")
    assert page.locator("#runs-show-recent").is_visible()
    # the chart redraws with every run's smoothed line and the NaN markers of 6 runs
    page.wait_for_function(
        f"document.querySelector('{sel}')?.data?.length === 300 + 6",
        timeout=max(BROWSER_TIMEOUT_MS, 90_000),
    )
    assert page.locator(f"{sel} .scatterlayer .trace path.js-line").count() >= 300
    page.locator("#runs-show-recent").click()
    page.wait_for_function(
        "document.querySelector('#runs-note-text').textContent === 'showing 20 of 300 runs'"
    )
    page.wait_for_function(f"document.querySelector('{sel}')?.data?.length === 20 * 2")
