"""Histograms: weights and gradients over steps, like TensorBoard's Histograms/Distributions.

Per tag: a percentile-band chart (all selected runs, in their colours) computed from the stored
bucket counts, and per run either offset ridgelines (one curve per step, older behind) or a
step x value heatmap on a shared value axis. Charts refresh when a run logs a new histogram.
"""

from __future__ import annotations

import math
from html import escape

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html

from flowlog.dashboard import media_tags, tab_gate, untrusted
from flowlog.dashboard.chart_axes import axis_style
from flowlog.dashboard.colors import rgba
from flowlog.dashboard.controls import image_config, tag_filter_input
from flowlog.dashboard.ids import SELECTED_RUNS, TABS
from flowlog.dashboard.patterns import PatternError
from flowlog.dashboard.series import histogram_percentiles, rebin
from flowlog.dashboard.untrusted import RUN_ERRORS

TAB_ID = "histograms"
TAB_LABEL = "Histograms"

MODE = "hist-mode"
TAG_FILTER = "hist-tag-filter"
CHARTS = "hist-charts"
VERSION = "hist-version"

MAX_RIDGES = 40  # steps drawn as ridgelines; evenly spaced over the run, always the last one
HEATMAP_BINS = 80
SINGLE_STEP_HALF = 0.3  # half the width, in steps, of the bands of a run of one step
# TensorBoard's distribution bands: min, 7%, 16%, 31%, median, 69%, 84%, 93%, max
QUANTILES = [0.0, 0.07, 0.16, 0.31, 0.5, 0.69, 0.84, 0.93, 1.0]
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif")


def pick_steps(n: int, limit: int) -> np.ndarray:
    """Indices of at most ``limit`` of ``n`` items, evenly spaced, first and last included."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def percentile_figure(tag: str, per_run: dict[str, tuple[str, list]]) -> go.Figure:
    """Bands between symmetric quantiles (darker towards the median) and the median line."""
    fig = go.Figure()
    for name, (color, hists) in per_run.items():
        if not hists:
            continue
        steps = np.array([h.step for h in hists], dtype=np.float64)
        q = np.array([histogram_percentiles(h.edges, h.counts, QUANTILES) for h in hists])
        logged = steps
        if steps.size == 1:  # one step: a band of zero width is invisible; give it some
            steps, q = steps[0] + np.array([-SINGLE_STEP_HALF, SINGLE_STEP_HALF]), np.r_[q, q]
            logged = np.r_[logged, logged]
        label = escape(name)
        for k, alpha in ((0, 0.10), (1, 0.16), (2, 0.24), (3, 0.32)):
            lo, hi = q[:, k], q[:, -1 - k]
            fig.add_trace(
                go.Scatter(
                    x=np.r_[steps, steps[::-1]],
                    y=np.r_[hi, lo[::-1]],
                    mode="lines",  # plotly's default for few points adds markers, in its colours
                    fill="toself",
                    fillcolor=rgba(color, alpha),
                    line=dict(width=0),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=label,
                )
            )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=q[:, 4],
                mode="lines+markers",
                marker=dict(size=4),
                line=dict(color=color, width=2),
                name=label,
                legendgroup=label,
                customdata=np.column_stack([q[:, 0], q[:, 2], q[:, 6], q[:, 8], logged]),
                hovertemplate=f"<b>{label}</b><br>step %{{customdata[4]}}<br>median %{{y:.4g}}"
                "<br>16–84%: %{customdata[1]:.4g} … %{customdata[2]:.4g}"
                "<br>min/max: %{customdata[0]:.4g} … %{customdata[3]:.4g}<extra></extra>",
            )
        )
    _style(fig, f"{tag} — distribution over steps", "step", "value", 300)
    steps = sorted({h.step for _c, hists in per_run.values() for h in hists})
    if len(steps) == 1:  # the one step in the middle, labelled alone (no "-0.5")
        fig.update_xaxes(range=[steps[0] - 0.5, steps[0] + 0.5], tickvals=steps)
    elif steps and steps[0] >= 0:
        fig.update_xaxes(rangemode="nonnegative")  # the median's markers pad it below step 0
    return fig


def int_ticks(lo: int, hi: int, target: int = 5) -> list[int]:
    """About ``target`` round integers (1/2/5 x 10^k apart) from ``lo`` to ``hi``."""
    raw = max((hi - lo) / target, 1.0)
    mag = 10 ** math.floor(math.log10(raw))
    step = int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))
    return list(range(-(-lo // step) * step, hi + 1, step)) or [lo]


def step_axis(steps, top_pad: float, bottom_pad: float) -> dict:
    """A y axis of steps, the first at the top as in TensorBoard's offset view (older behind),
    with ``top_pad``/``bottom_pad`` of room beyond the first/last step for what is drawn there
    (a ridge's peak, a heatmap row's half). Ticks only at steps inside the logged range: the
    room above step 0 is no "step -5"."""
    lo, hi = float(min(steps)), float(max(steps))
    ticks = int_ticks(int(lo), int(hi))
    return dict(
        range=[hi + bottom_pad, lo - top_pad],  # reversed: steps grow downwards
        autorange=False,
        tickmode="array",
        tickvals=ticks,
        ticktext=[str(t) for t in ticks],
    )


def ridge_figure(tag: str, name: str, color: str, hists: list) -> go.Figure:
    """Offset ridgelines: one density curve per step, step 0 at the back (top)."""
    fig = go.Figure()
    hists = [h for h in hists if np.size(h.edges)]
    if hists:
        picked = [hists[i] for i in pick_steps(len(hists), MAX_RIDGES)]
        steps = np.array([h.step for h in picked], dtype=np.float64)
        spacing = np.median(np.diff(steps)) if steps.size > 1 else 1.0
        height = 2.5 * spacing
        peak = max(float((h.counts / np.diff(h.edges)).max()) for h in picked) or 1.0
        label = escape(name)
        for j, h in enumerate(picked):
            dens = np.asarray(h.counts) / np.diff(h.edges) / peak
            centers = (np.asarray(h.edges[:-1]) + np.asarray(h.edges[1:])) / 2
            x = np.r_[h.edges[0], centers, h.edges[-1]]
            y = h.step - np.r_[0.0, dens, 0.0] * height
            shade = 0.35 + 0.65 * j / max(len(picked) - 1, 1)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    fill="toself",
                    fillcolor=rgba(color, 0.10 + 0.25 * shade),
                    line=dict(color=rgba(color, shade), width=1),
                    showlegend=False,
                    name=f"step {h.step}",
                    hovertemplate=f"<b>{label}</b><br>step {h.step}<br>value %{{x:.4g}}"
                    "<extra></extra>",
                )
            )
    _style(fig, f"{tag} — {name}", "value", "step", 300)
    if hists:
        fig.update_yaxes(**step_axis(steps, height * 1.05, 0.05 * spacing))
    return fig


def heatmap_figure(tag: str, name: str, color: str, hists: list) -> go.Figure:
    """Step x value heatmap; every step's counts rebinned onto one shared value grid."""
    fig = go.Figure()
    hists = [h for h in hists if np.size(h.edges)]
    if hists:
        lo = min(float(h.edges[0]) for h in hists)
        hi = max(float(h.edges[-1]) for h in hists)
        hi = hi if hi > lo else lo + 1.0
        grid = np.linspace(lo, hi, HEATMAP_BINS + 1)
        z = np.array([rebin(h.edges, h.counts, grid) for h in hists])
        z = z / np.maximum(z.sum(axis=1, keepdims=True), 1e-300)  # fraction per step
        fig.add_trace(
            go.Heatmap(
                x=(grid[:-1] + grid[1:]) / 2,
                y=np.array([h.step for h in hists]),
                z=z,
                colorscale=[[0, "#ffffff"], [1, color]],
                colorbar=dict(title=dict(text="fraction"), thickness=10),
                hovertemplate="step %{y}<br>value %{x:.4g}<br>fraction %{z:.3f}<extra></extra>",
            )
        )
    _style(fig, f"{tag} — {name}", "value", "step", 300)
    if hists:
        steps = np.array([h.step for h in hists], dtype=np.float64)
        half = (float(np.median(np.diff(steps))) if steps.size > 1 else 1.0) / 2
        fig.update_yaxes(**step_axis(steps, half, half))  # as the ridgelines: first at the top
    return fig


def _style(fig, title, xtitle, ytitle, height):
    fig.update_layout(
        title=dict(text=escape(title), font=dict(size=14), x=0.01, xanchor="left"),
        template="plotly_white",
        height=height,
        margin=dict(l=55, r=15, t=40, b=40),
        xaxis=axis_style(title=dict(text=xtitle)),  # the charts' one tick policy
        yaxis=axis_style(title=dict(text=ytitle)),
        legend=dict(orientation="h", y=-0.25, font=dict(size=11)),
        font=FONT,
    )
    if not fig.data:
        fig.add_annotation(
            text="no finite values logged", showarrow=False, xref="paper", yref="paper"
        )


def layout(ctx):
    return html.Div(
        className="fl-view fl-histograms",
        children=[
            html.Div(
                className="fl-toolbar",
                children=[
                    tag_filter_input(TAG_FILTER),
                    dcc.RadioItems(
                        id=MODE,
                        options=[
                            {"label": "Ridgelines", "value": "ridge"},
                            {"label": "Heatmap", "value": "heatmap"},
                        ],
                        value="ridge",
                        inline=True,
                        className="fl-segmented",
                    ),
                ],
            ),
            dcc.Store(id=VERSION),
            html.Div(id=CHARTS, className="fl-chart-groups"),
        ],
    )


def collect(data, info, selected, pattern, problems: dict | None = None):
    """``({tag: {run: (colour, TagInfo)}}, version)`` of the selected runs' histogram tags;
    the version lists every (run, tag, count, last step), so an unchanged log redraws nothing.
    A run whose tags cannot be read is left out and named in ``problems`` (run -> why).
    Raises :class:`PatternError` (a ValueError) for a tag filter that cannot be used."""
    return media_tags.collect(data, info, selected, pattern, "histogram", problems)


def _card(figure, label: str, class_name: str | None = None) -> html.Div:
    graph = dcc.Graph(figure=figure, config=image_config(label))
    if class_name:
        graph.className = class_name
    return html.Div(graph, className="fl-card")


def problem_notes(problems: dict[str, str]) -> list:
    """One line per run that could not be drawn, naming it and why."""
    return [html.Div(f"⚠ {text}", className="fl-run-problem") for text in problems.values()]


def tag_group(data, tag: str, runs: dict, mode: str) -> html.Details:
    """One tag's group: the percentile chart of every run, then one ridge/heatmap per run; a
    run whose histograms cannot be read gets a card saying so, and the others draw."""
    per_run, problems = {}, {}
    for name, (color, _info) in sorted(runs.items()):
        try:
            per_run[name] = (color, data.histograms(name, tag))
        except RUN_ERRORS as exc:
            problems[name] = untrusted.problem(name, exc, data)
    cards = [_card(percentile_figure(tag, per_run), f"{tag} percentiles")]
    build = heatmap_figure if mode == "heatmap" else ridge_figure
    for name, (color, hists) in per_run.items():
        cards.append(
            _card(build(tag, name, color, hists), f"{tag} {name} {mode}", f"fl-hist-{mode}")
        )
    if problems:
        cards.insert(1, html.Div(problem_notes(problems), className="fl-card fl-problem-card"))
    summary = html.Summary([html.Span(tag), html.Span(str(len(per_run)), className="fl-count")])
    return html.Details(
        open=True,
        className="fl-group",
        children=[summary, html.Div(cards, className="fl-chart-grid")],
    )


NO_HISTOGRAMS = (
    "No histograms in the selected runs. Log some with "
    "`writer.add_histogram(tag, values, step)` or `writer.watch(session)`."
)


def register(app, ctx):
    tab_gate.register(app, ctx, TAB_ID)

    @app.callback(
        Output(CHARTS, "children"),
        Output(VERSION, "data"),
        Input(tab_gate.runs_info(TAB_ID), "data"),
        Input(SELECTED_RUNS, "data"),
        Input(TAG_FILTER, "value"),
        Input(MODE, "value"),
        Input(TABS, "value"),
        State(VERSION, "data"),
        prevent_initial_call=True,  # hidden while the page loads: built when the tab opens
    )
    def charts(info, selected, pattern, mode, tab, old_version):
        if tab != TAB_ID:
            return dash.no_update, dash.no_update  # hidden: build when the tab is opened
        mode = untrusted.choice(mode, ("ridge", "heatmap"), "ridge")
        problems: dict[str, str] = {}
        try:
            by_tag, version = collect(ctx.data, info, selected, pattern, problems)
        except PatternError as e:
            return html.Div(str(e), className="fl-message"), dash.no_update
        colors = [[run, c] for t in by_tag.values() for run, (c, _t) in t.items()]
        # run colours too: a colour picked in the runs panel redraws the charts in it
        key = [version, mode, pattern if isinstance(pattern, str) else None, sorted(problems),
               sorted(colors)]  # fmt: skip
        if old_version == key and tab_gate.refresh_or_open(dash.ctx.triggered_id):
            return dash.no_update, dash.no_update  # nothing new logged: keep the zoom state
        notes = [html.Div(problem_notes(problems), className="fl-message")] if problems else []
        if not by_tag:
            return [*notes, html.Div(NO_HISTOGRAMS, className="fl-message")], key
        return [*notes, *(tag_group(ctx.data, t, by_tag[t], mode) for t in sorted(by_tag))], key
