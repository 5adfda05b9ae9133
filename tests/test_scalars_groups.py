"""Grouped Scalars charts (scalars_groups) on real logs by the real writer: by hparam, runs of
different experiments are not averaged together and a short member does not cut its group; a
member's NaN points still show; a regex matching no run says so; a group keeps its colour."""

from __future__ import annotations

import math

import pytest


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    from flowlog.writer import SummaryWriter

    d = tmp_path_factory.mktemp("groups") / "runs"
    for name, steps, level, nan_at in (
        ("mlp/s1", 100, 1.0, None),
        ("mlp/s2", 50, 3.0, 30),  # stops early, and has a NaN
        ("cnn/s1", 100, 10.0, None),  # another experiment with the same lr
    ):
        w = SummaryWriter(logdir=d, run_name=name, flush_secs=0.2)
        for s in range(steps):
            w.add_scalar("loss", math.nan if s == nan_at else level, s)
            w.add_scalar("acc", level, s)
        w.add_hparams({"lr": 0.1}, {"final": level})
        w.close()
    return d


def _view(logdir):
    from flowlog.dashboard import create_app
    from flowlog.dashboard.colors import run_colors

    view = create_app(logdir).flowlog_context.extra["scalars"]
    names = ["cnn/s1", "mlp/s1", "mlp/s2"]
    return view, [{"name": n, "color": c} for n, c in run_colors(names).items()], names


def _means(fig):
    from flowlog.dashboard.chart_axes import trace_values

    return {t["name"]: t for t in fig.data if (t.get("meta") or [])[2:3] == ["row"]}, trace_values


def test_hparam_groups_stay_per_experiment_and_span_every_members_steps(logdir):
    view, info, names = _view(logdir)
    fig, _ = view.build("acc", info, names, 0.0, "step", [], "hparam", "lr", None)
    means, values = _means(fig)
    assert set(means) == {"cnn · lr=0.1 (n=1)", "mlp · lr=0.1 (n=2)"}
    mlp = means["mlp · lr=0.1 (n=2)"]
    x, y = values(mlp["x"]), values(mlp["y"])
    assert x.max() == 99  # not cut at step 49 by its short member
    assert y[0] == pytest.approx(2.0) and y[-1] == pytest.approx(1.0)  # past it: s1 alone
    assert values(means["cnn · lr=0.1 (n=1)"]["y"]).max() == pytest.approx(10.0)  # not mixed


def test_grouped_chart_keeps_nan_markers_and_stable_colours(logdir):
    view, info, names = _view(logdir)
    colors = {r["name"]: r["color"] for r in info}
    fig, _ = view.build("loss", info, names, 0.0, "step", [], "regex", r"^(\w+)/", None)
    (nf,) = [t for t in fig.data if t.get("name", "").endswith("non-finite")]
    from flowlog.dashboard.chart_axes import trace_values

    assert nf["name"].startswith("mlp") and list(trace_values(nf["x"])) == [30]
    means, _ = _means(fig)
    assert means["mlp (n=2)"]["line"]["color"] == colors["mlp/s1"]  # its first member's colour
    assert means["cnn (n=1)"]["line"]["color"] == colors["cnn/s1"]
    # the same group has the same colour on a chart where another group is missing
    fig2, _ = view.build("acc", info, ["mlp/s1", "mlp/s2"], 0.0, "step", [], "regex", r"^(\w+)/",
                         None)  # fmt: skip
    assert _means(fig2)[0]["mlp (n=2)"]["line"]["color"] == colors["mlp/s1"]


def test_a_group_regex_matching_no_run_says_so(logdir):
    view, info, names = _view(logdir)
    fig, _ = view.build("acc", info, names, 0.0, "step", [], "regex", "zzz(.*)", None)
    notes = [a["text"] for a in fig.layout.get("annotations", [])]
    assert any("matches no run name" in n and "zzz" in n for n in notes)
    fig, _ = view.build("acc", info, names, 0.0, "step", [], "regex", r"^(\w+)/", None)
    assert not any("matches no run name" in a["text"] for a in fig.layout.get("annotations", []))
