"""The dashboard's own HTTP routes beside Dash's (images, the Scalars zoom): a reply as plain
data, so each route's answer is a function tested without a server, and one way to serve it."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Reply(NamedTuple):
    status: int
    body: bytes
    mimetype: str
    headers: dict


def text_reply(status: int, message: str, headers: dict) -> Reply:
    """A short plain-text answer (an error saying what was wrong)."""
    return Reply(status, message.encode("utf-8", "backslashreplace"), "text/plain", headers)


def add_route(app, endpoint: str, route: str, method: str, handle: Callable) -> str:
    """Serve ``handle(flask.request) -> Reply`` at ``route`` under Dash's routes prefix on
    ``app.server`` (once per app); returns the URL the pages use (their requests prefix)."""
    import flask

    def view():
        reply = handle(flask.request)
        return flask.Response(
            reply.body, status=reply.status, mimetype=reply.mimetype, headers=reply.headers
        )

    if endpoint not in app.server.view_functions:
        rule = app.config.routes_pathname_prefix + route
        app.server.add_url_rule(rule, endpoint, view, methods=[method])
    return app.config.requests_pathname_prefix + route
