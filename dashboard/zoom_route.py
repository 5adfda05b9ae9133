"""``POST /_flowlog/scalars/zoom``: a Scalars chart rebuilt for a zoom, outside Dash's callbacks.

A zoom through a Dash callback spent most of its time in the browser, not on the server:
Dash's dispatch before the request, its renderer on the answer, then ``dcc.Graph``'s
``Plotly.react`` (benchmarks/scale.py: ~165 ms, of which the server ~25 ms). The chart's
zoom is a clientside callback instead (``assets/scalars_zoom.js``): it posts the chart's
controls here, draws the answer with ``Plotly.react`` itself, then hands the same figure
and state to Dash, whose ``dcc.Graph`` skips re-drawing what is drawn
(``assets/plotly_hooks.js``).

The body is what the chart's Dash callback gets, as JSON: ``{"controls", "id", "state",
"info"}``; the answer is ``{"figure", "state"}`` (``{"unchanged": true}`` when the zoom
changes nothing drawn). Every value is untrusted, as a callback's: the chart builder checks
them. A body that is not a JSON object, or is larger than ``MAX_BODY``, is a 400 / 413
with a short text saying so. The access-token middleware of :mod:`flowlog.dashboard.serve`
covers this route as every other.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from plotly.io.json import to_json_plotly

from flowlog.dashboard.routes import Reply, add_route, text_reply

ROUTE = "_flowlog/scalars/zoom"
MAX_BODY = 32 << 20  # the runs' info and a chart's state travel along: big logdirs, big bodies
CONTROLS = ("selected", "weight", "xmode", "logs", "gmode", "gkey", "ranks", "zoom", "visible",
            "focus")  # fmt: skip
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _text(status: int, message: str) -> Reply:
    return text_reply(status, message, HEADERS)


def parse(body: bytes) -> dict:
    """The request's parts (``controls`` has every key of CONTROLS, None where absent);
    ValueError names what is wrong with it."""
    try:
        got = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"body is not JSON: {e}") from None
    if not isinstance(got, dict):
        raise ValueError(f"body must be a JSON object, got {type(got).__name__}")
    controls = got.get("controls")
    controls = controls if isinstance(controls, dict) else {}
    return {
        "controls": {k: controls.get(k) for k in CONTROLS},
        "id": got.get("id"),
        "state": got.get("state"),
        "info": got.get("info"),
    }


def answer(build: Callable, body: bytes) -> Reply:
    """The reply to a zoom request; ``build(controls, id, state, info)`` is the chart's
    builder: ``(figure, state)``, or None when nothing drawn changes."""
    if len(body) > MAX_BODY:
        return _text(413, f"body is over the {MAX_BODY}-byte limit")
    try:
        req = parse(body)
    except ValueError as e:
        return _text(400, str(e))
    got = build(req["controls"], req["id"], req["state"], req["info"])
    out = {"unchanged": True} if got is None else {"figure": got[0], "state": got[1]}
    return Reply(200, to_json_plotly(out).encode(), "application/json", HEADERS)


def register(app, build: Callable) -> None:
    """Serve the route on ``app.server`` (the page finds it under Dash's
    requests_pathname_prefix, as its callbacks)."""

    def handle(request) -> Reply:
        # (read at most one byte past the limit: a longer body is refused, not held)
        return answer(build, request.stream.read(MAX_BODY + 1))

    add_route(app, "flowlog_zoom", ROUTE, "POST", handle)
