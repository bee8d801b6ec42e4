"""The server's hot paths: POST .../infer and .../generate(_stream) straight to their handlers.

`ServingApp` is the FastAPI app of app.py with one difference: those requests skip FastAPI's middleware
stack, routing and parameter solving (and, for a stream, every middleware's send wrapper per token), which
cost more CPU per request than parsing, batching and the model's share together. The handlers are the
same functions the documented routes call, so status codes, validation and bodies do not change.
"""
from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.responses import Response

from .http_io import BODY_HEADERS

INFER_PATH = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?/infer$")  # as the routes match {name}
GENERATE_PATH = re.compile(r"^/v2/models/([^/]+)/generate(_stream)?$")


class InferAnswer(Response):
    """A 200 infer answer with its headers written once, as bytes (Response's general header
    handling costs more per request than the JSON it carries)."""

    def __init__(self, content: bytes, version: int):
        self.status_code, self.body, self.background = 200, content, None
        self.raw_headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content)),
                            (b"x-model-version", b"%d" % version)]


INFER_HEADERS = (*BODY_HEADERS, b"x-routing-key")


class ServingApp(FastAPI):
    """FastAPI, except that POST .../infer goes straight to `infer(scope, receive, name, version)` and
    POST .../generate(_stream) to `generate(scope, receive, name, streaming)` (llm_http.py).

    The same functions the documented FastAPI routes call, so status codes, validation and bodies
    are the same; what the hot path skips is the middleware stack, routing and parameter solving,
    which cost more CPU per request than parsing, batching and the model's share together (and, for a
    stream, a pass through every middleware's `send` wrapper per token).
    """

    infer = generate = None  # set by create_app (generate: when it serves generative models)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            # both answer every error themselves, as JSON
            if self.infer is not None and (match := INFER_PATH.match(scope["path"])):
                response = await self.infer(scope, receive, match[1], match[2])
                return await response(scope, receive, send)
            if self.generate is not None and (match := GENERATE_PATH.match(scope["path"])):
                response = await self.generate(scope, receive, match[1], match[2] is not None)
                return await response(scope, receive, send)
        return await super().__call__(scope, receive, send)
