"""2.6 (stretch): sticky A/B routing by cumulative ranges, and shadow traffic."""
import asyncio

import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.data.serving import classification_data, user_ids

from .conftest import run

pytestmark = pytest.mark.exercise("2.6", "sticky A/B routing")

USERS = user_ids(10_000, seed=7)
X, _ = classification_data(n=32, n_features=8, seed=11)


@settings(max_examples=300, deadline=None)
@given(weights=st.dictionaries(st.integers(1, 6), st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), min_size=1)
       .filter(lambda w: sum(w.values()) > 0), point=st.floats(0, 1, exclude_max=True))
def test_point_lands_in_its_cumulative_range(serving, weights, point):
    chosen = serving.choose_variant(weights, point)
    total = sum(weights.values())
    lower = sum(w for v, w in weights.items() if v < chosen) / total
    upper = lower + weights[chosen] / total
    assert weights[chosen] > 0
    assert lower - 1e-12 <= point < upper + 1e-12


def test_rejects_weights_that_sum_to_zero(serving):
    with pytest.raises(ValueError):
        serving.choose_variant({1: 0.0, 2: 0.0}, 0.5)


@pytest.mark.parametrize("weights", [{1: 0.9, 2: 0.1}, {1: 0.5, 2: 0.5}, {1: 0.2, 2: 0.3, 3: 0.5}])
def test_split_over_10k_users_is_within_2_points_and_sticky(serving, weights):
    picks = [serving.choose_variant(weights, serving.bucket("exp-1", u)) for u in USERS]
    total = sum(weights.values())
    for version, weight in weights.items():
        assert abs(picks.count(version) / len(USERS) - weight / total) < 0.02
    again = [serving.choose_variant(weights, serving.bucket("exp-1", u)) for u in USERS[:500]]
    assert again == picks[:500]


def test_raising_the_new_weight_only_moves_users_into_it(serving):
    before = [serving.choose_variant({1: 0.9, 2: 0.1}, serving.bucket("exp", u)) for u in USERS]
    after = [serving.choose_variant({1: 0.7, 2: 0.3}, serving.bucket("exp", u)) for u in USERS]
    moved = [(a, b) for a, b in zip(before, after) if a != b]
    assert set(moved) == {(1, 2)}
    assert abs(len(moved) / len(USERS) - 0.2) < 0.02


def test_server_routes_each_user_to_the_same_version(serving, registry):
    weights = {1: 0.7, 2: 0.3}

    async def scenario():
        server = serving.ModelServer(registry, max_wait_ms=1)
        await server.load_model("mlp", 1)
        await server.load_model("mlp", 2)
        server.set_traffic_split("mlp", weights, experiment="exp-9")
        try:
            users = USERS[:300]
            first = await asyncio.gather(*(server.predict("mlp", X[i % 32], routing_key=u) for i, u in enumerate(users)))
            second = await asyncio.gather(*(server.predict("mlp", X[0], routing_key=u) for u in users))
            pinned = await server.predict("mlp", X[0], version=1, routing_key=users[0])
            return users, first, second, pinned, server.get_metrics()
        finally:
            await server.close()

    users, first, second, pinned, metrics = run(scenario())
    expected = [serving.choose_variant(weights, serving.bucket("exp-9", u)) for u in users]
    assert [p.version for p in first] == expected == [p.version for p in second]
    assert pinned.version == 1  # an explicit version bypasses the split
    served = metrics["models"]["mlp"]
    assert served[2]["ok"] == 2 * expected.count(2)
    assert served[1]["ok"] == 2 * expected.count(1) + 1


def test_shadow_traffic_is_compared_never_returned_and_bounded(serving, registry):
    async def scenario():
        server = serving.ModelServer(registry, max_wait_ms=1)
        await server.load_model("mlp", 2)
        await server.load_model("mlp", 1)  # v1 serves, v2 is the shadow
        server.set_shadow("mlp", 2, max_in_flight=4)
        try:
            answers = await asyncio.gather(*(server.predict("mlp", x) for x in X))
            await asyncio.sleep(0.2)
            return answers, server.shadow_report("mlp")
        finally:
            await server.close()

    answers, report = run(scenario())
    assert {a.version for a in answers} == {1}
    assert report["sent"] + report["dropped"] == 32 and report["dropped"] > 0  # 32 at once, 4 in flight
    assert report["compared"] == report["sent"] and report["errors"] == 0
    assert 0.5 <= report["agreement"] <= 1.0  # two decent classifiers mostly agree
