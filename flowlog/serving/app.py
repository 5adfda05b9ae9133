"""The ASGI application of ``flowlog serve``: route, hold a version, decode, run, encode.

No web framework: the REST surface is four routes, and every microsecond here is server
overhead on top of the model (the target is ≤ 1 ms at p50). Bodies are read with a size limit
before anything is decoded (``Content-Length`` first, then while receiving and gunzipping), so
a huge payload costs the server nothing but the refusal.

Where the model runs: status and metadata answer on the event loop (microseconds). A predict
runs on the loop too when its version's warm-up run was fast (``INLINE_RUN_S``): a one-row
linear model or small MLP takes 5–20 µs, less than a hop to a worker thread and back costs. A
slower model, and every batched request (the batcher blocks its caller until the batch
runs), goes to the request thread pool, so the loop keeps accepting and reading requests
while numpy computes (and BLAS releases the GIL).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

from flowlog.serving import rest
from flowlog.serving.errors import ServingError

DEFAULT_MAX_BODY = 64 * 2**20
INLINE_RUN_S = 200e-6  # warm-up time under which a model runs on the event loop itself
_JSON = [(b"content-type", b"application/json")]
_PLAIN = [(b"content-type", b"text/plain")]


class ServingApp:
    """``await app(scope, receive, send)``; ``metrics`` (optional) records every answer."""

    def __init__(
        self, manager, *, metrics=None, batcher=None, max_body_bytes=DEFAULT_MAX_BODY, threads=8
    ):
        self.manager = manager
        self.metrics = metrics
        self.batcher = batcher
        self.max_body_bytes = max_body_bytes
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="flowlog-serve")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # lifespan and websockets: nothing to set up or serve
            return
        started = time.perf_counter()
        where = [None, None]  # model, version: for the metrics, filled as the request resolves
        headers = _JSON
        try:
            code, body = 200, await self._answer(scope, receive, where)
        except ServingError as exc:
            code, body = exc.http_status, rest.error_body(exc.message)
            if exc.plain:  # TF Serving's one non-JSON answer
                headers, body = _PLAIN, exc.message.encode()
        except Exception as exc:  # a bug must answer 500, never drop the connection
            code, body = 500, rest.error_body(f"internal error: {type(exc).__name__}: {exc}")
        length = (b"content-length", str(len(body)).encode())
        await send({"type": "http.response.start", "status": code, "headers": [*headers, length]})
        await send({"type": "http.response.body", "body": body})
        if self.metrics is not None:
            self.metrics.record(where[0], where[1], time.perf_counter() - started, code)

    async def _answer(self, scope, receive, where: list) -> bytes:
        path = scope.get("raw_path") or scope["path"].encode()
        route = rest.parse_route(scope["method"], path.decode("latin-1"))
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
        body = await self._read_body(scope, receive)
        with model.acquire(route.version, route.label) as version:
            where[1] = version.number
            if self.batcher is None and version.warm_up_s < INLINE_RUN_S:
                return _predict(version, body, None, model.name)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._pool, _predict, version, body, self.batcher, model.name
            )

    async def _read_body(self, scope, receive) -> bytes:
        limit = self.max_body_bytes
        headers = dict(scope["headers"])
        try:
            length = int(headers.get(b"content-length") or 0)
        except ValueError:
            raise ServingError(400, "Content-Length is not a number") from None
        if length > limit:
            raise _too_large(length, limit)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        encoding = headers.get(b"content-encoding", b"").strip().lower().decode("latin-1")
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            raise ServingError(415, f"Content-Encoding {encoding!r} is not supported (use gzip)")
        return _gunzip(body, limit)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _predict(version, body: bytes, batcher, model: str) -> bytes:
    """Decode, run and encode one predict request on ``version`` (held by the caller)."""
    request = rest.parse_predict(body, version.signature)
    loaded = version.loaded
    try:
        if batcher is not None:
            outputs = batcher.submit((model, version.number), request.feeds, loaded.run_checked)
        else:
            outputs = loaded.run_checked(request.feeds)
    except ValueError as exc:  # the engine refusing these values (shapes inside the graph)
        raise ServingError(400, str(exc)) from None
    return rest.format_predict(outputs, request.row_format)


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
        raise ServingError(400, f"Content-Encoding gzip: the body is not gzip ({exc})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ServingError(
            413,
            f"the gzip body decompresses to more than the limit of {limit} bytes "
            "(flowlog serve --max-request-bytes)",
        )
    return out
