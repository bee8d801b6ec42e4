"""One value of a feature at time t: online reads, training rows and the oracle agree at every time.

A continuous-window feature at time t is its aggregate over the entity's events in (t - W, t],
missing when the entity's latest event is older than the TTL. Online reads decay to t; a training
row at t must say the same, or the model is trained on values it is never served (skew).
"""
import math

import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.impl import load

from .oracles import MINUTE, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.7", "point-in-time joins")

W = 5 * MINUTE
TTL = 10 * MINUTE
AGG = {"n5": ("count", None), "spend5": ("sum", "amount"), "max5": ("max", "amount")}


def oracle(events, user, t):
    """(t - W, t] over the user's events; None when the latest event at or before t is older than the TTL."""
    seen = [e for e in events if e["user"] == user and e["ts"] <= t]
    if not seen or max(e["ts"] for e in seen) < t - TTL:
        return {name: None for name in AGG}
    inside = pd.Series([e["amount"] for e in seen if e["ts"] > t - W], dtype=float)
    return {"n5": len(inside), "spend5": float(inside.sum()), "max5": float(inside.max()) if len(inside) else math.nan}


def same(a, b) -> bool:
    missing = lambda x: x is None or (isinstance(x, float) and math.isnan(x))
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)


lookups = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(-MINUTE, 40 * MINUTE)),
                   min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(events=ordered_events(max_size=30), lookups=lookups)
@example(  # three transactions at 0, 1 and 2 minutes, looked up at 10 minutes: 0 online, so 0 in training
    events=[{"event_id": i, "user": "a", "amount": 1.0, "ts": 1_000_000 + i * MINUTE} for i in range(3)],
    lookups=[("a", 10 * MINUTE)])
def test_online_value_equals_training_value_equals_oracle_at_every_time(tmp_path_factory, events, lookups):
    w = features.ContinuousWindow("5min")
    feats = [features.Feature(name, "user", field, agg, w) for name, (agg, field) in AGG.items()]
    store = features.FeatureStore(feats, offline=tmp_path_factory.mktemp("offline"), ttl="10min")
    pipeline = features.FeaturePipeline(feats)
    times = [(user, 1_000_000 + t) for user, t in lookups]
    online = {}
    pending = iter(events)
    nxt = next(pending, None)
    for user, t in sorted(times, key=lambda ut: ut[1]):  # the stream up to t, then an online read at t
        while nxt is not None and nxt["ts"] <= t:
            store.write_rows(pipeline.process(nxt), created_ts=0)
            nxt = next(pending, None)
        store.materialize(pipeline, created_ts=0)
        online[(user, t)] = store.get_online_features([user], list(AGG), now=t)[0]
    while nxt is not None:
        store.write_rows(pipeline.process(nxt), created_ts=0)
        nxt = next(pending, None)
    store.write_rows(pipeline.flush(), created_ts=0)
    frame = store.get_historical_features(pd.DataFrame({"entity": [u for u, _ in times], "ts": [t for _, t in times]}),
                                          list(AGG))
    for i, (user, t) in enumerate(times):
        want = oracle(events, user, t)
        for name in AGG:
            assert same(online[(user, t)][name], want[name]), (name, user, t, "online", online[(user, t)], want)
            assert same(frame[name].iat[i], want[name]), (name, user, t, "training", frame[name].iat[i], want)
