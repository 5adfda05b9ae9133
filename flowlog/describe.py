"""Graph ⇄ plain JSON-able description (contract 1 of docs/architecture.md).

``describe_graph`` is deterministic: nodes in creation order, attributes with sorted keys, only
JSON types. Non-finite floats in small constant values are written as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` so the result is strict JSON.
"""

from __future__ import annotations

import math

import numpy as np

from flowlog.errors import GraphError
from flowlog.graph import Graph, Tensor
from flowlog.graphdesc import KINDS

FORMAT = "flowlog.graph/1"
_MAX_VALUE_ELEMENTS = 16


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, np.dtype):
        return value.name
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def describe_node(node: Tensor) -> dict:
    attrs = dict(node.attrs)
    if node.kind in ("constant", "gradient", "optimizer") and node.op == "Const":
        if node.value is not None and node.value.size <= _MAX_VALUE_ELEMENTS:
            attrs["value"] = node.value
    return {
        "name": node.name,
        "op": node.op,
        "inputs": [i.name for i in node.inputs],
        "scope": node.scope,
        "shape": None
        if node.shape is None
        else [None if d is None else int(d) for d in node.shape],
        "dtype": None if node.dtype is None else node.dtype.name,
        "kind": node.kind,
        "attrs": _jsonable(attrs),
    }


def describe_graph(graph: Graph) -> dict:
    """The graph as ``{"format", "nodes", "trainable", "gradient_of"}`` (all JSON-able)."""
    if not isinstance(graph, Graph):
        raise TypeError(f"describe_graph needs a flowlog Graph, got {type(graph).__name__}")
    desc = {"format": FORMAT, "nodes": [describe_node(n) for n in graph.nodes]}
    desc["trainable"] = [v.name for v in graph.trainable_variables()]
    desc["gradient_of"] = {k: g.name for k, g in sorted(graph.gradient_of.items())}
    return desc


class _DisplayNode(Tensor):
    """A node of a rebuilt graph: name, op, inputs, shape, dtype, kind and attrs; no kernel."""

    __slots__ = ()


def graph_from_description(desc: dict) -> Graph:
    """Rebuild a display-only :class:`Graph` (inspectable, not runnable) from a description.

    Only ``name``, ``op`` and ``inputs`` are required per node; inputs may refer to nodes listed
    later (descriptions written by hand need not be topologically sorted).
    """
    if not isinstance(desc, dict) or not isinstance(desc.get("nodes"), list):
        raise ValueError("a graph description is a dict with a 'nodes' list")
    fmt = desc.get("format", FORMAT)
    if fmt != FORMAT:
        raise ValueError(f"unsupported graph description format {fmt!r} (expected {FORMAT!r})")
    graph = Graph()
    by_name: dict[str, Tensor] = {}
    for i, item in enumerate(desc["nodes"]):
        if not isinstance(item, dict):
            raise ValueError(f"node #{i} of the description is not a dict")
        for field in ("name", "op", "inputs"):
            if field not in item:
                raise ValueError(f"node #{i} ({item.get('name', '?')!r}) has no {field!r}")
        name = item["name"]
        if not isinstance(name, str) or not name:
            raise ValueError(f"node #{i} has an invalid name {name!r}")
        if name in by_name:
            raise ValueError(f"node name {name!r} appears twice in the description")
        kind = item.get("kind", "op")
        if kind not in KINDS:
            raise ValueError(f"node {name!r} has unknown kind {kind!r}")
        shape = item.get("shape")
        node = _DisplayNode()
        node.graph = graph
        node.name = name
        node.op = str(item["op"])
        node.inputs = ()
        node.attrs = dict(item.get("attrs") or {})
        node.shape = None if shape is None else tuple(shape)
        dtype = item.get("dtype")
        node.dtype = None if dtype is None else np.dtype(dtype)
        node.kind = kind
        node.index = i
        node.opdef = None
        node.value = None
        graph.nodes.append(node)
        graph._by_name[name] = node
        graph._names_in_use[name] = 1
        by_name[name] = node
    for item, node in zip(desc["nodes"], graph.nodes, strict=False):
        inputs = item["inputs"]
        if not isinstance(inputs, list):
            raise ValueError(f"node {node.name!r}: 'inputs' must be a list")
        missing = [n for n in inputs if n not in by_name]
        if missing:
            raise ValueError(f"node {node.name!r} has inputs not in the description: {missing}")
        node.inputs = tuple(by_name[n] for n in inputs)
    for name in desc.get("trainable") or []:
        if name not in by_name:
            raise ValueError(f"'trainable' names {name!r}, which is not a node")
        by_name[name].attrs.setdefault("trainable", True)
    for var, grad in (desc.get("gradient_of") or {}).items():
        if grad not in by_name:
            raise ValueError(f"'gradient_of' maps {var!r} to {grad!r}, which is not a node")
        graph.gradient_of[var] = by_name[grad]
    graph.display_only = True
    return graph


__all__ = ["describe_graph", "graph_from_description", "describe_node", "GraphError"]
