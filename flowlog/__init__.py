"""flowlog: computation graphs on numpy, a SQLite event log, and a dashboard.

The engine's names (``fl.constant``, ``fl.Session``, ``fl.train`` …) are loaded on first use, so
``from flowlog.writer import SummaryWriter`` in a PyTorch script does not import the engine.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (the engine; see flowlog/api.py)
_API_NAMES = """
Graph Tensor Variable get_default_graph reset_default_graph name_scope
float16 float32 float64 int32 int64 bool_ constant placeholder global_variables_initializer
placeholder_with_default
add subtract multiply divide pow maximum minimum equal not_equal greater greater_equal less
less_equal where negative square sqrt exp log abs sign identity relu sigmoid tanh ones_like
softmax log_softmax cast add_n matmul reduce_sum reduce_mean reduce_max argmax reshape transpose
concat sigmoid_cross_entropy_with_logits softmax_cross_entropy_with_logits mean_squared_error
nn losses
""".split()
_ERROR_NAMES = (
    "FlowlogError GraphError ShapeError FeedError NoGradientError OpError NumericsError "
    "LogWriteError"  # the writer's: a flush or close that could not write the log
).split()
_LAZY: dict[str, str] = {
    **dict.fromkeys(_API_NAMES, "flowlog.api"),
    "Session": "flowlog.session",
    "NumericsFinding": "flowlog.session",
    "gradients": "flowlog.gradients",
    "describe_graph": "flowlog.describe",
    "graph_from_description": "flowlog.describe",
    **dict.fromkeys(_ERROR_NAMES, "flowlog.errors"),
}
_LAZY_MODULES = {
    "train": "flowlog.train",
    "keras": "flowlog.keras",
    "saved_model": "flowlog.saved_model",
}


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'flowlog' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_MODULES))
