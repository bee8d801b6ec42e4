"""2.4 over HTTP: KServe v2 paths, status codes, the strict input policy, Prometheus /metrics (httpx over ASGI,
no sockets; every answer checked against the protocol's JSON Schemas by oip.py)."""
import asyncio
import json

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlpractice.data.serving import classification_data

from .conftest import run
from .http_app import body, served

pytestmark = pytest.mark.exercise("2.4", "the request path")

X, _ = classification_data(n=16, n_features=8, seed=5)


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
                        "/v2/models/tabular/versions/staging/infer", "/v2/models/tabular/versions/%C2%B2/infer",
                        "/v2/models/tabular/versions/%D9%A1/infer",
                        "/v2/models/tabular/versions/" + "9" * 5000 + "/infer",
                        "/v2/models/%2E%2E/infer", "/v2/models/a%00b/infer")]
            meta404 = await client.get("/v2/models/nope")
            ok = await client.post("/v2/models/tabular/infer", json=body(X[:1]))
            return answers, missing, meta404, ok

    answers, missing, meta404, ok = run(scenario())
    for (_, status, prefix), r in zip(cases, answers):
        assert (r.status_code, r.json().get("error", "")[:len(prefix)]) == (status, prefix), r.text
    assert [r.status_code for r in missing] == [404] * 8 and meta404.status_code == 404, [r.text for r in missing]
    assert ok.status_code == 200, ok.text


def tensor(data, shape=(1, 8), datatype="FP32", **extra) -> dict:
    return {"name": "input-0", "shape": list(shape), "datatype": datatype, "data": data, **extra}


def raw_tensor(data: str, shape="[1, 8]") -> bytes:
    return ('{"inputs": [{"name": "input-0", "shape": %s, "datatype": "FP32", "data": %s}]}' % (shape, data)).encode()


GOOD = [0.5] * 8
STRICT = [  # (body, status, prefix of the error): the strict policy of app.py's docstring, one case per rule
    ({"inputz": [], "inputs": [tensor(GOOD)]}, 422, "inputz: unknown field"),
    ({"inputs": [tensor(GOOD)], "parameters": {"timeout": 5}}, 422, "parameters.timeout: unknown parameter"),
    ({"inputs": [tensor(GOOD)], "parameters": {"id": "x"}}, 422, "parameters.id: unknown parameter"),
    ({"inputs": [tensor(GOOD, dtype="FP32")]}, 422, "inputs[0].dtype: unknown field"),
    ({"inputs": [tensor(GOOD, parameters={"binary_data_size": 8})]}, 422, "inputs[0].parameters.binary_data_size:"),
    ({"inputs": [tensor(GOOD)], "outputs": [{"name": "probabilities"}]}, 422, "outputs[0].name:"),
    ({"inputs": [tensor(GOOD)], "id": 7}, 422, "id:"),
    ({"inputs": [tensor(GOOD)], "parameters": {"timeout_ms": True}}, 422, "parameters.timeout_ms:"),
    ({"inputs": [tensor(GOOD)], "parameters": {"timeout_ms": "50"}}, 422, "parameters.timeout_ms:"),
    ({"inputs": [tensor(GOOD)], "parameters": {"routing_key": 12}}, 422, "parameters.routing_key:"),
    ({"inputs": [tensor([True] * 8)]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor([1, 0, 1, 0, 1, 0, 1, 0.5], datatype="INT32")]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor([2 ** 31] + [0] * 7, datatype="INT32")]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor([2 ** 63] + [0] * 7, datatype="INT64")]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor([1e39] + [0.0] * 7)]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor([1e300] + [0.0] * 7, datatype="FP64")]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor(["1"] * 8)]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor([None] * 8)]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor([[0.5] * 8, [0.5] * 7 + [[0.5]]], shape=(2, 8))]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor([[0.5] * 4, [0.5] * 4], shape=(1, 8))]}, 422, "inputs[0].data:"),
    ({"inputs": [tensor(GOOD, shape=(True, 8))]}, 422, "inputs[0].shape:"),
    ({"inputs": [tensor(GOOD, shape=(1.0, 8))]}, 422, "inputs[0].shape:"),
    ({"inputs": [tensor(GOOD, shape=(1, 1, 8))]}, 422, "inputs[0].shape:"),
    ({"inputs": [tensor(GOOD, datatype="fp32")]}, 422, "inputs[0].datatype:"),
    ({"inputs": [tensor(GOOD, name=3)]}, 422, "inputs[0].name:"),
    ({"inputs": [tensor(GOOD), tensor(GOOD)]}, 422, "inputs:"),
    (raw_tensor("[1" + "0" * 400 + ", 1, 1, 1, 1, 1, 1, 1]"), 422, "inputs[0].data:"),  # an int literal of 1e400
    (raw_tensor("[1" + "0" * 5000 + ", 1, 1, 1, 1, 1, 1, 1]"), 422, "body:"),  # beyond Python's int parsing limit
    (raw_tensor("[NaN, 1, 1, 1, 1, 1, 1, 1]"), 422, "body:"),
    (raw_tensor("[1e400, 1, 1, 1, 1, 1, 1, 1]"), 422, "inputs[0].data:"),
    (raw_tensor("[1, 1, 1, 1, 1, 1, 1, 1]", shape="[1" + "0" * 30 + ", 8]"), 422, "inputs[0].shape:"),
    (b"[" * 100_000 + b"]" * 100_000, 422, "body:"),
    (b'{"inputs": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001, 422, "body:"),
    (b"\xff\xfe{}", 422, "body:"),
    (b"", 422, "body:"),
    (b"[]", 422, "body:"),
]


def test_strict_policy_unknown_fields_and_values_that_do_not_fit_are_422(serving, registry):
    async def scenario():
        async with served(serving, registry, [("tabular", None)]) as (client, server, _):
            answers = [await client.post("/v2/models/tabular/infer", content=c if isinstance(c, bytes) else
                                         json.dumps(c).encode(), headers={"content-type": "application/json"})
                       for c, _, _ in STRICT]
            fine = [await client.post("/v2/models/tabular/infer", json=doc) for doc in (
                {"inputs": [tensor([1, 0, 1, 0, 1, 0, 1, 0], datatype="INT32")], "id": "a",
                 "outputs": [{"name": "output-0"}]},
                {"inputs": [tensor([[0.5] * 8, [0.25] * 8], shape=(2, 8), datatype="FP64")], "parameters": {}},
                {"inputs": [tensor(GOOD, shape=(8,), parameters={})], "parameters": {"timeout_ms": 5000,
                                                                                  "routing_key": "user-1"}})]
            metrics = (await client.get("/metrics")).text
            return answers, fine, metrics

    answers, fine, metrics = run(scenario())
    wrong = [(prefix, r.status_code, r.text[:120]) for (_, status, prefix), r in zip(STRICT, answers)
             if (r.status_code, r.json().get("error", "")[:len(prefix)]) != (status, prefix)]
    assert not wrong, wrong
    assert [r.status_code for r in fine] == [200, 200, 200], [r.text for r in fine]
    assert [r.json()["outputs"][0]["shape"] for r in fine] == [[1, 3], [2, 3], [1, 3]]
    counts = {(s.labels["model"], s.labels["status"]): s.value for f in text_string_to_metric_families(metrics)
              if f.name == "mlserve_requests" for s in f.samples if s.name == "mlserve_requests_total"}
    assert counts.get(("tabular", "invalid")) == len(STRICT) and counts[("tabular", "ok")] == 3, counts  # per request


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
            return await first, late, mixed, (await client.get("/metrics")).text

    first, late, mixed, metrics = run(scenario())
    assert first.status_code == 200, first.text
    assert late.status_code == 504, late.text
    assert [r.status_code for r in mixed] == [200, 500, 200], [r.text for r in mixed]
    assert mixed[1].json()["error"].startswith("ValueError: poisoned")
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    counts = {(s.labels["model"], s.labels["status"]): s.value for s in families["mlserve_requests"].samples
              if s.name == "mlserve_requests_total"}
    assert counts == {("slow", "ok"): 1, ("slow", "timeout"): 1, ("poison", "ok"): 2, ("poison", "error"): 1}, counts
    # the latency histogram is of answered requests: a 504 or a 500 is counted above, not timed here
    timed = {s.labels["model"]: s.value for s in families["mlserve_request_duration_seconds"].samples
             if s.name.endswith("_count")}
    assert timed == {"slow": 1, "poison": 2}, timed


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
    assert pages["/v2/models/mlp/versions/1/ready"].status_code == 400  # not loaded: not ready, a 4xx
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


@pytest.mark.scaffold
def test_malformed_admin_bodies_get_422_naming_the_field(serving, registry):
    bad = [(b"{bad", "body:"), (b"[]", "body:"), (b'"mlp"', "body:"), (b'{"parameters": 5}', "parameters:"),
           (b'{"paramters": {}}', "paramters: unknown field"),
           (b'{"parameters": {"versoin": 1}}', "parameters.versoin:"),
           (b'{"parameters": {"version": true}}', "parameters.version:"),
           (b'{"parameters": {"version": [1]}}', "parameters.version:"),
           (b'{"parameters": {"version": 1.5}}', "parameters.version:"), (b"\xff", "body:")]

    async def scenario():
        async with served(serving, registry, []) as (client, server, _):
            answers = [await client.post(f"/v2/repository/models/mlp/{action}", content=c)
                       for action in ("load", "unload") for c, _ in bad]
            unknown = [await client.post(p) for p in ("/v2/repository/models/nope/load",
                                                      "/v2/repository/models/%2E%2E/load",
                                                      "/v2/repository/models/mlp%00/load")]
            metrics = (await client.get("/metrics")).text
            return answers, unknown, server.loaded_versions(), metrics

    answers, unknown, loaded, metrics = run(scenario())
    expected = [prefix for _ in ("load", "unload") for _, prefix in bad]
    got = [(r.status_code, r.json()["error"][:len(p)]) for p, r in zip(expected, answers)]
    assert got == [(422, p) for p in expected], [r.text for r in answers]
    assert [r.status_code for r in unknown] == [404, 404, 404] and loaded == []
    invalid = sum(s.value for f in text_string_to_metric_families(metrics) if f.name == "mlserve_requests"
                  for s in f.samples if s.name == "mlserve_requests_total" and s.labels["status"] == "invalid")
    assert invalid == len(answers)


@pytest.mark.scaffold
def test_a_model_named_dot_dot_reads_nothing_outside_the_registry_root(serving, demo_root, tmp_path):
    import shutil
    root = tmp_path / "registry"
    shutil.copytree(demo_root / "tabular", root / "tabular")
    shutil.copytree(demo_root / "tabular" / "1", tmp_path / "1")  # a valid manifest one level above the root
    shutil.copytree(demo_root / "tabular", tmp_path / "outside")

    async def scenario():
        async with served(serving, serving.ModelRegistry(root), []) as (client, server, _):
            paths = ["/v2/repository/models/%2E%2E/load", "/v2/repository/models/..%2Foutside/load",
                     "/v2/repository/models/%2E%2E/unload"]
            admin = [await client.post(p) for p in paths]
            reads = [await client.get(p) for p in ("/v2/models/%2E%2E", "/v2/models/%2E%2E/versions/1",
                                                   "/v2/models/%2E%2E/ready", "/v2/models/.")]
            infer = await client.post("/v2/models/%2E%2E/infer", json=body(X[:1]))
            return admin, reads, infer, server.loaded_versions()

    admin, reads, infer, loaded = run(scenario())
    assert loaded == []
    assert [r.status_code for r in admin + reads + [infer]] == [404] * 8, [r.text for r in admin + reads + [infer]]
    assert "invalid model name" in admin[0].json()["error"], admin[0].text


@pytest.mark.scaffold
def test_chunked_upload_over_the_limit_is_refused_before_it_is_all_read(serving, registry):
    pulled = [0]

    async def upload(total: int, chunk: int = 64 << 10):
        while pulled[0] < total:
            pulled[0] += chunk
            yield b" " * chunk

    async def scenario():
        async with served(serving, registry, [], max_body_bytes=1 << 20) as (client, server, _):
            big = await client.post("/v2/models/tabular/infer", content=upload(64 << 20))  # chunked: no length
            declared = await client.post("/v2/models/tabular/infer", content=b"x" * 100,
                                         headers={"content-length": str(2 << 20)})
            return big, declared

    big, declared = run(scenario())
    assert big.status_code == 413 and big.json()["error"].startswith("body:"), big.text
    assert pulled[0] <= (1 << 20) + (64 << 10), f"read {pulled[0]} bytes of a body refused at 1 MiB"
    assert declared.status_code == 413


def test_alias_and_version_routes_read_no_file_per_request(serving, demo_root, monkeypatch):
    import builtins
    import os
    import pathlib
    registry = serving.ModelRegistry(demo_root, recheck_s=3600)
    touched = []
    root = str(demo_root)

    def spy(owner, attr, path_of):
        real = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            path = str(path_of(*args))
            if path.startswith(root):
                touched.append((attr, path))
            return real(*args, **kwargs)
        monkeypatch.setattr(owner, attr, wrapper)

    async def scenario():
        async with served(serving, registry, [("mlp", 1), ("mlp", 2), ("tabular", None)]) as (client, server, _):
            paths = ["/v2/models/mlp/versions/prod/infer", "/v2/models/mlp/versions/canary/infer",
                     "/v2/models/mlp/versions/1/infer", "/v2/models/mlp/infer",
                     "/v2/models/tabular/versions/latest/infer"]
            gets = ["/v2/models/mlp", "/v2/models/mlp/versions/prod", "/v2/models/mlp/versions/prod/ready",
                    "/v2/models/tabular/ready", "/v2/health/ready"]
            misses = ["/v2/models/mlp/versions/staging/infer", "/v2/models/nope/infer",
                      "/v2/models/mlp/versions/7/infer"]
            for p in paths + misses:  # warm: the first lookups may read the registry
                await client.post(p, json=body(X[:1]))
            for p in gets:
                await client.get(p)
            for owner, attr, path_of in [(pathlib.Path, "read_text", lambda p, *a: p),
                                         (pathlib.Path, "read_bytes", lambda p, *a: p),
                                         (pathlib.Path, "iterdir", lambda p, *a: p),
                                         (pathlib.Path, "stat", lambda p, *a: p),
                                         (pathlib.Path, "exists", lambda p, *a: p),
                                         (pathlib.Path, "is_dir", lambda p, *a: p),
                                         (builtins, "open", lambda p, *a: p),
                                         (os, "scandir", lambda p=".", *a: p), (os, "stat", lambda p, *a: p),
                                         (os, "listdir", lambda p=".", *a: p)]:
                spy(owner, attr, path_of)
            statuses = []
            for i in range(20):
                for p in paths + misses:
                    statuses.append((await client.post(p, json=body(X[i % 16:i % 16 + 1]))).status_code)
                for p in gets:
                    statuses.append((await client.get(p)).status_code)
            return statuses

    statuses = run(scenario())
    assert statuses.count(200) == 20 * (5 + 5) and statuses.count(404) == 20 * 3, statuses
    assert touched == [], touched[:5]
