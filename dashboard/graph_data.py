"""Pure helpers over a graph description (contract 1) for the Graph view.

Kept free of Dash and of the reader so they are testable with hand-built descriptions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from flowlog import render_style

# Statistics the view can colour nodes by, with how they are shown on the colour scale.
COLOR_STATS = {
    "grad_norm": "gradient norm",
    "value_norm": "value norm",
    "update_ratio": "update / weight ratio",
    "grad_nan": "NaN count in the gradient",
}
# Stats spanning orders of magnitude are coloured on a log scale (when their values do) so one
# layer does not wash out the rest; shared with `flowlog export-graph --color-by`.
LOG_STATS = render_style.LOG_STATS

VANISHING = 1e-7  # gradient norms below this are called out as vanishing
EXPLODING = 1e3  # ... and above this (or non-finite) as exploding


class GraphDescriptionError(ValueError):
    """The stored graph description is not usable (names what is wrong)."""


def check_description(desc) -> list[dict]:
    """Return the node list of ``desc``; raise GraphDescriptionError naming the problem."""
    if not isinstance(desc, Mapping):
        raise GraphDescriptionError(f"graph description must be a dict, got {type(desc).__name__}")
    nodes = desc.get("nodes")
    if not isinstance(nodes, list):
        raise GraphDescriptionError("graph description has no 'nodes' list")
    for i, node in enumerate(nodes):
        if not isinstance(node, Mapping) or not isinstance(node.get("name"), str):
            raise GraphDescriptionError(f"graph description node #{i} has no string 'name'")
    return nodes


def node_index(desc) -> dict[str, dict]:
    return {n["name"]: n for n in check_description(desc)}


def node_scope(node: Mapping) -> str:
    """The node's scope path: the stored ``scope`` or, for hand-written descriptions, its prefix."""
    scope = node.get("scope")
    if isinstance(scope, str):
        return scope
    name = node["name"]
    return name.rsplit("/", 1)[0] if "/" in name else ""


def scope_chain(scope: str) -> list[str]:
    """``"a/b/c"`` -> ``["a", "a/b", "a/b/c"]`` (outermost first)."""
    if not scope:
        return []
    parts = scope.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def all_scopes(desc) -> list[str]:
    """Every scope path that holds at least one node (directly or nested), in first-use order."""
    seen: dict[str, None] = {}
    for node in check_description(desc):
        for s in scope_chain(node_scope(node)):
            seen.setdefault(s, None)
    return list(seen)


def consumers(desc) -> dict[str, list[str]]:
    """node name -> names of nodes that take it as an input (graph order)."""
    nodes = check_description(desc)
    out: dict[str, list[str]] = {n["name"]: [] for n in nodes}
    for node in nodes:
        for inp in node.get("inputs") or ():
            if inp in out and node["name"] not in out[inp]:
                out[inp].append(node["name"])
    return out


def unfold_for(folded: Iterable[str], node: Mapping) -> list[str]:
    """``folded`` minus every scope that would hide ``node`` (it and its enclosing scopes)."""
    chain = set(scope_chain(node_scope(node)))
    return [s for s in folded if s not in chain]


def visible_folded(folded: Iterable[str]) -> list[str]:
    """Drop scopes nested inside another folded scope: only the outermost fold is drawn."""
    folded = list(dict.fromkeys(folded))
    keep = []
    for s in folded:
        if not any(s != o and s.startswith(o + "/") for o in folded):
            keep.append(s)
    return keep


def search(desc, query: str) -> list[str]:
    """Names matching ``query`` (case-insensitive substring), best first.

    Exact name, then exact short name, then suffix, then any substring; graph order within each.
    """
    q = (query or "").strip().lower()
    if not q:
        return []
    ranked: list[tuple[int, int, str]] = []
    for i, node in enumerate(check_description(desc)):
        name = node["name"]
        low = name.lower()
        if q not in low:
            continue
        short = low.rsplit("/", 1)[-1]
        rank = 0 if low == q else 1 if short == q else 2 if low.endswith(q) else 3
        ranked.append((rank, i, name))
    ranked.sort()
    return [name for _, _, name in ranked]


def trainable_order(desc, watched: Iterable[str] = ()) -> list[str]:
    """Trainable variables in graph order: the description's ``trainable`` list if present,
    else its variable nodes; watched nodes missing from the description are appended."""
    nodes = check_description(desc) if desc is not None else []
    names = [n["name"] for n in nodes]
    listed = desc.get("trainable") if isinstance(desc, Mapping) else None
    if isinstance(listed, list) and listed:
        wanted, known = set(listed), set(names)
        order = [n for n in names if n in wanted] + [n for n in listed if n not in known]
    else:
        order = [n["name"] for n in nodes if n.get("kind") == "variable"]
    ordered = set(order)
    return order + [w for w in watched if w not in ordered]


value_at_step = render_style.value_at  # the value at or before a step, as export-graph's


def overlay_values(
    stats_by_node: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], stat: str, step: int
) -> tuple[dict[str, float], list[str]]:
    """Per-node values of ``stat`` at ``step`` (latest logged at or before it) and the nodes whose
    value is non-finite. ``stats_by_node[node][stat] = (steps, values)``. Non-finite values are
    kept: the renderer paints them in its NaN colour rather than leaving them neutral.
    """
    if stat not in COLOR_STATS:
        raise ValueError(f"unknown colour statistic {stat!r}; choose one of {sorted(COLOR_STATS)}")
    values: dict[str, float] = {}
    nonfinite: list[str] = []
    for node, stats in stats_by_node.items():
        if stat not in stats:
            continue
        steps, vals = stats[stat]
        v = value_at_step(steps, vals, step)
        if v is None:
            continue
        values[node] = v
        if not math.isfinite(v):
            nonfinite.append(node)
    return values, nonfinite


def nearest_index(steps: list[int], step) -> int:
    """Index of the watched step closest to ``step`` (0 when there are no steps)."""
    if not steps:
        return 0
    try:
        target = float(step)
    except (TypeError, ValueError):
        return len(steps) - 1
    arr = np.asarray(steps, dtype=float)
    return int(np.argmin(np.abs(arr - target)))
