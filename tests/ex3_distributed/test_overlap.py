"""3.9: gradient buckets all-reduced during backward, in reverse order, equal to a synchronous all-reduce."""
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlpractice.impl import load

from . import overlap_workers as ow

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.9", "gradient all-reduce overlapped with backward")


@pytest.fixture(scope="module", params=[2, 3], ids=["2-workers", "3-workers"])
def runs(request):
    world_size = request.param
    return world_size, distributed.launch(ow.overlap_cases, world_size, timeout=10)


@pytest.mark.timeout(60)
def test_equals_synchronous_all_reduce_and_one_process_sgd(runs):
    world_size, results = runs
    single = ow.one_process_history(world_size)
    for cap in ow.CAPS:
        for rank, out in enumerate(results):
            case = out["caps"][cap]
            np.testing.assert_allclose(case["history"], case["oracle"], rtol=0, atol=1e-12,
                                       err_msg=f"cap {cap}, rank {rank}: vs synchronous all-reduce")
            np.testing.assert_allclose(case["history"], single, rtol=0, atol=1e-12,
                                       err_msg=f"cap {cap}, rank {rank}: vs one process on all rows")
        assert len({out["caps"][cap]["history"].tobytes() for out in results}) == 1, "replicas diverged"


@pytest.mark.timeout(60)
def test_buckets_follow_reverse_registration_order_and_the_cap(runs):
    _, results = runs
    sizes = results[0]["param_bytes"]
    n = len(sizes)
    for cap in ow.CAPS:
        for timeline in results[0]["caps"][cap]["timelines"]:
            buckets = [params for _, params, _ in timeline["buckets"]]
            assert [i for params in buckets for i in params] == list(reversed(range(n))), buckets
            for _, params, nbytes in timeline["buckets"]:
                assert nbytes == sum(sizes[i] for i in params)
                assert nbytes <= cap or len(params) == 1, (cap, params, nbytes)
            launches = [b for kind, b in timeline["events"] if kind == "launch"]
            assert launches == list(range(len(buckets))), f"cap {cap}: launched in order {launches}"
    assert len(results[0]["caps"][1]["timelines"][0]["buckets"]) == n
    assert len(results[0]["caps"][1 << 30]["timelines"][0]["buckets"]) == 1


@pytest.mark.timeout(60)
def test_buckets_go_out_while_backward_still_computes(runs):
    _, results = runs
    for cap in (1, 2400):  # several buckets
        for out in results:
            for timeline in out["caps"][cap]["timelines"]:
                events, nbuckets = timeline["events"], len(timeline["buckets"])
                assert nbuckets > 1
                assert timeline["during"] == list(range(nbuckets)), "a bucket waited for the end of backward"
                # bucket 0 (the head) left before the first layer's weight, the last gradient, was ready
                assert events.index(("launch", 0)) < events.index(("ready", 0))
                # and each bucket left as soon as its last gradient was accumulated
                for b, params, _ in timeline["buckets"]:
                    last = max(events.index(("ready", i)) for i in params)
                    assert events[last + 1] == ("launch", b), (b, events)
                assert [k for k, _ in events[-nbuckets:]] == ["waited"] * nbuckets


@pytest.mark.timeout(60)
def test_a_ready_bucket_waits_for_the_earlier_ones(runs):
    """HeadFirst's head gradients are ready first but sit in the last buckets: launches stay in bucket order."""
    _, results = runs
    for out in results:
        timeline = out["head_first"]
        assert [params for _, params, _ in timeline["buckets"]] == [(3,), (2,), (1,), (0,)]
        events = timeline["events"]
        assert [i for kind, i in events if kind == "ready"][:2] in ([0, 1], [1, 0])  # head first
        assert [b for kind, b in events if kind == "launch"] == [0, 1, 2, 3]
        head_ready = max(events.index(("ready", i)) for i in (0, 1))
        assert events.index(("launch", 0)) > head_ready  # bucket 0 (the body's bias) waited for the body
        # the moment the body's gradients complete, every waiting bucket goes out, not one per ready gradient
        launched = [events.index(("launch", b)) for b in range(4)]
        assert launched[1:] == [launched[1], launched[1] + 1, launched[1] + 2], events
        assert launched[3] < events.index(("backward end", -1)), events


@pytest.mark.timeout(60)
def test_unused_parameter_counts_as_zero_with_allow_unused(runs):
    _, results = runs
    for rank, out in enumerate(results):
        case = out["unused"]
        for got, expected in zip(case["got"], case["expected"]):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)
        launches = [b for kind, b in case["timeline"]["events"] if kind == "launch"]
        assert launches == [0, 1, 2, 3]
        if rank == 1:  # the unused layer is bucket 0 and 1: nothing can go out before finish()
            assert case["timeline"]["during"] == []


@pytest.mark.timeout(60)
def test_frozen_parameters_are_left_out(runs):
    _, results = runs
    for out in results:
        case = out["frozen"]
        assert case["buckets"] == 9 and case["weight_grad"] is None
        for got, expected in zip(case["got"], case["expected"]):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)


@pytest.mark.timeout(60)
def test_clear_errors_for_two_backwards_and_mixed_dtypes(runs):
    _, results = runs
    for out in results:
        assert out["twice"] is not None and "ready twice" in out["twice"]
        assert out["mixed"] is not None and "dtype" in out["mixed"]


@pytest.mark.timeout(60)
def test_unused_parameter_without_allow_unused_names_it():
    with pytest.raises(distributed.WorkerFailure, match=r"rank 1: ValueError: parameters got no gradient.*"
                                                        r"2 \(1, 1\), 3 \(1,\)"):
        distributed.launch(ow.unused_without_allow_unused, 2, timeout=10)


SIZES = st.lists(st.tuples(st.integers(0, 40), st.sampled_from([torch.float32, torch.float64])), max_size=12)


@settings(max_examples=150, deadline=None)
@given(SIZES, st.integers(1, 200))
@example([(10, torch.float64), (100, torch.float64), (10, torch.float64)], 160)  # one parameter above the cap
@example([(5, torch.float32), (5, torch.float32), (5, torch.float32)], 40)       # two fit exactly, the third not
@example([], 1)
def test_bucket_parameters_cap_property(sizes, cap):
    params = [torch.empty(n, dtype=dtype) for n, dtype in sizes]
    nbytes = [p.numel() * p.element_size() for p in params]
    buckets = distributed.bucket_parameters(params, cap)
    assert [i for b in buckets for i in b] == list(reversed(range(len(params))))
    assert all(b for b in buckets)
    for k, bucket in enumerate(buckets):
        size = sum(nbytes[i] for i in bucket)
        assert size <= cap or len(bucket) == 1, (bucket, size, cap)
        if k + 1 < len(buckets):  # closed only when the next parameter would not fit
            assert size + nbytes[buckets[k + 1][0]] > cap, (buckets, nbytes, cap)


def test_bucket_cap_must_be_positive():
    assert distributed.bucket_parameters([torch.empty(3)], 12) == [[0]]
    with pytest.raises(ValueError, match="cap_bytes"):
        distributed.bucket_parameters([torch.empty(3)], 0)
