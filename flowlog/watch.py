"""``writer.watch(session)``: per-variable statistics and numerics findings (contracts 2 and 3).

Every ``every`` session runs, for each trainable variable ``<node>``, the hook logs scalar tags
``watch/<node>/<stat>`` (stats in :data:`VALUE_STATS`, :data:`GRAD_STATS`, ``update_ratio``)
and, every ``histograms_every`` runs, histograms ``watch/<node>/value`` and
``watch/<node>/grad``. Every tag carries the node's name, so the dashboard can go from a graph
node to its curves. Gradient statistics need a run that computed the gradient (a training
run); ``update_ratio = ||w_after - w_before|| / ||w_before||`` over that run. With
``Session(check_numerics=True)`` each run's finding (first non-finite node) is recorded with
its step, on every run, not only watched ones.

The engine is used only through the session object (contract 2); nothing here imports it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from flowlog.records import histogram_record

__all__ = ["VALUE_STATS", "GRAD_STATS", "WatchHook", "watch", "check_cadence", "declare_and_log"]

VALUE_STATS = ("value_norm", "value_mean", "value_std", "value_min", "value_max")
GRAD_STATS = (
    "grad_norm",
    "grad_mean",
    "grad_std",
    "grad_min",
    "grad_max",
    "grad_nan",
    "grad_inf",
    "grad_zero",
)


def _value_stats(w: np.ndarray) -> list[float]:
    # plain reductions: NaN weights give NaN statistics, which is what the curves must show
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0:
        return [0.0, math.nan, math.nan, math.nan, math.nan]
    return [
        float(np.sqrt(np.dot(w.ravel(), w.ravel()))),
        float(w.mean()),
        float(w.std()),
        float(w.min()),
        float(w.max()),
    ]


def _grad_stats(g: np.ndarray) -> list[float]:
    g = np.asarray(g, dtype=np.float64)
    return _value_stats(g) + [
        float(np.isnan(g).sum()),
        float(np.isinf(g).sum()),
        float(g.size - np.count_nonzero(g)),
    ]


def _update_ratio(before: np.ndarray, after: np.ndarray) -> float:
    norm = float(np.linalg.norm(before))
    delta = float(np.linalg.norm(np.asarray(after, np.float64) - before))
    if norm == 0.0:
        return 0.0 if delta == 0.0 else math.inf
    return delta / norm


def check_cadence(every, histograms_every, global_step) -> tuple[int, int]:
    """Validated ``(every, histograms_every)``; histograms default to ten times less often
    than scalars, and 0 turns them off."""
    for name, value in (("every", every), ("histograms_every", histograms_every)):
        if value is None and name == "histograms_every":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"watch: {name} must be an int, got {value!r}")
    if every < 1:
        raise ValueError(f"watch: every must be >= 1, got {every}")
    if histograms_every is not None and histograms_every < 0:
        raise ValueError(f"watch: histograms_every must be >= 0, got {histograms_every}")
    if global_step is not None and not callable(global_step):
        raise TypeError("watch: global_step must be a callable returning the current step")
    return int(every), 10 * int(every) if histograms_every is None else int(histograms_every)


def declare_and_log(writer, declared: set, node: str, step: int, stats: dict, hists: dict):
    """Log one node's statistics (scalars) and histogram records at ``step``; the tags are
    declared as the node's on first use so the dashboard goes from the node to its curves.
    ``hists`` maps ``value``/``grad`` to a ready histogram record."""
    prefix = f"watch/{node}/"
    wanted = [(prefix + s, "scalar") for s in stats] + [(prefix + h, "histogram") for h in hists]
    new = [t for t in wanted if t[0] not in declared]
    if new:
        writer._declare_node_tags(node, new)
        declared.update(t for t, _ in new)
    for stat, value in stats.items():
        writer.add_scalar(prefix + stat, value, step)
    for name, record in hists.items():
        writer._add_record("histogram", prefix + name, step, None, record)


class WatchHook:
    """A session hook (``before_run``/``after_run``) that logs to a :class:`SummaryWriter`."""

    def __init__(
        self,
        writer,
        session,
        every: int = 10,
        histograms_every: int | None = None,
        global_step: Callable[[], int] | None = None,
    ):
        self.every, self.histograms_every = check_cadence(every, histograms_every, global_step)
        self.writer = writer
        self.session = session
        self._global_step = global_step
        self._before: dict = {}
        self._run_step = 0
        self._declared: set[str] = set()

    def before_run(self, sess):
        """Decide whether this run is watched; returns what the run must keep for us.

        ``[]`` (nothing) keeps unwatched runs on the session's compiled fast path; ``None``
        (everything) on watched runs, so gradients that this run did not compute read as
        ``None`` instead of being computed just for logging.
        """
        self._before = {}
        if self.writer.closed:
            return []
        # hooks run before the session counts the run: run_count is this run's index
        step = int(self._global_step()) if self._global_step is not None else sess.run_count
        self._run_step = step
        if step % self.every:
            return []
        self._before = {v: sess.value(v) for v in sess.graph.trainable_variables()}
        return None

    def after_run(self, sess, values) -> None:
        if self.writer.closed:
            return
        step = self._run_step
        finding = getattr(sess, "last_numerics", None)
        if sess.check_numerics and finding is not None:
            self.writer._add_numerics(
                step,
                finding.run_index,
                finding.node,
                finding.op,
                finding.phase,
                finding.kind,
                finding.inputs,
            )
        if step % self.every:
            return
        graph = sess.graph
        hist_due = self.histograms_every > 0 and step % self.histograms_every == 0
        for var in graph.trainable_variables():
            node = var.name
            w = sess.value(var)
            stats = dict(zip(VALUE_STATS, _value_stats(w), strict=True))
            grad_node = graph.gradient_of.get(node)
            g = values(grad_node) if grad_node is not None else None
            if g is not None:
                stats.update(zip(GRAD_STATS, _grad_stats(g), strict=True))
            before = self._before.get(var)
            if before is not None and g is not None:
                stats["update_ratio"] = _update_ratio(before, w)
            hists = {}
            if hist_due:
                hists["value"] = w
                if g is not None:
                    hists["grad"] = g
            self._log(node, step, stats, hists)
        self._before = {}

    def _log(self, node: str, step: int, stats: dict, hists: dict) -> None:
        records = {
            name: histogram_record(f"watch/{node}/{name}", arr, "tensorflow")
            for name, arr in hists.items()
            if np.asarray(arr).size
        }
        declare_and_log(self.writer, self._declared, node, step, stats, records)


def watch(writer, session, every=10, histograms_every=None, global_step=None, log_graph=True):
    """Attach a :class:`WatchHook` to ``session`` and return it.

    ``every``: log statistics on runs whose step is a multiple of it. ``histograms_every``:
    histogram cadence (default ``10 * every``; 0 = never). ``global_step``: a callable giving
    the step to log at, called before each run (default: the session's 0-based run index,
    which is also the ``run_index`` of numerics findings). Unwatched runs keep the session's
    compiled fast path; watched runs are interpreted so gradient values can be read.
    ``log_graph``: also log the session's graph if this writer has not logged one yet.
    """
    if not (hasattr(session, "add_hook") and hasattr(session, "graph")):
        raise TypeError(
            f"watch needs a flowlog Session (with add_hook and graph), got {type(session).__name__}"
        )
    hook = WatchHook(writer, session, every, histograms_every, global_step)
    if log_graph and not writer.graph_logged:
        writer.add_graph(session.graph)
    session.add_hook(hook)
    return hook
