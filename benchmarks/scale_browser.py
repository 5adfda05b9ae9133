"""Headless-Chromium parts of benchmarks/scale.py: what a reader's page waits for.

Every figure is timed from the browser: navigation -> first Scalars chart drawn, a
``Plotly.relayout`` zoom -> the chart redrawn with the server's new data, and the chart
callbacks' request times (Playwright's resource timing) while writers are busy.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

_spec = importlib.util.spec_from_file_location("bench_dashboard", ROOT / "benchmarks/dashboard.py")
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
FIRST_DRAWN_JS = _bench.FIRST_DRAWN_JS  # the top chart has drawn lines (sets __flDrawnAt)

CHART = ".fl-chart .js-plotly-plot"
MESSAGE_SHOWN_JS = (  # the empty logdir's "No runs ..." message (no chart to draw)
    "() => { const m = document.getElementById('sc-message');"
    " return !!(m && m.textContent.trim().length); }"
)
# where a navigation's time went, from the page's own clock (ms since navigation start)
PHASES_JS = """() => {
  const r = performance.getEntriesByType('resource');
  const end = re => Math.round(Math.max(0, ...r.filter(e => re.test(e.name))
    .map(e => e.responseEnd)));
  const cbs = r.filter(e => /_dash-update-component/.test(e.name))
    .map(e => [Math.round(e.startTime), Math.round(e.responseEnd)]);
  return {layout: end(/_dash-layout/), plotly: end(/plotly[^/]*\\.js/), callbacks: cbs,
          drawn: window.__flDrawnAt || null};
}"""
# decodes a trace array: Plotly's {dtype, bdata} spec as sent, or an (typed) array
DECODE_JS = """
const decode = a => {
  if (a && a.bdata !== undefined) {
    const s = atob(a.bdata), u = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    const T = {f8: Float64Array, f4: Float32Array, i4: Int32Array, u4: Uint32Array,
               i2: Int16Array, u2: Uint16Array, i1: Int8Array, u1: Uint8Array}[a.dtype];
    a = new T(u.buffer);
  }
  return Array.from(a || [], v => (Number.isFinite(v) ? v : null));
};"""
SMOOTHED_JS = (
    "() => {" + DECODE_JS + " const gd = document.querySelector('" + CHART + "');"
    " return gd.data.filter(t => t.meta && t.meta[3] === 'smooth')"
    ".map(t => ({run: t.meta[0], x: decode(t.x), y: decode(t.y)})); }"
)
# Zoom: relayout the top chart like a drag-zoom, then the time of the first plotly_afterplot
# drawing new trace data of the window (Dash's Plotly.react replaces gd.data; the relayout's
# own redraw keeps the old data, whose first point lies far left of the window).
ZOOM_START_JS = (
    """([lo, hi]) => {"""
    + DECODE_JS
    + """
  const gd = document.querySelector('CHART');
  const old = gd.data[0], zoom = {t0: performance.now(), t1: null};
  window.__flZoom = zoom;
  const done = () => {
    const t = gd.data.find(t => t.meta && t.meta[2] === 'row') || gd.data[0];
    if (gd.data[0] === old || !t || decode(t.x)[0] < lo - (hi - lo)) return;
    zoom.t1 = performance.now();
    gd.removeListener('plotly_afterplot', done);
  };
  gd.on('plotly_afterplot', done);
  window.Plotly.relayout(gd, {'xaxis.range[0]': lo, 'xaxis.range[1]': hi});
}""".replace("CHART", CHART)
)
ZOOM_DRAWN_JS = "() => window.__flZoom && window.__flZoom.t1 !== null"
ZOOM_RESULT_JS = (  # ms, and the points the first line's trace draws inside [lo, hi]
    "([lo, hi]) => {" + DECODE_JS + " const gd = document.querySelector('" + CHART + "');"
    " const t = gd.data.find(t => t.meta && t.meta[2] === 'row') || gd.data[0];"
    " const x = decode(t.x).filter(v => v !== null && v >= lo && v <= hi);"
    " return [window.__flZoom.t1 - window.__flZoom.t0, x.length]; }"
)
TIMEOUT_MS = 180_000


@contextlib.contextmanager
def browser():
    """One headless Chromium for the whole benchmark (closed on exit)."""
    from conftest import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def new_page(b):
    """A page in its own context: one browser cache per side (its own origin and port)."""
    page = b.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def first_chart_ms(page, url: str, phases: dict | None = None) -> float:
    """Navigation -> the top chart has drawn its lines (ms); ``phases`` gets the page's
    own timeline of it (layout, plotly.js, callbacks, drawn)."""
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(FIRST_DRAWN_JS, timeout=TIMEOUT_MS, polling=10)
    ms = (time.perf_counter() - t0) * 1000
    if phases is not None:
        phases.update(page.evaluate(PHASES_JS))
    return ms


def message_ms(page, url: str) -> float:
    """Navigation -> the empty logdir's message is shown (ms)."""
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(MESSAGE_SHOWN_JS, timeout=TIMEOUT_MS, polling=10)
    return (time.perf_counter() - t0) * 1000


def blank(page, settle_ms: int = 1500) -> None:
    """Leave the dashboard and let the machine settle before the next navigation."""
    page.goto("about:blank")
    page.wait_for_timeout(settle_ms)


def warm_ms(page, url: str, rounds: int) -> list[float]:
    """Repeated navigations to an already visited page on the same server."""
    out = []
    for _ in range(rounds):
        blank(page)
        out.append(first_chart_ms(page, url))
    return out


def smoothed(page) -> list[dict]:
    """The top chart's smoothed traces as drawn: ``[{run, x, y}]`` (non-finite -> None)."""
    return page.evaluate(SMOOTHED_JS)


def smoothing_weight(page) -> float:
    return float(page.input_value("#sc-smoothing-box"))


def zoom_ms(page, lo: float, hi: float) -> tuple[float, int]:
    """Plotly.relayout onto [lo, hi] -> chart redrawn with new data: (ms, points in range)."""
    page.wait_for_timeout(1000)  # the chart's own follow-up draws are over
    page.evaluate(ZOOM_START_JS, [lo, hi])
    page.wait_for_function(ZOOM_DRAWN_JS, timeout=TIMEOUT_MS, polling=5)
    ms, n = page.evaluate(ZOOM_RESULT_JS, [lo, hi])
    return ms, n


class ChartCallbacks:
    """Durations (ms, request start -> response end, Playwright's timing) of the
    ``_dash-update-component`` requests for Scalars charts that returned a figure, as the
    page sees them; ``aborted``: elapsed ms of those the page gave up (a re-navigation)."""

    def __init__(self, page):
        self.ms: list[float] = []
        self.empty = 0  # answered without a figure (nothing to redraw, or 204)
        self.aborted: list[float] = []
        self.pending: dict = {}  # request -> perf_counter() at its start
        self.unfinished: list[float] = []  # elapsed ms of those still pending at the end
        page.on("request", self._started)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)

    @staticmethod
    def _is_chart(request) -> bool:
        if "_dash-update-component" not in request.url:
            return False
        try:
            return "sc-graph" in json.loads(request.post_data or "{}").get("output", "")
        except ValueError:
            return False

    def _started(self, request) -> None:
        if self._is_chart(request):
            self.pending[request] = time.perf_counter()

    def _finished(self, request) -> None:
        if self.pending.pop(request, None) is None:
            return
        try:
            response = request.response()
            body = response.body() if response is not None and response.status == 200 else b""
        except Exception:  # the page navigated away meanwhile: not a chart it drew
            return
        if b'"figure"' in body:
            self.ms.append(request.timing["responseEnd"])
        else:
            self.empty += 1

    def _failed(self, request) -> None:
        t0 = self.pending.pop(request, None)
        if t0 is not None:
            self.aborted.append((time.perf_counter() - t0) * 1000)

    def wait(self, page, cap_s: float) -> list[float]:
        """Let pending chart requests finish (at most ``cap_s``); elapsed ms of the rest."""
        end = time.monotonic() + cap_s
        while self.pending and time.monotonic() < end:
            page.wait_for_timeout(200)
        return [(time.perf_counter() - t0) * 1000 for t0 in self.pending.values()]


def drive_live(page, url: str, seconds: float, every_s: float = 4.0) -> ChartCallbacks:
    """A reader on the Scalars tab for ``seconds`` while the page refreshes by itself; every
    ``every_s`` a chart rebuild: a new smoothing weight typed in, every third time a
    re-navigation instead. The chart requests still under way at the end are waited for
    (their end then runs without the writers' load)."""
    calls = ChartCallbacks(page)
    page.goto(url)
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        page.wait_for_timeout(int(min(every_s, max(0.0, end - time.monotonic())) * 1000))
        if time.monotonic() >= end:
            break
        k += 1
        if k % 3 == 0:
            page.goto(url)
        else:
            box = page.locator("#sc-smoothing-box")
            if box.count():
                box.fill(f"{0.6 + 0.05 * (k % 2):.2f}")
                box.press("Enter")
    calls.unfinished = calls.wait(page, 120)
    return calls
