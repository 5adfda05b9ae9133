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
