"""Session windows == a direct gap-based grouping: windows that overlap or touch merge, as in Flink.

A new session starts when the gap to the previous event of the key is larger than `gap`
(events exactly `gap` apart share a session). A session's `last` is the value it took most
recently: on-time events in (event time, arrival) order, a late event when it arrives.
"""
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from .oracles import MINUTE, close, disordered, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.6", "session windows")

SECOND = 1_000


def gap_oracle(arrival, gap):
    """{(user, start, end): (count, sum, last)}; `arrival` in arrival order, ties by arrival."""
    df = pd.DataFrame(arrival).reset_index().sort_values(["user", "ts", "index"], kind="stable")
    df["session"] = (df.groupby("user")["ts"].diff().fillna(gap + 1) > gap).cumsum()
    out = {}
    for (user, _), g in df.groupby(["user", "session"]):
        out[(user, int(g["ts"].min()), int(g["ts"].max()) + gap)] = (len(g), float(g["amount"].sum()),
                                                                    float(g["amount"].iloc[-1]))
    return out


def session_features(gap):
    window = features.SessionWindow(gap)
    return [features.Feature("n", "user", None, "count", window),
            features.Feature("spend", "user", "amount", "sum", window),
            features.Feature("last", "user", "amount", "last", window)]


def final_sessions(fired):
    """{feature: {(key, start, end): value}} of the emissions no later emission supersedes.

    A merged session re-emits as an update covering the sessions it absorbed; a consumer
    upserting by session keeps only the covering one.
    """
    out = {}
    for i, w in enumerate(fired):
        covered = any(v.feature == w.feature and v.key == w.key and v.start <= w.start and w.end <= v.end
                      for v in fired[i + 1:])
        covers_earlier = any(v.feature == w.feature and v.key == w.key and w.start <= v.start and v.end <= w.end
                             for v in fired[:i])
        assert w.update == covers_earlier, w
        if not covered:
            out.setdefault(w.feature, {})[(w.key, w.start, w.end)] = w.value
    return out


@settings(max_examples=60, deadline=None)
@given(st.data(), ordered_events(max_size=50), st.sampled_from([1_000, MINUTE, 5 * MINUTE]),
       st.sampled_from([0, 3_000]), st.sampled_from([1, 30_000]))
def test_sessions_equal_gap_grouping(data, events, gap, max_delay, lateness):
    arrival = data.draw(disordered(events, max_delay))
    pipeline = features.FeaturePipeline(session_features(gap), max_out_of_orderness=max_delay,
                                        allowed_lateness=lateness)
    pipeline.process_batch(arrival)
    pipeline.flush()
    got = final_sessions(pipeline.fired)
    want = gap_oracle(arrival, gap)
    assert set(got["n"]) == set(want) == set(got["spend"]) == set(got["last"])
    for k, (n, spend, last) in want.items():
        assert got["n"][k] == n and close(got["spend"][k], spend, 1e4) and got["last"][k] == last, k


def run(events, feats, **settings):
    pipeline = features.FeaturePipeline(feats, **settings)
    for i, (ts, amount) in enumerate(events):
        pipeline.process({"event_id": i, "user": "a", "amount": amount, "ts": ts})
    return pipeline


def test_sessions_exactly_gap_apart_merge_and_last_is_the_newest():
    pipeline = run([(0, 1.0), (MINUTE, 2.0)], session_features(MINUTE))
    pipeline.flush()
    assert [(w.feature, w.start, w.end, w.value) for w in pipeline.fired] == [
        ("n", 0, 2 * MINUTE, 2), ("spend", 0, 2 * MINUTE, 3.0), ("last", 0, 2 * MINUTE, 2.0)]


@pytest.mark.parametrize("lateness, want", [
    (0, [(0, MINUTE, 1, False), (MINUTE, 2 * MINUTE, 1, False)]),  # the first session was already dropped
    (1, [(0, MINUTE, 1, False), (0, 2 * MINUTE, 2, True)]),  # still kept: the touching event extends it
])
def test_a_touching_event_merges_only_into_a_session_still_kept(lateness, want):
    """Another key moves the watermark to the session's end before the touching event arrives."""
    pipeline = features.FeaturePipeline(session_features(MINUTE)[:1], allowed_lateness=lateness)
    pipeline.process({"event_id": 0, "user": "a", "ts": 0})
    pipeline.process({"event_id": 1, "user": "b", "ts": MINUTE})  # watermark = the session's end: it fires
    pipeline.process({"event_id": 2, "user": "a", "ts": MINUTE})  # on time (ts == watermark), touching [0, 1 min)
    pipeline.flush()
    assert [(w.start, w.end, w.value, w.update) for w in pipeline.fired if w.key == "a"] == want


def test_flink_session_example():
    """Flink with a 3 s gap and 2 s out-of-orderness, events at 1, 2, 10, 7, 20 s: [1, 5) 2, [7, 13) 2, [20, 23) 1.

    The 7 s event arrives behind the watermark (8 s) but its session is not late, and [7, 10)
    touches [10, 13), so they merge.
    """
    feats = [features.Feature("n", "k", None, "count", features.SessionWindow("3s"))]
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness="2s")
    for i, t in enumerate([1, 2, 10, 7, 20]):
        pipeline.process({"event_id": i, "k": "k", "ts": t * SECOND})
    pipeline.flush()
    assert [(w.start // SECOND, w.end // SECOND, w.value) for w in pipeline.fired] == [(1, 5, 2), (7, 13, 2), (20, 23, 1)]
    assert pipeline.late == []


@pytest.mark.parametrize("events", [
    [(0, 1.0), (30 * SECOND, 2.0)],  # the newer session piece starts later
    [(0, 1.0), (0, 2.0)],  # a tie: the same start and end, the second arrival is the newer
])
def test_merge_keeps_the_newest_value_last(events):
    pipeline = run(events, session_features(MINUTE))
    pipeline.flush()
    assert {w.feature: w.value for w in pipeline.fired} == {"n": 2, "spend": 3.0, "last": 2.0}


def test_a_late_event_bridging_two_fired_sessions_merges_them_into_an_update():
    t = 10_000_000
    pipeline = run([(t, 1.0), (t + 90_000, 2.0), (t + 5 * MINUTE, 5.0)], session_features(MINUTE),
                   allowed_lateness=10 * MINUTE)  # two sessions, then the watermark passes both
    assert [(w.feature, w.start - t, w.end - t, w.value, w.update) for w in pipeline.take_fired()] == [
        ("n", 0, MINUTE, 1, False), ("spend", 0, MINUTE, 1.0, False), ("last", 0, MINUTE, 1.0, False),
        ("n", 90_000, 90_000 + MINUTE, 1, False), ("spend", 90_000, 90_000 + MINUTE, 2.0, False),
        ("last", 90_000, 90_000 + MINUTE, 2.0, False)]
    pipeline.process({"event_id": 9, "user": "a", "amount": 3.0, "ts": t + 45_000})  # late, bridges them
    assert [(w.feature, w.start - t, w.end - t, w.value, w.update) for w in pipeline.take_fired()] == [
        ("n", 0, 90_000 + MINUTE, 3, True), ("spend", 0, 90_000 + MINUTE, 6.0, True),
        ("last", 0, 90_000 + MINUTE, 3.0, True)]  # the bridging event is the newest value
