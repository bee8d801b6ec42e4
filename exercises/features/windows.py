# Starter code generated from solutions/features/windows.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""Event-time windows: which window(s) an event belongs to, and the per-key continuous window.

Times are integer milliseconds of event time; durations accept ints (ms),
`datetime.timedelta` or strings like "300ms", "30s", "5min", "1h", "1d".

- `TumblingWindow(size)`: one window `[start, start + size)` with
  `start = ts - (ts mod size)`.
- `SlidingWindow(size, slide)` (hopping): every window `[start, start + size)`
  with `start = ts - (ts mod slide) - k * slide`, k = 0, 1, ... while
  `start + size > ts`; end exclusive, so an event on a boundary belongs to the
  window that starts there, not the one that ends there.
- `SessionWindow(gap)`: an event opens `[ts, ts + gap)`; sessions of a key that
  overlap or touch merge (operator.py), so a session ends `gap` after its last event
  and events exactly `gap` apart share one, as in Flink.
- `ContinuousWindow(size)`: "the last `size` as of each event", what online
  features mostly are. The pinned contract: the window of the event at time t is
  `(t - size, t]` over the same key, ties broken by (event time, arrival
  sequence), i.e. an event sees every earlier-sequenced event with the same
  timestamp and none later. That is exactly pandas
  `df.groupby(key).rolling(size, on=ts)` after a stable sort by ts. (Polars
  `rolling_*_by` and DuckDB `RANGE ... CURRENT ROW` include later rows with the
  same timestamp and are not oracles for it.)
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from .aggregates import make_aggregate

_UNITS_MS = {"ms": 1, "s": 1_000, "sec": 1_000, "min": 60_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|sec|s|min|m|h|d)\s*$")


def to_ms(duration) -> int:
    """A duration in integer milliseconds (int ms, timedelta, or '5min'-style string)."""
    if isinstance(duration, bool):
        raise TypeError("a duration cannot be a bool")
    if isinstance(duration, int):
        return duration
    if isinstance(duration, float) and duration.is_integer():
        return int(duration)
    if isinstance(duration, timedelta):
        return round(duration.total_seconds() * 1000)
    if isinstance(duration, str):
        m = _DURATION.match(duration)
        if not m:
            raise ValueError(f"cannot read duration {duration!r}: write e.g. '500ms', '30s', '5min', '1h', '1d'")
        return round(float(m[1]) * _UNITS_MS[m[2]])
    raise TypeError(f"a duration must be int milliseconds, timedelta or a string like '5min', "
                    f"got {type(duration).__name__}")


def _positive(name: str, value) -> int:
    ms = to_ms(value)
    if ms <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return ms


@dataclass(frozen=True)
class TumblingWindow:
    size: int

    def __post_init__(self):
        object.__setattr__(self, "size", _positive("TumblingWindow size", self.size))

    def assign(self, ts: int) -> list[tuple[int, int]]:
        """The one window [start, end) holding event time `ts`."""
        # Exercise 4.3: tumbling and sliding window assignment.
        # Hint: Python's % is a floor modulo, so this is right for negative times too.
        raise NotImplementedError('Exercise 4.3: tumbling and sliding window assignment - see notebooks/04_feature_pipeline.ipynb, section 3')


@dataclass(frozen=True)
class SlidingWindow:
    size: int
    slide: int

    def __post_init__(self):
        object.__setattr__(self, "size", _positive("SlidingWindow size", self.size))
        object.__setattr__(self, "slide", _positive("SlidingWindow slide", self.slide))
        if self.slide > self.size:
            raise ValueError(f"slide ({self.slide} ms) larger than size ({self.size} ms) would skip events")

    def assign(self, ts: int) -> list[tuple[int, int]]:
        """Every window [start, end) holding `ts`, oldest first."""
        # Exercise 4.3: tumbling and sliding window assignment.
        # Hint: the latest start is ts - ts % slide; step back by slide while start + size > ts.
        raise NotImplementedError('Exercise 4.3: tumbling and sliding window assignment - see notebooks/04_feature_pipeline.ipynb, section 3')


@dataclass(frozen=True)
class SessionWindow:
    gap: int

    def __post_init__(self):
        object.__setattr__(self, "gap", _positive("SessionWindow gap", self.gap))

    def assign(self, ts: int) -> list[tuple[int, int]]:
        """The proto-session [ts, ts + gap); overlapping or touching sessions are merged by the pipeline."""
        return [(ts, ts + self.gap)]


@dataclass(frozen=True)
class ContinuousWindow:
    size: int

    def __post_init__(self):
        object.__setattr__(self, "size", _positive("ContinuousWindow size", self.size))


class ContinuousWindowState:
    """One key's continuous window `(t - size, t]`: the events inside and their aggregates.

    `add(ts, value)` takes events in (event time, arrival) order - the pipeline's
    watermark buffer guarantees it - evicts what has left the window, folds the
    new event in, and returns the aggregates' results as of this event. Each event
    is added once and removed once, so a hot key costs O(1) amortized per event.
    """

    def __init__(self, size: int, aggregates: list[str]):
        self.size = to_ms(size)
        self.names = list(aggregates)
        self.aggregates = [make_aggregate(a) for a in self.names]
        self.events: deque = deque()  # (ts, value), oldest first
        self.latest = None

    def add(self, ts: int, value) -> list:
        """Fold in the event at `ts`; return every aggregate's result as of it, in order.

        Events come in (ts, arrival) order: a ts before the latest one (`self.latest`) is a ValueError
        saying so. `evict(ts)` first, then (ts, value) joins `self.events` and every aggregate adds value.
        """
        if self.latest is not None and ts < self.latest:
            raise ValueError(f"event time {ts} is before {self.latest}: a continuous window needs events in "
                             "event-time order (reorder them with the watermark first)")
        self.latest = ts
        events = self.events
        if events and events[0][0] <= ts - self.size:
            self.evict(ts)
        events.append((ts, value))
        out = []
        for agg in self.aggregates:
            agg.add(value)
            out.append(agg.result())
        return out

    def evict(self, now: int):
        """Pop, oldest first, every event with ts <= now - size (outside (now - size, now]) from
        `self.events`, calling `remove(value)` on every aggregate for each one."""
        # Exercise 4.2: evict what left the continuous window.
        # Hint: the window is open on the left: an event at exactly now - size is out.
        raise NotImplementedError('Exercise 4.2: evict what left the continuous window - see notebooks/04_feature_pipeline.ipynb, section 2')

    def results(self) -> list:
        return [agg.result() for agg in self.aggregates]
