"""Renderer emit stage: the DOT text, from the fold and style stages' results.

Order in the text: graph defaults, then clusters nested by scope path with their nodes
(description order), then edges, then the legend. Only this module writes DOT statements.
"""

from __future__ import annotations

from collections.abc import Mapping

from flowlog.render_desc import KINDS
from flowlog.render_fold import Edge, Layout, Plan
from flowlog.render_style import (
    HIGHLIGHT_COLOR,
    KIND_STYLE,
    MARK_COLOR,
    NAN_COLOR,
    NO_VALUE_FILL,
    SCOPE_STYLE,
    ColorScale,
    Marks,
    Overlay,
    cluster_attrs,
    edge_attrs,
    element_attrs,
    format_value,
)
from flowlog.render_syntax import Raw, attrs, dot_id, html

_NODE_DEFAULTS = (
    '  node [fontname="Helvetica" fontsize=10 margin="0.08,0.03" height=0.3 penwidth=1.2'
    ' color="#4d4d4d"];'
)
_EDGE_DEFAULTS = '  edge [fontname="Helvetica" fontsize=8 color="#707070" arrowsize=0.6];'


def header(rankdir: str, layout_attrs: Mapping[str, object]) -> list[str]:
    """Graph-wide defaults; ``layout_attrs`` (speed settings for big graphs) go last."""
    g: dict[str, object] = {
        "rankdir": Raw(rankdir),
        "compound": Raw("true"),  # lets hub bundles end at cluster borders (ltail/lhead)
        "fontname": "Helvetica",
        "fontsize": 11,
        "nodesep": 0.25,
        "ranksep": 0.4,
        "labeljust": Raw("l"),
        "bgcolor": Raw("transparent"),
    }
    g.update(layout_attrs)
    return ["  graph " + attrs(g) + ";", _NODE_DEFAULTS, _EDGE_DEFAULTS]


def clusters(
    out: list[str], scope: str, indent: str, plan: Plan, lay: Layout, ov: Overlay, marks: Marks
) -> None:
    """Append the elements drawn directly in ``scope``, then its child clusters, recursively."""
    for el in lay.members.get(scope, []):
        a = attrs(element_attrs(el, plan, ov, marks))
        out.append(f"{indent}{dot_id(lay.dot_name(el))} {a};")
    for child in lay.children.get(scope, []):
        out.append(f"{indent}subgraph {dot_id('cluster:' + child)} {{")
        out.append(f"{indent}  graph {attrs(cluster_attrs(child, marks))};")
        clusters(out, child, indent + "  ", plan, lay, ov, marks)
        out.append(f"{indent}}}")


def edge_line(e: Edge, lay: Layout, edge_labels: bool, compact: bool = False) -> str:
    """One edge; ``compact`` makes its label an ``xlabel``, placed after layout, so labels do
    not get ranks of their own (which doubles the height of a drawing)."""
    src, dst = (e.dst, e.src) if e.reverse else (e.src, e.dst)
    a = edge_attrs(e, edge_labels)
    if compact and "label" in a:
        a["xlabel"] = a.pop("label")
    return f"  {dot_id(lay.dot_name(src))} -> {dot_id(lay.dot_name(dst))} {attrs(a)};"


# --------------------------------------------------------------------------- legend

_SHAPE_NAMES = {
    "op": "rounded box",
    "variable": "ellipse",
    "placeholder": "house",
    "constant": "note",
    "gradient": "dashed box",
    "optimizer": "tag",
}


def _row(cell: str, text: str) -> str:
    """A legend row: a sample cell (its TD attributes) and what it means."""
    return f'<TR><TD {cell}> </TD><TD ALIGN="LEFT">{html(text)}</TD></TR>'


def _swatch(fill: str, text: str, border: bool = True) -> str:
    return _row(f'BGCOLOR="{fill}" WIDTH="18"' + (' BORDER="1"' if border else ""), text)


def _outline(color: str, text: str) -> str:
    return _row(f'BORDER="2" COLOR="{color}"', text)


def _scale_rows(scale: ColorScale, value_label: str) -> list[str]:
    title = html(value_label or "value") + (" (log scale)" if scale.log else "")
    rows = [f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{title}</B></TD></TR>']
    # one value spans no range: one stop, not five identical labels
    stops = [] if scale.empty else scale.stops(5 if scale.vmax > scale.vmin else 1)
    rows += [_swatch(c, format_value(v), border=False) for v, c in reversed(stops)]
    rows.append(_swatch(NAN_COLOR, "NaN / Inf", border=False))
    rows.append(_swatch(NO_VALUE_FILL, "no value"))
    return rows


def _table_rows(plan: Plan, scale: ColorScale | None, value_label: str, marks: Marks):
    """Table rows: marks and the value scale if used (kinds are drawn as real nodes)."""
    rows = []
    if marks.marked:
        rows.append(_outline(MARK_COLOR, "marked"))
    if marks.highlight:
        rows.append(_outline(HIGHLIGHT_COLOR, "highlighted"))
    if scale is not None:
        rows.extend(_scale_rows(scale, value_label))
    return rows


def _kind_samples(plan: Plan, scale: ColorScale | None) -> list[tuple[str, dict]]:
    """``(kind, attributes)`` of one sample node per kind drawn (and folded scopes), in the
    true shape and fill, so the legend shows what the drawing shows."""
    drawn = {nd.kind for nd in plan.nodes if not plan.owner[nd.name]}
    out = []
    for k in KINDS:
        if k in drawn:
            style = dict(KIND_STYLE[k])
            if scale is not None:  # with an overlay on, every unvalued node is grey
                style["fillcolor"] = NO_VALUE_FILL
            out.append((k, {**style, "label": f"{k} ({_SHAPE_NAMES[k]})"}))
    if plan.folded:
        out.append(("scope", {**SCOPE_STYLE, "label": "folded scope (op count)"}))
    return out


def legend(plan: Plan, scale: ColorScale | None, value_label: str, marks: Marks) -> list[str]:
    """A cluster holding an HTML table (title, marks, value scale) above one sample node per
    kind drawn, named so nothing can clash with a graph node."""
    samples = _kind_samples(plan, scale)
    rows = _table_rows(plan, scale, value_label, marks)
    if not rows and not samples:
        return []
    table = (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
        '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>Legend</B></TD></TR>' + "".join(rows) + "</TABLE>>"
    )
    taken = plan.by_name.keys() | plan.folded
    lid = "fl-legend"
    while lid in taken or any(n.startswith(lid + "/") for n in taken):
        lid += "_"
    out = [
        f"  subgraph {dot_id('cluster:' + lid)} {{",
        '    graph [label="" style="rounded" color="#c8c8c8" id="fl-legend" class="fl-legend"];',
        f'    {dot_id(lid)} [shape=plaintext style="" id="fl-legend-table" class="fl-legend"'
        f" label={table}];",
    ]
    chain = [lid]
    for kind, style in samples:
        name = f"{lid}/{kind}"
        extra = {"id": f"fl-legend-kind-{kind}", "class": "fl-legend fl-legend-kind"}
        out.append(f"    {dot_id(name)} {attrs({**style, **extra})};")
        chain.append(name)
    # invisible edges stack the samples under the table, one per row
    out.extend(
        f"    {dot_id(a)} -> {dot_id(b)} [style=invis];"
        for a, b in zip(chain[:-1], chain[1:], strict=True)
    )
    out.append("  }")
    return out


def dot_text(
    plan: Plan,
    lay: Layout,
    edges: list[Edge],
    ov: Overlay,
    marks: Marks,
    *,
    rankdir: str,
    layout_attrs: Mapping[str, object],
    edge_labels: bool,
    value_label: str,
    show_legend: bool,
    compact: bool = False,
) -> str:
    """The whole DOT document."""
    out = ["digraph flowlog {", *header(rankdir, layout_attrs)]
    clusters(out, "", "  ", plan, lay, ov, marks)
    out.extend(edge_line(e, lay, edge_labels, compact) for e in edges)
    if show_legend:
        out.extend(legend(plan, ov.scale, value_label, marks))
    out.append("}")
    return "\n".join(out) + "\n"
