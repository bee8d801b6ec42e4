"""Replay requests through a DynamicBatcher on a VirtualClock and keep the exact timeline.

Unlike batch_replay, a request may hold several rows (submit_many), the batcher may have several
instances, and the timeline keeps when each batch fired and ended and when each request was answered.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

STUCK_AFTER_S = 2.0  # real seconds: a virtual replay takes milliseconds


@dataclass
class Batch:
    rows: list          # the payloads the model was called with
    fired_at: float
    ended_at: float | None = None


@dataclass
class Timeline:
    batches: list = field(default_factory=list)    # every model call, in the order it started
    answers: list = field(default_factory=list)    # per request: (virtual time answered, result or exception)
    refused: list = field(default_factory=list)    # per request: the exception submit raised, or None
    depths: list = field(default_factory=list)     # per request: queue depth just before its submit
    records: list = field(default_factory=list)    # the batcher's BatchRecords
    abandoned: int = 0


async def timeline(serving, arrivals_ms, *, max_batch_size, max_wait_ms, compute_ms=0.0, rows=None,
                   deadlines_ms=None, instances=1, max_queue_size=1024, hang=lambda payloads: False,
                   fail=lambda payload: False, tail_ms=1000.0) -> Timeline:
    """Request i arrives at arrivals_ms[i] (ascending) with rows[i] rows (None: one row, via `submit`);
    row j of request i is the payload (i, j) and the model returns 10 * i + j for it after compute_ms,
    raises for a payload where fail(payload), and never returns for a batch where hang(payloads)."""
    clock = serving.VirtualClock()
    out = Timeline()
    never = asyncio.get_running_loop().create_future()

    async def run_batch(payloads):
        batch = Batch(list(payloads), clock.now())
        out.batches.append(batch)
        if hang(payloads):
            await never
        if compute_ms:
            await clock.sleep_until(clock.now() + compute_ms / 1000)
        batch.ended_at = clock.now()
        if any(fail(p) for p in payloads):
            raise ValueError(f"bad row in {payloads}")
        return [10 * i + j for i, j in payloads]

    batcher = serving.DynamicBatcher(run_batch, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
                                     max_queue_size=max_queue_size, clock=clock, instances=instances).start()

    def answered(index):
        def callback(future):
            result = future.exception() if future.exception() is not None else future.result()
            out.answers[index] = (clock.now(), result)
        return callback

    for i, t in enumerate(arrivals_ms):
        await clock.advance_to(t / 1000)
        deadline = None if deadlines_ms is None or deadlines_ms[i] is None else deadlines_ms[i] / 1000
        out.answers.append(None)
        out.depths.append(batcher.depth)
        try:
            if rows is None or rows[i] is None:
                future = batcher.submit((i, 0), deadline=deadline)
            else:
                future = batcher.submit_many([(i, j) for j in range(rows[i])], deadline=deadline)
        except Exception as err:  # noqa: BLE001 - a refusal is part of the timeline
            out.refused.append(err)
            continue
        out.refused.append(None)
        future.add_done_callback(answered(i))
    await clock.advance(tail_ms / 1000)
    try:
        await asyncio.wait_for(batcher.stop(), STUCK_AFTER_S)
    except asyncio.TimeoutError:
        raise AssertionError(f"the batcher did not stop within {STUCK_AFTER_S} s of real time; fired so far: "
                             f"{[(r.reason, r.size) for r in batcher.log]}") from None
    await asyncio.sleep(0)  # done callbacks of the last answers
    out.records = list(batcher.log)
    out.abandoned = batcher.abandoned
    return out
