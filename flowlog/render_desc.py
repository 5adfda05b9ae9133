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
    #: a variable the description says is not trainable (an optimizer's slots and step, a
    #: counter): state, which does not keep a machinery scope from folding
    state: bool = False


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
    listed = isinstance(desc, dict) and "trainable" in desc  # else trainability is unknown
    trainable = set(desc.get("trainable") or ()) if listed else set()
    for nd in graphdesc.check_nodes(desc):
        name, op = nd["name"], nd["op"]
        scope = nd.get("scope")
        if scope is None:
            scope = scope_of(name)
        shape = nd.get("shape")
        kind = nd.get("kind") or _infer_kind(op, scope)
        nodes.append(
            Node(
                name,
                op,
                tuple(nd.get("inputs", ())),
                scope,
                kind,
                None if shape is None else tuple(shape),
                listed and kind == "variable" and name not in trainable,
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
    model: int = 0  # nodes in it and below that are neither machinery nor its state


def scope_table(nodes: list[Node]) -> dict[str, ScopeInfo]:
    """Every scope (parents before children, first-appearance order) → its ``ScopeInfo``."""
    order: list[str] = []
    count: dict[str, int] = {}
    direct: dict[str, int] = {}
    kinds: dict[str, dict[str, int]] = {}
    model: dict[str, int] = {}
    for nd in nodes:
        of_model = nd.kind not in MACHINERY and not nd.state
        for s in ancestors(nd.scope):
            if s not in count:
                order.append(s)
                count[s], direct[s], kinds[s], model[s] = 0, 0, {}, 0
            count[s] += 1
            kinds[s][nd.kind] = kinds[s].get(nd.kind, 0) + 1
            model[s] += of_model
        if nd.scope:
            direct[nd.scope] += 1
    out = {}
    for s in order:
        level, kind_counts = s.count("/") + 1, dict(sorted(kinds[s].items()))
        out[s] = ScopeInfo(s, scope_of(s), level, count[s], direct[s], kind_counts, model[s])
    return out


def scopes(desc) -> list[ScopeInfo]:
    """The scope tree in first-appearance order (parents before children), with node counts."""
    return list(scope_table(parse(desc)).values())


def machinery_scopes(table: dict[str, ScopeInfo]) -> list[str]:
    """Outermost scopes made only of gradient/optimizer nodes (``gradients``, ``Adam``, …) and
    their state (an optimizer's slot and step variables, not trainable), in first-appearance
    order. Counts are recursive, so a pure scope's sub-scopes are pure too: the outermost ones
    are those whose parent is not."""
    pure = {s for s, info in table.items() if info.model == 0 and info.kinds.keys() & MACHINERY}
    return [s for s, info in table.items() if s in pure and info.parent not in pure]


def default_collapse(desc) -> list[str]:
    """Scopes folded by default so the model reads first: the gradient/optimizer machinery."""
    return machinery_scopes(scope_table(parse(desc)))
