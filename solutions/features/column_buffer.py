"""The watermark buffer of a micro-batch: events waiting for the watermark, kept as columns.

`process_columns` leaves the events it cannot release yet here instead of in the per-event heap
(`FeaturePipeline.buffer`, of (ts, seq, record) entries): building a dict per waiting event, and
arrays again from the dicts when they are released, cost more than the batch's window arithmetic.
The per-event path takes them over first thing (`to_heap`), a micro-batch takes the heap's back
(`from_heap`), so both paths see one buffer.
"""
from __future__ import annotations

import heapq

import numpy as np

from .columns import from_values


class ColumnBuffer:
    """Waiting events: `ts`, `seq` and one array per field, in no particular order."""

    def __init__(self):
        self.ts, self.seq = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        self.columns: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, ts, seq, columns: dict[str, np.ndarray]):
        if len(ts) == 0:
            return
        if len(self.ts) == 0:  # each column keeps its own type (an empty one has none yet)
            self.ts, self.seq, self.columns = ts, seq, dict(columns)
            return
        self.ts, self.seq = np.concatenate([self.ts, ts]), np.concatenate([self.seq, seq])
        self.columns = {name: np.concatenate([a, columns[name]]) for name, a in self.columns.items()}

    def release(self, watermark) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(ts, seq, columns) of the events with ts <= watermark, in arrival (seq) order; the rest stay."""
        out = self.ts <= watermark
        taken = np.flatnonzero(out)
        taken = taken[np.argsort(self.seq[taken], kind="stable")]
        released = self.ts[taken], self.seq[taken], {name: a[taken] for name, a in self.columns.items()}
        if len(taken):
            stay = ~out
            self.ts, self.seq = self.ts[stay], self.seq[stay]
            self.columns = {name: a[stay] for name, a in self.columns.items()}
        return released

    def entries(self) -> list[tuple]:
        """The events as the per-event heap's (ts, seq, record) entries."""
        names = list(self.columns)
        records = [dict(zip(names, row)) for row in zip(*(self.columns[n].tolist() for n in names))]
        return list(zip(self.ts.tolist(), self.seq.tolist(), records))


def from_heap(pipeline, fields) -> ColumnBuffer:
    """The pipeline's column buffer (made on first use), with the per-event heap's waiting events
    moved into it as the columns `fields` (before a micro-batch)."""
    held = pipeline.__dict__.get("column_buffer")
    if held is None:
        held = pipeline.__dict__["column_buffer"] = ColumnBuffer()
    if pipeline.buffer:
        entries, pipeline.buffer[:] = list(pipeline.buffer), []
        held.add(np.array([e[0] for e in entries], dtype=np.int64), np.array([e[1] for e in entries], dtype=np.int64),
                 {name: from_values([e[2][name] for e in entries]) for name in fields})
    return held


def to_heap(pipeline):
    """Move a micro-batch's waiting events into the per-event heap (before any per-event step)."""
    held = pipeline.__dict__.pop("column_buffer", None)
    if held is not None and len(held):
        pipeline.buffer += held.entries()
        heapq.heapify(pipeline.buffer)
