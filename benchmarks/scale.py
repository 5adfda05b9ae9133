"""Issue 16's targets for long runs: this checkout against a baseline revision, in the same run.

    .venv/bin/python benchmarks/scale.py --baseline REV [--this REV] [--points N] [--runs N]
        [--big] [--no-load | --load-only] [--load-seconds S] [--load-rate N] [--quick]

``--this`` defaults to the working tree; any REV is checked out into a git worktree under
/tmp/scale/ (removed at exit, as are the logdirs). Each side writes its own logdirs with its
own writer (a new storage schema need not be readable by older code) in a subprocess with
that side's root first on sys.path, and serves them with its own ``flowlog-dashboard``
command (waitress, and the first page's read it starts at launch). The two sides run one
after the other, close together; the shared 2-core machine drifts, so compare the ratios of
one run, not figures of different runs. Figures, for each side (and this/baseline):

  write us/point  R runs x N points, one add_scalar per point (a noisy loss curve with a few
                  NaNs) plus close, per point. Target: this <= baseline (+10 % noise).
  floor empty     navigation -> the empty logdir's message, on a fresh server (no chart:
                  plotly.js is not even loaded). The browser cache is warm in every
                  navigation: the origin (same port) was visited before.
  floor tiny      navigation -> first chart of a 1 run x 100 point logdir, fresh server:
                  the page's cost without data (cold - this = the data's cost).
  cold            a fresh server process on R x N points, navigating as soon as it listens
                  -> first Scalars chart drawn. Target <= 1 s. The page's timeline of the
                  cold load (layout, plotly.js, callback requests, drawn) is printed.
                  Cold, warm and zoom are measured in two rounds, the sides in the order
                  A B B A, so neither side is always the one measured first.
  warm            the same server, navigating again (median of 2 x 3). Target <= 0.5 s.
  zoom            Plotly.relayout onto 0.1 % of the steps -> the chart redrawn with the
                  server's new data (median of 2 x 3 windows); points drawn / steps in the
                  window shows every point is there. Target <= 150 ms.
  RSS, VmHWM      the server process's memory after the charts, zooms. Target <= 300 MB.
  smoothing err   max relative error of the drawn smoothed traces against TensorBoard's
                  debiased EMA over every point (a plain loop here), at the drawn steps.
  --big           the same on 1 run x 10M points: cold target <= 2 s, smoothing exact.
  load            4 writer processes at full speed (own run each, one logdir) for S s, alone
                  and then with a dashboard and a page on Scalars (2 s live refresh; every 4 s
                  a new smoothing weight typed in or a re-navigation): chart callback request
                  times p50/max as the page sees them (target p50 <= 1 s) and the writers'
                  slowdown, points/s alone / with the dashboard (target <= 1.2x). Counts:
                  chart requests that returned a figure / none (nothing to redraw) /
                  aborted by a re-navigation / unfinished 120 s after the writers stopped;
                  aborted and unfinished count in p50/max with their elapsed time (a lower
                  bound), so slow builds are not hidden. Each side's writers at full speed
                  write different amounts (a faster writer, more points to show):
                  ``--load-rate N`` caps every writer at N points/s on both sides, so both
                  dashboards serve the same data.

``--quick``: 3 runs x 100k points, 10 s load, --big at 1M points: proves the script works.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from checkout import LOAD_CHECKOUT  # benchmarks/checkout.py: this script's directory

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = Path("/tmp/scale")
TAG = "train/loss"
WRITERS = 4
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1",
       "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip

# One checkout's own flowlog-dashboard command (benchmarks/checkout.py loads the checkout).
SERVE = (
    LOAD_CHECKOUT
    + """
assert flowlog.__file__.startswith(root), flowlog.__file__
from flowlog.dashboard.app import main
sys.exit(main(sys.argv[2:]))
"""
)


# --- the data -------------------------------------------------------------------------------


def curve(seed: int, points: int):
    """A loss-like curve: fast decay to a floor, noise that shrinks with it, 5 NaNs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(points, dtype=np.float64) / max(1.0, points / 8))
    v = 0.1 + (2.0 + 0.1 * seed) * decay + 0.05 * (1 + decay) * rng.standard_normal(points)
    v[rng.integers(0, points, size=5)] = np.nan
    return v


def reference_ema(values, w: float):
    """TensorBoard's smoothing (vz_line_chart's resmoothDataset) over every point, as a plain
    loop: non-finite points pass through and do not count, the average is debiased by
    1 - w**(finite points so far)."""
    import numpy as np

    out = np.empty(len(values))
    last, wk = 0.0, 1.0
    for i, v in enumerate(values.tolist()):
        if math.isfinite(v):
            last = last * w + (1.0 - w) * v
            wk *= w
            out[i] = last / (1.0 - wk)
        else:
            out[i] = v
    return out


def smoothing_error(traces: list[dict], seeds: dict, points: int, w: float) -> dict:
    """Max relative error of drawn smoothed traces vs :func:`reference_ema` at their steps."""
    import numpy as np

    worst, checked, mismatched = 0.0, 0, 0
    for t in traces:
        ref = reference_ema(curve(seeds[t["run"]], points), w)
        steps = np.asarray(t["x"], dtype=np.float64).astype(np.int64)
        y = np.array([np.nan if v is None else v for v in t["y"]], dtype=np.float64)
        want = ref[steps]
        both = np.isfinite(want) & np.isfinite(y)
        mismatched += int(np.sum(np.isfinite(want) != np.isfinite(y)))
        rel = np.abs(y[both] - want[both]) / np.maximum(np.abs(want[both]), 1e-300)
        worst = max(worst, float(rel.max()) if rel.size else 0.0)
        checked += int(both.sum())
    return {"err": worst if traces else math.nan, "checked": checked, "mismatched": mismatched}


# --- subprocess workers (``scale.py _write ...`` / ``_load ...``) ----------------------------


def _import_side(root: str):
    sys.path.insert(0, root)
    import flowlog
    from flowlog.writer import SummaryWriter

    assert flowlog.__file__.startswith(root), f"{flowlog.__file__} is not under {root}"
    return SummaryWriter


def worker_write(root: str, logdir: str, run: str, seed: str, points: str) -> None:
    """One run of ``points`` add_scalar calls then close, timed; prints JSON."""
    writer_cls = _import_side(root)
    values = curve(int(seed), int(points)).tolist()
    t0 = time.perf_counter()
    w = writer_cls(logdir=logdir, run_name=run)
    add = w.add_scalar
    for step, v in enumerate(values):
        add(TAG, v, step)
    w.close()
    print(json.dumps({"s": time.perf_counter() - t0, "n": len(values)}), flush=True)


def worker_load(root: str, logdir: str, run: str, seed: str, seconds: str, rate: str) -> None:
    """add_scalar for ``seconds``, at full speed or at most ``rate`` points/s (0: full
    speed); prints JSON points/s of the loop."""
    writer_cls = _import_side(root)
    values = curve(int(seed), 100_000).tolist()
    w = writer_cls(logdir=logdir, run_name=run)
    add = w.add_scalar
    step, t0 = 0, time.perf_counter()
    end, cap = t0 + float(seconds), float(rate)
    while time.perf_counter() < end:
        for v in values[step % 100_000 : step % 100_000 + 1000]:
            add(TAG, v, step)
            step += 1
        if cap > 0:  # ahead of the rate: wait for it
            time.sleep(max(0.0, step / cap - (time.perf_counter() - t0)))
    rate = step / (time.perf_counter() - t0)
    w.close()
    print(json.dumps({"pps": rate, "n": step}), flush=True)


def spawn(kind: str, *args) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), kind, *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=ENV)


def result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"worker {proc.args[2:]} failed ({proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


# --- checkouts and servers ------------------------------------------------------------------


class Side:
    """One checkout: ``name`` ("this"/"baseline"), its root and a one-line description."""

    def __init__(self, name: str, root: Path, label: str):
        self.name, self.root, self.label = name, root, label
        self.port = free_port()
        self.logdirs: dict[str, Path] = {}
        self.page = None  # its browser page (scale_browser.new_page), one cache per side


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(*args, cwd: Path = ROOT) -> str:
    got = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True)
    if got.returncode:
        raise SystemExit(f"git {' '.join(args)}: {got.stderr.strip()}")
    return got.stdout.strip()


def checkout(stack: contextlib.ExitStack, name: str, rev: str | None) -> Side:
    """The working tree (``rev`` None) or ``rev`` in a worktree of ours, removed at exit."""
    if rev is None:
        edited = ", edited" if git("status", "--short", "--untracked-files=no") else ""
        return Side(name, ROOT, f"working tree (HEAD {git('log', '-1', '--format=%h')}{edited})")
    path = SCRATCH / f"wt-{name}-{os.getpid()}"
    git("worktree", "add", "--detach", "-q", str(path), rev)
    stack.callback(lambda: git("worktree", "remove", "--force", str(path)))
    return Side(name, path, f"{rev} = {git('log', '-1', '--format=%h %s', cwd=path)[:70]}")


class Server:
    """A side's flowlog-dashboard in its own process on the side's port (fresh: no cache)."""

    def __init__(self, side: Side, logdir: Path):
        args = ["--logdir", str(logdir), "--port", str(side.port)]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(side.root), *args],
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for line in self.proc.stdout:
            if "http://" in line:
                break
        else:
            raise RuntimeError(f"{side.name}'s dashboard did not start ({self.proc.wait()})")
        self.url = f"http://127.0.0.1:{side.port}/"

    def memory_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the server process, MB."""
        got = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    got[key] = int(rest.split()[0]) / 1024
        return got["VmRSS"], got["VmHWM"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def serving(side: Side, logdir: Path):
    server = Server(side, logdir)
    try:
        yield server
    finally:
        server.stop()


# --- the measurements -----------------------------------------------------------------------


def write_logdirs(sides: list[Side], tmp: Path, runs: int, points: int, res: dict) -> None:
    """Each side writes its own main, tiny and empty logdirs; runs interleaved across sides
    so both see the same machine load."""
    total = {s.name: 0.0 for s in sides}
    for s in sides:
        s.logdirs = {k: tmp / s.name / k for k in ("main", "tiny", "empty", "big")}
        s.logdirs["empty"].mkdir(parents=True)
        result(spawn("_write", s.root, s.logdirs["tiny"], "tiny", 0, 100))
    t0 = time.perf_counter()
    for r in range(runs):
        for s in sides if r % 2 == 0 else sides[::-1]:
            got = result(spawn("_write", s.root, s.logdirs["main"], f"run{r:02d}", r, points))
            total[s.name] += got["s"]
    for s in sides:
        res[s.name]["write_us"] = total[s.name] / (runs * points) * 1e6
    print(f"wrote {runs} runs x {points:,} points per side in {time.perf_counter() - t0:.0f} s")


def settle() -> None:
    """Write the logdirs just written out to disk before anything is timed: the kernel's
    background writeback of ~0.5 GB otherwise lands on the first side measured."""
    os.sync()
    time.sleep(2)


def measure_charts(side: Side, logdir: Path, points: int, seeds: dict, r: dict, pre="") -> None:
    """Cold and warm first chart, smoothing check, zooms and server memory on ``logdir``."""
    import scale_browser as sb

    page = side.page
    sb.blank(page, 500)
    with serving(side, logdir) as srv:
        phases: dict = {}
        r[pre + "cold_ms"] = sb.first_chart_ms(page, srv.url, phases)
        r[pre + "cold_phases"] = phases
        page.wait_for_timeout(2000)
        if not pre:
            warm = sb.warm_ms(page, srv.url, 3)
            r["warm_ms"], r["warm_all"] = statistics.median(warm), warm
        traces, w = sb.smoothed(page), sb.smoothing_weight(page)
        r[pre + "smooth"] = smoothing_error(traces, seeds, points, w) | {"w": w}
        if not pre:
            zooms = []
            for f in (0.2, 0.5, 0.8):
                lo = round(f * points)
                zooms.append(sb.zoom_ms(page, lo, lo + points / 1000))
            r["zoom_ms"] = statistics.median(ms for ms, _n in zooms)
            r["zoom_all"] = [ms for ms, _n in zooms]
            r["zoom_points"] = f"{min(n for _ms, n in zooms)}/{int(points / 1000) + 1}"
        r[pre + "rss_mb"], r[pre + "hwm_mb"] = srv.memory_mb()
        sb.blank(page, 0)


def browser_phase(b, sides: list[Side], runs: int, points: int, res: dict) -> None:
    """Per side, on its own port and browser context: prime the cache, the two floors, then
    cold/warm/zoom/memory on the main logdir."""
    import scale_browser as sb

    seeds = {f"run{r:02d}": r for r in range(runs)}
    for side in sides:
        r = res[side.name]
        side.page = sb.new_page(b)
        with serving(side, side.logdirs["tiny"]) as srv:  # fills this origin's browser cache
            sb.first_chart_ms(side.page, srv.url)
        sb.blank(side.page, 500)
        with serving(side, side.logdirs["empty"]) as srv:
            r["floor_empty_ms"] = sb.message_ms(side.page, srv.url)
        sb.blank(side.page, 500)
        with serving(side, side.logdirs["tiny"]) as srv:
            r["floor_phases"] = {}
            r["floor_tiny_ms"] = sb.first_chart_ms(side.page, srv.url, r["floor_phases"])
    rounds: dict[str, list[dict]] = {s.name: [] for s in sides}
    for order in (sides, sides[::-1]):
        for side in order:
            rounds[side.name].append({})
            measure_charts(side, side.logdirs["main"], points, seeds, rounds[side.name][-1])
    for side in sides:
        res[side.name].update(merged_rounds(rounds[side.name]))
        print(f"  {side.name}: charts measured")


def merged_rounds(rounds: list[dict]) -> dict:
    """One side's main-logdir figures over its rounds: every warm and zoom sample, the median
    cold, the first round's timeline, the worst smoothing error, zoom coverage and memory."""
    warm = [ms for r in rounds for ms in r["warm_all"]]
    zoom = [ms for r in rounds for ms in r["zoom_all"]]
    return {
        "cold_ms": statistics.median(r["cold_ms"] for r in rounds),
        "cold_all": [r["cold_ms"] for r in rounds],
        "cold_phases": rounds[0]["cold_phases"],
        "warm_ms": statistics.median(warm),
        "warm_all": warm,
        "zoom_ms": statistics.median(zoom),
        "zoom_all": zoom,
        "zoom_points": min((r["zoom_points"] for r in rounds), key=lambda p: int(p.split("/")[0])),
        "smooth": max((r["smooth"] for r in rounds), key=lambda s: s["err"]),
        "rss_mb": max(r["rss_mb"] for r in rounds),
        "hwm_mb": max(r["hwm_mb"] for r in rounds),
    }


def big_phase(b, sides: list[Side], points: int, res: dict) -> None:
    """1 run x ``points`` written by each side, then cold first chart, smoothing, memory."""
    for side in sides:
        got = result(spawn("_write", side.root, side.logdirs["big"], "big", 100, points))
        res[side.name]["big_write_us"] = got["s"] / points * 1e6
    settle()
    for side in sides:
        measure_charts(side, side.logdirs["big"], points, {"big": 100}, res[side.name], "big_")
        print(f"  {side.name}: {points:,}-point run measured")


def writers(side: Side, logdir: Path, seconds: float, rate: float) -> list[subprocess.Popen]:
    return [spawn("_load", side.root, logdir, f"w{k}", k, seconds, rate) for k in range(WRITERS)]


def load_phase(b, sides: list[Side], tmp: Path, seconds: float, rate: float, res: dict) -> None:
    """Per side: the writers alone, then with a dashboard and a live page (see the docstring)."""
    import scale_browser as sb

    for side in sides:
        r = res[side.name]
        alone = tmp / side.name / "load-alone"
        r["pps_alone"] = sum(result(p)["pps"] for p in writers(side, alone, seconds, rate))
        shutil.rmtree(alone, ignore_errors=True)
        live = tmp / side.name / "load-live"
        live.mkdir(parents=True)
        page = sb.new_page(b)
        with serving(side, live) as srv:
            procs = writers(side, live, seconds, rate)
            calls = sb.drive_live(page, srv.url, seconds)
            r["pps_live"] = sum(result(p)["pps"] for p in procs)
            r["load_rss_mb"], r["load_hwm_mb"] = srv.memory_mb()
        page.context.close()
        shutil.rmtree(live, ignore_errors=True)
        r["slowdown"] = r["pps_alone"] / r["pps_live"]
        r["load_calls"] = sorted(calls.ms)
        r["load_aborted"] = sorted(calls.aborted) + [f">{v:.0f}" for v in calls.unfinished]
        counts = (len(calls.ms), calls.empty, len(calls.aborted), len(calls.unfinished))
        r["load_counts"] = "/".join(map(str, counts))
        # a request given up after t ms took at least t: counted as t (a lower bound)
        every = calls.ms + calls.aborted + calls.unfinished
        r["load_p50_ms"] = statistics.median(every) if every else math.nan
        r["load_max_ms"] = max(every) if every else math.nan
        print(f"  {side.name}: load measured ({len(calls.ms)} chart callbacks)")


# --- the report -----------------------------------------------------------------------------

# (label, key, target text, passes(this, baseline) or None: information only)
ROWS = [
    ("write us/point", "write_us", "<= base+10%", lambda t, b: t <= b * 1.1),
    ("floor empty logdir ms", "floor_empty_ms", "", None),
    ("floor 1x100 pts ms", "floor_tiny_ms", "", None),
    ("cold first chart ms", "cold_ms", "<= 1000", lambda t, b: t <= 1000),
    ("warm first chart ms", "warm_ms", "<= 500", lambda t, b: t <= 500),
    ("zoom 0.1% redrawn ms", "zoom_ms", "<= 150", lambda t, b: t <= 150),
    ("zoom points/in window", "zoom_points", "all", lambda t, b: len(set(t.split("/"))) == 1),
    ("server RSS MB", "rss_mb", "<= 300", lambda t, b: t <= 300),
    ("server VmHWM MB", "hwm_mb", "<= 300", lambda t, b: t <= 300),
    ("smoothing max rel err", "smooth_err", "<= 1e-9", lambda t, b: t <= 1e-9),
    ("big: write us/point", "big_write_us", "<= base+10%", lambda t, b: t <= b * 1.1),
    ("big: cold first chart ms", "big_cold_ms", "<= 2000", lambda t, b: t <= 2000),
    ("big: smoothing rel err", "big_smooth_err", "<= 1e-9", lambda t, b: t <= 1e-9),
    ("big: server RSS MB", "big_rss_mb", "<= 300", lambda t, b: t <= 300),
    ("big: server VmHWM MB", "big_hwm_mb", "<= 300", lambda t, b: t <= 300),
    ("load: chart cb p50 ms", "load_p50_ms", "<= 1000", lambda t, b: t <= 1000),
    ("load: chart cb max ms", "load_max_ms", "", None),
    ("load: cbs fig/none/abo/unf", "load_counts", "", None),
    ("load: writers pts/s alone", "pps_alone", "", None),
    ("load: writers pts/s +dash", "pps_live", "", None),
    ("load: writer slowdown x", "slowdown", "<= 1.2", lambda t, b: t <= 1.2),
    ("load: server RSS MB", "load_rss_mb", "", None),
]


def fmt(v) -> str:
    if isinstance(v, str):
        return v
    if v != v:
        return "nan"
    if v and (abs(v) < 0.01 or abs(v) >= 1e6):
        return f"{v:.2e}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def flatten(r: dict) -> None:
    """Scalar figures out of the nested smoothing results."""
    for pre in ("", "big_"):
        if pre + "smooth" in r:
            r[pre + "smooth_err"] = r[pre + "smooth"]["err"]


def report(sides: list[Side], res: dict) -> None:
    for side in sides:
        r = res[side.name]
        print(f"\n{side.name}: {side.label}")
        for pre in ("floor", "cold", "big_cold"):
            if pre + "_phases" in r:
                ph = r[pre + "_phases"]
                cbs = ", ".join(f"{a}-{e}" for a, e in ph["callbacks"][:8])
                print(f"  {pre} timeline (page ms): layout {ph['layout']}, plotly.js "
                      f"{ph['plotly']}, callbacks [{cbs}], drawn {ph['drawn']}")  # fmt: skip
            if pre + "smooth" in r:
                s = r[pre + "smooth"]
                print(f"  {pre}smoothing w={s['w']}: {s['checked']} drawn points checked, "
                      f"{s['mismatched']} finite/non-finite mismatches")  # fmt: skip
        for key in ("cold_all", "warm_all", "zoom_all", "load_calls", "load_aborted"):
            if key in r:
                print(f"  {key}: {', '.join(fmt(v) for v in r[key][-20:])}")
    print(f"\n{'figure':<27}{'this':>11}{'baseline':>11}{'this/base':>10}  {'target':<12}this")
    this, base = res[sides[0].name], res[sides[1].name]
    for label, key, target, ok in ROWS:
        if key not in this:
            continue
        t, b = this[key], base.get(key, math.nan)
        ratio = fmt(t / b) if not isinstance(t, str) and b else ""
        verdict = "" if ok is None else ("PASS" if ok(t, b) else "MISS")
        print(f"{label:<27}{fmt(t):>11}{fmt(b):>11}{ratio:>10}  {target:<12}{verdict}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="git revision to compare with")
    ap.add_argument("--this", help="git revision to measure (default: the working tree)")
    ap.add_argument("--points", type=int, help="points per run (default 1,000,000)")
    ap.add_argument("--runs", type=int, help="runs (default 10)")
    ap.add_argument("--big", action="store_true", help="also 1 run x 10M points")
    ap.add_argument("--big-points", type=int, help="points of the --big run (default 10M)")
    ap.add_argument("--no-load", action="store_true", help="skip the load test")
    ap.add_argument("--load-only", action="store_true", help="only the load test")
    ap.add_argument("--load-seconds", type=float, help="writers' time per load phase (20)")
    ap.add_argument(
        "--load-rate", type=float, default=0.0,
        help="points/s per load writer, the same on both sides (0: full speed, the default)",
    )  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="3 x 100k points, 10 s load, big 1M")
    a = ap.parse_args()
    q = a.quick
    points = a.points or (100_000 if q else 1_000_000)
    runs = a.runs or (3 if q else 10)
    big = a.big_points or (1_000_000 if q else 10_000_000)
    seconds = a.load_seconds or (10.0 if q else 20.0)
    if points < 10_000:
        ap.error("--points must be >= 10000 (a 0.1 % zoom window of at least 10 steps)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill too
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import scale_browser as sb

    SCRATCH.mkdir(exist_ok=True)
    tmp = SCRATCH / f"run-{os.getpid()}"
    res: dict = {"this": {}, "baseline": {}}
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        sides = [checkout(stack, "this", a.this), checkout(stack, "baseline", a.baseline)]
        for s in sides:
            print(f"{s.name}: {s.label}")
        if not a.load_only:
            write_logdirs(sides, tmp, runs, points, res)
            settle()
        b = stack.enter_context(sb.browser())
        if not a.load_only:
            print(f"browser: {runs} runs x {points:,} points")
            browser_phase(b, sides, runs, points, res)
        if a.big and not a.load_only:
            big_phase(b, sides, big, res)
        if not a.no_load:
            print(f"load: {WRITERS} writers x {seconds:.0f} s, alone then with the dashboard")
            load_phase(b, sides, tmp, seconds, a.load_rate, res)
        for r in res.values():
            flatten(r)
        report(sides, res)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_write"]:
        worker_write(*sys.argv[2:])
    elif sys.argv[1:2] == ["_load"]:
        worker_load(*sys.argv[2:])
    else:
        raise SystemExit(main())
