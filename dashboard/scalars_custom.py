"""The Scalars view's "Custom" section: the charts of ``writer.add_custom_scalars`` layouts.

Like TensorBoard's Custom Scalars dashboard: per category (a heading) its charts, for every
selected run. The layouts of the selected runs are merged: categories and their charts by
title, a Multiline chart's regexes joined. A Multiline chart draws every scalar tag that one of
its regexes matches (RE2 search, as TensorBoard searches with ``re``; a regex that cannot be
used is named on the chart and the others still draw), one line per (run, tag): the run's
colour, a dash style per tag. A Margin chart draws a run's value tag as a line in the band
between its lower and upper tags.

Series are read downsampled (``scalars_downsampled``: bucket means from the reader's rollups,
so a 1M-point tag costs as little as a short one) at the main charts' budget
(:mod:`flowlog.dashboard.chart_budget`); the Smoothing slider smooths Multiline lines as the
main charts' mean-over-ranks lines are (an EMA over buckets of ``k`` points weighs by
``w ** k``), NaN/±Inf points get the main charts' markers, and the x axis and log controls apply.
Margin charts are drawn as logged (no smoothing, as in TensorBoard).
"""

from __future__ import annotations

from functools import reduce
from html import escape

import dash
import numpy as np
from dash import Input, Output, State, dcc, html

from flowlog.dashboard import untrusted
from flowlog.dashboard.chart_axes import axis_style, decades_of
from flowlog.dashboard.chart_budget import draws_markers, draws_raw, line_buckets
from flowlog.dashboard.colors import rgba
from flowlog.dashboard.controls import image_config
from flowlog.dashboard.figure_json import Fig, scatter
from flowlog.dashboard.ids import RUNS_INFO, SELECTED_RUNS, TABS
from flowlog.dashboard.patterns import PatternError, compile_pattern
from flowlog.dashboard.scalars_charts import (
    CHART_HEIGHT,
    LEGEND_ROW_PX,
    X_AXIS_PX,
    chart_title,
    legend_layout,
    nonfinite_kinds,
)
from flowlog.dashboard.scalars_checks import problems_note
from flowlog.dashboard.scalars_data import X_TITLES, to_x
from flowlog.dashboard.scalars_markers import NONFINITE_MARKER_Y, NONFINITE_SYMBOLS
from flowlog.dashboard.series import align_rank_buckets
from flowlog.dashboard.smoothing import ema
from flowlog.dashboard.untrusted import RUN_ERRORS

SECTION = "sc-custom"  # the section's <details>; hidden while no selected run has a layout
BODY = "sc-custom-body"
COUNT = "sc-custom-count"
VERSION = "sc-custom-version"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x")  # past len(DASHES) tags
KINDS = ("multiline", "margin")
HIDDEN = {"display": "none"}
LEGEND_ROW_EXTRA = 5  # px per legend row beyond scalars_charts.LEGEND_ROW_PX (measured: 29)


def section() -> html.Details:
    """The (empty, hidden) section the Scalars view's layout holds; :func:`register` fills it."""
    return html.Details(
        id=SECTION,
        open=True,
        className="fl-custom",  # not .fl-group: the tag groups' scripts and tests count those
        style=HIDDEN,
        children=[
            html.Summary(
                title="the charts of add_custom_scalars layouts: show or hide",
                children=[
                    html.Span("Custom"),
                    html.Span(id=COUNT, className="fl-count"),
                    html.Span("click to show", className="fl-collapsed-hint"),
                ],
            ),
            html.Div(id=BODY, className="fl-custom-body"),
            dcc.Store(id=VERSION),
        ],
    )


# --- layouts ---------------------------------------------------------------------------------


def _charts_of(category) -> list[dict]:
    """A stored category's well-formed charts (the layout comes from a file: checked)."""
    charts = category.get("charts") if isinstance(category, dict) else None
    out = []
    for c in charts if isinstance(charts, list) else []:
        if not isinstance(c, dict) or not isinstance(c.get("title"), str):
            continue
        kind = c.get("kind")
        tags = [t for t in c.get("tags") or [] if isinstance(t, str) and t]
        if kind in KINDS and tags and (kind == "multiline" or len(tags) == 3):
            out.append({"title": c["title"], "kind": kind, "tags": tags})
    return out


def merge_layouts(layouts) -> list[dict]:
    """The union of several runs' layouts (``custom_scalars_layout``'s form), in first-seen
    order: ``[{"title", "charts": [{"title", "kind", "tags"}]}]``. Categories merge by title,
    charts within one by title; a Multiline chart of several runs searches all their regexes,
    and where two runs disagree on a chart's kind or Margin tags the first run's wins."""
    merged: dict[str, dict[str, dict]] = {}
    for layout in layouts:
        cats = layout.get("categories") if isinstance(layout, dict) else None
        for cat in cats if isinstance(cats, list) else []:
            title = cat.get("title") if isinstance(cat, dict) else None
            if not isinstance(title, str):
                continue
            charts = merged.setdefault(title, {})
            for chart in _charts_of(cat):
                have = charts.get(chart["title"])
                if have is None:
                    charts[chart["title"]] = {**chart, "tags": list(chart["tags"])}
                elif have["kind"] == chart["kind"] == "multiline":
                    have["tags"] += [t for t in chart["tags"] if t not in have["tags"]]
    return [{"title": t, "charts": list(c.values())} for t, c in merged.items() if c]


def match_tags(regexes: list[str], labels) -> tuple[list[str], dict[str, str]]:
    """``(labels some regex matches, in the order given; {regex: why it cannot be used})``."""
    compiled, errors = [], {}
    for rx in regexes:
        try:
            compiled.append(compile_pattern(rx, "custom scalars"))
        except PatternError as exc:
            errors[rx] = str(exc)
    matched = [lb for lb in labels if any(c is not None and c.search(lb) for c in compiled)]
    return matched, errors


# --- reads -----------------------------------------------------------------------------------


def collect(data, info, selected, problems: dict) -> tuple[list[dict], dict, dict]:
    """``(merged layout, {run: {tag label: TagInfo}}, colours)`` of the selected runs that
    have a layout; a run that fails to read is named in ``problems``."""
    colors = {r["name"]: r["color"] for r in untrusted.runs_info(info)}
    layouts, tags = [], {}
    for name in dict.fromkeys(untrusted.names(selected)):
        if name not in colors:
            continue
        try:
            layout = data.custom_scalars(name)
            tags[name] = {t.label: t for t in data.tags(name, "scalar").values()}
        except RUN_ERRORS as exc:
            problems[name] = untrusted.problem(name, exc, data)
            continue
        if layout:
            layouts.append(layout)
    return merge_layouts(layouts), tags, colors


def _wall0(data, run: str, info) -> float:
    s = data.scalars(run, info.tag, info.first_step, info.first_step)
    return float(s.wall[0]) if s.wall.size else 0.0


def read_line(data, run: str, info, buckets: int, xmode: str, start=None, end=None) -> dict:
    """One tag's bucket means over ``start..end`` (its own steps when None), with x values."""
    b = data.scalars_downsampled(run, info.tag, buckets, start, end)
    wall0 = _wall0(data, run, info) if xmode == "relative" and b.step.size else 0.0
    return {"b": b, "x": to_x(xmode, b.step, b.wall, wall0)}


# --- figures ---------------------------------------------------------------------------------


def _nonfinite(fig: Fig, label: str, color: str, x, b) -> None:
    bad, kinds = nonfinite_kinds(b.nan, b.posinf, b.neginf)
    if not bad.any():
        return
    fig.add_trace(
        scatter(
            x=x[bad], y=np.array([NONFINITE_MARKER_Y[k] for k in kinds.tolist()]), yaxis="y2",
            mode="markers", showlegend=False, name=f"{label} non-finite",
            marker=dict(color=color, size=9, line=dict(width=1, color="#222"),
                        symbol=np.array([NONFINITE_SYMBOLS[k] for k in kinds.tolist()])),
            customdata=np.column_stack([b.step[bad], kinds]),
            hovertemplate=f"<b>{label}</b><br>step %{{customdata[0]}}<br>"
            "value %{customdata[1]}<extra></extra>",
        )
    )  # fmt: skip


def _line_traces(fig: Fig, run, tag, k, color, pts, weight, raw_too, buckets) -> None:
    b, x = pts["b"], pts["x"]
    label = escape(f"{run} · {tag}")
    ok = np.isfinite(b.mean)
    mean = np.where(ok, b.mean, np.nan)
    spans = bool(np.any(b.last_step > b.step))
    steps = "steps %{customdata[0]}–%{customdata[2]}" if spans else "step %{customdata[0]}"
    what = "mean" if spans else "value"
    head = f"<b>{escape(run)}</b><br>{escape(tag)}<br>{steps}<br>{what} %{{customdata[1]:.6g}}"
    cd = np.column_stack([b.step, mean, b.last_step])
    style = dict(dash=DASHES[k % len(DASHES)], color=color)
    few = draws_markers(x.size, buckets, per_bucket=1)
    marker = dict(size=5 if few else 6, symbol=SYMBOLS[(k // len(DASHES)) % len(SYMBOLS)])
    bold = dict(width=2)
    if weight > 0:
        kpts = max(1.0, float(np.mean(b.count))) if b.count.size else 1.0
        smooth = ema(mean, weight**kpts)
        if raw_too:
            fig.add_trace(scatter(
                x=x, y=mean, mode="lines", line=dict(style, width=1), opacity=0.25,
                name=label, legendgroup=label, showlegend=False, hoverinfo="skip",
            ))  # fmt: skip
        y, hover = smooth, head + "<br>smoothed %{y:.6g}<extra></extra>"
    else:
        y, hover = mean, head + "<extra></extra>"
    markers = few or k >= len(DASHES)
    fig.add_trace(scatter(
        x=x, y=y, mode="lines+markers" if markers else "lines", marker=marker,
        line=dict(style, **bold), name=label, legendgroup=label, customdata=cd,
        hovertemplate=hover, meta=[run, tag],
    ))  # fmt: skip
    _nonfinite(fig, label, color, x, b)


def _finish(fig: Fig, title: str, xmode: str, logs, has_data: bool, problems: dict, empty: str):
    logs = untrusted.names(logs)
    xtype = "log" if "logx" in logs else ("date" if xmode == "wall" else None)
    title_x = dict(text=X_TITLES[xmode])
    fig.update_layout(
        title=chart_title(title),
        height=CHART_HEIGHT,
        xaxis=axis_style(xtype, decades_of(fig.data, "x"), title=title_x),  # (chart_axes)
        yaxis=axis_style("log" if "logy" in logs else "linear", decades_of(fig.data)),
        yaxis2=dict(overlaying="y", range=[-0.02, 1.04], visible=False, fixedrange=True),
        **legend_layout([t["name"] for t in fig.data if t.get("showlegend", True)]),
        hovermode="closest",
        uirevision=f"custom|{title}|{xmode}|{'/'.join(sorted(logs))}",
        font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"),
    )
    legend = fig.layout.get("legend")
    if legend:  # plotly.js draws a row 29 px high (legend_layout counts 25), and the chart
        # grows by its rows after the first, so a long legend does not squeeze the plot
        rows = round((legend["maxheight"] - 10) / LEGEND_ROW_PX)
        row = LEGEND_ROW_PX + LEGEND_ROW_EXTRA
        margin = {**fig.layout["margin"], "b": fig.layout["margin"]["b"] + LEGEND_ROW_EXTRA * rows}
        height = CHART_HEIGHT + row * (rows - 1)
        legend["maxheight"] += LEGEND_ROW_EXTRA * rows
        legend["y"] = -X_AXIS_PX / (height - margin["t"] - margin["b"])
        fig.update_layout(height=height, margin=margin)
    if not has_data:
        fig.add_annotation(text=escape(empty), showarrow=False, xref="paper", yref="paper")
    problems_note(fig, problems)


def multiline_figure(data, chart, tags_by_run, colors, weight, xmode, logs) -> Fig:
    """Every (run, tag) the chart's regexes match, in the run's colour, a dash per tag."""
    fig, problems = Fig(), {}
    labels = sorted({lb for tags in tags_by_run.values() for lb in tags})
    matched, errors = match_tags(chart["tags"], labels)
    problems.update(errors)
    lines = [(run, lb) for run, tags in tags_by_run.items() for lb in matched if lb in tags]
    buckets, raw_too = line_buckets(len(lines), weight > 0), draws_raw(len(lines), weight > 0)
    for run, lb in lines:
        if run in problems:
            continue
        try:
            pts = read_line(data, run, tags_by_run[run][lb], buckets, xmode)
        except RUN_ERRORS as exc:
            problems[run] = untrusted.problem(run, exc, data)
            continue
        k = matched.index(lb)
        _line_traces(fig, run, lb, k, colors[run], pts, weight, raw_too, buckets)
    empty = "no scalar tag of the selected runs matches " + ", ".join(chart["tags"])
    _finish(fig, chart["title"], xmode, logs, bool(fig.data), problems, empty)
    return fig


def margin_rows(data, run: str, infos: list, buckets: int, xmode: str) -> dict:
    """The value, lower and upper tags' bucket means over their common steps, buckets aligned
    by step (``series.align_rank_buckets``), where all three are finite: ``{"x", "step",
    "last", "value", "lower", "upper"}``; with at most ``buckets`` points, the logged values."""
    start = min(i.first_step for i in infos)
    end = max(i.last_step for i in infos)
    per = -(-(end - start + 1) // buckets)
    aligned = [
        align_rank_buckets([data.scalars_downsampled(run, i.tag, buckets, start, end)],
                           start, end, buckets)
        for i in infos
    ]  # fmt: skip
    idx = [(a.step - start) // per for a in aligned]
    common = reduce(np.intersect1d, idx)
    picks = [np.searchsorted(ix, common) for ix in idx]
    value, lower, upper = (a.mean[p] for a, p in zip(aligned, picks, strict=True))
    ok = np.isfinite(value) & np.isfinite(lower) & np.isfinite(upper)
    first = aligned[0]
    step, wall = first.step[picks[0]][ok], first.wall[picks[0]][ok]
    last = np.max([a.last_step[p][ok] for a, p in zip(aligned, picks, strict=True)], axis=0)
    wall0 = _wall0(data, run, infos[0]) if xmode == "relative" and step.size else 0.0
    return {
        "x": to_x(xmode, step, wall, wall0), "step": step, "last": last,
        "value": value[ok], "lower": lower[ok], "upper": upper[ok],
    }  # fmt: skip


def margin_figure(data, chart, tags_by_run, colors, xmode, logs) -> Fig:
    """Per run the value tag's line inside the band from its lower to its upper tag."""
    fig, problems = Fig(), {}
    names = chart["tags"]
    runs = {run: tags for run, tags in tags_by_run.items() if any(n in tags for n in names)}
    buckets = line_buckets(len(runs), False)
    for run, tags in runs.items():
        lacking = [n for n in names if n not in tags or tags[n].first_step is None]
        if lacking:
            problems[run] = f"run {run!r} has no scalar tag {', '.join(map(repr, lacking))}"
            continue
        try:
            r = margin_rows(data, run, [tags[n] for n in names], buckets, xmode)
        except RUN_ERRORS as exc:
            problems[run] = untrusted.problem(run, exc, data)
            continue
        color, label = colors[run], escape(f"{run} · {names[0]}")
        fig.add_trace(scatter(
            x=np.r_[r["x"], r["x"][::-1]], y=np.r_[r["upper"], r["lower"][::-1]],
            fill="toself", fillcolor=rgba(color, 0.22), line=dict(width=0), hoverinfo="skip",
            name=escape(f"{run} · {names[1]} – {names[2]}"), showlegend=False,
            legendgroup=label,
        ))  # fmt: skip
        spans = bool(np.any(r["last"] > r["step"]))
        steps = "steps %{customdata[0]}–%{customdata[3]}" if spans else "step %{customdata[0]}"
        fig.add_trace(scatter(
            x=r["x"], y=r["value"], mode="lines+markers" if r["x"].size < 40 else "lines",
            marker=dict(size=5), line=dict(color=color, width=2), name=label, legendgroup=label,
            customdata=np.column_stack([r["step"], r["lower"], r["upper"], r["last"]]),
            hovertemplate=f"<b>{escape(run)}</b><br>{steps}<br>{escape(names[0])} %{{y:.6g}}"
            f"<br>{escape(names[1])} %{{customdata[1]:.6g}}"
            f"<br>{escape(names[2])} %{{customdata[2]:.6g}}<extra></extra>",
            meta=[run, names[0]],
        ))  # fmt: skip
    empty = "no selected run has the tags " + ", ".join(names)
    _finish(fig, chart["title"], xmode, logs, bool(fig.data), problems, empty)
    return fig


# --- the section -----------------------------------------------------------------------------


def chart_figure(data, chart, tags_by_run, colors, weight, xmode, logs) -> Fig:
    if chart["kind"] == "margin":
        return margin_figure(data, chart, tags_by_run, colors, xmode, logs)
    return multiline_figure(data, chart, tags_by_run, colors, weight, xmode, logs)


def used_tags(layout: list[dict], tags_by_run: dict) -> list:
    """``[run, tag, count, last step]`` of every tag the layout's charts draw (what, with the
    layout, decides whether the section must be redrawn)."""
    out = []
    for run, tags in tags_by_run.items():
        wanted: set[str] = set()
        for cat in layout:
            for chart in cat["charts"]:
                if chart["kind"] == "margin":
                    wanted.update(t for t in chart["tags"] if t in tags)
                else:
                    wanted.update(match_tags(chart["tags"], list(tags))[0])
        out += [[run, t, tags[t].count, tags[t].last_step] for t in sorted(wanted)]
    return out


def controls(weight, xmode, logs) -> tuple[float, str, list[str]]:
    """The Scalars toolbar's values as the charts take them (they come from the browser)."""
    weight = untrusted.number(weight, 0.0)
    weight = weight if 0 <= weight < 1 else 0.0
    return weight, untrusted.choice(xmode, tuple(X_TITLES), "step"), untrusted.names(logs)


def section_body(data, layout, tags_by_run, colors, weight, xmode, logs, problems) -> list:
    """Per category its heading and grid of chart cards; runs that failed to read first."""
    out = []
    if problems:
        notes = [html.Div(f"⚠ {t}", className="fl-run-problem") for t in problems.values()]
        out.append(html.Div(notes, className="fl-message"))
    runs = {run: tags for run, tags in tags_by_run.items() if run in colors}
    for cat in layout:
        cards = []
        for chart in cat["charts"]:
            fig = chart_figure(data, chart, runs, colors, weight, xmode, logs)
            name = f"{cat['title']} {chart['title']}"
            cards.append(
                html.Div(
                    dcc.Graph(figure=fig, config=image_config(name), className="fl-chart"),
                    className="fl-card fl-custom-card",
                    **{"data-fl-chart": chart["title"], "data-fl-kind": chart["kind"]},
                )
            )
        n = len(cards)  # categories share rows: one of n charts is as wide as n cards
        out.append(
            html.Div(
                className="fl-custom-category",
                style={"flexGrow": n, "flexBasis": f"{n * 472 - 12}px"},
                children=[
                    html.H3(cat["title"], className="fl-custom-heading"),
                    html.Div(cards, className="fl-chart-grid"),
                ],
            )
        )
    return out


def register(app, data, smoothing: str, xaxis: str, logscale: str) -> None:
    """The section's callback; ``smoothing``, ``xaxis``, ``logscale``: the ids of the Scalars
    toolbar's controls it follows."""

    @app.callback(
        Output(BODY, "children"),
        Output(SECTION, "style"),
        Output(COUNT, "children"),
        Output(VERSION, "data"),
        Input(RUNS_INFO, "data"),
        Input(SELECTED_RUNS, "data"),
        Input(smoothing, "value"),
        Input(xaxis, "value"),
        Input(logscale, "value"),
        Input(TABS, "value"),
        State(VERSION, "data"),
    )
    def custom(info, selected, weight, xmode, logs, tab, old):
        if tab is not None and tab != "scalars":
            return (dash.no_update,) * 4  # hidden: drawn when the tab is opened
        problems: dict[str, str] = {}
        layout, tags_by_run, colors = collect(data, info, selected, problems)
        if not layout:
            return [], HIDDEN, "", None
        weight, xmode, logs = controls(weight, xmode, logs)
        key = [layout, used_tags(layout, tags_by_run), weight, xmode, logs, sorted(problems)]
        if key == old:
            return (dash.no_update,) * 4  # nothing new logged: keep each chart's zoom
        n = sum(len(c["charts"]) for c in layout)
        body = section_body(data, layout, tags_by_run, colors, weight, xmode, logs, problems)
        return body, {}, f"{n} chart{'s' if n != 1 else ''}", key
