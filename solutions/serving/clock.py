"""Clocks the batcher and the server read time from, and set timers on.

`MonotonicClock` is the real one. `VirtualClock` is moved by hand (`await
clock.advance(0.001)`), so a test or the notebook can replay an arrival
schedule and get exactly the same batches every time, with no sleeps.

Both offer `now()`, `await sleep_until(t)` and `call_at(t, callback, *args)`,
which runs `callback(*args)` on the event loop once the clock reads `t` and
returns a handle whose `cancel()` stops it (the batcher answers a request
`DeadlineExceeded` at its deadline this way, wherever the request is).
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import time


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep_until(self, t: float) -> None:
        delay = t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def call_at(self, t: float, callback, *args) -> asyncio.TimerHandle:
        # a delay, not loop.call_at: the loop's own clock need not be time.monotonic (uvloop's is not)
        return asyncio.get_running_loop().call_later(max(0.0, t - time.monotonic()), callback, *args)


class Timer:
    """A VirtualClock timer: runs `callback(*args)` when the clock reaches its time, unless cancelled."""

    __slots__ = ("callback", "args", "cancelled")

    def __init__(self, callback, args):
        self.callback, self.args, self.cancelled = callback, args, False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Time stands still until `advance`/`advance_to` moves it; timers and sleepers fire in time order."""

    def __init__(self, start: float = 0.0):
        self._now = start
        self._timers: list[tuple[float, int, Timer]] = []
        self._ids = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, t: float, callback, *args):
        if t <= self._now:  # due already: run on the loop's next turn, as a real timer would
            return asyncio.get_running_loop().call_soon(callback, *args)
        timer = Timer(callback, args)
        heapq.heappush(self._timers, (t, next(self._ids), timer))
        return timer

    async def sleep_until(self, t: float) -> None:
        if t <= self._now:
            return
        future = asyncio.get_running_loop().create_future()
        self.call_at(t, _wake, future)
        await future

    async def advance(self, seconds: float) -> None:
        await self.advance_to(self._now + seconds)

    async def advance_to(self, t: float) -> None:
        """Move time to `t`, firing each timer at its own time and letting the loop settle after each."""
        if t < self._now:
            raise ValueError(f"time cannot go backwards: now={self._now}, asked for {t}")
        await settle()
        while self._timers and self._timers[0][0] <= t:
            at, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, at)
            if not timer.cancelled:
                timer.callback(*timer.args)
            await settle()
        self._now = t
        await settle()


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


async def settle(rounds: int = 50) -> None:
    """Let every ready task run until the loop is quiet (only the loop, no threads, is involved)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
