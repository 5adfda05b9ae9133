"""The partial plotly.js bundle: served at dash's plotly.js URL only for the plotly.js version
the installed plotly package ships, and it draws every trace type the views use."""

from __future__ import annotations

import json
from pathlib import Path

import plotly
import pytest
from conftest import BROWSER_TIMEOUT_MS

from flowlog.dashboard import create_app, plotly_bundle

FULL = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
URL = "/" + plotly_bundle.PLOTLY_PATH


def test_bundle_is_vendored_with_a_version_banner():
    version = plotly_bundle.bundle_version()
    assert version is not None and version.split(".")[0].isdigit()
    assert plotly_bundle.BUNDLE.stat().st_size < FULL.stat().st_size / 2
    assert plotly_bundle.bundle_version(Path("/nonexistent.js")) is None


def test_served_for_the_matching_plotly_version_with_revalidation(tmp_path, monkeypatch):
    monkeypatch.setattr(plotly_bundle, "plotly_js_version", plotly_bundle.bundle_version)
    app = create_app(tmp_path)
    assert app.flowlog_context.extra["plotly_bundle"] == plotly_bundle.bundle_version()
    client = app.server.test_client()
    first = client.get(URL)
    assert first.status_code == 200 and first.mimetype == "application/javascript"
    assert first.data == plotly_bundle.BUNDLE.read_bytes()
    again = client.get(URL, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # every other component file is still dash's
    other = client.get("/_dash-component-suites/dash/dcc/dash_core_components.js")
    assert other.status_code == 200 and b"plotly.js v" not in other.data[:200]


def test_another_plotly_version_keeps_dashs_full_bundle(tmp_path, monkeypatch):
    monkeypatch.setattr(plotly_bundle, "plotly_js_version", lambda: "0.0.1")
    app = create_app(tmp_path)
    assert app.flowlog_context.extra["plotly_bundle"] is None
    served = app.server.test_client().get(URL)
    assert served.status_code == 200 and served.data == FULL.read_bytes()


@pytest.mark.browser
def test_every_view_trace_type_draws_with_the_served_plotly(page, dash_server, tmp_path):
    """Scalars (scatter), Histograms (heatmap), HParams (parcoords) and the Graph view's
    gradient flow (heatmap) need nothing else from plotly.js."""
    from flowlog.writer import SummaryWriter

    with SummaryWriter(logdir=tmp_path / "runs", run_name="r") as w:
        for s in range(5):
            w.add_scalar("loss", 1.0 / (s + 1), s)
        w.add_hparams({"lr": 0.1}, {"loss": 0.2})
    url = dash_server(tmp_path / "runs")
    app_bundle = plotly_bundle.bundle_version()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.goto(url)
    page.wait_for_function("() => window.Plotly && document.querySelector('.js-plotly-plot')")
    traces = page.evaluate("() => Object.keys(Plotly.PlotSchema.get().traces).sort()")
    size = page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('plotly.min.js')).map(e => e.decodedBodySize)[0]"
    )
    if app_bundle == plotly_bundle.plotly_js_version():
        assert traces == ["heatmap", "parcoords", "scatter"]
        assert size == plotly_bundle.BUNDLE.stat().st_size
    else:  # installed plotly moved on: dash's full bundle, all trace types
        assert {"heatmap", "parcoords", "scatter", "bar"} <= set(traces)
        assert size == FULL.stat().st_size
    for kind in ("heatmap", "parcoords", "scatter"):
        drawn = page.evaluate(
            """async (kind) => {
              const d = document.createElement('div'); document.body.appendChild(d);
              const trace = {heatmap: {type: 'heatmap', z: [[1, 2], [3, 4]]},
                parcoords: {type: 'parcoords', dimensions: [{values: [1, 2]}, {values: [2, 1]}]},
                scatter: {type: 'scatter', y: [1, 2]}}[kind];
              await Plotly.newPlot(d, [trace]);
              return d._fullData[0].type; }""",
            kind,
        )
        assert drawn == kind, json.dumps(drawn)
