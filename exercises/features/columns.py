# Starter code generated from solutions/features/columns.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""The columnar boundary: a batch of events as named 1-D numpy arrays, in and out.

Accepted in: a dict of equal-length arrays or lists, a pandas DataFrame, a pyarrow Table or
RecordBatch. A `ts` column may hold integer milliseconds or datetimes (`datetime64` of any
unit, tz-aware, pyarrow timestamps), converted exactly as everywhere else (`asof.event_ms`).
Out: a dict of numpy arrays (`pandas.DataFrame(out)` makes a frame of it). Converting to one
dict per event and back costs more than the window arithmetic itself, so a fast path keeps
the columns; `row_dicts` builds records only for the few events that need one (dead letters,
late events, events left waiting in the watermark buffer).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .asof import event_ms


def _arrow_numpy(values):
    try:
        return values.to_numpy(zero_copy_only=False)
    except TypeError:  # a ChunkedArray takes no zero_copy_only
        return values.to_numpy()


def _array(name: str, values) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        if name == "ts" and pd.api.types.is_datetime64_any_dtype(values):
            return event_ms(values, "ts")
        return values.to_numpy()
    if type(values).__module__.startswith("pyarrow"):
        if values.null_count:  # a missing value is None, as in a record (to_numpy would make NaN of it)
            values = values.to_pylist()
        else:
            values = _arrow_numpy(values)
    if isinstance(values, np.ndarray):
        array = values
    else:
        # a list: keep Python's types (np.asarray would turn True into 1 and [1, "a"] into strings)
        array = np.empty(len(values), dtype=object)
        array[:] = list(values)
        inferred = pd.api.types.infer_dtype(array, skipna=False)
        if inferred in ("integer", "floating", "datetime64", "datetime"):
            array = pd.Series(list(values)).to_numpy()
    if name == "ts" and (array.dtype.kind == "M" or pd.api.types.infer_dtype(array) in ("datetime", "datetime64")):
        return event_ms(array, "ts")
    if array.ndim != 1:
        raise ValueError(f"column {name!r} must be one-dimensional, got shape {array.shape}")
    return array


def as_columns(columns) -> tuple[dict[str, np.ndarray], int]:
    """(name -> 1-D array, number of rows) from a dict of arrays, a DataFrame or a pyarrow table."""
    if isinstance(columns, pd.DataFrame):
        items = [(str(name), columns[name]) for name in columns.columns]
    elif type(columns).__module__.startswith("pyarrow") and hasattr(columns, "column_names"):
        items = [(name, columns.column(name)) for name in columns.column_names]
    elif isinstance(columns, Mapping):
        items = list(columns.items())
    else:
        raise TypeError("columns must be a dict of equal-length arrays, a pandas DataFrame or a pyarrow Table, "
                        f"got {type(columns).__name__}")
    out = {}
    for name, values in items:
        if not isinstance(name, str):
            raise TypeError(f"column names must be strings, got {name!r}")
        out[name] = _array(name, values)
    lengths = {name: len(a) for name, a in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns must have equal lengths, got {lengths}")
    return out, next(iter(lengths.values()), 0)


def row_dicts(columns: dict[str, np.ndarray], rows) -> list[dict]:
    """One record (a dict of Python values) per index in `rows`, as the per-event path takes them."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return []
    names = list(columns)
    values = [columns[name][rows].tolist() for name in names]
    return [dict(zip(names, row)) for row in zip(*values)]


def from_values(values: list) -> np.ndarray:
    """A list of Python values as an array: int64, float64, or objects (strings, mixed types)."""
    if not values:
        return np.zeros(0)
    array = pd.Series(values).to_numpy()
    return array


def rows_to_columns(rows: list[dict], names) -> dict[str, np.ndarray]:
    """Per-event rows (dicts) as columns."""
    return {name: from_values([row[name] for row in rows]) for name in names}
