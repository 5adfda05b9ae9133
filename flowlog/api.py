"""The TensorFlow-1.x style functions that build graph nodes (``fl.constant``, ``fl.matmul`` …).

Python numbers and numpy arrays given where a node is expected become ``Const`` nodes; in a
binary op a Python number takes the dtype of the other operand (``x * 2`` stays float32 for a
float32 ``x``), as in TensorFlow.
"""

from __future__ import annotations

import types

import numpy as np

from flowlog import ops
from flowlog.errors import GraphError
from flowlog.graph import (
    Graph,
    Tensor,
    Variable,
    get_default_graph,
    name_scope,
    reset_default_graph,
)

__all__ = [
    "Graph",
    "Tensor",
    "Variable",
    "get_default_graph",
    "name_scope",
    "reset_default_graph",
    "GraphError",
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
def constant(value, dtype=None, shape=None, name="Const") -> Tensor:
    """A node with a fixed value (stored read-only in the graph)."""
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
    graph = get_default_graph()
    return graph._add(
        Tensor(),
        "Const",
        name,
        (),
        {},
        tuple(arr.shape),
        arr.dtype,
        "constant",
        ops.OPS["Const"],
        arr,
    )


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
        Tensor(), "Placeholder", name, (), {}, shape, dtype, "placeholder", ops.OPS["Placeholder"]
    )


def global_variables_initializer(name="init") -> Tensor:
    """An op resetting all variables (existing now) to their initial values.

    Optional here: a session starts every variable at its initial value by itself.
    """
    graph = get_default_graph()
    return ops.make("InitVariables", graph.global_variables(), {}, name)


def _as_node(x, like: Tensor | None = None, name="Const") -> Tensor:
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (bool, int, float)) and not isinstance(x, np.ndarray):
        dtype = like.dtype
        if isinstance(x, float) and dtype.kind not in "fc":
            dtype = None
        with like.graph.as_default():
            return constant(x, dtype=dtype, name=name)
    if like is not None:
        with like.graph.as_default():
            return constant(x, name=name)
    return constant(x, name=name)


def _binary(op_type, x, y, name):
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = _as_node(x)
    x = _as_node(x, y if isinstance(y, Tensor) else None, name="Const")
    y = _as_node(y, x, name="Const")
    return ops.make(op_type, [x, y], {}, name)


def _unary(op_type, x, name, attrs=None):
    return ops.make(op_type, [_as_node(x)], attrs or {}, name)


# ====================================================================== elementwise
def add(x, y, name=None):
    return _binary("Add", x, y, name)


def subtract(x, y, name=None):
    return _binary("Sub", x, y, name)


def multiply(x, y, name=None):
    return _binary("Mul", x, y, name)


def divide(x, y, name=None):
    return _binary("Div", x, y, name)


def pow(x, y, name=None):  # noqa: A001 - TensorFlow's name
    return _binary("Pow", x, y, name)


def maximum(x, y, name=None):
    return _binary("Maximum", x, y, name)


def minimum(x, y, name=None):
    return _binary("Minimum", x, y, name)


def equal(x, y, name=None):
    return _binary("Equal", x, y, name)


def not_equal(x, y, name=None):
    return _binary("NotEqual", x, y, name)


def greater(x, y, name=None):
    return _binary("Greater", x, y, name)


def greater_equal(x, y, name=None):
    return _binary("GreaterEqual", x, y, name)


def less(x, y, name=None):
    return _binary("Less", x, y, name)


def less_equal(x, y, name=None):
    return _binary("LessEqual", x, y, name)


def where(condition, x, y, name=None):
    """Elementwise ``x`` where ``condition`` else ``y`` (all three broadcast)."""
    c = _as_node(condition)
    x = _as_node(x, y if isinstance(y, Tensor) else None, name="Const")
    y = _as_node(y, x, name="Const")
    return ops.make("Where", [c, x, y], {}, name)


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
    return ops.make("AddN", [_as_node(x) for x in inputs], {}, name)


# ====================================================================== matmul, reductions
def matmul(a, b, transpose_a=False, transpose_b=False, name=None):
    a = _as_node(a, b if isinstance(b, Tensor) else None, name="Const")
    b = _as_node(b, a, name="Const")
    attrs = {}
    if transpose_a:
        attrs["transpose_a"] = True
    if transpose_b:
        attrs["transpose_b"] = True
    return ops.make("MatMul", [a, b], attrs, name)


def _reduce(op_type, x, axis, keepdims, name):
    return _unary(op_type, x, name, {"axis": ops._axis_attr(axis), "keepdims": bool(keepdims)})


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
    return ops.make("Concat", [_as_node(v) for v in values], {"axis": int(axis)}, name)


# ====================================================================== losses
def sigmoid_cross_entropy_with_logits(labels, logits, name=None):
    """Elementwise logistic loss, stable for logits of any size."""
    logits = _as_node(logits)
    labels = _as_node(labels, logits, name="Const")
    return ops.make("SigmoidCrossEntropyWithLogits", [labels, logits], {}, name)


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Per-example cross-entropy between ``labels`` (distributions) and ``softmax(logits)``."""
    logits = _as_node(logits)
    labels = _as_node(labels, logits, name="Const")
    return ops.make("SoftmaxCrossEntropyWithLogits", [labels, logits], {"axis": int(axis)}, name)


def mean_squared_error(labels, predictions, name="mean_squared_error"):
    """``reduce_mean(square(predictions - labels))`` under its own name scope."""
    predictions = _as_node(predictions)
    labels = _as_node(labels, predictions, name="Const")
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
