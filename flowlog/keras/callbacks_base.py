"""The engine's callbacks: the :class:`Callback` hooks ``fit``/``evaluate``/``predict`` call,
:class:`History` (what ``fit`` returns), :class:`EarlyStopping` and :class:`ModelCheckpoint`.
They import nothing of the log; the public module :mod:`flowlog.keras.callbacks` re-exports
them beside the logging callback ``FlowLog`` (write side).

Hooks get ``logs`` dicts of floats: batch hooks the running epoch averages, epoch hooks the
epoch's averages plus ``val_…`` entries. A callback stops training by setting
``self.model.stop_training = True`` (checked after every batch and epoch).
"""

from __future__ import annotations

import os
import sys

import numpy as np

HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


class Callback:
    """Base class; every hook does nothing. ``model`` and ``params`` are set before
    ``on_train_begin`` (``params``: ``epochs``, ``steps``, ``verbose``)."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


def _overrides(cb, hook) -> bool:
    return getattr(type(cb), hook, None) is not getattr(Callback, hook)


class CallbackList:
    """Calls a hook on every callback; ``wants(hook)`` says whether any overrides it, so the
    training loop builds per-batch logs only when someone reads them."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
            cb.set_model(model)
            cb.set_params(params)
        self._wanted = {h: [cb for cb in self.callbacks if _overrides(cb, h)] for h in HOOKS}

    def wants(self, hook) -> bool:
        return bool(self._wanted[hook])

    def call(self, hook, *args):
        for cb in self._wanted[hook]:
            getattr(cb, hook)(*args)


class History(Callback):
    """``history[name]`` = one value per epoch (``loss``, metrics, ``val_…``); ``epoch`` the
    epoch numbers (0-based, as Keras)."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _monitor_op(mode, monitor, who):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.startswith("fmeasure")) else "min"
    return (np.greater, -np.inf) if mode == "max" else (np.less, np.inf)


def _warn(msg):
    print(f"WARNING: {msg}", file=sys.stderr)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; with
    ``restore_best_weights`` the model ends with the weights of its best epoch."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.monitor_op, self._init_best = _monitor_op(mode, monitor, "EarlyStopping")
        self.min_delta = abs(min_delta) * (1 if self.monitor_op is np.greater else -1)

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = self._init_best, None

    def _improved(self, current, reference) -> bool:
        return bool(self.monitor_op(current - self.min_delta, reference))

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            _warn(f"EarlyStopping: {self.monitor!r} is not in the logs ({', '.join(logs or {})})")
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1:05d}: early stopping")


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) after each epoch to ``filepath``, which may hold
    ``{epoch:02d}`` (1-based, as Keras) and any log entry (``{val_loss:.2f}``)."""

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
    ):
        super().__init__()
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.monitor_op, self.best = _monitor_op(mode, monitor, "ModelCheckpoint")

    def _path(self, epoch, logs) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise KeyError(
                f"ModelCheckpoint: filepath {self.filepath!r} names {exc}, which is not in the "
                f"logs ({', '.join(['epoch', *logs])})"
            ) from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                _warn(f"ModelCheckpoint: {self.monitor!r} is not in the logs; not saving")
                return
            if not self.monitor_op(current, self.best):
                return
            self.best = current
        path = self._path(epoch, logs)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1:05d}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
