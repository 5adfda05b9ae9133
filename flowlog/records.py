"""What a logged value becomes: input checks with errors naming the tag, and histogram
records. Pure functions (numpy, no SQL, no engine), so bad input is refused before anything
reaches the writer's buffer.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping

import numpy as np

from flowlog import schema
from flowlog.media import check_chars, to_numpy


def check_run_name(run_name: object) -> str:
    if not isinstance(run_name, str) or not run_name.strip():
        raise ValueError(f"run_name must be a non-empty string, got {run_name!r}")
    check_chars("run_name", run_name)
    parts = run_name.replace("\\", "/").split("/")
    if os.path.isabs(run_name) or any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"run_name {run_name!r} must be a relative path without '.', '..' or empty parts"
        )
    return run_name


def check_path(what: str, path: object) -> None:
    """A run's directory (``log_dir``, ``logdir``, ``comment``): its name is the run's name in
    every reader, so it must be text SQLite and the dashboard can carry (no lone surrogates,
    which ``os.fsdecode`` makes of non-UTF-8 bytes, and no NUL)."""
    path = os.fspath(path)
    if isinstance(path, str):
        check_chars(what, path)


def check_tag(tag: object) -> str:
    if not isinstance(tag, str):
        raise TypeError(f"tag must be a str, got {type(tag).__name__} ({tag!r})")
    if not tag.strip():
        raise ValueError(f"tag must be a non-empty string, got {tag!r}")
    check_chars("tag", tag)
    if schema.SERIES_SEP in tag:
        raise ValueError(f"tag {tag!r} contains U+001F, which add_scalars uses to join tag and key")
    return tag


def check_text(tag: str, text: str) -> str:
    return check_chars(f"tag {tag!r}: text", text)


def check_strings(what: str, value: object) -> None:
    """Every str inside ``value`` (nested lists, tuples and dict keys/values) is valid Unicode
    without NUL: JSON escapes lone surrogates, so they would be stored, but every reader would
    then get text it cannot encode (the dashboard's responses, the CLI's output)."""
    if isinstance(value, str):
        check_chars(what, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_strings(what, key)
            check_strings(what, item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_strings(what, item)


def _hparam_value(key: str, value: object) -> object:
    """torch's hparam rules: a tensor/array gives its first element; bool, int, float, str."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        flat = value.reshape(-1) if hasattr(value, "reshape") else value
        try:
            value = flat[0].item() if getattr(flat, "shape", ()) != () else flat.item()
        except (IndexError, ValueError, RuntimeError) as exc:
            raise ValueError(
                f"hparam {key!r}: cannot take a value from {value!r} ({exc})"
            ) from None
    if not isinstance(value, (bool, int, float, str)):
        raise TypeError(
            f"hparam {key!r}: value must be bool, int, float, str, a tensor or None, "
            f"got {type(value).__name__}"
        )
    if isinstance(value, str):
        check_chars(f"hparam {key!r}: value", value)
    return value


def check_hparams(hparam_dict: object, metric_dict: object) -> tuple[dict, dict]:
    """``(hparams, metrics)`` of one add_hparams call; None hparams are skipped, as torch."""
    hparams = check_mapping("hparam_dict", hparam_dict)
    metrics = check_mapping("metric_dict", metric_dict)
    clean_h = {k: _hparam_value(k, v) for k, v in hparams.items() if v is not None}
    clean_m = {k: to_float(k, v) for k, v in metrics.items()}
    return clean_h, clean_m


def check_domains(domains: object, hparams: dict) -> dict:
    """``hparam_domain_discrete``: ``{name: [values]}``, each name an hparam of the call and
    each value of that hparam's type (torch's checks)."""
    if domains is None:
        return {}
    domains = check_mapping("hparam_domain_discrete", domains)
    out = {}
    for key, values in domains.items():
        if key not in hparams:
            raise ValueError(f"hparam_domain_discrete: {key!r} is not in hparam_dict")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"hparam_domain_discrete[{key!r}] must be a list of values")
        values = list(values)
        kind = type(hparams[key])
        wrong = [v for v in values if type(v) is not kind]
        if wrong:
            raise TypeError(
                f"hparam_domain_discrete[{key!r}]: values must be {kind.__name__} like the "
                f"hparam, got {wrong[0]!r}"
            )
        check_strings(f"hparam_domain_discrete[{key!r}]: value", values)
        out[key] = values
    return out


def to_float(tag: str, value: object) -> float:
    """Any real number, numpy scalar, 0-d/1-element array or object with ``.item()``."""
    if value is None:
        raise TypeError(f"tag {tag!r}: value is None; log float('nan') for a missing value")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"tag {tag!r}: value must be a number, got the string {value!r}")
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"tag {tag!r}: value {value!r} is too large for a float") from None
    if isinstance(value, np.ndarray) or hasattr(value, "item"):
        size = getattr(value, "size", None)
        if callable(size):  # torch: numel via .size() is a shape; use numel when present
            size = value.numel() if hasattr(value, "numel") else None
        if size is not None and size != 1:
            shape = getattr(value, "shape", None)
            raise ValueError(
                f"tag {tag!r}: value must be a single number, got an array of shape "
                f"{tuple(shape) if shape is not None else '?'} ({size} elements)"
            )
        try:
            item = value.item()
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"tag {tag!r}: value must be a single number ({exc})") from None
        if isinstance(item, numbers.Real):
            return to_float(tag, item)
        raise TypeError(f"tag {tag!r}: value.item() gave {type(item).__name__}, not a number")
    raise TypeError(f"tag {tag!r}: value must be a number, got {type(value).__name__}")


def check_step(tag: str, step: object) -> int:
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (numbers.Integral,)):
        if hasattr(step, "item") and not isinstance(step, (float, np.floating)):
            size = step.numel() if hasattr(step, "numel") else getattr(step, "size", 1)
            if size == 1:
                return check_step(tag, step.item())
        raise TypeError(
            f"tag {tag!r}: global_step must be an int, got {type(step).__name__} ({step!r})"
        )
    step = int(step)
    if not 0 <= step < schema.MAX_STEP:
        raise ValueError(f"tag {tag!r}: global_step must be in [0, 2**53), got {step}")
    return step


def check_wall(tag: str, walltime: object) -> float:
    if isinstance(walltime, bool) or not isinstance(walltime, numbers.Real):
        raise TypeError(f"tag {tag!r}: walltime must be a number (seconds since the epoch)")
    wall = float(walltime)
    if not math.isfinite(wall):
        raise ValueError(f"tag {tag!r}: walltime must be finite, got {wall}")
    return wall


def as_array(tag: str, values: object) -> np.ndarray:
    """Histogram input: numpy arrays, sequences, or tensors (see :func:`flowlog.media.to_numpy`)."""
    if values is None or isinstance(values, (str, bytes)):
        raise TypeError(f"tag {tag!r}: histogram values must be numbers, got {values!r}")
    if hasattr(values, "detach") and not isinstance(values, np.ndarray):
        values = to_numpy(tag, values)  # a tensor: detached, on the CPU, bfloat16 widened
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"tag {tag!r}: histogram values are not an array ({exc})") from None
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"tag {tag!r}: histogram values must be numeric, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"tag {tag!r}: histogram values are empty")
    return arr.astype(np.float64, copy=False).ravel()


#: The half-width around a constant is numpy's 0.5, widened for |value| >= 2**39: there ±0.5
#: rounds away in float64 (np.histogram raises "Too many bins"), which must not stop training.
CONST_REL_HALF = 2.0**-40


def constant_span(value: float) -> tuple[float, float]:
    """The bucket range of values that are all ``value`` (numpy's ±0.5 where that is exact)."""
    half = max(0.5, abs(value) * CONST_REL_HALF)
    return value - half, value + half


def histogram_record(tag: str, values: object, bins: object) -> tuple:
    """``(edges, counts, min, max, sum, sum_squares, n, nan, posinf, neginf)`` of ``values``.

    Non-finite values are counted but kept out of the buckets and the min/max/sums.
    ``bins``: an int, increasing edges, a numpy estimator name ("auto", "fd", …) or
    "tensorflow" (torch's default), which means 30 equal-width bins — what TensorBoard shows.
    """
    arr = as_array(tag, values)
    finite_mask = np.isfinite(arr)
    finite = arr[finite_mask] if not finite_mask.all() else arr
    nan = int(np.isnan(arr).sum())
    posinf = int(np.isposinf(arr).sum())
    neginf = int(np.isneginf(arr).sum())
    if isinstance(bins, str):
        if bins == "tensorflow":
            bins = 30
        elif bins not in ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt"):
            raise ValueError(f"tag {tag!r}: unknown bins={bins!r}")
    elif isinstance(bins, (bool, np.bool_)):
        raise TypeError(f"tag {tag!r}: bins must be an int, edges or a name, got {bins!r}")
    elif isinstance(bins, numbers.Integral):
        if bins < 1:
            raise ValueError(f"tag {tag!r}: bins must be >= 1, got {bins}")
        bins = int(bins)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
            raise ValueError(f"tag {tag!r}: bin edges must be >= 2 increasing numbers")
        bins = edges
    if finite.size:
        vmin, vmax = float(finite.min()), float(finite.max())
        span = constant_span(vmin) if vmin == vmax and isinstance(bins, int) else None
        counts, edges = np.histogram(finite, bins=bins, range=span)
        total, squares = float(finite.sum()), float(np.dot(finite, finite))
    else:
        counts, edges = np.zeros(0), np.zeros(0)
        vmin = vmax = None
        total = squares = 0.0
    return (
        np.asarray(edges, dtype=np.float64).tobytes(),
        np.asarray(counts, dtype=np.float64).tobytes(),
        vmin,
        vmax,
        total,
        squares,
        int(arr.size),
        nan,
        posinf,
        neginf,
    )


def check_mapping(what: str, value: object) -> dict:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str) or not key:
            raise TypeError(f"{what}: keys must be non-empty strings, got {key!r}")
        check_chars(f"{what} key", key)
    return dict(value)


def jsonable(value: object) -> object:
    """numpy scalars/arrays inside numerics input summaries become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
