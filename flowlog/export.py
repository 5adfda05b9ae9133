"""The one scalar-export encoding, shared by ``flowlog export-scalars`` and the dashboard.

Format ``flowlog.scalars/2``. CSV: a header row ``run,tag,step,wall_time,value`` (plus
``smoothed`` when a smoothing was applied), ``\\n`` line endings, floats as Python ``repr``
(shortest round-trip). JSON: ``{"format", "smoothing", "series": [{run, tag, step,
wall_time, value[, smoothed]}]}``. In both, non-finite values are spelled ``NaN``,
``Infinity`` and ``-Infinity`` — what ``float()``, JavaScript's ``Number()`` and pandas read
back — because JSON has no NaN and a bare ``nan`` is not portable.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

FORMAT = "flowlog.scalars/2"
COLUMNS = ("run", "tag", "step", "wall_time", "value")


@dataclass(frozen=True)
class ExportSeries:
    """One run × tag: full-resolution arrays; ``smoothed`` only when smoothing was applied."""

    run: str
    tag: str
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray
    smoothed: np.ndarray | None = None


def number(v: float) -> float | str:
    """A float for CSV/JSON: itself when finite, else ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def _text(v: float) -> str:
    return repr(v) if math.isfinite(v) else number(v)


def _smoothed(series: Sequence[ExportSeries]) -> bool:
    return any(s.smoothed is not None for s in series)


def to_csv(series: Iterable[ExportSeries]) -> str:
    series = list(series)
    smoothed = _smoothed(series)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(COLUMNS + (("smoothed",) if smoothed else ()))
    for s in series:
        cols = [s.step.tolist(), s.wall.tolist(), s.value.tolist()]
        if smoothed:
            cols.append((s.value if s.smoothed is None else s.smoothed).tolist())
        for step, wall, *values in zip(*cols, strict=True):
            out.writerow([s.run, s.tag, step, repr(wall), *map(_text, values)])
    return buf.getvalue()


def to_json(series: Iterable[ExportSeries], smoothing: float = 0.0) -> str:
    docs = []
    for s in series:
        doc = {
            "run": s.run,
            "tag": s.tag,
            "step": s.step.tolist(),
            "wall_time": s.wall.tolist(),
            "value": [number(v) for v in s.value.tolist()],
        }
        if s.smoothed is not None:
            doc["smoothed"] = [number(v) for v in s.smoothed.tolist()]
        docs.append(doc)
    body = {"format": FORMAT, "smoothing": smoothing, "series": docs}
    return json.dumps(body, allow_nan=False) + "\n"


def encode(series: Iterable[ExportSeries], fmt: str, smoothing: float = 0.0) -> str:
    """``fmt`` is ``"csv"`` or ``"json"``."""
    if fmt == "csv":
        return to_csv(series)
    if fmt == "json":
        return to_json(series, smoothing)
    raise ValueError(f"export format must be 'csv' or 'json', got {fmt!r}")
