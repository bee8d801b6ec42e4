"""2.8 (stretch): graceful drain - readiness falls, new work is refused, no accepted request is lost."""
import asyncio

import httpx
import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.data.serving import classification_data

from . import timing_models
from .conftest import run

pytestmark = pytest.mark.exercise("2.8", "graceful drain")

X, _ = classification_data(n=100, n_features=8, seed=13)


class Reasons:
    """A server observer that keeps the reason of every fired batch."""

    def __init__(self):
        self.reasons = []

    def on_request(self, *args):
        pass

    def on_batch(self, name, version, record):
        self.reasons.append((record.reason, record.size))


def test_drain_answers_everything_accepted(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=32, max_wait_ms=10_000)
        observer = Reasons()
        server.observers.append(observer)
        await server.load_model("mlp")
        await server.load_model("tabular")
        accepted = [asyncio.ensure_future(server.predict("mlp", x)) for x in X]
        await asyncio.sleep(0)  # all 100 are queued: 3 full batches fire, 4 wait for a 10 s window
        draining = asyncio.ensure_future(server.drain())
        await asyncio.sleep(0)
        health = server.health_check()
        with pytest.raises(serving.Draining) as refused:
            await server.predict("tabular", X[0])
        results = await asyncio.gather(*accepted, return_exceptions=True)
        await asyncio.wait_for(draining, 10)
        after = server.health_check()
        await server.close()
        return results, health, refused.value, after, observer.reasons

    results, health, refused, after, reasons = run(scenario())
    assert all(not isinstance(r, Exception) for r in results), [r for r in results if isinstance(r, Exception)][:1]
    assert len(results) == 100 and {r.version for r in results} == {2}
    assert health["draining"] and not health["ready"] and refused.status == 503
    # every version is on its way out while it drains: none reads READY
    assert {state for versions in health["models"].values() for state in versions.values()} == {"UNLOADING"}, health
    assert ("drain", 4) in reasons and sum(size for _, size in reasons) == 100
    assert after["models"] == {}


def test_readiness_turns_false_over_http(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry)
        await server.load_model("tabular")
        app = serving.create_app(server)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            before = await client.get("/v2/health/ready")
            drained = await client.post("/admin/drain")
            ready = await client.get("/v2/health/ready")
            live = await client.get("/v2/health/live")
            infer = await client.post("/v2/models/tabular/infer", json={"inputs": [
                {"name": "input-0", "shape": [1, 8], "datatype": "FP32", "data": [0.0] * 8}]})
        await server.close()
        return before, drained, ready, live, infer

    before, drained, ready, live, infer = run(scenario())
    assert before.status_code == 200
    assert drained.status_code == 200, drained.text
    # not ready: a 4xx with {"ready": false} (the protocol's rule; Triton answers 400), live all the same
    assert ready.status_code == 400 and ready.json()["ready"] is False and live.status_code == 200
    # the drained server has unloaded everything, but the answer is Draining, never 404 "not loaded"
    assert infer.status_code == 503 and "draining" in infer.json()["error"], infer.text
    assert infer.headers.get("Retry-After") == "1"


def running_batchers() -> list[str]:
    """Names of the batcher worker tasks still running on this loop."""
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().endswith("-worker") and not t.done())


def ready_versions(server) -> list:
    return sorted((name, v) for name, versions in server.health_check()["models"].items()
                  for v, state in versions.items() if state == "READY")


@settings(max_examples=12, deadline=None)
@example(delay_ms=0.0)  # drain while the load is still warming up
@example(delay_ms=1000 * timing_models.WARMUP_S)  # drain about when the load completes
@given(delay_ms=st.floats(0, 2500 * timing_models.WARMUP_S))
def test_a_load_overlapping_a_drain_is_drained_or_refused(serving, timing_root, delay_ms):
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=4, max_wait_ms=1, trust=True)
        await server.load_model("fast")
        load = asyncio.ensure_future(server.load_model("slowload"))  # warm-up takes WARMUP_S
        await asyncio.sleep(delay_ms / 1000)
        await server.drain()
        at_drain = ready_versions(server), running_batchers(), server.loaded_versions()
        [outcome] = await asyncio.gather(load, return_exceptions=True)
        await asyncio.sleep(0.01)
        after_load = ready_versions(server), running_batchers(), server.loaded_versions()
        [late] = await asyncio.gather(server.load_model("fast"), return_exceptions=True)  # after the drain
        await server.close()
        return at_drain, outcome, after_load, late

    at_drain, outcome, after_load, late = run(scenario())
    assert isinstance(late, serving.Draining), late
    assert at_drain == ([], [], []), f"after drain() returned: READY, running batchers, loaded = {at_drain}"
    if isinstance(outcome, Exception):
        assert isinstance(outcome, serving.Draining) and outcome.status == 503, outcome
    else:
        assert outcome.version == 1  # the load completed before the drain began, and was drained with the rest
    assert after_load == ([], [], []), f"once the overlapping load finished: READY, batchers, loaded = {after_load}"


def test_drain_waits_for_a_shadow_call_in_flight(serving, timing_root):
    """The shadow's answer is compared before drain() returns: background work is accepted work too."""
    registry = serving.ModelRegistry(timing_root)

    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=4, max_wait_ms=1, trust=True)
        await server.load_model("pair", 2)  # the shadow: one second per batch
        await server.load_model("pair", 1)  # served
        server.set_shadow("pair", 2)
        answer = await server.predict("pair", [1.0, 2.0, 3.0])
        await asyncio.sleep(0.1)  # the mirrored request now computes on v2
        await server.drain()
        report = server.shadow_report("pair")
        await server.close()
        return answer, report

    answer, report = run(scenario())
    assert answer.version == 1
    assert (report["sent"], report["compared"], report["errors"]) == (1, 1, 0), report
