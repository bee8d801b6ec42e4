"""2.6 (stretch): sticky A/B routing by weighted rendezvous hashing, and shadow traffic."""
import asyncio
import math
import random
from fractions import Fraction

import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.data.serving import classification_data, user_ids
from mlpractice.impl import load

from .conftest import run
from .http_app import body, served

pytestmark = pytest.mark.exercise("2.6", "sticky A/B routing")

USERS = user_ids(10_000, seed=7)
VERSIONS = range(1, 6)
X, _ = classification_data(n=32, n_features=8, seed=11)
WEIGHT = st.one_of(st.just(0.0), st.sampled_from([0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.5]),
                   st.floats(0.01, 100.0, allow_nan=False, allow_infinity=False))


@pytest.fixture(scope="module")
def routing():
    return load("serving.routing")


@pytest.fixture(scope="module")
def points(routing):
    """The 10,000 users' points for versions 1-5, hashed once for every test of the module."""
    return [routing.variant_points("exp", u, VERSIONS) for u in USERS]


def assign(routing, weights, points):
    return [routing.choose_variant(weights, p) for p in points]


@st.composite
def weight_changes(draw):
    """(weights before, weights after) over the same 2-5 versions, both summing to > 0: one weight
    changed, all rescaled (no ratio changes), or all redrawn."""
    versions = draw(st.lists(st.sampled_from(VERSIONS), min_size=2, max_size=5, unique=True))
    before = draw(st.lists(WEIGHT, min_size=len(versions), max_size=len(versions)).filter(lambda w: sum(w) > 0))
    kind = draw(st.sampled_from(["one", "rescale", "all"]))
    if kind == "one":
        after = list(before)
        after[draw(st.integers(0, len(after) - 1))] = draw(WEIGHT)
    elif kind == "rescale":
        factor = draw(st.floats(0.1, 10.0))
        after = [w * factor for w in before]
    else:
        after = draw(st.lists(WEIGHT, min_size=len(versions), max_size=len(versions)))
    if sum(after) <= 0:
        after[0] = 1.0
    return dict(zip(versions, before)), dict(zip(versions, after))


@settings(max_examples=60, deadline=None)
@given(change=weight_changes())
@example(change=({1: 0.2, 2: 0.3, 3: 0.5}, {1: 0.2, 2: 0.1, 3: 0.7}))
@example(change=({1: 1.0, 2: 1.0, 3: 1.0}, {1: 1.0, 2: 1.0, 3: 2.0}))  # raise v3: nobody may go 1 -> 2
def test_users_move_from_a_to_b_only_if_w_b_over_w_a_grew(routing, points, change):
    before, after = change
    old, new = assign(routing, before, points), assign(routing, after, points)
    moves: dict[tuple[int, int], int] = {}
    for a, b in zip(old, new):
        assert before[a] > 0 and after[b] > 0, f"a zero-weight version was chosen: {a} -> {b}"
        if a != b:
            moves[a, b] = moves.get((a, b), 0) + 1
    for (a, b), n in moves.items():
        # exact rational comparison of w'_b / w'_a > w_b / w_a, valid when w'_a is 0 (a lost all its users)
        grew = Fraction(after[b]) * Fraction(before[a]) > Fraction(before[b]) * Fraction(after[a])
        assert grew, (f"{n} of {len(USERS)} users moved from v{a} to v{b} although w{b}/w{a} did not grow: "
                      f"weights {before} -> {after}; all moves {moves}")


@settings(max_examples=200, deadline=None)
@given(weights=st.dictionaries(st.sampled_from(VERSIONS), WEIGHT, min_size=1).filter(lambda w: sum(w.values()) > 0),
       user=st.dictionaries(st.sampled_from(VERSIONS), st.floats(0, 1, exclude_min=True, exclude_max=True),
                            min_size=5, max_size=5))
def test_the_lowest_score_wins_against_a_reference_scan(routing, weights, user):
    scores = sorted((-math.log(user[v]) / w, v) for v, w in weights.items() if w > 0)
    chosen = routing.choose_variant(weights, user)
    if len(scores) > 1 and scores[1][0] - scores[0][0] <= 1e-9 * scores[1][0]:
        assert chosen in {v for s, v in scores if s - scores[0][0] <= 1e-9 * s}  # a near-tie: either is fine
    else:
        assert chosen == scores[0][1], f"scores -ln(u)/w (score, version): {scores}"


@pytest.mark.parametrize("weights, user, expected", [
    ({1: 1.0, 2: 3.0}, {1: 0.6, 2: 0.3}, 2),                         # 0.511 vs 0.401: not the highest point
    ({1: 1.0, 2: 10.0}, {1: 0.99, 2: 0.5}, 1),                       # 0.010 vs 0.069: not the highest weight
    ({1: 1.0, 2: 1.0, 3: 1.0}, {1: 0.2, 2: 0.7, 3: 0.4}, 2),          # equal weights: the highest point
    ({1: 2.0, 2: 1.0, 3: 4.0}, {1: 0.2, 2: 0.7, 3: 0.4}, 3),          # 0.805, 0.357, 0.229
    ({1: 0.0, 2: 1.0, 3: 0.0}, {1: 0.999, 2: 0.001, 3: 0.999}, 2),    # zero weights are never chosen
    ({1: 1.0, 2: 1.0}, {1: 0.5, 2: 0.5}, 1),                         # a tie goes to the lower version
    ({7: 2.0, 3: 2.0}, {7: 0.25, 3: 0.25}, 3),                       # ... whatever the dict's order
    ({1: 1.0, 2: 0.0}, {1: 0.5}, 1),                                 # a zero-weight version needs no point
])
def test_hand_made_points(routing, weights, user, expected):
    assert routing.choose_variant(weights, user) == expected


def test_rejects_weights_that_sum_to_zero(routing):
    with pytest.raises(ValueError):
        routing.choose_variant({1: 0.0, 2: 0.0}, {1: 0.5, 2: 0.5})


def test_rejects_points_missing_a_weighted_version(routing):
    with pytest.raises(ValueError, match="2"):
        routing.choose_variant({1: 1.0, 2: 1.0}, {1: 0.5})


@pytest.mark.parametrize("weights", [
    {1: 0.9, 2: 0.1}, {1: 0.5, 2: 0.5}, {1: 0.2, 2: 0.3, 3: 0.5}, {1: 1.0, 2: 1.0, 3: 2.0},
    {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}, {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.25, 5: 0.15}, {2: 3.0, 3: 0.0, 5: 1.0},
])
def test_split_over_10k_users_is_within_2_points_and_sticky(routing, points, weights):
    picks = assign(routing, weights, points)
    total = sum(weights.values())
    shares = {v: picks.count(v) / len(USERS) for v in weights}
    for version, weight in weights.items():
        assert abs(shares[version] - weight / total) < 0.02, f"shares {shares} for weights {weights}"
    fresh = [routing.variant_points("exp", u, weights) for u in USERS[:500]]  # hashed again: the same answer
    assert assign(routing, weights, fresh) == picks[:500]


def test_raising_one_weight_only_moves_users_into_it(routing, points):
    before = assign(routing, {1: 1.0, 2: 1.0, 3: 1.0}, points)
    after = assign(routing, {1: 1.0, 2: 1.0, 3: 2.0}, points)
    moved = [(a, b) for a, b in zip(before, after) if a != b]
    assert set(moved) == {(1, 3), (2, 3)}, f"moves seen: {sorted(set(moved))}"
    assert abs(len(moved) / len(USERS) - (1 / 2 - 1 / 3)) < 0.02  # v3's share goes from 1/3 to 1/2


def test_lowering_one_weight_only_moves_users_out_of_it(routing, points):
    before = assign(routing, {1: 0.2, 2: 0.3, 3: 0.5}, points)
    after = assign(routing, {1: 0.2, 2: 0.1, 3: 0.5}, points)
    moved = {(a, b) for a, b in zip(before, after) if a != b}
    assert moved == {(2, 1), (2, 3)}, f"moves seen: {sorted(moved)}"


def test_a_split_picks_sticky_with_a_key_and_at_random_without(routing):
    weights = {1: 0.2, 2: 0.3, 3: 0.5}
    split = routing.TrafficSplit(dict(weights), sticky=True, experiment="exp-3")
    rng = random.Random(0)
    keyed = [split.pick(u, rng) for u in USERS[:300]]
    assert keyed == [split.pick(u, random.Random(1)) for u in USERS[:300]]
    assert keyed == [routing.choose_variant(weights, routing.variant_points("exp-3", u, weights)) for u in USERS[:300]]
    for drawn in ([split.pick(None, rng) for _ in USERS],
                  [routing.TrafficSplit(dict(weights), sticky=False).pick(u, rng) for u in USERS]):
        for version, weight in weights.items():
            assert abs(drawn.count(version) / len(USERS) - weight) < 0.02


@pytest.mark.scaffold
def test_variant_points_are_fixed_and_inside_the_open_interval(routing):
    a = routing.variant_points("exp", "user-1", [1, 2, 3])
    b = routing.variant_points("exp", "user-1", [3, 2, 1, 4])
    assert set(a) == {1, 2, 3} and all(a[v] == b[v] for v in a)  # a version's point ignores the others
    every = [p for u in USERS[:2000] for p in routing.variant_points("exp", u, VERSIONS).values()]
    assert all(0 < p < 1 for p in every)
    assert abs(sum(every) / len(every) - 0.5) < 0.01
    assert routing.variant_points("other", "user-1", [1]) != routing.variant_points("exp", "user-1", [1])


def test_server_routes_each_user_to_the_same_version(serving, routing, registry):
    weights = {1: 0.7, 2: 0.3}

    async def scenario():
        server = serving.ModelServer(registry, max_wait_ms=1)
        await server.load_model("mlp", 1)
        await server.load_model("mlp", 2)
        server.set_traffic_split("mlp", weights, experiment="exp-9")
        try:
            users = USERS[:300]
            first = await asyncio.gather(*(server.predict("mlp", X[i % 32], routing_key=u)
                                           for i, u in enumerate(users)))
            second = await asyncio.gather(*(server.predict("mlp", X[0], routing_key=u) for u in users))
            pinned = await server.predict("mlp", X[0], version=1, routing_key=users[0])
            return users, first, second, pinned, server.get_metrics()
        finally:
            await server.close()

    users, first, second, pinned, metrics = run(scenario())
    expected = [routing.choose_variant(weights, routing.variant_points("exp-9", u, weights)) for u in users]
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


def test_http_requests_are_sticky_by_routing_key_from_parameters_or_header(serving, registry, routing):
    """The key of a request, `parameters.routing_key` or the X-Routing-Key header, picks its variant: the same
    key always gets the version the rule gives it, whichever way it is sent."""
    keys = USERS[:40]
    weights = {1: 0.5, 2: 0.5}

    async def scenario():
        async with served(serving, registry, [("mlp", 1), ("mlp", 2)]) as (client, server, _):
            server.set_traffic_split("mlp", weights, experiment="exp")
            by_param = [await client.post("/v2/models/mlp/infer", json=body(X[:1], routing_key=k)) for k in keys]
            by_header = [await client.post("/v2/models/mlp/infer", json=body(X[:1]), headers={"X-Routing-Key": k})
                         for k in keys]
            return by_param, by_header

    by_param, by_header = run(scenario())
    expected = [routing.choose_variant(weights, routing.variant_points("exp", k, weights)) for k in keys]
    assert len(set(expected)) == 2  # the keys reach both variants, so a random pick cannot pass
    assert [int(r.json()["model_version"]) for r in by_param] == expected
    assert [int(r.json()["model_version"]) for r in by_header] == expected
