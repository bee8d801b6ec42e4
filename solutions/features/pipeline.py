"""FeaturePipeline: declarative features over an out-of-order stream, driven by a watermark.

Exact semantics (each kept true by a test in tests/ex4_features/):

- Every input record counts toward `offset` (the replay position a checkpoint stores).
  A malformed record goes to `dead_letters` as (record, reason) and is applied nowhere.
  A record whose `event_id` was already accepted is a duplicate: counted in
  `stats["duplicates"]`, applied once (ids are remembered for the pipeline's life).
- Each accepted event gets the next arrival sequence number `seq` (0, 1, ...).
- The watermark is the largest event time accepted so far minus `max_out_of_orderness`
  (-inf before the first event); it never moves back.
- On time: `ts >= watermark` (the watermark as the event arrives). The event waits in a
  buffer and is applied to every feature once `ts <= watermark`, in (ts, seq) order, so
  continuous features see exactly the stream sorted by (event time, arrival).
- Late but allowed: `watermark - allowed_lateness <= ts < watermark`. Applied at once to
  the tumbling / sliding / session features, whose windows are kept that long; a window
  that already fired re-emits its result with `update=True`. Continuous features never
  take a late event (their per-event rows are final once emitted), so when the pipeline
  has any, the event also goes to the late side output naming them.
- Too late: `ts < watermark - allowed_lateness`. Side output `late` (reason, and every
  feature named as having dropped it), applied nowhere. Nothing is dropped silently.
- A window `[start, end)` fires when `watermark >= end`, appending a `WindowResult` to
  `fired`; its state is kept until `watermark >= end + allowed_lateness`.
- `process(record)` returns the feature rows this record released, one per released
  event in (ts, seq) order: {"event_id", "ts", "seq", <key fields>, <continuous
  features>}. With `max_out_of_orderness=0` and in-order input that is exactly this
  event's own row. `flush()` ends the stream: watermark +inf, everything released and fired.
- `process_batch(records)` is `process` applied to each record in turn (same rows, side
  outputs and state), run as one inlined loop: the throughput path.
"""
from __future__ import annotations

import gc
import heapq
import math
import pickle
from collections import Counter
from dataclasses import dataclass

from .aggregates import make_aggregate
from .windows import ContinuousWindow, ContinuousWindowState, SessionWindow, SlidingWindow, TumblingWindow, to_ms

WINDOW_TYPES = (ContinuousWindow, TumblingWindow, SlidingWindow, SessionWindow)
FIRE, PURGE = 0, 1
ON_TIME, LATE_ALLOWED = "on_time", "late_allowed"


@dataclass(frozen=True)
class Feature:
    """`agg` of event field `value` per `key` over `window`; `value=None` only for count."""
    name: str
    key: str
    value: str | None
    agg: str
    window: object

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"feature name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.key, str) or not self.key:
            raise TypeError(f"feature {self.name!r}: key must be the name of an event field, got {self.key!r}")
        make_aggregate(self.agg)
        if self.value is None and self.agg != "count":
            raise ValueError(f"feature {self.name!r}: aggregate {self.agg!r} needs a value field")
        if not isinstance(self.window, WINDOW_TYPES):
            raise TypeError(f"feature {self.name!r}: window must be one of "
                            f"{[w.__name__ for w in WINDOW_TYPES]}, got {type(self.window).__name__}")

    @property
    def continuous(self) -> bool:
        return isinstance(self.window, ContinuousWindow)


@dataclass(frozen=True)
class WindowResult:
    feature: str
    key: object
    start: int
    end: int
    value: object
    update: bool  # True when a late event changed a window that had already fired


@dataclass(frozen=True)
class LateEvent:
    event: dict
    reason: str
    dropped_by: tuple  # names of the features that did not apply it


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class FeaturePipeline:
    def __init__(self, features, max_out_of_orderness=0, allowed_lateness=0):
        self.features = list(features)
        names = [f.name for f in self.features]
        if not self.features:
            raise ValueError("a pipeline needs at least one Feature")
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be unique, got {names}")
        self.max_out_of_orderness = to_ms(max_out_of_orderness)
        self.allowed_lateness = to_ms(allowed_lateness)
        if self.max_out_of_orderness < 0 or self.allowed_lateness < 0:
            raise ValueError("max_out_of_orderness and allowed_lateness must be >= 0")
        # continuous features sharing (key, value field, size) share one window of events; a count
        # (no value field) joins a window of the same key and size if there is one
        self.groups: dict[tuple, list[Feature]] = {}
        self.group_of: dict[str, tuple] = {}
        continuous = [f for f in self.features if f.continuous]
        for f in sorted(continuous, key=lambda f: f.value is None):
            group = (f.key, f.value, f.window.size)
            if f.value is None:
                group = next((g for g in self.groups if g[0] == f.key and g[2] == f.window.size), group)
            self.groups.setdefault(group, []).append(f)
            self.group_of[f.name] = group
        self.windowed = [f for f in self.features if not f.continuous]
        self.continuous_names = tuple(f.name for f in self.features if f.continuous)
        self.fields = sorted({f.key for f in self.features} | {f.value for f in self.features if f.value})
        self.key_fields = sorted({f.key for f in self.features})
        # a row carries the event's keys and the values its continuous features read, so the offline
        # history can re-evaluate a window at any time (feature_store.py) exactly as online reads do
        self.row_fields = sorted({f.key for f in self.features} | {f.value for f in continuous if f.value})
        self.numeric_fields = sorted({f.value for f in self.features if f.value and f.agg not in ("distinct", "last")})
        self.required = ("event_id", "ts", *self.fields)
        # source side: what the watermark and de-duplication need
        self.offset = 0
        self.seq = 0
        self.max_ts = None
        self.clock = -math.inf  # the watermark as the source computes it
        self.seen: set = set()
        self.dead_letters: list[tuple[dict, str]] = []
        self.late: list[LateEvent] = []
        self.stats = Counter()
        # operator side: buffered events, window state, timers, outputs
        self.watermark = -math.inf
        self.buffer: list = []  # heap of (ts, seq, event)
        self.continuous_state = {g: {} for g in self.groups}  # group -> entity -> ContinuousWindowState
        self.window_state = {f.name: {} for f in self.windowed}  # name -> entity -> {(start, end): [agg, fired, ever]}
        self.timers: list = []  # heap of (time, FIRE|PURGE, number, name, entity, start, end)
        self.timer_seq = 0
        self.fired: list[WindowResult] = []
        self.touched: set = set()  # (group, entity) changed since the last drain_touched()

    # ---------------------------------------------------------------- source side
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
        """Validate, de-duplicate and classify one record against the watermark.

        Returns (event, seq, kind, watermark_before, watermark_after) for an event to
        apply, or None when the record went to a side output or was a duplicate.
        """
        self.offset += 1
        self.stats["records"] += 1
        reason = self.validate(record)
        if reason is not None:
            self.dead_letters.append((record, reason))
            self.stats["dead_letter"] += 1
            return None
        if record["event_id"] in self.seen:
            self.stats["duplicates"] += 1
            return None
        self.seen.add(record["event_id"])
        ts = record["ts"]
        before = self.clock
        kind = ON_TIME if ts >= before else self.classify_late(record, before)
        if kind is None:
            return None
        self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)
        self.clock = max(self.clock, self.max_ts - self.max_out_of_orderness)  # never moves back
        seq = self.seq
        self.seq += 1
        self.stats["accepted"] += 1
        return record, seq, kind, before, self.clock

    def classify_late(self, record, watermark):
        """An event behind the watermark (ts < watermark): LATE_ALLOWED, or None when dropped.

        Within allowed lateness (ts >= watermark - allowed_lateness): count it in
        stats["late_allowed"]; if the pipeline has continuous features also put a
        LateEvent(record, "behind the watermark", <continuous feature names>) in `late`,
        and return LATE_ALLOWED. Beyond it: LateEvent(record, "beyond allowed lateness",
        <every feature name>) in `late`, count stats["late_dropped"], return None.
        """
        # BEGIN SOLUTION [4.5] watermark, lateness and the late side output (section 5)
        # HINT: nothing is dropped silently: every event not applied everywhere lands in self.late.
        if record["ts"] < watermark - self.allowed_lateness:
            self.late.append(LateEvent(record, "beyond allowed lateness", tuple(f.name for f in self.features)))
            self.stats["late_dropped"] += 1
            return None
        self.stats["late_allowed"] += 1
        if self.continuous_names:
            self.late.append(LateEvent(record, "behind the watermark", self.continuous_names))
        return LATE_ALLOWED
        # END SOLUTION

    # -------------------------------------------------------------- operator side
    def apply(self, event, seq, kind, watermark_before, watermark_after) -> list[dict]:
        """Apply one admitted event (the operator half of `process`); returns released rows."""
        rows = self.advance(watermark_before) if watermark_before > self.watermark else []
        if kind == ON_TIME:
            heapq.heappush(self.buffer, (event["ts"], seq, event))
        else:
            for f in self.windowed:
                self._apply_windowed(f, event)
            self._fire()
        return rows + self.advance(watermark_after)

    def advance(self, watermark) -> list[dict]:
        """Move the watermark forward (never back), release buffered events, fire windows."""
        if watermark > self.watermark:
            self.watermark = watermark
        rows = []
        buffer = self.buffer
        while buffer and buffer[0][0] <= self.watermark:
            ts, seq, event = heapq.heappop(buffer)
            rows.append(self._apply_on_time(event, ts, seq))
        if self.timers and self.timers[0][0] <= self.watermark:
            self._fire()
        return rows

    def _apply_on_time(self, event, ts, seq) -> dict:
        row = {"event_id": event["event_id"], "ts": ts, "seq": seq}
        for field in self.row_fields:
            row[field] = event[field]
        touched = self.touched
        for group, feats in self.groups.items():
            key_field, value_field, size = group
            entity = event[key_field]
            states = self.continuous_state[group]
            state = states.get(entity)
            if state is None:
                state = states[entity] = ContinuousWindowState(size, [f.agg for f in feats])
            results = state.add(ts, event[value_field] if value_field else None)
            for f, r in zip(feats, results):
                row[f.name] = r
            touched.add((group, entity))
        for f in self.windowed:
            self._apply_windowed(f, event)
        return row

    def _apply_windowed(self, f: Feature, event):
        entity = event[f.key]
        value = event[f.value] if f.value else None
        windows = self.window_state[f.name].setdefault(entity, {})
        if isinstance(f.window, SessionWindow):
            self._apply_session(f, entity, windows, event["ts"], value)
            return
        for start, end in f.window.assign(event["ts"]):
            slot = windows.get((start, end))
            if slot is None:  # admit() lets no event through whose window was already purged
                slot = windows[(start, end)] = [make_aggregate(f.agg), False, False]
                self._timer(end, FIRE, f.name, entity, start, end)
            slot[0].add(value)
            if slot[1]:
                self.fired.append(WindowResult(f.name, entity, start, end, slot[0].result(), True))

    def _apply_session(self, f: Feature, entity, windows: dict, ts: int, value):
        """Open [ts, ts + gap) and merge every session of this key that overlaps it.

        `windows` maps (start, end) -> [aggregate, fired, ever_fired]. Replace the overlapping
        sessions and the new proto-session (aggregate `proto`) by one entry keyed (min start,
        max end) whose aggregate merges them in start order, with fired=False and
        ever_fired = any(ever_fired of the merged), and schedule it with
        `self._timer(end, FIRE, f.name, entity, start, end)` (timers of removed keys are ignored).
        """
        start, end = f.window.assign(ts)[0]
        proto = make_aggregate(f.agg)
        proto.add(value)
        # BEGIN SOLUTION [4.6] merge overlapping sessions (section 6)
        # HINT: [s, e) and [start, end) overlap when s < end and start < e; merge in start order.
        overlapping = sorted(k for k in windows if k[0] < end and start < k[1])
        pieces = sorted([((start, end), proto)] + [(k, windows[k][0]) for k in overlapping], key=lambda p: p[0])
        merged = make_aggregate(f.agg)
        for _, agg in pieces:
            merged.merge(agg)
        ever_fired = any(windows[k][2] for k in overlapping)
        for k in overlapping:
            del windows[k]
        key = (min(p[0][0] for p in pieces), max(p[0][1] for p in pieces))
        windows[key] = [merged, False, ever_fired]
        self._timer(key[1], FIRE, f.name, entity, key[0], key[1])
        # END SOLUTION

    def _timer(self, time, kind, name, entity, start, end):
        # the running number keeps the heap from ever comparing entities (keys may mix str and int)
        self.timer_seq += 1
        heapq.heappush(self.timers, (time, kind, self.timer_seq, name, entity, start, end))

    def _fire(self):
        while self.timers and self.timers[0][0] <= self.watermark:
            _, kind, _, name, entity, start, end = heapq.heappop(self.timers)
            windows = self.window_state[name].get(entity)
            slot = windows.get((start, end)) if windows else None
            if slot is None:
                continue  # merged into a larger session, or already purged
            if kind == FIRE:
                if slot[1]:
                    continue
                self.fired.append(WindowResult(name, entity, start, end, slot[0].result(), slot[2]))
                slot[1] = slot[2] = True
                self._timer(end + self.allowed_lateness, PURGE, name, entity, start, end)
            else:
                del windows[(start, end)]
                if not windows:
                    del self.window_state[name][entity]

    # ------------------------------------------------------------------- the API
    def process(self, record) -> list[dict]:
        admitted = self.admit(record)
        return [] if admitted is None else self.apply(*admitted)

    def process_batch(self, records) -> list[dict]:
        """Exactly `process` applied to each record in turn, returning all released rows.

        The hot path: the same steps as admit/apply/advance, inlined into one loop with
        the feature definitions read once per batch instead of once per event. The cheap
        type checks accept the common well-formed record; anything else goes through
        `validate`, so dead-letter reasons are the same as `process` gives. Rare paths
        (late events) call the general methods. Tested equal to `process` one record at a
        time, side outputs and state included (tests/ex4_features/test_batch_equivalence.py).
        """
        # Every row dict stays alive until the caller drops the list, so CPython's cyclic GC
        # would rescan a growing heap of objects that can never form a cycle (~20% of the
        # loop at 1M events). Pause it for the batch; it is restored even on error.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._process_batch(records)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _process_batch(self, records) -> list[dict]:
        rows: list[dict] = []
        emit = rows.append
        stats, seen, buffer, timers, touched = self.stats, self.seen, self.buffer, self.timers, self.touched
        heappush, heappop = heapq.heappush, heapq.heappop
        ooo = self.max_out_of_orderness
        key_fields = tuple(self.key_fields)
        row_fields = tuple(self.row_fields)
        numeric_fields = tuple(self.numeric_fields)
        other_fields = tuple(f for f in self.required if f not in self.key_fields and f not in self.numeric_fields
                             and f != "ts")
        groups = [(key_field, value_field, tuple(f.name for f in feats), self.continuous_state[group], size,
                   [f.agg for f in feats], group)
                  for group, feats in self.groups.items() for key_field, value_field, size in [group]]
        windowed = self.windowed
        records_n = accepted_n = duplicates_n = dead_n = 0
        try:
            for record in records:
                self.offset += 1
                records_n += 1
                # ---- validate: the cheap exact-type checks, else the full `validate`
                ok = type(record) is dict
                if ok:
                    ts = record.get("ts")
                    ok = type(ts) is int
                    for field in other_fields:
                        if record.get(field) is None:
                            ok = False
                    for field in key_fields:
                        kt = type(record.get(field))
                        if kt is not str and kt is not int:
                            ok = False
                    for field in numeric_fields:
                        x = record.get(field)
                        if type(x) is not float or x - x != 0.0:  # x - x is nan for nan and +-inf
                            ok = False
                if not ok:
                    reason = self.validate(record)
                    if reason is not None:
                        self.dead_letters.append((record, reason))
                        dead_n += 1
                        continue
                    ts = record["ts"]
                # ---- de-duplicate, classify against the watermark
                event_id = record["event_id"]
                if event_id in seen:
                    duplicates_n += 1
                    continue
                seen.add(event_id)
                before = self.clock
                if ts >= before:
                    kind = ON_TIME
                else:
                    kind = self.classify_late(record, before)
                    if kind is None:
                        continue
                max_ts = self.max_ts
                if max_ts is None or ts > max_ts:
                    self.max_ts = max_ts = ts
                after = max_ts - ooo
                if after > before:
                    self.clock = after
                else:
                    after = before
                seq = self.seq
                self.seq = seq + 1
                accepted_n += 1
                # ---- apply (the operator half)
                if kind != ON_TIME or windowed or before > self.watermark:
                    rows += self.apply(record, seq, kind, before, after)
                    continue
                heappush(buffer, (ts, seq, record))
                watermark = self.watermark
                if after > watermark:
                    self.watermark = watermark = after
                while buffer and buffer[0][0] <= watermark:
                    ts, seq, event = heappop(buffer)
                    row = {"event_id": event["event_id"], "ts": ts, "seq": seq}
                    for field in row_fields:
                        row[field] = event[field]
                    for key_field, value_field, names, states, size, aggs, group in groups:
                        entity = event[key_field]
                        state = states.get(entity)
                        if state is None:
                            state = states[entity] = ContinuousWindowState(size, aggs)
                        row.update(zip(names, state.add(ts, event[value_field] if value_field else None)))
                        touched.add((group, entity))
                    emit(row)
                if timers and timers[0][0] <= watermark:
                    self._fire()
        finally:
            if records_n:
                stats["records"] += records_n
            if accepted_n:
                stats["accepted"] += accepted_n
            if duplicates_n:
                stats["duplicates"] += duplicates_n
            if dead_n:
                stats["dead_letter"] += dead_n
        return rows

    def flush(self) -> list[dict]:
        """End of stream: release every buffered event and fire every window."""
        self.clock = math.inf
        return self.advance(math.inf)

    def take_fired(self) -> list[WindowResult]:
        out, self.fired = self.fired, []
        return out

    def drain_touched(self) -> set:
        out, self.touched = self.touched, set()
        return out

    def window_events(self, feature: Feature, entity) -> list[tuple[int, object]]:
        """The (ts, value) pairs now inside a continuous feature's window for `entity`."""
        state = self.continuous_state[self.group_of[feature.name]].get(entity)
        return list(state.events) if state else []

    def window_value(self, feature: Feature, entity):
        """A continuous feature's value for `entity` as of that entity's latest applied event."""
        group = self.group_of[feature.name]
        state = self.continuous_state[group][entity]
        return state.results()[self.groups[group].index(feature)]

    # ------------------------------------------------------------- checkpointing
    def checkpoint(self) -> bytes:
        """Everything a restarted pipeline needs to continue as if it never stopped.

        Returns pickled {"format": "features-pipeline/1", "state": {attribute: value}}; `restore`
        puts `state` back into a fresh object's __dict__, so every attribute left out comes back missing.
        """
        # BEGIN SOLUTION [4.8] checkpoint the pipeline state (section 8)
        # HINT: the replay offset, the watermark, the buffered (unreleased) events, the window
        # HINT: state and timers, the ids seen so far and the side outputs: miss one and a
        # HINT: restarted run loses or double-applies events.
        state = dict(vars(self))
        return pickle.dumps({"format": "features-pipeline/1", "state": state}, protocol=pickle.HIGHEST_PROTOCOL)
        # END SOLUTION

    @classmethod
    def restore(cls, blob: bytes) -> "FeaturePipeline":
        """A pipeline in exactly the state `checkpoint()` saved; resume from `.offset`."""
        data = pickle.loads(blob)
        if not isinstance(data, dict) or data.get("format") != "features-pipeline/1":
            raise ValueError("not a features-pipeline/1 checkpoint")
        pipeline = cls.__new__(cls)
        pipeline.__dict__.update(data["state"])
        return pipeline
