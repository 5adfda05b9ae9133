"""add_scalars in the Scalars view, without a browser: one chart per main tag with a line per
key and run, on real SQLite logs written by the real SummaryWriter."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from flowlog.writer import SummaryWriter

STEPS = 50


def train(s):
    return 1.0 / (1 + s)


def val(s, run_offset):
    return 2.0 / (1 + s) + run_offset


def write_pair(logdir, *, nan_at=None):
    """Runs "a" and "b" with ``add_scalars("Loss", {"train", "val"})``; "a" also logs a plain
    ``add_scalar("Loss/train")`` (its own chart) and a plain ``add_scalar("Loss")`` (drawn in
    the chart "Loss" with the keys, as TensorBoard puts same-named tags in one chart)."""
    for i, name in enumerate(["a", "b"]):
        w = SummaryWriter(logdir=logdir, run_name=name)
        for s in range(STEPS):
            v = val(s, i)
            if nan_at is not None and s == nan_at and name == "a":
                v = math.nan
            w.add_scalars("Loss", {"train": train(s), "val": v}, s)
            if name == "a":
                w.add_scalar("Loss/train", 100.0 + s, s)
                w.add_scalar("Loss", 7.0, s)
        w.close()
    return logdir


@pytest.fixture
def logdir(tmp_path):
    return write_pair(tmp_path / "runs")


def view_and_info(logdir):
    from flowlog.dashboard import create_app
    from flowlog.dashboard.runs_panel import discover

    ctx = create_app(logdir).flowlog_context
    info, _warnings, _problem = discover(ctx, 0)
    return ctx.extra["scalars"], info


def ys(trace):
    """A trace's y values as a list (binary arrays decoded)."""
    import base64

    y = trace["y"]
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return list(y)


def test_the_tag_list_holds_charts_not_stored_names(logdir):
    from flowlog.dashboard.views import scalars as sc

    view, _info = view_and_info(logdir)
    charts = sc.scalar_tags(view, ["a", "b"])
    assert charts == ["Loss", "Loss/train"]
    assert not any("\x1f" in c for c in charts)
    # the tag filter and the prefix groups read the chart names
    assert sc._filter_tags(charts, "^Loss$") == ["Loss"]
    (group,) = sc.chart_groups(charts, generation=1)
    cards = group.children[1].children
    assert group.children[0].children[0].children == "Loss"
    assert [c.children[0].id["tag"] for c in cards] == ["Loss", "Loss/train"]
    assert sc.chart_groups(charts, 1)[0].children[0].children[1].children == "2 charts"


def test_chart_draws_one_line_per_key_and_run_with_their_values(logdir):
    view, info = view_and_info(logdir)
    fig, state = view.build("Loss", info, ["a", "b"], 0.0, "step", [], "none", None, None)
    doc = fig.to_plotly_json()
    names = [t["name"] for t in doc["data"]]
    # the plain tag "Loss" of run a first, then its keys; every line readable, no \x1f
    assert names == ["a", "a · train", "a · val", "b · train", "b · val"]
    by_name = {t["name"]: t for t in doc["data"]}
    assert ys(by_name["a"]) == [7.0] * STEPS
    assert ys(by_name["a · train"]) == pytest.approx([train(s) for s in range(STEPS)])
    assert ys(by_name["b · val"]) == pytest.approx([val(s, 1) for s in range(STEPS)])
    assert doc["layout"]["title"]["text"] == "Loss"
    # every line its own colour
    colors = [t["line"]["color"] for t in doc["data"]]
    assert len(set(colors)) == len(colors)
    # a run's first line keeps the run's colour (its swatch in the runs panel)
    swatch = {r["name"]: r["color"] for r in info}
    assert by_name["a"]["line"]["color"] == swatch["a"]
    assert by_name["b · train"]["line"]["color"] == swatch["b"]
    # the hover box names run, key, step and value
    hover = by_name["b · val"]["hovertemplate"]
    assert "<b>b</b>" in hover and "key val" in hover and "step" in hover and "value" in hover
    assert "a" in state["runs"]  # a single-file run's plain tag is keyed by the run's name
    assert len(state["runs"]) == 5 and state["ntraces"] == 5
    # the same build again: the same colours (stable across refreshes)
    again, _ = view.build("Loss", info, ["a", "b"], 0.0, "step", [], "none", None, None)
    assert [t["line"]["color"] for t in again.data] == colors


def test_a_plain_add_scalar_with_a_slash_stays_its_own_chart(logdir):
    view, info = view_and_info(logdir)
    fig, _ = view.build("Loss/train", info, ["a", "b"], 0.0, "step", [], "none", None, None)
    assert [t["name"] for t in fig.data] == ["a"]  # b never logged add_scalar("Loss/train")
    assert ys(fig.data[0]) == [100.0 + s for s in range(STEPS)]
    assert fig.layout["title"]["text"] == "Loss/train"


def test_smoothing_and_nonfinite_markers_work_per_series_line(tmp_path):
    logdir = write_pair(tmp_path / "runs", nan_at=20)
    view, info = view_and_info(logdir)
    fig, state = view.build("Loss", info, ["a", "b"], 0.6, "step", [], "none", None, None)
    names = [t["name"] for t in fig.data]
    assert names.count("a · val") == 2 and "a · val non-finite" in names
    assert names.count("b · val") == 2 and "b · val non-finite" not in names
    nf = fig.data[names.index("a · val non-finite")]
    assert "key val" in nf["hovertemplate"]
    raw, smooth = (fig.data[i] for i, n in enumerate(names) if n == "b · val")
    assert raw["opacity"] == 0.25 and smooth["line"]["width"] == 2
    assert ys(smooth) != pytest.approx(ys(raw))  # smoothed
    from flowlog.dashboard.smoothing import ema

    expected = ema(np.array([val(s, 1) for s in range(STEPS)]), 0.6)
    assert ys(smooth) == pytest.approx(expected.tolist())
    a_val = next(e for e in state["runs"].values() if e["run"] == "a" and e["tag"].endswith("val"))
    assert a_val["nf"] == names.index("a · val non-finite")


def test_zoom_reads_the_range_of_every_series_line(logdir):
    view, info = view_and_info(logdir)
    fig, state = view.build("Loss", info, ["b"], 0.0, "step", [], "none", None, (10, 19))
    assert state["range"] == [10, 19]
    for t in fig.data:
        assert ys(t) == pytest.approx(
            [(train(s) if "train" in t["name"] else val(s, 1)) for s in range(10, 20)]
        )


def test_live_update_appends_to_each_series_line(tmp_path):
    from flowlog.dashboard.views.scalars import build_chart, live_update

    logdir = tmp_path / "runs"
    w = SummaryWriter(logdir=logdir, run_name="live", flush_secs=0.2)
    for s in range(10):
        w.add_scalars("Loss", {"train": 1.0, "val": 2.0}, s)
    w.flush()
    view, info = view_and_info(logdir)
    controls = dict(
        selected=["live"], weight=0.0, xmode="step", logs=[], gmode="none", gkey=None,
        zoom=None, visible=1, ranks="each",
    )  # fmt: skip
    fig, state = build_chart(view, controls, None, {"type": "sc-graph", "tag": "Loss"}, None, info)
    assert [t["name"] for t in fig.data] == ["live · train", "live · val"]
    for s in range(10, 15):
        w.add_scalars("Loss", {"train": 0.5, "val": 1.5}, s)
    w.flush()
    info[0]["last_step"] = 14
    spec, new_fig, after = live_update(view, state, info, ["live"], [], None)
    assert new_fig is None  # appended in the browser, not redrawn
    assert spec["traces"] == [0, 1]
    assert spec["update"]["x"] == [list(range(10, 15))] * 2
    assert spec["update"]["y"] == [[0.5] * 5, [1.5] * 5]
    # a new key is a new line: the chart is rebuilt with it
    w.add_scalars("Loss", {"train": 0.4, "val": 1.4, "test": 9.0}, 15)
    w.flush()
    info[0]["last_step"] = 15
    spec, new_fig, after = live_update(view, after, info, ["live"], [], None)
    assert spec is None and [t["name"] for t in new_fig.data][-1] == "live · test"
    w.close()


def test_grouped_charts_have_a_mean_band_per_group_and_key(logdir):
    view, info = view_and_info(logdir)
    fig, _ = view.build("Loss", info, ["a", "b"], 0.0, "step", [], "regex", "^(.)", None)
    names = [t.get("name") for t in fig.data if t.get("showlegend", True)]
    assert names == ["a (n=1)", "a · train (n=1)", "a · val (n=1)", "b · train (n=1)",
                     "b · val (n=1)"]  # fmt: skip


def test_export_writes_the_key_in_its_own_column_and_tag_is_the_chart(logdir):
    from flowlog.dashboard.views.scalars import export_file

    view, info = view_and_info(logdir)
    got = export_file(view, "csv", ["a", "b"], ["Loss", "Loss/train"], 0.0, [], info)
    text = got["content"]
    assert "\x1f" not in text
    assert text.splitlines()[0] == "run,tag,series,step,wall_time,value"
    rows = list(csv.DictReader(io.StringIO(text)))
    keys = {(r["run"], r["tag"], r["series"]) for r in rows}
    assert keys == {
        ("a", "Loss", ""),
        ("a", "Loss", "train"),
        ("a", "Loss", "val"),
        ("b", "Loss", "train"),
        ("b", "Loss", "val"),
        ("a", "Loss/train", ""),
    }
    b_val = [float(r["value"]) for r in rows if r["run"] == "b" and r["series"] == "val"]
    assert b_val == pytest.approx([val(s, 1) for s in range(STEPS)])
    doc = json.loads(export_file(view, "json", ["b"], ["Loss"], 0.0, [], info)["content"])
    assert doc["format"] == "flowlog.scalars/2"
    assert [(s["tag"], s["series"]) for s in doc["series"]] == [("Loss", "train"), ("Loss", "val")]
    assert "rank" not in doc["series"][0]


def test_the_cli_export_splits_stored_names_the_same_way(logdir, tmp_path):
    from flowlog.cli import main

    out = tmp_path / "cli.csv"
    assert main(["export-scalars", str(logdir), "--run", "b", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {(r["tag"], r["series"]) for r in rows} == {("Loss", "train"), ("Loss", "val")}


def test_export_of_plain_tags_keeps_the_old_columns():
    from flowlog import export

    s = export.ExportSeries("r", "loss", np.arange(2), np.zeros(2), np.ones(2))
    assert export.to_csv([s]).splitlines()[0] == "run,tag,step,wall_time,value"
    stored = export.ExportSeries("r", "Loss\x1fval", np.arange(2), np.zeros(2), np.ones(2))
    assert (stored.tag, stored.series) == ("Loss", "val")


def test_a_click_on_a_series_line_focuses_its_run_and_stored_tag(logdir):
    from flowlog.dashboard.views.scalars import focus_from_click

    view, info = view_and_info(logdir)
    _fig, state = view.build("Loss", info, ["a", "b"], 0.0, "step", [], "none", None, None)
    b_val = next(e for e in state["runs"].values() if e["run"] == "b" and e["tag"].endswith("val"))
    click = {"points": [{"curveNumber": b_val["raw"], "customdata": 12}]}
    got = focus_from_click({"type": "sc-graph", "tag": "Loss"}, click, [state])
    assert got == ({"run": "b", "tag": "Loss\x1fval", "step": 12, "from": "scalars"}, None)


def test_line_colors_are_distinct_keep_run_colours_and_shade_ranks():
    from flowlog.dashboard.colors import line_colors, run_colors

    runs = run_colors(["a", "b"])
    plain = line_colors([("a", None, None), ("b", None, None)], runs)
    assert plain == [runs["a"], runs["b"]]
    keyed = line_colors([("a", "train", None), ("a", "val", None), ("b", "train", None)], runs)
    assert keyed[0] == runs["a"] and keyed[2] == runs["b"]
    assert len(set(keyed)) == 3 and keyed[1] not in runs.values()
    ranked = line_colors([("a", None, 0), ("a", None, 1), ("a", None, 2)], runs)
    assert ranked[0] == runs["a"] and len(set(ranked)) == 3
