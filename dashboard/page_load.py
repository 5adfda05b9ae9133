"""What a page load asks the server for, and when: the two waits before the first chart that
are the network's, not the browser's work.

- **Assets kept.** Dash names each file of ``assets/`` in the page's HTML with
  ``?m=<modified time>``, so a changed file gets a new URL, yet Flask served them
  ``no-cache``: every page load revalidated all 16 (a 304 each, six at a time over Chromium's
  connections to one host), and the scripts after them, Dash's renderer among them, waited
  ~60 ms for the answers. A URL with ``m`` now answers with a year's lifetime; one without it
  (a file asked for by hand) is revalidated as before.
- **The layout asked for at once.** Dash's renderer fetches ``_dash-layout``, which holds the
  first charts (views/scalars.py first_charts), only once its ~130 ms of scripts have run. A
  ``<link rel="preload">`` in the page's head sends that request while they run; the
  renderer's own fetch is then answered by it (the same URL, mode and credentials), so the
  server builds the layout once, beside the browser's work instead of after it.
"""

from __future__ import annotations

YEAR_S = 365 * 24 * 3600


def install(app) -> None:
    """Both, on a ``dash.Dash`` app (before its first request)."""
    _cache_fingerprinted_assets(app)
    _preload_layout(app)


def _cache_fingerprinted_assets(app) -> None:
    import flask

    folder = app.config.routes_pathname_prefix + app.config.assets_url_path.strip("/") + "/"

    @app.server.after_request
    def cache_fingerprinted_assets(response):
        request = flask.request
        if response.status_code == 200 and "m" in request.args and request.path.startswith(folder):
            response.cache_control.no_cache = None  # Flask's default for a file without max_age
            response.cache_control.max_age = YEAR_S
            response.cache_control.public = True
            response.cache_control.immutable = True
        return response


def layout_preload_tag(prefix: str) -> str:
    """The head's link; ``crossorigin="anonymous"`` is the credentials mode of the renderer's
    ``fetch`` (same-origin), without which the browser would not use the preloaded answer."""
    return f'<link rel="preload" href="{prefix}_dash-layout" as="fetch" crossorigin="anonymous">'


def _preload_layout(app) -> None:
    tag = layout_preload_tag(app.config.requests_pathname_prefix)
    app.index_string = app.index_string.replace("{%css%}", "{%css%}\n        " + tag, 1)
