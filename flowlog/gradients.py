"""Reverse-mode differentiation that adds gradient nodes to the graph (``fl.gradients``).

Only nodes lying on a path from some ``x`` to some ``y`` are differentiated, and each op's
gradient function is told which inputs need a gradient, so no unused gradient nodes are made.

Broadcasting is undone here, once for every op: an op's ``grad`` states only its own maths
(for a broadcasting op, at the broadcast shape) and :func:`_sum_back` sums each input's
gradient down to that input's shape where the op may have broadcast it. Shapes are compared
statically, so gradients whose shapes provably match get no extra node (no per-step cost);
where unknown dimensions leave it open, an ``UnbroadcastLike`` node reduces at run time and
passes the value through when the shapes turn out equal.
"""

from __future__ import annotations

import sys
import types

import numpy as np

from flowlog.errors import GraphError
from flowlog.graph import Tensor
from flowlog.ops.core import constant, differ, known, make, unbroadcast


def _as_list(value, what):
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not isinstance(item, Tensor):
            raise TypeError(f"fl.gradients: {what} must be graph nodes, got {type(item).__name__}")
    return items


def _check(ys, xs, grad_ys):
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
    if grad_ys is not None and len(grad_ys) != len(ys):
        raise ValueError(f"fl.gradients: {len(grad_ys)} grad_ys for {len(ys)} ys")


def _between(graph, ys, xs) -> set[Tensor]:
    """The nodes on some path from an x to a y (the xs and ys included)."""
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
    return between


def _seed(y, i, given) -> Tensor:
    """The upstream gradient of ``y``: ``given`` (array or node) or ones."""
    if given is None:
        if known(y.shape):
            return constant(np.ones(y.shape, y.dtype), name=f"grad_ys_{i}")
        return make("OnesLike", [y], name=f"grad_ys_{i}")
    if isinstance(given, Tensor):
        return given
    return constant(np.asarray(given, dtype=y.dtype), name=f"grad_ys_{i}")


def gradients(ys, xs, grad_ys=None, name="gradients") -> list[Tensor | None]:
    """d(sum of ys)/d(x) for each x, as new nodes under the ``gradients`` name scope.

    Returns one entry per x: ``None`` when no y depends on that x (as TensorFlow does).
    ``grad_ys`` optionally gives the upstream gradient of each y (default: ones).
    """
    ys = _as_list(ys, "ys")
    xs = _as_list(xs, "xs")
    if not ys:
        raise ValueError("fl.gradients: ys is empty")
    if grad_ys is not None:
        grad_ys = list(grad_ys) if isinstance(grad_ys, (list, tuple)) else [grad_ys]
    _check(ys, xs, grad_ys)
    graph = ys[0].graph
    between = _between(graph, ys, xs)

    results: dict[Tensor, Tensor] = {}
    pending: dict[Tensor, list[Tensor]] = {}
    with graph.as_default(), graph.name_scope(name), graph._kind_scope("gradient"):
        for i, y in enumerate(ys):
            if y in between:
                given = grad_ys[i] if grad_ys is not None else None
                pending.setdefault(y, []).append(_seed(y, i, given))

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
                dy = parts[0] if len(parts) == 1 else make("AddN", parts)
                results[node] = dy
                if grad_fn is None or not any(need):
                    continue
                input_grads = grad_fn(node, dy, need)
                for i, (g, n) in enumerate(zip(input_grads, need, strict=True)):
                    if n and g is not None:
                        pending.setdefault(node.inputs[i], []).append(_sum_back(node, i, g))
    return [results.get(x) for x in xs]


# ====================================================================== central unbroadcast
def _sum_back(node: Tensor, i: int, g: Tensor) -> Tensor:
    """``g``, the gradient for input ``i`` of ``node``, summed down to that input's shape.

    No node is added when the static shapes prove it unnecessary: both fully known and equal,
    or (for a broadcasting op) the other inputs' shapes show input ``i`` cannot have been
    broadcast. Shapes that provably differ are always reduced, whatever the op.
    """
    x = node.inputs[i]
    if known(x.shape) and g.shape == x.shape:
        return g
    if differ(g.shape, x.shape) or (node.opdef.broadcasting and _may_broadcast(node, i)):
        return unbroadcast(g, x)
    return g


def _may_broadcast(node: Tensor, i: int) -> bool:
    """False when input ``i`` provably has the op's broadcast shape.

    That holds when every other input has no more dimensions, and each of their dimensions
    (aligned from the right, leaving out the op's ``core_rank`` trailing ones) is 1 or a known
    size equal to input ``i``'s.
    """
    x = node.inputs[i]
    if x.shape is None:
        return True
    core = node.opdef.core_rank
    for j, other in enumerate(node.inputs):
        if j == i:
            continue
        if other.shape is None or len(other.shape) > len(x.shape):
            return True
        dims = other.shape[: len(other.shape) - core]
        for k in range(1, len(dims) + 1):
            d, o = x.shape[-k - core], dims[-k]
            if o != 1 and (d is None or d != o):
                return True
    return False


class _CallableModule(types.ModuleType):
    """Importing ``flowlog.gradients`` binds the package attribute ``flowlog.gradients`` to this
    module, shadowing the lazily exported function; calling the module calls the function, so
    ``fl.gradients(ys, xs)`` works either way."""

    def __call__(self, ys, xs, grad_ys=None, name="gradients"):
        return gradients(ys, xs, grad_ys=grad_ys, name=name)


sys.modules[__name__].__class__ = _CallableModule
