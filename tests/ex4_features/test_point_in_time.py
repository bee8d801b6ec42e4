"""Point-in-time as-of join == pandas.merge_asof(backward, by key, tolerance=ttl) after de-duplicating ties."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.data.features import merchant_table, transactions
from mlpractice.impl import load

features = load("features")
pytestmark = pytest.mark.exercise("4.7", "point-in-time joins")

keys = st.sampled_from(["a", "b", "c", "d"])
times = st.integers(0, 40)  # a small range: plenty of equal timestamps on both sides
history_rows = st.lists(st.tuples(keys, times, st.integers(0, 40), st.integers(0, 99)), max_size=40)
entity_rows = st.lists(st.tuples(keys, times), min_size=1, max_size=30)
ttls = st.one_of(st.none(), st.integers(0, 15))


def oracle(entities, history, ttl):
    left = pd.DataFrame(entities, columns=["entity", "ts"]).reset_index().sort_values("ts", kind="stable")
    right = pd.DataFrame(history, columns=["entity", "feature_ts", "created_ts", "value"]).astype(
        {"entity": object, "feature_ts": "int64", "created_ts": "int64", "value": float})
    right = right.reset_index().sort_values(["entity", "feature_ts", "created_ts", "index"], kind="stable")
    right = right.drop_duplicates(["entity", "feature_ts"], keep="last").sort_values("feature_ts", kind="stable")
    merged = pd.merge_asof(left, right.rename(columns={"index": "right_index"}), left_on="ts",
                           right_on="feature_ts", by="entity", direction="backward",
                           tolerance=ttl, allow_exact_matches=True)
    merged = merged.sort_values("index")
    return merged["right_index"].fillna(-1).astype(int).to_numpy()


@settings(max_examples=150, deadline=None)
@given(entity_rows, history_rows, ttls)
def test_asof_equals_merge_asof(entities, history, ttl):
    got = features.asof_indices([e for e, _ in entities], [t for _, t in entities],
                                [h[0] for h in history], [h[1] for h in history], [h[2] for h in history], ttl=ttl)
    assert got.tolist() == oracle(entities, history, ttl).tolist()


@settings(max_examples=150, deadline=None)
@given(entity_rows, history_rows, ttls)
def test_created_before_option_never_uses_values_written_later(entities, history, ttl):
    got = features.asof_indices([e for e, _ in entities], [t for _, t in entities], [h[0] for h in history],
                                [h[1] for h in history], [h[2] for h in history], ttl=ttl, created_before=True)
    for (entity, ts), i in zip(entities, got):
        visible = [j for j, h in enumerate(history) if h[0] == entity and h[1] <= ts and h[2] <= ts
                   and (ttl is None or h[1] >= ts - ttl)]
        want = max(visible, key=lambda j: (history[j][1], history[j][2], j)) if visible else -1
        assert i == want


def test_historical_features_have_no_leakage_and_match_the_oracle(tmp_path):
    w = features.ContinuousWindow("5min")
    feats = [features.Feature("n5", "user", None, "count", w), features.Feature("max5", "user", "amount", "max", w)]
    fs = features.FeatureStore(feats, offline=tmp_path / "offline", ttl="10min")
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness="3s")
    records = transactions(2_000, 30, seed=7, rate=5.0)
    fs.write_rows(pipeline.process_batch(records) + pipeline.flush(), created_ts=0)
    rng = np.random.default_rng(0)
    ts = [r["ts"] for r in records]
    entity_df = pd.DataFrame({"entity": rng.choice([r["user"] for r in records], 300),
                              "ts": rng.integers(min(ts) - 60_000, max(ts) + 20 * 60_000, 300)})
    out = fs.get_historical_features(entity_df, ["n5", "max5"])
    has = out["n5__ts"].notna()
    assert has.sum() > 100 and (~has).sum() > 0
    assert (out.loc[has, "n5__ts"] <= out.loc[has, "ts"]).all()  # never a value from the future
    assert (out.loc[has, "n5__ts"] >= out.loc[has, "ts"] - 10 * 60_000).all()
    history = fs.offline.read(["n5"])
    picked = oracle(list(zip(entity_df["entity"], entity_df["ts"])),
                    list(zip(history["entity"], history["feature_ts"], history["created_ts"], history["value"])),
                    10 * 60_000)
    np.testing.assert_array_equal(out["n5__ts"].to_numpy(dtype=float),
                                  [history["feature_ts"].iat[i] if i >= 0 else math.nan for i in picked])
    # the value is the window evaluated at the row's own time, (ts - 5 min, ts], as an online read there is
    events = pd.DataFrame(records)
    for column, agg in (("n5", "count"), ("max5", "max")):
        want = [math.nan if i < 0 else events.loc[(events["user"] == user) & (events["ts"] > t - 5 * 60_000)
                                                  & (events["ts"] <= t), "amount"].agg(agg)
                for user, t, i in zip(entity_df["entity"], entity_df["ts"], picked)]
        np.testing.assert_array_equal(out[column].to_numpy(dtype=float), np.array(want, dtype=float))
    # the naive join (latest value per user, ignoring time) would leak future values into most rows
    naive = history.sort_values("feature_ts").groupby("entity")["feature_ts"].last()
    assert (entity_df["entity"].map(naive) > entity_df["ts"]).mean() > 0.1


def test_stream_table_join_uses_the_version_valid_at_event_time():
    table = merchant_table(20, seed=1, versions=3)
    events = transactions(500, 20, 20, seed=1, rate=0.2)
    enriched = features.enrich(events, table, key="merchant", fields=("category", "risk"))
    left = pd.DataFrame(events).reset_index().sort_values("ts", kind="stable")
    right = pd.DataFrame(table).sort_values("valid_from", kind="stable")
    want = pd.merge_asof(left, right, left_on="ts", right_on="valid_from", by="merchant").sort_values("index")
    assert [e["category"] for e in enriched] == want["category"].tolist()
    assert [e["risk"] for e in enriched] == want["risk"].tolist()


def test_datetime_timestamps_mean_the_same_instants_as_milliseconds(tmp_path):
    """A datetime ts column (Feast's entity_df convention) must not be compared as nanoseconds."""
    w = features.ContinuousWindow("5min")
    feats = [features.Feature("n5", "user", None, "count", w)]
    fs = features.FeatureStore(feats, offline=tmp_path / "offline", ttl="10min")
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness="3s")
    records = transactions(500, 10, seed=3, rate=5.0)
    fs.write_rows(pipeline.process_batch(records) + pipeline.flush(), created_ts=0)
    first = min(r["ts"] for r in records)
    entity_df = pd.DataFrame({"entity": [r["user"] for r in records[:40]] + [records[0]["user"]],
                              "ts": [r["ts"] for r in records[:40]] + [first - 3_600_000]})  # last: an hour early
    want = fs.get_historical_features(entity_df, ["n5"])["n5"].to_numpy(dtype=float)
    assert math.isnan(want[-1]) and not np.isnan(want[:-1]).all()
    for stamps in (pd.to_datetime(entity_df["ts"], unit="ms"), pd.to_datetime(entity_df["ts"], unit="ms", utc=True)):
        got = fs.get_historical_features(entity_df.assign(ts=stamps), ["n5"])
        np.testing.assert_array_equal(got["n5"].to_numpy(dtype=float), want)
        assert got["ts"].equals(stamps)  # the caller's column comes back as it was
    for bad in (entity_df["ts"] / 1000.0, entity_df["ts"].astype(str)):
        with pytest.raises(TypeError, match="ts must hold integer milliseconds or datetimes"):
            fs.get_historical_features(entity_df.assign(ts=bad), ["n5"])
