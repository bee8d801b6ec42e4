"""`process_columns`: a micro-batch in as columns, every released event's own row out as columns.

The same pipeline, the same rules as `process` / `process_batch`, with numpy doing the windows:

- Every row counts toward `offset`; a malformed row goes to `dead_letters` as (record, reason)
  with the reason `validate` gives (a column the features need that is missing altogether is a
  ValueError naming it: that is a wrong schema, not a bad record).
- De-duplication, arrival numbers `seq` and the watermark follow the stream row by row, exactly
  as `admit` does. The remembered ids are kept as arrays (columnar_dedup.py); only the rows whose
  id was remembered or repeats within the batch are checked one by one, and for the others the
  watermark before each row is a running maximum.
- An event behind the watermark goes to the `late` sink, as continuous features never take it.
  On-time events wait for the watermark, as columns (column_buffer.py; the per-event path takes
  them into its heap first thing); every waiting event with `ts <= watermark` is released, in
  (ts, seq) order, and gets its row.
- The rows' continuous features are computed for all released events at once (vectorized.py),
  and each group's window state is left as arrays that the per-event path reads through
  `LazyStates` (columnar_state.py). So per-event and batched calls mix freely: any split of a
  stream into `process`, `process_batch` and `process_columns` calls gives the same rows (count,
  min, max and last exactly; sums and means to rounding) and the same side outputs and counts.

Vectorized: pipelines whose features are all continuous with aggregates in
`vectorized.VECTORIZED` (count, sum, mean, min, max, last of a numeric field). Anything else
(tumbling, sliding or session windows; var, std, distinct) runs `process_batch` on the rows, with
the same columns in and out. Out: a dict of numpy arrays `{"event_id", "ts", "seq", <key and
value fields>, <continuous features>}`, one entry per released event in (ts, seq) order; counts
int64, the other features float64. `pandas.DataFrame(out)` makes it a frame.
"""
from __future__ import annotations

import gc
import math

import numpy as np
import pandas as pd

from .column_buffer import from_heap
from .columnar_dedup import NONE, hashes, safe_ids, to_columnar
from .columnar_state import KeyCodes, LazyStates, columnar
from .columns import as_columns, row_dicts, rows_to_columns
from .definitions import LateEvent
from .vectorized import VECTORIZED, combine, merge_by_key, window_features

HIGH = np.iinfo(np.int64).max // 4  # the watermark after flush (+inf) as an int64 (NONE: -inf)
# what pandas' type scan of a column of objects must say for every row to be well formed
# ("mixed-integer" is not: it may hide a None or a bool among the ints)
SURE = {"ts": ("integer",), "key": ("string", "integer"), "number": ("integer", "floating"),
        "present": ("string", "integer", "floating", "mixed-integer-float", "bytes", "boolean")}


def vectorizable(pipeline) -> bool:
    """Whether `process_columns` computes this pipeline's rows with numpy (else it runs process_batch)."""
    return not pipeline.windowed and all(f.agg in VECTORIZED and (f.value is None or f.value in
                                                                   pipeline.numeric_fields)
                                          for f in pipeline.features)


def output_names(pipeline) -> list[str]:
    return ["event_id", "ts", "seq", *pipeline.row_fields, *pipeline.continuous_names]


def process_columns(pipeline, columns) -> dict[str, np.ndarray]:
    """Process a batch given as columns (dict of arrays, DataFrame, pyarrow Table); rows as columns."""
    # the remembered ids and buffered records are many small objects that never form cycles: a
    # cyclic-GC pass over them would cost more than the batch (as in batch.py)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _process_columns(pipeline, columns)
    finally:
        if gc_was_enabled:
            gc.enable()


def _process_columns(pipeline, columns):
    cols, n = as_columns(columns)
    missing = [name for name in pipeline.required if name not in cols]
    if missing:
        raise ValueError(f"columns: missing {missing}; this pipeline's records need {list(pipeline.required)}")
    if not vectorizable(pipeline):
        return rows_to_columns(pipeline.process_batch(row_dicts(cols, np.arange(n))), output_names(pipeline))
    ok, ts, values = _validate(pipeline, cols, n)
    admitted, before = _admit(pipeline, cols, ok, ts)
    on_time = ts[admitted] >= before
    seq = pipeline.seq + np.arange(len(admitted), dtype=np.int64)
    pipeline.seq += len(admitted)
    late = admitted[~on_time]
    names = tuple(f.name for f in pipeline.features)
    for record in row_dicts(cols, late):
        pipeline.emit_late(LateEvent(record, "too late", names))
    _count(pipeline.stats, records=n, accepted=int(on_time.sum()), late_dropped=len(late))
    pipeline.offset += n
    return _release(pipeline, cols, admitted[on_time], seq[on_time], ts, values)


def flush_columns(pipeline) -> dict[str, np.ndarray]:
    """`flush()` with the rows as columns: end of stream, every buffered event released."""
    if not vectorizable(pipeline):
        return rows_to_columns(pipeline.flush(), output_names(pipeline))
    pipeline.clock = math.inf
    pipeline.dedup.expire(math.inf)
    empty = np.zeros(0, dtype=np.int64)
    return _release(pipeline, {}, empty, empty, empty, {})


def _count(stats, **counts):
    for name, k in counts.items():
        if k:
            stats[name] += k


# ---------------------------------------------------------------- validation
def _fast_ok(kind: str, a: np.ndarray) -> np.ndarray:
    """Rows that are surely well formed for a column of this kind; the rest go through `validate`."""
    if a.dtype.kind == "O":
        # one C-level scan of the types first: a column of only str (or int) objects is fine as it is
        inferred = pd.api.types.infer_dtype(a, skipna=False)
        if inferred in SURE[kind]:
            return np.isfinite(a.astype(np.float64)) if inferred == "floating" else np.ones(len(a), dtype=bool)
        test = {"ts": lambda x: type(x) is int, "key": lambda x: type(x) is str or type(x) is int,
                "number": lambda x: (type(x) is float and x - x == 0.0) or type(x) is int,
                "present": lambda x: x is not None}[kind]
        return np.fromiter(map(test, a), dtype=bool, count=len(a))
    if kind == "present":
        return np.ones(len(a), dtype=bool)
    if a.dtype.kind not in {"ts": "iu", "key": "iuU", "number": "iuf"}[kind]:
        return np.zeros(len(a), dtype=bool)
    if kind == "number" and a.dtype.kind == "f":
        return np.isfinite(a)
    return np.ones(len(a), dtype=bool)


def _validate(p, cols, n):
    """(valid rows mask, ts as int64, {numeric field: float64 values}); dead letters emitted."""
    ok = _fast_ok("ts", cols["ts"])
    for name in p.required:
        if name != "ts":
            kind = "key" if name in p.key_fields else "number" if name in p.numeric_fields else "present"
            ok &= _fast_ok(kind, cols[name])
    bad = np.flatnonzero(~ok)
    dead = 0
    for i, record in zip(bad.tolist(), row_dicts(cols, bad)):
        reason = p.validate(record)
        if reason is None:
            ok[i] = True  # well formed after all, e.g. an int amount in a column of objects
        else:
            p.emit_dead_letter((record, reason))
            dead += 1
    _count(p.stats, dead_letter=dead)
    ts = _typed(cols["ts"], ok, np.int64, int)
    values = {name: _typed(cols[name], ok, np.float64, float) for name in p.numeric_fields}
    return ok, ts, values


def _typed(a, ok, dtype, convert):
    if a.dtype.kind in "iuf":
        with np.errstate(invalid="ignore"):  # NaN or inf in a row that is a dead letter anyway
            return a.astype(dtype)
    return np.array([convert(x) if good else 0 for x, good in zip(a.tolist(), ok.tolist())], dtype=dtype)


# ----------------------------------------------------------------- admission
def _admit(p, cols, ok, ts):
    """De-duplicate and advance the watermark row by row, as `admit` does. Returns the admitted
    rows (indices into the batch) and the watermark each saw as it arrived (int64)."""
    rows = np.flatnonzero(ok)
    ids = cols["event_id"][rows].astype(object)
    dedup = to_columnar(p.dedup, p.clock) if len(rows) and safe_ids(ids) else None
    if dedup is None:
        return _admit_one_by_one(p, rows, ids.tolist(), ts[rows].tolist())
    t, ooo = ts[rows], p.max_out_of_orderness
    h = hashes(ids)
    seen = dedup.lookup(ids, h)
    # only a row whose id was seen before, or shares its hash with another row of the batch, can be
    # a duplicate; every other row is admitted, so the watermark before a row is a running maximum
    maybe = (seen != NONE) | pd.Index(h).duplicated(keep=False)
    start = NONE if p.clock == -math.inf else HIGH if p.clock == math.inf else p.clock
    base = NONE if p.max_ts is None else p.max_ts
    admitted = np.ones(len(rows), dtype=bool)
    duplicates = 0
    if maybe.any():
        sure = np.maximum.accumulate(np.where(maybe, NONE, t))  # max time of the surely admitted rows so far
        before_sure = np.concatenate([[NONE], sure[:-1]])
        local, top = {}, base  # ids admitted in this batch; max time of the admitted maybe-rows
        cand = np.flatnonzero(maybe)
        for r, event_id, tr, remembered, prior in zip(cand.tolist(), ids[cand].tolist(), t[cand].tolist(),
                                                     seen[cand].tolist(), before_sure[cand].tolist()):
            latest = max(prior, top)
            clock = start if latest == NONE else max(start, latest - ooo)
            remembered = local.get(event_id, remembered)
            if remembered != NONE and remembered + dedup.horizon > clock:
                admitted[r] = False
                duplicates += 1
            else:
                local[event_id] = tr
                top = max(top, tr)
    t = t[admitted]
    if len(t) == 0:
        _count(p.stats, duplicates=duplicates)
        return rows[admitted], np.zeros(0, dtype=np.int64)
    running = np.maximum(np.maximum.accumulate(t), base)
    after = np.maximum(running - ooo, start)
    before = np.concatenate([[start], after[:-1]])
    dedup.remember_all(ids[admitted], h[admitted], t)
    p.max_ts = int(running[-1])
    p.clock = max(p.clock, int(after[-1]))
    if dedup.due(p.clock):
        dedup.expire(p.clock)
    _count(p.stats, duplicates=duplicates)
    return rows[admitted], before


def _admit_one_by_one(p, rows, ids, times):
    """`admit`'s de-duplication and watermark, row by row (ids that are not all str or int)."""
    keep, before, duplicates = [], [], 0
    dedup = p.dedup
    for j, (event_id, t) in enumerate(zip(ids, times)):
        clock = p.clock
        if dedup.is_duplicate(event_id, clock):
            duplicates += 1
            continue
        dedup.remember(event_id, t)
        p.max_ts = t if p.max_ts is None or t > p.max_ts else p.max_ts
        p.clock = max(clock, p.max_ts - p.max_out_of_orderness)
        if dedup.due(p.clock):
            dedup.expire(p.clock)
        keep.append(j)
        before.append(NONE if clock == -math.inf else HIGH if clock == math.inf else clock)
    _count(p.stats, duplicates=duplicates)
    return rows[np.array(keep, dtype=np.int64)], np.array(before, dtype=np.int64)


# ------------------------------------------------------------------- release
def _release(p, cols, rows, seq, ts, values) -> dict[str, np.ndarray]:
    """Buffer the batch's on-time `rows`, release everything the watermark has passed, compute rows."""
    if p.clock > p.watermark:
        p.watermark = p.clock
    watermark = p.watermark
    t = ts[rows]
    now = t <= watermark if watermark != math.inf else np.ones(len(rows), dtype=bool)
    fields = sorted({"event_id", *p.row_fields})
    held = from_heap(p, fields)
    old_ts, old_seq, old = held.release(watermark)
    wait = rows[~now]
    held.add(t[~now], seq[~now], {name: cols[name][wait] for name in fields} if cols else {})
    new = rows[now]
    column = {}
    for name in fields:
        fresh = values[name][new] if name in values else cols[name][new] if cols else np.zeros(0)
        if len(old_ts):
            fresh = np.concatenate([_typed(old[name], np.ones(len(old_ts), dtype=bool), np.float64, float)
                                    if name in p.numeric_fields else old[name], fresh])
        column[name] = fresh
    rel_ts = np.concatenate([old_ts, t[now]])
    rel_seq = np.concatenate([old_seq, seq[now]])
    order = np.argsort(rel_ts, kind="stable")  # release order (ts, seq): the buffer's events come first, by seq
    out = {"event_id": column["event_id"][order], "ts": rel_ts[order], "seq": rel_seq[order]}
    for name in p.row_fields:
        out[name] = column[name][order]
    for group, feats in p.groups.items():
        key_field, value_field, size = group
        result = _window_group(p, group, feats, out[key_field], out["ts"],
                               out[value_field] if value_field else np.zeros(len(order)))
        for f in feats:
            out[f.name] = result[f.agg]
    return out


def _window_group(p, group, feats, keys, ts, values) -> dict[str, np.ndarray]:
    """One group's features for released events (in release order), updating its window state."""
    key_field, value_field, size = group
    aggregates = [f.agg for f in feats]
    m = len(ts)
    if m == 0:
        return {a: np.zeros(0, dtype=np.int64 if a == "count" else np.float64) for a in aggregates}
    table = p.__dict__.setdefault("key_codes", {}).setdefault(key_field, KeyCodes())
    codes = table.encode(keys)
    states = p.continuous_state[group]
    by_key = np.argsort(codes, kind="stable")  # (ts, seq) order within each key
    new = (codes[by_key], ts[by_key], values[by_key].astype(np.float64))
    windows = columnar(states, table, size, aggregates)
    hot, positions = merge_by_key(windows.hot, new)
    wanted = list(dict.fromkeys(aggregates + (["count", "sum"] if "mean" in aggregates else [])))
    computed = combine(window_features(*hot, positions, size, wanted), windows.cold_part(new[0], new[1]), aggregates)
    windows.settle(hot)
    result = {}
    for a, v in computed.items():
        result[a] = np.empty(m, dtype=np.int64 if a == "count" else np.float64)
        result[a][by_key] = v
    if isinstance(states, LazyStates):
        dict.clear(states)  # the objects built since the last batch are folded into the arrays
        states.windows = windows
    else:
        p.continuous_state[group] = LazyStates(size, aggregates, value_field is not None, table, windows)
    p.touched[group].update(map(table.entities.__getitem__, np.unique(codes).tolist()))
    return result
