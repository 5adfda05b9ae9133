"""Dash components of the Graph view built from data: the node side panel and the NaN banner.

Plain functions of a graph description, the node's statistics arrays and the provider, so the
panel is tested on real logs without a browser. Every name from the log is passed to Dash as
text (never as HTML), so a node called ``<img onerror=…>`` shows as those characters.
"""

from __future__ import annotations

import json

import numpy as np
from dash import dcc, html

from flowlog.dashboard import graph_data as gd
from flowlog.dashboard import graph_figures as gf
from flowlog.dashboard import graph_model as gm
from flowlog.dashboard import untrusted
from flowlog.dashboard.controls import image_config
from flowlog.dashboard.untrusted import RUN_ERRORS

NAV = "graph-nav"  # pattern-matching id type of node links (the view's navigate callback)
FOLD = "graph-fold"  # ... and of fold buttons
HINT = "Click a node to see its inputs, shape and history."
NOT_LOGGED = (
    "flowlog logs curves for trainable variables watched with writer.watch(sess, every=N) "
    "(a PyTorch model: writer.watch(model, optimizer=opt)): "
    "value and gradient norms, mean ± std, the update/weight ratio and value/gradient "
    "histograms. This node is {article} {kind}, so only its structure is shown."
)


def hint(text: str = HINT) -> html.P:
    return html.P(text, className="fl-graph-hint")


def node_button(name: str) -> html.Button:
    """A link to another node: clicking it selects that node (pattern-matching id)."""
    return html.Button(
        name,
        id={"type": NAV, "node": name},
        className="fl-graph-link",
        title=f"go to {name}",
    )


def banner(origin: dict | None, op: str | None) -> list | None:
    """The NaN-origin banner's text, with a link to the origin node (None: no banner)."""
    if not origin:
        return None
    return [
        "first non-finite value: node ",
        node_button(origin["node"]),
        f" ({op}, {origin.get('phase')}) at step {origin.get('step')}",
        f" — {origin.get('kind')}; marked in red with everything that feeds it.",
    ]


def fmt_shape(shape) -> str:
    if shape is None:
        return "unknown rank"
    if not shape:
        return "scalar"
    return "×".join("?" if d is None else str(d) for d in shape)


def _kv(label, value) -> html.Tr:
    return html.Tr([html.Th(label), html.Td(value)])


def _links(title: str, names: list[str]) -> list:
    return [
        html.H4(f"{title} ({len(names)})"),
        html.Div(
            [node_button(n) for n in names] or html.Span("none", className="fl-muted"),
            className="fl-graph-links",
        ),
    ]


def structure(desc, node: dict, origin: dict | None) -> list:
    """Name, origin note, properties, attributes, inputs, consumers and fold buttons."""
    name = node["name"]
    out = [
        html.H3(name.rsplit("/", 1)[-1], className="fl-graph-panel-title"),
        html.Div(name, className="fl-graph-fullname", title="full name"),
    ]
    if origin and origin.get("node") == name:
        out.append(
            html.Div(
                f"First non-finite value ({origin.get('kind')}, {origin.get('phase')}) "
                f"at step {origin.get('step')}.",
                className="fl-graph-origin-note",
            )
        )
    rows = [
        _kv("op", node.get("op", "?")),
        _kv("kind", node.get("kind") or "op"),
        _kv("shape", fmt_shape(node.get("shape"))),
        _kv("dtype", node.get("dtype") or "unknown"),
        _kv("scope", node.get("scope") or gd.node_scope(node) or "(top level)"),
    ]
    out.append(html.Table(rows, className="fl-graph-props"))
    attrs = node.get("attrs") or {}
    if attrs:
        table = [_kv(k, json.dumps(v)) for k, v in attrs.items()]
        out += [html.H4("attributes"), html.Table(table, className="fl-graph-props")]
    out += _links("inputs", list(node.get("inputs") or ()))
    out += _links("consumers", gd.consumers(desc).get(name, []))
    chain = gd.scope_chain(gd.node_scope(node))
    if chain:
        buttons = [
            html.Button(f"fold {s}", id={"type": FOLD, "scope": s}, className="fl-graph-link")
            for s in reversed(chain)
        ]
        out += [html.H4("fold"), html.Div(buttons, className="fl-graph-links")]
    return out


def histogram_figures(data, run: str, name: str) -> list:
    """Value and gradient histograms of a watched node over steps (empty states if absent)."""
    logged = data.tags(run, kind="histogram")
    figs = []
    for part in ("value", "grad"):
        tag = f"watch/{name}/{part}"
        hists = data.histograms(run, tag) if tag in logged else []
        figs.append(
            gf.histogram_heatmap(
                [h.step for h in hists],
                [np.asarray(h.edges) for h in hists],
                [np.asarray(h.counts) for h in hists],
                part,
                nonfinite=[h.nan + h.posinf + h.neginf for h in hists],
            )
        )
    return figs


def history(data, run: str, name: str, series) -> list:
    """The node's logged curves: norms, mean ± std, update ratio and both histograms."""
    figs = [gf.norms_figure(series), gf.moments_figure(series), gf.ratio_figure(series)]
    figs += histogram_figures(data, run, name)
    return [html.H4("history", className="fl-graph-history")] + [
        dcc.Graph(
            figure=f,
            config=image_config(f"{name} {f.layout.title.text or ''}"),
            className="fl-graph-curve",
            style={"height": f"{f.layout.height}px"},
        )
        for f in figs
    ]


def node_panel(data, run: str, desc, name, stats, origin: dict | None) -> list | html.P:
    """Children of the side panel for node ``name``: its structure, then its logged curves
    (or why it has none)."""
    node = gd.node_index(desc).get(name) if isinstance(name, str) else None
    if node is None:
        return hint(f"node {name!r} is not in this run's graph")
    children = structure(desc, node, origin)
    series = stats.get(name)
    if series:
        children += history(data, run, name, series)
    else:
        kind = node.get("kind") or "op"
        article = "an" if kind[:1] in "aeiou" else "a"
        children.append(
            html.P(
                NOT_LOGGED.format(article=article, kind=kind),
                className="fl-graph-hint fl-graph-nolog",
            )
        )
    return children


def hiding_scope(desc, selected: str, folded) -> str | None:
    """The outermost folded scope that hides node ``selected`` (None: it is drawn)."""
    node = gd.node_index(desc).get(selected) if isinstance(selected, str) else None
    if node is None or not isinstance(folded, list):
        return None
    chain = gd.scope_chain(gd.node_scope(node))
    return next((s for s in chain if s in folded), None)


def scope_panel(desc, scope: str, selected: str) -> list:
    """The panel of a folded scope that hides the selected node: what it holds, and a link
    that opens it on that node (the node's own panel would describe something not drawn)."""
    inside = [n["name"] for n in gd.check_description(desc) if n["name"].startswith(scope + "/")]
    return [
        html.H3(scope.rsplit("/", 1)[-1], className="fl-graph-panel-title"),
        html.Div(scope, className="fl-graph-fullname", title="full name"),
        html.P(
            f"Folded scope: {len(inside)} nodes drawn as one box. Click it in the graph to open it "
            "(or the node below).",
            className="fl-graph-hint",
        ),
        html.H4("selected node inside"),
        html.Div([node_button(selected)], className="fl-graph-links"),
    ]


def panel_for(data, run, selected, origin, folded=None) -> list | html.P:
    """The side panel for the node selected in ``run``, or the hint when there is none; the
    folded scope hiding it when ``folded`` (the fold list) hides it."""
    desc = gm.graph_or_none(data, run)
    if desc is None or not selected:
        return hint()
    origin = origin if isinstance(origin, dict) else None  # the NUMERICS store, from the browser
    try:
        scope = hiding_scope(desc, selected, folded)
        if scope is not None:
            return scope_panel(desc, scope, selected)
        return node_panel(data, run, desc, selected, gm.node_stats(data, run), origin)
    except RUN_ERRORS as exc:  # the run vanished, cannot be read, or a tag is of another kind
        return hint(f"cannot show {selected!r}: {untrusted.problem(run, exc, data)}")
