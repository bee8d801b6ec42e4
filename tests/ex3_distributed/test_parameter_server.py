"""3.5: the parameter server: synchronous equals SGD; asynchronous respects the staleness bound."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from .reference import single_process_sgd
from .test_data_parallel import equality_config

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.5", "parameter server with bounded staleness")


@settings(max_examples=150, deadline=None)
@given(workers=st.integers(1, 4), bound=st.one_of(st.none(), st.integers(0, 3)), steps=st.integers(1, 6),
       data=st.data())
def test_gate_keeps_every_worker_within_the_bound_and_never_deadlocks(workers, bound, steps, data):
    """Simulate a server with arbitrary arrival orders: the SSP invariant holds at every release."""
    gate = distributed.StalenessGate(range(1, workers + 1), bound, steps)
    version, running = 0, {w: 0 for w in range(1, workers + 1)}  # worker -> version it computes on
    pushed = {w: 0 for w in running}
    while running:
        w = data.draw(st.sampled_from(sorted(running)))
        computed_at = running.pop(w)
        assert gate.push(w, computed_at, version) == version - computed_at
        version += 1
        pushed[w] += 1
        for r in gate.releasable():
            assert r not in running
            slowest = min(pushed.values())
            assert pushed[r] >= steps or bound is None or pushed[r] - slowest <= bound
            if pushed[r] < steps:
                running[r] = version
        assert running or all(p == steps for p in pushed.values()), "deadlock: nobody may run"
    assert len(gate.staleness) == workers * steps and all(s >= 0 for s in gate.staleness)
    if bound is not None:
        assert max(gate.staleness) <= (workers - 1) * (2 * bound + 1)


def test_bound_zero_is_lockstep():
    gate = distributed.StalenessGate([1, 2], 0, 3)
    gate.push(1, 0, 0)
    assert gate.releasable() == []  # worker 1 is one step ahead of worker 2
    gate.push(2, 0, 1)
    assert gate.releasable() == [1, 2]


def test_a_finished_worker_is_released_at_once_even_ahead_of_the_bound():
    gate = distributed.StalenessGate([1, 2], 0, 1)
    gate.push(1, 0, 0)
    assert gate.releasable() == [1]  # its one step is done: the reply only lets it exit, whatever the bound


@pytest.mark.timeout(60)
def test_synchronous_parameter_server_equals_single_process_sgd():
    config = equality_config(strategy="parameter_server", workers=2, staleness=0)
    result = distributed.train(config)
    expected = single_process_sgd(config, 2)
    server, *workers = result.param_history
    np.testing.assert_allclose(server, expected, rtol=0, atol=1e-12)
    for w in workers:
        assert w.tobytes() == server.tobytes()
    assert result.replicas_identical and set(result.staleness) == {0}


@pytest.mark.timeout(60)
def test_asynchronous_server_applies_every_push_within_the_bound():
    config = distributed.TrainConfig(strategy="parameter_server", workers=2, staleness=2, epochs=2,
                                     worker_delays=(0.0, 0.005))
    result = distributed.train(config)
    steps = 2 * 12  # 96 samples / 2 workers / batch 4, two epochs
    assert len(result.staleness) == 2 * steps and len(result.loss_history) == 2 * steps
    assert 0 <= min(result.staleness) and max(result.staleness) <= (2 - 1) * (2 * 2 + 1)
    assert np.mean(result.loss_history[-8:]) < np.mean(result.loss_history[:8])
