"""The Dash app: runs panel + one tab per view. Views read only through ``ctx.data``, the
cached :class:`flowlog.provider.DataProvider` of the logdir."""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dash
from dash import dcc, html

from flowlog.dashboard.ids import FOCUS, REFRESH, RUNS_INFO, SELECTED_RUNS, TABS

if TYPE_CHECKING:  # imported lazily so the math modules import without the reader
    from flowlog.provider_cache import CachedProvider

ASSETS = Path(__file__).parent / "assets"


@dataclass
class AppContext:
    data: CachedProvider  # every read goes through it (one cache, keyed on change tokens)
    reload_interval: float = 2.0
    extra: dict = field(default_factory=dict)
    logdir_path: str = ""  # as given by the user, for messages
    # what the page being built starts with ({"info", "selected", ...}), per serving thread
    page: threading.local = field(default_factory=threading.local)


def _views():
    from flowlog.dashboard.views import graph, histograms, hparams, scalars

    return [scalars, graph, histograms, hparams]


def create_app(logdir: str | Path, reload_interval: float = 2.0) -> dash.Dash:
    """Build the app for ``logdir`` (usable by tests and WSGI servers: ``create_app(d).server``)."""
    from flowlog.backends import open_logdir

    if not reload_interval > 0:
        raise ValueError(f"reload_interval must be > 0 seconds, got {reload_interval!r}")
    ctx = AppContext(
        data=open_logdir(logdir), reload_interval=reload_interval, logdir_path=str(logdir)
    )
    app = dash.Dash(
        __name__,
        assets_folder=str(ASSETS),
        title="flowlog",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    from flowlog.dashboard import plotly_bundle, runs_panel

    ctx.extra["plotly_bundle"] = plotly_bundle.install(app)  # None: dash's full plotly.js
    views = _views()

    def page_layout():
        # Built per page load with the runs as they are now, so the first charts are requested
        # at once instead of after a discovery -> selection -> tags round-trip chain.
        ctx.page.initial = runs_panel.initial_state(ctx)
        live = runs_panel.live_indicator(ctx.page.initial["info"])
        return html.Div(
            className="fl-app",
            children=[
                dcc.Store(
                    id=SELECTED_RUNS, storage_type="memory", data=ctx.page.initial["selected"]
                ),
                dcc.Store(id=RUNS_INFO, data=ctx.page.initial["info"]),
                dcc.Store(id=FOCUS),
                dcc.Interval(id=REFRESH, interval=int(reload_interval * 1000)),
                html.Header(
                    className="fl-header",
                    children=[
                        html.Span("flowlog", className="fl-brand"),
                        html.Span(str(logdir), className="fl-logdir", title="logdir"),
                        html.Span(
                            live[0], id=runs_panel.LIVE, className=live[1], title="live indicator"
                        ),
                    ],
                ),
                runs_panel.layout(ctx),
                html.Main(
                    className="fl-main",
                    children=dcc.Tabs(
                        id=TABS,
                        value=views[0].TAB_ID,
                        children=[
                            dcc.Tab(label=v.TAB_LABEL, value=v.TAB_ID, children=v.layout(ctx))
                            for v in views
                        ],
                    ),
                ),
            ],
        )

    app.layout = page_layout
    runs_panel.register(app, ctx)
    for view in views:
        view.register(app, ctx)
    app.flowlog_context = ctx  # for tests, benchmarks and the command's startup messages
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flowlog-dashboard", description=__doc__)
    parser.add_argument(
        "--logdir", default="runs", help="directory of run logs (searched recursively)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument(
        "--reload-interval", type=float, default=2.0, help="seconds between refreshes"
    )
    parser.add_argument("--open", action="store_true", help="open the dashboard in a web browser")
    args = parser.parse_args(argv)
    if args.reload_interval <= 0:
        parser.error(f"--reload-interval must be > 0 seconds, got {args.reload_interval}")
    logdir = Path(args.logdir)
    if not logdir.is_dir():
        print(f"logdir {logdir} does not exist yet — the dashboard waits for it to appear.")
    app = create_app(args.logdir, reload_interval=args.reload_interval)
    if logdir.is_dir() and not app.flowlog_context.data.runs():
        print(f"No runs in {logdir} yet — run `python examples/linear_regression.py`; waiting.")
    # the first page's charts are read while the user opens the browser
    from flowlog.dashboard.views.scalars import prewarm

    threading.Thread(
        target=prewarm, args=(app.flowlog_context,), name="flowlog-prewarm", daemon=True
    ).start()
    url = f"http://{args.host}:{args.port}/"
    print(f"flowlog dashboard for {args.logdir} at {url}  (Ctrl-C to stop)", flush=True)
    if args.open:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        app.run(host=args.host, port=args.port, debug=False)
    except KeyboardInterrupt:
        pass
    print("flowlog dashboard stopped.")
    return 0
