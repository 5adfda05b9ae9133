"""Activations by Keras name, so layers and saved configs can refer to them as strings."""

from __future__ import annotations

from flowlog import api


def relu(x):
    return api.relu(x)


def sigmoid(x):
    return api.sigmoid(x)


def tanh(x):
    return api.tanh(x)


def softmax(x, axis=-1):
    return api.softmax(x, axis=axis)


def linear(x):
    """The identity: no node at all, so ``Dense(1)`` is exactly ``x @ kernel + bias``."""
    return x


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax, "linear": linear}


def get(identifier):
    """An activation function from a name, a callable or ``None`` (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return ACTIVATIONS[identifier]
        except KeyError:
            valid = ", ".join(repr(n) for n in ACTIVATIONS)
            raise ValueError(f"unknown activation {identifier!r}; valid names: {valid}") from None
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name or a callable, got {type(identifier).__name__}")


def serialize(fn) -> str:
    """The Keras name of ``fn``; a custom callable cannot be saved (its code is not data)."""
    for name, known in ACTIVATIONS.items():
        if fn is known:
            return name
    raise ValueError(
        f"cannot save the custom activation {getattr(fn, '__name__', fn)!r}; "
        f"use one of {', '.join(ACTIVATIONS)}"
    )
