# Starter code generated from solutions/features/definitions.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""What a pipeline computes and what it emits: `Feature`, `WindowResult`, `LateEvent`."""
from __future__ import annotations

from dataclasses import dataclass

from .aggregates import make_aggregate
from .windows import ContinuousWindow, SessionWindow, SlidingWindow, TumblingWindow

WINDOW_TYPES = (ContinuousWindow, TumblingWindow, SlidingWindow, SessionWindow)


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

    @property
    def span(self) -> int:
        """How far back in event time one event can reach: the window size, or a session's gap."""
        return self.window.gap if isinstance(self.window, SessionWindow) else self.window.size


@dataclass(frozen=True)
class WindowResult:
    feature: str
    key: object
    start: int
    end: int
    value: object
    update: bool  # True when the window had already fired and fires again with a changed value


@dataclass(frozen=True)
class LateEvent:
    event: dict
    reason: str
    dropped_by: tuple  # names of the features that did not apply it
