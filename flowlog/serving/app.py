"""The WSGI application of ``flowlog serve``: route, hold a version, decode, run, encode.

No web framework: the REST surface is four routes, and every microsecond here is server
overhead on top of the model (the target is ≤ 1 ms at p50). Bodies are read with a size limit
before anything is decoded (``Content-Length`` first, then while reading and gunzipping), so
a huge payload costs the server nothing but the refusal.
"""

from __future__ import annotations

import time
import zlib

from flowlog.serving import rest
from flowlog.serving.errors import ServingError

DEFAULT_MAX_BODY = 64 * 2**20
_JSON = [("Content-Type", "application/json")]
_REASONS = {
    200: "200 OK", 400: "400 Bad Request", 404: "404 Not Found", 405: "405 Method Not Allowed",
    413: "413 Payload Too Large", 415: "415 Unsupported Media Type",
    500: "500 Internal Server Error", 501: "501 Not Implemented", 503: "503 Service Unavailable",
}  # fmt: skip


def _status_line(code: int) -> str:
    return _REASONS.get(code) or f"{code} Error"


class ServingApp:
    """``app(environ, start_response)``; ``metrics`` (optional) records every answer."""

    def __init__(self, manager, *, metrics=None, batcher=None, max_body_bytes=DEFAULT_MAX_BODY):
        self.manager = manager
        self.metrics = metrics
        self.batcher = batcher
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        where = [None, None]  # model, version: for the metrics, filled as the request resolves
        try:
            code, body = 200, self._answer(environ, where)
        except ServingError as exc:
            code = exc.http_status
            body = b"Not Found" if exc.plain else rest.error_body(exc.message)
        except Exception as exc:  # a bug must answer 500, never drop the connection
            code, body = 500, rest.error_body(f"internal error: {type(exc).__name__}: {exc}")
        headers = (
            [("Content-Type", "text/plain")] if code == 404 and body == b"Not Found" else _JSON
        )
        start_response(_status_line(code), [*headers, ("Content-Length", str(len(body)))])
        if self.metrics is not None:
            self.metrics.record(where[0], where[1], time.perf_counter() - started, code)
        return [body]

    def _answer(self, environ, where: list) -> bytes:
        method = environ["REQUEST_METHOD"]
        path = environ.get("REQUEST_URI", environ.get("PATH_INFO", "")).split("?", 1)[0]
        route = rest.parse_route(method, path)
        if route.kind == "status":
            model = self.manager.model(route.model, status=True)
            where[0] = model.name
            return rest.format_status(model.status(route.version))
        model = self.manager.model(route.model)
        where[0] = model.name
        if route.kind == "metadata":
            with model.acquire(route.version, route.label) as version:
                where[1] = version.number
                return rest.format_metadata(model.name, version.number, version.signature)
        body = self._read_body(environ)
        with model.acquire(route.version, route.label) as version:
            where[1] = version.number
            request = rest.parse_predict(body, version.signature)
            outputs = self._run(model.name, version, request.feeds)
        return rest.format_predict(outputs, request.row_format)

    def _run(self, model: str, version, feeds: dict) -> dict:
        loaded = version.loaded
        try:
            if self.batcher is not None:
                return self.batcher.submit((model, version.number), feeds, loaded.run_checked)
            return loaded.run_checked(feeds)
        except ServingError:
            raise
        except ValueError as exc:  # the engine refusing these values (shapes inside the graph)
            raise ServingError(400, str(exc)) from None

    def _read_body(self, environ) -> bytes:
        limit = self.max_body_bytes
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ServingError(400, "Content-Length is not a number") from None
        if length > limit:
            raise _too_large(length, limit)
        body = environ["wsgi.input"].read(length) if length else b""
        encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            raise ServingError(415, f"Content-Encoding {encoding!r} is not supported (use gzip)")
        return _gunzip(body, limit)


def _too_large(size: int, limit: int) -> ServingError:
    return ServingError(
        413,
        f"Request body of {size} bytes is larger than the limit of {limit} bytes "
        "(flowlog serve --max-request-bytes)",
    )


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing past ``limit`` bytes (a small bomb stays small)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ServingError(
            400, f"Content-Encoding gzip: the body is not gzip data ({exc})"
        ) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ServingError(
            413,
            f"the gzip body decompresses to more than the limit of {limit} bytes "
            "(flowlog serve --max-request-bytes)",
        )
    return out
