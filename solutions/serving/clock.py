"""Clocks the batcher and the server read time from.

`MonotonicClock` is the real one. `VirtualClock` is moved by hand (`await
clock.advance(0.001)`), so a test or the notebook can replay an arrival
schedule and get exactly the same batches every time, with no sleeps.
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


class VirtualClock:
    """Time stands still until `advance`/`advance_to` moves it; sleepers wake in time order."""

    def __init__(self, start: float = 0.0):
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._ids = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, t: float) -> None:
        if t <= self._now:
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (t, next(self._ids), future))
        await future

    async def advance(self, seconds: float) -> None:
        await self.advance_to(self._now + seconds)

    async def advance_to(self, t: float) -> None:
        """Move time to `t`, waking each sleeper at its own wake time and letting the loop settle."""
        if t < self._now:
            raise ValueError(f"time cannot go backwards: now={self._now}, asked for {t}")
        await settle()
        while self._sleepers and self._sleepers[0][0] <= t:
            wake_at, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, wake_at)
            if not future.done():
                future.set_result(None)
            await settle()
        self._now = t
        await settle()


async def settle(rounds: int = 50) -> None:
    """Let every ready task run until the loop is quiet (only the loop, no threads, is involved)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
