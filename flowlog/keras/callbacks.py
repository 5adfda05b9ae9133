"""Keras callbacks (``fl.keras.callbacks``): the engine's :class:`Callback`, :class:`History`,
:class:`EarlyStopping` and :class:`ModelCheckpoint` (defined in
:mod:`flowlog.keras.callbacks_base`), and :class:`FlowLog`, the counterpart of Keras'
``TensorBoard`` callback, which writes the flowlog event log (this module is write side).
"""

from __future__ import annotations

import math
import numbers
import os

from flowlog import records
from flowlog.keras.callbacks_base import (
    HOOKS,
    Callback,
    CallbackList,
    EarlyStopping,
    History,
    ModelCheckpoint,
)
from flowlog.watch import WatchHook
from flowlog.writer import SummaryWriter

__all__ = [
    "HOOKS",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "FlowLog",
    "History",
    "ModelCheckpoint",
]

_GRAD = "flowlog/grad/"  # prefix of FlowLog's entries in model.extra_fetches
_BATCH = "flowlog/batch_size"
# run directory (real path) -> the FlowLog writer open on it: a fit that raised never reached
# on_train_end, and its writer would refuse the next FlowLog on the same runs
_OPEN: dict[str, SummaryWriter] = {}


def check_update_freq(value):
    """``"epoch"``, ``"batch"`` or a positive int (log every that many batches)."""
    if isinstance(value, str) and value in ("epoch", "batch"):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise ValueError(
        f"FlowLog: update_freq must be 'epoch', 'batch' or a positive int (log every N "
        f"batches), got {value!r}"
    )


def check_histogram_freq(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"FlowLog: histogram_freq must be an int (epochs, 0 = never), got {value!r}"
        )
    if value < 0:
        raise ValueError(f"FlowLog: histogram_freq must be >= 0 (epochs, 0 = never), got {value}")
    return int(value)


class FlowLog(Callback):
    """Log training to flowlog as Keras' ``TensorBoard`` callback logs to TensorBoard.

    Two runs, so the dashboard overlays them in one chart per metric: ``<log_dir>/train`` and
    ``<log_dir>/validation`` (``<log_dir>/<run_name>/…`` with ``run_name``), the latter made
    at the first epoch with ``val_…`` logs. In both, ``epoch_<metric>`` (``epoch_loss``,
    ``epoch_accuracy`` …) at step = epoch (0-based); with ``update_freq="batch"`` or ``N``
    also ``batch_<metric>`` in train (the epoch's running average, as Keras' logs) at step =
    training batches since ``compile`` (0-based), every batch or every ``N``-th.

    The train run also gets: the model's graph (``write_graph``; layers are name scopes, the
    gradient/optimizer machinery is folded by the dashboard); every ``histogram_freq`` epochs
    (0 = never) each trainable weight's statistics and histograms in :mod:`flowlog.watch`'s
    layout (``watch/<layer>/kernel/grad_norm`` …, step = epoch), from the epoch's last batch,
    whose gradients ``fit`` fetches in that batch's run (``model.extra_fetches``); and at the
    end one hparams trial (optimizer, lr, loss, batch_size, epochs, plus ``hparams``) with the
    final logs as metrics (``loss``, ``accuracy``, ``val_loss`` …).

    A ``fit`` from scratch (``model.global_step == 0``) starts its runs afresh (as re-running
    a script should); a later ``fit`` appends, as Keras does. Writers are flushed after every
    epoch and closed at ``on_train_end``; if training raises, what was logged is on disk, and
    the next FlowLog writing the same runs (this one in a later ``fit``, or a new one) first
    closes the abandoned writers, marking the runs crashed. :meth:`close` closes them now.
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=1,
        write_graph=True,
        update_freq="epoch",
        run_name=None,
        write_hparams=True,
        hparams=None,
    ):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"FlowLog: log_dir must be a str or path, got {log_dir!r}")
        if run_name is not None and (not isinstance(run_name, str) or not run_name.strip()):
            raise ValueError(f"FlowLog: run_name must be a non-empty str or None, got {run_name!r}")
        if hparams is not None and not isinstance(hparams, dict):
            raise TypeError(f"FlowLog: hparams must be a dict, got {type(hparams).__name__}")
        records.check_hparams(hparams or {}, {})  # a bad value fails now, not after training
        self.log_dir, self.run_name = os.fspath(log_dir), run_name
        self.histogram_freq = check_histogram_freq(histogram_freq)
        self.update_freq = check_update_freq(update_freq)
        self.write_graph, self.write_hparams = bool(write_graph), bool(write_hparams)
        self.extra_hparams = dict(hparams or {})
        self._writers: dict[str, SummaryWriter] = {}
        self._keys: dict[str, str] = {}  # run -> real path of its directory
        self._hook: WatchHook | None = None
        self._epoch = 0
        self._batch_size = None
        self._fetching: list[str] = []
        self._watching = False
        self._from_scratch = False

    # ------------------------------------------------------------------ runs
    def run_dir(self, which: str) -> str:
        """The directory of the ``"train"`` or ``"validation"`` run."""
        parts = [self.run_name] if self.run_name else []
        return os.path.join(self.log_dir, *parts, which)

    def writer(self, which: str) -> SummaryWriter:
        """The run's writer, opened on first use; one left open on the same run by a ``fit``
        that raised (this callback's or another's) is closed as crashed first."""
        key = self._keys.get(which) or self._keys.setdefault(
            which, os.path.realpath(self.run_dir(which))
        )
        w, other = self._writers.get(which), _OPEN.get(key)
        if other is not None and other is not w:
            other.close(status="crashed")
        if w is None:
            purge = 0 if self._from_scratch else None
            w = self._writers[which] = SummaryWriter(self.run_dir(which), purge_step=purge)
        _OPEN[key] = w
        return w

    def close(self) -> None:
        """Close the runs' writers (``on_train_end`` does; a later ``fit`` reopens them)."""
        for which, w in self._writers.items():
            if _OPEN.get(self._keys[which]) is w:
                del _OPEN[self._keys[which]]
            w.close()

    # ------------------------------------------------------------------ train
    def on_train_begin(self, logs=None):
        self._from_scratch = self.model.global_step == 0
        train = self.writer("train")
        if self.write_graph and not train.graph_logged:
            train.add_graph(self.model.graph)
        self._batch_size = self.params.get("batch_size")
        self._hook = None
        if self.histogram_freq:
            self._hook = WatchHook(
                train, self.model.session, every=1, histograms_every=1, global_step=self._step
            )

    def _step(self) -> int:
        return self._epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _watch_due(self, batch) -> bool:
        last = batch == self.params.get("steps", 1) - 1
        return self._hook is not None and last and self._epoch % self.histogram_freq == 0

    def on_train_batch_begin(self, batch, logs=None):
        fetches = {}
        if self._batch_size is None:
            fetches[_BATCH] = self.model.target  # the fed targets: their length is the batch size
        self._watching = self._watch_due(batch)
        if self._watching:
            self._hook.before_run(self.model.session)
            fetches.update({_GRAD + v: g for v, g in self.model.gradients.items()})
        self.model.extra_fetches.update(fetches)
        self._fetching = list(fetches)

    def on_train_batch_end(self, batch, logs=None):
        model = self.model
        results = model.extra_results
        for key in self._fetching:
            model.extra_fetches.pop(key, None)
        if _BATCH in self._fetching:
            self._batch_size = len(results[_BATCH])
        if self._watching:
            grads = {g: results[_GRAD + v] for v, g in model.gradients.items()}
            self._hook.after_run(model.session, grads.get)
            self._watching = False
        self._fetching = []
        freq = self.update_freq
        step = model.global_step - 1
        if freq != "epoch" and (freq == "batch" or step % freq == 0):
            train = self.writer("train")
            for name, value in (logs or {}).items():
                train.add_scalar(f"batch_{name}", value, step)

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            which, metric = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            self.writer(which).add_scalar(f"epoch_{metric}", value, epoch)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        if self.write_hparams:
            metrics = {
                k: float(v)
                for k, v in (logs or {}).items()
                if isinstance(v, numbers.Real) and math.isfinite(v)
            }
            self.writer("train").add_hparams(self.hparams(), metrics, global_step=self._epoch)
        self.close()

    def hparams(self) -> dict:
        """What the trial records: the compile/fit arguments plus the ``hparams`` given."""
        model, opt = self.model, self.model.optimizer
        found = {
            "optimizer": getattr(opt, "name", None) or type(opt).__name__,
            "lr": getattr(opt, "learning_rate", None),
            "loss": getattr(model.loss, "name", None) or type(model.loss).__name__,
            "batch_size": self._batch_size,
            "epochs": self.params.get("epochs"),
            **self.extra_hparams,
        }
        return {k: v for k, v in found.items() if v is not None}
