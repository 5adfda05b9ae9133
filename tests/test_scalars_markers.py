"""NaN markers and the first-NaN label (scalars_markers): a diverged run's NaN markers are
thinned instead of piling into a blob, and the label sits on the side of its diamond with room
in the whole chart, set off the diamond. Charts built from real logs by the real writer."""

from __future__ import annotations

import math

import numpy as np


def test_thin_markers_keeps_one_per_spacing_and_every_kind_change():
    from flowlog.dashboard.scalars_markers import thin_markers

    x = np.arange(100, dtype=float)
    kinds = np.array(["NaN"] * 50 + ["+Inf"] + ["NaN"] * 49)
    keep = thin_markers(x, kinds, 10.0)
    assert keep[0] and keep[50] and keep[51]  # first, a kind change, and back
    assert 10 <= keep.sum() <= 14


def test_a_diverged_run_draws_few_nan_markers_joined_by_a_line(tmp_path):
    from flowlog.dashboard import create_app
    from flowlog.dashboard.chart_axes import trace_values
    from flowlog.writer import SummaryWriter

    w = SummaryWriter(logdir=tmp_path, run_name="div", flush_secs=0.2)
    for s in range(2000):
        w.add_scalar("loss", 1.0 / (s + 1) if s < 300 else math.nan, s)
    w.close()
    view = create_app(tmp_path).flowlog_context.extra["scalars"]
    info = [{"name": "div", "color": "#1f77b4"}]
    fig, state = view.build("loss", info, ["div"], 0.0, "step", [], "none", None, None)
    markers = fig.data[state["runs"]["div"]["nf"]]
    assert markers["name"] == "div non-finite"
    assert 20 <= len(trace_values(markers["x"])) <= 80  # not one per drawn NaN point (~500)
    (span,) = [t for t in fig.data if t["name"] == "div span"]
    xs = trace_values(span["x"])
    assert xs.min() == 300 and xs.max() == 1999  # the line covers the whole NaN stretch


def test_line_keep_breaks_the_line_only_at_buckets_without_a_finite_point():
    from flowlog.dashboard.scalars_markers import line_keep

    x = np.arange(1000, dtype=float)
    finite = np.ones(1000, dtype=bool)
    finite[[10, 500, 501]] = False  # isolated NaNs: a 2- and a 3-step gap of 1,000
    finite[700:720] = False  # a 21-step gap
    keep = line_keep(x, finite, buckets=100)  # a bucket: 10 steps
    assert keep[finite].all()  # every finite point stays
    assert not keep[[10, 500, 501]].any()  # the line runs on past them
    assert keep[700:720].all()  # a visible gap: the line breaks there
    assert line_keep(x, finite, buckets=2000)[[10, 500, 501]].all()  # finer: visible again
    # a line with at most one finite point has nothing to connect
    assert line_keep(x, np.eye(1, 1000, 5, dtype=bool)[0], buckets=10).all()
    assert line_keep(x, np.zeros(1000, dtype=bool), buckets=10).all()
    # on a log x axis the first steps take a decade each: a gap there is wide
    logx = np.arange(1, 10_001, dtype=float)
    early = np.ones(logx.size, dtype=bool)
    early[[2, 5000]] = False  # steps 3 and 5,001
    keep = line_keep(logx, early, buckets=100, logx=True)
    assert keep[2] and not keep[5000]
    assert not line_keep(logx, early, buckets=100)[2]  # (on a linear axis it is not)


def test_a_line_with_an_inf_every_few_hundred_steps_breaks_only_at_a_long_gap(tmp_path):
    """One path per piece of line between visible gaps, not one per piece between NaNs
    (plotly.js draws and styles each piece as its own path: a chart of four such runs took 3x
    as long to draw). The markers still show every non-finite step."""
    from flowlog.dashboard import create_app
    from flowlog.dashboard.chart_axes import trace_values
    from flowlog.writer import SummaryWriter

    def value(s):  # an fp16 run: an overflowing step every 250 logs inf; then it broke a while
        return math.inf if s % 250 == 7 else math.nan if 15_000 <= s < 15_400 else 1 / (s + 1)

    w = SummaryWriter(logdir=tmp_path, run_name="amp", flush_secs=0.2)
    for s in range(20_000):
        w.add_scalar("loss", value(s), s)
    w.close()
    view = create_app(tmp_path).flowlog_context.extra["scalars"]
    info = [{"name": "amp", "color": "#1f77b4"}]
    for rng in (None, (14_000, 16_000)):  # the whole run, and zoomed in around the gap
        fig, state = view.build("loss", info, ["amp"], 0.6, "step", [], "none", None, rng)
        entry = state["runs"]["amp"]
        for line in (fig.data[entry["raw"]], fig.data[entry["smooth"]]):
            x, y = trace_values(line["x"]), trace_values(line["y"])
            gap = x[~np.isfinite(y)]
            assert gap.size and (gap >= 15_000).all() and (gap < 15_400).all(), rng
            assert np.isfinite(y[x < 15_000]).all() and np.isfinite(y[x >= 15_400]).all()
        markers = set(trace_values(fig.data[entry["nf"]]["x"]).tolist())
        if rng is None:  # thinned to one per 1/60 of the chart: every other inf
            assert len(markers) >= 35
        else:  # every inf of the window: 14,007 ... 14,757 and 15,507 ... 15,757
            assert {7 + 250 * k for k in (*range(56, 60), *range(62, 64))} <= markers


def _chart_with_finding(step):
    from flowlog.dashboard.figure_json import Fig, scatter
    from flowlog.dashboard.scalars_markers import numerics_marker, place_numerics_labels

    fig = Fig()
    fig.add_trace(scatter(x=np.arange(0, 400.0), y=np.ones(400)))  # a long run: 0..399
    st = np.arange(0, 46)
    pts = {"x": st.astype(float), "st": st, "first_step": 0, "last_step": 45}  # a short run
    numerics_marker(fig, "short", "#d62728", pts, [{"step": step, "node": "loss/log_not_p"}])
    place_numerics_labels(fig)
    return fig.data[-1]


def test_first_nan_label_faces_the_room_in_the_whole_chart_and_clears_its_diamond():
    # step 40 is late in its own run (0..45) but early in the chart (0..399): label to the right
    early = _chart_with_finding(40)
    assert early["textposition"] == "middle right"
    assert early["text"][0].startswith("\u2002first NaN/Inf: loss/log_not_p")
    assert early["meta"][0] == "numerics"


def test_first_nan_label_of_a_late_finding_goes_left():
    from flowlog.dashboard.figure_json import Fig, scatter
    from flowlog.dashboard.scalars_markers import numerics_marker, place_numerics_labels

    fig = Fig()
    st = np.arange(0, 400)
    fig.add_trace(scatter(x=st.astype(float), y=np.ones(400)))
    pts = {"x": st.astype(float), "st": st, "first_step": 0, "last_step": 399}
    long_node = "a/very/deep/scope/" * 4 + "log"
    numerics_marker(fig, "r", "#d62728", pts, [{"step": 390, "node": long_node}])
    place_numerics_labels(fig)
    t = fig.data[-1]
    assert t["textposition"] == "middle left" and t["text"][0].endswith("log\u2002")
    assert len(t["text"][0]) < 50  # a long node name is cut in the label (hover has it all)
    assert long_node in t["customdata"][0]
