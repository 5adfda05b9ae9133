"""The Scalars view without a browser: its cards, charts, first paint and callback work, on
real SQLite logs written by the real writer."""

from __future__ import annotations

import time

import pytest
from conftest import N, write_run, write_two_runs


@pytest.fixture
def logdir(tmp_path):
    return write_two_runs(tmp_path / "runs")


def test_chart_groups_collapse_watch_statistics_unless_only_they_are_shown():
    from flowlog.dashboard.views import scalars as sc

    shown = ["loss/train", "watch/dense/w/grad_norm", "watch/dense/w/value_norm"]
    loss, watch = sc.chart_groups(shown, generation=7)
    assert loss.open is True and watch.open is False
    summary, body, info = watch.children
    assert summary.children[1].children == "2 charts"
    assert body.children == []  # collapsed: no chart components, so no callbacks at all
    assert info.data == {"tags": shown[1:], "open": False, "rendered": False}
    cards = loss.children[1].children
    assert [c.children[0].id for c in cards] == [{"type": sc.GRAPH, "tag": "loss/train"}]
    assert getattr(cards[0], "data-fl-gen") == "7"
    # the user's state wins over the default; a filter showing only watch tags opens them
    assert sc.chart_groups(shown, 8, {"watch": True})[1].open is True
    assert sc.chart_groups(shown[1:], 9)[0].open is True
    assert sc.default_open("watchful", shown) is True  # only the exact "watch" prefix folds


def test_groups_open_counts_summary_clicks_as_toggles():
    from flowlog.dashboard.views.scalars import groups_open

    infos = {
        "watch": {"tags": ["watch/a/b"], "open": False},
        "loss": {"tags": ["loss"], "open": True},
    }
    assert groups_open({}, infos) == {"watch": False, "loss": True}
    assert groups_open({"watch": 1, "loss": 2}, infos) == {"watch": True, "loss": True}
    assert groups_open({"watch": 2, "loss": 3}, infos) == {"watch": False, "loss": False}


def test_page_loads_share_one_discovery_per_refresh_interval(tmp_path):
    from flowlog.dashboard import create_app
    from flowlog.dashboard.runs_panel import discover, initial_state

    write_run(tmp_path, "one", n=20)
    ctx = create_app(tmp_path, reload_interval=60).flowlog_context
    assert initial_state(ctx)["selected"] == ["one"]
    write_run(tmp_path, "two", n=20)
    assert initial_state(ctx)["selected"] == ["one"]  # a scan younger than the interval
    info, _warnings, problem = discover(ctx, max_age=0)
    assert [r["name"] for r in info] == ["one", "two"] and problem is None
    assert initial_state(ctx)["selected"] == ["one", "two"]


def test_legend_rows_wrap_long_names_and_size_the_bottom_margin():
    from flowlog.dashboard import scalars_charts as sc

    assert sc.legend_rows([]) == 0
    assert sc.legend_rows(["a"]) == 1
    assert sc.legend_rows(["run00"] * 5) == 1  # 5 x 75 px fit in one 430 px row
    assert sc.legend_rows(["run00"] * 6) == 2
    assert sc.legend_rows(["run00"] * 10) == 2
    assert sc.legend_rows(["x" * 80]) == 1  # wider than a row: alone on its own row
    assert sc.legend_rows(["x" * 80, "y"]) == 2
    none, two, many = (sc.legend_layout(n) for n in ([], ["run00"] * 10, ["run00"] * 60))
    assert none["showlegend"] is False and none["margin"]["b"] == sc.X_AXIS_PX
    assert two["margin"]["b"] == sc.X_AXIS_PX + 2 * sc.LEGEND_ROW_PX + 8
    assert many["margin"] == {**two["margin"], "b": sc.X_AXIS_PX + 3 * sc.LEGEND_ROW_PX + 8}
    assert many["legend"]["maxheight"] == 3 * sc.LEGEND_ROW_PX + 10  # the rest scrolls
    # the legend's top sits X_AXIS_PX under the plot area, below the tick labels
    plot_h = sc.CHART_HEIGHT - two["margin"]["t"] - two["margin"]["b"]
    assert two["legend"]["y"] * plot_h == pytest.approx(-sc.X_AXIS_PX)


def test_built_figure_has_fixed_margins_and_markers_only_for_nonfinite_runs(logdir):
    """No trace or layout setting makes plotly.js lay a chart out twice (automargin) or draw
    an empty marker trace: each costs first paint time."""
    from flowlog.dashboard import create_app
    from flowlog.dashboard import scalars_charts as view_module
    from flowlog.dashboard.colors import run_colors

    view = create_app(logdir).flowlog_context.extra["scalars"]
    names = ["alpha", "beta"]
    info = [{"name": n, "color": c} for n, c in run_colors(names).items()]
    fig, state = view.build("loss/train", info, names, 0.6, "step", [], "none", None, None)
    doc = fig.to_plotly_json()
    assert [t["name"] for t in doc["data"]] == [
        "alpha",
        "alpha",
        "alpha non-finite",
        "beta",
        "beta",
    ]
    assert state["runs"]["alpha"]["nf"] == 2 and "nf" not in state["runs"]["beta"]
    assert state["ntraces"] == 5
    layout = doc["layout"]
    assert layout["margin"]["autoexpand"] is False
    tmpl = layout["template"]["layout"]
    assert "automargin" not in tmpl["xaxis"] and "automargin" not in tmpl["yaxis"]
    assert layout["showlegend"] is True and layout["margin"]["b"] > view_module.X_AXIS_PX
    # without smoothing, markers still only for alpha: raw + markers, raw
    fig, state = view.build("loss/train", info, names, 0.0, "step", [], "none", None, None)
    assert [t["name"] for t in fig.data] == ["alpha", "alpha non-finite", "beta"]


def layout_cards(app) -> list:
    """The Scalars chart cards of a freshly built page layout, top to bottom."""
    found = []

    def walk(c):
        if isinstance(c, (list, tuple)):
            for x in c:
                walk(x)
        elif hasattr(c, "_type"):
            if "fl-card" in (getattr(c, "className", None) or "").split():
                found.append(c)
            walk(getattr(c, "children", None))

    walk(app.layout())
    return found


def card_parts(card) -> dict:
    graph, visible, state = card.children[:3]
    return {
        "figure": graph.figure,
        "visible": getattr(visible, "data", None),
        "state": getattr(state, "data", None),
    }


def test_page_layout_holds_the_first_charts_unless_they_need_a_long_read(logdir, monkeypatch):
    from flowlog.dashboard import create_app
    from flowlog.dashboard.scalars_charts import AFTER_PAINT
    from flowlog.dashboard.views import scalars as sc

    def prebuilt_tags(app) -> list[str]:  # cards sent with their figure
        return [
            c.to_plotly_json()["props"]["data-fl-tag"]
            for c in layout_cards(app)
            if "data-fl-built" in c.to_plotly_json()["props"]
        ]

    app = create_app(logdir)
    lead, second = layout_cards(app)[:2]
    attrs = lead.to_plotly_json()["props"]
    assert attrs["data-fl-tag"] == "loss/train"
    assert attrs["data-fl-built"] == attrs["data-fl-gen"]
    built = card_parts(lead)
    doc = built["figure"].to_plotly_json()
    assert [t["name"] for t in doc["data"]] == ["alpha"] * 2 + ["alpha non-finite"] + ["beta"] * 2
    assert built["state"]["ntraces"] == 5 and built["state"]["weight"] == sc.DEFAULT_SMOOTHING
    assert built["visible"] is None  # not flagged: a flag would make dash call every card
    assert "meta" not in doc["layout"]  # drawn at once
    # the next chart comes built too, drawn after the first has been painted
    assert second.to_plotly_json()["props"]["data-fl-tag"] == "loss/val"
    assert card_parts(second)["figure"].to_plotly_json()["layout"]["meta"] == AFTER_PAINT
    # reads from disk above the budget are left to the charts' callbacks, so the page comes at
    # once: loss/train reads 2 x N points, loss/val 2 x N/10
    monkeypatch.setattr(sc, "LEAD_READ_POINTS", 2 * N + 1)
    assert prebuilt_tags(create_app(logdir)) == ["loss/train"]
    monkeypatch.setattr(sc, "LEAD_READ_POINTS", 2 * N - 1)
    cold = create_app(logdir)
    assert prebuilt_tags(cold) == []
    assert card_parts(layout_cards(cold)[0])["figure"]["data"] == []  # a placeholder
    assert card_parts(layout_cards(cold)[0])["state"] is None
    view = cold.flowlog_context.extra["scalars"].reads
    assert view.read_cost("loss/train", ["alpha", "beta"], sc.DEFAULT_SMOOTHING, "step") == 2 * N
    view.series("alpha", "loss/train")  # one run's series read (e.g. by a zoom): cached
    assert view.read_cost("loss/train", ["alpha", "beta"], sc.DEFAULT_SMOOTHING, "step") == N
    view.series("beta", "loss/train")
    assert view.read_cost("loss/train", ["alpha", "beta"], sc.DEFAULT_SMOOTHING, "step") == 0
    assert prebuilt_tags(cold)[0] == "loss/train"
    # what flowlog-dashboard does at start: the first page's long reads happen before it
    started = create_app(logdir)
    sc.prewarm(started.flowlog_context)
    assert prebuilt_tags(started) == ["loss/train", "loss/val"]


def test_the_page_html_does_not_wait_for_the_first_charts(logdir):
    """Dash checks the layout once, on the first request it serves; that check runs when
    the app is made, on a layout without charts, so the page's HTML and scripts load while
    the first charts are still being read."""
    from flowlog.dashboard import create_app

    app = create_app(logdir)
    view = app.flowlog_context.extra["scalars"]
    assert view.built_tags == set()
    html = app.server.test_client().get("/")
    assert html.status_code == 200
    assert view.built_tags == set()  # the HTML came without reading a chart
    assert app.server.test_client().get("/_dash-layout").status_code == 200
    assert view.built_tags == {"loss/train", "loss/val"}  # the layout holds them


# --- the callbacks' work, called as the callbacks call it --------------------------------------


def _view(logdir):
    from flowlog.dashboard import create_app
    from flowlog.dashboard.colors import run_colors

    view = create_app(logdir).flowlog_context.extra["scalars"]
    info = [
        {"name": n, "color": c, "last_step": N - 1}
        for n, c in run_colors(["alpha", "beta"]).items()
    ]
    return view, info


def _controls(**kw):
    base = dict(
        selected=["alpha", "beta"], weight=0.0, xmode="step", logs=[], gmode="none", gkey=None,
        zoom=None, visible=1,
    )  # fmt: skip
    return {**base, **kw}


def test_zoom_range_reads_plotly_relayout_events():
    from flowlog.dashboard.scalars_charts import UNCHANGED
    from flowlog.dashboard.views.scalars import zoom_range

    assert zoom_range({"xaxis.range[0]": 10, "xaxis.range[1]": 20}, "step", [], None) == (10, 20)
    assert zoom_range({"xaxis.range": [1, 2]}, "step", ["logx"], None) == (10, 100)
    assert zoom_range({"xaxis.autorange": True}, "step", [], {"range": [1, 2]}) is None
    assert zoom_range({"yaxis.range[0]": 1}, "step", [], None) is UNCHANGED  # y only
    assert zoom_range({"xaxis.range": [1, 2]}, "step", [], {"range": [1, 2]}) is UNCHANGED
    assert zoom_range({"xaxis.range": ["x", 2]}, "step", [], None) is UNCHANGED
    wall = zoom_range(
        {"xaxis.range": ["2026-01-01 00:00:00", "2026-01-01 00:00:01"]}, "wall", [], None
    )
    assert wall[1] - wall[0] == 1000.0  # ms on a date axis


def test_build_chart_builds_visible_charts_and_keeps_a_zoom(logdir):
    from flowlog.dashboard.scalars_charts import UNCHANGED
    from flowlog.dashboard.views.scalars import VISIBLE, ZOOM, build_chart

    view, info = _view(logdir)
    gid = {"type": "sc-graph", "tag": "loss/train"}
    assert build_chart(view, _controls(visible=None), None, gid, None, info) is UNCHANGED
    fig, state = build_chart(view, _controls(), {"type": VISIBLE}, gid, None, info)
    assert state["ntraces"] == 3 and state["visible"] == 1  # alpha raw + NaN markers, beta
    assert build_chart(view, _controls(), {"type": VISIBLE}, gid, state, info) is UNCHANGED
    zoom = {"xaxis.range[0]": 1000, "xaxis.range[1]": 1600}
    fig, zoomed = build_chart(view, _controls(zoom=zoom), {"type": ZOOM}, gid, state, info)
    assert zoomed["range"] == [1000, 1600]
    assert fig.data[-1]["name"] == "beta"
    _, smoothed = build_chart(view, _controls(weight=0.5), "sc-smoothing", gid, zoomed, info)
    assert smoothed["range"] == [1000, 1600] and smoothed["weight"] == 0.5  # zoom kept
    bad, no_state = build_chart(view, _controls(gmode="regex", gkey="("), None, gid, state, info)
    assert no_state is None and "bad group regex" in bad.layout.annotations[0].text


def test_live_update_appends_new_points_and_rebuilds_for_a_new_run(logdir):
    from flowlog.dashboard.views.scalars import build_chart, live_update

    view, info = _view(logdir)
    gid = {"type": "sc-graph", "tag": "loss/val"}
    _, state = build_chart(view, _controls(), None, gid, None, info)
    assert live_update(view, state, info, ["alpha", "beta"], [], None) == (None, None, None)
    w, _ = write_run(logdir, "gamma", n=50, close=False)
    with_gamma = [*info, {"name": "gamma", "color": "#123456", "last_step": 49}]
    sel = ["alpha", "beta", "gamma"]
    spec, fig, new = live_update(view, state, with_gamma, sel, [], None)
    assert spec is None and "gamma" in new["runs"] and fig.data[-1]["name"] == "gamma"
    for s in range(50, 60):
        w.add_scalar("loss/val", 0.5, s)
    w.flush()
    with_gamma[-1]["last_step"] = 59
    spec, fig, after = live_update(view, new, with_gamma, sel, [], None)
    assert fig is None and spec["update"]["x"] == [list(range(50, 60))]
    assert after["runs"]["gamma"]["last_step"] == 59
    w.close()


def test_a_refresh_after_many_new_points_rebuilds_and_counts_every_point(logdir):
    """Past LIVE_REBUILD_AFTER new points (judged by the tag's count, before reading them)
    the chart is rebuilt instead of appended to; appends keep the drawn count exact."""
    from flowlog.dashboard.scalars_charts import LIVE_REBUILD_AFTER
    from flowlog.dashboard.views.scalars import build_chart, live_update

    view, info = _view(logdir)
    w, _ = write_run(logdir, "delta", n=50, close=False)
    info = [*info, {"name": "delta", "color": "#654321", "last_step": 49}]
    sel = ["alpha", "beta", "delta"]
    gid = {"type": "sc-graph", "tag": "loss/val"}
    _, state = build_chart(view, {**_controls(), "selected": sel}, None, gid, None, info)
    assert state["runs"]["delta"]["count"] == 5  # loss/val: every 10th step
    for s in range(50, 60):
        w.add_scalar("loss/val", 0.5, s)
    w.flush()
    info[-1]["last_step"] = 59
    spec, fig, state = live_update(view, state, info, sel, [], None)
    assert fig is None and spec is not None and state["runs"]["delta"]["count"] == 15
    for s in range(60, 60 + LIVE_REBUILD_AFTER + 1):
        w.add_scalar("loss/val", 0.25, s)
    w.flush()
    info[-1]["last_step"] = 60 + LIVE_REBUILD_AFTER
    # built moments ago, and that build took a second: the chart waits (LIVE_REBUILD_PAUSE)
    state.update(built_at=time.time(), build_s=1.0)
    assert live_update(view, state, info, sel, [], None) == (None, None, None)
    state["built_at"] -= 10  # 10 s later
    spec, fig, state = live_update(view, state, info, sel, [], None)
    assert spec is None and fig is not None  # rebuilt: every point, re-bucketed
    assert state["runs"]["delta"]["count"] == 16 + LIVE_REBUILD_AFTER
    assert state["runs"]["delta"]["last_step"] == 60 + LIVE_REBUILD_AFTER
    w.close()


def test_a_grown_chart_waits_a_few_times_its_build_duration_before_a_rebuild():
    from flowlog.dashboard.views.scalars import rebuilt_too_recently

    assert rebuilt_too_recently({"built_at": 100.0, "build_s": 2.0}, now=105.0)
    assert not rebuilt_too_recently({"built_at": 100.0, "build_s": 2.0}, now=111.0)
    assert not rebuilt_too_recently({}, now=5.0)  # no record: rebuilt as before
    for crafted in ({"built_at": "x", "build_s": 1e9}, {"built_at": 1e300, "build_s": True}):
        assert not rebuilt_too_recently(crafted, now=105.0)
    # a crafted huge duration pauses at most 60 s x LIVE_REBUILD_PAUSE
    assert not rebuilt_too_recently({"built_at": 100.0, "build_s": 1e9}, now=100.0 + 301)


def test_a_click_on_a_point_or_a_nan_marker_sets_the_focus():
    from flowlog.dashboard.views.scalars import focus_from_click

    states = [{"tag": "loss", "runs": {"a": {"raw": 0, "smooth": 1}, "b": {"raw": 2}}}]
    trig = {"type": "sc-graph", "tag": "loss"}
    click = {"points": [{"curveNumber": 2, "customdata": 41}]}
    # marked as the view's own: the Scalars charts do not zoom onto a clicked point
    assert focus_from_click(trig, click, states) == (
        {"run": "b", "tag": "loss", "step": 41, "from": "scalars"},
        None,
    )
    nan = {"points": [{"customdata": ["numerics", "a", 7, "loss/log"]}]}
    assert focus_from_click(trig, nan, states) == (
        {"run": "a", "step": 7, "node": "loss/log"},
        "graph",
    )
    assert focus_from_click(trig, {"points": []}, states) is None
    assert focus_from_click("other", click, states) is None


def test_export_file_holds_the_zoomed_range_in_the_shared_format(logdir):
    import csv
    import io
    import json

    from flowlog.dashboard.views.scalars import export_file

    view, _info = _view(logdir)
    states = [{"tag": "loss/train", "range": [10, 19], "xmode": "step"}]
    got = export_file(view, "csv", ["alpha"], ["loss/train"], 0.6, states)
    rows = list(csv.DictReader(io.StringIO(got["content"])))
    assert got["filename"] == "flowlog-scalars.csv" and [int(r["step"]) for r in rows] == list(
        range(10, 20)
    )
    assert "smoothed" in rows[0]
    doc = json.loads(export_file(view, "json", ["alpha"], ["loss/train"], 0.0, [])["content"])
    assert doc["series"][0]["value"][1500] == "NaN" and "smoothed" not in doc["series"][0]
