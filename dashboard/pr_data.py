"""PR curves: what the PR Curves view reads and draws, as plain functions (no Dash here).

A PR curve (``writer.add_pr_curve``) is stored as TensorBoard's table: rows TP, FP, TN, FN,
precision, recall, one column per threshold; column ``i`` of ``n`` counts the predictions
``>= i / (n - 1)`` as positive. A chart shows one tag at one step: per selected run the curve
logged at that step, or the run's latest before it (the legend and hover say which step is
drawn). As TensorBoard does, the thresholds at the top end where nothing is predicted
positive (TP + FP = 0: precision undefined) are left out of the line.
"""

from __future__ import annotations

from html import escape

import numpy as np

from flowlog.dashboard import media_tags, untrusted
from flowlog.dashboard.chart_axes import STANDOFF_PX
from flowlog.dashboard.figure_json import Fig, scatter
from flowlog.dashboard.scalars_charts import legend_rows
from flowlog.dashboard.scalars_checks import problems_note
from flowlog.dashboard.untrusted import RUN_ERRORS

TP, FP, TN, FN, PRECISION, RECALL = range(6)  # the table's rows (TensorBoard's order)
HEIGHT = 356  # the plot area about square in a card of the PR grid (assets/pr_curves.css)
MARGIN = dict(l=58, r=16, t=40, b=48)
LEGEND_INSIDE = 6  # up to this many lines the legend sits in the plot's empty lower left
LEGEND_ROW_PX = 22
LEGEND_WIDTH_PX = 300  # the plot area's width in the narrowest PR card
MAX_MARK_LABELS = 6  # step labels under a slider; every step is still a stop
AXIS = dict(
    range=[-0.02, 1.02], dtick=0.2, gridcolor="#eceef1", zeroline=False, showline=True,
    linecolor="#c9ced6", mirror=True, constrain="domain", ticklabelstandoff=STANDOFF_PX,
)  # fmt: skip
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif")


def steps_of(curves_by_run: dict) -> list[int]:
    """The sorted union of the steps of every run's curves (what the slider stops at)."""
    return sorted({c.step for curves in curves_by_run.values() for c in curves})


def slider_marks(steps: list[int]) -> dict:
    """The marks of a slider over ``steps`` by index: every step a stop, the evenly spaced
    ones of :func:`media_tags.mark_indices` labelled with their step."""
    labelled = set(media_tags.mark_indices(len(steps), MAX_MARK_LABELS))
    return {i: (str(s) if i in labelled else "") for i, s in enumerate(steps)}


def valid_steps(value) -> list[int]:
    """A slider's steps as they come back from the browser: whole numbers only, sorted."""
    if not isinstance(value, list):
        return []
    return sorted({v for v in value if isinstance(v, int) and not isinstance(v, bool)})


def step_at(steps: list[int], index) -> int | None:
    """The step a slider's ``index`` stands for (None for anything but an index of steps)."""
    if isinstance(index, float) and index.is_integer():
        index = int(index)
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(steps):
        return steps[index]
    return None


def curve_at(curves: list, step: int | float | None):
    """The curve logged at ``step``, else the latest one before it (None when the run's first
    curve comes later); ``step`` None: the latest curve."""
    if not curves:
        return None
    if step is None:
        return max(curves, key=lambda c: c.step)
    before = [c for c in curves if c.step <= step]
    return max(before, key=lambda c: c.step) if before else None


def default_step(steps: list[int], old=None, old_latest=None) -> int | None:
    """The step a (re)built chart shows, one of ``steps``: the latest, unless the user had
    picked an earlier one (``old``; a chart that showed the then latest step ``old_latest``
    follows the new latest), then the latest step at or before it."""
    if not steps:
        return None
    old = untrusted.number(old, None) if old is not None else None
    if old is None or old == old_latest or old >= steps[-1]:
        return steps[-1]
    before = [s for s in steps if s <= old]
    return before[-1] if before else steps[-1]


def thresholds(n: int) -> np.ndarray:
    """The threshold of each of a table's ``n`` columns: ``i / (n - 1)``."""
    return np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(n)


def curve_points(curve) -> dict[str, np.ndarray]:
    """The drawn points of one curve: its table's columns up to the last threshold at which
    some prediction is positive (TensorBoard trims the undefined tail), with their thresholds."""
    table = np.asarray(curve.table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < 6:
        raise ValueError(f"PR curve at step {curve.step}: expected 6 rows, got {table.shape}")
    n = table.shape[1]
    predicted = table[TP] + table[FP]
    keep = np.flatnonzero(predicted > 0)
    end = int(keep[-1]) + 1 if keep.size else min(n, 1)
    cols = slice(0, end)
    return {
        "threshold": thresholds(n)[cols],
        "precision": table[PRECISION, cols],
        "recall": table[RECALL, cols],
        "tp": table[TP, cols],
        "fp": table[FP, cols],
        "tn": table[TN, cols],
        "fn": table[FN, cols],
    }


def collect(data, info, selected, pattern, problems: dict | None = None):
    """``({tag: [run, ...]}, version)`` of the selected runs' PR-curve tags (runs in their
    selection order); the version lists every (run, tag, count, last step), so an unchanged log
    redraws nothing. A run whose tags cannot be read is named in ``problems`` (run -> why).
    Raises :class:`PatternError` (a ValueError) for a tag filter that cannot be used."""
    by_tag, version = media_tags.collect(data, info, selected, pattern, "pr_curve", problems)
    return {tag: list(runs) for tag, runs in by_tag.items()}, version


def read_curves(data, tag: str, runs: list[str], problems: dict) -> dict[str, list]:
    """``{run: [PrCurve]}`` of ``tag``; a run that fails to read is named in ``problems``."""
    out = {}
    for name in runs:
        try:
            out[name] = data.pr_curves(name, tag)
        except RUN_ERRORS as exc:
            problems[name] = untrusted.problem(name, exc, data)
    return out


def _hover(run: str, step: int) -> str:
    return (
        f"<b>{escape(run)}</b> · step {step}<br>threshold %{{customdata[0]:.3f}}"
        "<br>precision %{y:.4f}<br>recall %{x:.4f}"
        "<br>TP %{customdata[1]:.6~g}  FP %{customdata[2]:.6~g}"
        "<br>TN %{customdata[3]:.6~g}  FN %{customdata[4]:.6~g}<extra></extra>"
    )


def pr_figure(tag: str, curves_by_run: dict, colors: dict, step, problems=None) -> Fig:
    """The chart of ``tag`` at ``step``: precision over recall, one line per run (in its
    colour) from its curve at that step or the latest before it."""
    fig = Fig()
    missing = []
    for run, curves in curves_by_run.items():
        curve = curve_at(curves, step)
        if curve is None:
            if curves:
                missing.append(f"{run} (first curve at step {min(c.step for c in curves)})")
            continue
        try:
            pts = curve_points(curve)
        except ValueError as exc:  # a table of another shape (a foreign writer)
            (problems if problems is not None else {})[run] = f"run {run!r}: {exc}"
            continue
        label = run if step is None or curve.step == step else f"{run} · step {curve.step}"
        custom = np.column_stack([pts["threshold"], pts["tp"], pts["fp"], pts["tn"], pts["fn"]])
        fig.add_trace(
            scatter(
                x=pts["recall"],
                y=pts["precision"],
                mode="lines+markers" if pts["recall"].size <= 40 else "lines",
                marker=dict(size=5, color=colors.get(run, "#888888")),
                line=dict(color=colors.get(run, "#888888"), width=2),
                name=escape(label),
                customdata=custom,
                hovertemplate=_hover(run, curve.step),
                meta=[run, int(curve.step)],
            )
        )
    _layout(fig, tag, step, len(fig.data))
    if missing:
        fig.add_annotation(
            text=escape("no curve yet at this step: " + ", ".join(missing)),
            xref="paper", yref="paper", x=1, y=1, xanchor="right", yanchor="top",
            showarrow=False, align="right", font=dict(size=11, color="#6a737d"),
            bgcolor="rgba(255,255,255,0.85)",
        )  # fmt: skip
    if not fig.data and not missing:
        fig.add_annotation(
            text="no selected run has this tag", showarrow=False, xref="paper", yref="paper"
        )
    problems_note(fig, problems or {})
    return fig


def _layout(fig: Fig, tag: str, step, lines: int) -> None:
    inside = lines <= LEGEND_INSIDE
    rows = 0 if inside else min(legend_rows([t["name"] for t in fig.data], LEGEND_WIDTH_PX), 4)
    margin = {**MARGIN, "b": MARGIN["b"] + rows * LEGEND_ROW_PX, "autoexpand": False}
    legend = dict(font=dict(size=11), bgcolor="rgba(255,255,255,0.8)", bordercolor="#e3e6ea",
                  borderwidth=1)  # fmt: skip
    if inside:  # low precision at low recall: where a PR curve does not go
        legend.update(x=0.02, y=0.02, xanchor="left", yanchor="bottom")
    else:
        plot_h = HEIGHT + rows * LEGEND_ROW_PX - MARGIN["t"] - margin["b"]
        legend.update(orientation="h", x=0, y=-(MARGIN["b"] - 4) / plot_h, yanchor="top",
                      maxheight=rows * LEGEND_ROW_PX + 8, borderwidth=0)  # fmt: skip
    title = escape(tag) if step is None else f"{escape(tag)} <span style='color:#6a737d;" \
        f"font-size:12px'>· step {step}</span>"  # fmt: skip
    fig.update_layout(
        title=dict(text=title, font=dict(size=14), x=0.01, xanchor="left"),
        height=HEIGHT + rows * LEGEND_ROW_PX,
        margin=margin,
        # constrain="domain" + constraintoward: the square plot keeps its lower left corner in
        # the paper's, where the legend is anchored
        xaxis=dict(AXIS, title=dict(text="recall", standoff=6), constraintoward="left"),
        yaxis=dict(
            AXIS,
            title=dict(text="precision", standoff=6),
            scaleanchor="x",
            scaleratio=1,
            constraintoward="bottom",
        ),  # fmt: skip
        showlegend=lines > 0,
        legend=legend,
        hovermode="closest",
        uirevision=tag,  # a new step keeps the user's zoom
        font=FONT,
    )
