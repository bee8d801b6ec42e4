"""2.4: the request path of ModelServer - answers, batching, backpressure, deadlines, isolation, reload."""
import asyncio

import numpy as np
import pytest

from mlpractice.data.serving import classification_data

from .conftest import run

pytestmark = pytest.mark.exercise("2.4", "the request path")

X, _ = classification_data(n=64, n_features=8, seed=3)


def test_answers_match_the_models_called_directly(serving, registry):
    tabular = registry.load("tabular").predictor
    mlp2 = registry.load("mlp", 2).predictor

    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=16, max_wait_ms=5)
        await server.load_model("tabular")
        await server.load_model("mlp")
        try:
            a = await asyncio.gather(*(server.predict("tabular", list(x)) for x in X))
            b = await server.predict_batch("mlp", X)
            return a, b, server.get_metrics()
        finally:
            await server.close()

    a, b, metrics = run(scenario())
    np.testing.assert_allclose(np.stack([p.output for p in a]), np.stack(tabular.predict(X)), rtol=1e-6)
    np.testing.assert_allclose(np.stack([p.output for p in b]), np.stack(mlp2.predict(X)), rtol=1e-5, atol=1e-6)
    assert {p.version for p in b} == {2}
    tab = metrics["models"]["tabular"][1]
    assert tab["ok"] == tab["requests"] == 64
    assert tab["mean_batch_size"] > 1  # 64 concurrent requests were batched
    assert sum(k * v for k, v in tab["batch_size_histogram"].items()) == 64


def test_errors_map_to_statuses_and_are_counted(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry)
        await server.load_model("tabular")
        try:
            with pytest.raises(serving.ModelNotFound):
                await server.predict("nope", [0.0] * 8)
            with pytest.raises(serving.ModelNotFound):
                await server.predict("tabular", [0.0] * 8, version=7)
            with pytest.raises(serving.ModelNotFound):
                await server.predict("mlp", [0.0] * 8)  # in the registry, not loaded
            for bad, match in [([0.0] * 7, "expected 8 numbers"), (["a"] * 8, "not a number"),
                               ([float("nan")] * 8, "NaN"), ("x", "list")]:
                with pytest.raises(serving.InvalidInput, match=match) as info:
                    await server.predict("tabular", bad)
                assert info.value.status == 422 and info.value.field == "inputs"
            ok = await server.predict("tabular", [0.0] * 8)
            return ok, server.get_metrics()
        finally:
            await server.close()

    ok, metrics = run(scenario())
    assert ok.version == 1
    tab = metrics["models"]["tabular"][1]
    assert (tab["invalid"], tab["ok"], tab["errors"]) == (4, 1, 0)
    assert metrics["unknown_model_requests"] >= 2


def test_a_stopped_server_refuses_with_draining_not_not_found(serving, registry):
    """Step 1 of the request path: once the server drains (here: closed), a request is refused with
    Draining (503, retry elsewhere) before any lookup, although nothing is loaded any more (404 would lie)."""
    async def scenario():
        server = serving.ModelServer(registry)
        await server.load_model("tabular")
        assert (await server.predict("tabular", [0.0] * 8)).version == 1
        await server.close()
        with pytest.raises(serving.Draining):
            await server.predict("tabular", [0.0] * 8)
        with pytest.raises(serving.Draining):
            await server.predict_batch("tabular", X[:3])

    run(scenario())


def test_flood_gets_503_and_every_accepted_request_is_answered(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=2, max_wait_ms=1, max_queue_size=4, trust=True)
        await server.load_model("slow")
        try:
            results = await asyncio.gather(*(server.predict("slow", [i, 0, 0]) for i in range(40)),
                                           return_exceptions=True)
            return results, server.get_metrics()["models"]["slow"][1]
        finally:
            await server.close()

    results, stats = run(scenario())
    answered = [r for r in results if not isinstance(r, Exception)]
    rejected = [r for r in results if isinstance(r, serving.QueueFull)]
    assert len(answered) + len(rejected) == 40, [r for r in results if isinstance(r, Exception)][:1]
    assert len(answered) == 4 and all(r.status == 503 and r.retry_after_s >= 1 for r in rejected)
    assert sorted(float(r.output) for r in answered) == [0.0, 1.0, 2.0, 3.0]
    assert (stats["ok"], stats["rejected"]) == (4, 36)


def test_deadline_in_queue_gives_504_without_compute(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=1, max_wait_ms=0, trust=True)
        await server.load_model("slow")  # 50 ms per call, one at a time
        try:
            first = asyncio.ensure_future(server.predict("slow", [1, 0, 0]))
            await asyncio.sleep(0)
            second = server.predict("slow", [2, 0, 0], timeout_s=0.01)
            results = await asyncio.gather(first, second, return_exceptions=True)
            return results, server.get_metrics()["models"]["slow"][1]
        finally:
            await server.close()

    (first, second), stats = run(scenario())
    assert float(first.output) == 1.0, first
    assert isinstance(second, serving.DeadlineExceeded) and second.status == 504, second
    assert (stats["timed_out"], stats["batches"]) == (1, 1)


def test_bad_item_in_a_batch_fails_only_its_request(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=8, max_wait_ms=20, trust=True)
        await server.load_model("poison")
        try:
            rows = [[1, 1, 1], [2, 0, 0], [-1, 0, 0], [3, 0, 0]]
            return await asyncio.gather(*(server.predict("poison", r) for r in rows), return_exceptions=True)
        finally:
            await server.close()

    results = run(scenario())
    assert [float(r.output) for i, r in enumerate(results) if i != 2] == [3.0, 2.0, 3.0], results
    assert isinstance(results[2], ValueError) and "poisoned" in str(results[2])


def test_hot_reload_swaps_versions_without_a_failed_request(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=8, max_wait_ms=1)
        await server.load_model("mlp", 1)
        seen, failures, stop = [], [], asyncio.Event()

        async def client(i):
            while not stop.is_set():
                try:
                    seen.append((await server.predict("mlp", X[i % len(X)])).version)
                except Exception as err:  # noqa: BLE001 - any failure is the bug we look for
                    failures.append(err)
                await asyncio.sleep(0)

        clients = [asyncio.ensure_future(client(i)) for i in range(8)]
        await asyncio.sleep(0.05)
        before = len(seen)
        await server.load_model("mlp", 2)
        swapped_at = len(seen)
        while len(seen) < swapped_at + 64 and not failures:  # many answers after the swap, however slow the box
            await asyncio.sleep(0.005)
        stop.set()
        await asyncio.gather(*clients)
        health = server.health_check()
        await server.close()
        return seen, before, swapped_at, failures, health

    seen, before, swapped_at, failures, health = run(scenario())
    assert failures == [], failures[:1]
    assert before > 0 and set(seen[:before]) == {1}
    assert seen[-1] == 2 and 2 in seen[swapped_at:]
    assert health["served"]["mlp"] == 2 and health["ready"]


def test_failed_reload_keeps_the_old_version_serving(serving, registry, tmp_path):
    from . import poison
    reg = serving.ModelRegistry(tmp_path / "r")
    reg.register("m", poison.PoisonOnNegative(), input_dim=3, format="pickle", trust=True)
    reg.register("m", poison.FailsWarmup(), input_dim=3, format="pickle", trust=True)

    async def scenario():
        server = serving.ModelServer(reg, trust=True)
        await server.load_model("m", 1)
        try:
            with pytest.raises(serving.ModelLoadError, match="v1 keeps serving"):
                await server.load_model("m", 2)
            answer = await server.predict("m", [1, 2, 3])
            return answer, server.health_check()
        finally:
            await server.close()

    answer, health = run(scenario())
    assert (float(answer.output), answer.version) == (6.0, 1)
    assert health["ready"] and health["models"]["m"] == {1: "READY", 2: "UNAVAILABLE"}


def test_cache_bounds_loaded_versions(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, cache_size=2)
        await server.load_model("mlp", 1)
        await server.load_model("mlp", 2)             # v2 serves; v1 stays loaded for explicit requests
        await server.predict("mlp", X[0], version=1)  # v1 is now the most recently used
        await server.load_model("tabular")            # evicts v1 all the same: v2 is served, v1 is not
        await asyncio.sleep(0.05)
        loaded = server.loaded_versions()
        answer = await server.predict("mlp", X[0])
        with pytest.raises(serving.ModelNotFound):
            await server.predict("mlp", X[0], version=1)
        await server.close()
        return loaded, answer

    loaded, answer = run(scenario())
    assert loaded == [("mlp", 2), ("tabular", 1)] and answer.version == 2


def test_health_states_and_readiness(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, required_models=["tabular", "mlp"])
        h0 = server.health_check()
        await server.load_model("tabular")
        h1 = server.health_check()
        await server.load_model("mlp")
        h2 = server.health_check()
        await server.predict("mlp", X[0])
        await server.close()
        return h0, h1, h2

    h0, h1, h2 = run(scenario())
    assert h0["live"] and not h0["ready"] and h0["not_ready"] == ["mlp", "tabular"]
    assert not h1["ready"] and h1["not_ready"] == ["mlp"]
    assert h2["ready"] and h2["models"] == {"mlp": {2: "READY"}, "tabular": {1: "READY"}}
