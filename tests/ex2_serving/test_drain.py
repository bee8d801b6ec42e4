"""2.8 (stretch): graceful drain - readiness falls, new work is refused, no accepted request is lost."""
import asyncio

import httpx
import pytest

from mlpractice.data.serving import classification_data

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
    assert ("drain", 4) in reasons and sum(size for _, size in reasons) == 100
    assert after["models"] == {}


def test_readiness_turns_503_over_http(serving, registry):
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
    assert ready.status_code == 503 and live.status_code == 200
    # the drained server has unloaded everything, but the answer is Draining, never 404 "not loaded"
    assert infer.status_code == 503 and "draining" in infer.json()["error"], infer.text
    assert infer.headers.get("Retry-After") == "1"
