# Starter code generated from solutions/serving/deadlines.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Deadlines: one loop timer for the earliest deadline of many requests, a heap behind it.

Arming a loop timer per request (and cancelling it when the request is answered) cost more than
the rest of a request's admission. Here a request's deadline is pushed on a heap; the one timer is
set for the earliest deadline of a request still unanswered, and when it runs, every request whose
deadline has come is handed to `on_due` and the timer is set for the next one. Answered requests
leave the heap lazily: at its top, or when the heap is rebuilt because they outnumber the live ones.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Any, Callable


class Deadlines:
    def __init__(self, clock, on_due: Callable[[Any], None], answered: Callable[[Any], bool],
                 live_bound: Callable[[], int]):
        """`on_due(request)` at its deadline unless `answered(request)`; `live_bound()` is at least
        the number of requests that can be unanswered at once (what the heap is compacted to)."""
        self.clock, self.on_due, self.answered, self.live_bound = clock, on_due, answered, live_bound
        self._heap: list[tuple[float, int, Any]] = []  # (deadline, arrival, request)
        self._seq = itertools.count()
        self._timer = None
        self._at: float | None = None

    def __len__(self) -> int:
        return len(self._heap)

    def watch(self, deadline: float, request) -> None:
        heap = self._heap
        if len(heap) > 2 * self.live_bound() + 64:  # amortised O(1): memory follows the live load
            heap[:] = [entry for entry in heap if not self.answered(entry[2])]
            heapq.heapify(heap)
        heapq.heappush(heap, (deadline, next(self._seq), request))
        if self._at is None or deadline < self._at:
            self._arm()

    def close(self) -> None:
        """No more calls: cancel the timer, forget every deadline."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._at = None
        self._heap.clear()

    def _arm(self) -> None:
        heap = self._heap
        while heap and self.answered(heap[0][2]):
            heapq.heappop(heap)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._at = None
        if heap:
            self._at = heap[0][0]
            self._timer = self.clock.call_at(self._at, self._run)

    def _run(self) -> None:
        # a loop may run a timer early (uvloop rounds to the millisecond): then nothing is due yet and
        # _arm sets the timer again for the same deadline
        self._timer = self._at = None
        now, heap = self.clock.now(), self._heap
        while heap and heap[0][0] <= now:
            request = heapq.heappop(heap)[2]
            if not self.answered(request):
                self.on_due(request)
        self._arm()
