# Starter code generated from solutions/features/columnar_state.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""The continuous windows' state between micro-batches: two levels of arrays, objects on demand.

A group's window state is events as (key code, event time, value) arrays sorted by (code, time,
arrival), in two levels, so that a batch costs about its own size, not the whole state's:

- `cold`, the large level, rebuilt now and then: each key's events (some may have left its
  window since, and are skipped by time), with each key's suffix aggregates (`suffix[agg][i]`:
  the aggregate of i and the later events of its key), so that the part of any new event's
  window that lies in `cold` - always a suffix of its key's run - is one binary search away;
- `hot`, the events released since the last rebuild, in which a batch's windows are computed
  from scratch (vectorized.py); once `hot` outgrows a quarter of `cold` the two are merged into
  a new `cold`, keeping exactly the events each key's per-event window would hold
  (ts > the key's latest ts - size). Each event is so copied a few times in all.

Building a `ContinuousWindowState` per touched key after every batch would cost more than the
batch's arithmetic, so `LazyStates` builds one only when the per-event path (or a lookup) asks
for that key: it is the `entity -> state` dict the per-event code reads, with `get` and `[]`
filling themselves from the arrays. An object, once built, is the key's state (the per-event path
updates it); the next micro-batch folds the objects back into arrays (`columnar`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .vectorized import INT64_LIMIT, keep_live, merge_by_key
from .windows import ContinuousWindowState

EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
SUFFIX = {"sum": "cumsum", "max": "cummax", "min": "cummin"}  # the suffix aggregates `cold` keeps


class KeyCodes:
    """A stable integer code per key value (str or int), shared by every group of one key field."""

    def __init__(self):
        self.codes: dict = {}
        self.entities: list = []

    def code(self, entity) -> int:
        code = self.codes.get(entity)
        if code is None:
            code = self.codes[entity] = len(self.entities)
            self.entities.append(entity)
        return code

    def encode(self, keys: np.ndarray) -> np.ndarray:
        """The codes of an array of keys (new keys get new codes)."""
        if len(keys) == 0:
            return np.zeros(0, dtype=np.int64)
        codes = self._index().get_indexer(keys).astype(np.int64, copy=False)  # one hash lookup per key, in C
        missed = np.flatnonzero(codes < 0)  # keys new since the Index was built, or new altogether
        for i, entity in zip(missed.tolist(), keys[missed].tolist()):
            codes[i] = self.code(entity)
        return codes

    def _index(self) -> pd.Index:
        """The entities as a pandas Index (its hash table kept), rebuilt once an eighth of the
        entities are newer than it (until then `encode` finds those in the dict)."""
        index = self.__dict__.get("index")
        if index is None or len(self.entities) - len(index) > len(index) // 8:
            index = self.__dict__["index"] = pd.Index(self.entities, dtype=object)
        return index

    def __getstate__(self):  # the Index is derived: left out of checkpoints
        return {"codes": self.codes, "entities": self.entities}


def suffix_aggregates(cold, aggregates) -> dict[str, np.ndarray]:
    """For every position i of `cold`: each aggregate (sum, max, min) of i and the later events of its key."""
    code, _, values = cold
    if len(code) == 0:
        return {agg: np.zeros(0) for agg in aggregates}
    backwards = pd.Series(values[::-1]).groupby(code[::-1], sort=False)
    return {agg: getattr(backwards, SUFFIX[agg])().to_numpy()[::-1] for agg in aggregates}


def first_after(ts, lo, hi, query_time):
    """For each query, the first position in lo..hi-1 (a run of `ts`, sorted) whose ts > its
    `query_time`, or hi: a binary search per query, all at once, each step halving every range."""
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        right = active & (ts[np.minimum(mid, len(ts) - 1)] <= query_time)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)


class ColumnarWindows:
    """One group's window state as the two levels `cold` (with `suffix`) and `hot`, for features
    with these `aggregates` (names from vectorized.VECTORIZED)."""

    def __init__(self, size: int, aggregates, cold=EMPTY, hot=EMPTY):
        self.size, self.aggregates, self.hot = size, list(aggregates), hot
        wanted = set(aggregates) | ({"sum"} if "mean" in aggregates else set())
        self.kept = [agg for agg in SUFFIX if agg in wanted]  # the suffix aggregates `cold_part` needs
        self.set_cold(cold)

    def set_cold(self, cold):
        code, ts, _ = self.cold = cold
        self.suffix = suffix_aggregates(cold, self.kept)
        # each key code's run in `cold`: run_start[c] .. run_end[c] - 1 (codes born later: empty)
        bounds = np.searchsorted(code, np.arange(int(code[-1]) + 2 if len(code) else 1))
        self.run_start, self.run_end = bounds[:-1], bounds[1:]
        # each key's times shifted into a range of their own (as `vectorized.shifted_times`), so that
        # one searchsorted finds every query's window start; None if int64 cannot hold them
        self.start = int(ts.min()) if len(ts) else 0
        self.span = int(ts.max()) - self.start + 1 if len(ts) else 1
        fits = len(ts) and (int(code[-1]) + 2) * self.span < INT64_LIMIT
        self.shifted = code * self.span + (ts - self.start) if fits else None

    def cold_part(self, code, ts) -> dict[str, np.ndarray]:
        """count and the kept suffix aggregates (sum, max, min) of the `cold` events in each query's
        window (ts - size, ts]: a count of 0 has sum 0, max -inf and min +inf."""
        n = len(self.cold[0])
        empty = {"sum": 0.0, "max": -np.inf, "min": np.inf}
        if n == 0:
            return {"count": np.zeros(len(code), dtype=np.int64), **{a: np.full(len(code), empty[a]) for a in self.kept}}
        known = np.minimum(code, len(self.run_end) - 1)  # a code born since has an empty run
        lo = np.where(code < len(self.run_end), self.run_start[known], 0)
        hi = np.where(code < len(self.run_end), self.run_end[known], 0)
        if self.shifted is not None:
            # a time before the key's first event finds the run's start, one after its last its end
            offset = np.clip(ts - self.size - self.start, -1, self.span - 1)
            first = np.clip(np.searchsorted(self.shifted, code * self.span + offset, "right"), lo, hi)
        else:
            first = first_after(self.cold[1], lo, hi, ts - self.size)
        some = hi > first
        at = np.minimum(first, n - 1)
        out = {"count": hi - first}
        for agg in self.kept:
            out[agg] = np.where(some, self.suffix[agg][at], empty[agg])
        return out

    def settle(self, hot):
        """Keep `hot` (the level with this batch's events in it); merge the levels once it has grown."""
        if len(hot[0]) > len(self.cold[0]) // 4:
            merged, _ = merge_by_key(self.cold, hot)
            live = keep_live(merged[0], merged[1], self.size)
            self.set_cold(tuple(a[live] for a in merged))
            self.hot = EMPTY
        else:
            self.hot = hot

    def events_of(self, code):
        """The key's (ts, value) arrays, exactly those its per-event window would hold."""
        parts = []
        for level in (self.cold, self.hot):
            lo, hi = np.searchsorted(level[0], [code, code + 1])
            parts.append((level[1][lo:hi], level[2][lo:hi]))
        ts, values = np.concatenate([parts[0][0], parts[1][0]]), np.concatenate([parts[0][1], parts[1][1]])
        live = ts > ts.max() - self.size if len(ts) else np.zeros(0, dtype=bool)
        return ts[live], values[live]

    def codes(self) -> np.ndarray:
        return np.union1d(self.cold[0], self.hot[0])

    def __reduce__(self):  # the suffix aggregates and runs are derived: left out of checkpoints
        return ColumnarWindows, (self.size, self.aggregates, self.cold, self.hot)


class LazyStates(dict):
    """entity -> ContinuousWindowState; keys not asked for yet live in the arrays `windows`."""

    def __init__(self, size: int, aggregates: list[str], has_value: bool, table: KeyCodes, windows=None):
        super().__init__()
        self.size, self.aggregates, self.has_value = size, list(aggregates), has_value
        self.table = table
        self.windows = ColumnarWindows(size, aggregates) if windows is None else windows

    def _build(self, entity):
        code = self.table.codes.get(entity)
        if code is None:
            return None
        ts, values = self.windows.events_of(code)
        if len(ts) == 0:
            return None
        state = ContinuousWindowState(self.size, self.aggregates)
        for t, v in zip(ts.tolist(), values.tolist() if self.has_value else [None] * len(ts)):
            state.add(t, v)
        dict.__setitem__(self, entity, state)  # from now on the object is this key's state
        return state

    def get(self, entity, default=None):
        state = dict.get(self, entity)
        if state is None:
            state = self._build(entity)
        return default if state is None else state

    def __missing__(self, entity):  # dict's [] calls it for a key it does not hold yet
        state = self._build(entity)
        if state is None:
            raise KeyError(entity)
        return state

    def __contains__(self, entity):
        return self.get(entity) is not None

    def _build_all(self):
        for code in self.windows.codes().tolist():
            entity = self.table.entities[code]
            if not dict.__contains__(self, entity):
                self._build(entity)

    # anything that walks the whole dict sees every key
    def __iter__(self):
        self._build_all()
        return dict.__iter__(self)

    def __len__(self):
        self._build_all()
        return dict.__len__(self)

    def keys(self):
        self._build_all()
        return dict.keys(self)

    def items(self):
        self._build_all()
        return dict.items(self)

    def values(self):
        self._build_all()
        return dict.values(self)

    def objects(self) -> dict:
        """The keys built as objects so far (without building any)."""
        return {entity: dict.__getitem__(self, entity) for entity in dict.keys(self)}

    def __reduce__(self):  # a checkpoint keeps the arrays as arrays
        return _rebuild, (self.size, self.aggregates, self.has_value, self.table, self.windows, self.objects())


def _rebuild(size, aggregates, has_value, table, windows, objects):
    states = LazyStates(size, aggregates, has_value, table, windows)
    dict.update(states, objects)
    return states


def columnar(states, keys: KeyCodes, size: int, aggregates) -> ColumnarWindows:
    """A group's state as `ColumnarWindows`, from a plain dict of per-event states, a LazyStates, or
    a mix (its built objects win over its arrays: then the levels are merged into one)."""
    objects = states.objects() if isinstance(states, LazyStates) else dict(states)
    windows = states.windows if isinstance(states, LazyStates) else ColumnarWindows(size, aggregates)
    if not objects:
        return windows
    codes, ts, values = [], [], []
    for entity, state in objects.items():
        code = keys.code(entity)
        for t, v in state.events:
            codes.append(code)
            ts.append(t)
            values.append(0.0 if v is None else v)
    built = np.array(codes, dtype=np.int64)
    merged, _ = merge_by_key(windows.cold, windows.hot)
    keep = ~np.isin(merged[0], built)
    merged = (np.concatenate([merged[0][keep], built]),
              np.concatenate([merged[1][keep], np.array(ts, dtype=np.int64)]),
              np.concatenate([merged[2][keep], np.array(values, dtype=np.float64)]))
    order = np.argsort(merged[0], kind="stable")  # each key's events stay in (ts, arrival) order
    return ColumnarWindows(size, aggregates, tuple(a[order] for a in merged))
