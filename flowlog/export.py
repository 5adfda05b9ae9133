"""The one scalar-export encoding, shared by ``flowlog export-scalars`` and the dashboard.

Format ``flowlog.scalars/2``. CSV: a header row ``run,tag,step,wall_time,value`` (plus
``smoothed`` when a smoothing was applied), ``\\n`` line endings, floats as Python ``repr``
(shortest round-trip). JSON: ``{"format", "smoothing", "series": [{run, tag, step,
wall_time, value[, smoothed]}]}``. In both, non-finite values are spelled ``NaN``,
``Infinity`` and ``-Infinity`` — what ``float()``, JavaScript's ``Number()`` and pandas read
back — because JSON has no NaN and a bare ``nan`` is not portable.

Two optional fields, present only when an exported series has them, so files of plain tags
of single-file runs are unchanged: ``series``, the ``add_scalars`` key (``tag`` is then the
chart's main tag: ``add_scalars("Loss", {"train": ...})`` exports as tag ``Loss``, series
``train``, never the stored name with its U+001F separator), and ``rank``, the
torch.distributed rank a series was read from. In CSV they are the columns right after
``tag`` (empty for a series without one); in JSON, keys of the series' object.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from flowlog.provider import SERIES_SEP

FORMAT = "flowlog.scalars/2"
COLUMNS = ("run", "tag", "step", "wall_time", "value")


@dataclass(frozen=True)
class ExportSeries:
    """One run × tag: full-resolution arrays; ``smoothed`` only when smoothing was applied.

    ``tag`` may be given as stored (``main + U+001F + key``): it is split into ``tag`` (the
    main tag) and ``series`` (the key).
    """

    run: str
    tag: str
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray
    smoothed: np.ndarray | None = None
    series: str | None = None  # the add_scalars key
    rank: int | None = None  # the torch.distributed rank read

    def __post_init__(self):
        if SERIES_SEP in self.tag:
            main, key = self.tag.split(SERIES_SEP, 1)
            object.__setattr__(self, "tag", main)
            if self.series is None:
                object.__setattr__(self, "series", key)


def number(v: float) -> float | str:
    """A float for CSV/JSON: itself when finite, else ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def _text(v: float) -> str:
    return repr(v) if math.isfinite(v) else number(v)


def _smoothed(series: Sequence[ExportSeries]) -> bool:
    return any(s.smoothed is not None for s in series)


def _extra(series: Sequence[ExportSeries]) -> tuple[str, ...]:
    """The optional identity columns some of ``series`` need."""
    return tuple(k for k in ("series", "rank") if any(getattr(s, k) is not None for s in series))


def to_csv(series: Iterable[ExportSeries]) -> str:
    series = list(series)
    smoothed = _smoothed(series)
    extra = _extra(series)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(COLUMNS[:2] + extra + COLUMNS[2:] + (("smoothed",) if smoothed else ()))
    for s in series:
        ident = [s.run, s.tag, *("" if getattr(s, k) is None else getattr(s, k) for k in extra)]
        cols = [s.step.tolist(), s.wall.tolist(), s.value.tolist()]
        if smoothed:
            cols.append((s.value if s.smoothed is None else s.smoothed).tolist())
        for step, wall, *values in zip(*cols, strict=True):
            out.writerow([*ident, step, repr(wall), *map(_text, values)])
    return buf.getvalue()


def to_json(series: Iterable[ExportSeries], smoothing: float = 0.0) -> str:
    docs = []
    for s in series:
        doc = {"run": s.run, "tag": s.tag}
        doc.update({k: getattr(s, k) for k in ("series", "rank") if getattr(s, k) is not None})
        doc.update(
            step=s.step.tolist(),
            wall_time=s.wall.tolist(),
            value=[number(v) for v in s.value.tolist()],
        )
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
