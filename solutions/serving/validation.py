"""What the server accepts as one example, and as the examples (rows) of one request.

Pure functions: they either return float32 arrays ready for the model or raise InvalidInput
(HTTP 422) naming the field and the problem.
"""
from __future__ import annotations

import numpy as np

from .errors import InvalidInput

FLOAT32_MAX = float(np.finfo(np.float32).max)


def validate_features(inputs, dim: int, field_name: str = "inputs") -> np.ndarray:
    """One example as a float32 vector of length `dim`, or InvalidInput naming what is wrong."""
    if isinstance(inputs, (str, bytes, dict)) or not hasattr(inputs, "__len__"):
        raise InvalidInput(field_name, f"expected a list of {dim} numbers, got {type(inputs).__name__}")
    try:
        x = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(field_name, f"expected {dim} numbers; found a value that is not a number") from None
    if x.ndim != 1 or x.shape[0] != dim:
        raise InvalidInput(field_name, f"expected {dim} numbers, got shape {list(x.shape)}")
    if not np.isfinite(x).all():
        raise InvalidInput(field_name, "contains NaN or infinity")
    return as_float32(x, field_name)


def as_float32(x: np.ndarray, field_name: str) -> np.ndarray:
    """`x` (finite) as float32, or InvalidInput if a value is beyond float32's range (it would become inf)."""
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    if not np.isfinite(x32).all():
        raise InvalidInput(field_name, f"a value is beyond the float32 range (magnitude over {FLOAT32_MAX:.4g})")
    return x32


def validate_rows(rows, dim: int, *, max_rows: int | None = None) -> np.ndarray:
    """The examples of one request as a float32 matrix [n, dim], or InvalidInput naming the bad one.

    `rows` is a non-empty list, tuple or 2-D array of examples. The field named is "inputs" for a
    request of one example and "inputs[i]" for example i of several. More than `max_rows` examples
    (more than the queue could ever hold at once) is refused as well.
    """
    if isinstance(rows, np.ndarray) and rows.ndim == 2 and rows.dtype.kind in "fiu" and 0 < len(rows) \
            and rows.shape[1] == dim and (max_rows is None or len(rows) <= max_rows) and np.isfinite(rows).all() \
            and (rows.dtype == np.float32 or (np.abs(rows) <= FLOAT32_MAX).all()):  # finite float32 is in range
        return rows.astype(np.float32)  # already a clean matrix (copied: the caller may reuse it)
    if isinstance(rows, (str, bytes, dict)) or not isinstance(rows, (list, tuple, np.ndarray)) or len(rows) == 0:
        raise InvalidInput("inputs", "expected a non-empty list of examples")
    if max_rows is not None and len(rows) > max_rows:
        raise InvalidInput("inputs", f"{len(rows)} examples in one request, more than the queue can hold "
                                     f"({max_rows}): send at most {max_rows} per request")
    if len(rows) == 1:
        return validate_features(rows[0], dim)[None, :]
    return np.stack([validate_features(row, dim, f"inputs[{i}]") for i, row in enumerate(rows)])
