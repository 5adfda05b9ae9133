"""Keras losses as graph builders: ``loss(y_true, y_pred)`` adds the nodes of the batch-mean
loss. As in Keras, a probability output made by a sigmoid or softmax node is traced back to
its logits, so the cross-entropies stay exact and stable without clipping.
"""

from __future__ import annotations

import numpy as np

from flowlog import api
from flowlog.ops import constant

EPSILON = 1e-7


def _logits(y_pred, op):
    """The logits behind ``y_pred`` when it is an ``op`` (Sigmoid/Softmax) node, else None."""
    return y_pred.inputs[0] if y_pred.op == op else None


def _clip(p):
    return api.minimum(api.maximum(p, EPSILON), 1.0 - EPSILON)


def one_hot(labels, depth: int, dtype):
    """Integer labels ``(batch,)`` → one-hot ``(batch, depth)`` by comparing with a range."""
    column = api.reshape(labels, [-1, 1])
    classes = constant(np.arange(depth, dtype=labels.dtype), name="classes")
    return api.cast(api.equal(column, classes), dtype)


class Loss:
    """Base: ``sparse`` losses take integer class labels, the others targets shaped like the
    output."""

    name = "loss"
    sparse = False

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def __call__(self, y_true, y_pred):
        return self.call(y_true, y_pred)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def call(self, y_true, y_pred):
        return api.reduce_mean(api.square(api.subtract(y_pred, y_true)))


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def call(self, y_true, y_pred):
        return api.reduce_mean(api.abs(api.subtract(y_pred, y_true)))


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def call(self, y_true, y_pred):
        logits = y_pred if self.from_logits else _logits(y_pred, "Sigmoid")
        if logits is not None:
            return api.reduce_mean(api.sigmoid_cross_entropy_with_logits(y_true, logits))
        p = _clip(y_pred)
        ll = y_true * api.log(p) + (1.0 - y_true) * api.log(1.0 - p)
        return api.negative(api.reduce_mean(ll))


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"

    def call(self, y_true, y_pred):
        logits = y_pred if self.from_logits else _logits(y_pred, "Softmax")
        if logits is not None:
            return api.reduce_mean(api.softmax_cross_entropy_with_logits(y_true, logits))
        p = _clip(y_pred / api.reduce_sum(y_pred, axis=-1, keepdims=True))
        return api.negative(api.reduce_mean(api.reduce_sum(y_true * api.log(p), axis=-1)))


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    name = "sparse_categorical_crossentropy"
    sparse = True

    def call(self, y_true, y_pred):
        if y_pred.shape is None or y_pred.shape[-1] is None:
            raise ValueError("sparse_categorical_crossentropy needs an output of known width")
        return super().call(one_hot(y_true, y_pred.shape[-1], y_pred.dtype), y_pred)


LOSSES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_CLASSES = {cls.__name__: cls for cls in set(LOSSES.values())}


def get(identifier) -> Loss:
    """A loss from a Keras name, a :class:`Loss` or a ``{"class_name", "config"}`` dict."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, str) and identifier in LOSSES:
        return LOSSES[identifier]()
    valid = ", ".join(repr(n) for n in LOSSES)
    raise ValueError(f"unknown loss {identifier!r}; valid names: {valid} (or a Loss object)")


def serialize(loss: Loss) -> dict:
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
