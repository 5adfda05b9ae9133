"""Runs written by several torch.distributed ranks in the Scalars view and the runs panel,
without a browser: a line per rank, or the mean across ranks with its min-max band; per-rank
status in the runs panel. Real rank files written by the real SummaryWriter."""

from __future__ import annotations

import base64
import csv
import io

import numpy as np
import pytest

from flowlog.writer import SummaryWriter

STEPS = 40
MISSING = (5, 6)  # steps rank 1 never logged


def value(rank, s):
    return float(np.cos(s / 7.0) + 0.3 * rank + 0.01 * s * rank)


def write_ranked(logdir, monkeypatch, *, crashed=1, close_last=True, name="ddp", steps=STEPS):
    """A 2-rank run ``name``: rank 1 misses the steps MISSING and, unless ``crashed`` is None,
    that rank ends crashed. Returns the last rank's writer (open unless ``close_last``)."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    writer = None
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        writer = SummaryWriter(str(logdir / name), flush_secs=0.2)
        for s in range(steps):
            if rank == 1 and s in MISSING:
                continue
            writer.add_scalar("loss", value(rank, s), s)
            writer.add_scalars("acc", {"train": s * 0.01 + rank, "val": s * 0.02}, s)
        if rank == 0 or close_last:
            writer.close(status="crashed" if rank == crashed else "finished")
        else:
            writer.flush()
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    return writer


def plain_run(logdir, name="solo"):
    w = SummaryWriter(logdir=logdir, run_name=name)
    for s in range(STEPS):
        w.add_scalar("loss", 0.5, s)
    w.close()


def view_and_info(logdir):
    from flowlog.dashboard import create_app
    from flowlog.dashboard.runs_panel import discover

    ctx = create_app(logdir).flowlog_context
    info, _warnings, _problem = discover(ctx, 0)
    return ctx.extra["scalars"], info


def arr(v):
    if isinstance(v, dict):
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        if "shape" in v:
            a = a.reshape([int(n) for n in v["shape"].split(",")])
        return a
    return np.asarray(v)


@pytest.fixture
def logdir(tmp_path, monkeypatch):
    d = tmp_path / "runs"
    write_ranked(d, monkeypatch)
    plain_run(d)
    return d


def test_the_runs_info_carries_each_ranks_status(logdir):
    _view, info = view_and_info(logdir)
    ddp = next(r for r in info if r["name"] == "ddp")
    assert ddp["status"] == "crashed"  # the worst of its ranks
    assert [(k["rank"], k["status"]) for k in ddp["ranks"]] == [(0, "finished"), (1, "crashed")]
    assert next(r for r in info if r["name"] == "solo")["ranks"] == []


def test_the_runs_panel_shows_a_ranks_badge_and_the_crashed_rank(logdir):
    from flowlog.dashboard.runs_panel import _option, rank_summary

    _view, info = view_and_info(logdir)
    ddp = next(r for r in info if r["name"] == "ddp")
    html = str(_option(ddp)["label"].to_plotly_json())
    assert "2 ranks" in html and "rank 1 crashed" in html
    assert "fl-ranks-bad" in html and "fl-rank-crashed" in html and "fl-rank-finished" in html
    text, tip, problem = rank_summary(ddp["ranks"])
    assert text == "2 ranks" and problem == "rank 1 crashed"
    assert tip.splitlines() == [
        f"rank 0: finished, step {STEPS - 1}, {ddp['host']}",
        f"rank 1: crashed, step {STEPS - 1}, {ddp['host']}",
    ]
    solo = str(_option(next(r for r in info if r["name"] == "solo"))["label"].to_plotly_json())
    assert "fl-ranks" not in solo and "ranks" not in solo
    ok = [{"rank": r, "status": "finished"} for r in range(4)]
    assert rank_summary(ok)[2] == ""
    bad = ok[:1] + [{"rank": r, "status": "crashed"} for r in range(1, 4)]
    assert rank_summary(bad)[2] == "ranks 1, 2, 3 crashed"


def test_each_rank_is_its_own_line_by_default(logdir):
    view, info = view_and_info(logdir)
    fig, state = view.build("loss", info, ["ddp", "solo"], 0.0, "step", [], "none", None, None)
    names = [t["name"] for t in fig.data]
    assert names == ["ddp [rank 0]", "ddp [rank 1]", "solo"]
    r0, r1 = (arr(fig.data[i]["y"]) for i in (0, 1))
    assert r0.tolist() == pytest.approx([value(0, s) for s in range(STEPS)])
    kept = [s for s in range(STEPS) if s not in MISSING]
    assert r1.tolist() == pytest.approx([value(1, s) for s in kept])
    assert "rank 1" in fig.data[1]["hovertemplate"]
    assert fig.data[0]["line"]["color"] != fig.data[1]["line"]["color"]
    # add_scalars keys of a ranked run: a line per key and rank
    fig, _ = view.build("acc", info, ["ddp"], 0.0, "step", [], "none", None, None)
    assert [t["name"] for t in fig.data] == [
        "ddp · train [rank 0]", "ddp · train [rank 1]", "ddp · val [rank 0]", "ddp · val [rank 1]",
    ]  # fmt: skip
    assert len({t["line"]["color"] for t in fig.data}) == 4


def test_mean_mode_draws_the_mean_and_min_max_across_ranks(logdir):
    view, info = view_and_info(logdir)
    fig, state = view.build(
        "loss", info, ["ddp", "solo"], 0.0, "step", [], "none", None, None, "mean"
    )
    names = [t["name"] for t in fig.data]
    assert names == ["ddp [mean of 2 ranks] range", "ddp [mean of 2 ranks]", "solo"]
    band, mean = fig.data[0], fig.data[1]
    steps = np.arange(STEPS)
    values = np.array([[value(r, s) for s in steps] for r in (0, 1)])
    values[1, list(MISSING)] = np.nan  # rank 1 has no point there: left out of those steps
    assert arr(mean["x"]).tolist() == steps.tolist()
    assert arr(mean["y"]) == pytest.approx(np.nanmean(values, 0))
    bx, by = arr(band["x"]), arr(band["y"])
    assert bx.tolist() == steps.tolist() + steps[::-1].tolist()
    assert by[:STEPS] == pytest.approx(np.nanmax(values, 0))
    assert by[STEPS:][::-1] == pytest.approx(np.nanmin(values, 0))
    assert band["fill"] == "toself" and band["showlegend"] is False
    cd = arr(mean["customdata"])
    assert cd[MISSING[0], 4] == 1 and cd[0, 4] == 2  # ranks with a value in the bucket
    assert "range" in mean["hovertemplate"] and "mean of 2 ranks" in mean["hovertemplate"]
    assert set(state["runs"]["solo"]) >= {"raw", "last_step"}
    (entry,) = [e for e in state["runs"].values() if e.get("ranks")]
    assert entry["ranks"] == [0, 1] and entry["band"] == 0
    # a zoom re-reads the range, with the same buckets for both ranks
    fig, _ = view.build("loss", info, ["ddp"], 0.0, "step", [], "none", None, (10, 19), "mean")
    assert arr(fig.data[1]["x"]).tolist() == list(range(10, 20))
    assert arr(fig.data[1]["y"]) == pytest.approx(np.nanmean(values[:, 10:20], 0))


def test_mean_mode_smooths_and_keeps_the_band_around_the_line(logdir):
    view, info = view_and_info(logdir)
    fig, _ = view.build("loss", info, ["ddp"], 0.6, "relative", [], "none", None, None, "mean")
    band, raw, smooth = fig.data
    assert raw["opacity"] == 0.25 and raw["showlegend"] is False and smooth["showlegend"]
    by, sy = arr(band["y"]), arr(smooth["y"])
    n = sy.size
    assert np.all(by[:n] >= sy - 1e-12) and np.all(by[n:][::-1] <= sy + 1e-12)
    assert arr(smooth["x"])[0] == pytest.approx(0.0, abs=1.0)  # seconds since the first point
    assert fig.layout["xaxis"]["title"]["text"].startswith("relative")


def test_align_rank_buckets_merges_and_skips_like_numpy():
    from flowlog.dashboard.series import align_rank_buckets
    from flowlog.provider import Buckets

    def buckets(steps, means, nan=None):
        steps = np.asarray(steps)
        n = steps.size
        z = np.zeros(n, np.int64)
        nan = z if nan is None else np.asarray(nan)
        count = np.ones(n, np.int64)
        m = np.asarray(means, float)
        return Buckets(steps, steps, steps * 1.0, m, m, m, count, nan, z, z)

    a = buckets([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
    b = buckets([1, 2, 3], [4.0, np.nan, 8.0], nan=[0, 1, 0])  # a NaN bucket at step 2
    got = align_rank_buckets([a, b], 0, 3, 300)
    assert got.step.tolist() == [0, 1, 2, 3]
    assert got.mean.tolist() == [1.0, 3.0, 3.0, 6.0]
    assert got.min.tolist() == [1.0, 2.0, 3.0, 4.0] and got.max.tolist() == [1.0, 4.0, 3.0, 8.0]
    assert got.n.tolist() == [1, 2, 1, 2] and got.nan.tolist() == [0, 0, 1, 0]
    # 2 buckets: steps 0-1 and 2-3; two of a rank's buckets in one are merged by weight
    got = align_rank_buckets([a, b], 0, 3, 2)
    assert got.mean.tolist() == pytest.approx([(1.5 + 4.0) / 2, (3.5 + 8.0) / 2])
    assert got.min.tolist() == [1.5, 3.5] and got.max.tolist() == [4.0, 8.0]
    assert align_rank_buckets([], 0, 3, 2).step.size == 0


def test_live_refresh_appends_to_a_rank_line_and_redraws_a_mean(tmp_path, monkeypatch):
    from flowlog.dashboard.views.scalars import live_update

    d = tmp_path / "runs"
    w1 = write_ranked(d, monkeypatch, crashed=None, close_last=False)
    view, info = view_and_info(d)
    _fig, each = view.build("loss", info, ["ddp"], 0.0, "step", [], "none", None, None)
    _fig, mean = view.build("loss", info, ["ddp"], 0.0, "step", [], "none", None, None, "mean")
    assert live_update(view, each, info, ["ddp"], [], None) == (None, None, None)
    assert live_update(view, mean, info, ["ddp"], [], None) == (None, None, None)
    for s in range(STEPS, STEPS + 5):
        w1.add_scalar("loss", 2.0, s)
    w1.flush()
    _view, info = view_and_info(d)
    assert next(k for k in info[0]["ranks"] if k["rank"] == 1)["last_step"] == STEPS + 4
    spec, fig, after = live_update(view, each, info, ["ddp"], [], None)
    assert fig is None and spec["traces"] == [each["runs"][next(k for k in each["runs"] if
                                              '"ddp", null, 1' in k)]["raw"]]  # fmt: skip
    assert spec["update"]["x"] == [list(range(STEPS, STEPS + 5))]
    assert spec["update"]["y"] == [[2.0] * 5]
    mean["built_at"] -= 3600  # built long ago: not held back by LIVE_REBUILD_PAUSE
    spec, fig, again = live_update(view, mean, info, ["ddp"], [], None)
    assert spec is None and fig is not None  # the mean is re-bucketed: redrawn
    assert arr(fig.data[1]["x"])[-1] == STEPS + 4
    assert arr(fig.data[1]["y"])[-1] == pytest.approx(2.0)  # only rank 1 has those steps
    assert live_update(view, again, info, ["ddp"], [], None) == (None, None, None)
    w1.close()


def test_switching_the_ranks_control_rebuilds_with_the_other_lines(logdir):
    from flowlog.dashboard.views.scalars import RANK_MODE, build_chart

    view, info = view_and_info(logdir)
    controls = dict(
        selected=["ddp"], weight=0.0, xmode="step", logs=[], gmode="none", gkey=None,
        zoom=None, visible=1, ranks="each",
    )  # fmt: skip
    gid = {"type": "sc-graph", "tag": "loss"}
    fig, state = build_chart(view, controls, None, gid, None, info)
    assert len(fig.data) == 2 and state["ranks"] == "each"
    fig, state = build_chart(view, {**controls, "ranks": "mean"}, RANK_MODE, gid, state, info)
    assert [t["name"] for t in fig.data] == ["ddp [mean of 2 ranks] range", "ddp [mean of 2 ranks]"]
    assert state["ranks"] == "mean"


def test_the_ranks_control_shows_only_while_a_run_has_ranks(logdir, tmp_path):
    from flowlog.dashboard.views.scalars import rank_box_style

    _view, info = view_and_info(logdir)
    assert rank_box_style(info) == {}
    assert rank_box_style([r for r in info if r["name"] == "solo"]) == {"display": "none"}


def test_export_holds_every_rank_in_its_own_column(logdir):
    from flowlog.dashboard.views.scalars import export_file

    view, info = view_and_info(logdir)
    got = export_file(view, "csv", ["ddp", "solo"], ["loss"], 0.0, [], info)
    rows = list(csv.DictReader(io.StringIO(got["content"])))
    assert got["content"].splitlines()[0] == "run,tag,rank,step,wall_time,value"
    assert {(r["run"], r["rank"]) for r in rows} == {("ddp", "0"), ("ddp", "1"), ("solo", "")}
    rank1 = [float(r["value"]) for r in rows if r["rank"] == "1"]
    assert rank1 == pytest.approx([value(1, s) for s in range(STEPS) if s not in MISSING])
    # without the runs info (the CLI's way), the ranks come from the provider
    assert len(view.reads.export_series(["ddp"], ["loss"], 0.0, {})) == 2


def test_a_click_on_a_mean_line_focuses_its_run_and_a_rank_line_its_rank(logdir):
    from flowlog.dashboard.views.scalars import focus_from_click

    view, info = view_and_info(logdir)
    trig = {"type": "sc-graph", "tag": "loss"}
    _fig, mean = view.build("loss", info, ["ddp"], 0.6, "step", [], "none", None, None, "mean")
    click = {"points": [{"curveNumber": 2, "customdata": [12, 0.5, 0.4, 0.6, 2, 12]}]}
    assert focus_from_click(trig, click, [mean]) == (
        {"run": "ddp", "tag": "loss", "step": 12, "from": "scalars"},
        None,
    )
    _fig, each = view.build("loss", info, ["ddp"], 0.0, "step", [], "none", None, None)
    click = {"points": [{"curveNumber": 1, "customdata": 7}]}
    assert focus_from_click(trig, click, [each]) == (
        {"run": "ddp", "tag": "loss", "rank": 1, "step": 7, "from": "scalars"},
        None,
    )
