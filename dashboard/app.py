"""The Dash app: runs panel + one tab per view. Views read only through ``ctx.data``, the
cached :class:`flowlog.provider.DataProvider` of the logdir."""

from __future__ import annotations

import argparse
import sys
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
    from flowlog.dashboard.views import graph, histograms, hparams, images, pr_curves, scalars, text

    return [scalars, graph, histograms, images, text, pr_curves, hparams]


def create_app(
    logdir: str | Path, reload_interval: float = 2.0, *, cache_dir: str | None = None
) -> dash.Dash:
    """Build the app for ``logdir`` (usable by tests and WSGI servers: ``create_app(d).server``).
    ``cache_dir``: where TensorBoard event files are converted (never inside the logdir)."""
    from flowlog.backends import open_logdir

    if not reload_interval > 0:
        raise ValueError(f"reload_interval must be > 0 seconds, got {reload_interval!r}")
    ctx = AppContext(
        data=open_logdir(logdir, cache_dir=cache_dir),
        reload_interval=reload_interval,
        logdir_path=str(logdir),
    )
    app = dash.Dash(
        __name__,
        assets_folder=str(ASSETS),
        title="flowlog",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    from flowlog.dashboard import page_load, plotly_bundle, runs_panel, tab_gate

    ctx.extra["plotly_bundle"] = plotly_bundle.install(app)  # None: dash's full plotly.js
    page_load.install(app)  # assets kept, the layout asked for at once
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
                *tab_gate.stores(ctx),  # hidden views' copies of RUNS_INFO and REFRESH
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
    _set_up_dash(app, ctx)
    return app


def _set_up_dash(app, ctx) -> None:
    """Dash's one-time set-up (assets, script tags, a validation of the layout) runs on the
    first request it serves, and builds the layout to validate it. The first page's charts
    come built inside the layout (views/scalars.py first_charts), so that request, the page's
    HTML, would wait for the whole first read of long runs (~0.4 s for 10 runs of 1M points)
    before the browser could even load its scripts. Done here on a layout without them."""
    ctx.page.light = True
    try:
        app.server.test_client().get(app.config.routes_pathname_prefix)
    finally:
        ctx.page.light = False


def _parser() -> argparse.ArgumentParser:
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
    parser.add_argument(
        "--cache-dir",
        help="where TensorBoard event files are converted for fast reading (default: "
        "$FLOWLOG_CACHE_DIR or ~/.cache/flowlog; never inside the logdir)",
    )
    parser.add_argument(
        "--auth-token",
        help="require this token on every request (default: none on loopback; generated and "
        "printed once for any other --host); also read from $FLOWLOG_DASHBOARD_TOKEN",
    )
    parser.add_argument(
        "--no-auth", action="store_true", help="serve a non-loopback --host without a token"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--debug", action="store_true", help="Flask's development server with Dash's dev tools"
    )
    return parser


def _access_token(args) -> tuple[str | None, bool]:
    """``(token, generated)``: the token every request must carry (None: no check), warning on
    stderr when the dashboard is reachable from other machines."""
    import os

    from flowlog.dashboard import serve

    token = args.auth_token or os.environ.get(serve.TOKEN_ENV) or None
    if serve.is_loopback(args.host):
        return token, False
    exposure = "with no access token" if args.no_auth and not token else "to anyone with the token"
    print(
        f"WARNING: --host {args.host} serves the dashboard to every machine that can reach "
        f"this one on port {args.port}, {exposure}: every run's curves, graphs, command lines "
        "and host names are readable over plain HTTP. Use an SSH tunnel or a TLS proxy where "
        "the network is not trusted.",
        file=sys.stderr,
        flush=True,
    )
    if token or args.no_auth:
        return token, False
    return serve.new_token(), True


def main(argv: list[str] | None = None) -> int:
    from flowlog.dashboard import runs_panel, serve

    parser = _parser()
    args = parser.parse_args(argv)
    if args.reload_interval <= 0:
        parser.error(f"--reload-interval must be > 0 seconds, got {args.reload_interval}")
    if args.auth_token is not None and not args.auth_token.strip():
        parser.error("--auth-token must not be empty (use --no-auth to serve without one)")
    logdir = Path(args.logdir)
    if not logdir.is_dir():
        print(f"logdir {logdir} does not exist yet — the dashboard waits for it to appear.")
    token, generated = _access_token(args)
    try:
        app = create_app(
            args.logdir, reload_interval=args.reload_interval, cache_dir=args.cache_dir
        )
    except ValueError as exc:  # a cache directory inside the logdir
        parser.error(str(exc))
    data = app.flowlog_context.data
    if logdir.is_dir() and not data.runs():
        print(f"{runs_panel.empty_logdir_message(logdir, data.unreadable())}; waiting.")
    wsgi = serve.wsgi_app(app.server, token=token, port=args.port, access_log=args.access_log)
    if not args.debug:
        try:
            server = serve.make_server(wsgi, args.host, args.port)
        except OSError as exc:
            why = exc.strerror or exc
            print(f"flowlog-dashboard: cannot listen on {args.host}:{args.port}: {why} "
                  "(another dashboard running? pass --port)", file=sys.stderr)  # fmt: skip
            return 1
    # the first page's charts are read while the user opens the browser
    from flowlog.dashboard.views.scalars import prewarm

    threading.Thread(
        target=prewarm, args=(app.flowlog_context,), name="flowlog-prewarm", daemon=True
    ).start()
    query = f"?token={token}" if generated else ""  # printed once, as Jupyter does
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    url = f"http://{shown}:{args.port}/{query}"
    print(f"flowlog dashboard for {args.logdir} at {url}  (Ctrl-C to stop)", flush=True)
    if shown != args.host:
        import socket

        print(f"  from other machines: http://{socket.gethostname()}:{args.port}/{query}")
    if token and not generated:
        print("  every request needs the access token given (?token=… once, or a Bearer header)")
    if args.open:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        if args.debug:
            app.server.wsgi_app = serve.wsgi_app(
                app.server.wsgi_app, token=token, port=args.port, access_log=False
            )
            app.run(host=args.host, port=args.port, debug=True)
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    print("flowlog dashboard stopped.")
    return 0
