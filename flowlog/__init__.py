"""flowlog: computation graphs on numpy, a SQLite event log, and a dashboard.

The engine's names (``fl.constant``, ``fl.Session``, ``fl.train`` …) are loaded on first use, so
``from flowlog.writer import SummaryWriter`` in a PyTorch script does not import the engine.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (filled by the engine; see flowlog/api.py)
_LAZY: dict[str, str] = {}
_LAZY_MODULES = {"train": "flowlog.train"}


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'flowlog' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_MODULES))
