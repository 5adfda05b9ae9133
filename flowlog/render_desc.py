"""Renderer input stage: a graph description (contract 1) → validated nodes and the scope tree.

Works on the plain description dict, never on live engine objects, so hand-written descriptions
that only carry ``name``/``op``/``inputs`` per node render too: missing fields are inferred here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from flowlog import graphdesc

KINDS = graphdesc.KINDS

_OP_KINDS = {
    "Variable": "variable",
    "VariableV2": "variable",
    "VarHandleOp": "variable",
    "Placeholder": "placeholder",
    "Const": "constant",
    "Constant": "constant",
}
MACHINERY = frozenset({"gradient", "optimizer"})  # kinds folded away by default


@dataclass(frozen=True)
class Node:
    """One description node with every optional field filled in."""

    name: str
    op: str
    inputs: tuple[str, ...]
    scope: str
    kind: str
    shape: tuple | None


def scope_of(name: str) -> str:
    """Parent scope path of a node name or scope path (``""`` at the top)."""
    return name.rpartition("/")[0]


@functools.lru_cache(maxsize=1 << 16)
def ancestors(scope: str) -> tuple[str, ...]:
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


def parse(desc) -> list[Node]:
    """Validate a description and fill optional fields; errors name the offending node."""
    nodes: list[Node] = []
    for nd in graphdesc.check_nodes(desc):
        name, op = nd["name"], nd["op"]
        scope = nd.get("scope")
        if scope is None:
            scope = scope_of(name)
        shape = nd.get("shape")
        nodes.append(
            Node(
                name,
                op,
                tuple(nd.get("inputs", ())),
                scope,
                nd.get("kind") or _infer_kind(op, scope),
                None if shape is None else tuple(shape),
            )
        )
    return nodes


def short_name(nd: Node) -> str:
    """The node's name inside its scope (what its label shows)."""
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


def scope_table(nodes: list[Node]) -> dict[str, ScopeInfo]:
    """Every scope (parents before children, first-appearance order) → its ``ScopeInfo``."""
    order: list[str] = []
    count: dict[str, int] = {}
    direct: dict[str, int] = {}
    kinds: dict[str, dict[str, int]] = {}
    for nd in nodes:
        for s in ancestors(nd.scope):
            if s not in count:
                order.append(s)
                count[s], direct[s], kinds[s] = 0, 0, {}
            count[s] += 1
            kinds[s][nd.kind] = kinds[s].get(nd.kind, 0) + 1
        if nd.scope:
            direct[nd.scope] += 1
    return {
        s: ScopeInfo(
            s, scope_of(s), s.count("/") + 1, count[s], direct[s], dict(sorted(kinds[s].items()))
        )
        for s in order
    }


def scopes(desc) -> list[ScopeInfo]:
    """The scope tree in first-appearance order (parents before children), with node counts."""
    return list(scope_table(parse(desc)).values())


def machinery_scopes(table: dict[str, ScopeInfo]) -> list[str]:
    """Outermost scopes made only of gradient/optimizer nodes (``gradients``, ``Adam``, …), in
    first-appearance order. ``kinds`` counts recursively, so a pure scope's sub-scopes are pure
    too: the outermost ones are those whose parent is not."""
    pure = {s for s, info in table.items() if info.kinds.keys() <= MACHINERY}
    return [s for s, info in table.items() if s in pure and info.parent not in pure]


def default_collapse(desc) -> list[str]:
    """Scopes folded by default so the model reads first: the gradient/optimizer machinery."""
    return machinery_scopes(scope_table(parse(desc)))
