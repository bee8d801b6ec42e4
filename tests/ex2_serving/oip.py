"""The Open Inference Protocol (KServe v2) REST documents as JSON Schema, and clients that check every answer.

The schemas follow the protocol's published REST specification (open-inference-protocol,
`inference_rest.md` and `open_inference_rest.yaml`): server metadata, liveness and readiness, model
metadata, inference request and response, and the error object. Two choices the text leaves open:
a readiness answer is `{"ready": bool}` (the specification's "live" there is a typo; KServe and
Triton answer "ready"), and an infer answer carries `id` only when the request gave one.

`check(response)` validates one HTTP answer against the schema of its route and status; beyond the
schema it checks what JSON Schema cannot say: an output's data holds prod(shape) values of its
datatype's kind, readiness is 200 exactly when ready and a 4xx otherwise, and errors are JSON.
`asgi_client` and `http_client` are httpx clients that call `check` on every answer they receive.
"""
from __future__ import annotations

import math
import re
import sys

import httpx

# jsonschema loads rfc3987_syntax when it is installed (JupyterLab's jupyter-events pulls it in), and
# that compiles 39 grammars on import: 3 s in every process that grades exercise 2. No schema here
# checks the "iri" format it serves, so it is kept out (jsonschema then leaves that format unchecked).
sys.modules.setdefault("rfc3987_syntax", None)
from jsonschema import Draft202012Validator  # noqa: E402

DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BF16", "BYTES"]

DEFS = {
    "parameters": {"type": "object"},
    "tensor_data": {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/tensor_data"}, {"type": "number"},
                                                         {"type": "string"}, {"type": "boolean"}]}},
    "shape": {"type": "array", "items": {"type": "integer"}},
    "metadata_tensor": {"type": "object", "required": ["name", "datatype", "shape"],
                        "properties": {"name": {"type": "string"}, "datatype": {"enum": DATATYPES},
                                       "shape": {"$ref": "#/$defs/shape"}}},
    "request_input": {"type": "object", "required": ["name", "shape", "datatype", "data"],
                      "properties": {"name": {"type": "string"}, "shape": {"$ref": "#/$defs/shape"},
                                     "datatype": {"enum": DATATYPES}, "parameters": {"$ref": "#/$defs/parameters"},
                                     "data": {"$ref": "#/$defs/tensor_data"}}},
    "request_output": {"type": "object", "required": ["name"],
                       "properties": {"name": {"type": "string"}, "parameters": {"$ref": "#/$defs/parameters"}}},
    "response_output": {"type": "object", "required": ["name", "shape", "datatype", "data"],
                        "properties": {"name": {"type": "string"}, "shape": {"$ref": "#/$defs/shape"},
                                       "datatype": {"enum": DATATYPES}, "parameters": {"$ref": "#/$defs/parameters"},
                                       "data": {"$ref": "#/$defs/tensor_data"}}},
}

DOCUMENTS = {
    "metadata_server_response": {"type": "object", "required": ["name", "version", "extensions"],
                                 "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                                                "extensions": {"type": "array", "items": {"type": "string"}}}},
    "metadata_model_response": {"type": "object", "required": ["name", "platform", "inputs", "outputs"],
                                "properties": {"name": {"type": "string"},
                                               "versions": {"type": "array", "items": {"type": "string"}},
                                               "platform": {"type": "string"},
                                               "inputs": {"type": "array",
                                                          "items": {"$ref": "#/$defs/metadata_tensor"}},
                                               "outputs": {"type": "array",
                                                           "items": {"$ref": "#/$defs/metadata_tensor"}}}},
    "live_server_response": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
    "ready_server_response": {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}},
    "ready_model_response": {"type": "object", "required": ["name", "ready"],
                             "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}},
    "inference_request": {"type": "object", "required": ["inputs"],
                          "properties": {"id": {"type": "string"}, "parameters": {"$ref": "#/$defs/parameters"},
                                         "inputs": {"type": "array", "items": {"$ref": "#/$defs/request_input"}},
                                         "outputs": {"type": "array", "items": {"$ref": "#/$defs/request_output"}}}},
    "inference_response": {"type": "object", "required": ["model_name", "outputs"],
                           "properties": {"model_name": {"type": "string"}, "model_version": {"type": "string"},
                                          "id": {"type": "string"}, "parameters": {"$ref": "#/$defs/parameters"},
                                          "outputs": {"type": "array", "items": {"$ref": "#/$defs/response_output"}}}},
    # every failed call: "an HTTP error status ... the HTTP body must contain {"error": $string}"
    "error_response": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
}

VALIDATORS = {name: Draft202012Validator({**doc, "$defs": DEFS}) for name, doc in DOCUMENTS.items()}

MODEL = r"/v2/models/[^/]+(?:/versions/[^/]+)?"
ROUTES = [  # (method, path pattern, document of a successful answer)
    ("GET", re.compile(r"/v2/?"), "metadata_server_response"),
    ("GET", re.compile(r"/v2/health/live"), "live_server_response"),
    ("GET", re.compile(r"/v2/health/ready"), "ready_server_response"),
    ("GET", re.compile(MODEL + r"/ready"), "ready_model_response"),
    ("GET", re.compile(MODEL), "metadata_model_response"),
    ("POST", re.compile(MODEL + r"/infer"), "inference_response"),
]
READINESS = {"ready_server_response", "ready_model_response"}
KIND = {"BOOL": (bool,), "BYTES": (str,), **{t: (int,) for t in DATATYPES if "INT" in t},
        **{t: (int, float) for t in ("FP16", "FP32", "FP64", "BF16")}}


def validate(document: str, value) -> None:
    errors = sorted(VALIDATORS[document].iter_errors(value), key=lambda e: list(e.absolute_path))
    assert not errors, f"not a valid {document}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:3])


def flat(data) -> list:
    out, stack = [], [iter(data)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                stack.append(iter(v))
                break
            out.append(v)
        else:
            stack.pop()
    return out


def check_output(tensor: dict) -> None:
    values = flat(tensor["data"])
    assert len(values) == math.prod(tensor["shape"]), f"{tensor['name']}: {len(values)} values for {tensor['shape']}"
    kinds = KIND[tensor["datatype"]]
    wrong = [v for v in values if type(v) not in kinds]
    assert not wrong, f"{tensor['name']}: {tensor['datatype']} data holds {wrong[:3]}"


def route_of(method: str, path: str) -> str | None:
    for m, pattern, document in ROUTES:
        if m == method and pattern.fullmatch(path):
            return document
    return None


def check(response: httpx.Response) -> None:
    """Assert that `response` is what the protocol allows for its route and status (see the module doc)."""
    request = response.request
    path = request.url.path
    document = route_of(request.method, path)
    where = f"{request.method} {path} -> {response.status_code}"
    assert response.status_code < 500 or response.status_code in (500, 503, 504, 507), where
    if path == "/metrics" and response.status_code == 200:
        return
    assert response.headers.get("content-type", "").startswith("application/json"), \
        f"{where}: content-type {response.headers.get('content-type')!r}: {response.text[:200]}"
    body = response.json()
    if document in READINESS and response.status_code in (200, 400):
        validate(document, body)
        assert body["ready"] == (response.status_code == 200), f"{where}: {body}"  # 200 true, 4xx false
    elif response.status_code >= 400:
        validate("error_response", body)
        assert set(body) == {"error"} and body["error"], f"{where}: {body}"
    elif document is not None:
        validate(document, body)
        if document == "inference_response":
            for tensor in body["outputs"]:
                check_output(tensor)


async def _acheck(response: httpx.Response) -> None:
    await response.aread()
    check(response)


def _check(response: httpx.Response) -> None:
    response.read()
    check(response)


def asgi_client(app, *, client_host: str = "127.0.0.1", **kwargs) -> httpx.AsyncClient:
    """An httpx client over ASGI (no socket) that checks every answer against the protocol."""
    transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://test", event_hooks={"response": [_acheck]},
                             **kwargs)


def http_client(url: str, **kwargs) -> httpx.Client:
    """A keep-alive httpx client over a real socket that checks every answer against the protocol."""
    return httpx.Client(base_url=url, event_hooks={"response": [_check]}, **kwargs)
