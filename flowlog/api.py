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
from flowlog.ops import conv as conv_ops
from flowlog.ops import random as random_ops

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


def placeholder_with_default(input, shape, name="PlaceholderWithDefault") -> Tensor:  # noqa: A002
    """A placeholder that runs with ``input`` (a value) when not fed; TF's
    ``tf.compat.v1.placeholder_with_default``. ``placeholder_with_default(False, shape=())`` is
    the training switch of :func:`dropout`."""
    if isinstance(input, Tensor):
        raise TypeError(
            f"placeholder_with_default {name!r}: the default must be a value, not a node"
        )
    arr = np.array(input)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"placeholder_with_default {name!r}: unsupported dtype {arr.dtype}")
    if shape is not None:
        shape = tuple(None if d is None or d == -1 else int(d) for d in shape)
        if len(shape) != arr.ndim or any(
            d is not None and d != a for d, a in zip(shape, arr.shape, strict=True)
        ):
            raise ValueError(
                f"placeholder_with_default {name!r}: default of shape {arr.shape} does not fit "
                f"shape {shape}"
            )
    arr.setflags(write=False)
    attrs = {"default": arr.tolist()} if arr.size <= 16 else {}  # shown by describe_graph
    return get_default_graph()._add(
        Tensor(), "PlaceholderWithDefault", name, (), attrs, shape, arr.dtype, "placeholder",
        OPS["PlaceholderWithDefault"], arr,
    )  # fmt: skip


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


# ====================================================================== images, dropout
def _graph_error(what, fn, *args):
    try:
        return fn(*args)
    except ValueError as exc:
        raise GraphError(f"{what}: {exc}") from None


def _spatial_attrs(what, strides, padding, data_format):
    """``strides`` as ``[sh, sw]`` and ``padding`` upper-cased; errors name ``what``."""
    if data_format != "NHWC":
        raise GraphError(f"{what}: only data_format 'NHWC' is supported, got {data_format!r}")
    padding = padding.upper() if isinstance(padding, str) else padding
    _graph_error(what, conv_ops.check_padding, padding)
    return list(_graph_error(what, conv_ops.spatial_pair, strides, "strides")), padding


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):  # noqa: A002
    """``tf.nn.conv2d`` (TF 2.x signature): NHWC ``input``, HWIO ``filters``, ``strides`` an
    int or 1/2/4 ints, ``padding`` ``"SAME"`` or ``"VALID"``; no dilation."""
    strides, padding = _spatial_attrs("conv2d", strides, padding, data_format)
    if dilations is not None and _graph_error("conv2d", conv_ops.spatial_pair, dilations,
                                              "dilations") != (1, 1):  # fmt: skip
        raise GraphError(f"conv2d: dilations other than 1 are not supported, got {dilations!r}")
    x = as_node(input)
    return make("Conv2D", [x, as_node(filters, x)], {"strides": strides, "padding": padding}, name)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """``tf.nn.max_pool2d``: window ``ksize`` and ``strides`` (ints or 1/2/4 ints), ``padding``
    ``"SAME"`` (pads with -inf) or ``"VALID"``. The gradient goes to each window's first max."""
    strides, padding = _spatial_attrs("max_pool2d", strides, padding, data_format)
    ksize = list(_graph_error("max_pool2d", conv_ops.spatial_pair, ksize, "ksize"))
    attrs = {"ksize": ksize, "strides": strides, "padding": padding}
    return make("MaxPool", [as_node(input)], attrs, name)


def dropout(x, rate, noise_shape=None, seed=None, name=None, *, training=None):
    """``tf.nn.dropout`` (TF 2.x signature) plus a ``training`` switch: keep each element with
    probability ``1 - rate``, scaled by ``1 / (1 - rate)``; one mask per ``sess.run``, used by
    the forward value and the gradient alike.

    ``training``: ``None`` or ``True`` always drops (``tf.nn.dropout``); ``False`` is the
    identity; a boolean scalar node (``placeholder_with_default(False, ())``) decides per run.
    ``seed`` makes the masks of every new session repeat the same sequence.
    """
    rate = _graph_error("dropout", random_ops.check_rate, rate)
    seed = _graph_error("dropout", random_ops.check_seed, seed)
    x = as_node(x)
    if noise_shape is not None:
        noise_shape = [None if d is None else int(d) for d in noise_shape]
    with x.graph.as_default(), x.graph.name_scope(name or "dropout"):
        if training is None or isinstance(training, (bool, np.bool_)):
            training = constant(True if training is None else bool(training), name="training")
        attrs = {"rate": rate, "seed": seed, "noise_shape": noise_shape}
        mask = make("DropoutMask", [x, training], attrs)
        return make("Dropout", [x, mask])


#: ``fl.nn.relu`` … and ``fl.losses.mean_squared_error`` for code written against TensorFlow.
nn = types.SimpleNamespace(
    relu=relu,
    sigmoid=sigmoid,
    tanh=tanh,
    softmax=softmax,
    log_softmax=log_softmax,
    sigmoid_cross_entropy_with_logits=sigmoid_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits=softmax_cross_entropy_with_logits,
    conv2d=conv2d,
    max_pool2d=max_pool2d,
    dropout=dropout,
)
losses = types.SimpleNamespace(mean_squared_error=mean_squared_error)
