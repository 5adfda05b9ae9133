"""Reverse-mode differentiation that adds gradient nodes to the graph (``fl.gradients``).

Only nodes lying on a path from some ``x`` to some ``y`` are differentiated, and each op's
gradient function is told which inputs need a gradient, so no unused gradient nodes are made.
"""

from __future__ import annotations

import sys
import types

import numpy as np

from flowlog import api
from flowlog.errors import GraphError
from flowlog.graph import Tensor


def _as_list(value, what):
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not isinstance(item, Tensor):
            raise TypeError(f"fl.gradients: {what} must be graph nodes, got {type(item).__name__}")
    return items


def gradients(ys, xs, grad_ys=None, name="gradients") -> list[Tensor | None]:
    """d(sum of ys)/d(x) for each x, as new nodes under the ``gradients`` name scope.

    Returns one entry per x: ``None`` when no y depends on that x (as TensorFlow does).
    ``grad_ys`` optionally gives the upstream gradient of each y (default: ones).
    """
    ys = _as_list(ys, "ys")
    xs = _as_list(xs, "xs")
    if not ys:
        raise ValueError("fl.gradients: ys is empty")
    graph = ys[0].graph
    for t in ys + xs:
        if t.graph is not graph:
            raise GraphError(
                f"fl.gradients: {t.name!r} belongs to a different graph than {ys[0].name!r}"
            )
    for y in ys:
        if y.dtype is None or y.dtype.kind != "f":
            raise TypeError(
                f"fl.gradients: y {y.name!r} has dtype {y.dtype}; only floating "
                "nodes can be differentiated"
            )
    if grad_ys is not None:
        grad_ys = list(grad_ys) if isinstance(grad_ys, (list, tuple)) else [grad_ys]
        if len(grad_ys) != len(ys):
            raise ValueError(f"fl.gradients: {len(grad_ys)} grad_ys for {len(ys)} ys")

    # ancestors of ys, then the part of them that depends on some x
    ancestors: set[Tensor] = set()
    stack = list(ys)
    while stack:
        node = stack.pop()
        if node not in ancestors:
            ancestors.add(node)
            stack.extend(node.inputs)
    between = {x for x in xs if x in ancestors}
    if between:
        start = min(x.index for x in between)
        for node in graph.nodes[start:]:
            if node in ancestors and node not in between and any(i in between for i in node.inputs):
                between.add(node)

    results: dict[Tensor, Tensor] = {}
    pending: dict[Tensor, list[Tensor]] = {}
    with graph.name_scope(name), graph._kind_scope("gradient"):
        for i, y in enumerate(ys):
            if y not in between:
                continue
            seed = grad_ys[i] if grad_ys is not None else None
            if seed is None:
                if y.shape is not None and all(d is not None for d in y.shape):
                    seed = api.constant(np.ones(y.shape, y.dtype), name=f"grad_ys_{i}")
                else:
                    seed = api.ones_like(y, name=f"grad_ys_{i}")
            elif not isinstance(seed, Tensor):
                seed = api.constant(np.asarray(seed, dtype=y.dtype), name=f"grad_ys_{i}")
            pending.setdefault(y, []).append(seed)

        for node in sorted(between, key=lambda n: n.index, reverse=True):
            parts = pending.pop(node, None)
            if not parts:
                continue
            need = [
                inp in between and inp.dtype is not None and inp.dtype.kind == "f"
                for inp in node.inputs
            ]
            grad_fn = node.opdef.grad if node.opdef is not None else None
            if len(parts) == 1 and (grad_fn is None or not any(need)):
                results[node] = parts[0]
                continue
            with graph.name_scope(node.name + "_grad"):
                dy = parts[0] if len(parts) == 1 else api.add_n(parts)
                results[node] = dy
                if grad_fn is None or not any(need):
                    continue
                input_grads = grad_fn(node, dy, need)
            for inp, g, n in zip(node.inputs, input_grads, need, strict=False):
                if n and g is not None:
                    pending.setdefault(inp, []).append(g)
    return [results.get(x) for x in xs]


class _CallableModule(types.ModuleType):
    """Importing ``flowlog.gradients`` binds the package attribute ``flowlog.gradients`` to this
    module, shadowing the lazily exported function; calling the module calls the function, so
    ``fl.gradients(ys, xs)`` works either way."""

    def __call__(self, ys, xs, grad_ys=None, name="gradients"):
        return gradients(ys, xs, grad_ys=grad_ys, name=name)


sys.modules[__name__].__class__ = _CallableModule
