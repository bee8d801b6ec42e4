"""FeaturePipeline: declarative features over an out-of-order stream, driven by a watermark.

Exact semantics (each kept true by a test in tests/ex4_features/):

- Every input record counts toward `offset` (the replay position a checkpoint stores).
  A malformed record goes to the `dead_letters` sink as (record, reason), applied nowhere.
- De-duplication: a record whose `event_id` belongs to a remembered event is a duplicate,
  counted in `stats["duplicates"]` and applied once. An event is remembered while
  `ts + dedup_horizon > watermark`; the default horizon, allowed lateness + the longest
  window (a session counts its gap), forgets an id only once no tumbling, sliding or
  continuous window could take the event again. A session still open around an old event
  could (sessions have no fixed length): raise the horizon if that matters.
- Each admitted event (valid, not a duplicate) gets the next arrival sequence number `seq`.
- The watermark is the largest event time admitted so far minus `max_out_of_orderness`
  (-inf before the first event); it never moves back.
- On time: `ts >= watermark` (the watermark as the event arrives). The event waits in a
  buffer and is applied to every feature once `ts <= watermark`, in (ts, seq) order, so
  continuous features see exactly the stream sorted by (event time, arrival).
- Behind the watermark: Flink's rule, per window (operator.py). A tumbling or sliding window
  `[start, end)` still takes the event while `end + allowed_lateness > watermark`; a session
  merges first and takes it if the merged session is not late. A window that already fired
  fires again with `update=True`. Continuous features never take it: their per-event rows
  are final once emitted. The late sink gets every event some feature did not take
  (`LateEvent(event, reason, dropped_by)`); nothing is dropped silently.
- A window fires when `watermark >= end`, sending a `WindowResult` to the `fired` sink; its
  state is kept until `watermark >= end + allowed_lateness`. A window aggregate folds events
  in the order they reach it: on-time events in (ts, seq) order, an event behind the
  watermark when it arrives, and a session merge folds the merged sessions in start order
  and the new event last. So `last` is the value the window took most recently.
- `process(record)` returns the feature rows this record released, one per released event
  in (ts, seq) order: {"event_id", "ts", "seq", <key fields>, <continuous features>}. With
  `max_out_of_orderness=0` and in-order input that is exactly this event's own row.
  `flush()` ends the stream: watermark +inf, everything released and fired.
- `process_batch(records)` is `process` applied to each record in turn (batch.py).
- Counts: `records = accepted + duplicates + dead_letter + late_dropped`, where
  `late_allowed` of the accepted events arrived behind the watermark.
- Side outputs go to sinks (`fired=`, `late=`, `dead_letters=`: a list-like or a callable;
  a new list by default, readable as `pipeline.fired` etc.), never into the checkpoint.
"""
from __future__ import annotations

import math
from collections import Counter

from .admission import Source
from .batch import process_batch
from .checkpointing import Checkpointing
from .dedup import Deduplicator
from .definitions import WINDOW_TYPES, Feature, LateEvent, WindowResult
from .operator import WindowOperator
from .sinks import attach
from .windows import to_ms

__all__ = ["Feature", "FeaturePipeline", "LateEvent", "WindowResult", "WINDOW_TYPES"]


def _duration(name: str, value) -> int:
    try:
        return to_ms(value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{name}: {e}") from None


class FeaturePipeline(Source, WindowOperator, Checkpointing):
    def __init__(self, features, max_out_of_orderness=0, allowed_lateness=0, dedup_horizon=None,
                 fired=None, late=None, dead_letters=None):
        """`features`: the Feature list. Durations (int ms, timedelta or "5min"-style strings):
        `max_out_of_orderness` (the watermark's lag), `allowed_lateness` (how long a window
        is kept after it fires), `dedup_horizon` (how long an event id is remembered; None =
        allowed lateness + the longest window). `fired`, `late`, `dead_letters`: the sinks of
        the side outputs (a list-like or a callable; None = a new list)."""
        self.features = list(features)
        names = [f.name for f in self.features]
        if not self.features:
            raise ValueError("a pipeline needs at least one Feature")
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be unique, got {names}")
        self.max_out_of_orderness = _duration("max_out_of_orderness", max_out_of_orderness)
        self.allowed_lateness = _duration("allowed_lateness", allowed_lateness)
        if self.max_out_of_orderness < 0 or self.allowed_lateness < 0:
            raise ValueError("max_out_of_orderness and allowed_lateness must be >= 0")
        horizon = self.allowed_lateness + max(f.span for f in self.features) if dedup_horizon is None \
            else _duration("dedup_horizon", dedup_horizon)
        if horizon <= 0:
            raise ValueError(f"dedup_horizon must be positive, got {dedup_horizon!r}")
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
        self.dedup = Deduplicator(horizon)
        self.stats = Counter()
        # operator side: buffered events, window state, timers
        self.watermark = -math.inf
        self.buffer: list = []  # heap of (ts, seq, event)
        self.continuous_state = {g: {} for g in self.groups}  # group -> entity -> ContinuousWindowState
        self.window_state = {f.name: {} for f in self.windowed}  # name -> entity -> {(start, end): [agg, fired, ever]}
        self.timers: list = []  # heap of (time, FIRE|PURGE, number, name, entity, start, end)
        self.timer_seq = 0
        self.touched = {g: set() for g in self.groups}  # group -> entities changed since the last drain_touched()
        # side outputs: sinks outside the state (sinks.py)
        attach(self, fired=fired, late=late, dead_letters=dead_letters)

    # ------------------------------------------------------------------- the API
    def process(self, record) -> list[dict]:
        admitted = self.admit(record)
        return [] if admitted is None else self.apply(*admitted)

    def process_batch(self, records) -> list[dict]:
        """Exactly `process` applied to each record in turn, returning all released rows (the hot path)."""
        return process_batch(self, records)

    def flush(self) -> list[dict]:
        """End of stream: release every buffered event and fire every window."""
        self.clock = math.inf
        self.dedup.expire(math.inf)
        return self.advance(math.inf)

    def take_fired(self) -> list[WindowResult]:
        """The window results in the default `fired` list so far, emptying it."""
        if not isinstance(self.fired, list):
            raise TypeError("take_fired() reads the default list sink; this pipeline sends results to "
                            f"{type(self.fired).__name__}")
        out = list(self.fired)
        self.fired.clear()
        return out

    def drain_touched(self) -> set:
        """The (group, entity) pairs whose continuous state changed since the last call."""
        out = {(group, entity) for group, entities in self.touched.items() for entity in entities}
        self.touched = {g: set() for g in self.groups}
        return out

    @property
    def seen(self) -> dict:
        """The remembered event ids (id -> event time), bounded by the de-duplication horizon."""
        return self.dedup.ids

    def window_events(self, feature: Feature, entity) -> list[tuple[int, object]]:
        """The (ts, value) pairs now inside a continuous feature's window for `entity`."""
        state = self.continuous_state[self.group_of[feature.name]].get(entity)
        return list(state.events) if state else []

    def window_value(self, feature: Feature, entity):
        """A continuous feature's value for `entity` as of that entity's latest applied event."""
        group = self.group_of[feature.name]
        state = self.continuous_state[group][entity]
        return state.results()[self.groups[group].index(feature)]
