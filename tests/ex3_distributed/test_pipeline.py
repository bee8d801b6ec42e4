"""3.7: pipeline schedules are legal, hold the right activations, and give the unsplit gradients."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from . import workers

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.7", "pipeline schedules (GPipe, 1F1B)")


def executes_legally(per_stage):
    """Independent oracle: run the per-stage lists with the data dependencies; False on a deadlock."""
    P, done, pos = len(per_stage), set(), [0] * len(per_stage)
    while any(pos[s] < len(per_stage[s]) for s in range(P)):
        moved = False
        for s in range(P):
            if pos[s] < len(per_stage[s]):
                op, m = per_stage[s][pos[s]]
                need = {("F", s - 1, m)} if op == "F" and s else set()
                if op == "B":
                    need = {("F", s, m)} | ({("B", s + 1, m)} if s < P - 1 else set())
                if need <= done:
                    done.add((op, s, m))
                    pos[s] += 1
                    moved = True
        if not moved:
            return False
    return True


def peak_in_flight(ops):
    held = peak = 0
    for op, _ in ops:
        held += 1 if op == "F" else -1
        peak = max(peak, held)
    return peak


@settings(max_examples=80, deadline=None)
@given(stages=st.integers(1, 6), micro_batches=st.integers(1, 10), kind=st.sampled_from(["gpipe", "1f1b"]))
def test_schedules_are_legal_complete_and_bounded(stages, micro_batches, kind):
    per_stage = distributed.schedule(kind, stages, micro_batches)
    assert len(per_stage) == stages
    for s, ops in enumerate(per_stage):
        assert sorted(ops) == sorted([("F", m) for m in range(micro_batches)] +
                                     [("B", m) for m in range(micro_batches)]), "each step exactly once"
        assert all(ops.index(("F", m)) < ops.index(("B", m)) for m in range(micro_batches))
        expected_peak = micro_batches if kind == "gpipe" else min(stages - s, micro_batches)
        assert peak_in_flight(ops) == expected_peak
    assert executes_legally(per_stage)
    _, bubble = distributed.simulate(per_stage)
    assert bubble == pytest.approx((stages - 1) / (micro_batches + stages - 1), abs=1e-12)


def ops(text):
    return [(t[0], int(t[1:])) for t in text.split()]


def test_schedules_pinned_by_hand():
    """The exact orders the docstrings state, including 1F1B with fewer micro-batches than stages."""
    assert distributed.gpipe_schedule(2, 3) == [ops("F0 F1 F2 B0 B1 B2")] * 2
    assert distributed.one_f_one_b_schedule(3, 4) == [ops("F0 F1 F2 B0 F3 B1 B2 B3"), ops("F0 F1 B0 F2 B1 F3 B2 B3"),
                                                      ops("F0 B0 F1 B1 F2 B2 F3 B3")]
    assert distributed.one_f_one_b_schedule(4, 2) == [ops("F0 F1 B0 B1"), ops("F0 F1 B0 B1"), ops("F0 F1 B0 B1"),
                                                      ops("F0 B0 F1 B1")]


@pytest.fixture(scope="module", params=[2, 3], ids=["2-stages", "3-stages"])
def pipelined(request):
    return request.param, distributed.launch(workers.pipeline_vs_unsplit, request.param, 4)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["gpipe", "1f1b"])
def test_pipelined_gradients_equal_the_unsplit_model(pipelined, kind):
    stages, results = pipelined
    for s, out in enumerate(results):
        for got, expected in zip(out[kind]["grads"], out[kind]["expected"], strict=True):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert out[kind]["log"] == distributed.schedule(kind, stages, 4)[s]
        assert out[kind]["peak"] == (4 if kind == "gpipe" else min(stages - s, 4))
    assert results[-1][kind]["loss"] == pytest.approx(results[-1][kind]["expected_loss"], abs=1e-12)
