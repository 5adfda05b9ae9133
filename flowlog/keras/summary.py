"""``model.summary()``: Keras' table of layers (name and type), output shapes and parameter
counts, with totals that are the sums of the variables' sizes."""

from __future__ import annotations

import numpy as np

from flowlog.graph import format_shape
from flowlog.keras.engine import InputLayer

POSITIONS = (0.45, 0.85, 1.0)


def _row(fields, stops) -> str:
    line = ""
    for field, stop in zip(fields, stops, strict=True):
        line = (line + str(field))[: stop - 1].ljust(stop)
    return line


def _shape(layer) -> str:
    shape = format_shape(layer.output.shape) if layer.output is not None else "multiple"
    return f"[{shape}]" if isinstance(layer, InputLayer) else shape


def _size(var) -> int:
    return int(np.prod(var.shape, dtype=np.int64))


def summary_lines(model, line_length=65) -> list[str]:
    """The table's lines; the rows are ``model.summary_layers()`` in order."""
    stops = [int(line_length * p) for p in POSITIONS]
    lines = [f'Model: "{model.name}"', "_" * line_length]
    lines += [_row(["Layer (type)", "Output Shape", "Param #"], stops), "=" * line_length]
    layers = model.summary_layers()
    for i, layer in enumerate(layers):
        label = f"{layer.name} ({type(layer).__name__})"
        lines.append(_row([label, _shape(layer), layer.count_params()], stops))
        lines.append("_" * line_length if i < len(layers) - 1 else "=" * line_length)
    if not layers:
        lines.append("=" * line_length)
    weights = model.weights
    trainable = sum(_size(v) for v in weights if v.trainable)
    total = sum(_size(v) for v in weights)
    lines += [
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        "_" * line_length,
    ]
    return lines


def print_summary(model, line_length=None, print_fn=None) -> None:
    for line in summary_lines(model, line_length or 65):
        (print_fn or print)(line)
