"""Graph description (contract 1) → DOT text → SVG/PNG/PDF through Graphviz's ``dot``.

Everything here works on the plain description dict, never on live engine objects, so the CLI
and the dashboard can render any logged graph, including hand-written ones that only carry
``name``/``op``/``inputs`` per node.

Folding: a folded scope becomes one node (``id="scope:<path>"``, class ``fl-scope``) labelled with
its short name and how many description nodes it holds; edges crossing its border are merged and
labelled with their count. Scopes fold by an explicit list (``collapse``), by nesting ``depth``
and, unless ``show_gradients``, the gradient/optimizer machinery folds by default.

SVG contract (used by the dashboard): each visible description node is a ``<g>`` with
``id="node:<full name>"``, ``class="node fl-node fl-kind-<kind>"`` and ``<title>`` = full name;
scope clusters carry ``id="cluster:<path>"`` and class ``fl-cluster``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flowlog import graphdesc

KINDS = graphdesc.KINDS
FORMATS = ("svg", "dot", "png", "pdf")

INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH; install Graphviz "
    "(Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`, "
    "conda: `conda install graphviz`)"
)


class DotNotFound(RuntimeError):
    """Graphviz's ``dot`` executable is missing; the message says what to install."""


class DotError(RuntimeError):
    """``dot`` ran but rejected the input or crashed; carries its stderr."""


# Per-kind look: shapes differ so kinds stay distinguishable even when a value overlay
# replaces the fill colours.
_KIND_STYLE = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#e8eef8"},
    "variable": {"shape": "ellipse", "style": "filled", "fillcolor": "#fbd9a0"},
    "placeholder": {"shape": "invhouse", "style": "filled", "fillcolor": "#cfe8c9"},
    "constant": {"shape": "note", "style": "filled", "fillcolor": "#eeeeee"},
    "gradient": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#f6d3d3"},
    "optimizer": {"shape": "cds", "style": "filled", "fillcolor": "#e0d5f0"},
}
_SCOPE_STYLE = {"shape": "box3d", "style": "filled", "fillcolor": "#d5e3f5"}
_MARK_COLOR = "#d62728"
_HIGHLIGHT_COLOR = "#1f5fd6"
_NO_VALUE_FILL = "#ffffff"
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

_OP_KINDS = {
    "Variable": "variable",
    "VariableV2": "variable",
    "VarHandleOp": "variable",
    "Placeholder": "placeholder",
    "Const": "constant",
    "Constant": "constant",
}


# --------------------------------------------------------------------------- description


@dataclass(frozen=True)
class _Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    scope: str
    kind: str
    shape: tuple | None


def _scope_of(name: str) -> str:
    return name.rpartition("/")[0]


@functools.lru_cache(maxsize=1 << 16)
def _ancestors(scope: str) -> tuple[str, ...]:
    """``"a/b/c"`` → ``("a", "a/b", "a/b/c")``; ``""`` → ``()``. Cached: big graphs ask for
    the same few thousand scopes over and over."""
    if not scope:
        return ()
    parts = scope.split("/")
    return tuple("/".join(parts[: i + 1]) for i in range(len(parts)))


def _infer_kind(op: str, scope: str) -> str:
    if op in _OP_KINDS:
        return _OP_KINDS[op]
    if scope.split("/", 1)[0].startswith("gradients"):
        return "gradient"
    return "op"


def _parse(desc) -> list[_Node]:
    """Validate a description and fill optional fields; errors name the offending node."""
    nodes: list[_Node] = []
    for nd in graphdesc.check_nodes(desc):
        name, op = nd["name"], nd["op"]
        scope = nd.get("scope")
        if scope is None:
            scope = _scope_of(name)
        kind = nd.get("kind") or _infer_kind(op, scope)
        shape = nd.get("shape")
        nodes.append(
            _Node(
                name,
                op,
                tuple(nd.get("inputs", ())),
                scope,
                kind,
                None if shape is None else tuple(shape),
            )
        )
    return nodes


def _short(nd: _Node) -> str:
    if nd.scope and nd.name.startswith(nd.scope + "/"):
        return nd.name[len(nd.scope) + 1 :]
    return nd.name.rpartition("/")[2] or nd.name


def shape_label(shape) -> str:
    """Static shape as an edge label: ``[None, 784]`` → ``?×784``, ``[]`` → ``scalar``."""
    if shape is None:
        return ""
    if len(shape) == 0:
        return "scalar"
    return "×".join("?" if d is None else str(d) for d in shape)


# --------------------------------------------------------------------------- scopes


@dataclass(frozen=True)
class ScopeInfo:
    """One name scope: ``count`` nodes in it and below, ``direct`` directly in it."""

    path: str
    parent: str  # "" for a top-level scope
    level: int  # 1 for top-level scopes
    count: int
    direct: int
    kinds: dict[str, int] = field(default_factory=dict)  # kind -> count, recursive


def _scope_table(nodes: list[_Node]) -> dict[str, ScopeInfo]:
    order: list[str] = []
    count: dict[str, int] = {}
    direct: dict[str, int] = {}
    kinds: dict[str, dict[str, int]] = {}
    for nd in nodes:
        for s in _ancestors(nd.scope):
            if s not in count:
                order.append(s)
                count[s], direct[s], kinds[s] = 0, 0, {}
            count[s] += 1
            kinds[s][nd.kind] = kinds[s].get(nd.kind, 0) + 1
        if nd.scope:
            direct[nd.scope] += 1
    return {
        s: ScopeInfo(
            s, _scope_of(s), s.count("/") + 1, count[s], direct[s], dict(sorted(kinds[s].items()))
        )
        for s in order
    }


def scopes(desc) -> list[ScopeInfo]:
    """The scope tree in first-appearance order (parents before children), with node counts."""
    return list(_scope_table(_parse(desc)).values())


def _default_collapse(nodes: list[_Node], table: dict[str, ScopeInfo]) -> list[str]:
    """Outermost scopes made only of gradient/optimizer nodes (``gradients``, ``Adam``, …)."""
    machinery = {"gradient", "optimizer"}
    out: list[str] = []
    for nd in nodes:
        if nd.kind not in machinery:
            continue
        for s in _ancestors(nd.scope):
            if set(table[s].kinds) <= machinery:
                if s not in out:
                    out.append(s)
                break
    return out


def default_collapse(desc) -> list[str]:
    """Scopes folded by default so the model reads first: the gradient/optimizer machinery."""
    nodes = _parse(desc)
    return _default_collapse(nodes, _scope_table(nodes))


# --------------------------------------------------------------------------- folding


@dataclass
class _Plan:
    nodes: list[_Node]
    table: dict[str, ScopeInfo]
    folded: list[str]  # outermost folded scopes only, first-appearance order
    owner: dict[str, str | None]  # node name -> folded scope holding it (None: visible)

    def visible_of(self, name: str) -> tuple[str, str]:
        """("node"|"scope", key) a description node is drawn as."""
        s = self.owner[name]
        return ("node", name) if s is None else ("scope", s)


def _check_scopes(what: str, paths: Iterable[str], table: dict[str, ScopeInfo]) -> list[str]:
    if isinstance(paths, str):
        paths = [paths]
    out = []
    for p in paths:
        if not isinstance(p, str):
            raise TypeError(f"{what}: scope paths must be strings, got {p!r}")
        p = p.strip("/")
        if p not in table:
            known = ", ".join(list(table)[:12]) or "(the graph has no scopes)"
            raise ValueError(f"{what}: no scope {p!r} in the graph; scopes: {known}")
        out.append(p)
    return out


def _plan(desc, collapse=(), depth=None, show_gradients=False, expand=()) -> _Plan:
    nodes = _parse(desc)
    table = _scope_table(nodes)
    explicit = set(_check_scopes("collapse", collapse, table))
    opened: set[str] = set()
    for p in _check_scopes("expand", expand, table):
        opened.update(_ancestors(p))
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        raise ValueError(f"depth must be a non-negative integer or None, got {depth!r}")
    implicit: set[str] = set()
    if not show_gradients:
        implicit.update(_default_collapse(nodes, table))
    if depth is not None:
        implicit.update(s for s, info in table.items() if info.level > depth)
    want = explicit | (implicit - opened)
    owner: dict[str, str | None] = {}
    folded: list[str] = []
    for nd in nodes:
        hit = next((s for s in _ancestors(nd.scope) if s in want), None)
        owner[nd.name] = hit
        if hit is not None and hit not in folded:
            folded.append(hit)
    return _Plan(nodes, table, folded, owner)


def fold(desc, *, collapse=(), depth=None, show_gradients=False, expand=()) -> dict[str, str]:
    """Which element each description node is drawn as: name → ``"node:<name>"`` or
    ``"scope:<path>"`` (the SVG ``id`` of its visible node) under these folding options."""
    plan = _plan(desc, collapse, depth, show_gradients, expand)
    return {
        n: f"{k}:{v}" for n, (k, v) in ((nd.name, plan.visible_of(nd.name)) for nd in plan.nodes)
    }


def count_visible(desc, *, collapse=(), depth=None, show_gradients=False, expand=()) -> int:
    """Number of nodes drawn (visible description nodes + folded scopes)."""
    plan = _plan(desc, collapse, depth, show_gradients, expand)
    return sum(1 for v in plan.owner.values() if v is None) + len(plan.folded)


def auto_depth(desc, max_nodes: int = 400, *, collapse=(), show_gradients=False) -> int | None:
    """Deepest fold depth that draws at most ``max_nodes`` nodes; ``None`` if the whole graph
    fits expanded, ``0`` if even folding every top-level scope does not fit."""
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be positive, got {max_nodes!r}")
    kw = {"collapse": collapse, "show_gradients": show_gradients}
    if count_visible(desc, **kw) <= max_nodes:
        return None
    deepest = max((s.level for s in scopes(desc)), default=0)
    for d in range(deepest - 1, 0, -1):
        if count_visible(desc, depth=d, **kw) <= max_nodes:
            return d
    return 0


def resolve(desc, element_id: str) -> list[str]:
    """Description node names behind an SVG element id: ``"node:<name>"`` → ``[name]``,
    ``"scope:<path>"`` / ``"cluster:<path>"`` → every node in that scope (description order)."""
    nodes = _parse(desc)
    kind, sep, key = element_id.partition(":")
    if not sep or kind not in ("node", "scope", "cluster"):
        raise ValueError(f"not a graph element id: {element_id!r} (expected node:/scope:/cluster:)")
    if kind == "node":
        if not any(nd.name == key for nd in nodes):
            raise KeyError(f"no node {key!r} in the graph")
        return [key]
    out = [nd.name for nd in nodes if nd.scope == key or nd.scope.startswith(key + "/")]
    if not out:
        raise KeyError(f"no scope {key!r} in the graph")
    return out


def feeders(desc, node: str) -> list[str]:
    """Every node ``node`` transitively depends on (excluding itself), in description order.
    Used to mark a NaN origin together with what feeds it."""
    nodes = _parse(desc)
    inputs = {nd.name: nd.inputs for nd in nodes}
    if node not in inputs:
        raise KeyError(f"no node {node!r} in the graph")
    seen: set[str] = set()
    stack = list(inputs[node])
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(inputs[n])
    seen.discard(node)
    return [nd.name for nd in nodes if nd.name in seen]


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


def format_value(v: float) -> str:
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.3g}"


# --------------------------------------------------------------------------- DOT text

_SAFE_ID = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")


def _dot_id(s: str) -> str:
    """A DOT ID whose parsed text is exactly ``s`` (so ``<title>`` shows the full name).

    Quoted strings cannot carry a backslash before a quote/newline or at the end, and dot copies
    entity-like text (``&amp;``) into SVG unescaped, so names with a backslash or ``&`` use an
    HTML-string ID, whose content dot keeps literally (entity-escaped, as SVG needs it)."""
    if "\\" in s or "&" in s:
        return "<" + s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + ">"
    if _SAFE_ID.match(s) and s.lower() not in ("node", "edge", "graph", "digraph", "subgraph"):
        return s
    return '"' + s.replace('"', '\\"') + '"'


def _esc(s: str, label: bool = True) -> str:
    """An escString attribute value that renders exactly as ``s``.

    ``&`` is pre-escaped because dot decodes entities in labels and passes entity-like text
    through to SVG ``id``s verbatim. Labels turn newlines into ``\\n`` line breaks; other
    attributes (``id``) get character references, since XML turns raw ones into spaces."""
    s = s.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
    if label:
        return '"' + s.replace("\r", "").replace("\n", "\\n") + '"'
    return '"' + s.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + '"'


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _attrs(d: Mapping[str, object]) -> str:
    parts = []
    for k, v in d.items():
        if isinstance(v, _Raw):
            parts.append(f"{k}={v.text}")
        elif isinstance(v, int | float) and not isinstance(v, bool):
            parts.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
        else:
            parts.append(f"{k}={_esc(str(v), label=k == 'label')}")
    return "[" + " ".join(parts) + "]"


@dataclass(frozen=True)
class _Raw:
    text: str


def _names(what: str, items, plan: _Plan) -> set[tuple[str, str]]:
    """Node names or scope paths → the visible elements they end up as."""
    if isinstance(items, str):
        items = [items]
    out: set[tuple[str, str]] = set()
    for it in items:
        if it in plan.owner:
            out.add(plan.visible_of(it))
        elif isinstance(it, str) and it.strip("/") in plan.table:
            p = it.strip("/")
            hit = next((s for s in _ancestors(p) if s in plan.folded), None)
            out.add(("scope", hit) if hit else ("cluster", p))
        else:
            raise ValueError(f"{what}: {it!r} is neither a node nor a scope of the graph")
    return out


# Layout settings for big graphs, measured in benchmarks/render.py: capping network-simplex
# positioning (nslimit) bounds dot's time; above LINE_THRESHOLD drawn nodes straight edges also
# skip spline routing, which dominates (minutes) on dense expanded graphs. mclimit and
# remincross=false were measured too and do not pay off (remincross=false is 4× slower).
FAST_LAYOUT = {"nslimit": 0.2}
FAST_THRESHOLD = 300  # visible nodes above which FAST_LAYOUT applies when fast=None
LINE_THRESHOLD = 400  # ... and above which fast layouts use splines=line


def to_dot(
    desc,
    *,
    collapse=(),
    depth: int | None = None,
    show_gradients: bool = False,
    values: Mapping[str, float] | None = None,
    value_label: str = "",
    value_log: bool = False,
    marked=(),
    highlight=(),
    legend: bool = True,
    expand=(),
    rankdir: str = "TB",
    edge_labels: bool = True,
    fast: bool | None = None,
    max_fan: int | None = 12,
) -> str:
    """DOT text for a graph description; the same arguments always give the same text.

    ``values`` (node name → float) colours nodes on a viridis scale (``value_log`` for log10);
    a folded scope shows the largest finite value inside, or NaN/Inf if any is non-finite.
    ``marked`` (e.g. a NaN origin and its feeders) is drawn red and doubled; ``highlight``
    (e.g. the selected node) gets a thick blue outline; both accept node names or scope paths
    and mark the folded scope that hides them. ``expand`` keeps scopes (and their parents)
    open despite ``depth``/default folding. An element with more than ``max_fan`` distinct
    neighbours on one side (a hub) gets those edges bundled per outermost foreign cluster
    (``ltail``/``lhead``, class ``fl-bundled``); ``None`` never bundles. Gradient → gradient
    edges are laid out reversed (drawn with ``dir=back``) so each gradient sits next to the
    forward op it belongs to instead of below the whole model. ``fast`` applies
    ``FAST_LAYOUT`` (default: when more than ``FAST_THRESHOLD`` nodes are drawn), plus straight
    edges above ``LINE_THRESHOLD`` drawn nodes.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB, LR, BT or RL, got {rankdir!r}")
    plan = _plan(desc, collapse, depth, show_gradients, expand)
    by_name = {nd.name: nd for nd in plan.nodes}
    marked_set = _names("marked", marked, plan)
    highlight_set = _names("highlight", highlight, plan)

    scale = None
    node_values: dict[str, float] = {}
    scope_values: dict[str, float] = {}
    if values is not None:
        if not isinstance(values, Mapping):
            raise TypeError(f"values must map node names to numbers, got {type(values).__name__}")
        for k, v in values.items():
            if k not in by_name:
                raise ValueError(f"values: {k!r} is not a node of the graph")
            try:
                node_values[k] = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"values: {k!r} has non-numeric value {v!r}") from None
        scale = color_scale(node_values, log=value_log)
        inside: dict[str, list[float]] = {}
        for k, v in node_values.items():
            if plan.owner[k] is not None:
                inside.setdefault(plan.owner[k], []).append(v)
        for s, vs in inside.items():
            bad = [v for v in vs if not math.isfinite(v)]
            scope_values[s] = bad[0] if bad else max(vs)

    # Visible elements grouped by the cluster (scope path) that draws them.
    members: dict[str, list[tuple[str, str]]] = {}
    for nd in plan.nodes:
        s = plan.owner[nd.name]
        if s is None:
            members.setdefault(nd.scope, []).append(("node", nd.name))
        elif ("scope", s) not in members.setdefault(_scope_of(s), []):
            members[_scope_of(s)].append(("scope", s))
    visible_count = sum(len(v) for v in members.values())
    if fast is None:
        fast = visible_count > FAST_THRESHOLD

    # Folded scope node IDs: the scope path, unless a node already has that name.
    scope_ids = {s: (s + "/" if s in by_name else s) for s in plan.folded}

    def elem_id(el: tuple[str, str]) -> str:
        return el[1] if el[0] == "node" else scope_ids[el[1]]

    def decorate(attrs: dict, el: tuple[str, str]) -> None:
        if el in marked_set:
            attrs.update(color=_MARK_COLOR, penwidth=2.5, peripheries=2)
            attrs["class"] = str(attrs["class"]) + " fl-marked"
        if el in highlight_set:
            attrs.update(color=_HIGHLIGHT_COLOR, penwidth=3.5)
            attrs["class"] = str(attrs["class"]) + " fl-highlight"

    def value_fill(attrs: dict, v: float | None) -> None:
        if scale is None:
            return
        if v is None:
            attrs["fillcolor"] = _NO_VALUE_FILL
            return
        attrs["fillcolor"] = scale.color(v)
        attrs["fontcolor"] = scale.text_color(v)

    def node_line(el: tuple[str, str], indent: str) -> str:
        if el[0] == "node":
            nd = by_name[el[1]]
            attrs: dict[str, object] = dict(_KIND_STYLE[nd.kind])
            short = _short(nd)
            label = short if short == nd.op else f"{short}\n{nd.op}"
            v = node_values.get(nd.name)
            if v is not None:
                label += f"\n{format_value(v)}"
            attrs["label"] = label
            attrs["id"] = "node:" + nd.name
            attrs["class"] = f"fl-node fl-kind-{nd.kind}"
        else:
            path = el[1]
            info = plan.table[path]
            attrs = dict(_SCOPE_STYLE)
            noun = "op" if info.count == 1 else "ops"
            label = f"{path.rpartition('/')[2]}\n{info.count} {noun}"
            v = scope_values.get(path)
            if v is not None:
                label += f"\nmax {format_value(v)}"
            attrs["label"] = label
            attrs["id"] = "scope:" + path
            attrs["class"] = "fl-scope"
        value_fill(attrs, v)
        decorate(attrs, el)
        return f"{indent}{_dot_id(elem_id(el))} {_attrs(attrs)};"

    out: list[str] = ["digraph flowlog {"]
    gattrs = {
        "rankdir": _Raw(rankdir),
        "compound": _Raw("true"),
        "fontname": "Helvetica",
        "fontsize": 11,
        "nodesep": 0.25,
        "ranksep": 0.4,
        "labeljust": _Raw("l"),
        "bgcolor": _Raw("transparent"),
    }
    if fast:
        gattrs.update(
            {k: _Raw(str(v)) if isinstance(v, str) else v for k, v in FAST_LAYOUT.items()}
        )
        if visible_count > LINE_THRESHOLD:
            gattrs["splines"] = _Raw("line")
    out.append("  graph " + _attrs(gattrs) + ";")
    out.append(
        '  node [fontname="Helvetica" fontsize=10 margin="0.08,0.03" height=0.3 penwidth=1.2'
        ' color="#4d4d4d"];'
    )
    out.append('  edge [fontname="Helvetica" fontsize=8 color="#707070" arrowsize=0.6];')

    # Clusters nest by scope path; child scopes in first-appearance order.
    children: dict[str, list[str]] = {}
    for s in members:
        for a in _ancestors(s):
            parent = _scope_of(a)
            lst = children.setdefault(parent, [])
            if a not in lst:
                lst.append(a)

    def emit(scope: str, indent: str) -> None:
        for el in members.get(scope, []):
            out.append(node_line(el, indent))
        for child in children.get(scope, []):
            cattrs: dict[str, object] = {
                "label": child,
                "id": "cluster:" + child,
                "class": "fl-cluster",
                "style": _Raw('"rounded,filled"'),
                "fillcolor": "#f7f9fc" if child.count("/") % 2 == 0 else "#eef2f8",
                "color": "#9aa8bd",
                "fontcolor": "#3a4a63",
                "fontsize": 10,
            }
            if ("cluster", child) in marked_set:
                cattrs.update(color=_MARK_COLOR, penwidth=2.5)
            if ("cluster", child) in highlight_set:
                cattrs.update(color=_HIGHLIGHT_COLOR, penwidth=3)
            out.append(f"{indent}subgraph {_dot_id('cluster:' + child)} {{")
            out.append(f"{indent}  graph {_attrs(cattrs)};")
            emit(child, indent + "  ")
            out.append(f"{indent}}}")

    emit("", "  ")

    # Edges (input → consumer) between visible elements, in description order.
    raw: list[tuple[tuple[str, str], tuple[str, str], _Node]] = []
    for nd in plan.nodes:
        dst = plan.visible_of(nd.name)
        for inp in nd.inputs:
            src = plan.visible_of(inp)
            if src != dst:
                raw.append((src, dst, by_name[inp]))

    # Hubs (e.g. a folded `gradients` scope fed by every layer) would need one long edge per
    # neighbour, and dot's time explodes with long edges (each becomes a chain of virtual
    # nodes). Their edges are bundled per outermost cluster of the other end instead.
    hub_in: set[tuple[str, str]] = set()
    hub_out: set[tuple[str, str]] = set()
    if max_fan is not None:
        ins: dict[tuple[str, str], set] = {}
        outs: dict[tuple[str, str], set] = {}
        for src, dst, _ in raw:
            ins.setdefault(dst, set()).add(src)
            outs.setdefault(src, set()).add(dst)
        hub_in = {e for e, v in ins.items() if len(v) > max_fan}
        hub_out = {e for e, v in outs.items() if len(v) > max_fan}

    def cluster_of(el: tuple[str, str]) -> str:
        return by_name[el[1]].scope if el[0] == "node" else _scope_of(el[1])

    def bundle(other: tuple[str, str], hub: tuple[str, str]) -> str | None:
        """Outermost cluster that holds ``other`` but not ``hub``."""
        hub_c = cluster_of(hub)
        for a in _ancestors(cluster_of(other)):
            if hub_c != a and not hub_c.startswith(a + "/"):
                return a
        return None

    edges: dict[tuple, list] = {}  # key -> [src, dst, ltail, lhead, tensors]
    for k, (src, dst, tensor) in enumerate(raw):
        ltail = bundle(src, dst) if dst in hub_in else None
        lhead = bundle(dst, src) if src in hub_out else None
        if ltail is None and lhead is None and src[0] == "node" and dst[0] == "node":
            key: tuple = ("single", k)  # plain node → node: one edge per input
        else:
            key = (("cluster", ltail) if ltail else src, ("cluster", lhead) if lhead else dst)
        if key in edges:
            edges[key][4].append(tensor)
        else:
            edges[key] = [src, dst, ltail, lhead, [tensor]]
    for key, (src, dst, ltail, lhead, tensors) in edges.items():
        n = len(tensors)
        attrs: dict[str, object] = {"class": "fl-edge"}
        if key[0] != "single":
            attrs["class"] = "fl-edge fl-merged" + (" fl-bundled" if ltail or lhead else "")
        if ltail:
            attrs["ltail"] = "cluster:" + ltail
        if lhead:
            attrs["lhead"] = "cluster:" + lhead
        if n > 1:
            attrs["label"] = f"{n} edges"
            attrs["penwidth"] = round(min(4.0, 1 + math.log2(n) / 2), 2)
        elif edge_labels and shape_label(tensors[0].shape):
            attrs["label"] = shape_label(tensors[0].shape)
        if key[0] == "single" and by_name[src[1]].kind == by_name[dst[1]].kind == "gradient":
            attrs["dir"] = "back"
            src, dst = dst, src
        out.append(f"  {_dot_id(elem_id(src))} -> {_dot_id(elem_id(dst))} {_attrs(attrs)};")

    if legend:
        out.extend(_legend(plan, scale, value_label, bool(marked_set), bool(highlight_set)))
    out.append("}")
    return "\n".join(out) + "\n"


def _legend(plan: _Plan, scale, value_label: str, marked: bool, highlight: bool) -> list[str]:
    """One HTML-table node in its own cluster: kinds present, folded scopes, overlays."""
    rows = []
    shapes = {
        "op": "rounded box",
        "variable": "ellipse",
        "placeholder": "house",
        "constant": "note",
        "gradient": "dashed box",
        "optimizer": "tag",
    }
    kinds_present = [
        k for k in KINDS if any(nd.kind == k for nd in plan.nodes if not plan.owner[nd.name])
    ]
    for k in kinds_present:
        fill = _KIND_STYLE[k]["fillcolor"] if scale is None else _NO_VALUE_FILL
        rows.append((fill, f"{k} ({shapes[k]})"))
    if plan.folded:
        rows.append((_SCOPE_STYLE["fillcolor"], "folded scope (3-D box, op count)"))
    cells = [
        f'<TR><TD BGCOLOR="{fill}" WIDTH="18" BORDER="1"> </TD>'
        f'<TD ALIGN="LEFT">{_html(text)}</TD></TR>'
        for fill, text in rows
    ]
    if marked:
        cells.append(
            f'<TR><TD BORDER="2" COLOR="{_MARK_COLOR}"> </TD><TD ALIGN="LEFT">marked</TD></TR>'
        )
    if highlight:
        cells.append(
            f'<TR><TD BORDER="2" COLOR="{_HIGHLIGHT_COLOR}"> </TD>'
            f'<TD ALIGN="LEFT">highlighted</TD></TR>'
        )
    if scale is not None:
        title = _html(value_label or "value") + (" (log scale)" if scale.log else "")
        cells.append(f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{title}</B></TD></TR>')
        # one value spans no range: one stop, not five identical labels
        stops = [] if scale.empty else scale.stops(5 if scale.vmax > scale.vmin else 1)
        for v, c in reversed(stops):
            cells.append(
                f'<TR><TD BGCOLOR="{c}" WIDTH="18"> </TD>'
                f'<TD ALIGN="LEFT">{_html(format_value(v))}</TD></TR>'
            )
        cells.append(
            f'<TR><TD BGCOLOR="{NAN_COLOR}" WIDTH="18"> </TD><TD ALIGN="LEFT">NaN / Inf</TD></TR>'
        )
        cells.append(
            f'<TR><TD BGCOLOR="{_NO_VALUE_FILL}" WIDTH="18" BORDER="1"> </TD>'
            '<TD ALIGN="LEFT">no value</TD></TR>'
        )
    if not cells:
        return []
    table = (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
        '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>Legend</B></TD></TR>' + "".join(cells) + "</TABLE>>"
    )
    taken = {nd.name for nd in plan.nodes} | set(plan.folded)
    lid = "fl-legend"
    while lid in taken:
        lid += "_"
    return [
        f"  subgraph {_dot_id('cluster:' + lid)} {{",
        '    graph [label="" style="rounded" color="#c8c8c8" id="fl-legend" class="fl-legend"];',
        f'    {_dot_id(lid)} [shape=plaintext style="" id="fl-legend-table" class="fl-legend"'
        f" label={table}];",
        "  }",
    ]


# --------------------------------------------------------------------------- running dot


def run_dot(dot_text: str, format: str = "svg") -> bytes:
    """Run Graphviz's ``dot`` on DOT text; ``DotNotFound`` with an install hint if missing."""
    import subprocess

    import graphviz

    if format not in ("svg", "png", "pdf", "dot"):
        raise ValueError(f"unknown output format {format!r}; use one of svg, png, pdf, dot")
    try:
        return graphviz.pipe("dot", format, dot_text.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound as e:
        raise DotNotFound(INSTALL_HINT) from e
    except subprocess.CalledProcessError as e:
        msg = (e.stderr or b"").decode("utf-8", "replace").strip() or f"exit status {e.returncode}"
        raise DotError(f"dot failed: {msg}") from None


def render(desc, format: str = "svg", **options) -> bytes:
    """Render a description: ``format`` is ``svg``, ``png``, ``pdf`` or ``dot`` (DOT text
    itself, without running Graphviz). ``options`` are those of ``to_dot``."""
    if format not in FORMATS:
        raise ValueError(f"unknown output format {format!r}; use one of {', '.join(FORMATS)}")
    text = to_dot(desc, **options)
    if format == "dot":
        return text.encode("utf-8")
    return run_dot(text, format)
