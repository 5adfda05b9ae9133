"""The op registry, the :class:`Op` protocol, node creation and the shared shape helpers.

Everything that builds nodes below the public API goes through :func:`make` (and
:func:`constant` / :func:`as_node` for literal values), so op gradients need nothing from
:mod:`flowlog.api` and the engine's imports stay one-way: graph ← ops ← api/gradients.

This module also owns the one reduction that undoes broadcasting (``Unbroadcast`` nodes); only
:mod:`flowlog.gradients` decides where it is needed, from the ``broadcasting`` flag of each op.
"""

from __future__ import annotations

import numpy as np

from flowlog.errors import GraphError, ShapeError
from flowlog.graph import Tensor, format_shape, get_default_graph

OPS: dict[str, Op] = {}


class InferError(Exception):
    """Raised by ``infer``; :func:`make` turns it into a :class:`ShapeError` naming the node."""


def register(cls):
    """Class decorator: one instance of the op is its definition, under the class name."""
    OPS[cls.__name__] = cls()
    return cls


class Op:
    """An op definition: ``infer`` (static shape/dtype), ``kernel`` (numpy) and ``grad``.

    * ``infer(inputs, attrs) -> (shape, dtype)`` raises :class:`InferError` on bad inputs;
    * ``kernel(node) -> callable`` is built once per session plan and called with input values;
      ``kernel_into(node, out)``, when an op has it, builds one writing into a reused buffer;
    * ``grad(node, dy, need) -> list`` builds the gradient of each input flagged in ``need``
      (``None`` for the others); ``grad = None`` marks the op as not differentiable.

    ``broadcasting`` ops broadcast their inputs against each other (numpy rules, except for
    the last ``core_rank`` dimensions of each input): their ``grad`` returns each input's
    gradient at the broadcast shape and :func:`flowlog.gradients.gradients` sums it back.
    ``stateful`` ops write into the inputs listed in ``mutates`` (sessions run them last);
    ``view`` ops may return an input's memory.
    """

    kernel_into = None
    stateful = False
    view = False
    mutates: tuple[int, ...] = ()
    arity: int | None = 1  # None: variadic
    broadcasting = False
    core_rank = 0
    grad = None

    def infer(self, inputs, attrs):
        raise NotImplementedError(f"{type(self).__name__} nodes are not created through make()")

    def kernel(self, node):
        raise NotImplementedError(f"{type(self).__name__} values are bound by the session")

    def written(self, node) -> list:
        """The input nodes (variables) this op writes in place."""
        return [node.inputs[i] for i in self.mutates]


def make(op_type: str, inputs, attrs=None, name=None, *, kind="op", value=None) -> Tensor:
    """Create a node of ``op_type`` in the graph of its inputs (or the default graph)."""
    opdef = OPS[op_type]
    attrs = {} if attrs is None else attrs
    inputs = tuple(inputs)
    for x in inputs:
        if not isinstance(x, Tensor):
            raise TypeError(f"{op_type}: expected graph nodes as inputs, got {type(x).__name__}")
    graph = inputs[0].graph if inputs else get_default_graph()
    for x in inputs:
        if x.graph is not graph:
            raise GraphError(
                f"{op_type}: inputs {inputs[0].name!r} and {x.name!r} belong to different graphs"
            )
    if opdef.arity is not None and len(inputs) != opdef.arity:
        raise TypeError(f"{op_type} takes {opdef.arity} inputs, got {len(inputs)}")
    name = op_type if name is None else name
    try:
        shape, dtype = opdef.infer(inputs, attrs)
    except InferError as exc:
        would_be = graph.unique_name(name, mark_as_used=False) if not name.endswith("/") else name
        ins = ", ".join(f"{x.name!r} {format_shape(x.shape)} {x.dtype}" for x in inputs)
        raise ShapeError(f"{op_type} {would_be!r}: {exc} (inputs: {ins})") from None
    return graph._add(Tensor(), op_type, name, inputs, attrs, shape, dtype, kind, opdef, value)


# ====================================================================== sources
@register
class Const(Op):
    arity = 0


@register
class Placeholder(Op):
    arity = 0


def constant(value, dtype=None, shape=None, name="Const") -> Tensor:
    """A node with a fixed value (stored read-only in the graph); ``fl.constant``."""
    if isinstance(value, Tensor):
        raise TypeError(f"constant {name!r}: value is already the graph node {value.name!r}")
    try:
        arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"constant {name!r}: cannot convert value to an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"constant {name!r}: unsupported dtype {arr.dtype}")
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if arr.size == 1:
            arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
        elif arr.shape != shape:
            raise ValueError(
                f"constant {name!r}: value of shape {arr.shape} does not fit shape {shape}"
            )
    arr.setflags(write=False)
    return get_default_graph()._add(
        Tensor(), "Const", name, (), {}, tuple(arr.shape), arr.dtype, "constant", OPS["Const"], arr
    )


def as_node(x, like: Tensor | None = None, name="Const") -> Tensor:
    """``x`` itself if it is a node, else a constant in ``like``'s graph.

    A Python number takes ``like``'s dtype (``x * 2`` stays float32), as in TensorFlow.
    """
    if isinstance(x, Tensor):
        return x
    if like is None:
        return constant(x, name=name)
    dtype = None
    if isinstance(x, (bool, int, float)):
        dtype = like.dtype
        if isinstance(x, float) and dtype.kind not in "fc":
            dtype = None
    with like.graph.as_default():
        return constant(x, dtype=dtype, name=name)


def operands(x, y) -> tuple[Tensor, Tensor]:
    """``x`` and ``y`` as nodes; a literal becomes a constant typed after the other operand."""
    x = as_node(x, y if isinstance(y, Tensor) else None)
    return x, as_node(y, x)


def binary(op_type: str, x, y, name=None, attrs=None) -> Tensor:
    """A two-input node of ``x`` and ``y`` (see :func:`operands`)."""
    return make(op_type, operands(x, y), attrs, name)


class Unary(Op):
    """Elementwise op of one input: same shape; ``to_float`` ops promote integers to float64."""

    fn = None
    to_float = False

    def infer(self, inputs, attrs):
        x = inputs[0]
        return x.shape, (float_dtype(x.dtype) if self.to_float else x.dtype)

    def kernel(self, node):
        return type(self).fn


# ====================================================================== shape/dtype helpers
def known(shape) -> bool:
    """True when the rank and every dimension are known."""
    return shape is not None and all(d is not None for d in shape)


def differ(a, b) -> bool:
    """True when static shapes ``a`` and ``b`` cannot describe the same runtime shape."""
    if a is None or b is None:
        return False
    if len(a) != len(b):
        return True
    return any(p is not None and q is not None and p != q for p, q in zip(a, b, strict=True))


def broadcast_shapes(a, b):
    """Static numpy broadcasting with ``None`` for unknown dimensions."""
    if a is None or b is None:
        return None
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == 1:
            out.append(y)
        elif y == 1 or x == y or y is None:
            out.append(x)
        elif x is None:
            out.append(y)
        else:
            raise InferError(
                f"shapes {format_shape(a)} and {format_shape(b)} do not broadcast "
                f"(dimension {x} vs {y})"
            )
    return tuple(reversed(out))


def float_dtype(dtype) -> np.dtype:
    """``dtype`` if floating (or complex), else float64: the result type of ``exp``, ``/`` …"""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def is_float(dtype) -> bool:
    return dtype is not None and np.dtype(dtype).kind == "f"


def norm_axes(axis, rank, what="axis"):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes, or None."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if rank is None:
        return None if any(a < 0 for a in axes) else tuple(sorted(axes))
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise InferError(f"{what} {a} is out of range for rank {rank}")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise InferError(f"repeated {what} in {axis}")
    return tuple(sorted(out))


def axis_attr(axis):
    """Axis attribute as a JSON-able value (contract 1): None, int or list of ints."""
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return [int(a) for a in axis]


def runtime_axes(axis, ndim):
    """Axes normalised against the rank of a value (for nodes whose rank was unknown)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


# ====================================================================== unbroadcast
def unbroadcast(dy: Tensor, x: Tensor) -> Tensor:
    """A node summing ``dy`` down to ``x``'s shape; called only by :mod:`flowlog.gradients`.

    With ``x``'s shape known statically the target is an attribute, else it is read from ``x``
    at run time; either way a value that already has the target shape passes through.
    """
    if known(x.shape):
        return make("Unbroadcast", [dy], {"shape": list(x.shape)})
    return make("UnbroadcastLike", [dy, x])


def _sum_to_shape(dy, target):
    if dy.shape == target:
        return dy
    lead = dy.ndim - len(target)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(target) if d == 1 and dy.shape[lead + i] != 1
    )
    out = np.add.reduce(dy, axis=axes, keepdims=True) if axes else dy
    return out.reshape(target)


@register
class Unbroadcast(Op):
    view = True

    def infer(self, inputs, attrs):
        return tuple(attrs["shape"]), inputs[0].dtype

    def kernel(self, node):
        target = tuple(node.attrs["shape"])
        return lambda dy: _sum_to_shape(dy, target)


@register
class UnbroadcastLike(Op):
    arity = 2
    view = True

    def infer(self, inputs, attrs):
        return inputs[1].shape, inputs[0].dtype

    def kernel(self, node):
        return lambda dy, x: _sum_to_shape(dy, x.shape)
