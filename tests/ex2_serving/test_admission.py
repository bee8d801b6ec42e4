"""All-or-nothing admission: a request's rows enter the queue together or not at all; a refused request
computes nothing and is counted once."""
import asyncio

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from . import poison, timing_models
from .conftest import run
from .timeline import timeline

pytestmark = pytest.mark.exercise("2.4", "the request path")



class Requests:
    """A server observer that keeps every on_request call."""

    def __init__(self):
        self.calls = []

    def on_request(self, model, version, status, latency_s):
        self.calls.append((model, status))

    def on_batch(self, *args):
        pass


def test_a_refused_multi_row_request_computes_nothing_and_counts_once(serving, timing_root):
    registry = serving.ModelRegistry(timing_root)
    # request r holds rows whose first feature is 100 * (r + 1) + i: which request a computed row came from
    requests = [[[100 * (r + 1) + i, 0, 0] for i in range(3)] for r in range(12)]

    async def scenario():
        timing_models.COMPUTED.clear()
        server = serving.ModelServer(registry, max_batch_size=2, max_wait_ms=1, max_queue_size=4, trust=True)
        observer = Requests()
        server.observers.append(observer)
        await server.load_model("recording")
        try:
            results = await asyncio.gather(*(server.predict_batch("recording", rows) for rows in requests),
                                           return_exceptions=True)
            return results, server.get_metrics()["models"]["recording"][1], observer.calls
        finally:
            await server.close()

    results, stats, calls = run(scenario())
    refused = {r for r, res in enumerate(results) if isinstance(res, serving.QueueFull)}
    answered = {r for r, res in enumerate(results) if not isinstance(res, Exception)}
    assert refused | answered == set(range(12)), [res for res in results if isinstance(res, Exception)][:1]
    assert refused and answered
    computed = {int(v) // 100 - 1 for v in timing_models.COMPUTED}
    assert not computed & refused, f"rows of refused requests {sorted(computed & refused)} were computed"
    assert sorted(timing_models.COMPUTED) == sorted(float(row[0]) for r in answered for row in requests[r])
    for r in answered:
        assert [float(p.output) for p in results[r]] == [float(sum(row)) for row in requests[r]]
    # counted per request, whatever its number of rows; batch sizes count rows
    assert (stats["requests"], stats["ok"], stats["rejected"]) == (12, len(answered), len(refused))
    assert sum(size * n for size, n in stats["batch_size_histogram"].items()) == 3 * len(answered)
    assert sorted(calls) == sorted([("recording", "ok")] * len(answered) + [("recording", "rejected")] * len(refused))


def test_a_request_is_validated_whole_and_counted_once(serving, tmp_path):
    reg = serving.ModelRegistry(tmp_path / "r")
    reg.register("poison", poison.PoisonOnNegative(), input_dim=3, format="pickle", trust=True)

    async def scenario():
        server = serving.ModelServer(reg, max_batch_size=8, max_wait_ms=1, max_queue_size=4, trust=True)
        observer = Requests()
        server.observers.append(observer)
        await server.load_model("poison")
        try:
            with pytest.raises(serving.InvalidInput) as bad_row:
                await server.predict_batch("poison", [[1, 1, 1], [2, 2, 2], [3, "x", 3]])
            with pytest.raises(serving.InvalidInput) as too_many:
                await server.predict_batch("poison", [[1, 1, 1]] * 5)  # more rows than the queue holds
            with pytest.raises(serving.InvalidInput) as empty:
                await server.predict_batch("poison", [])
            with pytest.raises(ValueError, match="poisoned"):
                await server.predict_batch("poison", [[1, 1, 1], [-1, 0, 0], [2, 0, 0]])
            ok = await server.predict_batch("poison", np.array([[1, 2, 3], [4, 5, 6]]))
            return bad_row.value, too_many.value, empty.value, ok, \
                server.get_metrics()["models"]["poison"][1], observer.calls
        finally:
            await server.close()

    bad_row, too_many, empty, ok, stats, calls = run(scenario())
    assert bad_row.status == 422 and bad_row.field == "inputs[2]", bad_row
    assert too_many.field == "inputs" and "at most 4" in str(too_many), too_many
    assert empty.field == "inputs"
    assert [float(p.output) for p in ok] == [6.0, 15.0] and {p.version for p in ok} == {1}
    assert (stats["requests"], stats["invalid"], stats["errors"], stats["ok"]) == (5, 3, 1, 1)
    assert [status for _, status in calls] == ["invalid", "invalid", "invalid", "error", "ok"]


# -- the batcher's admission rule, on a virtual clock ---------------------------------------------
dequeue = pytest.mark.exercise("2.2", "dequeue with deadlines")


@dequeue
def test_submit_many_queues_every_row_or_none(serving):
    # queue of 5: 3 rows fit, the next 3 do not (nothing of them is queued), then 2 fit again
    t = run(timeline(serving, [0, 0, 0], rows=[3, 3, 2], max_batch_size=8, max_wait_ms=5, max_queue_size=5))
    assert t.refused[0] is None and t.refused[2] is None
    assert isinstance(t.refused[1], serving.QueueFull) and t.refused[1].status == 503
    assert t.depths == [0, 3, 3]
    assert [b.rows for b in t.batches] == [[(0, 0), (0, 1), (0, 2), (2, 0), (2, 1)]]
    assert t.answers[0][1] == [0, 1, 2] and t.answers[2][1] == [20, 21]  # each row's output, in order
    assert t.answers[1] is None


@dequeue
def test_a_failing_row_fails_its_request_and_its_queued_rows_are_never_computed(serving):
    # batches of 2: rows (0,0),(0,1) compute, (0,1) fails; (0,2),(0,3) are still queued and are dropped
    t = run(timeline(serving, [0, 1], rows=[4, 1], max_batch_size=2, max_wait_ms=0, compute_ms=10,
                     fail=lambda p: p == (0, 1)))
    assert isinstance(t.answers[0][1], ValueError) and t.answers[0][0] == pytest.approx(0.030)  # batch, then 2 alone
    assert t.answers[1][1] == [10]
    computed = [row for b in t.batches for row in b.rows]
    assert (0, 2) not in computed and (0, 3) not in computed
    assert [b.rows for b in t.batches][:3] == [[(0, 0), (0, 1)], [(0, 0)], [(0, 1)]]  # isolation


@dequeue
@settings(max_examples=60, deadline=None)
@example(arrivals=[0, 0, 0], sizes=[2, 3, 1], max_queue_size=4, max_batch_size=2)
@given(arrivals=st.lists(st.integers(0, 20), min_size=1, max_size=12).map(sorted),
       sizes=st.lists(st.integers(1, 4), min_size=12, max_size=12),
       max_queue_size=st.integers(1, 6), max_batch_size=st.integers(1, 4))
def test_admission_is_all_or_nothing_per_request(serving, arrivals, sizes, max_queue_size, max_batch_size):
    sizes = sizes[:len(arrivals)]
    t = run(timeline(serving, arrivals, rows=sizes, max_batch_size=max_batch_size, max_wait_ms=2,
                     compute_ms=3, max_queue_size=max_queue_size))
    computed = [row for b in t.batches for row in b.rows]
    for i, (size, depth, refused) in enumerate(zip(sizes, t.depths, t.refused)):
        assert (refused is not None) == (depth + size > max_queue_size), (i, depth, size, refused)
        if refused is not None:
            assert isinstance(refused, serving.QueueFull)
            assert not [row for row in computed if row[0] == i], f"rows of refused request {i} were computed"
            assert t.answers[i] is None
        else:
            assert [row for row in computed if row[0] == i] == [(i, j) for j in range(size)]
            assert t.answers[i][1] == [10 * i + j for j in range(size)]
    assert computed == sorted(computed)  # FIFO over rows
    assert all(0 < len(b.rows) <= max_batch_size for b in t.batches)


def test_a_value_beyond_float32_is_refused_not_turned_into_infinity(serving, tmp_path):
    reg = serving.ModelRegistry(tmp_path / "r")
    reg.register("poison", poison.PoisonOnNegative(), input_dim=3, format="pickle", trust=True)

    async def scenario():
        server = serving.ModelServer(reg, trust=True)
        await server.load_model("poison")
        try:
            refused = []
            for call in (server.predict("poison", [1e39, 0, 0]),
                         server.predict_batch("poison", [[1, 1, 1], [0, -1e300, 0]]),
                         server.predict_batch("poison", np.array([[1.0, 1.0, 1.0], [0.0, 1e39, 0.0]]))):
                with pytest.raises(serving.InvalidInput) as info:
                    await call
                refused.append(info.value)
            ok = await server.predict("poison", [3e38, 0, 0])  # within range: fine
            return refused, ok
        finally:
            await server.close()

    refused, ok = run(scenario())
    assert [e.field for e in refused] == ["inputs", "inputs[1]", "inputs[1]"], refused
    assert all("float32 range" in str(e) for e in refused)
    assert np.isfinite(float(ok.output))
