"""2.2: dequeue - FIFO batches, deadlines checked when a request leaves the queue, failure isolation."""
import asyncio
from collections import deque

import pytest
from hypothesis import given, settings, strategies as st

from .batch_replay import replay
from .conftest import run

pytestmark = pytest.mark.exercise("2.2", "dequeue with deadlines")


def expected_take(spec, now, max_batch_size):
    """Reference: scan from the front until the batch is full; (batch ids, expired ids, left ids)."""
    items = [(i, d, c) for i, (d, c) in enumerate(spec)]
    batch, expired, i = [], [], 0
    while i < len(items) and len(batch) < max_batch_size:
        ident, deadline, cancelled = items[i]
        if not cancelled:
            (expired if deadline is not None and now >= deadline else batch).append(ident)
        i += 1
    return batch, expired, [ident for ident, _, _ in items[i:]]


@settings(max_examples=80, deadline=None)
@given(spec=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 10)), st.booleans()), max_size=20),
       now=st.integers(0, 10), max_batch_size=st.integers(1, 8))
def test_take_batch_matches_reference(serving, spec, now, max_batch_size):
    async def scenario():
        loop = asyncio.get_running_loop()
        items = [(i, d, c) for i, (d, c) in enumerate(spec)]
        queue = deque()
        for ident, deadline, cancelled in items:
            future = loop.create_future()
            if cancelled:
                future.cancel()
            queue.append(serving.Pending(ident, 0.0, deadline, future))
        batch, expired = serving.take_batch(queue, float(now), max_batch_size)
        return [p.payload for p in batch], [p.payload for p in expired], [p.payload for p in queue]

    assert run(scenario()) == expected_take(spec, now, max_batch_size)


def test_expired_request_is_answered_504_and_never_computed(serving):
    # item 1's deadline (3 ms) passes while it waits for the 5 ms window
    r = run(replay(serving, [0, 1, 2], max_batch_size=8, max_wait_ms=5, deadlines_ms=[None, 3, 100]))
    assert r.futures[0].result() == 0 and r.futures[2].result() == 20
    with pytest.raises(serving.DeadlineExceeded):
        r.futures[1].result()
    assert r.computed == [[0, 2]]
    assert (r.records[0].size, r.records[0].expired) == (2, 1)


def test_one_bad_item_fails_only_its_own_request(serving):
    r = run(replay(serving, [0, 0, 0, 0], max_batch_size=4, max_wait_ms=1, fail=lambda x: x == 2))
    assert [f.result() for i, f in enumerate(r.futures) if i != 2] == [0, 10, 30]
    with pytest.raises(ValueError, match="bad item"):
        r.futures[2].result()
    assert r.computed[0] == [0, 1, 2, 3]  # tried as a batch first, then item by item
    assert sorted(map(tuple, r.computed[1:])) == [(0,), (1,), (2,), (3,)]


def test_model_may_fail_a_single_item_by_returning_an_exception(serving):
    async def scenario():
        clock = serving.VirtualClock()

        async def run_batch(items):
            return [ValueError("nope") if x == 1 else x for x in items]

        b = serving.DynamicBatcher(run_batch, max_batch_size=3, max_wait_ms=1, clock=clock).start()
        futures = [b.submit(i) for i in range(3)]
        await clock.advance(0.01)
        await b.stop()
        return futures

    futures = run(scenario())
    assert futures[0].result() == 0 and futures[2].result() == 2
    with pytest.raises(ValueError):
        futures[1].result()


def test_full_queue_rejects_and_every_accepted_item_is_answered(serving):
    async def scenario():
        clock = serving.VirtualClock()

        async def run_batch(items):
            return items

        b = serving.DynamicBatcher(run_batch, max_batch_size=2, max_wait_ms=5, max_queue_size=3, clock=clock).start()
        accepted, rejected = [], 0
        for i in range(5):  # all at t=0: 2 fire "full" at once, so the queue refills
            try:
                accepted.append(b.submit(i))
            except serving.QueueFull as err:
                assert err.status == 503 and err.retry_after_s >= 1
                rejected += 1
        await clock.advance(0.01)
        await b.stop()
        results = [f.result() for f in accepted]
        with pytest.raises(serving.Draining):
            b.submit(99)
        return results, rejected, list(b.log)

    results, rejected, log = run(scenario())
    assert results == [0, 1, 2] and rejected == 2
    assert sum(r.size for r in log) == 3


def test_stop_fires_the_queue_at_once_with_reason_drain(serving):
    async def scenario():
        clock = serving.VirtualClock()

        async def run_batch(items):
            return items

        b = serving.DynamicBatcher(run_batch, max_batch_size=8, max_wait_ms=1000, clock=clock).start()
        futures = [b.submit(i) for i in range(3)]
        await b.stop()  # the clock never moves: only "drain" can fire them
        return [f.result() for f in futures], list(b.log)

    results, log = run(scenario())
    assert results == [0, 1, 2]
    assert [(r.reason, r.size, r.oldest_wait_s) for r in log] == [("drain", 3, 0.0)]
