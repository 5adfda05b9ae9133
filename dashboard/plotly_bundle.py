"""Serve a plotly.js holding only the trace types the dashboard draws.

dash_core_components loads plotly.js when the first chart mounts, from one fixed URL. The app
answers that URL with ``vendor/plotly-flowlog.min.js`` (scatter, heatmap, parcoords; 1.4 MB)
instead of plotly's full 4.8 MB bundle: the browser parses it in a third of the time, which
is ~0.1 s of every page load before the first chart can draw (benchmarks/dashboard.py). It
is built by scripts/build_plotly_bundle.sh.

Only when its version is the plotly.js the installed plotly package ships: figures are made
for that version. Otherwise Dash's own file is served, as without this module.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

BUNDLE = Path(__file__).parent / "vendor" / "plotly-flowlog.min.js"
# where dash_core_components asks for plotly.js (dash's _setup_plotlyjs, not fingerprinted)
PLOTLY_PATH = "_dash-component-suites/plotly/package_data/plotly.min.js"


def bundle_version(path: Path = BUNDLE) -> str | None:
    """The plotly.js version in the bundle's banner, or None if there is no bundle."""
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(200)
    except OSError:
        return None
    m = re.match(r"/\* plotly\.js v(\S+) ", head)
    return m.group(1) if m else None


def plotly_js_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def install(app, path: Path = BUNDLE) -> str | None:
    """Serve the bundle at dash's plotly.js URL; returns its version, or None when dash's
    full bundle stays (no bundle, or another plotly.js version than the plotly package's)."""
    import flask

    version = bundle_version(path)
    if version is None or version != plotly_js_version():
        return None
    body = path.read_bytes()
    etag = hashlib.sha1(body).hexdigest()
    url = app.config.routes_pathname_prefix + PLOTLY_PATH

    @app.server.before_request
    def serve_plotly_bundle():
        request = flask.request
        if request.path != url:
            return None
        # revalidated on each page load like dash's own file, so a new bundle is picked up
        if request.if_none_match.contains(etag):
            response = flask.Response(status=304)
        else:
            response = flask.Response(body, mimetype="application/javascript")
        response.set_etag(etag)
        return response

    return version
