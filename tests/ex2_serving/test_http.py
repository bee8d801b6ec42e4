"""2.4 over HTTP: KServe v2 paths, status codes, Prometheus /metrics (httpx over ASGI, no sockets)."""
import asyncio
import contextlib
import json

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlpractice.data.serving import classification_data

from .conftest import run

pytestmark = pytest.mark.exercise("2.4", "the request path")

X, _ = classification_data(n=16, n_features=8, seed=5)


def body(rows, **parameters):
    rows = np.asarray(rows, dtype=float)
    doc = {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP32",
                       "data": rows.ravel().tolist()}]}
    if parameters:
        doc["parameters"] = parameters
    return doc


@contextlib.asynccontextmanager
async def served(serving, registry, models, *, client_host="127.0.0.1", max_body_bytes=1 << 20, **options):
    server = serving.ModelServer(registry, trust=True, **options)
    for name, version in models:
        await server.load_model(name, version)
    app = serving.create_app(server, max_body_bytes=max_body_bytes)
    transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, server, app
    finally:
        await server.close()


def test_infer_single_batch_and_versions(serving, registry):
    direct = np.stack(registry.load("mlp", 1).predictor.predict(X[:4].astype(np.float32)))

    async def scenario():
        async with served(serving, registry, [("mlp", 1), ("mlp", 2)]) as (client, server, _):
            one = await client.post("/v2/models/mlp/infer", json=body(X[:1]))
            batch = await client.post("/v2/models/mlp/versions/1/infer", json=body(X[:4]))
            alias = await client.post("/v2/models/mlp/versions/prod/infer", json=body(X[:1]))
            return one, batch, alias

    one, batch, alias = run(scenario())
    assert one.status_code == 200, one.text
    assert one.json()["model_version"] == "2" and one.headers["x-model-version"] == "2"
    assert batch.status_code == 200, batch.text
    out = batch.json()["outputs"][0]
    assert out["shape"] == [4, 3] and out["datatype"] == "FP32"
    np.testing.assert_allclose(np.reshape(out["data"], out["shape"]), direct, rtol=1e-5, atol=1e-6)
    assert alias.status_code == 200, alias.text
    assert alias.json()["model_version"] == "1"


def test_client_errors_name_the_problem(serving, registry):
    cases = [
        (b"{not json", 422, "body:"),
        (json.dumps({"inputs": []}).encode(), 422, "inputs:"),
        (json.dumps(body(X[:2, :5])).encode(), 422, "inputs[0].shape:"),
        (json.dumps({"inputs": [{"name": "x", "shape": [2, 8], "datatype": "FP32", "data": [1.0] * 15}]}).encode(),
         422, "inputs[0].data:"),
        (json.dumps({"inputs": [{"name": "x", "shape": [1, 8], "datatype": "STRING", "data": [1.0] * 8}]}).encode(),
         422, "inputs[0].datatype:"),
        (json.dumps({"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32"}]}).encode(), 422, "inputs[0].data:"),
        (json.dumps(body(X[:1], timeout_ms=-3)).encode(), 422, "parameters.timeout_ms:"),
        (json.dumps(body(np.tile(X, (4, 1)))).encode(), 413, "body: "),
    ]

    async def scenario():
        async with served(serving, registry, [("tabular", None)], max_body_bytes=3000) as (client, server, _):
            answers = [await client.post("/v2/models/tabular/infer", content=c,
                                         headers={"content-type": "application/json"}) for c, _, _ in cases]
            missing = [await client.post(p, json=body(X[:1])) for p in
                       ("/v2/models/nope/infer", "/v2/models/tabular/versions/9/infer",
                        "/v2/models/tabular/versions/staging/infer")]
            meta404 = await client.get("/v2/models/nope")
            ok = await client.post("/v2/models/tabular/infer", json=body(X[:1]))
            return answers, missing, meta404, ok

    answers, missing, meta404, ok = run(scenario())
    for (_, status, prefix), r in zip(cases, answers):
        assert (r.status_code, r.json().get("error", "")[:len(prefix)]) == (status, prefix), r.text
    assert [r.status_code for r in missing] == [404, 404, 404] and meta404.status_code == 404
    assert ok.status_code == 200, ok.text


def test_flood_answers_503_with_retry_after_and_no_request_is_lost(serving, registry):
    async def scenario():
        async with served(serving, registry, [("slow", None)], max_batch_size=2, max_wait_ms=1,
                          max_queue_size=2) as (client, server, _):
            rows = [[i, 0, 0] for i in range(30)]
            return await asyncio.gather(*(client.post("/v2/models/slow/infer", json=body([r])) for r in rows))

    answers = run(scenario())
    codes = [r.status_code for r in answers]
    assert set(codes) == {200, 503}, [r.text for r in answers if r.status_code not in (200, 503)][:1]
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 503)
    assert codes.count(200) >= 2


def test_deadline_504_and_model_error_500_only_for_the_bad_item(serving, registry):
    async def scenario():
        async with served(serving, registry, [("slow", None), ("poison", None)], max_batch_size=1,
                          max_wait_ms=0) as (client, server, _):
            first = asyncio.ensure_future(client.post("/v2/models/slow/infer", json=body([[1, 0, 0]])))
            await asyncio.sleep(0.005)
            late = await client.post("/v2/models/slow/infer", json=body([[2, 0, 0]], timeout_ms=1))
            rows = [[1, 0, 0], [-1, 0, 0], [2, 0, 0]]
            mixed = await asyncio.gather(*(client.post("/v2/models/poison/infer", json=body([r])) for r in rows))
            return await first, late, mixed

    first, late, mixed = run(scenario())
    assert first.status_code == 200, first.text
    assert late.status_code == 504, late.text
    assert [r.status_code for r in mixed] == [200, 500, 200], [r.text for r in mixed]
    assert mixed[1].json()["error"].startswith("ValueError: poisoned")


def test_health_metadata_and_prometheus_metrics(serving, registry):
    async def scenario():
        async with served(serving, registry, [("tabular", None), ("mlp", 2)]) as (client, server, _):
            for i in range(5):
                r = await client.post("/v2/models/tabular/infer", json=body(X[i:i + 1]))
                assert r.status_code == 200, r.text
            await client.post("/v2/models/tabular/infer", json=body(X[:1, :3]))
            pages = {p: await client.get(p) for p in ("/v2/health/live", "/v2/health/ready", "/v2/models/mlp",
                                                      "/v2/models/mlp/ready", "/v2/models/mlp/versions/1/ready",
                                                      "/metrics")}
            return pages

    pages = run(scenario())
    assert pages["/v2/health/live"].status_code == 200 and pages["/v2/health/ready"].json() == {"ready": True}
    meta = pages["/v2/models/mlp"].json()
    assert (meta["platform"], meta["version"], meta["inputs"][0]["shape"]) == ("pytorch", "2", [-1, 8])
    assert pages["/v2/models/mlp/ready"].status_code == 200
    assert pages["/v2/models/mlp/versions/1/ready"].status_code == 503  # not loaded
    families = {f.name: f for f in text_string_to_metric_families(pages["/metrics"].text)}
    counts = {(s.labels["model"], s.labels["status"]): s.value for s in families["mlserve_requests"].samples
              if s.name == "mlserve_requests_total"}
    assert counts[("tabular", "ok")] == 5 and counts[("tabular", "invalid")] == 1, counts
    latency = [s for s in families["mlserve_request_duration_seconds"].samples
               if s.name.endswith("_count") and s.labels["model"] == "tabular"]
    assert latency[0].value == 5
    assert families["mlserve_loaded_models"].samples[0].value == 2
    assert {s.labels["model"] for s in families["mlserve_queue_depth"].samples} == {"tabular", "mlp"}
    sizes = [s for s in families["mlserve_batch_size"].samples if s.name.endswith("_sum")]
    assert sum(s.value for s in sizes) == 5  # warm-up batches are not served traffic


def test_admin_endpoints_accept_only_loopback(serving, registry):
    async def scenario():
        async with served(serving, registry, [("tabular", None)], client_host="10.1.2.3") as (remote, _, _):
            refused = await remote.post("/v2/repository/models/mlp/load")
            drain = await remote.post("/admin/drain")
            infer = await remote.post("/v2/models/tabular/infer", json=body(X[:1]))
        async with served(serving, registry, [("tabular", None)]) as (local, server, _):
            loaded = await local.post("/v2/repository/models/mlp/load", json={"parameters": {"version": 1}})
            answer = await local.post("/v2/models/mlp/infer", json=body(X[:1]))
            unloaded = await local.post("/v2/repository/models/mlp/unload")
            after = await local.post("/v2/models/mlp/infer", json=body(X[:1]))
            stats = await local.get("/admin/stats")
        return refused, drain, infer, loaded, answer, unloaded, after, stats

    refused, drain, infer, loaded, answer, unloaded, after, stats = run(scenario())
    assert stats.status_code == 200, stats.text
    assert stats.json()["models"]["tabular"]["1"]["latency_ms"]["p50"] is None  # no latency yet: null, not NaN
    assert stats.json()["models"]["mlp"]["1"]["ok"] == 1
    assert refused.status_code == 403 and drain.status_code == 403
    assert infer.status_code == 200, infer.text
    assert loaded.status_code == 200 and loaded.json()["version"] == "1", loaded.text
    assert answer.status_code == 200 and answer.json()["model_version"] == "1", answer.text
    assert unloaded.json()["unloaded"] == ["1"] and after.status_code == 404
