"""Renderer style stage: the attributes of each drawn node, cluster and edge.

Kinds get distinct shapes as well as fills, so they stay distinguishable when a value overlay
replaces the fills; marks only touch outlines for the same reason. The dict order of each
attribute set is the order in the DOT text, so it is part of the "same input → same text"
promise.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flowlog.render_desc import shape_label, short_name
from flowlog.render_fold import Edge, Element, Plan
from flowlog.render_syntax import Raw

KIND_STYLE = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#e8eef8"},
    "variable": {"shape": "ellipse", "style": "filled", "fillcolor": "#fbd9a0"},
    "placeholder": {"shape": "invhouse", "style": "filled", "fillcolor": "#cfe8c9"},
    "constant": {"shape": "note", "style": "filled", "fillcolor": "#eeeeee"},
    "gradient": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#f6d3d3"},
    "optimizer": {"shape": "cds", "style": "filled", "fillcolor": "#e0d5f0"},
}
SCOPE_STYLE = {"shape": "box3d", "style": "filled", "fillcolor": "#d5e3f5"}
MARK_COLOR = "#d62728"
HIGHLIGHT_COLOR = "#1f5fd6"
NO_VALUE_FILL = "#d3d6db"  # grey: a node with no value for the coloured statistic
NAN_COLOR = "#ff3fa4"  # non-finite values: far from every viridis colour
# Viridis (perceptually uniform, colour-blind safe), 9 evenly spaced stops.
_VIRIDIS = (
    "#440154",
    "#472d7b",
    "#3b528b",
    "#2c728e",
    "#21918c",
    "#28ae80",
    "#5ec962",
    "#addc30",
    "#fde725",
)


# --------------------------------------------------------------------------- colour scale


def _hex_to_rgb(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


@dataclass(frozen=True)
class ColorScale:
    """Maps floats to viridis colours between ``vmin`` and ``vmax`` (log10 if ``log``).

    Non-finite values get ``NAN_COLOR``; on a log scale values ≤ 0 clamp to the low end."""

    vmin: float
    vmax: float
    log: bool = False
    empty: bool = False  # no finite value to span: the legend shows only the NaN/Inf entry

    def position(self, v: float) -> float:
        """0..1 along the scale (clamped); NaN for non-finite ``v``."""
        v = float(v)
        if not math.isfinite(v):
            return math.nan
        lo, hi = self.vmin, self.vmax
        if self.log:
            if v <= 0:
                return 0.0
            v, lo, hi = math.log10(v), math.log10(lo), math.log10(hi)
        if hi <= lo:
            return 0.5
        return min(1.0, max(0.0, (v - lo) / (hi - lo)))

    def color(self, v: float) -> str:
        t = self.position(v)
        if math.isnan(t):
            return NAN_COLOR
        x = t * (len(_VIRIDIS) - 1)
        i = min(int(x), len(_VIRIDIS) - 2)
        f = x - i
        a, b = _hex_to_rgb(_VIRIDIS[i]), _hex_to_rgb(_VIRIDIS[i + 1])
        return "#" + "".join(f"{round(p + (q - p) * f):02x}" for p, q in zip(a, b, strict=True))

    def text_color(self, v: float) -> str:
        """Black or white, whichever reads better on ``color(v)``."""
        r, g, b = _hex_to_rgb(self.color(v))
        return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"

    def stops(self, n: int = 5) -> list[tuple[float, str]]:
        """``n`` evenly spaced (value, colour) pairs for a legend."""
        if n < 2 or self.vmax <= self.vmin:
            return [(self.vmin, self.color(self.vmin))]
        out = []
        for k in range(n):
            t = k / (n - 1)
            if self.log:
                lo, hi = math.log10(self.vmin), math.log10(self.vmax)
                v = 10 ** (lo + (hi - lo) * t)
            else:
                v = self.vmin + (self.vmax - self.vmin) * t
            out.append((v, self.color(v)))
        return out


def color_scale(values: Mapping[str, float] | Iterable[float], *, log: bool = False) -> ColorScale:
    """Scale spanning the finite values (positive ones if ``log``); NaN/±Inf are ignored."""
    vals = values.values() if isinstance(values, Mapping) else values
    finite = []
    for v in vals:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"overlay values must be numbers, got {v!r}") from None
        if math.isfinite(f) and (f > 0 or not log):
            finite.append(f)
    if not finite:
        return (
            ColorScale(1.0, 1.0, log, empty=True) if log else ColorScale(0.0, 0.0, log, empty=True)
        )
    return ColorScale(min(finite), max(finite), log)


#: A log scale is used when the finite positive values span at least this ratio (2 decades).
LOG_SPAN = 100.0


def run_scale(values: Iterable[float], *, prefer_log: bool = True) -> ColorScale:
    """One scale for a statistic over a whole run (every node, every step), so the same value
    has the same colour at every step and 20 % apart never looks like the full range.

    Log10 when ``prefer_log`` and the positive finite values span ``LOG_SPAN`` or more (values
    ≤ 0 then clamp to the low end); otherwise linear over the finite values. Shared by the
    dashboard and ``flowlog export-graph --color-by``.
    """
    finite = [float(v) for v in values if math.isfinite(float(v))]
    positive = [v for v in finite if v > 0]
    if prefer_log and positive and max(positive) >= LOG_SPAN * min(positive):
        return ColorScale(min(positive), max(positive), log=True)
    return color_scale(finite)


#: Watch statistics a graph can be coloured by (``writer.watch``), and those spanning decades,
#: which get a log scale when their values do (:func:`run_scale`).
COLOR_STATS = ("grad_norm", "value_norm", "update_ratio", "grad_nan")
LOG_STATS = frozenset({"grad_norm", "value_norm", "update_ratio"})


def value_at(steps: Sequence[int], values: Sequence[float], step: int) -> float | None:
    """The value logged at ``step``, else the latest one before it; None if nothing by then.
    ``steps`` ascending: a list or a numpy array, searched in place (no copy per lookup)."""
    i = bisect.bisect_right(steps, step) - 1
    return None if i < 0 else float(values[i])


def stat_overlay(
    series: Mapping[str, tuple[Sequence[int], Sequence[float]]], stat: str, step: int
) -> tuple[dict[str, float], ColorScale | None]:
    """Per-node values of ``stat`` at ``step`` (node → (steps, values) of that statistic) and
    the scale over every value of the run (:func:`run_scale`), as the Graph view colours."""
    values = {}
    for node, (steps, vals) in series.items():
        v = value_at(steps, vals, step)
        if v is not None:
            values[node] = v
    every = [float(v) for _, vals in series.values() for v in vals]
    scale = run_scale(every, prefer_log=stat in LOG_STATS) if every else None
    return values, scale


def format_value(v: float) -> str:
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.3g}"


# --------------------------------------------------------------------------- overlays


@dataclass(frozen=True)
class Overlay:
    """A value overlay resolved against a plan; ``scale`` is None when there is none."""

    scale: ColorScale | None
    node_values: dict[str, float]
    scope_values: dict[str, float]  # folded scope -> the value it shows


NO_OVERLAY = Overlay(None, {}, {})


def overlay(
    values: Mapping[str, float] | None,
    plan: Plan,
    log: bool = False,
    scale: ColorScale | None = None,
) -> Overlay:
    """Check ``values`` against the graph and give each folded scope its value: the first
    non-finite one inside (a NaN must not hide behind a fold), else the max. ``scale`` (e.g.
    :func:`run_scale`) replaces the default one spanning just these values."""
    if values is None:
        return NO_OVERLAY
    if not isinstance(values, Mapping):
        raise TypeError(f"values must map node names to numbers, got {type(values).__name__}")
    node_values: dict[str, float] = {}
    for k, v in values.items():
        if k not in plan.owner:
            raise ValueError(f"values: {k!r} is not a node of the graph")
        try:
            node_values[k] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"values: {k!r} has non-numeric value {v!r}") from None
    inside: dict[str, list[float]] = {}
    for k, v in node_values.items():
        if plan.owner[k] is not None:
            inside.setdefault(plan.owner[k], []).append(v)
    scope_values = {}
    for s, vs in inside.items():
        bad = [v for v in vs if not math.isfinite(v)]
        scope_values[s] = bad[0] if bad else max(vs)
    if scale is None:
        scale = color_scale(node_values, log=log)
    return Overlay(scale, node_values, scope_values)


@dataclass(frozen=True)
class Marks:
    """Elements drawn ``marked`` (red, doubled) and ``highlight``-ed (thick blue)."""

    marked: set[Element]
    highlight: set[Element]


# --------------------------------------------------------------------------- attributes


def element_attrs(el: Element, plan: Plan, ov: Overlay, marks: Marks) -> dict[str, object]:
    """Attributes of a drawn node: a description node or a folded scope."""
    kind, key = el
    if kind == "node":
        nd = plan.by_name[key]
        short = short_name(nd)
        style, cls = KIND_STYLE[nd.kind], f"fl-node fl-kind-{nd.kind}"
        label = short if short == nd.op else f"{short}\n{nd.op}"
        v, prefix = ov.node_values.get(key), ""
    else:
        count = plan.table[key].count
        style, cls = SCOPE_STYLE, "fl-scope"
        label = f"{key.rpartition('/')[2]}\n{count} {'op' if count == 1 else 'ops'}"
        v, prefix = ov.scope_values.get(key), "max "
    marked, lit = el in marks.marked, el in marks.highlight
    attrs: dict[str, object] = dict(style)
    attrs["label"] = label if v is None else f"{label}\n{prefix}{format_value(v)}"
    attrs["id"] = f"{kind}:{key}"
    attrs["class"] = cls + (" fl-marked" if marked else "") + (" fl-highlight" if lit else "")
    if ov.scale is not None:
        # with an overlay on, unvalued nodes go grey so the colour only ever means a value
        if v is None:
            attrs["fillcolor"] = NO_VALUE_FILL
        else:
            attrs["fillcolor"] = ov.scale.color(v)
            attrs["fontcolor"] = ov.scale.text_color(v)
    if marked:
        attrs.update(color=MARK_COLOR, penwidth=2.5, peripheries=2)
    if lit:
        attrs.update(color=HIGHLIGHT_COLOR, penwidth=3.5)
    return attrs


def cluster_attrs(path: str, marks: Marks) -> dict[str, object]:
    """Attributes of an open scope's cluster; nesting levels alternate two fills."""
    attrs: dict[str, object] = {
        "label": path,
        "id": "cluster:" + path,
        "class": "fl-cluster",
        "style": Raw('"rounded,filled"'),
        "fillcolor": "#f7f9fc" if path.count("/") % 2 == 0 else "#eef2f8",
        "color": "#9aa8bd",
        "fontcolor": "#3a4a63",
        "fontsize": 10,
    }
    if ("cluster", path) in marks.marked:
        attrs.update(color=MARK_COLOR, penwidth=2.5)
    if ("cluster", path) in marks.highlight:
        attrs.update(color=HIGHLIGHT_COLOR, penwidth=3)
    return attrs


def edge_attrs(e: Edge, edge_labels: bool = True) -> dict[str, object]:
    """A merged edge is labelled with its count and thickens (log2) with it; a single one
    shows the tensor's static shape."""
    attrs: dict[str, object] = {"class": "fl-edge"}
    if e.merged:
        attrs["class"] = "fl-edge fl-merged" + (" fl-bundled" if e.ltail or e.lhead else "")
    if e.ltail:
        attrs["ltail"] = "cluster:" + e.ltail
    if e.lhead:
        attrs["lhead"] = "cluster:" + e.lhead
    n = len(e.tensors)
    if n > 1:
        attrs["label"] = f"{n} edges"
        attrs["penwidth"] = round(min(4.0, 1 + math.log2(n) / 2), 2)
    elif edge_labels and (shape := shape_label(e.tensors[0].shape)):
        attrs["label"] = shape
    if e.reverse:
        attrs["dir"] = "back"
    return attrs
