"""``GET /_flowlog/image?run=<name>&tag=<tag>&step=<int>&v=<version>``: one logged image's PNG.

The Images view's ``<img>`` elements point here, so PNGs travel once per URL and stay in the
browser's cache: ``v`` (a hash of the run's change token when the card was drawn) makes the URL
change with the data, so the answer is ``Cache-Control: private, max-age=31536000,
immutable`` with an ETag (the SHA-1 of the bytes; 304 to a matching ``If-None-Match``).

Names are looked up through the provider (its runs, the run's image tags), never joined onto a
path. An unknown run, tag or step is a 404 whose short text names what was not found; a
missing name or a step that is not an integer, a 400; a run that cannot be read, a 503 saying
why. The access-token middleware of :mod:`flowlog.dashboard.serve` covers this route as every
other.
"""

from __future__ import annotations

from collections.abc import Callable

from flowlog.dashboard import images_data as imd
from flowlog.dashboard import untrusted
from flowlog.dashboard.routes import Reply, add_route, text_reply
from flowlog.provider import ReadError

CACHE_FOREVER = "private, max-age=31536000, immutable"
HEADERS = {
    "X-Content-Type-Options": "nosniff",  # a hostile "PNG" is never sniffed as HTML
    "Content-Security-Policy": "default-src 'none'; sandbox",  # nor run if opened on its own
}


def _text(status: int, message: str) -> Reply:
    return text_reply(status, message, {**HEADERS, "Cache-Control": "no-store"})


def answer(data, query: bytes, matches: Callable[[str], bool] = lambda _etag: False) -> Reply:
    """The reply to a request with the raw ``query`` string; ``matches(etag)``: whether the
    request's If-None-Match holds the ETag (werkzeug's ``request.if_none_match.contains``)."""
    try:
        args = imd.parse_query(query)
    except ValueError:
        return _text(400, "bad query: expected run, tag, step and v")
    run, tag = args.get("run", ""), args.get("tag", "")
    if not run or not tag:
        return _text(400, f"missing {'run' if not run else 'tag'}: expected ?run=&tag=&step=")
    step = imd.parse_step(args.get("step"))
    if step is None:
        shown = imd.short(args.get("step", ""), 40)
        return _text(400, f"bad step {shown}: expected an integer")
    try:
        tags = data.tags(run, kind="image")
    except (KeyError, ValueError):
        return _text(404, f"no run named {imd.short(run)}")
    except ReadError as exc:
        return _text(503, untrusted.problem(run, exc, data))
    if tag not in tags:
        return _text(404, f"run {imd.short(run)} has no image tag {imd.short(tag)}")
    try:
        png = data.image_png(run, tag, step)
    except (KeyError, ValueError):
        return _text(404, f"run {imd.short(run)}: tag {imd.short(tag)} has no image at step {step}")
    except ReadError as exc:
        return _text(503, untrusted.problem(run, exc, data))
    etag = imd.etag_of(png)
    headers = {
        **HEADERS,
        "Cache-Control": CACHE_FOREVER,
        "ETag": f'"{etag}"',
        "Content-Disposition": "inline",
    }
    if matches(etag):
        return Reply(304, b"", "image/png", headers)
    return Reply(200, png, "image/png", headers)


def register(app, ctx) -> str:
    """Serve the route on ``app.server``; returns the URL the pages use (prefix included)."""

    def handle(request) -> Reply:
        return answer(ctx.data, request.query_string, request.if_none_match.contains)

    return add_route(app, "flowlog_image", imd.ROUTE, "GET", handle)
