"""``writer.watch(model)`` for ``torch.nn.Module``: the statistics ``watch(sess)`` logs for
flowlog variables, for every parameter, under the parameter's graph node name.

Tags are ``watch/<node>/<stat>`` (stats as :mod:`flowlog.watch`) and histograms
``watch/<node>/value`` / ``watch/<node>/grad``; ``<node>`` is the parameter path with ``/``
(``layer1.0.conv1.weight`` → ``layer1/0/conv1/weight``), the name :mod:`flowlog.torch_graph`
gives its variable node, so the Graph view's node panel and colouring work unchanged.

What a step is: with ``optimizer``, one ``optimizer.step()`` (0-based: the first step is step
0); statistics are taken around it (gradients and the weights before in a step pre-hook, the
updated weights after) and ``update_ratio`` is logged. Without an optimizer, one forward call of
the model in training mode; gradients are read as backward accumulates them, and the step is
logged when the next training forward starts (or at ``flush()``/``remove()``/writer close).
``global_step`` (a callable) overrides the count. Statistics are computed on the parameters'
device (:mod:`flowlog.torch_stats`) and copied to the host once per watched step.
"""

from __future__ import annotations

from flowlog.torch_common import CaptureError, flowlog_running, is_flowlog_running, param_names
from flowlog.torch_graph import describe_call
from flowlog.torch_numerics import NumericsCheck
from flowlog.torch_stats import Gather, grad_stats, histogram, histogram_record, update_ratio
from flowlog.torch_stats import value_stats as value_stats_of
from flowlog.watch import GRAD_STATS, VALUE_STATS, check_cadence, declare_and_log

__all__ = ["ModuleWatch", "watch_module"]


class ModuleWatch:
    """The handle ``watch(model)`` returns; :meth:`remove` takes every hook off again."""

    def __init__(self, writer, model, every, histograms_every, optimizer, global_step):
        self.every, self.histograms_every = check_cadence(every, histograms_every, global_step)
        if optimizer is not None and not hasattr(optimizer, "register_step_pre_hook"):
            raise TypeError(
                f"watch: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self.writer, self.model, self.optimizer = writer, model, optimizer
        names = param_names(model)
        self.params = [(names[id(p)], p) for p in model.parameters()]  # tied: once
        self._global_step = global_step
        self._count = 0  # steps begun so far
        self._step: int | None = None  # the step being taken (None before the first)
        self._watched = False
        self._gather = Gather()
        self._before: dict = {}
        self._declared: set[str] = set()
        self._handles: list = []
        self.numerics: NumericsCheck | None = None
        self._graph_pending = False
        self.removed = False

    # ---------------------------------------------------------------- hook installation
    def install(self, log_graph: bool, check_numerics: bool) -> ModuleWatch:
        hook = self.model.register_forward_pre_hook(self._on_forward, with_kwargs=True)
        self._handles.append(hook)
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_pre_hook(self._before_step))
            self._handles.append(self.optimizer.register_step_post_hook(self._after_step))
        else:
            for name, p in self.params:
                if p.requires_grad:
                    hook = p.register_post_accumulate_grad_hook(self._grad_hook(name))
                    self._handles.append(hook)
        if check_numerics:
            at_end = self.optimizer is not None  # gradients are final at optimizer.step()
            self.numerics = NumericsCheck(self.writer, self.model, grads_at_step_end=at_end)
            self._handles.extend(self.numerics.install())
        self._graph_pending = log_graph and not self.writer.graph_logged
        self.writer._before_close.append(self.flush)
        return self

    def remove(self) -> None:
        """Log what the current step gathered, then remove every hook this watch added."""
        if self.removed:
            return
        self.flush()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self.flush in self.writer._before_close:
            self.writer._before_close.remove(self.flush)
        self.removed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    # ---------------------------------------------------------------- stepping
    def _begin_step(self) -> None:
        step = int(self._global_step()) if self._global_step is not None else self._count
        self._count += 1
        self._step = step
        self._watched = step % self.every == 0
        if self.numerics is not None:
            self.numerics.step = step

    def _hist_due(self) -> bool:
        return self.histograms_every > 0 and self._step % self.histograms_every == 0

    def _on_forward(self, module, args, kwargs):
        if self._busy():
            return
        if self._graph_pending:
            self._graph_pending = False
            if not self.writer.graph_logged:  # one logged since watch() was called stands
                self._log_graph(args, kwargs)
        if self.optimizer is None and module.training:
            self.flush()
            self._begin_step()
            if self._watched:
                self._queue_values(with_hist=self._hist_due())
        elif self.optimizer is not None and self._step is None:
            self._begin_step()

    def _busy(self) -> bool:
        """True while flowlog itself runs the model (graph capture, a numerics re-run)."""
        return is_flowlog_running(self.model)

    def _log_graph(self, args, kwargs) -> None:
        try:
            with flowlog_running(self.model):
                self.writer.add_graph(describe_call(self.model, args, kwargs))
        except CaptureError:
            pass  # the model fails on its own input: training will show the error itself

    def _before_step(self, optimizer, args, kwargs):
        if self._step is None:
            self._begin_step()
        if self.numerics is not None:
            self.numerics.finish_step()
        if not self._watched:
            return
        hist = self._hist_due()
        for name, p in self.params:
            if p.grad is not None:
                self._queue_grad(name, p.grad, hist)
                self._before[name] = p.detach().clone()

    def _after_step(self, optimizer, args, kwargs):
        if self._watched:
            self._queue_values(with_hist=self._hist_due())
            for name, p in self.params:
                if name in self._before:
                    self._gather.add((name, "update_ratio"), update_ratio(self._before[name], p))
            self._before = {}
            self.flush()
        self._begin_step()

    def _grad_hook(self, name):
        def hook(param):
            if self._watched and not self._busy() and param.grad is not None:
                self._queue_grad(name, param.grad, self._hist_due())

        return hook

    # ---------------------------------------------------------------- statistics
    def _queue_values(self, with_hist: bool) -> None:
        for name, p in self.params:
            self._gather.add((name, "value"), value_stats_of(p))
            if with_hist and p.numel():
                self._gather.add((name, "value_hist"), histogram(p))

    def _queue_grad(self, name, grad, with_hist: bool) -> None:
        self._gather.add((name, "grad"), grad_stats(grad))
        if with_hist and grad.numel():
            self._gather.add((name, "grad_hist"), histogram(grad))

    def flush(self) -> None:
        """Copy the gathered statistics to the host (one copy) and log them at their step."""
        if self.numerics is not None:
            self.numerics.finish_step()
        if not len(self._gather) or self.writer.closed:
            self._gather = Gather()
            return
        fetched = self._gather.fetch()
        sizes = {name: p.numel() for name, p in self.params}
        for name, _ in self.params:
            stats, hists = {}, {}
            if (name, "value") in fetched:
                stats.update(zip(VALUE_STATS, fetched[(name, "value")].tolist(), strict=True))
            if (name, "grad") in fetched:
                stats.update(zip(GRAD_STATS, fetched[(name, "grad")].tolist(), strict=True))
            if (name, "update_ratio") in fetched:
                stats["update_ratio"] = float(fetched[(name, "update_ratio")][0])
            for kind, key in (("value", "value_hist"), ("grad", "grad_hist")):
                if (name, key) in fetched:
                    hists[kind] = histogram_record(fetched[(name, key)], sizes[name])
            if stats or hists:
                declare_and_log(self.writer, self._declared, name, self._step, stats, hists)


def watch_module(
    writer,
    model,
    every=10,
    histograms_every=None,
    optimizer=None,
    log_graph=True,
    check_numerics=False,
    global_step=None,
) -> ModuleWatch:
    """Watch ``model``'s parameters (see the module docstring for what a step is).

    ``log_graph``: capture the model's graph on its first forward call (with that call's
    inputs) if the writer has none yet. ``check_numerics``: record the first module — and op,
    where the graph has ops — whose output or gradient became non-finite, per step
    (:mod:`flowlog.torch_numerics`). Returns the handle; ``handle.remove()`` undoes it all.
    """
    if check_numerics not in (False, True):
        raise ValueError(f"watch: check_numerics must be True or False, got {check_numerics!r}")
    handle = ModuleWatch(writer, model, every, histograms_every, optimizer, global_step)
    return handle.install(bool(log_graph), check_numerics)
