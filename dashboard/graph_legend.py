"""The Graph view's legend: HTML beside the drawing, so it keeps its size whatever the zoom.

Each kind is shown with the shape and fill Graphviz draws it with (a small SVG icon built here
from :data:`flowlog.render_style.KIND_STYLE`), and the colour scale as a bar with its numbers.
Everything shown is generated here (kind names, numbers), never a name from the log.
"""

from __future__ import annotations

from urllib.parse import quote

from dash import html

from flowlog import render_style as rs

W, H = 30, 18  # icon size in px
_STROKE = 'stroke="#4d4d4d" stroke-width="1.2"'
# the outline of each Graphviz shape the renderer uses, in a W × H box
_SHAPES = {
    "box": '<rect x="1.5" y="2.5" width="27" height="13" rx="0" {s} fill="{f}"/>',
    "rounded": '<rect x="1.5" y="2.5" width="27" height="13" rx="5" {s} fill="{f}"/>',
    "dashed": '<rect x="1.5" y="2.5" width="27" height="13" rx="5" {s} fill="{f}"'
    ' stroke-dasharray="3 2"/>',
    "ellipse": '<ellipse cx="15" cy="9" rx="13.5" ry="7" {s} fill="{f}"/>',
    "invhouse": '<polygon points="1.5,2.5 28.5,2.5 28.5,11 15,16 1.5,11" {s} fill="{f}"/>',
    "note": '<polygon points="1.5,2.5 23,2.5 28.5,7.5 28.5,15.5 1.5,15.5" {s} fill="{f}"/>'
    '<polyline points="23,2.5 23,7.5 28.5,7.5" fill="none" {s}/>',
    "cds": '<polygon points="1.5,2.5 23,2.5 28.5,9 23,15.5 1.5,15.5" {s} fill="{f}"/>',
    "box3d": '<polygon points="1.5,5.5 25.5,5.5 25.5,16 1.5,16" {s} fill="{f}"/>'
    '<polyline points="1.5,5.5 4.5,2 28.5,2 28.5,12.5 25.5,16" fill="none" {s}/>'
    '<line x1="25.5" y1="5.5" x2="28.5" y2="2" {s}/>',
}
NAMES = {
    "op": "op",
    "variable": "variable",
    "placeholder": "placeholder (input)",
    "constant": "constant",
    "gradient": "gradient",
    "optimizer": "optimizer",
}


def shape_of(kind: str) -> str:
    """The :data:`_SHAPES` key of a kind's Graphviz shape (rounded/dashed boxes told apart)."""
    style = rs.KIND_STYLE[kind]
    if style["shape"] == "box":
        if "dashed" in style["style"]:
            return "dashed"
        return "rounded" if "rounded" in style["style"] else "box"
    return style["shape"]


def icon_svg(shape: str, fill: str, stroke: str = _STROKE) -> str:
    body = _SHAPES[shape].format(s=stroke, f=fill)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">{body}</svg>'


def icon(shape: str, fill: str, stroke: str = _STROKE, name: str = "") -> html.Img:
    src = "data:image/svg+xml," + quote(icon_svg(shape, fill, stroke))
    return html.Img(src=src, width=W, height=H, alt=name, className="fl-legend-icon")


def _item(img: html.Img, text: str, kind: str) -> html.Span:
    return html.Span([img, text], className="fl-legend-item", **{"data-kind": kind})


def kind_items(kinds, overlay: bool) -> list:
    """One item per drawn kind: its true shape, filled as drawn (grey under a colour overlay)."""
    out = []
    for k in kinds:
        fill = rs.NO_VALUE_FILL if overlay else rs.KIND_STYLE[k]["fillcolor"]
        out.append(_item(icon(shape_of(k), fill, name=k), NAMES[k], k))
    return out


def _ticks(scale: rs.ColorScale) -> list:
    """Numbers under the colour bar, at the positions of their values."""
    stops = [] if scale.empty else scale.stops(3 if scale.vmax > scale.vmin else 1)
    return [
        html.Span(
            rs.format_value(v),
            className="fl-legend-tick",
            style={"left": f"{100 * (scale.position(v) if len(stops) > 1 else 0.5):.1f}%"},
        )
        for v, _ in stops
    ]


def scale_items(scale: rs.ColorScale, stat: str, step) -> list:
    """The colour bar (fixed over the run) with numbers, the NaN/Inf and no-value swatches."""
    grad = ", ".join(c for _, c in scale.stops(9)) if not scale.empty else rs.NAN_COLOR
    fill = {"background": f"linear-gradient(to right, {grad})"}
    bar = html.Div(
        [
            html.Div(className="fl-legend-bar", style=fill),
            html.Div(_ticks(scale), className="fl-legend-ticks"),
        ],
        className="fl-legend-scale",
    )
    how = "log scale" if scale.log else "linear"
    title = f"{stat}, step {step}"
    note = f"{how}, whole run"  # one scale for every step: a colour is a value
    nan = icon("rounded", rs.NAN_COLOR, name="NaN/Inf")
    none = icon("rounded", rs.NO_VALUE_FILL, name="no value")
    return [
        html.Span(
            [
                html.Span(title, className="fl-legend-title"),
                bar,
                html.Span(note, className="fl-muted"),
            ],
            className="fl-legend-item fl-legend-colour",
            title="one scale over every node and step of this run: a colour always means the "
            "same value",
        ),
        _item(nan, "NaN / Inf", "nan"),
        _item(none, "no value", "none"),
    ]


def legend(key: dict | None) -> list:
    """Children of the legend strip for :func:`graph_model.key_info`'s dict (empty: none)."""
    if not key:
        return []
    scale = key.get("scale")
    out = kind_items(key["kinds"], scale is not None)
    if key.get("folded"):
        out.append(
            _item(
                icon("box3d", rs.SCOPE_STYLE["fillcolor"], name="folded"),
                "folded scope (click opens)",
                "scope",
            )
        )
    if key.get("marked"):
        red = f'stroke="{rs.MARK_COLOR}" stroke-width="2.5"'
        out.append(
            _item(icon("rounded", "#ffffff", red, "NaN path"), "feeds the first NaN", "marked")
        )
    if scale is not None:
        out += scale_items(scale, key["stat"], key["step"])
    return out
