"""Dashboard speed on 10 runs x 10 tags x 100k points, against baselines measured in the same run.

    .venv/bin/python benchmarks/dashboard.py [--logdir DIR] [--points 100000] [--no-browser]

Writes the logdir once with the real SummaryWriter (reused when --logdir already holds it),
then measures:
  * the Scalars chart callback: payload bytes per chart (vs. every point as JSON) and build
    time, cold (first read) and warm (cached series);
  * the page layout request (server side), with a fresh and with a shared runs discovery;
  * headless Chromium: time from navigation to the first drawn chart, cold and warm, and to
    every chart on the screen drawn, against an "eager" baseline in the same run (every chart
    card reported as on screen at once by an init script, so every chart is built: the
    pre-lazy behaviour, apart from the first chart still coming alone, in the page layout); the
    same on a logdir of runs logged with ``writer.watch`` (~60 ``watch/*`` tags per run), where
    the baseline also opens the collapsed watch group;
  * server memory (RSS growth while serving every chart) vs. the bytes of all points;
  * write -> visible latency of a live run at the default 2 s refresh (writer flushed).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import plotly.io as pio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

RUNS, TAGS = 10, 10
SETTLE_MS = 1500  # quiet time before each measured navigation
WATCH_RUNS, WATCH_STEPS = 4, 300

# The pre-lazy page, for comparison: every chart card reports as on screen at once, and
# collapsed groups are opened as soon as they appear.
EAGER_SCRIPT = """
window.IntersectionObserver = class {
  constructor(callback) { this.callback = callback; }
  observe(el) { this.callback([{ isIntersecting: true, target: el }], this); }
  unobserve() {}
  disconnect() {}
};
new MutationObserver(() => {
  for (const d of document.querySelectorAll('details.fl-group:not([open]) > summary')) d.click();
}).observe(document, { childList: true, subtree: true });
"""


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def write_logdir(logdir: Path, points: int) -> None:
    from flowlog.writer import SummaryWriter

    marker = logdir / f".complete-{points}"
    if marker.exists():
        print(f"reusing {logdir}")
        return
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    steps = np.arange(points)
    for r in range(RUNS):
        w = SummaryWriter(logdir=logdir, run_name=f"run{r:02d}", flush_secs=30, max_queue=100_000)
        for t in range(TAGS):
            values = np.exp(-steps / (points / 5)) * (1 + t) + 0.05 * rng.normal(size=points)
            tag = f"group{t // 4}/tag{t}"
            for s, v in zip(steps.tolist(), values.tolist(), strict=True):
                w.add_scalar(tag, v, s)
        w.close()
    marker.touch()
    n = RUNS * TAGS * points
    print(f"wrote {n:,} points in {time.perf_counter() - t0:.1f} s")


def write_watch_logdir(logdir: Path) -> None:
    """Runs of a 3-layer MLP logged with ``writer.watch``: 6 variables x 14 statistics = 84
    ``watch/*`` scalar tags per run next to the user's 2 (loss, accuracy)."""
    import flowlog as fl
    from flowlog.writer import SummaryWriter

    marker = logdir / f".complete-watch-{WATCH_RUNS}x{WATCH_STEPS}"
    if marker.exists():
        print(f"reusing {logdir}")
        return
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(64, 8))
    ys = (xs[:, :1] > 0).astype(np.float64)
    for r in range(WATCH_RUNS):
        g = fl.Graph()
        with g.as_default():
            x = fl.placeholder(fl.float64, shape=[None, 8], name="x")
            y = fl.placeholder(fl.float64, shape=[None, 1], name="y")
            h = x
            for i, width in enumerate((16, 16, 1)):
                with fl.name_scope(f"layer{i}"):
                    w = fl.Variable(rng.normal(scale=0.3, size=(h.shape[1], width)), name="w")
                    b = fl.Variable(np.zeros(width), name="b")
                    h = fl.matmul(h, w) + b
                    if width > 1:
                        h = fl.tanh(h)
            loss = fl.reduce_mean(fl.square(h - y), name="loss")
            train = fl.train.GradientDescentOptimizer(0.05 * (r + 1)).minimize(loss)
        sess = fl.Session(g)
        now = {"step": 0}
        with SummaryWriter(logdir=logdir, run_name=f"mlp{r}", flush_secs=30) as w:
            w.watch(sess, every=1, global_step=lambda now=now: now["step"])
            for step in range(WATCH_STEPS):
                now["step"] = step
                value, _ = sess.run([loss, train], feed_dict={x: xs, y: ys})
                w.add_scalar("loss", float(value), step)
                w.add_scalar("accuracy", float(np.exp(-value)), step)
    marker.touch()
    print(f"wrote the watch logdir in {time.perf_counter() - t0:.1f} s")


def bench_layout(app, repeats: int = 5) -> dict:
    """Server time of the page layout request, with a fresh and with a shared discovery."""
    ctx = app.flowlog_context
    client = app.server.test_client()
    client.get("/_dash-layout")  # first request: Dash's one-time setup
    out = {"fresh_ms": [], "shared_ms": [], "discover_ms": []}
    for _ in range(repeats):
        ctx.data.runs(max_age=0)  # renew, then time the parts
        t0 = time.perf_counter()
        ctx.data.runs(max_age=0)
        out["discover_ms"].append((time.perf_counter() - t0) * 1000)
        ctx.data.expire_runs()  # no shared scan: the layout has to discover
        t0 = time.perf_counter()
        client.get("/_dash-layout")
        out["fresh_ms"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        r = client.get("/_dash-layout")
        out["shared_ms"].append((time.perf_counter() - t0) * 1000)
        out["bytes"] = len(r.data)
    return out


def bench_callback(app, points: int) -> dict:
    from flowlog.dashboard.colors import run_colors

    ctx = app.flowlog_context
    view = ctx.extra["scalars"]
    names = [r.name for r in ctx.data.runs()]
    colors = run_colors(names)
    info = [{"name": n, "color": colors[n]} for n in names]
    tags = sorted({t for n in names for t in ctx.data.tags(n, "scalar")})
    rss0 = rss_bytes()
    out = {"cold_s": [], "warm_s": [], "bytes": [], "zoom_s": [], "zoom_bytes": []}
    for tag in tags:
        for key in ("cold_s", "warm_s"):
            t0 = time.perf_counter()
            fig, _state = view.build(tag, info, names, 0.6, "step", [], "none", None, None)
            payload = pio.to_json(fig, validate=False)
            out[key].append(time.perf_counter() - t0)
        out["bytes"].append(len(payload))
        t0 = time.perf_counter()
        rng = (points * 0.4, points * 0.401)  # a zoom onto 0.1 %: every point
        fig, _state = view.build(tag, info, names, 0.6, "step", [], "none", None, rng)
        out["zoom_bytes"].append(len(pio.to_json(fig, validate=False)))
        out["zoom_s"].append(time.perf_counter() - t0)
    out["rss_growth"] = rss_bytes() - rss0
    # naive baseline: one tag's points of every run as JSON lists, the way a plain figure ships
    s = ctx.data.scalars(names[0], tags[0])
    one = len(pio.to_json({"x": s.step.tolist(), "y": s.value.tolist()}, validate=False))
    out["naive_bytes_per_chart"] = one * len(names)
    out["all_points_bytes"] = len(names) * len(tags) * points * (8 + 8 + 8)
    t0 = time.perf_counter()
    for tag in tags:
        ctx.data.backend.scalars(names[0], tag)  # the backend itself: a read from disk
    out["read_one_series_s"] = (time.perf_counter() - t0) / len(tags)
    return out


# The page's first chart has drawn its lines (and the page clock then, for the timeline).
FIRST_DRAWN_JS = (
    "() => { const g = document.querySelector('.fl-chart .js-plotly-plot');"
    " const ok = g && g._fullData && g._fullData.length > 0"
    " && g.querySelectorAll('.scatterlayer .trace path.js-line').length > 0;"
    " if (ok) window.__flDrawnAt = Math.round(performance.now()); return ok; }"
)


def first_chart_ms(page, url: str, phases: list | None = None, screen: list | None = None) -> float:
    """Navigation -> the top chart has drawn lines; ``phases`` gets the page-side breakdown,
    ``screen`` the time until every chart on the screen has drawn."""
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(FIRST_DRAWN_JS, timeout=120_000, polling=20)
    total = (time.perf_counter() - t0) * 1000
    if screen is not None:  # then every chart card on the screen
        page.wait_for_function(
            "() => { const cards = Array.from(document.querySelectorAll('.fl-card'))"
            ".filter(c => { const r = c.getBoundingClientRect();"
            " return r.bottom > 0 && r.top < window.innerHeight; });"
            " return cards.length > 0 && cards.every(c => {"
            " const g = c.querySelector('.js-plotly-plot');"
            " return g && g._fullData && g._fullData.length > 0; }); }",
            timeout=120_000,
            polling=20,
        )
        screen.append((time.perf_counter() - t0) * 1000)
    if phases is not None:
        phases.append(
            page.evaluate(
                "() => { const r = performance.getEntriesByType('resource');"
                " const end = re => Math.round(Math.min(...r.filter(e => re.test(e.name))"
                ".map(e => e.responseEnd)));"
                " return {layout: end(/_dash-layout/), plotly: end(/plotly.min.js/)}; }"
            )
            | {"drawn": page.evaluate("() => window.__flDrawnAt")}
        )
    return total


def settle(page) -> None:
    """Wait until the page's requests are over (the eager baseline's dozens of chart builds
    can take a minute on a loaded machine), so the next navigation does not queue behind them
    on the server."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_load_state("networkidle", timeout=180_000)
    except PlaywrightTimeout:
        print("  (a page was still busy after 180 s; measuring on)")


def bench_browser(url: str, warm: int = 5) -> dict:
    """Cold and warm navigation -> first drawn chart, lazy (the page as it is) and eager
    (EAGER_SCRIPT), alternating so both see the same machine load. Only the page being
    measured is open on the dashboard (the other is on about:blank) and each navigation waits
    a moment first, so no page measures the previous one's trailing work."""
    from conftest import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    out: dict = {"lazy_ms": [], "eager_ms": [], "phases": [], "drawn": {}, "screen_ms": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pages = {}
        for mode in ("lazy", "eager"):
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            if mode == "eager":
                ctx.add_init_script(EAGER_SCRIPT)
            pages[mode] = ctx.new_page()

        def alone(mode: str) -> None:
            for other, page in pages.items():
                if other != mode:
                    page.goto("about:blank")
            pages[mode].goto("about:blank")
            pages[mode].wait_for_timeout(SETTLE_MS)

        alone("lazy")
        out["cold_ms"] = first_chart_ms(pages["lazy"], url)
        settle(pages["lazy"])  # the screen's charts are built: caches are warm
        alone("eager")
        first_chart_ms(pages["eager"], url)  # warms the eager context's cache too
        settle(pages["eager"])
        for _ in range(warm):
            for mode, page in pages.items():
                lazy = mode == "lazy"
                alone(mode)
                out[f"{mode}_ms"].append(
                    first_chart_ms(
                        page,
                        url,
                        out["phases"] if lazy else None,
                        out["screen_ms"] if lazy else None,
                    )
                )
                settle(page)
        for mode, page in pages.items():
            alone(mode)
            first_chart_ms(page, url)
            page.wait_for_timeout(3000)  # what a reader sees 3 s after the first chart
            out["drawn"][mode] = page.evaluate(
                "() => [Array.from(document.querySelectorAll('.fl-chart .js-plotly-plot'))"
                ".filter(g => g.data && g.data.length).length,"
                " document.querySelectorAll('.fl-chart').length,"
                " Array.from(document.querySelectorAll('.fl-group .fl-count'),"
                " e => e.textContent.split(' ')[0] | 0).reduce((a, b) => a + b, 0)]"
            )
        browser.close()
    return out


def print_browser(title: str, br: dict) -> None:
    lazy, eager = statistics.median(br["lazy_ms"]), statistics.median(br["eager_ms"])
    print(f"\n== Headless Chromium, navigation -> first drawn chart: {title}")
    print(
        f"cold {br['cold_ms']:.0f} ms; warm median {lazy:.0f} ms "
        f"(runs: {', '.join(f'{v:.0f}' for v in br['lazy_ms'])}) (target <= 1000 ms)"
    )
    print(
        f"eager baseline (every chart built at once): warm median {eager:.0f} ms "
        f"(runs: {', '.join(f'{v:.0f}' for v in br['eager_ms'])}) -> lazy is {eager / lazy:.1f}x"
        " faster"
    )
    print(
        f"every chart on the screen drawn: warm median {statistics.median(br['screen_ms']):.0f} ms"
        f" (runs: {', '.join(f'{v:.0f}' for v in br['screen_ms'])})"
    )
    for mode, (drawn, cards, tags) in br["drawn"].items():
        print(f"  {mode}, 3 s later: {drawn} charts drawn, {cards} chart components, {tags} tags")
    for ph in br["phases"]:
        print(
            f"  warm page timeline (ms): layout received {ph['layout']}, plotly.js received "
            f"{ph['plotly']}, first chart seen drawn {ph['drawn']}"
        )


def bench_live(tmp: Path) -> dict:
    """Write a point, flush, and time until the open page draws it (default 2 s refresh)."""
    from conftest import CHROMIUM, CHROMIUM_ARGS, DashServer
    from playwright.sync_api import sync_playwright

    from flowlog.dashboard import create_app
    from flowlog.writer import SummaryWriter

    d = tmp / "live"
    w = SummaryWriter(logdir=d, run_name="live", flush_secs=60)
    for s in range(1000):
        w.add_scalar("loss", 1.0 / (s + 1), s)
    w.flush()
    server = DashServer(create_app(d, reload_interval=2.0))
    lat = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            first_chart_ms(page, server.url)
            for k in range(6):
                step = 1000 + k
                page.wait_for_timeout(300 + 250 * k)  # land at different phases of the interval
                t0 = time.perf_counter()
                w.add_scalar("loss", 0.5, step)
                w.flush()
                page.wait_for_function(
                    "s => { const g = document.querySelector('.fl-chart .js-plotly-plot');"
                    " const x = g && g._fullData[0].x; return x && x[x.length - 1] === s; }",
                    arg=step,
                    timeout=30_000,
                    polling=10,
                )
                lat.append(time.perf_counter() - t0)
            browser.close()
    finally:
        w.close()
        server.stop()
    return {"latency_s": lat}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logdir", help="reuse/create the benchmark logdir here (default: temp dir)")
    ap.add_argument("--points", type=int, default=100_000, help="points per tag")
    ap.add_argument("--no-browser", action="store_true", help="skip the headless-browser parts")
    args = ap.parse_args()
    if args.points < 1000:
        ap.error("--points must be >= 1000")
    from conftest import DashServer

    from flowlog.dashboard import create_app

    with tempfile.TemporaryDirectory(prefix="flowlog-bench-") as tmp:
        logdir = Path(args.logdir) if args.logdir else Path(tmp) / "runs"
        write_logdir(logdir, args.points)
        app = create_app(logdir)
        bundle = app.flowlog_context.extra.get("plotly_bundle")
        print(
            "plotly.js served: "
            + (f"partial bundle v{bundle} (1.4 MB)" if bundle else "dash's full bundle (4.8 MB)")
        )
        cb = bench_callback(app, args.points)
        mb = 1024 * 1024
        print(f"\n== Scalars chart callback ({RUNS} runs per chart, {args.points:,} points/run)")
        print(
            f"payload per chart: median {statistics.median(cb['bytes']) / mb:.2f} MB, "
            f"max {max(cb['bytes']) / mb:.2f} MB (target <= 1 MB); every point as JSON would be "
            f"{cb['naive_bytes_per_chart'] / mb:.1f} MB -> "
            f"{cb['naive_bytes_per_chart'] / statistics.median(cb['bytes']):.0f}x smaller"
        )
        print(
            f"build + serialise: cold {statistics.median(cb['cold_s']) * 1000:.0f} ms, "
            f"warm {statistics.median(cb['warm_s']) * 1000:.0f} ms per chart "
            f"(reading one 100k series alone: {cb['read_one_series_s'] * 1000:.0f} ms, x{RUNS} runs"
            f" = {cb['read_one_series_s'] * RUNS * 1000:.0f} ms)"
        )
        print(
            f"zoom to 0.1 % (every point): {statistics.median(cb['zoom_s']) * 1000:.0f} ms, "
            f"{statistics.median(cb['zoom_bytes']) / 1024:.0f} kB"
        )
        print(
            f"server memory growth while serving all {RUNS * TAGS} series: "
            f"{cb['rss_growth'] / mb:.0f} MB vs {cb['all_points_bytes'] / mb:.0f} MB for all "
            f"points in numpy -> {cb['rss_growth'] / cb['all_points_bytes']:.2f}x"
        )
        lay = bench_layout(app)
        print("\n== Page layout request (server side)")
        print(
            f"with a fresh runs discovery: median {statistics.median(lay['fresh_ms']):.0f} ms "
            f"(of which discovery {statistics.median(lay['discover_ms']):.0f} ms); sharing the "
            f"discovery of the last refresh interval: {statistics.median(lay['shared_ms']):.0f}"
            f" ms; {lay['bytes'] / 1024:.0f} kB"
        )
        if not args.no_browser:
            server = DashServer(app)
            try:
                print_browser(f"{RUNS} runs x {TAGS} tags", bench_browser(server.url))
            finally:
                server.stop()
            wdir = logdir.parent / (logdir.name + "-watch")
            write_watch_logdir(wdir)
            server = DashServer(create_app(wdir))
            try:
                print_browser(
                    f"{WATCH_RUNS} runs logged with writer.watch", bench_browser(server.url)
                )
            finally:
                server.stop()
            live = bench_live(Path(tmp))
            lat = live["latency_s"]
            print("\n== Live run, write + flush -> point drawn (reload interval 2 s)")
            print(
                f"median {statistics.median(lat):.2f} s, max {max(lat):.2f} s over {len(lat)} "
                f"writes (target <= 2 s; TensorBoard: 5-40 s)"
            )
        print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines
    threading.current_thread().name = "bench"
    raise SystemExit(main())
