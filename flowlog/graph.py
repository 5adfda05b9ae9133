"""Graphs and their nodes.

A :class:`Graph` is an append-only list of :class:`Tensor` nodes in creation order. Because a
node's inputs always exist before the node, creation order is a topological order; the session
and ``fl.gradients`` rely on that instead of sorting.

Naming follows TensorFlow 1.x: a name is made unique by appending ``_1``, ``_2`` …;
``name_scope("loss")`` opens a new unique scope (``loss``, then ``loss_1`` …), and a scope name
ending in ``/`` (such as the string the ``with`` statement yields) re-enters that exact scope.
"""

from __future__ import annotations

import contextlib
import re
import threading

import numpy as np

from flowlog.errors import GraphError

_NAME_RE = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/]*$")


def format_shape(shape) -> str:
    """``(None, 3)`` for a partially known shape, ``<unknown>`` when even the rank is unknown."""
    if shape is None:
        return "<unknown>"
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


class Tensor:
    """A node of a graph; its value is produced when a :class:`~flowlog.Session` runs it.

    ``shape`` is the static shape (a tuple whose entries may be ``None``, or ``None`` when the
    rank is unknown); ``dtype`` is a numpy dtype.
    """

    __slots__ = (
        "graph",
        "name",
        "op",
        "inputs",
        "attrs",
        "shape",
        "dtype",
        "kind",
        "index",
        "opdef",
        "value",
        "__weakref__",
    )

    # Make numpy defer to our reflected operators: ``np_array * tensor`` builds a node.
    __array_ufunc__ = None

    @property
    def scope(self) -> str:
        return self.name.rpartition("/")[0]

    @property
    def ndim(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def get_shape(self):
        return self.shape

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} op={self.op} "
            f"shape={format_shape(self.shape)} dtype={self.dtype}>"
        )

    def __bool__(self):
        raise TypeError(
            f"the truth value of graph node {self.name!r} is not known while building the graph; "
            "run it in a Session, or use fl.equal/fl.greater to build a comparison node"
        )

    def _no_compare(self, other):
        raise TypeError(
            f"comparison operators do not build nodes (and {self.name!r} has no value yet); "
            "use fl.greater, fl.less, fl.greater_equal, fl.less_equal or fl.equal"
        )

    __lt__ = __le__ = __gt__ = __ge__ = _no_compare

    def __iter__(self):
        raise TypeError(f"graph node {self.name!r} is not iterable")

    # Arithmetic operators (``+ - * / ** @``, unary ``-``, ``abs``) are set on this class by
    # flowlog.ops.math, next to the ops they build: this module sits below the ops and imports
    # none of them. Every runnable node is made through flowlog.ops, so they are always there.


class Graph:
    """A computation graph: nodes, a name scope stack and the names in use."""

    def __init__(self):
        self.nodes: list[Tensor] = []
        self._by_name: dict[str, Tensor] = {}
        self._names_in_use: dict[str, int] = {}
        self._scope = ""
        self._kind: str | None = None
        #: variable name -> its gradient node, recorded by ``optimizer.minimize`` (contract 2)
        self.gradient_of: dict[str, Tensor] = {}
        #: True for graphs rebuilt from a description: they can be inspected, not run
        self.display_only = False

    def __repr__(self) -> str:
        return f"<flowlog.Graph with {len(self.nodes)} nodes>"

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self):
        return iter(self.nodes)

    def __contains__(self, item) -> bool:
        if isinstance(item, str):
            return item in self._by_name
        return isinstance(item, Tensor) and item.graph is self

    # ----------------------------------------------------------------- names
    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """The full name ``name`` gets in the current scope, made unique as TensorFlow does."""
        full = f"{self._scope}/{name}" if self._scope else name
        i = self._names_in_use.get(full, 0)
        if mark_as_used:
            self._names_in_use[full] = i + 1
        if i > 0:
            base = full
            while full in self._names_in_use:
                full = f"{base}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[full] = 1
        return full

    @contextlib.contextmanager
    def name_scope(self, name: str | None):
        """Open a scope: a new unique one, or re-enter an exact one when ``name`` ends in ``/``.

        ``None`` or ``""`` returns to the top level. Yields the scope string with a trailing
        ``/`` (``""`` at top level), which can be passed back later to re-enter the scope.
        """
        if name is None or name == "":
            new = ""
        else:
            if not isinstance(name, str) or not _NAME_RE.match(name.rstrip("/") or "x/"):
                raise ValueError(f"invalid name scope {name!r}")
            new = name[:-1] if name.endswith("/") else self.unique_name(name)
            if new.endswith("/"):
                raise ValueError(f"invalid name scope {name!r}")
        old = self._scope
        self._scope = new
        try:
            yield new + "/" if new else ""
        finally:
            self._scope = old

    @contextlib.contextmanager
    def _kind_scope(self, kind: str):
        """Mark nodes created inside as ``gradient`` or ``optimizer`` nodes (contract 1)."""
        old = self._kind
        self._kind = kind
        try:
            yield
        finally:
            self._kind = old

    # ----------------------------------------------------------------- nodes
    def _add(self, node, op, name, inputs, attrs, shape, dtype, kind, opdef, value=None):
        """Fill in ``node`` and append it. ``name`` ending in ``/`` is taken verbatim."""
        if self.display_only:
            raise GraphError("this graph was rebuilt from a description and is display-only")
        if not isinstance(name, str) or not _NAME_RE.match(name.rstrip("/") or "/"):
            raise ValueError(f"invalid node name {name!r}: use letters, digits, '_', '.', '-', '/'")
        if name.endswith("/"):
            full = name[:-1]
            if full in self._by_name:
                raise GraphError(f"a node named {full!r} already exists in this graph")
            self._names_in_use.setdefault(full, 1)
        else:
            full = self.unique_name(name)
        if kind in ("op", "constant") and self._kind is not None:
            kind = self._kind
        node.graph = self
        node.name = full
        node.op = op
        node.inputs = tuple(inputs)
        node.attrs = attrs
        node.shape = shape
        node.dtype = np.dtype(dtype) if dtype is not None else None
        node.kind = kind
        node.index = len(self.nodes)
        node.opdef = opdef
        node.value = value
        self.nodes.append(node)
        self._by_name[full] = node
        return node

    def get_tensor_by_name(self, name: str) -> Tensor:
        """The node called ``name`` (a TensorFlow-style ``:0`` suffix is accepted)."""
        key = name[:-2] if name.endswith(":0") else name
        try:
            return self._by_name[key]
        except KeyError:
            raise GraphError(f"no node named {name!r} in this graph") from None

    def trainable_variables(self) -> list[Tensor]:
        return [n for n in self.nodes if n.kind == "variable" and n.attrs.get("trainable")]

    def global_variables(self) -> list[Tensor]:
        return [n for n in self.nodes if n.kind == "variable"]

    @contextlib.contextmanager
    def as_default(self):
        """Make this the graph that new nodes go into, for the ``with`` block."""
        _stack().append(self)
        try:
            yield self
        finally:
            _stack().pop()


_state = threading.local()
_global_default: Graph | None = None


def _stack() -> list[Graph]:
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    return stack


def get_default_graph() -> Graph:
    """The innermost ``as_default`` graph, else the global default graph."""
    global _global_default
    stack = _stack()
    if stack:
        return stack[-1]
    if _global_default is None:
        _global_default = Graph()
    return _global_default


def reset_default_graph() -> None:
    """Replace the global default graph by an empty one (not allowed inside ``as_default``)."""
    global _global_default
    if _stack():
        raise GraphError("reset_default_graph() called inside a Graph.as_default() block")
    _global_default = Graph()


def name_scope(name: str | None):
    """``with fl.name_scope("loss"):`` on the default graph (see :meth:`Graph.name_scope`)."""
    return get_default_graph().name_scope(name)
