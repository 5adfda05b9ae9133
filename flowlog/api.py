"""The TensorFlow-1.x style functions that build graph nodes (``fl.constant``, ``fl.matmul`` …).

Python numbers and numpy arrays given where a node is expected become ``Const`` nodes; in a
binary op a Python number takes the dtype of the other operand (``x * 2`` stays float32 for a
float32 ``x``), as in TensorFlow. Every function here is a thin layer over
:func:`flowlog.ops.make`; nothing in the engine below imports this module.
"""

from __future__ import annotations

import types

import numpy as np

from flowlog.errors import GraphError
from flowlog.graph import Graph, Tensor, get_default_graph, name_scope, reset_default_graph
from flowlog.ops import OPS, Variable, as_node, axis_attr, binary, constant, make, matmul, operands

__all__ = [
    "Graph",
    "Tensor",
    "Variable",
    "get_default_graph",
    "name_scope",
    "reset_default_graph",
    "GraphError",
    "constant",
    "matmul",
    "float16",
    "float32",
    "float64",
    "int32",
    "int64",
    "bool_",
]

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(bool)


# ====================================================================== sources
def placeholder(dtype=float64, shape=None, name="Placeholder") -> Tensor:
    """A node whose value must be given in ``feed_dict``; ``None`` in ``shape`` = any size."""
    if isinstance(dtype, (tuple, list)) and shape is None:
        raise TypeError(
            "placeholder(dtype, shape): pass the shape as shape=..., "
            "the first argument is the dtype"
        )
    dtype = np.dtype(dtype)
    if shape is not None:
        shape = tuple(None if d is None or d == -1 else int(d) for d in shape)
        if any(d is not None and d < 0 for d in shape):
            raise ValueError(f"placeholder {name!r}: negative dimension in shape {shape}")
    return get_default_graph()._add(
        Tensor(), "Placeholder", name, (), {}, shape, dtype, "placeholder", OPS["Placeholder"]
    )


def global_variables_initializer(name="init") -> Tensor:
    """An op resetting all variables (existing now) to their initial values.

    Optional here: a session starts every variable at its initial value by itself.
    """
    graph = get_default_graph()
    return make("InitVariables", graph.global_variables(), {}, name)


def _unary(op_type, x, name, attrs=None):
    return make(op_type, [as_node(x)], attrs or {}, name)


# ====================================================================== elementwise
def add(x, y, name=None):
    return binary("Add", x, y, name)


def subtract(x, y, name=None):
    return binary("Sub", x, y, name)


def multiply(x, y, name=None):
    return binary("Mul", x, y, name)


def divide(x, y, name=None):
    return binary("Div", x, y, name)


def pow(x, y, name=None):  # noqa: A001 - TensorFlow's name
    return binary("Pow", x, y, name)


def maximum(x, y, name=None):
    return binary("Maximum", x, y, name)


def minimum(x, y, name=None):
    return binary("Minimum", x, y, name)


def equal(x, y, name=None):
    return binary("Equal", x, y, name)


def not_equal(x, y, name=None):
    return binary("NotEqual", x, y, name)


def greater(x, y, name=None):
    return binary("Greater", x, y, name)


def greater_equal(x, y, name=None):
    return binary("GreaterEqual", x, y, name)


def less(x, y, name=None):
    return binary("Less", x, y, name)


def less_equal(x, y, name=None):
    return binary("LessEqual", x, y, name)


def where(condition, x, y, name=None):
    """Elementwise ``x`` where ``condition`` else ``y`` (all three broadcast)."""
    return make("Where", [as_node(condition), *operands(x, y)], {}, name)


def negative(x, name=None):
    return _unary("Neg", x, name)


def square(x, name=None):
    return _unary("Square", x, name)


def sqrt(x, name=None):
    return _unary("Sqrt", x, name)


def exp(x, name=None):
    return _unary("Exp", x, name)


def log(x, name=None):
    return _unary("Log", x, name)


def abs(x, name=None):  # noqa: A001 - TensorFlow's name
    return _unary("Abs", x, name)


def sign(x, name=None):
    return _unary("Sign", x, name)


def identity(x, name=None):
    return _unary("Identity", x, name)


def relu(x, name=None):
    return _unary("Relu", x, name)


def sigmoid(x, name=None):
    return _unary("Sigmoid", x, name)


def tanh(x, name=None):
    return _unary("Tanh", x, name)


def ones_like(x, name=None):
    return _unary("OnesLike", x, name)


def softmax(logits, axis=-1, name=None):
    return _unary("Softmax", logits, name, {"axis": int(axis)})


def log_softmax(logits, axis=-1, name=None):
    return _unary("LogSoftmax", logits, name, {"axis": int(axis)})


def cast(x, dtype, name=None):
    return _unary("Cast", x, name, {"dtype": np.dtype(dtype).name})


def add_n(inputs, name=None):
    return make("AddN", [as_node(x) for x in inputs], {}, name)


# ====================================================================== reductions
def _reduce(op_type, x, axis, keepdims, name):
    return _unary(op_type, x, name, {"axis": axis_attr(axis), "keepdims": bool(keepdims)})


def reduce_sum(x, axis=None, keepdims=False, name=None):
    return _reduce("Sum", x, axis, keepdims, name)


def reduce_mean(x, axis=None, keepdims=False, name=None):
    return _reduce("Mean", x, axis, keepdims, name)


def reduce_max(x, axis=None, keepdims=False, name=None):
    return _reduce("Max", x, axis, keepdims, name)


def argmax(x, axis=-1, name=None):
    """Index of the largest value along ``axis`` (default: the last axis), as int64."""
    return _unary("ArgMax", x, name, {"axis": int(axis)})


def reshape(x, shape, name=None):
    return _unary("Reshape", x, name, {"shape": [int(d) for d in shape]})


def transpose(x, perm=None, name=None):
    return _unary("Transpose", x, name, {"perm": None if perm is None else [int(p) for p in perm]})


def concat(values, axis, name=None):
    return make("Concat", [as_node(v) for v in values], {"axis": int(axis)}, name)


# ====================================================================== losses
def sigmoid_cross_entropy_with_logits(labels, logits, name=None):
    """Elementwise logistic loss, stable for logits of any size."""
    logits = as_node(logits)
    labels = as_node(labels, logits)
    return make("SigmoidCrossEntropyWithLogits", [labels, logits], {}, name)


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Per-example cross-entropy between ``labels`` (distributions) and ``softmax(logits)``."""
    logits = as_node(logits)
    labels = as_node(labels, logits)
    return make("SoftmaxCrossEntropyWithLogits", [labels, logits], {"axis": int(axis)}, name)


def mean_squared_error(labels, predictions, name="mean_squared_error"):
    """``reduce_mean(square(predictions - labels))`` under its own name scope."""
    predictions = as_node(predictions)
    labels = as_node(labels, predictions)
    with predictions.graph.name_scope(name):
        return reduce_mean(square(subtract(predictions, labels)))


#: ``fl.nn.relu`` … and ``fl.losses.mean_squared_error`` for code written against TensorFlow.
nn = types.SimpleNamespace(
    relu=relu,
    sigmoid=sigmoid,
    tanh=tanh,
    softmax=softmax,
    log_softmax=log_softmax,
    sigmoid_cross_entropy_with_logits=sigmoid_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits=softmax_cross_entropy_with_logits,
)
losses = types.SimpleNamespace(mean_squared_error=mean_squared_error)
