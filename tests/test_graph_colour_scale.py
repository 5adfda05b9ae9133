"""Colouring the graph by a statistic: one scale per run and statistic, honest across nodes and
steps, grey for "no value"; shared by the Graph view and `flowlog export-graph --color-by`.

Real logs (examples/nan_debugging.py), the real provider, the real `dot` and the real CLI.
"""

from __future__ import annotations

import math
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import run_nan_example

from flowlog import render
from flowlog import render_style as rs
from flowlog.backends import open_logdir
from flowlog.dashboard import graph_figures as gf
from flowlog.dashboard import graph_legend as gl
from flowlog.dashboard import graph_model as gm

NAN = "nan_debugging"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return run_nan_example(tmp_path_factory.mktemp("nan") / "runs")


@pytest.fixture
def data(logdir):
    return open_logdir(logdir)


def fills(svg: str | bytes) -> dict[str, str]:
    """node id -> fill of its outline shape."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(SVG + "g"):
        if "fl-node" in (g.get("class") or "").split():
            shape = next(e for e in g if e.tag in (SVG + "polygon", SVG + "ellipse", SVG + "path"))
            out[g.get("id")] = shape.get("fill")
    return out


def grad_norms(data, step):
    """node -> its grad_norm at ``step`` (latest at or before), from the provider."""
    out = {}
    for node in data.watched_nodes(NAN):
        s = data.watch_stats(NAN, node).get("grad_norm")
        if s is not None:
            v = rs.value_at(list(s.step), list(s.value), step)
            if v is not None:
                out[node] = v
    return out


def test_same_value_gets_the_same_colour_at_any_step():
    desc = {"nodes": [{"name": n, "op": "Relu", "inputs": []} for n in ("a", "b", "c")]}
    scale = render.run_scale([1e-4, 9.38e-5, 7.66e-5, 1.0])
    step1 = fills(render.render(desc, values={"a": 0.5, "b": 9.38e-5}, scale=scale))
    step2 = fills(render.render(desc, values={"a": 0.5, "b": 7.66e-5}, scale=scale))
    assert step1["node:a"] == step2["node:a"] == scale.color(0.5)
    # 20 % apart is a small step on a 4-decade scale, not the whole range
    assert abs(scale.position(9.38e-5) - scale.position(7.66e-5)) < 0.05
    assert step1["node:c"] == step2["node:c"] == rs.NO_VALUE_FILL  # no value: grey
    assert rs.NO_VALUE_FILL not in ("#ffffff", "#fff", "white")


def test_run_scale_is_log_only_when_values_span_decades():
    assert render.run_scale([1e-6, 1e-2, 3.0]).log
    assert not render.run_scale([9.38e-5, 7.66e-5]).log  # 20 % apart: linear
    assert not render.run_scale([1e-6, 1.0], prefer_log=False).log  # counts stay linear
    nan_only = render.run_scale([math.nan, math.inf])
    assert nan_only.empty and nan_only.color(math.nan) == render.NAN_COLOR


def test_view_colours_every_step_on_the_run_scale(data):
    opened = gm.open_run(data, NAN, None, gm.Shown(), on_tab_or_focus=True)
    scale = gm.stat_scale(data, NAN, "grad_norm")
    every = [
        v
        for node in data.watched_nodes(NAN)
        for v in data.watch_stats(NAN, node)["grad_norm"].value
        if math.isfinite(v)
    ]
    assert (scale.vmin, scale.vmax) == (min(v for v in every if v > 0), max(every))
    for index in (0, len(opened.steps) // 2):
        step = opened.steps[index]
        d = gm.draw(data, NAN, [], "grad_norm", index, None, opened.steps)
        drawn = fills(d.svg["svg"])
        values = grad_norms(data, step)
        for node, v in values.items():
            assert drawn["node:" + node] == scale.color(v), (step, node)
        unwatched = [k for k in drawn if k[5:] not in values]
        assert unwatched and all(drawn[k] == rs.NO_VALUE_FILL for k in unwatched)
        assert d.key["scale"] is scale  # the HTML legend shows this same scale


def test_html_legend_shows_the_scale_with_numbers_and_grey(data):
    opened = gm.open_run(data, NAN, None, gm.Shown(), on_tab_or_focus=True)
    d = gm.draw(data, NAN, opened.folded, "grad_norm", 0, None, opened.steps)
    items = gl.legend(d.key)
    kinds = {i.to_plotly_json()["props"].get("data-kind") for i in items}
    assert {"op", "variable", "placeholder", "nan", "none"} <= kinds
    ticks = [
        t.children
        for i in items
        for part in i.children
        if getattr(part, "className", "") == "fl-legend-scale"
        for t in part.children[1].children
    ]
    scale = d.key["scale"]
    assert ticks[0] == rs.format_value(scale.vmin) and ticks[-1] == rs.format_value(scale.vmax)


def test_side_panel_log_axes_have_few_uniform_labels_and_the_legend_below():
    steps = list(range(10))
    series = {
        "value_norm": (steps, [10.0**-k for k in range(10)]),
        "grad_norm": (steps, [10.0**-k / 2 for k in range(10)]),
    }
    fig = gf.norms_figure(series)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick >= 3  # ~10 decades
    assert fig.layout.yaxis.tickformat == ".0e"  # never "100µ" beside "0.001"
    moments = gf.moments_figure({"value_mean": (steps, steps), "value_std": (steps, steps)})
    assert moments.layout.legend.y < 0  # below the plot: it cannot run through the title


def test_cli_colours_at_a_step_and_marks_the_nan_origin(logdir, data, tmp_path):
    origin = gm.first_numerics(data.numerics(NAN))
    steps = gm.run_steps(data, NAN)
    step = steps[len(steps) // 2]
    out = tmp_path / "g.svg"
    cmd = [sys.executable, "-m", "flowlog.cli", "export-graph", str(logdir), "--run", NAN,
           "--show-gradients", "--color-by", "grad_norm", "--step", str(step), "--mark-nan",
           "-o", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    svg = out.read_bytes()
    drawn = fills(svg)
    scale = gm.stat_scale(data, NAN, "grad_norm")
    for node, v in grad_norms(data, step).items():
        assert drawn["node:" + node] == scale.color(v)  # the view's colours, the view's scale
    root = ET.fromstring(svg)
    classes = {g.get("id"): g.get("class") or "" for g in root.iter(SVG + "g")}
    assert "fl-marked" in classes["node:" + origin["node"]]
    assert "fl-highlight" in classes["node:" + origin["node"]]
    bad = subprocess.run([*cmd[:7], "--step", "3"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--color-by" in bad.stderr


def test_coloured_download_is_the_shown_command_byte_for_byte(data, tmp_path):
    from flowlog import cli

    opened = gm.open_run(data, NAN, None, gm.Shown(), on_tab_or_focus=True)
    origin = gm.first_numerics(data.numerics(NAN))
    index = len(opened.steps) // 2
    d = gm.draw(data, NAN, opened.folded, "value_norm", index, origin, opened.steps)
    argv = shlex.split(d.cli)
    assert argv[argv.index("--color-by") + 1] == "value_norm" and "--mark-nan" in argv
    assert argv[argv.index("--step") + 1] == str(opened.steps[index])
    svg, _ = gm.download(data, NAN, opened.folded, "value_norm", opened.steps[index], origin)
    argv[argv.index("-o") + 1] = str(tmp_path / "cli.svg")
    assert cli.main(argv[1:]) == 0
    assert (tmp_path / "cli.svg").read_bytes() == svg
