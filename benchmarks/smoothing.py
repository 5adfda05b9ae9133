"""Server-side smoothing and bucket selection, this checkout against another revision, in one run.

    .venv/bin/python benchmarks/smoothing.py [--baseline REV] [--points 1000000] [--rounds 9]

Times ``smoothing.ema`` at several weights, ``series.minmax_select`` (one series) and the
selection the Scalars view draws (``bucket_extremes`` of the raw and the smoothed series),
and ``scalars_data.extract`` (smoothing + selection, one run's drawn line), for one series of
``--points`` points. The baseline's modules are loaded from ``git show REV:path`` into module
objects (no worktree), its ``extract`` bound to its own ``ema`` and ``minmax_select``. Old and
new calls alternate within each round, so machine load drifts hit both alike; the script
prints both medians and their ratio. Then the smoothed-range coverage old vs new: per bucket,
the fraction of the smoothed series' min-max range that the drawn smoothed points reach.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = (0.5, 0.6, 0.9, 0.99, 0.999, 0.9999)
BUCKETS = 300


def load_revision(rev: str, path: str, name: str, bind: dict | None = None):
    """The module ``path`` as of git revision ``rev``, as a fresh module object; ``bind``
    replaces globals (an old ``extract`` calling the old smoothing and selection)."""
    text = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    mod = types.ModuleType(name)
    mod.__file__ = f"{rev}:{path}"
    sys.modules[name] = mod  # dataclasses look their module up there
    exec(compile(text, mod.__file__, "exec"), mod.__dict__)
    for key, value in (bind or {}).items():
        if key in mod.__dict__:
            setattr(mod, key, value)
    return mod


def old_modules(rev: str) -> types.SimpleNamespace:
    smoothing = load_revision(rev, "dashboard/smoothing.py", "old_smoothing")
    series = load_revision(rev, "dashboard/series.py", "old_series")
    own = {k: getattr(series, k) for k in dir(series) if not k.startswith("__")}
    own.update({k: getattr(smoothing, k) for k in dir(smoothing) if not k.startswith("__")})
    data = load_revision(rev, "dashboard/scalars_data.py", "old_scalars_data", own)
    return types.SimpleNamespace(smoothing=smoothing, series=series, data=data)


def series_of(points: int, seed: int = 0):
    """One run's (step, wall, value): a decaying loss with noise and a few spikes."""
    rng = np.random.default_rng(seed)
    step = np.arange(points, dtype=np.int64)
    wall = 1.7e9 + np.cumsum(rng.uniform(0.01, 0.02, points))
    value = np.exp(-step / (points / 4)) + 0.05 * rng.normal(size=points)
    value[rng.integers(0, points, 20)] += 1.0
    return step, wall, value


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1e3


def compare(label: str, old, new, args, rounds: int) -> None:
    """Alternate old and new calls; print both medians (ms) and old / new."""
    a, b = [], []
    for _ in range(rounds):
        a.append(timed(old, *args))
        b.append(timed(new, *args))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{label:<44} {ma:9.2f} {mb:9.2f} {ma / mb:8.1f}x")


def coverage(step, smooth, drawn_steps, buckets: int) -> np.ndarray:
    """Per bucket of steps: the drawn points' smoothed range over the bucket's full range."""
    from flowlog.dashboard.series import bucket_index

    b = bucket_index(step, float(step[0]), float(step[-1]), buckets)
    sel = np.searchsorted(step, drawn_steps)
    lo_all = np.full(buckets, np.inf)
    hi_all = np.full(buckets, -np.inf)
    np.minimum.at(lo_all, b, smooth)
    np.maximum.at(hi_all, b, smooth)
    lo_d, hi_d = np.full(buckets, np.inf), np.full(buckets, -np.inf)
    np.minimum.at(lo_d, b[sel], smooth[sel])
    np.maximum.at(hi_d, b[sel], smooth[sel])
    span = hi_all - lo_all
    return np.where(span > 0, (hi_d - lo_d) / np.where(span > 0, span, 1.0), 1.0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="HEAD", help="git revision to compare with")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from flowlog.dashboard import scalars_data, series, smoothing

    old = old_modules(args.baseline)
    step, wall, value = series_of(args.points)
    smooth = smoothing.ema(value, 0.6)
    print(f"{args.points:,} points, {BUCKETS} buckets; baseline {args.baseline}; ms (median of "
          f"{args.rounds})")  # fmt: skip
    print(f"{'':<44} {'baseline':>9} {'this':>9} {'ratio':>9}")
    for w in WEIGHTS:
        compare(f"ema w={w}", old.smoothing.ema, smoothing.ema, (value, w), args.rounds)
    one = (step, value, BUCKETS)
    compare("minmax_select (raw)", old.series.minmax_select, series.minmax_select, one, args.rounds)
    compare(
        "selection drawn: old raw / new raw+smoothed",
        lambda x, y, s: old.series.minmax_select(x, y, BUCKETS),
        lambda x, y, s: series.bucket_extremes(x, [y, s], BUCKETS),
        (step, value, smooth),
        args.rounds,
    )
    compare(
        "minmax_select, wall-time x (float)",
        old.series.minmax_select,
        series.minmax_select,
        (wall, value, BUCKETS),
        args.rounds,
    )
    for w in (0.6, 0.9):
        run = (step, wall, value, w, "step", None, BUCKETS)
        compare(
            f"extract w={w} (one run)", old.data.extract, scalars_data.extract, run, args.rounds
        )
    ten = (step, wall, value, 0.6, "step", None, BUCKETS)
    compare(
        "extract w=0.6, 10 runs",
        lambda *a: [old.data.extract(*a) for _ in range(10)],
        lambda *a: [scalars_data.extract(*a) for _ in range(10)],
        ten,
        max(3, args.rounds // 3),
    )
    print("\nsmoothed-range coverage per bucket (drawn smoothed min-max / bucket's), mean / min")
    for w in (0.6, 0.9):
        sm = smoothing.ema(value, w)
        run = (step, wall, value, w, "step", None, BUCKETS)
        got = {
            "baseline": coverage(step, sm, old.data.extract(*run)["st"], BUCKETS),
            "this": coverage(step, sm, scalars_data.extract(*run)["st"], BUCKETS),
        }
        points = {
            k: f(*run)["st"].size for k, f in (("b", old.data.extract), ("t", scalars_data.extract))
        }
        print(f"w={w}: baseline {got['baseline'].mean():.3f} / {got['baseline'].min():.3f}"
              f" ({points['b']} points), this {got['this'].mean():.3f} / {got['this'].min():.3f}"
              f" ({points['t']} points)")  # fmt: skip


if __name__ == "__main__":
    main()
