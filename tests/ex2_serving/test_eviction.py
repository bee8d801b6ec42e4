"""The model cache never takes a served version offline: evictions pick unserved versions, least
recently used first, and a load that would need a served slot is refused (507) while serving goes on."""
import asyncio

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.data.serving import classification_data

from .conftest import run

pytestmark = pytest.mark.exercise("2.4", "the request path")

X, _ = classification_data(n=4, n_features=8, seed=5)


async def settled(server):
    """Let background retirements finish (a stopped batcher answers its queue first)."""
    for _ in range(400):
        if not server._background:
            return
        await asyncio.sleep(0.005)


def served_versions_are_loaded(server, served: dict, split: dict | None):
    """`served`: what the test made the default of each model; `split`: the mlp split it set."""
    loaded = set(server.loaded_versions())
    for name, v in served.items():
        assert (name, v) in loaded, f"{name} v{v} is served but was evicted: {sorted(loaded)}"
    for v in split or ():
        assert ("mlp", v) in loaded, f"mlp v{v} is in the split {split} but was evicted: {sorted(loaded)}"
    return loaded


def test_a_hot_swap_evicts_the_version_it_replaced_not_another_model(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=4, max_wait_ms=1, cache_size=2)
        try:
            await server.load_model("tabular")
            await server.load_model("mlp", 1)
            await server.load_model("mlp", 2)  # the swap: v1 is served no more, tabular still is
            await settled(server)
            loaded = served_versions_are_loaded(server, {"tabular": 1, "mlp": 2}, None)
            answer = await server.predict("tabular", X[0])
            return loaded, answer.version, server.health_check()["ready"]
        finally:
            await server.close()

    loaded, version, ready = run(scenario())
    assert loaded == {("tabular", 1), ("mlp", 2)}
    assert version == 1 and ready


def test_a_load_that_needs_a_served_slot_is_refused_and_serving_goes_on(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=4, max_wait_ms=1, cache_size=2)
        try:
            await server.load_model("mlp", 1)
            await server.load_model("mlp", 2)
            server.set_traffic_split("mlp", {1: 0.5, 2: 0.5})  # both slots now serve
            with pytest.raises(serving.CacheFull, match="cache_size") as refused:
                await server.load_model("tabular")
            await settled(server)
            loaded = served_versions_are_loaded(server, {"mlp": 2}, {1: 0.5, 2: 0.5})
            answer = await server.predict("mlp", X[0], routing_key="u1")
            return refused.value.status, loaded, answer.version
        finally:
            await server.close()

    status, loaded, version = run(scenario())
    assert status == 507
    assert loaded == {("mlp", 1), ("mlp", 2)} and version in (1, 2)


operation = st.one_of(
    st.tuples(st.just("load"), st.sampled_from([("tabular", 1), ("mlp", 1), ("mlp", 2)])),
    st.tuples(st.just("split"), st.floats(0.1, 0.9)),
    st.tuples(st.just("clear")),
    st.tuples(st.just("unload"), st.sampled_from(["tabular", "mlp"])),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(operation, min_size=1, max_size=8))
def test_no_sequence_of_loads_swaps_splits_and_unloads_evicts_a_served_version(serving, demo_root, ops):
    registry = serving.ModelRegistry(demo_root)
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=4, max_wait_ms=1, cache_size=2)
        served, split = {}, None  # what the operations that succeeded asked for
        try:
            for op in ops:
                try:
                    if op[0] == "load":
                        await server.load_model(*op[1])
                        served[op[1][0]] = op[1][1]
                    elif op[0] == "split":
                        server.set_traffic_split("mlp", {1: op[1], 2: 1 - op[1]})
                        split = {1: op[1], 2: 1 - op[1]}
                    elif op[0] == "clear":
                        server.clear_traffic_split("mlp")
                        split = None
                    else:
                        await server.unload_model(op[1])
                        served.pop(op[1], None)
                        split = None if op[1] == "mlp" else split
                except (serving.CacheFull, serving.ModelNotFound):
                    pass  # refused with a clear error: a full cache of served versions, or nothing to act on
                await settled(server)
                assert len(served_versions_are_loaded(server, served, split)) <= 2
                for name in served:
                    await server.predict(name, X[0], routing_key="u1")  # every served model answers
        finally:
            await server.close()

    run(scenario())


def test_the_admin_load_answers_507_naming_the_versions_in_use(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_batch_size=4, max_wait_ms=1, cache_size=1)
        await server.load_model("tabular")
        transport = httpx.ASGITransport(app=serving.create_app(server), client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            refused = await client.post("/v2/repository/models/mlp/load")
            ready = await client.get("/v2/health/ready")
        await server.close()
        return refused, ready

    refused, ready = run(scenario())
    assert refused.status_code == 507, refused.text
    assert "tabular v1" in refused.json()["error"] and "cache_size" in refused.json()["error"]
    assert ready.status_code == 200  # tabular still serves
