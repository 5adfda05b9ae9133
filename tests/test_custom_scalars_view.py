"""The Scalars view's "Custom" section (add_custom_scalars layouts): plain functions on runs
written by the real writer, and the section in a real headless Chromium."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from flowlog.backends import open_logdir
from flowlog.dashboard import scalars_custom as sc
from flowlog.media import custom_scalars_layout
from flowlog.provider import ReadError
from flowlog.writer import SummaryWriter

LAYOUT = {
    "Losses": {"both": ["Multiline", ["loss/.*"]]},
    "Acc": {"band": ["Margin", ["acc", "acc_lo", "acc_hi"]]},
}
COLORS = {"a": "#1f77b4", "b": "#ff7f0e"}
STEPS = np.arange(0, 500, 10)


def array(v) -> np.ndarray:
    """A figure array as plotly.js gets it: Plotly's binary form or a list."""
    if isinstance(v, dict) and "bdata" in v:
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            out = out.reshape([int(n) for n in v["shape"].split(",")])
        return out
    return np.asarray(v)


def acc_values(seed=0):
    rng = np.random.default_rng(seed)
    acc = 0.5 + 0.4 * (1 - np.exp(-STEPS / 150)) + 0.01 * rng.normal(size=STEPS.size)
    half = 0.05 + 0.02 * rng.random(STEPS.size)
    return acc, acc - half, acc + half


def write(logdir, name, layout=LAYOUT, seed=0, nan_at=None):
    acc, lo, hi = acc_values(seed)
    with SummaryWriter(logdir=logdir, run_name=name) as w:
        for i, s in enumerate(STEPS.tolist()):
            w.add_scalar("loss/train", math.nan if i == nan_at else 1.0 / (1 + s), s)
            w.add_scalar("loss/val", 1.2 / (1 + s), s)
            w.add_scalar("acc", float(acc[i]), s)
            w.add_scalar("acc_lo", float(lo[i]), s)
            w.add_scalar("acc_hi", float(hi[i]), s)
            w.add_scalars("Loss", {"x": 0.5, "y": 0.25}, s)
        if layout is not None:
            w.add_custom_scalars(layout)
    return logdir


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "runs"
    write(d, "a", seed=1)
    write(d, "b", layout={"Losses": {"grouped": ["Multiline", ["^Loss/"]]}}, seed=2, nan_at=3)
    return open_logdir(d)


def tags_of(data, *runs):
    return {r: {t.label: t for t in data.tags(r, "scalar").values()} for r in runs}


def test_layouts_merge_by_category_and_chart_title():
    one = custom_scalars_layout(LAYOUT)
    two = custom_scalars_layout(
        {
            "Losses": {"both": ["Multiline", ["val/.*", "loss/.*"]], "lr": ["Multiline", ["lr"]]},
            "Acc": {"band": ["Multiline", ["acc"]]},  # another kind: the first run's wins
            "New": {"n": ["Margin", ["v", "l", "u"]]},
        }
    )
    merged = sc.merge_layouts([one, None, two, {"categories": 5}, "junk"])
    assert [c["title"] for c in merged] == ["Losses", "Acc", "New"]
    losses = merged[0]["charts"]
    assert [c["title"] for c in losses] == ["both", "lr"]
    assert losses[0]["tags"] == ["loss/.*", "val/.*"]  # both runs' regexes, once each
    assert merged[1]["charts"] == [
        {"title": "band", "kind": "margin", "tags": ["acc", "acc_lo", "acc_hi"]}
    ]
    assert one == custom_scalars_layout(LAYOUT)  # the inputs are left as they were
    junk = {"categories": [{"title": "x", "charts": [{"title": "m", "kind": "margin",
                                                       "tags": ["a"]}, 5, {"kind": "multiline"}]},
                           {"title": 5}]}  # fmt: skip
    assert sc.merge_layouts([junk]) == []


def test_regexes_search_like_tensorboard_and_bad_ones_are_reported():
    labels = ["loss/train", "loss/val", "acc", "val_acc", "Loss/x"]
    matched, errors = sc.match_tags(["oss/t", "^acc$", "("], labels)
    assert matched == ["loss/train", "acc"]  # a search, anchored only where asked
    assert list(errors) == ["("] and "custom scalars regex" in errors["("]
    matched, errors = sc.match_tags(["val(?=_)", "Loss/"], labels)
    assert matched == ["Loss/x"] and "lookahead" in errors["val(?=_)"]


def test_multiline_draws_a_line_per_run_and_tag_in_run_colours(data):
    chart = {"title": "both", "kind": "multiline", "tags": ["loss/.*", "[unclosed"]}
    tags = tags_of(data, "a", "b")
    fig = sc.multiline_figure(data, chart, tags, COLORS, 0.0, "step", []).to_plotly_json()
    lines = [t for t in fig["data"] if t.get("yaxis") != "y2"]
    assert [t["name"] for t in lines] == [
        "a · loss/train", "a · loss/val", "b · loss/train", "b · loss/val"
    ]  # fmt: skip
    assert [t["line"]["color"] for t in lines] == ["#1f77b4"] * 2 + ["#ff7f0e"] * 2
    assert [t["line"]["dash"] for t in lines] == ["solid", "dash", "solid", "dash"]
    np.testing.assert_array_equal(array(lines[1]["x"]), STEPS)
    np.testing.assert_allclose(array(lines[1]["y"]), 1.2 / (1 + STEPS))
    # b's NaN at step 30: a gap in the line and the main charts' NaN marker
    y = array(lines[2]["y"])
    assert np.isnan(y[3]) and np.isfinite(np.delete(y, 3)).all()
    [marker] = [t for t in fig["data"] if t.get("yaxis") == "y2"]
    assert array(marker["customdata"]).tolist() == [["30", "NaN"]]
    # the bad regex is named on the chart, the other one draws
    notes = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "[unclosed" in notes and "custom scalars regex" in notes
    # smoothing: a faint raw line under each smoothed one
    smooth = sc.multiline_figure(data, chart, tags, COLORS, 0.6, "step", ["logy"]).to_plotly_json()
    assert len([t for t in smooth["data"] if t.get("opacity") == 0.25]) == 4
    assert smooth["layout"]["yaxis"]["type"] == "log"
    # add_scalars series match as users read them (main/key)
    grouped = {"title": "g", "kind": "multiline", "tags": ["^Loss/"]}
    names = [t["name"] for t in sc.multiline_figure(data, grouped, tags, COLORS, 0, "step", [])
             .to_plotly_json()["data"]]  # fmt: skip
    assert names == ["a · Loss/x", "a · Loss/y", "b · Loss/x", "b · Loss/y"]


def test_margin_band_is_the_logged_lower_and_upper_values(data):
    chart = {"title": "band", "kind": "margin", "tags": ["acc", "acc_lo", "acc_hi"]}
    fig = sc.margin_figure(data, chart, tags_of(data, "a"), COLORS, "step", []).to_plotly_json()
    band, value = fig["data"]
    acc, lo, hi = acc_values(1)
    assert band["fill"] == "toself" and band["fillcolor"].startswith("rgba(31,119,180,")
    np.testing.assert_array_equal(array(band["x"]), np.r_[STEPS, STEPS[::-1]])
    np.testing.assert_allclose(array(band["y"]), np.r_[hi, lo[::-1]])
    np.testing.assert_allclose(array(value["y"]), acc)
    np.testing.assert_allclose(array(value["customdata"])[:, 1:3], np.column_stack([lo, hi]))
    assert value["name"] == "a · acc" and value["line"]["color"] == "#1f77b4"
    # a run lacking one of the tags is named, the others draw
    tags = tags_of(data, "a", "b")
    del tags["b"]["acc_hi"]
    fig = sc.margin_figure(data, chart, tags, COLORS, "relative", []).to_plotly_json()
    assert len(fig["data"]) == 2 and "acc_hi" in fig["layout"]["annotations"][0]["text"]
    assert array(fig["data"][1]["x"])[0] == 0.0  # relative time starts at the first point


class Spy:
    """A provider that records which reads the section makes."""

    def __init__(self, inner, broken=()):
        self.inner, self.broken, self.calls = inner, set(broken), []

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def call(run, *args, **kw):
            self.calls.append((name, run, *args))
            if run in self.broken:
                raise ReadError(f"run {run!r} cannot be read: database disk image is malformed")
            return method(run, *args, **kw)

        return call


def test_series_are_read_downsampled_and_a_damaged_run_is_named(data):
    spy = Spy(data, broken=["b"])
    info = [{"name": "a", "color": COLORS["a"]}, {"name": "b", "color": COLORS["b"]}]
    problems = {}
    layout, tags, colors = sc.collect(spy, info, ["a", "b", "ghost", 5], problems)
    assert [c["title"] for c in layout] == ["Losses", "Acc"] and list(tags) == ["a"]
    assert "malformed" in problems["b"]
    body = sc.section_body(spy, layout, tags, colors, 0.6, "relative", [], problems)
    assert "malformed" in str(body[0])
    full = [c for c in spy.calls if c[0] == "scalars" and c[3] != c[4]]
    assert full == []  # only one-point reads (a relative axis's start): no full series
    assert any(c[0] == "scalars_downsampled" for c in spy.calls)
    used = sc.used_tags(layout, tags)
    assert [u[1] for u in used] == ["acc", "acc_hi", "acc_lo", "loss/train", "loss/val"]
    assert sc.controls("x", ["nope"], "logy") == (0.0, "step", [])
    assert sc.controls(0.5, "wall", ["logx", 5]) == (0.5, "wall", ["logx"])
    assert sc.collect(data, info, ["b"], {})[0] == [
        {"title": "Losses", "charts": [{"title": "grouped", "kind": "multiline",
                                        "tags": ["^Loss/"]}]}
    ]  # fmt: skip


# --- in a browser ----------------------------------------------------------------------------


@pytest.mark.browser
def test_custom_section_shows_the_layout_charts_first(page, dash_server, tmp_path):
    d = tmp_path / "runs"
    write(d, "only")
    page.goto(dash_server(d))
    section = page.locator("#sc-custom")
    section.locator("h3", has_text="Losses").wait_for()
    section.locator("h3", has_text="Acc").wait_for()
    assert section.locator("summary").inner_text().startswith("Custom")
    box = page.evaluate(
        "() => [document.querySelector('#sc-custom').getBoundingClientRect().top,"
        " document.querySelector('#sc-charts').getBoundingClientRect().top]"
    )
    assert box[0] < box[1]  # before the tag groups
    both = "[data-fl-chart='both'] .js-plotly-plot"
    band = "[data-fl-chart='band'] .js-plotly-plot"
    page.wait_for_function(
        f'() => document.querySelector("{both}")?._fullData?.length >= 2'
        f' && document.querySelector("{band}")?._fullData?.length >= 2'
    )
    names = page.evaluate(
        f'() => document.querySelector("{both}")._fullData'
        ".filter(t => t.showlegend).map(t => t.name)"
    )
    assert names == ["only · loss/train", "only · loss/val"]
    fills = page.evaluate(f'() => document.querySelector("{band}")._fullData.map(t => t.fill)')
    assert "toself" in fills
    # the band is painted: a filled path in the plot
    assert page.locator(f"{band} .scatterlayer path.js-fill").count() >= 1
    # collapsible: closing hides the charts
    section.locator("summary").click()
    page.wait_for_function("() => !document.querySelector('#sc-custom').open")
    assert not page.locator(both).is_visible()


@pytest.mark.browser
def test_no_custom_section_without_a_layout(page, dash_server, tmp_path):
    d = tmp_path / "runs"
    write(d, "plain", layout=None)
    page.goto(dash_server(d))
    page.locator("[data-fl-tag='acc'] .js-plotly-plot").wait_for()
    assert not page.locator("#sc-custom").is_visible()
