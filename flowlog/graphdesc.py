"""The plain graph description (contract 1): the one check every producer and consumer shares.

Dependency-free on purpose: the writer validates descriptions from any framework without
importing the engine, and the renderer validates what it reads from a log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

FORMAT = "flowlog.graph/1"
KINDS = ("op", "variable", "placeholder", "constant", "gradient", "optimizer")


def check_nodes(desc: object) -> list[Mapping]:
    """Validate ``desc`` structurally and return its node dicts; errors name the bad node.

    Only ``name``, ``op`` and ``inputs`` are required per node; optional fields are checked
    when present.
    """
    if not isinstance(desc, Mapping):
        raise TypeError(f"graph description must be a dict, got {type(desc).__name__}")
    fmt = desc.get("format", FORMAT)
    if fmt != FORMAT:
        raise ValueError(f"unsupported graph description format {fmt!r} (expected {FORMAT!r})")
    nodes = desc.get("nodes")
    if not isinstance(nodes, list):
        raise ValueError("graph description needs a 'nodes' list")
    names: set[str] = set()
    for i, node in enumerate(nodes):
        if not isinstance(node, Mapping):
            raise TypeError(f"graph node #{i} must be a dict, got {type(node).__name__}")
        name = node.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"graph node #{i} has no 'name' (a non-empty string), got {name!r}")
        if name in names:
            raise ValueError(f"graph node name {name!r} appears more than once (duplicate)")
        names.add(name)
        if not isinstance(node.get("op"), str) or not node["op"]:
            raise ValueError(f"graph node {name!r} has no 'op' (a non-empty string)")
        inputs = node.get("inputs", [])
        if not isinstance(inputs, list | tuple) or not all(isinstance(x, str) for x in inputs):
            raise ValueError(f"graph node {name!r}: 'inputs' must be a list of node names")
        kind = node.get("kind")
        if kind is not None and kind not in KINDS:
            expected = ", ".join(KINDS)
            raise ValueError(f"graph node {name!r} has unknown kind {kind!r} (expected {expected})")
        shape = node.get("shape")
        if shape is not None and (
            not isinstance(shape, list | tuple)
            or not all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape)
        ):
            raise ValueError(
                f"graph node {name!r}: 'shape' must be a list of ints/null, got {shape!r}"
            )
        for key in ("scope", "dtype"):
            if node.get(key) is not None and not isinstance(node[key], str):
                raise ValueError(f"graph node {name!r}: {key!r} must be a string")
        if node.get("attrs") is not None and not isinstance(node["attrs"], Mapping):
            raise ValueError(f"graph node {name!r}: 'attrs' must be a dict")
    for node in nodes:
        for src in node.get("inputs", []):
            if src not in names:
                raise ValueError(
                    f"graph node {node['name']!r} has input {src!r} that is not a node of the graph"
                )
    trainable = desc.get("trainable", [])
    if not isinstance(trainable, list) or any(t not in names for t in trainable):
        raise ValueError(f"graph 'trainable' must list node names, got {trainable!r}")
    gradient_of = desc.get("gradient_of", {})
    if not isinstance(gradient_of, Mapping) or any(
        k not in names or v not in names for k, v in gradient_of.items()
    ):
        raise ValueError(f"graph 'gradient_of' must map node names to node names: {gradient_of!r}")
    return nodes


def validate(desc: object) -> dict:
    """Check a description for storing: structure, then JSON-ability; returns a copy with
    ``format`` set."""
    check_nodes(desc)
    out = {"format": FORMAT, **{k: v for k, v in desc.items() if k != "format"}}
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"graph description is not JSON-able: {exc}") from None
    return out
