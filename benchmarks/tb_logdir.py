"""A TensorBoard logdir with one 1,000,000-point tag: flowlog's first chart against TensorBoard's
own ``EventAccumulator`` load of the same file, measured in the same run.

    .venv/bin/python benchmarks/tb_logdir.py [--points 1000000] [--no-browser]

The event file is written once (a TFRecord of ``Event`` protos, as torch's writer writes them;
``--logdir`` reuses it). Measured:
  * TensorBoard: ``EventAccumulator(run, size_guidance={scalars: 1000}).Reload()`` — its Python
    loader, keeping a 1,000-point reservoir sample as TensorBoard's defaults do;
  * flowlog, cold cache: the conversion into flowlog's storage (discovery of a fresh provider)
    and, in headless Chromium, navigation -> first chart drawn on a fresh app;
  * flowlog, warm cache: a fresh app (new provider, empty memory cache) on the converted cache:
    navigation -> first chart drawn. Target <= 1 s. Then the same once the read that
    ``flowlog-dashboard`` starts at launch (``scalars.prewarm``) has run, as a user who starts
    the dashboard and then opens the browser gets it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

DRAWN_JS = (
    "() => { const g = document.querySelector('.fl-chart .js-plotly-plot');"
    " return g && g._fullData && g._fullData.length > 0"
    " && g.querySelectorAll('.scatterlayer .trace path.js-line').length > 0; }"
)


def write_event_file(run_dir: Path, points: int) -> Path:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from flowlog.tensorboard_events import frame

    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "events.out.tfevents.1700000000.bench.1.0"
    marker = run_dir / f".complete-{points}"
    if marker.exists():
        print(f"reusing {path}")
        return path
    t0 = time.perf_counter()
    with open(path, "wb") as fh:
        fh.write(frame(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")
                       .SerializeToString()))  # fmt: skip
        chunk = []
        for step in range(points):
            value = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (1 + step * 1e-3))
            event = event_pb2.Event(
                wall_time=1.7e9 + step * 0.01, step=step, summary=summary_pb2.Summary(value=[value])
            )
            chunk.append(frame(event.SerializeToString()))
            if len(chunk) == 10_000:
                fh.write(b"".join(chunk))
                chunk.clear()
        fh.write(b"".join(chunk))
    marker.touch()
    print(f"wrote {points} events ({path.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    return path


def tensorboard_load_s(run_dir: Path) -> float:
    from tensorboard.backend.event_processing import event_accumulator as ea

    t0 = time.perf_counter()
    acc = ea.EventAccumulator(str(run_dir), size_guidance={ea.SCALARS: 1000})
    acc.Reload()
    assert len(acc.Scalars("loss")) == 1000
    return time.perf_counter() - t0


def convert_s(logdir: Path, cache: Path) -> float:
    from flowlog.backends import open_logdir

    t0 = time.perf_counter()
    provider = open_logdir(logdir, cache=False, cache_dir=str(cache))
    (run,) = provider.runs()
    elapsed = time.perf_counter() - t0
    assert provider.tags(run.name)["loss"].count == POINTS[0]
    provider.close()
    return elapsed


def first_chart_s(logdir: Path, cache: Path, page, prewarm: bool = False) -> float:
    """Navigation -> first chart drawn on a fresh app; with ``prewarm``, after the read that
    ``flowlog-dashboard`` starts at launch (while the user opens the browser) has run."""
    from conftest import DashServer

    from flowlog.dashboard import create_app
    from flowlog.dashboard.views.scalars import prewarm as read_first_page

    app = create_app(logdir, reload_interval=60, cache_dir=str(cache))
    if prewarm:
        read_first_page(app.flowlog_context)
    server = DashServer(app)
    try:
        t0 = time.perf_counter()
        page.goto(server.url)
        page.wait_for_function(DRAWN_JS, timeout=300_000, polling=20)
        return time.perf_counter() - t0
    finally:
        server.stop()


POINTS = [1_000_000]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--logdir", help="where the event file is written (kept; default: temp)")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    POINTS[0] = args.points
    tmp = Path(tempfile.mkdtemp(prefix="flowlog-bench-tb-"))
    logdir = Path(args.logdir) if args.logdir else tmp / "logdir"
    try:
        write_event_file(logdir / "run", args.points)
        tb = tensorboard_load_s(logdir / "run")
        conv = convert_s(logdir, tmp / "cache-convert")
        print(f"one tag of {args.points} points in a TensorBoard event file")
        print(f"  TensorBoard EventAccumulator load (1,000-point sample): {tb:6.2f} s")
        print(f"  flowlog conversion into its cache (every point)       : {conv:6.2f} s"
              f"  ({tb / conv:.1f}x faster)")  # fmt: skip
        if args.no_browser:
            return 0
        from conftest import CHROMIUM, CHROMIUM_ARGS
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            cold = first_chart_s(logdir, tmp / "cache", page)
            page.goto("about:blank")
            warm = [first_chart_s(logdir, tmp / "cache", page) for _ in range(3)]
            launched = [first_chart_s(logdir, tmp / "cache", page, True) for _ in range(3)]
            browser.close()
        print(f"  flowlog first chart, cold cache (convert + draw)      : {cold:6.2f} s"
              f"  (vs TensorBoard's load alone: {tb / cold:.1f}x faster)")  # fmt: skip
        print(f"  flowlog first chart, warm cache (fresh app)           : {min(warm):6.2f} s"
              f"  (median {sorted(warm)[1]:.2f}; target <= 1 s)")  # fmt: skip
        print(f"  ... after flowlog-dashboard's launch read (prewarm)     : {min(launched):6.2f} s"
              f"  (median {sorted(launched)[1]:.2f})")  # fmt: skip
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
