"""First drawn chart and full screen, this checkout against another revision, in the same run.

    .venv/bin/python benchmarks/dashboard_ab.py --baseline REV [--logdir DIR] [--rounds 8]

Machine load drifts by 2x within minutes on the shared 2-core machines, so a figure measured
at one time and a figure measured at another do not compare. This script serves the same
logdir from two servers, this checkout's and ``REV``'s (checked out into a temporary git
worktree), and navigates one headless Chromium page to each in turn, so both see the same
load. It prints both medians and their ratio, for the first drawn chart and for every chart on
the screen drawn. Each navigation is "warm": the page was visited
before (browser cache and server caches filled) and the previous page had settled.

The logdir is benchmarks/dashboard.py's (10 runs x 10 tags x 100k points); pass the same
--logdir to reuse it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checkout import LOAD_CHECKOUT  # benchmarks/checkout.py: this script's directory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# benchmarks/dashboard.py writes (or reuses) the logdir and says when the first chart has
# drawn; loaded by path, since the name "dashboard" is also the repository's dashboard/
_spec = importlib.util.spec_from_file_location("bench_dashboard", ROOT / "benchmarks/dashboard.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

# Serves one checkout's dashboard (create_app on werkzeug).
SERVE = (
    LOAD_CHECKOUT
    + """
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from werkzeug.serving import make_server
app = mod.create_app(sys.argv[2])
server = make_server("127.0.0.1", 0, app.server, threaded=True)
print(server.server_port, mod.__file__, flush=True)
server.serve_forever()
"""
)

SCREEN_DRAWN = (  # every chart card on the screen has its lines
    "() => { const cards = Array.from(document.querySelectorAll('.fl-card'))"
    ".filter(c => { const r = c.getBoundingClientRect();"
    " return r.bottom > 0 && r.top < window.innerHeight; });"
    " return cards.length > 0 && cards.every(c => c.querySelector("
    "'.scatterlayer .trace path.js-line')); }"
)


def serve(root: Path, logdir: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(root), str(logdir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    port, where = proc.stdout.readline().split(maxsplit=1)
    print(f"  serving {where.strip()} on port {port}")
    return proc, f"http://127.0.0.1:{port}/"


def first_chart_ms(page, url: str) -> tuple[float, float]:
    """Navigation -> the first chart drawn, and -> every chart on the screen drawn (ms)."""
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(bench.FIRST_DRAWN_JS, timeout=120_000, polling=20)
    first = (time.perf_counter() - t0) * 1000
    page.wait_for_function(SCREEN_DRAWN, timeout=120_000, polling=20)
    return first, (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="git revision to compare with, e.g. HEAD~1")
    ap.add_argument("--logdir", help="benchmarks/dashboard.py's logdir (written if missing)")
    ap.add_argument("--rounds", type=int, default=8, help="warm navigations per side")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds between navigations")
    args = ap.parse_args()
    from conftest import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="flowlog-ab-") as tmp:
        logdir = Path(args.logdir) if args.logdir else Path(tmp) / "runs"
        bench.write_logdir(logdir, 100_000)
        base = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.baseline],
            check=True,
        )
        rev = subprocess.run(
            ["git", "-C", str(base), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        servers = {}
        try:
            print(f"this checkout vs {args.baseline} = {rev}")
            servers["this"] = serve(ROOT, logdir)
            servers["baseline"] = serve(base, logdir)
            times: dict[str, list[float]] = {name: [] for name in servers}
            screen: dict[str, list[float]] = {name: [] for name in servers}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                pages = {}
                for name, (_proc, url) in servers.items():
                    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                    pages[name] = ctx.new_page()
                    first_chart_ms(pages[name], url)  # cold: fills every cache
                    pages[name].wait_for_timeout(15_000)  # the screen's charts are built
                for i in range(args.rounds):
                    order = list(servers) if i % 2 == 0 else list(servers)[::-1]
                    for name in order:
                        page = pages[name]
                        page.goto("about:blank")
                        page.wait_for_timeout(args.settle * 1000)
                        first, whole = first_chart_ms(page, servers[name][1])
                        times[name].append(first)
                        screen[name].append(whole)
                        page.wait_for_load_state("networkidle")
                browser.close()
        finally:
            for proc, _url in servers.values():
                proc.terminate()
                proc.wait(10)
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False
            )
        for title, got in (("first drawn chart", times), ("every chart on the screen", screen)):
            print(f"\n== Navigation -> {title}, warm (10 runs x 10 tags x 100k points)")
            for name, v in got.items():
                print(
                    f"{name:>8}: median {statistics.median(v):.0f} ms "
                    f"(runs: {', '.join(f'{x:.0f}' for x in v)})"
                )
            ratio = statistics.median(got["baseline"]) / statistics.median(got["this"])
            print(f"this checkout is {ratio:.2f}x the baseline's speed (>1: faster)")
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
