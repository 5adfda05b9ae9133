"""Grouped Scalars charts: the mean ± std of each group of runs (no Dash here).

Groups come from a name regex (its first capture group) or an hparam's value. By hparam, runs
of different experiments (their run directory: ``mlp/lr=0.1`` and ``cnn/lr=0.1``) are not
averaged together: each experiment gets its own group. A group's curve spans every step any
member logged (not only the steps all share: the shortest member no longer cuts the others),
and its hover says how many members have a value there. Members' NaN/±Inf points and first
check_numerics finding are drawn as on ungrouped charts, in the group's colour, which is the
colour of its first member run (the runs panel's), so a group keeps its colour on every chart.
A regex that matches no run name says so on the chart instead of drawing each run alone.
"""

from __future__ import annotations

from html import escape

import numpy as np

from flowlog.dashboard import untrusted
from flowlog.dashboard.colors import rgba, shade
from flowlog.dashboard.figure_json import scatter
from flowlog.dashboard.patterns import compile_pattern, first_group
from flowlog.dashboard.scalars_markers import nonfinite_trace, numerics_marker
from flowlog.dashboard.series import group_stats
from flowlog.dashboard.smoothing import ema
from flowlog.dashboard.untrusted import RUN_ERRORS

NO_MATCH = "the group regex {!r} matches no run name: each run is its own group"


def experiment_of(name: str) -> str:
    """A run's experiment: its directory inside the logdir (``""`` for a top-level run)."""
    return name.rsplit("/", 1)[0] if "/" in name else ""


def group_runs(names: list[str], mode: str, key: str | None, hparams: dict[str, dict]):
    """``{group label: [run names]}`` by a name regex (first capture group) or an hparam value
    (per experiment, when the runs come from several)."""
    groups: dict[str, list[str]] = {}
    rx = compile_pattern(key, "group") if mode == "regex" else None
    several = len({experiment_of(n) for n in names}) > 1
    for name in names:
        if mode == "regex" and rx is not None:
            m = rx.search(name)
            label = first_group(m) if m else name
        elif mode == "hparam" and key and isinstance(key, str):
            value = hparams.get(name, {}).get(key, "(unset)")
            label = f"{key}={value}"
            if several and experiment_of(name):
                label = f"{experiment_of(name)} · {label}"
        else:
            label = name
        groups.setdefault(label, []).append(name)
    return groups


def regex_matches_none(names, mode, key) -> bool:
    """Whether a group-by regex matches none of the runs (each would be a group of one)."""
    if mode != "regex" or not names:
        return False
    rx = compile_pattern(key, "group")
    return rx is not None and not any(rx.search(n) for n in names)


def draw_groups(reads, fig, chart, names, weight, mode, key, problems, colors, points_for):
    """Every group's band and mean (and its members' markers) into ``fig``; returns whether
    any selected run has the chart. ``points_for(lines)`` is the payload budget."""
    tags, hp, loaded_by = {}, {}, {}
    for n in names:
        try:
            tags[n] = reads.chart_tags(n, chart)
            hp[n] = reads.hparams(n) if mode == "hparam" and tags[n] else {}
            loaded_by[n] = {t.tag: reads.series(n, t.tag) for t in tags[n]}
        except RUN_ERRORS as exc:
            problems[n] = untrusted.problem(n, exc, reads.data)
            tags[n] = []
    present = [n for n in names if tags[n]]
    groups = group_runs(present, mode, key, hp)
    if regex_matches_none(present, mode, key):
        fig.add_annotation(
            text=escape(NO_MATCH.format(key)), showarrow=False, xref="paper", yref="paper",
            x=0.01, y=1.0, xanchor="left", yanchor="bottom", font=dict(size=11, color="#8a5a00"),
            bgcolor="#fff4e0",
        )  # fmt: skip
    keys: list[str | None] = []
    for n in present:
        keys += [t.series for t in tags[n] if t.series not in keys]
    points = points_for(len(groups) * max(len(keys), 1))
    for label, members in sorted(groups.items()):
        base = colors.get(members[0], "#1f77b4")
        for k, series in enumerate(keys):
            loaded = [
                (m, got)
                for m in members
                for t in tags[m]
                if t.series == series and (got := loaded_by[m][t.tag]) is not None
            ]
            if loaded:
                color = base if k == 0 else shade(base, -0.3 if k % 2 else 0.35)
                title = label if series is None else f"{label} · {series}"
                _group_traces(fig, title, [g for _, g in loaded], weight, color, points)
                _member_markers(reads, fig, title, loaded, color)
    return bool(present)


def _group_traces(fig, title, loaded, weight, color, points):
    xs = [got[0] for got in loaded]
    ys = [ema(got[2], weight) if weight > 0 else got[2] for got in loaded]
    grid, mean, std, n = group_stats(xs, ys, points=points)
    have = np.zeros(grid.size, dtype=np.int64)
    for x, y in zip(xs, ys, strict=True):
        fx = np.asarray(x, np.float64)[np.isfinite(np.asarray(y, np.float64))]
        if fx.size:
            have += (grid >= fx[0]) & (grid <= fx[-1])
    name = escape(f"{title} (n={n})")
    fig.add_trace(
        scatter(
            x=np.r_[grid, grid[::-1]],
            y=np.r_[mean + std, (mean - std)[::-1]],
            fill="toself",
            fillcolor=rgba(color, 0.18),
            line=dict(width=0),
            hoverinfo="skip",
            showlegend=False,
            legendgroup=name,
        )
    )
    fig.add_trace(
        scatter(
            x=grid,
            y=mean,
            mode="lines",
            name=name,
            legendgroup=name,
            line=dict(color=color, width=2),
            customdata=np.column_stack([std, have]),
            hovertemplate=f"<b>{name}</b><br>step %{{x:.0f}}<br>mean %{{y:.6g}}"
            "<br>± std %{customdata[0]:.3g}<br>runs with a value: %{customdata[1]}"
            "<extra></extra>",
            meta=[name, None, "row", "group"],
        )
    )


def _member_markers(reads, fig, title, loaded, color):
    """The members' NaN/±Inf points (one trace for the group) and each member's first
    check_numerics finding, in the group's colour."""
    xs, kinds = [], []
    for _run, (step, _wall, value) in loaded:
        v = np.asarray(value, np.float64)
        bad = ~np.isfinite(v)
        if bad.any():
            xs.append(np.asarray(step)[bad])
            kinds.append(np.where(np.isnan(v[bad]), "NaN", np.where(v[bad] > 0, "+Inf", "-Inf")))
    if xs:
        x = np.concatenate(xs).astype(np.float64)
        order = np.argsort(x, kind="stable")
        line = _GroupLine(title)
        every = np.concatenate([np.asarray(g[0], np.float64) for _, g in loaded])
        nonfinite_trace(fig, line, f"<b>{escape(title)}</b>", color, x[order],
                        x[order].astype(np.int64), np.concatenate(kinds)[order], every)  # fmt: skip
    for run, (step, _wall, _value) in loaded:
        st = np.asarray(step)
        if st.size:
            pts = {"x": st.astype(np.float64), "st": st, "first_step": int(st[0]),
                   "last_step": int(st[-1])}  # fmt: skip
            numerics_marker(fig, run, color, pts, reads.numerics(run))


class _GroupLine:
    """What the marker helpers read of a line, for a group."""

    ranks = ()
    rank = None

    def __init__(self, title):
        self.name = title
        self.run = title
        self.tag = None
