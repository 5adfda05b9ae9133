"""The dashboard's tick-label policy for plotly axes: legible at every chart size.

plotly.js picks a log axis's labels from its length: a short axis spanning one or two decades
gets "D1" ticks, a label on every digit 2..9 that run into each other. ``nticks`` sized to the
data's span (:func:`log_nticks`) makes it choose whole decades, or 1-2-5 labels on a short
span, and plainly labelled ticks inside one decade, whatever the chart's size. Tick labels
also stand off their axis so the lowest y label and the first x label, which meet at the
plot's corner, do not touch. Views adopt the policy with :func:`axis_style`.
"""

from __future__ import annotations

import base64
import math
import re

import numpy as np

MAX_LOG_TICKS = 8
LINEAR_TICKS = 6  # at most: fewer when the axis is short (plotly.js spaces them >= ~40 px)
STANDOFF_PX = 4  # between a tick label and its axis line: clears the corner label of the other
GRID = "#eceef1"


def log_nticks(decades: float | None) -> int:
    """``nticks`` that make plotly.js label a log axis spanning ``decades`` with 1-2-5 steps
    (1-2 decades) or whole decades (more), never D1. plotly.js takes ``span / nticks`` as the
    rough step: above 0.7 decades it labels decades, above 0.3 it labels 1-2-5, else D1."""
    if decades is None or not math.isfinite(decades) or decades < 1:
        return 5  # inside one decade plotly.js labels plain linear ticks, fully written
    if decades < 2.1:
        return max(2, math.floor(decades / 0.31))
    return int(min(MAX_LOG_TICKS, max(2, math.floor(decades / 0.71))))


def axis_style(axis_type: str | None = None, decades: float | None = None, **extra) -> dict:
    """Layout settings of one axis (``"log"``, ``"date"``, ``"linear"`` or None for plotly's
    guess) under the policy; a log axis's ``decades`` is the span of its data
    (:func:`decades_of`). ``extra`` settings are merged in (they win)."""
    style = {"gridcolor": GRID, "ticklabelstandoff": STANDOFF_PX}
    if axis_type:
        style["type"] = axis_type
    if axis_type == "log":
        # "power" writes 10^-3 instead of plotly's SI "1m"
        style.update(nticks=log_nticks(decades), exponentformat="power")
    else:
        style["nticks"] = LINEAR_TICKS
    style.update(extra)
    return style


def trace_values(v) -> np.ndarray:
    """A trace's x or y as numbers: a list, or plotly's binary ``{dtype, bdata}`` form."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    try:
        return np.asarray(v if v is not None else [], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return np.empty(0)


def decades_of(traces: list[dict], axis: str = "y") -> float | None:
    """Decades spanned by the positive finite ``axis`` values of ``traces`` on the main axes
    (overlay traces on y2 are markers at fixed heights, not data), or None when none."""
    lo, hi = math.inf, -math.inf
    for t in traces:
        if t.get("yaxis", "y") != "y":
            continue
        v = trace_values(t.get(axis)).astype(np.float64, copy=False)
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    return math.log10(hi / lo) if hi >= lo > 0 else None


def is_log_label_ok(text: str) -> bool:
    """Whether a log axis tick label is a decade or a 1-2-5 step (tests and callers checking a
    drawn chart): "0.01", "100", "10^-3", "2", "5", "20", "0.5"... but not "3", "7" or "40"."""
    t = text.replace("\u2212", "-").replace("\u200b", "").replace(",", "").strip()
    if re.fullmatch(r"([125]×)?10(\^|-)?\d*", t):
        return True  # a power of ten written as such (10<sup>-3</sup> reads "10-3" as text)
    try:
        v = abs(float(t))
    except ValueError:
        return False
    if v == 0:
        return False
    while v >= 10:
        v /= 10
    while v < 1:
        v *= 10
    return any(abs(v - d) < 1e-6 for d in (1, 2, 5))
