# Starter code generated from solutions/features/admission.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""The source half of the pipeline: validate, de-duplicate, number each event, compute the watermark.

The source decides nothing about lateness beyond "on time" (`ts >= watermark`) or "behind the
watermark": whether a window still takes an event behind it depends on the window state,
which lives in the operator (operator.py), as in Flink where the window operator, not the
source, drops late data. With key-partitioned workers (parallel.py) the parent runs only
this half and ships each admitted event with the watermark before and after it.
"""
from __future__ import annotations

import math

ON_TIME, BEHIND = "on_time", "behind_watermark"


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class Source:
    """Mixin of FeaturePipeline: needs `required`, `key_fields`, `numeric_fields`, `dedup`,
    `max_out_of_orderness`, the counters (`offset`, `seq`, `max_ts`, `clock`, `stats`) and
    `emit_dead_letter`."""

    def validate(self, record) -> str | None:
        """Why `record` is malformed, or None if it can be processed."""
        if not isinstance(record, dict):
            return f"record must be a dict, got {type(record).__name__}"
        for field in self.required:
            if record.get(field) is None:
                return f"missing field {field!r}"
        ts = record["ts"]
        if type(ts) is not int and (not isinstance(ts, int) or isinstance(ts, bool)):
            return f"ts must be integer milliseconds, got {type(ts).__name__}"
        for field in self.key_fields:
            key = record[field]
            if type(key) is not str and (not isinstance(key, (str, int)) or isinstance(key, bool)):
                return f"key field {field!r} must be a string or int, got {type(key).__name__}"
        for field in self.numeric_fields:
            x = record[field]
            if not _is_number(x):
                return f"value field {field!r} must be a number, got {type(x).__name__} {x!r}"
            if not math.isfinite(x):
                return f"value field {field!r} must be finite, got {x!r}"
        return None

    def admit(self, record):
        """Validate, de-duplicate and number one record; classify it against the watermark.

        Returns (event, seq, ON_TIME | BEHIND, watermark_before, watermark_after) for an event
        the operator must see, or None when the record was a dead letter or a duplicate.

        Every record counts (`offset` and stats["records"] += 1). A malformed one (`validate` says
        why) goes to `emit_dead_letter((record, reason))`, counted in stats["dead_letter"]; one that
        `self.dedup.is_duplicate(event_id, <watermark before it>)` counts in stats["duplicates"].
        Otherwise `self.dedup.remember(event_id, ts)`; the event is ON_TIME if ts >= the watermark
        before it (`self.clock`), else BEHIND; `max_ts` and then the watermark, `max(clock, max_ts -
        max_out_of_orderness)`, move on (never back), `self.dedup.expire(clock)` when
        `self.dedup.due(clock)`; the event takes `self.seq` (then += 1); an ON_TIME one counts in
        stats["accepted"].
        """
        self.offset += 1
        self.stats["records"] += 1
        reason = self.validate(record)
        if reason is not None:
            self.emit_dead_letter((record, reason))
            self.stats["dead_letter"] += 1
            return None
        before = self.clock
        event_id, ts = record["event_id"], record["ts"]
        if self.dedup.is_duplicate(event_id, before):
            self.stats["duplicates"] += 1
            return None
        self.dedup.remember(event_id, ts)
        kind = ON_TIME if ts >= before else BEHIND
        self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)
        self.clock = max(self.clock, self.max_ts - self.max_out_of_orderness)  # never moves back
        if self.dedup.due(self.clock):
            self.dedup.expire(self.clock)
        seq = self.seq
        self.seq += 1
        if kind == ON_TIME:
            self.stats["accepted"] += 1  # an event behind the watermark is counted where windows decide on it
        return record, seq, kind, before, self.clock
