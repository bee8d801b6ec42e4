"""Replay an arrival schedule through a DynamicBatcher on a VirtualClock (no sleeps, exact times)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

STUCK_AFTER_S = 1.0


@dataclass
class Replay:
    records: list      # BatchRecord per fired batch, in order
    computed: list     # the payloads of each model call, in order
    futures: list      # one future per submitted item
    arrivals_s: list


async def replay(serving, arrivals_ms, *, max_batch_size, max_wait_ms, compute_ms=0.0, deadlines_ms=None,
                 fail=lambda x: False, max_queue_size=1024, tail_s=1.0):
    """Submit item i at arrivals_ms[i] (ascending); the model returns 10 * item after compute_ms."""
    clock = serving.VirtualClock()
    computed = []

    async def run_batch(items):
        computed.append(list(items))
        if compute_ms:
            await clock.sleep_until(clock.now() + compute_ms / 1000)
        if any(fail(x) for x in items):
            raise ValueError(f"bad item in {items}")
        return [10 * x for x in items]

    batcher = serving.DynamicBatcher(run_batch, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
                                     max_queue_size=max_queue_size, clock=clock).start()
    futures, arrivals = [], []
    for i, t in enumerate(arrivals_ms):
        await clock.advance_to(t / 1000)
        deadline = None if deadlines_ms is None or deadlines_ms[i] is None else deadlines_ms[i] / 1000
        futures.append(batcher.submit(i, deadline=deadline))
        arrivals.append(clock.now())
    await clock.advance(tail_s)
    try:
        # Virtual time: a replay takes milliseconds of real time. A batcher still busy after a real
        # second waits for a wake-up that never comes, since nothing moves this clock any more.
        await asyncio.wait_for(batcher.stop(), STUCK_AFTER_S)
    except asyncio.TimeoutError:
        raise AssertionError(
            f"the batcher did not stop within {STUCK_AFTER_S} s of real time after the last arrival at "
            f"{arrivals_ms[-1]} ms (virtual clock at {1000 * clock.now():.0f} ms): its worker is waiting for "
            f"something that never happens. Did a batch that was due at its wake-up time not fire? "
            f"Fired so far: {[(r.reason, r.size) for r in batcher.log]}") from None
    return Replay(list(batcher.log), computed, futures, arrivals)
