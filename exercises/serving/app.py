# Starter code generated from solutions/serving/app.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""HTTP front end: the Open Inference Protocol (KServe v2) REST paths over a ModelServer.

The routes only move bytes: http_io.py reads bodies and writes errors, protocol.py parses and
formats the documents (and states the strict policy for unknown fields and datatypes), prom.py is
the Prometheus observer, and admin calls go through a control plane (control.py: this process's
server, or every worker's).

Status codes:
  200 answered.
  400 a readiness endpoint that is not ready, body {"ready": false, ...} (the protocol: 200 means
      true, a 4xx false; Triton answers 400). Readiness is never a 5xx.
  403 an admin call from a non-loopback client.
  404 unknown model, version or alias; an invalid model name; a version that is not loaded; a path
      the server does not have (trailing slashes are not redirected).
  405 a known path with the wrong method.
  413 a body longer than max_body_bytes, refused as soon as that many bytes have arrived, chunked
      or not (the rest is never buffered).
  415 a Content-Encoding other than identity.
  422 a malformed request, the message naming the field first (e.g. "inputs[0].shape: ...").
  503 + Retry-After: a full queue, a version still loading or unloading, a draining server (from
      drain() on, for every model: never 404).
  504 the request's deadline passed.
  507 a load finds every cache slot in use.
  500 the model raised or answered what JSON cannot carry (body "<ExceptionType>: <message>"),
      or a load failed (ModelLoadError, UntrustedArtifact); never for bad input.
Every error body the app writes is {"error": "..."} JSON, as in KServe, and no error closes the
connection. Every malformed request refused with 413, 415 or 422 (infer and admin routes) is counted
once in mlserve_requests_total{status="invalid"}: by the app when it refused it, by the server when
its own validation did.

The Content-Type of a body is not checked (KServe and Triton read the body as JSON whatever it
says); its bytes must be UTF-8 JSON.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from . import protocol
from .control import LocalControl
from .errors import Draining, InvalidInput, ModelNotFound, PayloadTooLarge, ServingError, UnsupportedMediaType
from .fast_path import INFER_HEADERS, InferAnswer, ServingApp
from .http_io import JSONErrors, error_response, headers_of, json_safe, read_body
from .prom import CONTENT_TYPE_LATEST, PrometheusMetrics
from .server import ModelServer

log = logging.getLogger("serving.http")

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
MALFORMED = (InvalidInput, PayloadTooLarge, UnsupportedMediaType)  # counted "invalid"


def create_app(server: ModelServer, *, max_body_bytes: int = 1 << 20, load_models: list[str] | None = None,
               control=None, registry_poll_s: float | None = 1.0, llm: dict | None = None) -> FastAPI:
    """The FastAPI app. At startup `control.start(load_models)` (default control: this server), and
    every `registry_poll_s` seconds the registry re-reads what changed on disk, in a thread (None: never).
    `llm` {name: LLMService} adds the generate routes (llm_http.py); the services start with the app.
    Shutdown drains, then closes (the LLM services too)."""
    llm = llm or {}
    metrics = PrometheusMetrics(server)
    server.observers.append(metrics)
    control = control if control is not None else LocalControl(server)

    async def poll_registry():
        while True:
            await asyncio.sleep(registry_poll_s)
            try:
                await asyncio.to_thread(server.registry.refresh_if_changed)
            except Exception:  # noqa: BLE001 - a registry briefly unreadable must not stop later polls
                log.exception("registry refresh failed")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await control.start(list(load_models or []))
        for service in llm.values():
            service.start()
        # what startup built (torch, the models, the app) lives as long as the process: moved out of
        # the collector's generations, a full collection no longer walks it (one took ~160 ms)
        gc.freeze()
        poller = asyncio.get_running_loop().create_task(poll_registry()) if registry_poll_s else None
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
            try:
                await control.stop()
                if not server.draining:
                    await server.drain()  # this process only: a worker leaving does not drain the others
            finally:
                await asyncio.gather(*(service.close() for service in llm.values()))
                await server.close()

    # no redirects for a trailing slash: every answer is JSON, a path the protocol does not have is 404
    app = ServingApp(title="mlpractice model server", lifespan=lifespan, redirect_slashes=False)
    app.state.server = server
    app.state.metrics = metrics
    app.state.control = control

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException):
        message = "no such route" if err.status_code == 404 else str(err.detail).lower()
        return JSONResponse({"error": f"{message}: {request.method} {request.url.path[:200]}"},
                            status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError):
        return JSONResponse({"error": f"request: {str(err)[:300]}"}, status_code=422)

    def admin_only(request: Request) -> JSONResponse | None:
        host = request.client.host if request.client else None
        if host not in LOOPBACK:
            return JSONResponse({"error": f"admin endpoints accept loopback clients only, not {host}"},
                                status_code=403)
        return None

    @app.get("/v2")
    @app.get("/v2/")
    async def server_metadata():
        return protocol.SERVER_METADATA

    @app.get("/v2/health/live")
    async def live():
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready():
        ok = server.health_check()["ready"]
        return JSONResponse({"ready": ok}, status_code=200 if ok else 400)

    @app.get("/v2/models/{name}/ready")
    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, version: str | None = None):
        wanted = protocol.path_version(version)
        try:
            state = server.model_state(name, wanted)
        except ModelNotFound:
            try:  # a model we know but do not serve is not ready (400); one we do not know is 404
                server.registry.resolve(name, wanted)
            except ServingError as err:
                return error_response(err)
            state = "UNLOADED"
        except ServingError as err:
            return error_response(err)
        ok = state == "READY" and not server.draining
        return JSONResponse({"name": name, "ready": ok, "state": state}, status_code=200 if ok else 400)

    @app.get("/v2/models/{name}")
    @app.get("/v2/models/{name}/versions/{version}")
    async def model_metadata(name: str, version: str | None = None):
        try:
            meta = server.metadata(name, protocol.path_version(version))
            schema = None if name in llm else server.registry.manifest(name, meta["version"]).get("output_schema")
            return protocol.model_metadata(meta, schema)
        except ServingError as err:
            return error_response(err)

    async def infer(scope, receive, name: str, version: str | None) -> Response:
        reached_server = False
        try:
            headers = headers_of(scope, INFER_HEADERS)
            body = await read_body(scope, receive, max_body_bytes, headers)
            if server.draining:  # before any lookup: a drained server has unloaded everything, and 404 would lie
                raise Draining(f"server is draining; {name[:64]} takes no new requests")
            parsed = protocol.parse_infer_request(body)
            wanted = protocol.path_version(version)
            rows = parsed.rows(server.input_dim(name, wanted))
            routing_key = parsed.routing_key or headers.get(b"x-routing-key") or None
            timeout_s = parsed.timeout_ms / 1000 if parsed.timeout_ms is not None else None
            reached_server = True  # from here on the server counts the outcome itself
            # one request, however many rows; the parsed float matrix takes the server's no-copy check
            predictions = await server.predict_batch(name, rows, version=wanted, routing_key=routing_key,
                                                     timeout_s=timeout_s)
            served = predictions[0].version
            content = protocol.dumps(protocol.infer_response(name, served, [p.output for p in predictions],
                                                             parsed.id))
        except Exception as err:
            if not reached_server and isinstance(err, MALFORMED):
                metrics.invalid(name)
            return error_response(err)
        return InferAnswer(content, served)

    # the routes FastAPI documents (and serves when called directly); ServingApp answers the same
    # requests with the same function before FastAPI's middleware, routing and parameter machinery
    @app.post("/v2/models/{name}/infer")
    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def infer_route(name: str, request: Request, version: str | None = None):
        return await infer(request.scope, request.receive, name, version)

    app.infer = infer
    if llm:
        from .llm_http import add_llm_routes
        server.generators.update(llm)  # their state, metadata and stats join the server's reports
        add_llm_routes(app, llm, metrics, max_body_bytes=max_body_bytes)
    app.add_middleware(JSONErrors)

    @app.get("/metrics")
    async def prometheus_metrics():
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def admin_call(name: str, request: Request, parse, action):
        """Loopback-only admin call: `action(parse(body))`; a body or a change refused is a 422 counted invalid."""
        refused = admin_only(request)
        if refused:
            return refused
        try:
            argument = parse(await read_body(request.scope, request.receive, max_body_bytes))
        except MALFORMED as err:
            metrics.invalid(name)
            return error_response(err)
        try:
            return await action(argument)
        except ValueError as err:  # the server refused the change itself (e.g. a canary left out of a split)
            metrics.invalid(name)
            return error_response(InvalidInput("body", str(err)))
        except Exception as err:
            return error_response(err)

    @app.post("/v2/repository/models/{name}/load")
    async def load(name: str, request: Request):
        async def action(version):
            loaded = await control.load(name, version)
            return {"name": name, "version": str(loaded), "state": "READY"}
        return await admin_call(name, request, protocol.parse_admin_request, action)

    @app.post("/v2/repository/models/{name}/unload")
    async def unload(name: str, request: Request):
        async def action(version):
            versions = await control.unload(name, version)
            return {"name": name, "unloaded": [str(v) for v in versions]}
        return await admin_call(name, request, protocol.parse_admin_request, action)

    @app.post("/admin/models/{name}/traffic")
    async def traffic(name: str, request: Request):
        """Set (or clear, with null weights) a traffic split; with several workers it reaches each."""
        async def action(weights):
            await control.split(name, weights)
            return {"name": name, "weights": {str(v): w for v, w in weights.items()} if weights else None}
        return await admin_call(name, request, protocol.parse_traffic_request, action)

    @app.post("/admin/drain")
    async def drain(request: Request):
        refused = admin_only(request)
        if refused:
            return refused
        try:
            await control.drain()
        except Exception as err:
            return error_response(err)
        return {"drained": True}

    @app.get("/admin/stats")
    async def stats(request: Request):
        refused = admin_only(request)
        if refused:
            return refused
        try:
            report = {**server.get_metrics(), "pid": os.getpid(), "served": server.health_check()["served"]}
            return JSONResponse(json_safe(report))
        except Exception as err:
            return error_response(err)

    return app
