# Starter code generated from solutions/serving/protocol.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""The Open Inference Protocol (KServe v2) REST documents: parse requests, format answers.

Pure functions over bytes and dicts (app.py does the I/O). Every refusal is InvalidInput (HTTP 422)
whose message starts with the field, e.g. "inputs[0].data: value 3 is true, a boolean; FP32 data are
numbers".

The policy is strict, so that a typo is an error rather than a silently ignored option:
  * Unknown fields are refused wherever they appear. A request has id, parameters, inputs, outputs;
    a tensor has name, shape, datatype, data, parameters; a requested output has name, parameters.
    The protocol keeps "parameters" objects open for extensions: this server reads routing_key and
    timeout_ms in a request's parameters and nothing in a tensor's or an output's, so any other key
    there is refused too, naming it (a misspelled "timeout" must not mean "no deadline").
  * One input tensor of shape [n, d] or [d] (positive integers), data flat in row-major order or
    nested exactly as the shape. datatype FP32, FP64, INT32 or INT64, and every value must fit it:
    booleans, strings and null are never numbers; INT32/INT64 take JSON integers (no fraction, no
    exponent) within their range; FP32/FP64 take numbers, finite and, since the model's input is
    FP32, within float32's range (|x| <= 3.4e38). NaN and Infinity are not JSON and are refused.
  * id: a string, echoed at the top level of the answer. parameters.timeout_ms: a number (not a
    boolean) in (0, 3600000]; parameters.routing_key: a string of at most 256 characters.
  * outputs: optional; the one output is named "output-0".
  * Bodies that are not JSON (including nesting too deep to parse) are refused as "body: ...".
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import metadata as _metadata

import numpy as np

from .contract import as_tensor, datatype_of
from .errors import InvalidInput

REQUEST_FIELDS = ("id", "parameters", "inputs", "outputs")
TENSOR_FIELDS = ("name", "shape", "datatype", "data", "parameters")
OUTPUT_FIELDS = ("name", "parameters")
PARAMETERS = ("routing_key", "timeout_ms")
OUTPUT_NAME = "output-0"
FLOAT32_MAX = float(np.finfo(np.float32).max)
INT_RANGES = {"INT32": (-(2 ** 31), 2 ** 31 - 1), "INT64": (-(2 ** 63), 2 ** 63 - 1)}
INPUT_DATATYPES = ("FP32", "FP64", "INT32", "INT64")
MAX_TIMEOUT_MS = 3_600_000
MAX_ROUTING_KEY = 256
NUMBERS = {int, float}
try:
    SERVER_VERSION = _metadata.version("ml-interview-exercises")
except _metadata.PackageNotFoundError:
    SERVER_VERSION = "0"
SERVER_METADATA = {"name": "mlpractice-serving", "version": SERVER_VERSION, "extensions": []}


def short(value, limit: int = 60) -> str:
    """A value for an error message: its JSON spelling, cut to `limit` characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _refuse_constant(name: str):
    raise InvalidInput("body", f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)  # one decoder: json.loads(**kw) builds one per call


def loads(body: bytes):
    """The JSON document in `body` (UTF-8), or InvalidInput("body", ...) for anything that is not strict JSON."""
    try:
        return _DECODER.decode(body.decode("utf-8"))
    except RecursionError:
        raise InvalidInput("body", "JSON nested too deeply") from None
    except InvalidInput:
        raise
    except ValueError as err:  # JSONDecodeError, bad UTF-8, integers beyond Python's 4300-digit limit
        raise InvalidInput("body", f"not valid JSON ({str(err)[:120]})") from None


def _object(value, field: str, allowed: tuple[str, ...], what: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput(field or "body", f"expected a JSON object, got {short(value)}")
    for key in value:
        if key not in allowed:
            name = f"{field}.{key}" if field else key
            raise InvalidInput(name, f"unknown {what}; expected only {', '.join(allowed) or 'none'}")
    return value


def _no_parameters(value, field: str) -> None:
    _object(value, field, (), "parameter")


@dataclass(frozen=True)
class InferRequest:
    """A parsed infer request: one input tensor's values (flat, row-major) and the request's options."""

    shape: tuple[int, ...]
    datatype: str
    values: np.ndarray  # float64, flat, every value checked against the datatype
    id: str | None = None
    routing_key: str | None = None
    timeout_ms: float | None = None

    def rows(self, input_dim: int) -> np.ndarray:
        """The values as a float32 matrix [n, input_dim], or InvalidInput if the shape does not fit the model."""
        if self.shape[-1] != input_dim:
            raise InvalidInput("inputs[0].shape", f"expected [n, {input_dim}], got {list(self.shape)}")
        return self.values.astype(np.float32).reshape(-1, input_dim)


def parse_infer_request(body: bytes) -> InferRequest:
    doc = _object(loads(body), "", REQUEST_FIELDS, "field")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("id", f"expected a string, got {short(request_id)}")
    routing_key, timeout_ms = _parameters(doc.get("parameters", {}))
    if "outputs" in doc:
        _outputs(doc["outputs"])
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise InvalidInput("inputs", "required: a list holding exactly one tensor")
    shape, datatype, values = _tensor(inputs[0], "inputs[0]")
    return InferRequest(shape, datatype, values, request_id, routing_key, timeout_ms)


def _parameters(params) -> tuple[str | None, float | None]:
    _object(params, "parameters", PARAMETERS, "parameter")
    routing_key, timeout_ms = params.get("routing_key"), params.get("timeout_ms")
    if routing_key is not None and not (isinstance(routing_key, str) and len(routing_key) <= MAX_ROUTING_KEY):
        raise InvalidInput("parameters.routing_key", f"expected a string of at most {MAX_ROUTING_KEY} characters, "
                                                     f"got {short(routing_key)}")
    if timeout_ms is not None and not (type(timeout_ms) in NUMBERS and 0 < timeout_ms <= MAX_TIMEOUT_MS):
        raise InvalidInput("parameters.timeout_ms", f"expected a number of milliseconds in (0, {MAX_TIMEOUT_MS}], "
                                                    f"got {short(timeout_ms)}")
    return routing_key or None, timeout_ms


def _outputs(outputs) -> None:
    if not isinstance(outputs, list):
        raise InvalidInput("outputs", f"expected a list of {{\"name\": ...}} objects, got {short(outputs)}")
    for i, out in enumerate(outputs):
        field = f"outputs[{i}]"
        _object(out, field, OUTPUT_FIELDS, "field")
        if out.get("name") != OUTPUT_NAME:
            raise InvalidInput(f"{field}.name", f"unknown output {short(out.get('name'))}; the model has {OUTPUT_NAME}")
        if "parameters" in out:
            _no_parameters(out["parameters"], f"{field}.parameters")


def _tensor(tensor, field: str) -> tuple[tuple[int, ...], str, np.ndarray]:
    _object(tensor, field, TENSOR_FIELDS, "field")
    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise InvalidInput(f"{field}.{key}", "required")
    if not isinstance(tensor["name"], str):
        raise InvalidInput(f"{field}.name", f"expected a string, got {short(tensor['name'])}")
    if "parameters" in tensor:
        _no_parameters(tensor["parameters"], f"{field}.parameters")
    shape = tensor["shape"]
    if not (isinstance(shape, list) and len(shape) in (1, 2)
            and all(type(s) is int and 0 < s < 2 ** 63 for s in shape)):
        raise InvalidInput(f"{field}.shape", f"expected [n, d] or [d] with positive integers, got {short(shape)}")
    datatype = tensor["datatype"]
    if datatype not in INPUT_DATATYPES:
        raise InvalidInput(f"{field}.datatype", f"expected one of {list(INPUT_DATATYPES)}, got {short(datatype)}")
    values = _check_values(_flatten(tensor["data"], shape, f"{field}.data"), datatype, f"{field}.data")
    return tuple(shape), datatype, values


def _flatten(data, shape: list[int], field: str) -> list:
    """The values of `data`, flat (row-major): given flat, or nested exactly as `shape`."""
    if not isinstance(data, list):
        raise InvalidInput(field, f"expected a list of numbers, got {short(data)}")
    if len(shape) == 2 and data and type(data[0]) is list:
        if len(data) != shape[0] or not all(type(row) is list and len(row) == shape[1] for row in data):
            raise InvalidInput(field, f"nested lists must match shape {shape} exactly (or give the values flat)")
        data = [v for row in data for v in row]
    expected = math.prod(shape)
    if len(data) != expected:
        raise InvalidInput(field, f"holds {len(data)} values but shape {shape} needs {expected}")
    return data


def _check_values(values: list, datatype: str, field: str) -> np.ndarray:
    """The values as a float64 array, once each fits `datatype` (and the model's FP32 input)."""
    kinds = set(map(type, values))
    allowed = {int} if datatype in INT_RANGES else NUMBERS
    if not kinds <= allowed:
        i, bad = next((i, v) for i, v in enumerate(values) if type(v) not in allowed)
        kind = {bool: "a boolean", str: "a string", type(None): "null", list: "a list (nesting does not match the "
                "shape)", dict: "an object", float: "not an integer literal"}.get(type(bad), type(bad).__name__)
        need = "integers" if datatype in INT_RANGES else "numbers"
        raise InvalidInput(field, f"value {i} is {short(bad)}, {kind}; {datatype} data are {need}")
    if datatype in INT_RANGES:
        lo, hi = INT_RANGES[datatype]
        if values and (min(values) < lo or max(values) > hi):
            raise InvalidInput(field, f"a value is outside the {datatype} range [{lo}, {hi}]")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer literal beyond float64 (1e400 written out)
        raise InvalidInput(field, f"a value is too large for {datatype}") from None
    largest = float(np.abs(arr).max()) if arr.size else 0.0
    if not math.isfinite(largest):  # 1e400 written as a float parses to infinity
        raise InvalidInput(field, f"a value is too large for {datatype}")
    if largest > FLOAT32_MAX:
        raise InvalidInput(field, f"a value is outside float32's range (|x| <= {FLOAT32_MAX:.3g}), which the "
                                  "model's FP32 input needs")
    return arr


def parse_admin_request(body: bytes) -> int | str | None:
    """The version of a repository load/unload body ({"parameters": {"version": ...}}; empty: None)."""
    if not body.strip():
        return None
    doc = _object(loads(body), "", ("parameters",), "field")
    params = _object(doc.get("parameters", {}), "parameters", ("version",), "parameter")
    version = params.get("version")
    if version is None:
        return None
    if type(version) is int and version > 0:
        return version
    if isinstance(version, str) and 0 < len(version) <= 64:
        return version
    raise InvalidInput("parameters.version", f"expected a positive integer, a digit string or an alias, "
                                             f"got {short(version)}")


def parse_traffic_request(body: bytes) -> dict[int, float] | None:
    """The weights of a traffic-split body ({"weights": {"1": 0.9, "2": 0.1}}; null or {} clears the split)."""
    doc = _object(loads(body) if body.strip() else {}, "", ("weights",), "field")
    weights = doc.get("weights")
    if weights is None or weights == {}:
        return None
    weights = _object(weights, "weights", tuple(weights) if isinstance(weights, dict) else (), "version")
    out = {}
    for key, w in weights.items():
        if not (key.isascii() and key.isdigit() and 0 < len(key) <= 18 and int(key) > 0):
            raise InvalidInput(f"weights.{short(key, 20)}", "expected a positive version number as the key")
        if type(w) not in (int, float) or not math.isfinite(w) or w < 0:
            raise InvalidInput(f"weights.{key}", f"expected a finite number >= 0, got {short(w)}")
        out[int(key)] = float(w)
    if sum(out.values()) <= 0:
        raise InvalidInput("weights", f"must sum to more than 0, got {short(weights)}")
    return out


def path_version(version: str | None) -> int | str | None:
    """The {version} of a URL: ASCII digits become an int (not "²", not 5000 digits); anything else is
    an alias or "latest", which the registry resolves or refuses."""
    if version is not None and version.isascii() and version.isdigit() and len(version) <= 18:
        return int(version)
    return version


def infer_response(model_name: str, version: int, outputs: list, request_id: str | None) -> dict:
    """The inference response: one output tensor, datatype true to the outputs' dtype; id echoed if given."""
    arr = as_tensor(outputs, len(outputs), f"{model_name} v{version}")
    doc = {"model_name": model_name, "model_version": str(version),
           "outputs": [{"name": OUTPUT_NAME, "shape": list(arr.shape), "datatype": datatype_of(arr.dtype),
                        "data": arr.ravel().tolist()}]}
    if request_id is not None:
        doc["id"] = request_id
    return doc


def model_metadata(meta: dict, output_schema: dict | None) -> dict:
    """The server's model metadata with every output described by name, datatype and shape."""
    outputs = [output_schema] if output_schema else [o for o in meta.get("outputs", []) if "shape" in o]
    return {**meta, "outputs": outputs}


def dumps(doc) -> bytes:
    """Strict, compact JSON (NaN would not be JSON: contract.py keeps it out of answers)."""
    return json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
