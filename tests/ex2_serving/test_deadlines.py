"""End-to-end deadlines: a request's timeout bounds its total latency, queued or computing, and a model
call that never returns cannot hang its callers."""
import asyncio
import time

import pytest
from hypothesis import example, given, settings, strategies as st

from . import timing_models
from .conftest import run
from .timeline import timeline

pytestmark = pytest.mark.exercise("2.4", "the request path")



async def timed(coro):
    """(result or exception, seconds it took)."""
    start = time.perf_counter()
    try:
        result = await coro
    except Exception as err:  # noqa: BLE001 - the outcome is what the test checks
        result = err
    return result, time.perf_counter() - start


def test_a_queued_request_times_out_at_its_deadline_not_when_dequeued(serving, timing_root):
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=1, max_wait_ms=0, trust=True)
        await server.load_model("slow")  # one second per batch
        try:
            first = asyncio.ensure_future(server.predict("slow", [1, 0, 0]))
            await asyncio.sleep(0.05)  # the first batch computes
            late = await timed(server.predict("slow", [2, 0, 0], timeout_s=0.05))
            return await first, late, server.get_metrics()["models"]["slow"][1]
        finally:
            await server.close()

    first, (late, took), stats = run(scenario())
    assert float(first.output) == 1.0
    assert isinstance(late, serving.DeadlineExceeded) and late.status == 504, late
    assert took < 0.5, f"a 50 ms deadline answered after {took:.3f} s (the batch ahead computes {timing_models.SLOW_S} s)"
    assert (stats["timed_out"], stats["batches"]) == (1, 1)  # never computed


def test_a_computing_request_times_out_at_its_deadline(serving, timing_root):
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=1, max_wait_ms=0, trust=True)
        await server.load_model("slow")
        try:
            late = await timed(server.predict("slow", [1, 0, 0], timeout_s=0.1))
            return late, server.get_metrics()["models"]["slow"][1]
        finally:
            await server.close()

    (late, took), stats = run(scenario())
    assert isinstance(late, serving.DeadlineExceeded), late
    assert took < 0.6, f"a 100 ms deadline answered after {took:.3f} s while its batch computed"
    assert stats["timed_out"] == 1 and stats["ok"] == 0


def test_a_hung_model_cannot_hang_its_callers_or_the_drain(serving, timing_root):
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        timing_models.RELEASE.clear()
        server = serving.ModelServer(registry, max_batch_size=1, max_wait_ms=0, default_timeout_s=0.2, trust=True)
        await server.load_model("hang")
        await server.load_model("fast")
        try:
            # no explicit timeout: default_timeout_s bounds them; the second waits behind the hung call
            hung = await asyncio.wait_for(asyncio.gather(
                timed(server.predict("hang", [1, 0, 0])), timed(server.predict("hang", [2, 0, 0]))), 5)
            fast = await server.predict("fast", [1, 2, 3])
            drained = await timed(asyncio.wait_for(server.drain(), 5))
            return hung, fast, drained, server.loaded_versions()
        finally:
            timing_models.RELEASE.set()
            await server.close()

    hung, fast, (drained, drain_took), loaded = run(scenario())
    for answer, took in hung:
        assert isinstance(answer, serving.DeadlineExceeded), answer
        assert took < 1.5, f"a 200 ms default deadline answered after {took:.3f} s"
    assert float(fast.output) == 6.0
    assert drained is None and drain_took < 1.5, (drained, drain_took)
    assert loaded == []


# -- the batcher's timers, on a virtual clock (exact instants) -------------------------------------
dequeue = pytest.mark.exercise("2.2", "dequeue with deadlines")


@dequeue
def test_a_queued_item_is_answered_at_its_deadline_and_never_computed(serving):
    # item 0 computes for a second; item 1 (deadline 51 ms) waits behind it
    t = run(timeline(serving, [0, 1], max_batch_size=1, max_wait_ms=0, compute_ms=1000, deadlines_ms=[None, 51]))
    (t0, r0), (t1, r1) = t.answers
    assert isinstance(r1, serving.DeadlineExceeded) and t1 == pytest.approx(0.051)
    assert (t0, r0) == (pytest.approx(1.0), 0)
    assert [b.rows for b in t.batches] == [[(0, 0)]]


@dequeue
def test_a_computing_item_is_answered_at_its_deadline_and_its_batch_mates_still_get_theirs(serving):
    t = run(timeline(serving, [0, 0], max_batch_size=2, max_wait_ms=5, compute_ms=100, deadlines_ms=[30, None]))
    (t0, r0), (t1, r1) = t.answers
    assert isinstance(r0, serving.DeadlineExceeded) and t0 == pytest.approx(0.030)
    assert (t1, r1) == (pytest.approx(0.100), 10)  # the batch completed; item 0's output was discarded
    assert [b.rows for b in t.batches] == [[(0, 0), (1, 0)]]


@dequeue
def test_a_model_call_that_never_returns_holds_its_instance_not_its_callers(serving):
    # item 0's batch hangs forever; 1 and 2 queue behind it; every caller is answered at its deadline,
    # and stop() returns: the hung call, all of whose requests are answered, is abandoned
    t = run(timeline(serving, [0, 1, 2], max_batch_size=1, max_wait_ms=0, deadlines_ms=[100, 150, 200],
                     hang=lambda payloads: payloads[0][0] == 0))
    assert [a[0] for a in t.answers] == pytest.approx([0.100, 0.150, 0.200])
    assert all(isinstance(a[1], serving.DeadlineExceeded) for a in t.answers)
    assert [b.rows for b in t.batches] == [[(0, 0)]] and t.abandoned == 1


@dequeue
def test_stop_waits_for_a_computing_batch_that_still_has_a_caller(serving):
    async def scenario():
        clock = serving.VirtualClock()

        async def run_batch(items):
            await clock.sleep_until(clock.now() + 0.5)
            return [10 * x for x in items]

        b = serving.DynamicBatcher(run_batch, max_batch_size=2, max_wait_ms=0, clock=clock).start()
        timed_out, waiting = b.submit(0, deadline=0.01), b.submit(1)
        await clock.advance(0.02)  # the batch of both computes; item 0 has timed out
        stopping = asyncio.ensure_future(b.stop())
        await serving.settle()
        early = stopping.done()
        await clock.advance(0.5)
        await asyncio.wait_for(stopping, 1)
        return timed_out.exception(), early, waiting.result(), b.abandoned

    timed_out, early, result, abandoned = run(scenario())
    assert isinstance(timed_out, serving.DeadlineExceeded)
    assert not early and result == 10 and abandoned == 0


@dequeue
@settings(max_examples=60, deadline=None)
@example(arrivals=[0, 0], waits=[3, None], max_batch_size=2, max_wait_ms=0, compute_ms=3, instances=1)
@given(arrivals=st.lists(st.integers(0, 30), min_size=1, max_size=16).map(sorted),
       waits=st.lists(st.one_of(st.none(), st.integers(0, 25)), min_size=16, max_size=16),
       max_batch_size=st.integers(1, 4), max_wait_ms=st.sampled_from([0, 2, 5]),
       compute_ms=st.sampled_from([0, 3, 10]), instances=st.integers(1, 2))
def test_no_request_is_answered_after_its_deadline(serving, arrivals, waits, max_batch_size, max_wait_ms,
                                                   compute_ms, instances):
    deadlines = [None if w is None else a + w for a, w in zip(arrivals, waits)]
    t = run(timeline(serving, arrivals, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
                     compute_ms=compute_ms, deadlines_ms=deadlines, instances=instances))
    batch_of = {row[0]: b for b in t.batches for row in b.rows}
    for i, (deadline, (at, result)) in enumerate(zip(deadlines, t.answers)):
        if deadline is None:
            assert result == 10 * i, (i, result)
            continue
        assert at <= deadline / 1000 + 1e-9, f"request {i} answered at {at} after its deadline {deadline} ms"
        if isinstance(result, serving.DeadlineExceeded):
            assert at == pytest.approx(deadline / 1000)  # at the deadline exactly, wherever it was
            if i in batch_of:  # it was computing when its deadline came, never dequeued after it
                assert batch_of[i].fired_at < deadline / 1000 <= batch_of[i].ended_at + 1e-9
        else:
            assert result == 10 * i
    computed = [row[0] for b in t.batches for row in b.rows]
    assert computed == sorted(computed) and len(set(computed)) == len(computed)  # FIFO, each at most once
