"""Every op of the engine, by family; each op states its static shape inference (``infer``),
numpy forward (``kernel``) and gradient (``grad``) side by side.

* :mod:`~flowlog.ops.core`: the registry ``OPS``, the :class:`Op` protocol, :func:`make` and
  the literal helpers (:func:`constant`, :func:`as_node`), shape helpers, ``Unbroadcast``;
* :mod:`~flowlog.ops.math`: elementwise and broadcasting arithmetic, comparisons, ``Where``,
  ``AddN``, ``MatMul``, and the Python operators on nodes;
* :mod:`~flowlog.ops.reduce`: ``Sum``, ``Mean``, ``Max``, ``ArgMax``;
* :mod:`~flowlog.ops.nn`: activations, softmax family, cross-entropy losses;
* :mod:`~flowlog.ops.array`: ``Identity``, ``Cast``, ``OnesLike``, ``Reshape``, ``Transpose``,
  ``Concat``;
* :mod:`~flowlog.ops.state`: ``Variable`` and the ops that write variables (optimizer updates).

Importing this package registers every op; it re-exports only what the layers above build
nodes with. The modules import only :mod:`flowlog.graph`, :mod:`flowlog.errors` and
:mod:`flowlog.ops.core`, never :mod:`flowlog.api`.
"""

from __future__ import annotations

# importing a family registers its ops
from flowlog.ops import array, conv, nn, random, reduce  # noqa: F401
from flowlog.ops.core import OPS, as_node, axis_attr, binary, constant, make, operands
from flowlog.ops.math import matmul
from flowlog.ops.state import Variable

__all__ = [
    "OPS",
    "Variable",
    "as_node",
    "axis_attr",
    "binary",
    "constant",
    "make",
    "matmul",
    "operands",
]
