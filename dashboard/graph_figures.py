"""Plotly figures of the Graph view, built from plain numpy arrays (no reader, no Dash)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from flowlog.dashboard.graph_data import EXPLODING, VANISHING

FONT = dict(family="Inter, system-ui, -apple-system, Segoe UI, sans-serif", size=12)
MAX_COLUMNS = 400  # gradient-flow columns drawn; longer runs are bucketed (worst cell wins)
HIST_BINS = 48


def _base_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, font=dict(size=13), x=0.01, xanchor="left"),
        font=FONT,
        height=height,
        margin=dict(l=52, r=12, t=34, b=34),
        plot_bgcolor="#fff",
        paper_bgcolor="#fff",
        legend=dict(
            orientation="h",
            y=1.0,
            x=1,
            xanchor="right",
            yanchor="bottom",
            font=dict(size=10),
            bgcolor="rgba(255,255,255,0)",
        ),
        hovermode="x unified",
    )
    fig.update_xaxes(gridcolor="#eef0f3", zeroline=False, title_text="step")
    fig.update_yaxes(gridcolor="#eef0f3", zeroline=False)
    return fig


def _panel_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    """A chart of the ~340 px side panel: its legend goes below the plot, where it cannot run
    through the title, and the x axis keeps its ticks but not the obvious "step" title."""
    _base_layout(fig, title, height + 22)
    fig.update_layout(
        margin=dict(l=56, r=12, t=30, b=50),
        legend=dict(orientation="h", x=0, xanchor="left", y=-0.16, yanchor="top"),
    )
    fig.update_xaxes(title_text=None, ticklabelstandoff=4)
    return fig


def log_ticks(values) -> dict:
    """y-axis settings for a log axis: at most ~4 labels (a decade step of 1, 2, 3… so six
    decades never cram ~110 px) all written the same way ("1e-4", never "100µ" beside
    "0.001")."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    span = float(np.log10(v.max()) - np.log10(v.min())) if v.size else 1.0
    return dict(
        type="log", dtick=max(1, int(np.ceil(span / 3))), tickformat=".0e", ticklabelstandoff=4
    )


def empty_figure(message: str, height: int = 160) -> go.Figure:
    """A blank figure carrying ``message`` (empty states say what to do)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=FONT
    )
    fig.update_layout(
        height=height, margin=dict(l=8, r=8, t=8, b=8), plot_bgcolor="#fff", paper_bgcolor="#fff"
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _finite_positive(values: np.ndarray) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size) and bool(np.all(v > 0))


def _add_nonfinite_markers(fig, steps, values, name):
    """Non-finite points cannot be drawn on the line; mark their steps (at the height of the
    largest finite value, where they are seen) instead of dropping them."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    finite = values[~bad]
    level = float(finite.max()) if finite.size else 1.0
    fig.add_trace(
        go.Scatter(
            x=steps[bad],
            y=[level] * int(bad.sum()),
            mode="markers",
            marker=dict(symbol="x", color="#d62728", size=9),
            name=f"{name} non-finite",
            showlegend=False,
            text=[("NaN" if np.isnan(v) else str(v)) for v in values[bad]],
            hovertemplate="step %{x}: %{text}<extra>" + name + "</extra>",
        )
    )
    for s in steps[bad][:1]:
        fig.add_vline(x=float(s), line=dict(color="#d62728", dash="dot", width=1))


def norms_figure(series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Value and gradient norm over steps (log y when all finite values are positive)."""
    fig = go.Figure()
    colors = {"value_norm": "#1f77b4", "grad_norm": "#ff7f0e"}
    drawn = []
    for stat in ("value_norm", "grad_norm"):
        if stat not in series:
            continue
        steps, values = series[stat]
        values = np.asarray(values, dtype=float)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=np.where(np.isfinite(values), values, np.nan),
                mode="lines",
                name=stat,
                line=dict(color=colors[stat], width=1.6),
            )
        )
        _add_nonfinite_markers(fig, steps, values, stat)
        drawn.append(values)
    if not drawn:
        return empty_figure("no value/gradient norms logged for this node")
    _panel_layout(fig, "norms", 210)
    if all(_finite_positive(v) for v in drawn):
        fig.update_yaxes(**log_ticks(np.concatenate(drawn)))
    return fig


def moments_figure(series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Mean with a ±std band, for the value and the gradient."""
    fig = go.Figure()
    colors = {
        "value": ("#1f77b4", "rgba(31,119,180,0.15)"),
        "grad": ("#ff7f0e", "rgba(255,127,14,0.15)"),
    }
    any_drawn = False
    for prefix in ("value", "grad"):
        mean_key, std_key = f"{prefix}_mean", f"{prefix}_std"
        if mean_key not in series:
            continue
        steps, mean = series[mean_key]
        mean = np.asarray(mean, dtype=float)
        line, band = colors[prefix]
        if std_key in series:
            std = np.asarray(series[std_key][1], dtype=float)
            if std.shape == mean.shape:
                upper, lower = mean + std, mean - std
                fig.add_trace(
                    go.Scatter(
                        x=steps,
                        y=upper,
                        mode="lines",
                        line=dict(width=0),
                        showlegend=False,
                        hoverinfo="skip",
                    )
                )
                fig.add_trace(
                    go.Scatter(
                        x=steps,
                        y=lower,
                        mode="lines",
                        line=dict(width=0),
                        fill="tonexty",
                        fillcolor=band,
                        name=f"{prefix} ±std",
                        hoverinfo="skip",
                    )
                )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=mean,
                mode="lines",
                name=f"{prefix} mean",
                line=dict(color=line, width=1.6),
            )
        )
        _add_nonfinite_markers(fig, steps, mean, f"{prefix} mean")
        any_drawn = True
    if not any_drawn:
        return empty_figure("no mean/std logged for this node")
    return _panel_layout(fig, "mean ± std", 210)


def ratio_figure(series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """The update/weight ratio (‖Δw‖/‖w‖); ~1e-3 is the usual healthy range."""
    if "update_ratio" not in series:
        return empty_figure("no update ratio logged for this node")
    steps, values = series["update_ratio"]
    values = np.asarray(values, dtype=float)
    fig = go.Figure(
        go.Scatter(
            x=steps,
            y=np.where(np.isfinite(values), values, np.nan),
            mode="lines",
            name="update_ratio",
            line=dict(color="#2ca02c", width=1.6),
        )
    )
    _add_nonfinite_markers(fig, steps, values, "update_ratio")
    _panel_layout(fig, "update / weight ratio", 190)
    if _finite_positive(values):
        fig.update_yaxes(**log_ticks(values))
    fig.add_hrect(y0=1e-4, y1=1e-2, fillcolor="#2ca02c", opacity=0.06, line_width=0)
    return fig


def histogram_heatmap(
    steps: Sequence[int],
    edges: Sequence[np.ndarray],
    counts: Sequence[np.ndarray],
    title: str,
    bins: int = HIST_BINS,
    nonfinite: Sequence[int] | None = None,
) -> go.Figure:
    """Step × value heatmap of per-step histograms whose bucket edges may differ per step.

    Each step's counts are re-binned onto one common grid (by bucket centre) so columns compare.
    A step whose values were all non-finite has no buckets (an empty column); ``nonfinite``
    (per-step NaN/Inf counts) puts a marker above every step that had any.
    """
    if len(steps) == 0:
        return empty_figure(f"no {title} histograms logged for this node")
    if not (len(steps) == len(edges) == len(counts)):
        raise ValueError("histogram_heatmap: steps, edges and counts must have the same length")
    lo, hi = np.inf, -np.inf
    for e in edges:
        e = np.asarray(e, dtype=float)
        e = e[np.isfinite(e)]
        if e.size:
            lo, hi = min(lo, e.min()), max(hi, e.max())
    if not np.isfinite(lo) or not np.isfinite(hi):
        return empty_figure(f"{title} histograms hold no finite values (all NaN/Inf)")
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    grid = np.linspace(lo, hi, bins + 1)
    z = np.zeros((bins, len(steps)))
    for j, (e, c) in enumerate(zip(edges, counts, strict=True)):
        e = np.asarray(e, dtype=float)
        c = np.asarray(c, dtype=float)
        if e.size == 0 and c.size == 0:
            z[:, j] = np.nan  # nothing finite at this step
            continue
        if e.size != c.size + 1:
            raise ValueError(
                f"histogram at step {steps[j]}: {e.size} edges for {c.size} counts (need counts+1)"
            )
        centres = (e[:-1] + e[1:]) / 2
        ok = np.isfinite(centres)
        idx = np.clip(np.searchsorted(grid, centres[ok], side="right") - 1, 0, bins - 1)
        np.add.at(z[:, j], idx, c[ok])
        total = z[:, j].sum()
        if total > 0:
            z[:, j] /= total
    fig = go.Figure(
        go.Heatmap(
            x=list(steps),
            y=(grid[:-1] + grid[1:]) / 2,
            z=z,
            colorscale="Blues",
            showscale=False,
            hovertemplate="step %{x}<br>value %{y:.3g}<br>share %{z:.1%}<extra></extra>",
        )
    )
    if nonfinite is not None:
        bad = [st for st, k in zip(steps, nonfinite, strict=True) if k]
        if bad:
            fig.add_trace(
                go.Scatter(
                    x=bad,
                    y=[grid[-1]] * len(bad),
                    mode="markers",
                    marker=dict(symbol="x", color="#d62728", size=8),
                    name="NaN/Inf present",
                    hovertemplate="step %{x}: NaN/Inf values<extra></extra>",
                )
            )
    _base_layout(fig, f"{title} histogram over steps", 200)
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_yaxes(title_text=title)
    return fig


def _bucket_columns(steps: np.ndarray, max_columns: int) -> list[np.ndarray]:
    """Split step indices into ≤ max_columns contiguous groups."""
    n = steps.size
    if n <= max_columns:
        return [np.array([i]) for i in range(n)]
    return [g for g in np.array_split(np.arange(n), max_columns) if g.size]


FLAG_STYLES = {
    "vanishing": dict(symbol="circle-open", color="#17becf", size=7),
    "exploding": dict(symbol="triangle-up", color="#ff7f0e", size=8),
    "non-finite": dict(symbol="x", color="#d62728", size=9),
}


def _flow_cells(rows, series, all_steps: np.ndarray, groups: list[np.ndarray]):
    """``(z, raw, has, flags)`` of the gradient-flow grid: log10 of each cell's most extreme
    norm, that norm, whether the cell has data, and ``(row, col, label)`` call-outs."""
    z = np.full((len(rows), len(groups)), np.nan)
    raw = np.full((len(rows), len(groups)), np.nan)
    has = np.zeros((len(rows), len(groups)), dtype=bool)
    flags = []
    col_of = np.empty(all_steps.size, dtype=int)
    for c, g in enumerate(groups):
        col_of[g] = c
    for r, var in enumerate(rows):
        steps, values = (np.asarray(a) for a in series[var])
        values = values.astype(float)
        cols = col_of[np.searchsorted(all_steps, steps)]
        for c in np.unique(cols):
            vals = values[cols == c]
            has[r, c] = True
            bad = vals[~np.isfinite(vals)]
            if bad.size:
                raw[r, c] = bad[0]
                flags.append((r, c, "non-finite"))
                continue
            # the most extreme value of the bucket, measured in decades from 1
            logs = np.log10(np.maximum(vals, 1e-300))
            k = int(np.argmax(np.abs(logs)))
            raw[r, c] = vals[k]
            z[r, c] = logs[k]
            if vals[k] > EXPLODING:
                flags.append((r, c, "exploding"))
            elif vals[k] < VANISHING:
                flags.append((r, c, "vanishing"))
    return z, raw, has, flags


def _add_flags(fig: go.Figure, flags, rows, col_steps) -> None:
    """One marker trace per call-out label, named with its count (see :func:`flagged_cells`)."""
    for label, style in FLAG_STYLES.items():
        pts = [(r, c) for r, c, lab in flags if lab == label]
        if not pts:
            continue
        fig.add_trace(
            go.Scatter(
                x=[col_steps[c] for _, c in pts],
                y=[rows[r] for r, _ in pts],
                mode="markers",
                marker=dict(line=dict(width=1.5, color=style["color"]), **style),
                name=f"{label} ({len(pts)})",
                showlegend=True,
                hovertemplate="%{y}<br>step %{x}: " + label + "<extra></extra>",
            )
        )


def gradient_flow_figure(
    variables: Sequence[str],
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    max_columns: int = MAX_COLUMNS,
) -> go.Figure:
    """Trainable variables (rows, graph order) × steps of log10 gradient norm.

    Vanishing (< 1e-7) and exploding (> 1e3 or non-finite) cells get markers on top, so they are
    visible even when the colour scale is dominated by healthy values. When there are more steps
    than ``max_columns``, each column covers a range of steps and shows its most extreme cell.
    """
    rows = [v for v in variables if v in series]
    if not rows:
        return empty_figure(
            "no gradient norms logged: call writer.watch(sess, every=N) while training", 200
        )
    all_steps = np.unique(np.concatenate([np.asarray(series[v][0]) for v in rows]))
    groups = _bucket_columns(all_steps, max_columns)
    col_steps = [int(all_steps[g[-1]]) for g in groups]
    z, raw, has, flags = _flow_cells(rows, series, all_steps, groups)
    text = [
        [(f"{raw[r, c]:.3g}" if has[r, c] else "no data") for c in range(len(groups))]
        for r in range(len(rows))
    ]
    finite = z[np.isfinite(z)]
    zmin = float(finite.min()) if finite.size else -8.0
    zmax = float(finite.max()) if finite.size else 4.0
    if zmax - zmin < 1:
        zmin, zmax = zmin - 0.5, zmax + 0.5
    fig = go.Figure(
        go.Heatmap(
            x=col_steps,
            y=rows,
            z=z,
            text=text,
            zmin=zmin,
            zmax=zmax,
            colorscale="Viridis",
            colorbar=dict(title=dict(text="log10 ‖grad‖", side="right"), thickness=12, len=0.9),
            hovertemplate="%{y}<br>step %{x}<br>‖grad‖ %{text}<extra></extra>",
            xgap=0,
            ygap=1,
        )
    )
    _add_flags(fig, flags, rows, col_steps)
    height = max(180, 60 + 26 * len(rows))
    _base_layout(fig, "gradient flow: ‖grad‖ per trainable variable", height)
    fig.update_layout(
        hovermode="closest",
        legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
    )
    fig.update_yaxes(autorange="reversed", gridcolor="rgba(0,0,0,0)", type="category")
    fig.update_xaxes(gridcolor="rgba(0,0,0,0)")
    return fig


def flagged_cells(fig: go.Figure) -> dict[str, int]:
    """Count of called-out cells per label in a gradient-flow figure (used by tests and the UI)."""
    out = {}
    for tr in fig.data:
        if tr.type == "scatter" and tr.name and "(" in tr.name:
            label = tr.name.split(" (", 1)[0]
            out[label] = len(tr.x)
    return out
