"""``fl.keras``: Keras' model-building API on the flowlog engine.

Every layer is a name-scoped subgraph (``dense/kernel``, ``conv2d/Conv2D`` …) of an ordinary
:class:`flowlog.Graph`, so a Keras model can be inspected, described and logged like any
hand-built graph. Modules: :mod:`~flowlog.keras.layers`, :mod:`~flowlog.keras.models`
(``Sequential``, ``Model``, ``load_model``; its docstring lists what callbacks may use),
:mod:`~flowlog.keras.callbacks`, :mod:`~flowlog.keras.optimizers`,
:mod:`~flowlog.keras.losses`, :mod:`~flowlog.keras.metrics`,
:mod:`~flowlog.keras.initializers`, :mod:`~flowlog.keras.activations`,
:mod:`~flowlog.keras.utils`.
"""

from __future__ import annotations

import importlib

from flowlog.keras import (
    activations,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    utils,
)
from flowlog.keras.engine import Input
from flowlog.keras.models import Model, Sequential


def __getattr__(name: str):
    # callbacks holds FlowLog, which imports the writer: loaded on first use, the core stays engine
    if name == "callbacks":
        return importlib.import_module("flowlog.keras.callbacks")
    raise AttributeError(f"module 'flowlog.keras' has no attribute {name!r}")


__all__ = [
    "Input",
    "Model",
    "Sequential",
    "activations",
    "callbacks",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "utils",
]
