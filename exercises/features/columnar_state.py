# Starter code generated from solutions/features/columnar_state.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""The continuous windows' state after a micro-batch: arrays, turned into per-key objects on demand.

After a micro-batch a group's window state is three arrays (key code, event time, value) sorted
by (code, time, arrival): for every key, exactly the events its per-event window would hold
(ts > the key's latest ts - size). Building a `ContinuousWindowState` per touched key after
every batch would cost more than the batch's arithmetic, so `LazyStates` builds one only when
the per-event path (or a lookup) asks for that key: it is the `entity -> state` dict the
per-event code reads, with `get` and `[]` filling themselves from the arrays. An object, once
built, is the key's state (the per-event path updates it); the next micro-batch folds the
objects back into arrays (`columnar`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .windows import ContinuousWindowState

EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))


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
        inverse, uniques = pd.factorize(keys)
        uniques = uniques.tolist()
        codes = list(map(self.codes.get, uniques))  # one C-level pass; new keys get codes below
        for i, code in enumerate(codes):
            if code is None:
                codes[i] = self.code(uniques[i])
        return np.array(codes, dtype=np.int64)[inverse]


class LazyStates(dict):
    """entity -> ContinuousWindowState; keys not asked for yet live in the arrays `tail`."""

    def __init__(self, size: int, aggregates: list[str], has_value: bool, table: KeyCodes, tail=EMPTY):
        super().__init__()
        self.size, self.aggregates, self.has_value = size, list(aggregates), has_value
        self.table, self.tail = table, tail

    def _build(self, entity):
        code = self.table.codes.get(entity)
        if code is None:
            return None
        codes, ts, values = self.tail
        lo, hi = np.searchsorted(codes, [code, code + 1])
        if lo == hi:
            return None
        state = ContinuousWindowState(self.size, self.aggregates)
        for t, v in zip(ts[lo:hi].tolist(), values[lo:hi].tolist() if self.has_value else [None] * (hi - lo)):
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
        for code in np.unique(self.tail[0]).tolist():
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
        return _rebuild, (self.size, self.aggregates, self.has_value, self.table, self.tail, self.objects())


def _rebuild(size, aggregates, has_value, table, tail, objects):
    states = LazyStates(size, aggregates, has_value, table, tail)
    dict.update(states, objects)
    return states


def columnar(states, keys: KeyCodes) -> tuple:
    """A group's state as (code, ts, value) arrays sorted by (code, ts, arrival), from a plain dict
    of per-event states, a LazyStates, or a mix (its built objects win over its arrays)."""
    objects = states.objects() if isinstance(states, LazyStates) else dict(states)
    tail = states.tail if isinstance(states, LazyStates) else EMPTY
    if not objects:
        return tail
    codes, ts, values = [], [], []
    for entity, state in objects.items():
        code = keys.code(entity)
        for t, v in state.events:
            codes.append(code)
            ts.append(t)
            values.append(0.0 if v is None else v)
    built = np.array(codes, dtype=np.int64)
    keep = ~np.isin(tail[0], built)
    merged = (np.concatenate([tail[0][keep], built]),
              np.concatenate([tail[1][keep], np.array(ts, dtype=np.int64)]),
              np.concatenate([tail[2][keep], np.array(values, dtype=np.float64)]))
    order = np.argsort(merged[0], kind="stable")  # each key's events stay in (ts, arrival) order
    return tuple(a[order] for a in merged)
