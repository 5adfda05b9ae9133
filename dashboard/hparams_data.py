"""HParams data: one row of cells per run, read through the app's data provider.

A row holds the run's hyper-parameters (``hp:<name>``), the metrics given to ``add_hparams``
(``metric:<name>``) and, for chosen scalar tags, their final and best values
(``final:<tag>``, ``best:<tag>``; best = min for tags that look like losses or errors, max
otherwise). Cells are JSON-safe and keep full precision: numbers as numbers, bools as
"True"/"False", NaN/±Inf as the texts "NaN"/"Inf"/"-Inf" (JSON has none), None when the run
lacks the value. The grid (hparams_grid) and the parallel coordinates (hparams_figures) both
read these rows.

Everything here is a plain function of ``data`` (a :class:`flowlog.provider.DataProvider`
with ``memo``, i.e. the app's CachedProvider) and run names; a run that vanished (KeyError) or
cannot be read (ReadError) is skipped and reported, never an exception in a callback.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from flowlog.provider import ReadError

LOWER_IS_BETTER = ("loss", "err", "perplexity", "mse", "mae", "nll")

NAN, POS_INF, NEG_INF = "NaN", "Inf", "-Inf"
NONFINITE = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}
MISSING = "n/a"
SIGNIFICANT = 4  # digits the grid shows of a float; the exact value is in the tooltip
LONG_TEXT = 24  # text cells longer than this get their full text as a tooltip
TAG_KINDS = ("final", "best")


class Table(NamedTuple):
    rows: list[dict]  # fresh dicts: id, run, status, color, then the cells
    hkeys: list[str]  # hp:* columns in first-seen order
    mkeys: list[str]  # metric:* columns
    tagkeys: list[str]  # final:<tag>, best:<tag> for each chosen tag
    skipped: list[str]  # "run: why" for runs that could not be read

    @property
    def keys(self) -> list[str]:
        return self.hkeys + self.mkeys + self.tagkeys


def lower_is_better(tag: str) -> bool:
    low = tag.lower()
    return any(word in low for word in LOWER_IS_BETTER)


def is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def cell(v):
    """A JSON-safe cell: bools as text, non-finite floats as NaN/Inf/-Inf."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return NAN if math.isnan(v) else (POS_INF if v > 0 else NEG_INF)
    return v


def as_float(c) -> float | None:
    """A numeric cell back as a float (NaN/±Inf from their texts); None when not a number."""
    if is_number(c):
        return float(c)
    if isinstance(c, str) and c in NONFINITE:
        return NONFINITE[c]
    return None


def column_kind(cells: list) -> str | None:
    """``"int"``, ``"float"`` or ``"text"`` for a column's cells (None = missing); None if all
    are missing. Non-finite texts count as floats; a column of only those stays numeric."""
    present = [c for c in cells if c is not None]
    if not present:
        return None
    if all(as_float(c) is not None for c in present):
        if all(isinstance(c, int) and not isinstance(c, bool) for c in present):
            return "int"
        return "float"
    return "text"


def numeric_kind(kind: str | None) -> bool:
    return kind in ("int", "float")


def column_label(col: str) -> str:
    """``final:loss`` -> "final loss", ``hp:lr`` -> "lr"."""
    kind, _, name = col.partition(":")
    return f"{kind} {name}" if kind in TAG_KINDS else name


def format_number(v: float, digits: int = SIGNIFICANT) -> str:
    """``v`` to ``digits`` significant digits, trailing zeros trimmed, ASCII minus: what d3's
    ``.4~g`` (the old table's format) shows, e.g. 0.01058, -0.01235, 1.235e+4, 1e-7."""
    text = f"{v:.{digits - 1}e}"
    mantissa, exp = text.split("e")
    e = int(exp)
    if e < -6 or e >= digits:  # JavaScript's toPrecision switches to exponents here
        mantissa = mantissa.rstrip("0").rstrip(".")
        out = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    else:
        out = f"{v:.{digits - 1 - e}f}"
        if "." in out:
            out = out.rstrip("0").rstrip(".")
    if out.startswith("-") and float(out) == 0:  # a negative rounding to zero is zero
        out = out[1:]
    return out


def display_text(c, kind: str | None) -> str:
    """What the grid shows for cell ``c`` of a column of ``kind`` (see column_kind)."""
    if c is None:
        return MISSING
    if kind == "float" and is_number(c):
        return format_number(c)
    return str(c)  # ints as ints, NaN/Inf texts and text cells as they are


def tooltip(c, shown: str) -> str | None:
    """The exact value where the grid shows less: rounded numbers, long texts."""
    if is_number(c):
        exact = repr(c)
        return exact if exact != shown else None
    if isinstance(c, str) and len(c) > LONG_TEXT:
        return c
    return None


def tag_summary(data, run: str, tag: str) -> tuple[float | None, float | None]:
    """``(final value, best value)`` of a scalar tag, or ``(None, None)`` if absent/empty."""
    info = data.tags(run, kind="scalar").get(tag)
    if info is None or not info.count:
        return None, None
    last = data.scalars(run, tag, start=info.last_step, end=info.last_step)
    final = float(last.value[-1]) if last.value.size else None
    b = data.scalars_downsampled(run, tag, 1)
    if not b.min.size:
        return final, None
    with np.errstate(all="ignore"):  # an all-NaN tag has no best: NaN, shown as such
        best = float(np.nanmin(b.min) if lower_is_better(tag) else np.nanmax(b.max))
    return final, best


def run_cells(data, run: str, metric_tags: tuple[str, ...]) -> dict:
    """The cells of one run (hp:, metric:, final:, best: keys), cached by ``data.memo`` until
    the run changes. Shared between callers: copy, never mutate."""

    def compute() -> dict:
        hp, metrics = data.hparams(run)
        out = {f"hp:{k}": cell(v) for k, v in hp.items()}
        out.update({f"metric:{k}": cell(v) for k, v in metrics.items()})
        for tag in metric_tags:
            final, best = tag_summary(data, run, tag)
            out[f"final:{tag}"] = cell(final)
            out[f"best:{tag}"] = cell(best)
        return out

    return data.memo(run, ("hparams.cells", metric_tags), compute)


def table(data, info: list[dict], metric_tags: list[str] | None) -> Table:
    """A row per readable run in ``info`` (RUNS_INFO entries: name, color, status)."""
    tags = tuple(metric_tags or ())
    rows, hkeys, mkeys, skipped = [], {}, {}, []
    for r in info:
        name = r["name"]
        try:
            cells = run_cells(data, name, tags)
        except KeyError:
            continue  # vanished since the runs were listed
        except ReadError as e:
            skipped.append(f"{name}: {e}")
            continue
        for col in cells:
            if col.startswith("hp:"):
                hkeys.setdefault(col, None)
            elif col.startswith("metric:"):
                mkeys.setdefault(col, None)
        rows.append(
            {"id": name, "run": name, "status": r.get("status"), "color": r.get("color"), **cells}
        )
    tagkeys = [f"{kind}:{t}" for t in tags for kind in TAG_KINDS]
    return Table(rows, list(hkeys), list(mkeys), tagkeys, skipped)


def scalar_tags(data, info: list[dict]) -> list[str]:
    """Every scalar tag of the runs in ``info``, sorted (unreadable runs add none)."""
    tags: set[str] = set()
    for r in info:
        try:
            tags.update(data.tags(r["name"], kind="scalar"))
        except (KeyError, ReadError):
            continue
    return sorted(tags)


def default_metric_tags(tags: list[str]) -> list[str]:
    """The tags whose final/best columns a first visit shows: up to two loss-like ones (which
    people compare most), else the first tag; watch/ statistics never."""
    plain = [t for t in tags if not t.startswith("watch/")]
    return [t for t in plain if lower_is_better(t)][:2] or plain[:1]
