"""The batcher's one deadline timer (deadlines.py): every unanswered request is handed over exactly at
its deadline, answered ones never are, and the heap stays within its bound of the live requests."""
import asyncio

import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.impl import load

pytestmark = pytest.mark.scaffold
Deadlines = load("serving.deadlines").Deadlines

# an operation: ("watch", deadline offset) | ("answer", which) | ("advance", seconds)
OPS = st.lists(st.one_of(st.tuples(st.just("watch"), st.floats(0, 2, allow_nan=False)),
                         st.tuples(st.just("answer"), st.integers(0, 1000)),
                         st.tuples(st.just("advance"), st.floats(0, 1, allow_nan=False))), max_size=120)


@settings(max_examples=150, deadline=None)
@given(OPS, st.integers(0, 4))
# the case most likely to break: the earliest request is answered, a later one is still due on time
@example([("watch", 0.5), ("watch", 1.0), ("answer", 0), ("advance", 2.0)], 0)
# answered requests whose deadlines are far off must not pile up
@example([op for i in range(150) for op in (("watch", 1.0), ("answer", i))], 0)
def test_each_unanswered_request_is_due_exactly_at_its_deadline_and_the_heap_stays_bounded(serving, ops, bound):
    async def scenario():
        clock = serving.VirtualClock()
        due, requests, answered = [], [], set()
        deadlines = Deadlines(clock, lambda r: due.append((r, clock.now())), lambda r: r in answered,
                                     lambda: bound + sum(r not in answered for r in requests))
        for op, arg in ops:
            if op == "watch":
                requests.append(len(requests))
                deadlines.watch(clock.now() + arg, requests[-1])
                live = sum(r not in answered for r in requests)
                assert len(deadlines) <= 2 * (bound + live) + 65
            elif op == "answer" and requests:
                if requests[arg % len(requests)] not in {r for r, _ in due}:
                    answered.add(requests[arg % len(requests)])
            elif op == "advance":
                await clock.advance(arg)
        await clock.advance(3.0)
        return due, answered, requests

    starts = {}  # deadline of each request, replayed without the structure
    due, answered, requests = asyncio.run(scenario())
    now = 0.0
    for op, arg in ops:
        if op == "watch":
            starts[len(starts)] = now + arg
        elif op == "advance":
            now += arg
    handed = [r for r, _ in due]
    assert sorted(handed) == sorted(set(handed)), "a request was handed over twice"
    assert set(handed) == set(requests) - answered
    for request, at in due:
        assert at == pytest.approx(starts[request], abs=1e-12), "handed over before or after its deadline"
