"""2.7 (stretch): canary rollback when the canary breaks its error-rate or latency budget."""
import pytest

from . import poison
from .conftest import run

pytestmark = pytest.mark.exercise("2.7", "canary rollback")


def test_verdicts(serving):
    policy = serving.CanaryPolicy(version=2, min_requests=10, max_error_rate=0.05, max_p95_ms=200.0)
    assert serving.canary_verdict(policy, 9, 9, 999.0) is None  # too early to judge
    assert serving.canary_verdict(policy, 100, 12, 10.0) == "error rate 0.120 > 0.050"
    assert serving.canary_verdict(policy, 100, 5, 10.0) is None  # at the threshold is fine
    assert serving.canary_verdict(policy, 100, 0, 250.0) == "p95 250.0 ms > 200.0 ms"
    no_latency_budget = serving.CanaryPolicy(version=2, min_requests=10)
    assert serving.canary_verdict(no_latency_budget, 100, 0, 1e6) is None


def test_broken_canary_goes_to_weight_zero_and_is_logged(serving, tmp_path):
    reg = serving.ModelRegistry(tmp_path / "r")
    reg.register("c", poison.PoisonOnNegative(), input_dim=8, format="pickle", trust=True)
    reg.register("c", poison.AlwaysFails(), input_dim=8, format="pickle", trust=True)

    async def scenario():
        server = serving.ModelServer(reg, max_wait_ms=0, trust=True)
        await server.load_model("c", 1)
        await server.load_model("c", 2)
        server.set_traffic_split("c", {1: 0.5, 2: 0.5},
                                 canary=serving.CanaryPolicy(version=2, min_requests=20, max_error_rate=0.1))
        outcomes = []
        try:
            for i in range(300):  # one at a time, so the rollback point is exact
                try:
                    outcomes.append((await server.predict("c", [1.0] * 8, routing_key=f"u{i}")).version)
                except RuntimeError:
                    outcomes.append("failed")
            return outcomes, server.traffic_split("c"), server.get_metrics()
        finally:
            await server.close()

    outcomes, split, metrics = run(scenario())
    assert outcomes.count("failed") == 20  # exactly min_requests canary answers, then rollback
    last_failure = max(i for i, o in enumerate(outcomes) if o == "failed")
    assert set(outcomes[last_failure + 1:]) == {1}
    assert split == {1: 0.5, 2: 0.0}
    rollbacks = [e for e in metrics["events"] if e["event"] == "canary_rollback"]
    assert rollbacks == [{"event": "canary_rollback", "model": "c", "version": 2,
                          "reason": "error rate 1.000 > 0.100"}]
