# Starter code generated from solutions/features/columnar_dedup.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""De-duplication for micro-batches: the remembered ids as arrays sorted by a hash of the id.

The per-event `Deduplicator` (dedup.py) keeps a dict and a deque: an insert, a lookup and, later,
a delete in Python per event, about a microsecond, more than a micro-batch's whole window
arithmetic. `ColumnarDedup` keeps the same remembered ids as arrays sorted by a 64-bit hash of the
id (`pandas.util.hash_array`), with the event time, the id itself and the order it was remembered
in, in two sorted runs (a large one and a small one that new ids are merged into, merged into the
large one when it grows past a quarter of it). A batch looks its ids up with one searchsorted per
run, and a hash match is confirmed by comparing the ids themselves, so a collision never makes a
new event a duplicate. The rule is dedup.py's: an id is a duplicate while its remembered
`ts + horizon > watermark`; ids past that are swept out of the arrays every sixteenth of a horizon.

The per-event path reads `dedup.ids` and `dedup.expiry`: the first read builds the dict and the
deque from the arrays and turns the object back into a plain `Deduplicator`, so per-event
processing after a batch pays nothing extra. `to_columnar` goes the other way at a batch's start.
Ids are hashed by their text, so only str and int ids (no bools or floats, which Python's dict
would equate with ints) take this path; others keep the dict.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
import pandas as pd

from .dedup import Deduplicator

NONE = np.iinfo(np.int64).min // 4  # "no remembered time"; room left to subtract durations from it


def safe_ids(ids: np.ndarray) -> bool:
    """Whether every id is a str or an int (not a bool), so that hashing its text is exact here."""
    kind = pd.api.types.infer_dtype(ids, skipna=False)
    return kind in ("string", "integer") or (kind == "mixed-integer" and
                                             all(type(x) is str or type(x) is int for x in ids))


def hashes(ids: np.ndarray) -> np.ndarray:
    return pd.util.hash_array(ids.astype(object), categorize=False)


def _merge(a: tuple, b: tuple) -> tuple:
    """Two runs (hash, ts, order) sorted by hash, merged into one."""
    if len(b[0]) == 0:
        return a
    pos = np.searchsorted(a[0], b[0], side="right") + np.arange(len(b[0]))
    is_b = np.zeros(len(a[0]) + len(b[0]), dtype=bool)
    is_b[pos] = True
    out = []
    for x, y in zip(a, b):
        z = np.empty(len(is_b), dtype=x.dtype)
        z[pos] = y
        z[~is_b] = x
        out.append(z)
    return tuple(out)


def _run(h: np.ndarray, ts: np.ndarray, order: np.ndarray) -> tuple:
    by_hash = np.argsort(h, kind="stable")
    return h[by_hash], ts[by_hash].astype(np.int64), order[by_hash].astype(np.int64)


EMPTY_RUN = (np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
# a prefilter: one flag per value of a hash's top 22 bits, set for every remembered id, so most new
# ids are ruled out by one array read instead of two binary searches
PREFILTER_SHIFT = np.uint64(64 - 22)


class ColumnarDedup(Deduplicator):
    """A Deduplicator whose remembered ids are arrays; reading `ids` or `expiry` makes it a plain one.

    `big`, `small`: runs (hash, ts, order) sorted by hash. The ids themselves sit in the list
    `idents` in the order they were remembered, `ident_orders[i]` being the order of `idents[i]`
    (the list is compacted once it holds twice as many ids as are still remembered).
    `present`, the prefilter, is derived from the runs and left out of checkpoints."""

    def _fill_prefilter(self):
        present = np.zeros(1 << 22, dtype=bool)
        for run in (self.big, self.small):
            present[run[0] >> PREFILTER_SHIFT] = True
        self.__dict__["present"] = present

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "present"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._fill_prefilter()

    def ident_of(self, order) -> object:
        return self.idents[int(np.searchsorted(self.ident_orders, order))]

    def _materialize(self):
        runs = (self.big, self.small)
        orders = np.concatenate([r[2] for r in runs])
        by_order = np.argsort(orders, kind="stable")  # as they were remembered
        ts = np.concatenate([r[1] for r in runs])[by_order].tolist()
        at = np.searchsorted(self.ident_orders, orders[by_order]).tolist()
        idents = self.idents
        ident = [idents[i] for i in at]
        state = self.__dict__
        for name in ("big", "small", "next_order", "last_sweep", "idents", "ident_orders", "present"):
            del state[name]
        self.__class__ = Deduplicator
        state["ids"] = dict(zip(ident, ts))  # a later remembering of an id overwrites the earlier
        state["expiry"] = deque(zip(ts, ident))

    @property
    def ids(self):
        self._materialize()
        return self.__dict__["ids"]

    @property
    def expiry(self):
        self._materialize()
        return self.__dict__["expiry"]

    # ------------------------------------------------------------ the batch side
    def lookup(self, ids: np.ndarray, h: np.ndarray) -> np.ndarray:
        """The remembered time of each id (the latest remembering), or NONE."""
        found = np.full(len(ids), NONE, dtype=np.int64)
        best = np.full(len(ids), -1, dtype=np.int64)
        rows = np.flatnonzero(self.present[h >> PREFILTER_SHIFT])  # the others were never remembered
        hr = h[rows]
        for rh, rts, rorder in (self.big, self.small):
            if len(rh) == 0 or len(rows) == 0:
                continue
            at = np.searchsorted(rh, hr)
            hit = np.flatnonzero(rh[np.minimum(at, len(rh) - 1)] == hr)
            for k in hit.tolist():  # confirm by the id itself (several ids may share a hash)
                r, i = int(rows[k]), int(at[k])
                while i < len(rh) and rh[i] == h[r]:
                    if rorder[i] > best[r] and self.ident_of(rorder[i]) == ids[r]:
                        best[r], found[r] = rorder[i], rts[i]
                    i += 1
        return found

    def remember_all(self, ids: np.ndarray, h: np.ndarray, ts: np.ndarray):
        order = self.next_order + np.arange(len(ids), dtype=np.int64)
        self.next_order += len(ids)
        self.idents.extend(ids.tolist())
        self.ident_orders = np.concatenate([self.ident_orders, order])
        self.small = _merge(self.small, _run(h, ts, order))
        self.present[h >> PREFILTER_SHIFT] = True
        if len(self.small[0]) > len(self.big[0]) // 4 + 4096:
            self.big, self.small = _merge(self.big, self.small), EMPTY_RUN

    def due(self, watermark) -> bool:
        return watermark >= self.last_sweep + max(1, self.horizon // 16)

    def expire(self, watermark):
        """Drop the ids with ts + horizon <= watermark (they are no longer duplicates of anything)."""
        self.last_sweep = watermark
        if watermark == math.inf:
            self.big = self.small = EMPTY_RUN
        else:
            self.big, self.small = (tuple(a[run[1] + self.horizon > watermark] for a in run)
                                    for run in (self.big, self.small))
        self._fill_prefilter()
        alive = len(self)
        if len(self.idents) > 2 * alive + 1024:  # compact: each id is copied once per halving
            orders = np.sort(np.concatenate([self.big[2], self.small[2]]))
            at = np.searchsorted(self.ident_orders, orders).tolist()
            idents = self.idents
            self.idents, self.ident_orders = [idents[i] for i in at], orders

    def __len__(self) -> int:
        return len(self.big[0]) + len(self.small[0])


def to_columnar(dedup: Deduplicator, watermark) -> ColumnarDedup | None:
    """`dedup` itself, turned columnar (None if its ids are not all str or int: then it stays a dict)."""
    if isinstance(dedup, ColumnarDedup):
        return dedup
    items = dedup.ids
    ids = np.empty(len(items), dtype=object)
    ids[:] = list(items)
    if len(ids) and not safe_ids(ids):
        return None
    ts = np.fromiter(items.values(), dtype=np.int64, count=len(items))
    state = dedup.__dict__
    del state["ids"], state["expiry"]
    dedup.__class__ = ColumnarDedup
    order = np.arange(len(ids), dtype=np.int64)
    dedup.big, dedup.small = _run(hashes(ids), ts, order), EMPTY_RUN
    dedup.idents, dedup.ident_orders = ids.tolist(), order
    dedup.next_order = len(ids)
    dedup.last_sweep = watermark
    dedup._fill_prefilter()
    return dedup
