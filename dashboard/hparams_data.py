"""HParams data: one row of cells per trial (``add_hparams`` call), read through the app's
data provider.

A run that called ``add_hparams`` five times (a sweep loop in one script) gives five rows, a
run with one call one row, a run with none one row (its final/best columns still compare it).
A row holds the trial's hyper-parameters (``hp:<name>``), the metrics given to its
``add_hparams`` call (``metric:<name>``) and, for chosen scalar tags of a run with at most one
trial, their final and best values (``final:<tag>``, ``best:<tag>``; best = min for tags that
look like losses or errors, max otherwise). Cells are JSON-safe and keep full precision:
numbers as numbers, bools as "True"/"False", NaN/±Inf as the texts "NaN"/"Inf"/"-Inf" (JSON
has none), None when the trial lacks the value. The grid (hparams_grid) and the parallel
coordinates (hparams_figures) both read these rows.

Everything here is a plain function of ``data`` (a :class:`flowlog.provider.DataProvider`
with ``memo``, i.e. the app's CachedProvider) and run names; a run that vanished (KeyError) or
cannot be read (ReadError) is skipped and reported, never an exception in a callback.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np

from flowlog.dashboard import untrusted
from flowlog.dashboard.untrusted import RUN_ERRORS
from flowlog.provider import ReadError, tag_label

LOWER_IS_BETTER = ("loss", "err", "perplexity", "mse", "mae", "nll")

NAN, POS_INF, NEG_INF = "NaN", "Inf", "-Inf"
NONFINITE = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}
MISSING = "n/a"
SIGNIFICANT = 4  # digits the grid shows of a float; the exact value is in the tooltip
LONG_TEXT = 24  # text cells longer than this get their full text as a tooltip
TAG_KINDS = ("final", "best")
# what a row holds besides its cells; "trials": how many the row's run has
ROW_FIELDS = ("id", "run", "trial", "trials", "label", "step", "when", "wall", "status", "color")
TRIAL_META = ("trial", "trial_name", "step", "wall", "domains")  # trial_cells, not cells
RUN_LEVEL = (
    "final/best of scalar tags belong to the run, not to one of its {n} trials "
    "(each add_hparams call is a trial; its metrics are the metric columns)"
)


class Table(NamedTuple):
    rows: list[dict]  # fresh dicts: ROW_FIELDS, then the cells
    hkeys: list[str]  # hp:* columns in first-seen order
    mkeys: list[str]  # metric:* columns
    tagkeys: list[str]  # final:<tag>, best:<tag> for each chosen tag
    skipped: list[str]  # "run: why" for runs that could not be read
    # hp:<name> -> the values hparam_domain_discrete declared (as cells), first-seen order
    domains: dict[str, list] = {}  # noqa: RUF012 (never mutated)

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
    return f"{kind} {tag_label(name)}" if kind in TAG_KINDS else name


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


def trial_label(run: str, index: int | None, name: str | None, count: int, dup: bool) -> str:
    """How a trial's row reads: the run, plus the trial's ``run_name`` (``#k`` added when the
    run repeats that name) or, in a run of several trials, ``#k``."""
    if name:
        return f"{run} · {name}" + (f" #{index}" if dup else "")
    return f"{run} #{index}" if count > 1 and index is not None else run


def _when(wall: float | None) -> str | None:
    return None if wall is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))


def trial_note(row: dict) -> str:
    """The run column's tooltip: which trial of how many, when and at which step."""
    count, index = row["trials"], row["trial"]
    parts = [row["label"] if row["label"] == row["run"] else f"{row['label']} (run {row['run']})"]
    if index is not None and count > 1:
        parts.append(f"trial {index} of {count}")
    if row.get("when"):
        parts.append(f"logged {row['when']}")
    if row.get("step") is not None:
        parts.append(f"step {row['step']}")
    return " — ".join(parts)


def trial_cells(data, run: str, metric_tags: tuple[str, ...]) -> list[dict]:
    """One dict per trial of the run (a run without trials gives one, so its final/best
    columns still compare it): ``trial``, ``trial_name``, ``step``, ``wall``, ``domains``
    and the cells (hp:, metric:, final:, best: keys). Cached by ``data.memo`` until the run
    changes; shared between callers: copy, never mutate.

    final/best of scalar tags belong to the run, not to a trial: a run of several trials
    leaves them missing (``RUN_LEVEL`` says why) rather than repeat one value on each row."""

    def compute() -> list[dict]:
        trials = data.trials(run)
        tag_cells = {}
        if len(trials) <= 1:
            for tag in metric_tags:
                final, best = tag_summary(data, run, tag)
                tag_cells[f"final:{tag}"] = cell(final)
                tag_cells[f"best:{tag}"] = cell(best)
        else:
            tag_cells = {f"{kind}:{tag}": None for tag in metric_tags for kind in TAG_KINDS}
        if not trials:
            meta = {"trial": None, "trial_name": None, "step": None, "wall": None}
            return [{**meta, "domains": {}, **tag_cells}]
        out = []
        for t in trials:
            cells = {f"hp:{k}": cell(v) for k, v in t.hparams.items()}
            cells.update({f"metric:{k}": cell(v) for k, v in t.metrics.items()})
            domains = {f"hp:{k}": [cell(v) for v in vs] for k, vs in (t.domains or {}).items()}
            meta = {"trial": t.index, "trial_name": t.name, "step": t.step, "wall": t.wall}
            out.append({**meta, "domains": domains, **cells, **tag_cells})
        return out

    return data.memo(run, ("hparams.trials", metric_tags), compute)


def _rows_of_run(r: dict, trials: list[dict]) -> list[dict]:
    """Fresh grid rows for the trials of run ``r`` (a RUNS_INFO entry)."""
    name, count = r["name"], sum(t["trial"] is not None for t in trials)
    names = [t["trial_name"] for t in trials]
    rows = []
    for t in trials:
        cells = {k: v for k, v in t.items() if k not in TRIAL_META}
        dup = bool(t["trial_name"]) and names.count(t["trial_name"]) > 1
        row = {
            "id": f"{name}#{t['trial'] or 0}",
            "run": name,
            "trial": t["trial"],
            "trials": count,
            "label": trial_label(name, t["trial"], t["trial_name"], count, dup),
            "step": t["step"],
            "when": _when(t["wall"]),
            "wall": t["wall"],
            "status": r.get("status"),
            "color": r.get("color"),
            **cells,
        }
        rows.append(row)
    return rows


def table(data, info: list[dict], metric_tags: list[str] | None) -> Table:
    """A row per trial (``add_hparams`` call) of each readable run in ``info`` (RUNS_INFO
    entries: name, color, status), runs in ``info``'s order, trials in logging order; a run
    without trials gets one row. Row ids are ``<run>#<trial index>`` (``#0``: no trial)."""
    tags = tuple(metric_tags or ())
    rows, hkeys, mkeys, skipped, domains = [], {}, {}, [], {}
    for r in info:
        name = r["name"]
        try:
            trials = trial_cells(data, name, tags)
        except KeyError:
            continue  # vanished since the runs were listed
        except (ReadError, ValueError) as e:  # damaged, or a chosen tag of another kind
            skipped.append(untrusted.problem(name, e, data))
            continue
        for t in trials:
            for col in t:
                if col.startswith("hp:"):
                    hkeys.setdefault(col, None)
                elif col.startswith("metric:"):
                    mkeys.setdefault(col, None)
            for col, values in t["domains"].items():
                known = domains.setdefault(col, [])
                known.extend(v for v in values if v not in known)
        rows.extend(_rows_of_run(r, trials))
    tagkeys = [f"{kind}:{t}" for t in tags for kind in TAG_KINDS]
    return Table(rows, list(hkeys), list(mkeys), tagkeys, skipped, domains)


def scalar_tags(data, info: list[dict]) -> list[str]:
    """Every scalar tag of the runs in ``info``, sorted (unreadable runs add none)."""
    tags: set[str] = set()
    for r in info:
        try:
            tags.update(data.tags(r["name"], kind="scalar"))
        except RUN_ERRORS:
            continue  # vanished or unreadable: the table says so
    return sorted(tags)


def default_metric_tags(tags: list[str]) -> list[str]:
    """The tags whose final/best columns a first visit shows: up to two loss-like ones (which
    people compare most), else the first tag; watch/ statistics never."""
    plain = [t for t in tags if not t.startswith("watch/")]
    return [t for t in plain if lower_is_better(t)][:2] or plain[:1]
