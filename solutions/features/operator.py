"""The operator half of the pipeline: the watermark buffer, window state, timers, firing and lateness.

Lateness follows Flink's window operator, decided per window, not per event:

- An event with `ts >= watermark` (as it arrives) is on time: it waits in the buffer and is
  applied to every feature in (ts, arrival) order once the watermark passes it.
- An event behind the watermark is applied at once to each tumbling / sliding window it
  belongs to that is not late, i.e. while `end + allowed_lateness > watermark` (Flink's
  `isWindowLate` is the negation); a session first merges with the key's sessions and is
  kept if the merged session is not late. A window whose end the watermark has passed fires
  again, `update=True`. Windows that are late drop the event.
- Continuous features never take an event behind the watermark: their per-event rows are
  final once emitted (the rule of Flink's event-time OVER windows). Such an event goes to the
  late side output naming them (reason "behind the watermark"); one that no feature took
  goes there naming every feature (reason "too late").
- A window `[start, end)` fires when `watermark >= end`; its state is kept until
  `watermark >= end + allowed_lateness`, then dropped.
"""
from __future__ import annotations

import heapq

from .admission import ON_TIME
from .aggregates import make_aggregate
from .column_buffer import to_heap
from .definitions import Feature, LateEvent, WindowResult
from .windows import ContinuousWindowState, SessionWindow

FIRE, PURGE = 0, 1


class WindowOperator:
    """Mixin of FeaturePipeline: needs the feature tables (`groups`, `windowed`, `row_fields`,
    `continuous_names`, `features`), `allowed_lateness`, the state (`watermark`, `buffer`,
    `continuous_state`, `window_state`, `timers`, `timer_seq`, `touched`), `stats` and the sinks."""

    def advance(self, watermark) -> list[dict]:
        """Move the watermark forward (never back), release buffered events, fire windows (`release`),
        once the events a micro-batch left waiting as columns (4.9) have joined the buffer."""
        if "column_buffer" in self.__dict__:
            to_heap(self)
        return self.release(watermark)

    # BEGIN INTERVIEW [4.5] the event-time core: buffer, release, timers, firing, lateness (section 5)
    def apply(self, event, seq, kind, watermark_before, watermark_after) -> list[dict]:
        """Apply one admitted event (what `admit` returned); return the rows it released.

        First `advance(watermark_before)` if that is past `self.watermark` (what earlier events
        released). Then an ON_TIME event waits in the heap `self.buffer` as (ts, seq, event); an event
        behind the watermark goes to `apply_late` at once. Last `advance(watermark_after)`.
        """
        rows = self.advance(watermark_before) if watermark_before > self.watermark else []
        if kind == ON_TIME:
            heapq.heappush(self.buffer, (event["ts"], seq, event))
        else:
            self.apply_late(event)
        return rows + self.advance(watermark_after)

    def release(self, watermark) -> list[dict]:
        """Set `self.watermark` to `watermark` if that is larger; pop every buffered (ts, seq, event)
        with ts <= the watermark in (ts, seq) order and apply it (`_apply_on_time`), collecting its
        row; then run every timer due (`_fire`). Returns the rows."""
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
        """Apply an event the watermark released to every feature; return its row.

        The row: {"event_id", "ts", "seq"}, `event[f]` for each f in `self.row_fields`, then every
        continuous feature's value as of this event. Continuous features come in groups:
        `self.groups` maps (key field, value field or None, size) to its features, and
        `self.continuous_state[group][entity]` is that entity's `ContinuousWindowState(size, [f.agg
        for f in feats])` (made on first use), whose `add(ts, value)` returns their values in order;
        the entity joins `self.touched[group]`. Then every window feature (`self.windowed`) takes
        the event (`_apply_windowed`).
        """
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
            touched[group].add(entity)
        for f in self.windowed:
            self._apply_windowed(f, event)
        return row

    # ------------------------------------------------------------------ lateness
    def window_is_late(self, end: int, watermark) -> bool:
        """Whether window [start, end) can no longer take an event: its state is gone.

        True once the watermark has reached the window's end plus the allowed lateness
        (`end + allowed_lateness <= watermark`); until then a late event still updates it.
        """
        # BEGIN SOLUTION [4.5] Flink's lateness rule and the late side output (section 5)
        # HINT: the window is kept while end + allowed_lateness > watermark; mind the equality.
        return end + self.allowed_lateness <= watermark
        # END SOLUTION

    def apply_late(self, event):
        """Apply an event behind the watermark to the windows that still take it, and account for it.

        `self._apply_windowed(f, event, self.watermark)` applies it to window feature f's windows
        that are not late (`window_is_late`) and says whether any took it; continuous features
        never take it. If some feature took it: stats["accepted"] and stats["late_allowed"] += 1,
        and if some did not, `self.emit_late(LateEvent(event, "behind the watermark", <their names>))`.
        If none took it: stats["late_dropped"] += 1 and
        `self.emit_late(LateEvent(event, "too late", <every feature name>))`. Names in feature order.
        """
        # BEGIN SOLUTION [4.5] Flink's lateness rule and the late side output (section 5)
        # HINT: nothing is dropped silently: every event some feature did not apply reaches the late sink.
        taken = {f.name for f in self.windowed if self._apply_windowed(f, event, self.watermark)}
        dropped_by = tuple(f.name for f in self.features if f.name not in taken)
        if taken:
            self.stats["accepted"] += 1
            self.stats["late_allowed"] += 1
        else:
            self.stats["late_dropped"] += 1
        if dropped_by:
            self.emit_late(LateEvent(event, "behind the watermark" if taken else "too late", dropped_by))
        # END SOLUTION

    # ------------------------------------------------------------- window state
    def _apply_windowed(self, f: Feature, event, watermark=None) -> bool:
        """Apply `event` to f's windows (only those not late when `watermark` is given); True if any took it.

        `self.window_state[f.name][entity]` maps (start, end) -> [aggregate, fired, ever_fired]; an
        entity left without windows is deleted. Tumbling and sliding: for each window of
        `f.window.assign(ts)` that takes it, a new window gets `make_aggregate(f.agg)` and a FIRE timer at
        its end (`_timer`); the value is added, and a window that has fired emits its new result at once,
        `WindowResult(f.name, entity, start, end, result, True)`. Sessions: `_apply_session` merges, and
        the merged session takes the event unless it is late, in which case it is deleted.
        """
        entity = event[f.key]
        value = event[f.value] if f.value else None
        states = self.window_state[f.name]
        windows = states.get(entity)
        if windows is None:
            windows = states[entity] = {}
        taken = False
        if isinstance(f.window, SessionWindow):
            start, end = self._apply_session(f, entity, windows, event["ts"], value)
            taken = watermark is None or not self.window_is_late(end, watermark)
            if not taken:
                # retired as Flink does: a late merged session can only be the event's own, since
                # every session kept is not late, and merging with one would have made it so
                del windows[(start, end)]
        else:
            for start, end in f.window.assign(event["ts"]):
                if watermark is not None and self.window_is_late(end, watermark):
                    continue
                taken = True
                slot = windows.get((start, end))
                if slot is None:
                    slot = windows[(start, end)] = [make_aggregate(f.agg), False, False]
                    self._timer(end, FIRE, f.name, entity, start, end)
                slot[0].add(value)
                if slot[1]:
                    self.emit_fired(WindowResult(f.name, entity, start, end, slot[0].result(), True))
        if not windows:
            del states[entity]
        return taken

    def _apply_session(self, f: Feature, entity, windows: dict, ts: int, value) -> tuple[int, int]:
        """Open [ts, ts + gap), merge every session of this key it overlaps or touches; return the merged key.

        `windows` maps (start, end) -> [aggregate, fired, ever_fired]. Sessions [s, e) and
        [start, end) merge when s <= end and start <= e: touching windows merge, as Flink's
        TimeWindow.intersects has it, so events exactly `gap` apart share a session. Replace
        the merged sessions by one entry keyed (min start, max end) whose aggregate merges
        theirs in start order and then the new event's (`proto`) last, so that `last` ends on
        the newest value; fired=False, ever_fired = any(ever_fired of the merged). Schedule it
        with `self._timer(end, FIRE, f.name, entity, start, end)` (timers of removed keys are ignored).
        """
        start, end = f.window.assign(ts)[0]
        proto = make_aggregate(f.agg)
        proto.add(value)
        # BEGIN SOLUTION [4.6] merge overlapping and touching sessions (section 6)
        # HINT: [s, e) joins [start, end) when s <= end and start <= e; fold the new event in last.
        merging = sorted(k for k in windows if k[0] <= end and start <= k[1])
        merged = make_aggregate(f.agg)
        for k in merging:
            merged.merge(windows[k][0])
        merged.merge(proto)
        ever_fired = any(windows[k][2] for k in merging)
        for k in merging:
            del windows[k]
        key = (min([start] + [k[0] for k in merging]), max([end] + [k[1] for k in merging]))
        windows[key] = [merged, False, ever_fired]
        self._timer(key[1], FIRE, f.name, entity, key[0], key[1])
        return key
        # END SOLUTION

    def _timer(self, time, kind, name, entity, start, end):
        """Schedule FIRE or PURGE of window (name, entity, start, end) at watermark `time`: push
        (time, kind, number, name, entity, start, end) onto the heap `self.timers`, the number from
        the running `self.timer_seq`."""
        # the running number keeps the heap from ever comparing entities (keys may mix str and int)
        self.timer_seq += 1
        heapq.heappush(self.timers, (time, kind, self.timer_seq, name, entity, start, end))

    def _fire(self):
        """Run every timer due (time <= watermark) in heap order; one whose window is gone (merged,
        retired or purged) is skipped. FIRE, unless the window has fired: emit `WindowResult(name,
        entity, start, end, result, ever_fired)`, set fired and ever_fired, schedule its PURGE at
        end + allowed_lateness. PURGE: delete the window (and the entity's entry once it is empty)."""
        emit = self.emit_fired
        while self.timers and self.timers[0][0] <= self.watermark:
            _, kind, _, name, entity, start, end = heapq.heappop(self.timers)
            windows = self.window_state[name].get(entity)
            slot = windows.get((start, end)) if windows else None
            if slot is None:
                continue  # merged into a larger session, retired, or already purged
            if kind == FIRE:
                if slot[1]:
                    continue
                emit(WindowResult(name, entity, start, end, slot[0].result(), slot[2]))
                slot[1] = slot[2] = True
                self._timer(end + self.allowed_lateness, PURGE, name, entity, start, end)
            else:
                del windows[(start, end)]
                if not windows:
                    del self.window_state[name][entity]
    # END INTERVIEW
