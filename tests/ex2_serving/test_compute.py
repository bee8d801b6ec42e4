"""Per-model compute: each loaded version has its own instances (threads), so a slow model never delays
another, and shadow calls never delay the primary."""
import asyncio
import threading
import time
from collections import deque

import pytest
from hypothesis import example, given, settings, strategies as st

from . import timing_models
from .conftest import run
from .timeline import timeline

pytestmark = pytest.mark.exercise("2.4", "the request path")

FAST_S = 0.3  # wide: a fast model answers in milliseconds; one slow batch is timing_models.SLOW_S



async def latency(coro) -> tuple:
    start = time.perf_counter()
    result = await coro
    return result, time.perf_counter() - start


def test_a_fast_model_answers_while_a_slow_one_computes(serving, timing_root):
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=4, max_wait_ms=1, trust=True)
        await server.load_model("slow")
        await server.load_model("fast")
        try:
            slow = asyncio.ensure_future(server.predict("slow", [1, 0, 0]))
            await asyncio.sleep(0.05)  # the slow batch computes for a second
            fast = [await latency(server.predict("fast", [1, 2, i])) for i in range(3)]
            return fast, await slow
        finally:
            await server.close()

    fast, slow = run(scenario())
    assert float(slow.output) == 1.0
    for answer, took in fast:
        assert took < FAST_S, f"the fast model took {took:.3f} s while the slow one computed"
    assert [float(a.output) for a, _ in fast] == [3.0, 4.0, 5.0]


def test_shadow_calls_never_delay_the_primary(serving, timing_root):
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=4, max_wait_ms=1, trust=True)
        await server.load_model("pair", 2)  # the shadow: a second per batch
        await server.load_model("pair", 1)  # serves, instantly
        server.set_shadow("pair", 2)
        try:
            primary = [await latency(server.predict("pair", [1, 2, i])) for i in range(4)]
            return primary, server.shadow_report("pair")
        finally:
            await server.close()

    primary, report = run(scenario())
    assert report["sent"] >= 1
    for answer, took in primary:
        assert answer.version == 1
        assert took < FAST_S, f"the primary took {took:.3f} s while its shadow computed"


def test_a_model_with_two_instances_computes_two_batches_at_once(serving, timing_root):
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=1, max_wait_ms=0, trust=True, instances={"slow": 2})
        await server.load_model("slow")
        try:
            return await latency(asyncio.gather(server.predict("slow", [1, 0, 0]), server.predict("slow", [2, 0, 0])))
        finally:
            await server.close()

    (answers, took) = run(scenario())
    assert [float(a.output) for a in answers] == [1.0, 2.0]
    # one instance would take two batches of SLOW_S one after the other
    assert took < 1.7 * timing_models.SLOW_S, f"two batches on two instances took {took:.3f} s"


def instance_threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


async def until_gone(prefix: str, seconds: float = 5.0) -> list[str]:
    for _ in range(int(seconds / 0.01)):
        if not instance_threads(prefix):
            break
        await asyncio.sleep(0.01)
    return instance_threads(prefix)


def test_a_versions_threads_end_when_it_is_unloaded_drained_or_closed(serving, timing_root):
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        server = serving.ModelServer(registry, trust=True, instances={"fast": 3})
        await server.load_model("fast")
        await server.load_model("pair", 1)
        started = instance_threads("fast-v1-"), instance_threads("pair-v1-")
        await server.unload_model("fast")
        unloaded = await until_gone("fast-v1-")
        await server.drain()
        drained = await until_gone("pair-v1-")
        other = serving.ModelServer(registry, trust=True)
        await other.load_model("recording")
        before_close = instance_threads("recording-v1-")
        await other.close()
        closed = await until_gone("recording-v1-")
        await server.close()
        return started, unloaded, drained, before_close, closed

    (fast, pair), unloaded, drained, before_close, closed = run(scenario())
    assert len(fast) == 3 and len(pair) == 1, (fast, pair)
    assert unloaded == [] and drained == []
    assert len(before_close) == 1 and closed == []


@pytest.mark.scaffold  # provided code, no learner region
def test_instances_must_be_positive_integers(serving, registry):
    for bad in (0, -1, 1.5, {"mlp": 0}, {"mlp": "2"}):
        with pytest.raises(ValueError, match="instances"):
            serving.ModelServer(registry, instances=bad)


# -- the batcher's instances, on a virtual clock -----------------------------------------------
firing = pytest.mark.exercise("2.1", "batch firing rule")


def expected_fires(arrivals, max_batch_size, max_wait, compute, instances):
    """(fire time, first item, size) of each batch by the rule, instant by instant (integer units): one
    batch per free instance, fired while an instance is free when the queue is full or its oldest
    item has waited max_wait; computes end (and free their instance) before arrivals at the same instant."""
    queue, ends, fires = deque(), [], []
    last = max(arrivals) + (len(arrivals) + 1) * (compute + max_wait + 1)

    def fire_while_free(t):
        while queue and sum(e > t for e in ends) < instances:
            if len(queue) < max_batch_size and t < queue[0][1] + max_wait:
                return
            taken = [queue.popleft() for _ in range(min(max_batch_size, len(queue)))]
            fires.append((t, taken[0][0], len(taken)))
            ends.append(t + compute)

    for t in range(last + 1):
        fire_while_free(t)
        for i, a in enumerate(arrivals):
            if a == t:
                queue.append((i, a))
                fire_while_free(t)
    return fires


@firing
def test_two_instances_compute_two_batches_at_once(serving):
    one = run(timeline(serving, [0, 0, 0, 0], max_batch_size=1, max_wait_ms=0, compute_ms=10, instances=1))
    two = run(timeline(serving, [0, 0, 0, 0], max_batch_size=1, max_wait_ms=0, compute_ms=10, instances=2))
    assert [b.fired_at for b in one.batches] == pytest.approx([0, 0.010, 0.020, 0.030])
    assert [b.fired_at for b in two.batches] == pytest.approx([0, 0, 0.010, 0.010])
    assert [a[1] for a in two.answers] == [0, 10, 20, 30]


@firing
@settings(max_examples=80, deadline=None)
@example(arrivals=[0, 0, 0, 1, 1], max_batch_size=2, max_wait_ms=2, compute_ms=3, instances=2)
@example(arrivals=[12, 13], max_batch_size=2, max_wait_ms=1, compute_ms=0, instances=1)  # due as 13 arrives
@given(arrivals=st.lists(st.integers(0, 30), min_size=1, max_size=20).map(sorted),
       max_batch_size=st.integers(1, 4), max_wait_ms=st.sampled_from([0, 1, 2, 5]),
       compute_ms=st.sampled_from([0, 3, 10]), instances=st.integers(1, 3))
def test_the_rule_with_instances_matches_the_reference(serving, arrivals, max_batch_size, max_wait_ms,
                                                      compute_ms, instances):
    # times in units of 1/1024 s, exact in floating point: no instant is a rounding error away from another
    ms = lambda units: units * 1000 / 1024
    t = run(timeline(serving, [ms(a) for a in arrivals], max_batch_size=max_batch_size,
                     max_wait_ms=ms(max_wait_ms), compute_ms=ms(compute_ms), instances=instances))
    got = [(round(1024 * b.fired_at), b.rows[0][0], len(b.rows)) for b in t.batches]
    assert got == expected_fires(arrivals, max_batch_size, max_wait_ms, compute_ms, instances)
    assert [a[1] for a in t.answers] == [10 * i for i in range(len(arrivals))]
    for b in t.batches:  # never more than `instances` computing at once
        assert sum(o.fired_at <= b.fired_at < o.ended_at for o in t.batches) <= instances
