"""Bytes in and out of the HTTP layer: a body read within a limit, and errors as JSON answers.

`read_body` streams the body and refuses it (413) the moment it passes the limit, so a chunked
upload without a Content-Length is never buffered whole. `error_response` is the one mapping from an
exception to an answer (ServingError.status, Retry-After on a 503). `JSONErrors` is the ASGI
middleware that makes whatever escapes a route a 500 {"error": ...} instead of a dropped connection.
"""
from __future__ import annotations

import logging
import math

from fastapi.responses import JSONResponse

from .errors import InvalidInput, PayloadTooLarge, ServingError, UnsupportedMediaType

log = logging.getLogger("serving.http")


def error_response(err: Exception) -> JSONResponse:
    if isinstance(err, ServingError):
        headers = {}
        retry = getattr(err, "retry_after_s", None)
        if err.status == 503 and retry is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry)))
        return JSONResponse({"error": err.message}, status_code=err.status, headers=headers)
    # includes stubs: "NotImplementedError: Exercise 2.M: ..." reaches the client and the grader
    return JSONResponse({"error": f"{type(err).__name__}: {err}"}, status_code=500)


def json_safe(value):
    """Metrics as strict JSON: NaN (no latency yet) -> null, int dict keys -> strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def headers_of(scope, names: tuple[bytes, ...]) -> dict[bytes, str]:
    """The first value of each header in `names` (lower-case, as ASGI servers give them), in one pass."""
    found: dict[bytes, str] = {}
    for key, value in scope["headers"]:
        if key in names and key not in found:
            found[key] = value.decode("latin-1")
    return found


BODY_HEADERS = (b"content-encoding", b"content-length")


async def read_body(scope, receive, limit: int, headers: dict[bytes, str] | None = None) -> bytes:
    """The body, read as it arrives and refused (413) as soon as it passes `limit` bytes.

    Straight from the ASGI `receive` channel (what Starlette's request.stream() wraps), so the hot
    path builds no Request object; `headers` may carry content-encoding and content-length already.
    """
    headers = headers if headers is not None else headers_of(scope, BODY_HEADERS)
    encoding = headers.get(b"content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(f"content-encoding: {encoding[:40]!r} is not supported; send plain JSON")
    declared = headers.get(b"content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise PayloadTooLarge(f"body: {declared[:24]} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise InvalidInput("body", "the client disconnected before sending all of it")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body: more than {limit} bytes, the limit (sent without a Content-Length)")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class JSONErrors:
    """ASGI middleware: whatever escapes a route is answered 500 {"error": ...}, not a dropped connection."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as err:  # noqa: BLE001 - the point: no exception reaches uvicorn
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(err)(scope, receive, send)
