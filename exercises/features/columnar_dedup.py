# Starter code generated from solutions/features/columnar_dedup.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""De-duplication for micro-batches: the remembered ids as runs of arrays sorted by a hash of the id.

The per-event `Deduplicator` (dedup.py) keeps a dict and a deque: an insert, a lookup and, later,
a delete in Python per event, about a microsecond, more than a micro-batch's whole window
arithmetic. `ColumnarDedup` keeps the same remembered ids as runs: arrays sorted by a 64-bit hash
of the id (`pandas.util.hash_array`), with the event time, the order the id was remembered in and
the id itself. Each batch's ids become a run, merged into the previous run while that one spans
less than a sixteenth of the horizon in event time, so there are about 16 runs of similar times.
A batch looks its ids up with one searchsorted per run, and a hash match is confirmed by comparing
the ids themselves, so a collision never makes a new event a duplicate. The rule is dedup.py's:
an id is a duplicate while its remembered `ts + horizon > watermark`, checked on the time itself;
memory follows the watermark a run at a time (a run is dropped once its latest id has expired).

The per-event path reads `dedup.ids` and `dedup.expiry`: the first read builds the dict and the
deque from the arrays and turns the object back into a plain `Deduplicator`, so per-event
processing after a batch pays nothing extra. `to_columnar` goes the other way at a batch's start.
Ids are hashed by their text, so only str and int ids (no bools or floats, which Python's dict
would equate with ints) take this path; others keep the dict.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from .dedup import Deduplicator
from .vectorized import merge_by_key

NONE = np.iinfo(np.int64).min // 4  # "no remembered time"; room left to subtract durations from it
# a prefilter: one flag per value of a hash's top 22 bits, set for every remembered id, so most new
# ids are ruled out by one array read instead of a binary search per run
PREFILTER_SHIFT = np.uint64(64 - 22)


def safe_ids(ids: np.ndarray) -> bool:
    """Whether every id is a str or an int (not a bool), so that hashing its text is exact here."""
    kind = pd.api.types.infer_dtype(ids, skipna=False)
    return kind in ("string", "integer") or (kind == "mixed-integer" and
                                             all(type(x) is str or type(x) is int for x in ids))


def hashes(ids: np.ndarray) -> np.ndarray:
    return pd.util.hash_array(ids.astype(object), categorize=False)


def _run(h: np.ndarray, ts: np.ndarray, order: np.ndarray, ids: np.ndarray) -> tuple:
    """A run (hash, ts, order, id) sorted by hash."""
    by_hash = np.argsort(h, kind="stable")
    return h[by_hash], ts[by_hash].astype(np.int64), order[by_hash].astype(np.int64), ids[by_hash]


class ColumnarDedup(Deduplicator):
    """A Deduplicator whose remembered ids are arrays; reading `ids` or `expiry` makes it a plain one.

    `runs`: runs (hash, ts, order, id) sorted by hash, oldest first; `spans[i]`: the (min, max)
    event time of run i. `present`, the prefilter, is derived from the runs and left out of
    checkpoints; dropping a run leaves its flags set (a stale flag only sends a lookup on to the
    runs) until the ids dropped since the last fill outnumber the remembered ones."""

    def _fill_prefilter(self):
        present = np.zeros(1 << 22, dtype=bool)
        for run in self.runs:
            present[run[0] >> PREFILTER_SHIFT] = True
        self.__dict__.update(present=present, stale=0)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("present", "stale")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._fill_prefilter()

    def _materialize(self):
        runs = self.runs
        orders = np.concatenate([r[2] for r in runs]) if runs else np.zeros(0, dtype=np.int64)
        by_order = np.argsort(orders, kind="stable")  # as they were remembered
        ts = np.concatenate([r[1] for r in runs])[by_order].tolist() if runs else []
        ident = np.concatenate([r[3] for r in runs])[by_order].tolist() if runs else []
        state = self.__dict__
        for name in ("runs", "spans", "next_order", "last_sweep", "present", "stale"):
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
        if len(rows) == 0:
            return found
        hr = h[rows]
        for rh, rts, rorder, rids in self.runs:
            at = np.searchsorted(rh, hr)
            hit = np.flatnonzero(rh[np.minimum(at, len(rh) - 1)] == hr)
            for k in hit.tolist():  # confirm by the id itself (several ids may share a hash)
                r, i = int(rows[k]), int(at[k])
                while i < len(rh) and rh[i] == h[r]:
                    if rorder[i] > best[r] and rids[i] == ids[r]:
                        best[r], found[r] = rorder[i], rts[i]
                    i += 1
        return found

    def remember_all(self, ids: np.ndarray, h: np.ndarray, ts: np.ndarray):
        if len(ids) == 0:
            return
        order = self.next_order + np.arange(len(ids), dtype=np.int64)
        self.next_order += len(ids)
        run, span = _run(h, ts, order, ids), (int(ts.min()), int(ts.max()))
        self.present[h >> PREFILTER_SHIFT] = True
        if self.runs and self.spans[-1][1] - self.spans[-1][0] < max(1, self.horizon // 16):
            last = self.spans[-1]
            merged, _ = merge_by_key(self.runs[-1], run)  # the two runs as one, sorted by hash
            self.runs[-1], self.spans[-1] = merged, (min(last[0], span[0]), max(last[1], span[1]))
        else:
            self.runs.append(run)
            self.spans.append(span)

    def due(self, watermark) -> bool:
        return watermark >= self.last_sweep + max(1, self.horizon // 16)

    def expire(self, watermark):
        """Drop the runs whose every id has ts + horizon <= watermark (no longer a duplicate of anything)."""
        self.last_sweep = watermark
        keep = [span[1] + self.horizon > watermark for span in self.spans]
        if all(keep):
            return
        self.stale += sum(len(run[0]) for run, k in zip(self.runs, keep) if not k)
        self.runs = [run for run, k in zip(self.runs, keep) if k]
        self.spans = [span for span, k in zip(self.spans, keep) if k]
        if self.stale > len(self):
            self._fill_prefilter()

    def __len__(self) -> int:
        return sum(len(run[0]) for run in self.runs)


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
    dedup.runs = [_run(hashes(ids), ts, order, ids)] if len(ids) else []
    dedup.spans = [(int(ts.min()), int(ts.max()))] if len(ids) else []
    dedup.next_order = len(ids)
    dedup.last_sweep = watermark
    dedup._fill_prefilter()
    return dedup
