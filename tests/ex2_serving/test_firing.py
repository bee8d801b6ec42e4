"""2.1: when a batch fires (Triton's rule), checked on a virtual clock."""
import pytest
from hypothesis import given, settings, strategies as st

from .batch_replay import replay
from .conftest import run

pytestmark = pytest.mark.exercise("2.1", "batch firing rule")

EPS = 1e-9


def test_decision_cases(serving):
    fd = serving.firing_decision
    assert fd(0, None, 5.0, 4, 0.002, False) == serving.Decision(None, None)
    assert fd(4, 1.0, 1.0, 4, 0.002, False).reason == "full"
    assert fd(5, 1.0, 1.0, 4, 0.002, True).reason == "full"  # full wins over drain
    assert fd(1, 1.0, 1.0, 4, 0.002, True).reason == "drain"
    assert fd(2, 1.0, 1.002, 4, 0.002, False).reason == "deadline"
    waiting = fd(2, 1.0, 1.001, 4, 0.002, False)
    assert waiting.reason is None and waiting.wake_at == pytest.approx(1.002)
    assert fd(1, 3.0, 3.0, 4, 0.0, False).reason == "deadline"  # max_wait 0: fire at once


def test_fires_on_full_at_the_filling_arrival(serving):
    r = run(replay(serving, [0, 1, 1, 2, 50], max_batch_size=4, max_wait_ms=10))
    first = r.records[0]
    assert (first.reason, first.size) == ("full", 4)
    assert first.fired_at == pytest.approx(0.002)
    assert first.oldest_wait_s == pytest.approx(0.002)
    assert r.computed[0] == [0, 1, 2, 3]


def test_fires_on_deadline_with_what_is_queued(serving):
    r = run(replay(serving, [0, 1, 3], max_batch_size=8, max_wait_ms=5))
    first = r.records[0]
    assert (first.reason, first.size) == ("deadline", 3)
    assert first.fired_at == pytest.approx(0.005)  # the oldest arrived at 0 and waited exactly 5 ms
    assert [f.result() for f in r.futures] == [0, 10, 20]


def test_a_late_arrival_starts_a_new_window(serving):
    r = run(replay(serving, [0, 1, 7, 8], max_batch_size=8, max_wait_ms=5))
    assert [(x.reason, x.size) for x in r.records] == [("deadline", 2), ("deadline", 2)]
    assert [x.fired_at for x in r.records] == pytest.approx([0.005, 0.012])


def test_backlog_after_compute_fires_full_at_once(serving):
    # compute takes 10 ms; 9 items arrive meanwhile, so two full batches fire back to back
    r = run(replay(serving, [0] + [3] * 9, max_batch_size=4, max_wait_ms=2, compute_ms=10))
    assert [(x.reason, x.size) for x in r.records] == [("deadline", 1), ("full", 4), ("full", 4), ("deadline", 1)]
    assert [x.fired_at for x in r.records] == pytest.approx([0.002, 0.012, 0.022, 0.032])


@settings(max_examples=60, deadline=None)
@given(arrivals=st.lists(st.integers(0, 40), min_size=1, max_size=30).map(sorted),
       max_batch_size=st.integers(1, 6), max_wait_ms=st.sampled_from([0, 1, 2, 5]),
       compute_ms=st.sampled_from([0, 0, 3]))
def test_rule_holds_on_any_schedule(serving, arrivals, max_batch_size, max_wait_ms, compute_ms):
    r = run(replay(serving, arrivals, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, compute_ms=compute_ms))
    # every item answered once, in FIFO order
    assert [f.result() for f in r.futures] == [10 * i for i in range(len(arrivals))]
    assert [x for batch in r.computed for x in batch] == list(range(len(arrivals)))
    assert [rec.size for rec in r.records] == [len(b) for b in r.computed]
    start = 0
    for rec, batch in zip(r.records, r.computed):
        assert 1 <= rec.size <= max_batch_size
        oldest = r.arrivals_s[batch[0]]
        assert rec.oldest_wait_s == pytest.approx(rec.fired_at - oldest, abs=EPS)
        if rec.reason == "full":
            assert rec.size == max_batch_size
        else:
            assert rec.reason == "deadline" and rec.size < max_batch_size
            # never before the oldest waited max_wait; exactly then if nothing was computing
            assert rec.fired_at >= oldest + max_wait_ms / 1000 - EPS
        if compute_ms == 0:
            assert rec.oldest_wait_s <= max_wait_ms / 1000 + EPS
            if rec.reason == "full":  # fired the instant the filling item arrived
                assert rec.fired_at == pytest.approx(r.arrivals_s[batch[-1]], abs=EPS)
            else:
                assert rec.fired_at == pytest.approx(oldest + max_wait_ms / 1000, abs=EPS)
        start += rec.size
    # one batch computes at a time
    for a, b in zip(r.records, r.records[1:]):
        assert b.fired_at >= a.fired_at + a.compute_s - EPS
