"""Renderer fold stage: which element each description node is drawn as, and the edges between
those elements (merged across folded borders, bundled at hubs).

An *element* is a tuple ``(kind, key)``: ``("node", name)`` for a visible description node,
``("scope", path)`` for a folded scope drawn as one node, ``("cluster", path)`` for an open scope
(only ever the target of ``marked``/``highlight``). Tuples rather than objects: big graphs make
hundreds of thousands of them and they are dict keys everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from flowlog.render_desc import (
    Node,
    ScopeInfo,
    ancestors,
    machinery_scopes,
    parse,
    scope_of,
    scope_table,
)

Element = tuple[str, str]


@dataclass
class Plan:
    """The folding decision for one set of options."""

    nodes: list[Node]
    table: dict[str, ScopeInfo]
    folded: list[str]  # outermost folded scopes only, first-appearance order
    owner: dict[str, str | None]  # node name -> folded scope holding it (None: visible)

    @functools.cached_property
    def by_name(self) -> dict[str, Node]:
        return {nd.name: nd for nd in self.nodes}

    def visible_of(self, name: str) -> Element:
        """The element a description node is drawn as."""
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


def make_plan(desc, collapse=(), depth=None, show_gradients=False, expand=()) -> Plan:
    """Parse ``desc`` and decide what folds. ``collapse`` always folds; ``depth`` and the
    default machinery folding give way to ``expand`` (which opens a scope and its parents)."""
    nodes = parse(desc)
    return _decide(nodes, scope_table(nodes), collapse, depth, show_gradients, expand)


def _decide(
    nodes: list[Node], table: dict[str, ScopeInfo], collapse, depth, show_gradients, expand
) -> Plan:
    """``make_plan`` on an already parsed description (``auto_depth`` tries several depths)."""
    explicit = set(_check_scopes("collapse", collapse, table))
    opened: set[str] = set()
    for p in _check_scopes("expand", expand, table):
        opened.update(ancestors(p))
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        raise ValueError(f"depth must be a non-negative integer or None, got {depth!r}")
    implicit: set[str] = set()
    if not show_gradients:
        implicit.update(machinery_scopes(table))
    if depth is not None:
        implicit.update(s for s, info in table.items() if info.level > depth)
    want = explicit | (implicit - opened)
    owner: dict[str, str | None] = {}
    folded: dict[str, None] = {}  # insertion-ordered set
    for nd in nodes:
        hit = next((s for s in ancestors(nd.scope) if s in want), None)
        owner[nd.name] = hit
        if hit is not None:
            folded[hit] = None
    return Plan(nodes, table, list(folded), owner)


def resolve_marks(what: str, items, plan: Plan) -> set[Element]:
    """Node names or scope paths (``marked``/``highlight``) → the elements that show them: a
    hidden node or scope marks the folded scope holding it, an open scope its cluster."""
    if isinstance(items, str):
        items = [items]
    out: set[Element] = set()
    for it in items:
        if it in plan.owner:
            out.add(plan.visible_of(it))
        elif isinstance(it, str) and it.strip("/") in plan.table:
            p = it.strip("/")
            hit = next((s for s in ancestors(p) if s in plan.folded), None)
            out.add(("scope", hit) if hit else ("cluster", p))
        else:
            raise ValueError(f"{what}: {it!r} is neither a node nor a scope of the graph")
    return out


# --------------------------------------------------------------------------- dashboard helpers


def fold(desc, *, collapse=(), depth=None, show_gradients=False, expand=()) -> dict[str, str]:
    """Which element each description node is drawn as: name → ``"node:<name>"`` or
    ``"scope:<path>"`` (the SVG ``id`` of its visible node) under these folding options."""
    plan = make_plan(desc, collapse, depth, show_gradients, expand)
    return {nd.name: ":".join(plan.visible_of(nd.name)) for nd in plan.nodes}


def count_visible(desc, *, collapse=(), depth=None, show_gradients=False, expand=()) -> int:
    """Number of nodes drawn (visible description nodes + folded scopes)."""
    return layout(make_plan(desc, collapse, depth, show_gradients, expand)).visible_count


def auto_depth(desc, max_nodes: int = 400, *, collapse=(), show_gradients=False) -> int | None:
    """Deepest fold depth that draws at most ``max_nodes`` nodes; ``None`` if the whole graph
    fits expanded, ``0`` if even folding every top-level scope does not fit."""
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be positive, got {max_nodes!r}")
    nodes = parse(desc)  # once, not once per depth tried
    table = scope_table(nodes)

    def fits(depth: int | None) -> bool:
        plan = _decide(nodes, table, collapse, depth, show_gradients, ())
        return layout(plan).visible_count <= max_nodes

    if fits(None):
        return None
    deepest = max((s.level for s in table.values()), default=0)
    return next((d for d in range(deepest - 1, 0, -1) if fits(d)), 0)


def resolve(desc, element_id: str) -> list[str]:
    """Description node names behind an SVG element id: ``"node:<name>"`` → ``[name]``,
    ``"scope:<path>"`` / ``"cluster:<path>"`` → every node in that scope (description order)."""
    nodes = parse(desc)
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
    nodes = parse(desc)
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


# --------------------------------------------------------------------------- clusters


@dataclass
class Layout:
    """Visible elements grouped by the cluster that draws them."""

    members: dict[str, list[Element]]  # cluster path ("" = top level) -> elements directly in it
    children: dict[str, list[str]]  # cluster path -> child clusters, first-appearance order
    scope_ids: dict[str, str]  # folded scope -> its DOT node id

    @property
    def visible_count(self) -> int:
        return sum(len(v) for v in self.members.values())

    def dot_name(self, el: Element) -> str:
        """The DOT node name of a drawn element (before quoting)."""
        return el[1] if el[0] == "node" else self.scope_ids[el[1]]


def layout(plan: Plan) -> Layout:
    """Cluster membership and nesting of the drawn elements, in description order."""
    members: dict[str, list[Element]] = {}
    placed: set[str] = set()  # folded scopes already in their parent's list
    for nd in plan.nodes:
        s = plan.owner[nd.name]
        if s is None:
            members.setdefault(nd.scope, []).append(("node", nd.name))
        elif s not in placed:
            placed.add(s)
            members.setdefault(scope_of(s), []).append(("scope", s))
    children: dict[str, list[str]] = {}
    for s in members:
        for a in ancestors(s):
            lst = children.setdefault(scope_of(a), [])
            if a not in lst:
                lst.append(a)
    # A folded scope's node is named by its path, unless a node already has that very name.
    names = plan.by_name
    scope_ids = {s: (s + "/" if s in names else s) for s in plan.folded}
    return Layout(members, children, scope_ids)


# --------------------------------------------------------------------------- edges


@dataclass(slots=True)
class Edge:
    """One drawn edge; ``tensors`` are the description inputs it stands for (several when
    merged). ``ltail``/``lhead`` name the cluster a hub bundle starts/ends at."""

    src: Element
    dst: Element
    ltail: str | None
    lhead: str | None
    tensors: list[Node]
    merged: bool  # stands for every input between its two ends, not one input
    reverse: bool = False  # gradient → gradient: laid out backwards (drawn with dir=back)


def _raw_edges(plan: Plan) -> list[tuple[Element, Element, Node]]:
    """(input's element, consumer's element, input node) per input, in description order;
    inputs inside one folded scope vanish."""
    by_name = plan.by_name
    raw = []
    for nd in plan.nodes:
        dst = plan.visible_of(nd.name)
        for inp in nd.inputs:
            src = plan.visible_of(inp)
            if src != dst:
                raw.append((src, dst, by_name[inp]))
    return raw


def _hubs(raw, max_fan: int | None) -> tuple[set[Element], set[Element]]:
    """Elements with more than ``max_fan`` distinct sources (first set) / destinations."""
    if max_fan is None:
        return set(), set()
    ins: dict[Element, set] = {}
    outs: dict[Element, set] = {}
    for src, dst, _ in raw:
        ins.setdefault(dst, set()).add(src)
        outs.setdefault(src, set()).add(dst)
    return (
        {e for e, v in ins.items() if len(v) > max_fan},
        {e for e, v in outs.items() if len(v) > max_fan},
    )


def _cluster_of(plan: Plan, el: Element) -> str:
    return plan.by_name[el[1]].scope if el[0] == "node" else scope_of(el[1])


def _bundle(plan: Plan, other: Element, hub: Element) -> str | None:
    """Outermost cluster that holds ``other`` but not ``hub``."""
    hub_c = _cluster_of(plan, hub)
    for a in ancestors(_cluster_of(plan, other)):
        if hub_c != a and not hub_c.startswith(a + "/"):
            return a
    return None


def edges(plan: Plan, max_fan: int | None) -> list[Edge]:
    """The drawn edges, in order of first input. Node → node inputs stay one edge each; inputs
    touching a folded scope merge per pair of ends.

    Hubs (e.g. a folded ``gradients`` scope fed by every layer) would need one long edge per
    neighbour, and dot's time explodes with long edges (each becomes a chain of virtual nodes),
    so a hub's edges merge per outermost cluster of the other end instead."""
    raw = _raw_edges(plan)
    hub_in, hub_out = _hubs(raw, max_fan)
    by_name = plan.by_name
    out: dict[tuple, Edge] = {}
    for k, (src, dst, tensor) in enumerate(raw):
        ltail = _bundle(plan, src, dst) if dst in hub_in else None
        lhead = _bundle(plan, dst, src) if src in hub_out else None
        if ltail is None and lhead is None and src[0] == "node" and dst[0] == "node":
            # plain node → node: one edge per input, never merged
            back = by_name[src[1]].kind == by_name[dst[1]].kind == "gradient"
            out[("single", k)] = Edge(src, dst, None, None, [tensor], False, back)
            continue
        key = (("cluster", ltail) if ltail else src, ("cluster", lhead) if lhead else dst)
        if key in out:
            out[key].tensors.append(tensor)
        else:
            out[key] = Edge(src, dst, ltail, lhead, [tensor], True)
    return list(out.values())
