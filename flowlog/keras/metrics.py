"""Metrics by Keras name, as graph builders ``fn(y_true, y_pred) -> batch mean``.

``"accuracy"`` resolves as in Keras: binary (threshold 0.5) for a width-1 output or a binary
cross-entropy loss, sparse (argmax vs integer label) for a sparse loss, else categorical
(argmax vs argmax of one-hot targets).
"""

from __future__ import annotations

from flowlog import api
from flowlog.keras import losses


def binary_accuracy(y_true, y_pred, threshold=0.5):
    predicted = api.cast(api.greater(y_pred, threshold), y_pred.dtype)
    return api.reduce_mean(api.cast(api.equal(predicted, y_true), y_pred.dtype))


def _predicted_class(y_pred):
    """``argmax(y_pred)``; taken on the logits when ``y_pred`` is their softmax (the same
    class, and the training step then need not compute the softmax at all)."""
    scores = y_pred.inputs[0] if y_pred.op == "Softmax" else y_pred
    return api.argmax(scores, axis=-1)


def categorical_accuracy(y_true, y_pred):
    hit = api.equal(_predicted_class(y_pred), api.argmax(y_true, axis=-1))
    return api.reduce_mean(api.cast(hit, y_pred.dtype))


def sparse_categorical_accuracy(y_true, y_pred):
    labels = y_true if y_true.dtype == "int64" else api.cast(y_true, "int64")
    hit = api.equal(_predicted_class(y_pred), labels)
    return api.reduce_mean(api.cast(hit, y_pred.dtype))


def mean_absolute_error(y_true, y_pred):
    return losses.MeanAbsoluteError()(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    return losses.MeanSquaredError()(y_true, y_pred)


METRICS = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
}
ACCURACY = ("accuracy", "acc")


def _accuracy_for(loss: losses.Loss, y_pred):
    if isinstance(loss, losses.BinaryCrossentropy) or (
        y_pred.shape is not None and y_pred.shape[-1] == 1
    ):
        return binary_accuracy
    return sparse_categorical_accuracy if loss.sparse else categorical_accuracy


def check(identifier) -> None:
    """Fail at ``compile`` (not at the first fit) on an unknown metric name."""
    if isinstance(identifier, str) and identifier not in ACCURACY and identifier not in METRICS:
        get(identifier, None, None)
    elif not isinstance(identifier, str) and not callable(identifier):
        get(identifier, None, None)


def get(identifier, loss: losses.Loss, y_pred):
    """``(name shown in logs, builder)`` for a metric name or a callable."""
    if isinstance(identifier, str):
        if identifier in ACCURACY:
            return identifier, _accuracy_for(loss, y_pred)
        if identifier in METRICS:
            return identifier, METRICS[identifier]
        valid = ", ".join(repr(n) for n in (*ACCURACY, *METRICS))
        raise ValueError(f"unknown metric {identifier!r}; valid names: {valid} (or a callable)")
    if callable(identifier):
        return getattr(identifier, "__name__", "metric"), identifier
    raise TypeError(f"a metric must be a name or a callable, got {type(identifier).__name__}")
