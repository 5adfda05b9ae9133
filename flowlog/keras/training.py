"""The loops behind ``fit``, ``evaluate`` and ``predict``.

The graph is complete before the first batch (``compile`` built the loss, metrics and train
op); a batch costs one ``sess.run`` of ``[train_op, loss, *metrics, *model.extra_fetches]``
with a feed dict of array slices, plus a few float additions for the running averages, so
``fit`` stays close to a hand-written ``sess.run(train_op, feed)`` loop.
"""

from __future__ import annotations

import math

import numpy as np

from flowlog.graph import format_shape
from flowlog.keras.callbacks_base import CallbackList, History
from flowlog.keras.engine import existing_learning_phase, shape_error
from flowlog.keras.initializers import shared_rng
from flowlog.keras.progbar import Progbar

_TRUE = np.array(True)


# ====================================================================== data
def as_inputs(model, x, who: str) -> list[np.ndarray]:
    """``x`` (one array, or a list for several inputs) cast to the inputs' dtypes, with each
    shape checked against its placeholder so a mismatch names the layer and both shapes."""
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(xs) != len(model.inputs):
        raise ValueError(f"{who}: the model has {len(model.inputs)} inputs, got {len(xs)} arrays")
    out = []
    for i, (ph, a) in enumerate(zip(model.inputs, xs, strict=True)):
        a = np.ascontiguousarray(a, dtype=ph.dtype)
        expected = ph.shape
        if a.ndim != len(expected) or any(
            e is not None and e != s for e, s in zip(expected, a.shape, strict=False)
        ):
            raise shape_error(model.first_layer_of(i), f"shape {format_shape(expected)}", a.shape)
        out.append(a)
    return out


def as_targets(model, y, who: str) -> np.ndarray:
    """``y`` in the target placeholder's dtype and rank; integer labels for sparse losses."""
    if y is None:
        raise ValueError(f"{who}: targets y are required")
    target = model.target
    y = np.asarray(y)
    if model.loss.sparse:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"{who}: {model.loss.name} takes integer class labels of shape (n,), got an "
                f"array of shape {y.shape}; for one-hot targets use categorical_crossentropy"
            )
        return np.ascontiguousarray(y, dtype=target.dtype)
    y = np.ascontiguousarray(y, dtype=target.dtype)
    if y.ndim == len(target.shape) - 1:
        y = y[..., None]  # Keras expands (n,) targets to (n, 1)
    if y.ndim != len(target.shape) or any(
        e is not None and e != s for e, s in zip(target.shape[1:], y.shape[1:], strict=False)
    ):
        raise ValueError(
            f"{who}: targets of shape {y.shape} do not fit the model output "
            f"{format_shape(target.shape)} (loss {model.loss.name}); integer class labels "
            "need loss='sparse_categorical_crossentropy'"
        )
    return y


def check_lengths(xs, y) -> int:
    sizes = {len(a) for a in xs} | ({len(y)} if y is not None else set())
    if len(sizes) > 1:
        x_sizes = ", ".join(str(len(a)) for a in xs)
        y_sizes = f"; y sizes: {len(y)}" if y is not None else ""
        raise ValueError(
            f"Data cardinality is ambiguous: x sizes: {x_sizes}{y_sizes}. Make sure all arrays "
            "contain the same number of samples."
        )
    return sizes.pop()


def _batches(n, batch_size, order):
    for start in range(0, n, batch_size):
        yield (
            slice(start, start + batch_size) if order is None else order[start : start + batch_size]
        )


def _check_batch_size(batch_size, who):
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"{who}: batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


# ====================================================================== fit
def fit(
    model,
    x,
    y,
    batch_size=32,
    epochs=1,
    verbose=1,
    callbacks=None,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    initial_epoch=0,
):
    """Train; returns the :class:`History`. Validation runs after each epoch."""
    model.check_compiled("fit", x)
    batch_size = _check_batch_size(batch_size, "fit")
    xs, y = as_inputs(model, x, "fit"), as_targets(model, y, "fit")
    n = check_lengths(xs, y)
    xs, y, val = _validation(model, xs, y, n, validation_split, validation_data)
    steps = math.ceil(len(y) / batch_size)
    model.history = History()
    params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    cbs = CallbackList([*(callbacks or []), model.history], model, params)
    model.stop_training = False
    cbs.call("on_train_begin", {})
    logs: dict = {}
    for epoch in range(initial_epoch, epochs):
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        cbs.call("on_epoch_begin", epoch, {})
        bar = Progbar(steps, verbose)
        logs = train_epoch(model, xs, y, batch_size, shuffle, cbs, bar)
        if val is not None:
            val_logs = test_loop(model, val[0], val[1], batch_size, cbs)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        bar.finish(logs)
        cbs.call("on_epoch_end", epoch, logs)
        if model.stop_training:
            break
    cbs.call("on_train_end", logs)
    return model.history


def _validation(model, xs, y, n, split, data):
    """``(train x, train y, (val x, val y) or None)``; a split takes the *last* samples, before
    any shuffling, as Keras does."""
    if data is not None:
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val)")
        vx, vy = as_inputs(model, data[0], "fit validation_data"), as_targets(model, data[1], "fit")
        check_lengths(vx, vy)
        return xs, y, (vx, vy)
    if not split:
        return xs, y, None
    if not 0 < split < 1:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {split!r}")
    cut = int(n * (1.0 - split))
    if cut == 0 or cut == n:
        raise ValueError(f"fit: validation_split={split} of {n} samples leaves an empty set")
    return [a[:cut] for a in xs], y[:cut], ([a[cut:] for a in xs], y[cut:])


def train_epoch(model, xs, y, batch_size, shuffle, cbs, bar) -> dict:
    """One pass over the data; returns the epoch's sample-weighted average loss and metrics."""
    order = shared_rng().permutation(len(y)) if shuffle else None
    inputs, target = model.inputs, model.target
    lp = existing_learning_phase(model.graph)
    fetches = [model.train_op, model.total_loss, *model.metrics_tensors.values()]
    names = model.metrics_names
    k = len(names)
    sums, seen = [0.0] * k, 0
    run = model.session.run
    begin, end = cbs.wants("on_train_batch_begin"), cbs.wants("on_train_batch_end")
    per_batch = end or bar.live
    for batch, rows in enumerate(_batches(len(y), batch_size, order)):
        if begin:
            cbs.call("on_train_batch_begin", batch, {})
        feed = {ph: a[rows] for ph, a in zip(inputs, xs, strict=True)}
        feed[target] = yb = y[rows]
        if lp is not None:
            feed[lp] = _TRUE
        extra = model.extra_fetches
        if extra:
            values = run(fetches + list(extra.values()), feed)
            model.extra_results = dict(zip(extra, values[k + 1 :], strict=True))
        else:
            values = run(fetches, feed)
        size = len(yb)
        seen += size
        for i in range(k):
            sums[i] += float(values[i + 1]) * size
        model.global_step += 1
        if per_batch:
            logs = {name: s / seen for name, s in zip(names, sums, strict=True)}
            if end:
                cbs.call("on_train_batch_end", batch, logs)
            bar.update(batch + 1, logs)
        if model.stop_training:
            break
    return {name: s / max(seen, 1) for name, s in zip(names, sums, strict=True)}


# ====================================================================== evaluate, predict
def test_loop(model, xs, y, batch_size, cbs) -> dict:
    """Sample-weighted averages of loss and metrics over batches (dropout off)."""
    cbs.call("on_test_begin", {})
    fetches = [model.total_loss, *model.metrics_tensors.values()]
    names = model.metrics_names
    sums, seen = [0.0] * len(names), 0
    for batch, rows in enumerate(_batches(len(y), batch_size, None)):
        cbs.call("on_test_batch_begin", batch, {})
        feed = {ph: a[rows] for ph, a in zip(model.inputs, xs, strict=True)}
        feed[model.target] = yb = y[rows]
        values = model.session.run(fetches, feed)
        seen += len(yb)
        for i, v in enumerate(values):
            sums[i] += float(v) * len(yb)
        cbs.call(
            "on_test_batch_end", batch, {n: s / seen for n, s in zip(names, sums, strict=True)}
        )
    logs = {name: s / max(seen, 1) for name, s in zip(names, sums, strict=True)}
    cbs.call("on_test_end", logs)
    return logs


def evaluate(model, x, y, batch_size=32, verbose=0, callbacks=None, return_dict=False):
    """Loss (a float) when there are no metrics, else ``[loss, *metrics]``, as Keras."""
    model.check_compiled("evaluate", x)
    batch_size = _check_batch_size(batch_size, "evaluate")
    xs, y = as_inputs(model, x, "evaluate"), as_targets(model, y, "evaluate")
    check_lengths(xs, y)
    steps = math.ceil(len(y) / batch_size)
    cbs = CallbackList(callbacks, model, {"verbose": verbose, "steps": steps})
    bar = Progbar(steps, verbose)
    logs = test_loop(model, xs, y, batch_size, cbs)
    bar.finish(logs)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=32, verbose=0, callbacks=None):
    """The outputs for ``x`` in batches, as numpy (a list for several outputs)."""
    model.ensure_built(x)
    batch_size = _check_batch_size(batch_size, "predict")
    xs = as_inputs(model, x, "predict")
    n = check_lengths(xs, None)
    steps = math.ceil(n / batch_size)
    cbs = CallbackList(callbacks, model, {"verbose": verbose, "steps": steps})
    cbs.call("on_predict_begin", {})
    parts = [[] for _ in model.outputs]
    for batch, rows in enumerate(_batches(n, batch_size, None)):
        cbs.call("on_predict_batch_begin", batch, {})
        feed = {ph: a[rows] for ph, a in zip(model.inputs, xs, strict=True)}
        for part, value in zip(parts, model.session.run(model.outputs, feed), strict=True):
            part.append(value)
        cbs.call("on_predict_batch_end", batch, {"outputs": parts})
    cbs.call("on_predict_end", {})
    outs = [
        np.concatenate(p) if p else np.zeros((0, *o.shape[1:]), o.dtype)
        for p, o in zip(parts, model.outputs, strict=True)
    ]
    return outs[0] if len(outs) == 1 else outs
