"""Many runs: 300 runs x 3 tags x 2,000 points against a 10-run baseline measured in the same run.

    .venv/bin/python benchmarks/dashboard_runs.py [--logdir DIR] [--runs 300] [--no-browser]

Writes both logdirs once with the real SummaryWriter (reused when --logdir already holds
them), then measures the page's first chart ("loss/t0"):
  * server side: build + serialise time (cold: a fresh app, so a fresh provider cache; warm:
    the same again) and the bytes the chart callback sends (figure + live state, as Dash
    serialises them), for 10 runs, 300 runs as a new page selects them (the 20 most recent),
    300 runs all selected, and 300 runs all selected as before this change (every line at
    full resolution: the payload budget switched off in this process);
  * the page layout request of a fresh app (discovery + the first charts built into it);
  * headless Chromium: navigation -> first chart drawn, for 10 runs, 300 runs (default
    selection) and the page as it was before (all 300 selected, no budget); then "show all"
    clicked -> the chart redrawn with every run.
Targets: 300 runs, first chart <= 2 s; payload <= 1 MB per chart.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

TAGS, POINTS, BASE_RUNS = 3, 2000, 10
TAG = "loss/t0"
MB = 1_000_000

# the top chart has drawn `n` traces, lines included
DRAWN_JS = (
    "n => { const g = document.querySelector('.fl-chart .js-plotly-plot');"
    " return g && g._fullData && g._fullData.length === n"
    " && g.querySelectorAll('.scatterlayer .trace path.js-line').length > 0; }"
)


def write_logdir(logdir: Path, runs: int) -> None:
    """``runs`` runs written in a shuffled order (start times differ from name order)."""
    from flowlog.writer import SummaryWriter

    marker = logdir / f".complete-{runs}x{TAGS}x{POINTS}"
    if marker.exists():
        print(f"reusing {logdir}")
        return
    t0 = time.perf_counter()
    rng = np.random.default_rng(runs)
    steps = np.arange(POINTS)
    for r in rng.permutation(runs).tolist():
        w = SummaryWriter(logdir=logdir, run_name=f"run{r:03d}", flush_secs=60, max_queue=100_000)
        for t in range(TAGS):
            values = np.exp(-steps / (POINTS / 4)) * (1 + t) + 0.05 * rng.normal(size=POINTS)
            for s, v in zip(steps.tolist(), values.tolist(), strict=True):
                w.add_scalar(f"loss/t{t}", v, s)
        w.close()
    marker.touch()
    took = time.perf_counter() - t0
    print(f"wrote {runs} runs x {TAGS} tags x {POINTS:,} points in {took:.1f} s")


@contextlib.contextmanager
def before_this_change():
    """The dashboard as it was: every run selected on a new page, every line at full
    resolution (module globals looked up at call time, so a server started inside sees it)."""
    from flowlog.dashboard import runs_panel, scalars_charts, scalars_data
    from flowlog.dashboard.chart_budget import BUCKETS

    patches = [(runs_panel, "default_selection", lambda info: [r["name"] for r in info])]
    for module in (scalars_charts, scalars_data):
        patches.append((module, "line_buckets", lambda *a: BUCKETS))
        patches.append((module, "draws_raw", lambda *a: True))
    saved = [(m, name, getattr(m, name)) for m, name, _ in patches]
    for m, name, value in patches:
        setattr(m, name, value)
    try:
        yield
    finally:
        for m, name, value in saved:
            setattr(m, name, value)


def build_once(logdir: Path, select_all: bool, app=None) -> dict:
    """One first-chart build + serialisation (a fresh app when ``app`` is None: cold)."""
    from plotly.io.json import to_json_plotly

    from flowlog.dashboard import create_app
    from flowlog.dashboard.runs_panel import initial_state

    app = app or create_app(logdir, reload_interval=60)
    ctx = app.flowlog_context
    view = ctx.extra["scalars"]
    t0 = time.perf_counter()
    init = initial_state(ctx)
    names = [r["name"] for r in init["info"]] if select_all else init["selected"]
    fig, state = view.build(TAG, init["info"], names, 0.6, "step", [], "none", None, None)
    size = len(to_json_plotly(fig)) + len(to_json_plotly(state))
    return {
        "s": time.perf_counter() - t0,
        "bytes": size,
        "traces": len(fig.data),
        "runs": len(names),
        "buckets": state.get("buckets"),
        "app": app,
    }


def bench_server(logdir: Path, select_all: bool, repeats: int = 3) -> dict:
    cold = [build_once(logdir, select_all) for _ in range(repeats)]
    app = cold[-1]["app"]
    warm = [build_once(logdir, select_all, app) for _ in range(repeats)]
    return {
        "cold_s": statistics.median(c["s"] for c in cold),
        "warm_s": statistics.median(w["s"] for w in warm),
        **{k: cold[-1][k] for k in ("bytes", "traces", "runs", "buckets")},
    }


def bench_layout(logdir: Path, repeats: int = 3) -> dict:
    """A fresh app's first page layout request: discovery, selection, the first charts."""
    from flowlog.dashboard import create_app

    out = []
    for _ in range(repeats):
        app = create_app(logdir, reload_interval=60)
        client = app.server.test_client()
        t0 = time.perf_counter()
        r = client.get("/_dash-layout")
        out.append((time.perf_counter() - t0, len(r.data)))
    return {"s": statistics.median(s for s, _ in out), "bytes": out[-1][1]}


def first_drawn_s(page, url: str, traces: int) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(DRAWN_JS, arg=traces, timeout=180_000, polling=20)
    return time.perf_counter() - t0


def bench_browser(logdir: Path, traces: int, show_all: int | None = None, warm: int = 3):
    """Navigation -> first chart drawn (cold, then ``warm`` times), and with ``show_all`` the
    time from the "show all" click to the chart drawn with that many traces."""
    from conftest import CHROMIUM, CHROMIUM_ARGS, DashServer
    from playwright.sync_api import sync_playwright

    from flowlog.dashboard import create_app

    server = DashServer(create_app(logdir, reload_interval=60))
    out = {"warm_s": []}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            out["cold_s"] = first_drawn_s(page, server.url, traces)
            for _ in range(warm):
                page.goto("about:blank")
                page.wait_for_timeout(1000)
                out["warm_s"].append(first_drawn_s(page, server.url, traces))
            if show_all is not None:
                page.wait_for_load_state("networkidle")
                t0 = time.perf_counter()
                page.locator("#runs-show-all").click()
                page.wait_for_function(DRAWN_JS, arg=show_all, timeout=180_000, polling=20)
                out["show_all_s"] = time.perf_counter() - t0
            browser.close()
    finally:
        server.stop()
    return out


def _row(title: str, r: dict, base: dict) -> str:
    return (
        f"{title:<44} {r['runs']:>4} runs {r['traces']:>4} traces {r['buckets'] or '-':>4} bkts"
        f" | cold {r['cold_s'] * 1000:6.0f} ms ({r['cold_s'] / base['cold_s']:5.1f}x)"
        f" warm {r['warm_s'] * 1000:5.0f} ms ({r['warm_s'] / base['warm_s']:5.1f}x)"
        f" | {r['bytes'] / MB:6.2f} MB ({r['bytes'] / base['bytes']:5.1f}x)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logdir", help="reuse/create the logdirs under this folder")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--no-browser", action="store_true", help="skip the headless-browser parts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowlog-bench-runs-") as tmp:
        root = Path(args.logdir) if args.logdir else Path(tmp)
        base_dir, many_dir = root / f"runs{BASE_RUNS}", root / f"runs{args.runs}"
        write_logdir(base_dir, BASE_RUNS)
        write_logdir(many_dir, args.runs)
        n = args.runs
        print(f"\n== First chart ({TAG}), server side: build + serialise, payload = figure + state")
        base = bench_server(base_dir, select_all=True)
        rows = {
            f"{BASE_RUNS} runs (baseline)": base,
            f"{n} runs, a new page's selection": bench_server(many_dir, select_all=False),
            f"{n} runs, all selected": bench_server(many_dir, select_all=True),
        }
        with before_this_change():
            rows[f"{n} runs, all selected, before (no budget)"] = bench_server(many_dir, True)
        for title, r in rows.items():
            print(_row(title, r, base))
        worst = max(r["bytes"] for t, r in rows.items() if "before" not in t)
        print(f"largest payload now: {worst / MB:.2f} MB (target <= 1 MB)")
        print("\n== Page layout request of a fresh app (discovery, selection, first charts inside)")
        lay = {f"{BASE_RUNS} runs": bench_layout(base_dir), f"{n} runs": bench_layout(many_dir)}
        with before_this_change():
            lay[f"{n} runs, before"] = bench_layout(many_dir)
        for title, r in lay.items():
            print(f"{title:<20} {r['s'] * 1000:6.0f} ms, {r['bytes'] / MB:.2f} MB")
        if not args.no_browser:
            print("\n== Headless Chromium: navigation -> first chart drawn")
            br = {f"{BASE_RUNS} runs (baseline)": bench_browser(base_dir, 2 * BASE_RUNS)}
            br[f"{n} runs, a new page (20 most recent)"] = bench_browser(many_dir, 40, n)
            with before_this_change():
                br[f"{n} runs, before (all selected)"] = bench_browser(many_dir, 2 * n)
            b0 = statistics.median(br[f"{BASE_RUNS} runs (baseline)"]["warm_s"])
            for title, r in br.items():
                w = statistics.median(r["warm_s"])
                each = ", ".join(f"{v:.2f}" for v in r["warm_s"])
                print(
                    f"{title:<38} cold {r['cold_s']:5.2f} s, warm median {w:5.2f} s "
                    f"({w / b0:4.1f}x the baseline; runs {each})"
                )
                if "show_all_s" in r:
                    print(f"{'':<38} 'show all' clicked -> {n} runs drawn: {r['show_all_s']:.2f} s")
            print("target: first chart <= 2 s with 300 runs")
        print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    threading.current_thread().name = "bench"
    raise SystemExit(main())
