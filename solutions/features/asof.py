"""The one as-of join behind both the stream-table join and point-in-time history.

For each left row (key, ts) pick, among right rows of the same key, the one with
the latest feature time `right_ts <= ts` (both ends of the TTL range inclusive:
`ts - ttl <= right_ts <= ts`), ties between equal feature times broken by the
later creation time. With `created_before=True` a right row is also invisible
until it was written (`created <= ts`): a value computed late for an early
feature time must not leak into a training row that predates its writing.
Never a value from the future. Pure numpy, O((n + m) log(n + m)).
"""
from __future__ import annotations

import numpy as np


def event_ms(column, name: str = "ts") -> np.ndarray:
    """Event times as int64 milliseconds since the epoch, the unit of every feature time here.

    Integers are taken as milliseconds; datetimes (naive ones read as UTC, or tz-aware) are
    converted. Anything else is refused naming `name`: a datetime cast straight to int64 gives
    nanoseconds, a million times later than any feature time, and silently joins the future.
    """
    import pandas as pd

    series = pd.Series(column)
    if pd.api.types.is_datetime64_any_dtype(series):
        if series.isna().any():
            raise ValueError(f"{name}: missing timestamps at rows {list(series.index[series.isna()][:5])}")
        if series.dt.tz is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return series.astype("datetime64[ms]").astype("int64").to_numpy()
    if pd.api.types.is_integer_dtype(series):
        return series.to_numpy(dtype=np.int64)
    raise TypeError(f"{name} must hold integer milliseconds or datetimes, got {series.dtype}")


def _codes(left_keys, right_keys):
    """Integer codes for keys, shared by both sides (keys only need == and hashing)."""
    table: dict = {}
    left = np.fromiter((table.setdefault(k, len(table)) for k in left_keys), dtype=np.int64, count=len(left_keys))
    right = np.fromiter((table.setdefault(k, len(table)) for k in right_keys), dtype=np.int64,
                        count=len(right_keys))
    return left, right


def asof_indices(left_keys, left_ts, right_keys, right_ts, right_created=None, ttl=None,
                 created_before: bool = False) -> np.ndarray:
    """For each left row, the index of the chosen right row, or -1 when none qualifies."""
    left_ts = np.asarray(left_ts, dtype=np.int64)
    right_ts = np.asarray(right_ts, dtype=np.int64)
    if len(left_keys) != len(left_ts) or len(right_keys) != len(right_ts):
        raise ValueError("each side needs one timestamp per key")
    created = right_ts if right_created is None else np.asarray(right_created, dtype=np.int64)
    if len(created) != len(right_ts):
        raise ValueError("right_created needs one creation time per right row")
    if len(left_ts) == 0 or len(right_ts) == 0:
        return np.full(len(left_ts), -1, dtype=np.int64)
    left_code, right_code = _codes(list(left_keys), list(right_keys))
    # BEGIN SOLUTION [4.7] point-in-time as-of join (section 7)
    # HINT: a right row becomes visible at v = ts (or max(ts, created) with created_before);
    # HINT: sort right rows by (key, v), keep a running "best so far" by (ts, created) within each key,
    # HINT: and for each left row binary-search the last right row of its key with v <= left ts.
    visible = np.maximum(right_ts, created) if created_before else right_ts
    m = len(right_ts)
    # rank of every right row by (ts, created): "better" = later feature time, then later creation
    by_quality = np.lexsort((created, right_ts))
    quality = np.empty(m, dtype=np.int64)
    quality[by_quality] = np.arange(m)
    order = np.lexsort((quality, visible, right_code))  # by key, then visibility time
    # times -> dense ranks so that (key, time) packs into one sortable int64
    times, inverse = np.unique(np.concatenate([visible[order], left_ts]), return_inverse=True)
    span = len(times) + 1
    right_packed = right_code[order] * span + inverse[:m]
    left_packed = left_code * span + inverse[m:]
    # best quality seen so far within each key (codes ascend, so offsetting by code*m keeps keys apart)
    best = np.maximum.accumulate(right_code[order] * m + quality[order]) - right_code[order] * m
    pos = np.searchsorted(right_packed, left_packed, side="right") - 1
    found = pos >= 0
    found[found] = right_code[order][pos[found]] == left_code[found]
    chosen = np.full(len(left_ts), -1, dtype=np.int64)
    chosen[found] = by_quality[best[pos[found]]]
    if ttl is not None:
        too_old = chosen >= 0
        too_old[too_old] = right_ts[chosen[too_old]] < left_ts[too_old] - int(ttl)
        chosen[too_old] = -1
    return chosen
    # END SOLUTION
