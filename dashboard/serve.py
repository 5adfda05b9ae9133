"""How the dashboard is served: waitress (a production WSGI server), an access token for
non-loopback binds, and request logging only when asked for.

Why waitress: it is pure Python (no compiler, any platform) and serves from one process with a
thread pool, so every request shares the one provider cache and its open connections; a
pre-forking server (gunicorn) would hold one cache and one set of SQLite connections per
worker. Flask's development server stays available behind ``--debug`` (Dash's dev tools).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import sys
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger("flowlog.dashboard.access")

TOKEN_ENV = "FLOWLOG_DASHBOARD_TOKEN"  # keeps the token out of `ps` listings
THREADS = 8  # callbacks are short; a few slow reads (a busy SQLite file) must not stall others

_UNAUTHORIZED = (
    "<!doctype html><title>flowlog: access token needed</title>"
    "<body style='font-family:sans-serif;max-width:40em;margin:4em auto'>"
    "<h1>This flowlog dashboard needs its access token</h1>"
    "<p>Open the URL the dashboard printed when it started (it ends in "
    "<code>?token=…</code>), or send the header <code>Authorization: Bearer TOKEN</code>.</p>"
)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def new_token() -> str:
    return secrets.token_urlsafe(24)


class TokenAuth:
    """WSGI middleware: every request (pages, assets, Dash's callback endpoints) must carry the
    token, as ``?token=`` (which sets a cookie and redirects to the clean URL, so the token does
    not stay in the address bar), an ``Authorization: Bearer`` header, or that cookie.

    The cookie holds an HMAC of the token, not the token; it is ``HttpOnly`` and
    ``SameSite=Strict`` (no cross-site callback POSTs) and named per port, so two dashboards on
    one host keep their own.
    """

    def __init__(self, app, token: str, port: int):
        if not token:
            raise ValueError("the access token must be a non-empty string")
        self.app = app
        self._token = token.encode()
        self._session = hmac.new(self._token, b"flowlog-dashboard-session", hashlib.sha256)
        self._cookie = f"flowlog_token_{port}"

    def _token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    def _cookie_ok(self, environ) -> bool:
        jar = SimpleCookie()
        try:
            jar.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # a malformed Cookie header is just not authenticated
            return False
        morsel = jar.get(self._cookie)
        return morsel is not None and hmac.compare_digest(morsel.value, self._session.hexdigest())

    def __call__(self, environ, start_response):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.startswith("Bearer ") and self._token_ok(auth[7:].strip()):
            return self.app(environ, start_response)
        if self._cookie_ok(environ):
            return self.app(environ, start_response)
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given and self._token_ok(given[-1]):
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/")
            cookie = (
                f"{self._cookie}={self._session.hexdigest()}; Path=/; HttpOnly; SameSite=Strict"
            )
            start_response(
                "302 Found",
                [
                    ("Location", location + (f"?{rest}" if rest else "")),
                    ("Set-Cookie", cookie),
                    ("Content-Length", "0"),
                ],  # fmt: skip
            )
            return [b""]
        body = _UNAUTHORIZED.encode()
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("WWW-Authenticate", 'Bearer realm="flowlog"'),
            ],  # fmt: skip
        )
        return [body]


class AccessLog:
    """WSGI middleware logging one line per request (``--access-log``): method, path, status,
    bytes and milliseconds; the query string is left out (it may hold the token)."""

    def __init__(self, app, stream=None):
        self.app = app
        self.stream = stream or sys.stderr

    def __call__(self, environ, start_response):
        began = time.perf_counter()
        seen: dict = {}

        def recording_start(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start)
        size = 0
        try:
            for chunk in body:
                size += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()
            ms = (time.perf_counter() - began) * 1000
            print(
                f"{environ.get('REMOTE_ADDR', '-')} {environ.get('REQUEST_METHOD')} "
                f"{environ.get('PATH_INFO')} {seen.get('status', '-')} {size} {ms:.0f}ms",
                file=self.stream,
                flush=True,
            )


def wsgi_app(flask_app, *, token: str | None, port: int, access_log: bool):
    """The WSGI callable to serve: the app, behind the token check and the access log."""
    app = flask_app
    if token:
        app = TokenAuth(app, token, port)
    if access_log:
        app = AccessLog(app)
    return app


def make_server(app, host: str, port: int):
    """A waitress server bound to ``(host, port)``; OSError (port in use) is the caller's."""
    from waitress import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" noise
    return create_server(
        app, host=host, port=port, threads=THREADS, ident="flowlog", channel_timeout=60
    )
