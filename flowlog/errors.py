"""The engine's exception types, and the writer's :class:`LogWriteError`.

Each subclasses the built-in exception a caller would naturally catch (``ValueError`` for bad
shapes and feeds, ``ArithmeticError`` for numerics, ``OSError`` for a log file that cannot be
written), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class FlowlogError(Exception):
    """Base class of every error the engine raises on purpose."""


class GraphError(FlowlogError, ValueError):
    """A graph is used wrongly: a node from another graph, an unknown name, a display-only graph."""


class ShapeError(GraphError):
    """Static shapes are incompatible when a node is built (names the op and both shapes)."""


class FeedError(FlowlogError, ValueError):
    """A ``feed_dict`` problem: an unfed placeholder, a non-placeholder key, bad shape/dtype."""


class NoGradientError(GraphError):
    """``minimize`` found no variable that receives a gradient from the loss."""


class OpError(FlowlogError, RuntimeError):
    """A kernel failed while a session ran it; the message names the node and its input shapes."""

    def __init__(self, message: str, node=None):
        super().__init__(message)
        self.node = node


class NumericsError(FlowlogError, ArithmeticError):
    """Raised by ``Session(check_numerics="raise")``; ``.finding`` is the ``NumericsFinding``."""

    def __init__(self, finding):
        super().__init__(
            f"{finding.kind.upper()} first produced by {finding.op} node {finding.node!r} "
            f"({finding.phase} phase, run {finding.run_index})"
        )
        self.finding = finding


class LogWriteError(FlowlogError, OSError):
    """``SummaryWriter.flush()``/``close()`` could not write the run's database (disk full, I/O
    error, read-only file); the message names the file, the cause and how many points are held
    in memory, unwritten. The writer keeps them and retries every ``flush_secs``."""
