"""De-duplication with bounded memory: event ids are remembered for an event-time horizon.

An at-least-once source delivers some records twice. Remembering every id forever makes the
state (and every checkpoint) grow with the stream, so an id is remembered only while its
event time `ts` satisfies `ts + horizon > watermark`. A repeat of a remembered id is a
duplicate; a repeat after that is a new event (by then it is far behind the watermark, and
the pipeline's default horizon makes it too late for every window that could take it).
"""
from __future__ import annotations

from collections import deque


class Deduplicator:
    def __init__(self, horizon: int):
        self.horizon = horizon
        # sweep once the front is due by a sixteenth of the horizon: one call frees a run of ids
        # instead of one call per event, for at most 1/16 more memory
        self.sweep_after = horizon + max(1, horizon // 16)
        self.ids: dict = {}  # event_id -> event time of its remembered delivery
        # (ts, event_id) in arrival order, which is event-time order up to the stream's disorder, so
        # the front is (about) the next to expire. An entry behind one with a later time waits for
        # it; `is_duplicate` checks the time itself, so that wait costs memory, never exactness.
        self.expiry: deque = deque()

    def is_duplicate(self, event_id, watermark) -> bool:
        """Whether `event_id` belongs to a remembered event: delivered before, with ts + horizon > watermark."""
        ts = self.ids.get(event_id)
        return ts is not None and ts + self.horizon > watermark

    def remember(self, event_id, ts: int):
        self.ids[event_id] = ts
        self.expiry.append((ts, event_id))

    def due(self, watermark) -> bool:
        """Whether `expire(watermark)` would free a sweep's worth of ids."""
        return bool(self.expiry) and self.expiry[0][0] + self.sweep_after <= watermark

    def expire(self, watermark):
        """Free the ids with ts + horizon <= watermark from the front: memory follows the watermark."""
        expiry, ids, horizon = self.expiry, self.ids, self.horizon
        while expiry and expiry[0][0] + horizon <= watermark:
            _, event_id = expiry.popleft()
            ts = ids.get(event_id)  # a later delivery may have re-remembered the id with its own time
            if ts is not None and ts + horizon <= watermark:
                del ids[event_id]

    def __len__(self) -> int:
        return len(self.ids)
