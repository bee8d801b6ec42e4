# Starter code generated from solutions/serving/app.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""HTTP front end: the Open Inference Protocol (KServe v2) REST paths over a ModelServer.

Status codes: 200 answered; 404 unknown model/version; 413 body larger than
max_body_bytes; 422 malformed request (the message names the field, e.g.
"inputs[0].shape: ..."); 503 + Retry-After for a full queue or a draining
server (from drain() on, for every model: never 404); 504 when the deadline passed
in the queue; 507 when a load finds every cache slot in use; 500 when the model
raised (body: "<ExceptionType>: <message>"); 403 for admin calls from a
non-loopback client. Error bodies are {"error": "..."} as in KServe.
"""
from __future__ import annotations

import contextlib
import json
import math

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily

from .errors import Draining, InvalidInput, PayloadTooLarge, ServingError
from .server import ModelServer

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
DATATYPES = {"FP32", "FP64", "INT32", "INT64"}
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class PrometheusMetrics:
    """Server observer feeding prometheus_client; one CollectorRegistry per app (no global state)."""

    def __init__(self, server: ModelServer):
        self.server = server
        self.registry = CollectorRegistry()
        self.latency = Histogram("mlserve_request_duration_seconds", "Request latency inside the server",
                                 ["model", "version"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.requests = Counter("mlserve_requests", "Answered requests by outcome",
                                ["model", "version", "status"], registry=self.registry)
        self.batch_size = Histogram("mlserve_batch_size", "Items per fired batch", ["model", "version"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.registry.register(self)  # collect() below adds the gauges read at scrape time

    def on_request(self, model: str, version: int, status: str, latency_s: float) -> None:
        self.requests.labels(model, str(version), status).inc()
        if status == "ok":
            self.latency.labels(model, str(version)).observe(latency_s)

    def on_batch(self, model: str, version: int, record) -> None:
        if record.size:
            self.batch_size.labels(model, str(version)).observe(record.size)

    def collect(self):
        depth = GaugeMetricFamily("mlserve_queue_depth", "Requests waiting in a model's queue",
                                  labels=["model", "version"])
        for (name, version), n in sorted(self.server.queue_depths().items()):
            depth.add_metric([name, str(version)], n)
        yield depth
        yield GaugeMetricFamily("mlserve_loaded_models", "Model versions loaded",
                                value=len(self.server.loaded_versions()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


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


def parse_infer_request(body: bytes, input_dim: int) -> tuple[np.ndarray, dict]:
    """(rows of shape [n, input_dim], parameters) from a KServe v2 infer body, or InvalidInput."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("body", "not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidInput("body", "expected a JSON object")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidInput("parameters", "expected an object")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise InvalidInput("inputs", "required: a list holding exactly one tensor")
    tensor = inputs[0]
    if not isinstance(tensor, dict):
        raise InvalidInput("inputs[0]", "expected an object with name, shape, datatype and data")
    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise InvalidInput(f"inputs[0].{key}", "required")
    shape, datatype = tensor["shape"], tensor["datatype"]
    if not isinstance(shape, list) or not all(isinstance(s, int) and s > 0 for s in shape) or len(shape) not in (1, 2):
        raise InvalidInput("inputs[0].shape", f"expected [n, {input_dim}] with positive integers, got {shape!r}")
    if shape[-1] != input_dim:
        raise InvalidInput("inputs[0].shape", f"expected [n, {input_dim}], got {shape}")
    if datatype not in DATATYPES:
        raise InvalidInput("inputs[0].datatype", f"expected one of {sorted(DATATYPES)}, got {datatype!r}")
    try:
        data = np.asarray(tensor["data"], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("inputs[0].data", "expected numbers (flat or nested lists)") from None
    if data.size != math.prod(shape):
        raise InvalidInput("inputs[0].data", f"holds {data.size} numbers but shape {shape} needs {math.prod(shape)}")
    if not np.isfinite(data).all():
        raise InvalidInput("inputs[0].data", "contains NaN or infinity")
    return data.reshape(-1, input_dim), params


def output_tensor(outputs: list) -> dict:
    arr = np.stack([np.asarray(o) for o in outputs])
    datatype = "INT64" if np.issubdtype(arr.dtype, np.integer) else "FP32" if np.issubdtype(arr.dtype, np.floating) \
        else "BYTES"
    data = arr.astype(np.float64).ravel().tolist() if datatype == "FP32" else arr.ravel().tolist()
    return {"name": "output-0", "shape": list(arr.shape), "datatype": datatype, "data": data}


def create_app(server: ModelServer, *, max_body_bytes: int = 1 << 20, load_models: list[str] | None = None) -> FastAPI:
    """The FastAPI app; `load_models` are loaded at startup. Shutdown drains, then closes."""
    metrics = PrometheusMetrics(server)
    server.observers.append(metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        for name in load_models or []:
            await server.load_model(name)
        try:
            yield
        finally:
            try:
                if not server.draining:
                    await server.drain()
            finally:
                await server.close()

    app = FastAPI(title="mlpractice model server", lifespan=lifespan)
    app.state.server = server
    app.state.metrics = metrics

    def admin_only(request: Request) -> JSONResponse | None:
        host = request.client.host if request.client else None
        if host not in LOOPBACK:
            return JSONResponse({"error": f"admin endpoints accept loopback clients only, not {host}"},
                                status_code=403)
        return None

    @app.get("/v2/health/live")
    async def live():
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready():
        health = server.health_check()
        return JSONResponse({"ready": health["ready"]}, status_code=200 if health["ready"] else 503)

    @app.get("/v2/models/{name}/ready")
    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, version: str | None = None):
        try:
            state = server.model_state(name, version)
        except ServingError as err:
            return error_response(err)
        ok = state == "READY" and not server.draining
        return JSONResponse({"name": name, "ready": ok, "state": state}, status_code=200 if ok else 503)

    @app.get("/v2/models/{name}")
    @app.get("/v2/models/{name}/versions/{version}")
    async def model_metadata(name: str, version: str | None = None):
        try:
            return server.metadata(name, version)
        except ServingError as err:
            return error_response(err)

    @app.post("/v2/models/{name}/infer")
    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def infer(name: str, request: Request, version: str | None = None):
        parsed = False
        try:
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_body_bytes:
                raise PayloadTooLarge(f"body: {declared} bytes exceeds the limit of {max_body_bytes}")
            body = await request.body()
            if len(body) > max_body_bytes:
                raise PayloadTooLarge(f"body: {len(body)} bytes exceeds the limit of {max_body_bytes}")
            if server.draining:  # before any lookup: a drained server has unloaded everything, and 404 would lie
                raise Draining(f"server is draining; {name} takes no new requests")
            if version is not None and version.isdigit():
                version = int(version)
            rows, params = parse_infer_request(body, server.input_dim(name, version))
            routing_key = params.get("routing_key") or request.headers.get("x-routing-key")
            timeout_ms = params.get("timeout_ms")
            if timeout_ms is not None and not (isinstance(timeout_ms, (int, float)) and timeout_ms > 0):
                raise InvalidInput("parameters.timeout_ms", f"expected a positive number, got {timeout_ms!r}")
            timeout_s = timeout_ms / 1000 if timeout_ms is not None else None
            parsed = True
            if len(rows) == 1:
                predictions = [await server.predict(name, rows[0], version=version, routing_key=routing_key,
                                                    timeout_s=timeout_s)]
            else:
                predictions = await server.predict_batch(name, list(rows), version=version, routing_key=routing_key,
                                                         timeout_s=timeout_s)
        except Exception as err:
            if not parsed and isinstance(err, (InvalidInput, PayloadTooLarge)):
                metrics.requests.labels(name, str(version or ""), "invalid").inc()  # refused before routing
            return error_response(err)
        served = str(predictions[0].version)
        doc = {"model_name": name, "model_version": served,
               "outputs": [output_tensor([p.output for p in predictions])]}
        if isinstance(params.get("id"), str):
            doc["id"] = params["id"]
        return JSONResponse(doc, headers={"X-Model-Version": served})

    @app.get("/metrics")
    async def prometheus_metrics():
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def admin_call(request: Request, action):
        """Loopback-only repository call: `action(version)` with the body's optional parameters.version."""
        refused = admin_only(request)
        if refused:
            return refused
        try:
            body = json.loads(await request.body() or b"{}")
            return await action((body.get("parameters") or {}).get("version"))
        except Exception as err:
            return error_response(err)

    @app.post("/v2/repository/models/{name}/load")
    async def load(name: str, request: Request):
        async def action(version):
            loaded = await server.load_model(name, version)
            return {"name": name, "version": str(loaded.version), "state": "READY"}
        return await admin_call(request, action)

    @app.post("/v2/repository/models/{name}/unload")
    async def unload(name: str, request: Request):
        async def action(version):
            versions = await server.unload_model(name, version)
            return {"name": name, "unloaded": [str(v) for v in versions]}
        return await admin_call(request, action)

    @app.post("/admin/drain")
    async def drain(request: Request):
        refused = admin_only(request)
        if refused:
            return refused
        try:
            await server.drain()
        except Exception as err:
            return error_response(err)
        return {"drained": True}

    @app.get("/admin/stats")
    async def stats(request: Request):
        refused = admin_only(request)
        if refused:
            return refused
        try:
            return JSONResponse(json_safe(server.get_metrics()))
        except Exception as err:
            return error_response(err)

    return app
