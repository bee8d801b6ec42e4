"""2.4 over real HTTP: hypothesis fuzzes the app under uvicorn on 127.0.0.1 with bad input of every kind.

Bodies (valid infer documents mutated: wrong types, missing and extra fields, odd numbers, nesting,
strings; raw bytes), paths (model names and versions, percent-encoded, dots, slashes, unicode), headers
(content types, encodings, routing keys) and admin bodies. The models are good ones (they never raise),
so the property is: no answer is a 5xx (a 504 only for a request that set timeout_ms), every error is
{"error": "..."} JSON (oip.check on every answer), and /metrics counts each malformed request as invalid.
Cases found are pinned as @example.
"""
from __future__ import annotations

import collections
import json
import math
import shutil
import urllib.parse

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from mlpractice.net import uvicorn_on_loopback

from . import oip

pytestmark = pytest.mark.exercise("2.4", "the request path")

MALFORMED = (413, 415, 422)  # what /metrics counts as invalid
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)


class Raw(str):
    """A JSON token written as is: numbers that json.dumps cannot write (1e400, 5000-digit integers, NaN)."""


def dump(value) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value)


raw_numbers = st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "-0", "1" + "0" * 400, "1" + "0" * 5000,
                               "2147483648", "9223372036854775808", "3.4028236e38", "1e-400", "0.1e1"]).map(Raw)
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-(2 ** 70), 2 ** 70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8) | raw_numbers)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)
KEYS = ["id", "inputs", "outputs", "parameters", "name", "shape", "datatype", "data", "timeout_ms", "routing_key",
        "version", "inputz", "Inputs", ""]


def containers(doc, path=()):
    """Every (container, key) in a document, for a mutation to pick from."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((doc, k))
            out += containers(v)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((doc, i))
            out += containers(v)
    return out


@st.composite
def documents(draw, mutate: bool = True):
    """A valid infer document for an 8-feature model, then (if `mutate`) up to three random mutations."""
    n = draw(st.integers(1, 3))
    datatype = draw(st.sampled_from(["FP32", "FP64", "INT32", "INT64"]))
    number = st.integers(-100, 100) if "INT" in datatype else st.floats(-1e3, 1e3)
    data = draw(st.lists(number, min_size=8 * n, max_size=8 * n))
    if draw(st.booleans()):
        data = [data[i * 8:(i + 1) * 8] for i in range(n)]
    doc = {"inputs": [{"name": "input-0", "shape": [n, 8], "datatype": datatype, "data": data}]}
    if draw(st.booleans()):
        doc["id"] = draw(st.text(max_size=8))
    if draw(st.booleans()):
        doc["parameters"] = draw(st.fixed_dictionaries({}, optional={
            "routing_key": st.text(max_size=8),  # a valid document's deadline leaves time to answer (504 otherwise)
            "timeout_ms": st.integers(1, 10_000) | st.floats(0.001, 1e4) if mutate else st.floats(5e3, 3.6e6)}))
    if draw(st.booleans()):
        doc["outputs"] = [{"name": "output-0"}]
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3])) if mutate else 0):
        spots = containers(doc)
        parent, key = spots[draw(st.integers(0, len(spots) - 1))]
        action = draw(st.sampled_from(["replace", "delete", "add", "wrap"]))
        if action == "replace":
            parent[key] = draw(values)
        elif action == "delete":
            del parent[key]
        elif action == "wrap":
            parent[key] = [parent[key]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS) | st.text(max_size=6))] = draw(values)
        else:
            parent.append(draw(values))
        if not isinstance(doc, dict) or not doc:
            break
    return doc


deep = st.integers(1, 200_000).map(lambda d: b"[" * d + b"]" * d)
docs = documents().map(lambda d: dump(d).encode())
bodies = st.one_of(docs, docs, docs, docs, docs, st.binary(max_size=40), deep, values.map(lambda v: dump(v).encode()),
                   docs.flatmap(lambda b: st.integers(0, len(b)).map(lambda i: b[:i])))  # truncated
good_names = st.sampled_from(["tabular", "mlp"])
segments = st.one_of(good_names, good_names, st.sampled_from(
    ["nope", "..", "%2E%2E", ".%2E", "%2e", "a%2Fb", "%00", "%C3%A9", "%FF", "..%2F..%2Ftabular", "mlp%20", "MLP",
     "tabular%0A", "~", "%25"]), st.text(min_size=1, max_size=10).map(lambda s: urllib.parse.quote(s, safe="")))
versions = st.one_of(st.none(), st.none(), st.sampled_from(["1", "2", "prod", "canary", "latest"]), st.sampled_from(
    ["0", "01", "-1", "1.0", "%C2%B2", "%D9%A1", "9" * 30, "9" * 5000, "%2E%2E", "true", "1%2F..%2F2"]), segments)
headers = st.fixed_dictionaries({}, optional={
    "content-type": st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                     "application/json; charset=utf-16", "", "multipart/form-data; boundary=x",
                                     "application/octet-stream"]),
    "content-encoding": st.sampled_from(["identity", "", "identity", "gzip", "deflate, gzip"]),
    "x-routing-key": st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20).map(str.strip),
    "inference-header-content-length": st.sampled_from(["0", "12", "abc"])})


def model_path(name: str, version: str | None, tail: str = "") -> str:
    return f"/v2/models/{name}" + (f"/versions/{version}" if version is not None else "") + tail


class Live:
    """The real app under uvicorn, a client to it, and what it answered (route kind, status)."""

    def __init__(self, client, registry):
        self.client = client
        self.registry = registry
        self.seen: list[tuple[str, int]] = []

    def send(self, method: str, path: str, content: bytes | None = None, extra: dict | None = None):
        answer = self.client.request(method, path, content=content, headers=extra or {})  # oip.check runs
        kind = "infer" if path.endswith("/infer") else "admin" if "/repository/" in path or path.endswith("/traffic") \
            else "other"
        self.seen.append((kind, answer.status_code))
        allowed_504 = answer.status_code == 504 and content is not None and b"timeout_ms" in content
        assert answer.status_code < 500 or allowed_504, \
            f"{method} {path[:200]} {content[:300] if content else ''!r} -> {answer.status_code} {answer.text[:300]}"
        return answer

    def check_counts(self) -> None:
        """/metrics counted every malformed request as invalid, and only those."""
        families = text_string_to_metric_families(self.client.get("/metrics").text)
        invalid = sum(s.value for f in families if f.name == "mlserve_requests" for s in f.samples
                      if s.name == "mlserve_requests_total" and s.labels["status"] == "invalid")
        malformed = sum(1 for kind, status in self.seen if kind in ("infer", "admin") and status in MALFORMED)
        print(f"\nfuzz: {len(self.seen)} HTTP cases, 0 of them 5xx; statuses "
              f"{dict(sorted(collections.Counter(s for _, s in self.seen).items()))}")
        assert math.isclose(invalid, malformed), (invalid, malformed)


@pytest.fixture
def live(serving, demo_root, tmp_path):
    """A fresh server per test (so each test's counts are its own), on good models only (tabular, mlp v1, v2)."""
    root = tmp_path / "registry"
    for name in ("tabular", "mlp"):
        shutil.copytree(demo_root / name, root / name)
    server = serving.ModelServer(root, max_batch_size=8, max_wait_ms=1, cache_size=4)
    with uvicorn_on_loopback(serving.create_app(server, load_models=["tabular", "mlp"])) as url:
        with oip.http_client(url, timeout=30) as client:
            yield Live(client, serving.ModelRegistry(root))


def test_infer_never_answers_5xx(live):
    @settings(FUZZ, max_examples=900)
    @given(name=segments, version=versions, content=bodies, extra=headers)
    @example(name="tabular", version=None, extra={}, content=b'{"inputs": [{"name": "input-0", "shape": [1, 8], '
                                                             b'"datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}]}')
    @example(name="%2E%2E", version=None, content=b"{}", extra={})
    @example(name="tabular", version="%C2%B2", content=b"{}", extra={})
    @example(name="tabular", version="9" * 5000, content=b"{}", extra={})
    @example(name="tabular", version=None, content=b"[" * 100_000 + b"]" * 100_000, extra={})
    @example(name="tabular", version=None, extra={}, content=b'{"inputs": [{"name": "input-0", "shape": [1, 8], '
                                                             b'"datatype": "FP32", "data": [1' + b"0" * 400
                                                             + b", 1, 1, 1, 1, 1, 1, 1]}]}")
    @example(name="mlp", version="1", extra={"content-encoding": "gzip"}, content=b"\x1f\x8b")
    @example(name="tabular", version=None, extra={}, content=b'{"inputs": [{"name": "input-0", "shape": [true, 8], '
                                                             b'"datatype": "FP32", "data": [1, 1, 1, 1, 1, 1, 1, 1]}]}')
    @example(name="tabular", version=None, extra={}, content=b'{"inputs": [{"name": "input-0", "shape": [1, 8], '
                                                             b'"datatype": "FP32", "data": [1, 1, 1, 1, 1, 1, 1, 1]}], '
                                                             b'"parameters": {"timeout_ms": 1e400}}')
    def case(name, version, content, extra):
        live.send("POST", model_path(name, version, "/infer"), content, extra)

    case()
    live.check_counts()


def test_metadata_and_readiness_never_answer_5xx(live):
    @FUZZ
    @given(name=segments, version=versions, tail=st.sampled_from(["", "/ready"]))
    @example(name="%2E%2E", version="1", tail="")
    @example(name="mlp", version="%D9%A1", tail="/ready")
    @example(name="0%2F", version=None, tail="")  # /v2/models/0/ was a 307 redirect with no JSON body
    def case(name, version, tail):
        answer = live.send("GET", model_path(name, version, tail))
        if tail == "/ready":
            assert answer.status_code in (200, 400, 404), answer.text

    case()


admin_bodies = (st.fixed_dictionaries({}, optional={"parameters": st.fixed_dictionaries({}, optional={
    "version": st.sampled_from([1, 2, "1", "2", "prod", "latest", 0, -1, True, 1.5, None, "%", "9" * 40])
    | values})}).map(lambda d: json.dumps(d).encode()) | bodies | st.just(b""))


def test_admin_calls_never_answer_5xx(live):
    @FUZZ
    @given(name=good_names | segments, action=st.sampled_from(["load", "unload"]), content=admin_bodies)
    @example(name="mlp", action="load", content=b"[]")
    @example(name="mlp", action="load", content=b'{"parameters": 5}')
    @example(name="%2E%2E", action="load", content=b"")
    @example(name="mlp", action="load", content=b'{"parameters": {"version": true}}')
    def case(name, action, content):
        live.send("POST", f"/v2/repository/models/{name}/{action}", content)

    case()
    live.check_counts()


traffic_bodies = st.fixed_dictionaries({}, optional={"weights": st.none() | st.dictionaries(
    st.sampled_from(["1", "2", "3", "0", "-1", "01", "x", "", "1.5", "9" * 30]),
    st.sampled_from([0, 0.0, 1, 0.5, -1, True, None, "1", 1e308, [1]]) | values, max_size=4)}).map(
    lambda d: json.dumps(d).encode()) | bodies | st.just(b"")


def test_traffic_splits_never_answer_5xx(live):
    @FUZZ
    @given(name=good_names | segments, content=traffic_bodies)
    @example(name="mlp", content=b'{"weights": {"1": 0.5, "2": 0.5}}')
    @example(name="mlp", content=b'{"weights": {"1": 0, "2": 0}}')
    @example(name="mlp", content=b'{"weights": {"7": 1}}')  # not loaded: 404
    @example(name="%2E%2E", content=b'{"weights": null}')
    def case(name, content):
        answer = live.send("POST", f"/admin/models/{name}/traffic", content)
        assert answer.status_code in (200, 404, 413, 415, 422), answer.text

    case()
    live.check_counts()


def test_every_valid_document_is_answered_200_with_the_models_answer(live, demo_root):
    """The other side of the strict policy: nothing valid is refused (random shapes, datatypes, nesting, options)."""
    import numpy as np
    tabular = live.registry.load("tabular").predictor

    @FUZZ
    @given(doc=documents(mutate=False), version=st.sampled_from([None, "1", "latest"]))
    def case(doc, version):
        answer = live.send("POST", model_path("tabular", version, "/infer"), dump(doc).encode())
        assert answer.status_code == 200, (doc, answer.text)
        tensor = doc["inputs"][0]
        rows = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"]).astype(np.float32)
        out = answer.json()
        assert out.get("id") == doc.get("id") and out["outputs"][0]["shape"] == [len(rows), 3]
        np.testing.assert_allclose(np.reshape(out["outputs"][0]["data"], (-1, 3)), np.stack(tabular.predict(rows)),
                                   rtol=1e-5, atol=1e-6)

    case()
