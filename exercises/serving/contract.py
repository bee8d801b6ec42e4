# Starter code generated from solutions/serving/contract.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""What every predictor must return, and the tensor datatype names of what it returns.

The server calls `predictor.predict(X)` with a float32 matrix of n rows and expects n outputs of one
shape, numbers (or strings) that JSON can carry. A model that breaks this (NaN or infinity, a ragged
or non-numeric answer, the wrong number of rows) is a model error: `CheckedPredictor` raises
`BadModelOutput` from inside the batch, so the batcher's failure isolation fails exactly the rows
whose outputs are bad, each is answered 500 and counted `error`, never "ok" followed by a response
that cannot be written.
"""
from __future__ import annotations

import numpy as np

# numpy dtype -> Open Inference Protocol tensor datatype (what the wire says must be what the model gave)
DATATYPES = {np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "UINT8", np.dtype(np.uint16): "UINT16",
             np.dtype(np.uint32): "UINT32", np.dtype(np.uint64): "UINT64", np.dtype(np.int8): "INT8",
             np.dtype(np.int16): "INT16", np.dtype(np.int32): "INT32", np.dtype(np.int64): "INT64",
             np.dtype(np.float16): "FP16", np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64"}


class BadModelOutput(RuntimeError):
    """The model answered something the protocol cannot carry (the message says what)."""


def datatype_of(dtype: np.dtype) -> str:
    """The protocol's name for a numpy dtype; strings are BYTES. Anything else is a BadModelOutput."""
    dtype = np.dtype(dtype)
    if dtype.kind in "US":
        return "BYTES"
    if dtype not in DATATYPES:
        raise BadModelOutput(f"outputs of dtype {dtype} have no protocol datatype")
    return DATATYPES[dtype]


def as_tensor(outputs, rows: int, label: str = "the model") -> np.ndarray:
    """The outputs of `rows` rows stacked into one array [rows, ...], or BadModelOutput naming the problem."""
    try:
        count = len(outputs)
    except TypeError:
        raise BadModelOutput(f"{label} returned a {type(outputs).__name__}, not one output per row") from None
    if count != rows:
        raise BadModelOutput(f"{label} returned {count} outputs for {rows} rows")
    try:
        arr = np.asarray(outputs)
    except (ValueError, TypeError) as err:  # ragged rows
        raise BadModelOutput(f"{label} returned outputs of different shapes ({err})") from None
    datatype_of(arr.dtype)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr.reshape(rows, -1))).any(axis=1).sum()) if rows else 0
        raise BadModelOutput(f"{label} returned NaN or infinity for {bad} of {rows} rows (JSON cannot carry them)")
    return arr


class CheckedPredictor:
    """Wraps a predictor so that every answer keeps the contract above; other attributes pass through."""

    def __init__(self, inner, label: str):
        self.inner = inner
        self.label = label

    def predict(self, X):
        outputs = self.inner.predict(X)
        as_tensor(outputs, len(X), self.label)
        return outputs

    def __getattr__(self, attr):  # .estimator, .module, .flavor of the wrapped predictor
        if attr == "inner":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)


def output_schema(outputs, rows: int) -> dict:
    """The metadata of a model's output tensor from one answer: datatype and shape (-1: the rows)."""
    arr = as_tensor(outputs, rows)
    return {"name": "output-0", "datatype": datatype_of(arr.dtype), "shape": [-1, *arr.shape[1:]]}
