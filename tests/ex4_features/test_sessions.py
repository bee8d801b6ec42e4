"""Session windows == a direct gap-based grouping (a new session when the gap to the previous event >= gap)."""
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from .oracles import MINUTE, close, disordered, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.6", "session windows")


def gap_oracle(events, gap):
    df = pd.DataFrame(events).sort_values(["user", "ts"], kind="stable")
    df["session"] = (df.groupby("user")["ts"].diff().fillna(gap) >= gap).cumsum()
    out = {}
    for (user, _), g in df.groupby(["user", "session"]):
        key = (user, int(g["ts"].min()), int(g["ts"].max()) + gap)
        out[key] = (len(g), float(g["amount"].sum()))
    return out


@settings(max_examples=60, deadline=None)
@given(st.data(), ordered_events(max_size=50), st.sampled_from([1_000, MINUTE, 5 * MINUTE]),
       st.sampled_from([0, 3_000]))
def test_sessions_equal_gap_grouping(data, events, gap, max_delay):
    arrival = data.draw(disordered(events, max_delay))
    window = features.SessionWindow(gap)
    feats = [features.Feature("n", "user", None, "count", window),
             features.Feature("spend", "user", "amount", "sum", window)]
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness=max_delay)
    pipeline.process_batch(arrival)
    pipeline.flush()
    got = {}
    for w in pipeline.fired:
        assert not w.update
        got.setdefault((w.key, w.start, w.end), {})[w.feature] = w.value
    want = gap_oracle(events, gap)
    assert set(got) == set(want)
    for k, (n, spend) in want.items():
        assert got[k]["n"] == n and close(got[k]["spend"], spend, 1e4)


def test_a_late_event_bridging_two_fired_sessions_merges_them_into_an_update():
    window = features.SessionWindow(MINUTE)
    pipeline = features.FeaturePipeline([features.Feature("n", "user", None, "count", window)],
                                         allowed_lateness=10 * MINUTE)
    t = 10_000_000
    for i, ts in enumerate([t, t + 90_000, t + 5 * MINUTE]):  # two sessions, then the watermark passes both
        pipeline.process({"event_id": i, "user": "a", "ts": ts})
    assert [(w.start - t, w.end - t, w.value, w.update) for w in pipeline.take_fired()] == [
        (0, MINUTE, 1, False), (90_000, 90_000 + MINUTE, 1, False)]
    pipeline.process({"event_id": 9, "user": "a", "ts": t + 45_000})  # late, within lateness: bridges them
    assert [(w.start - t, w.end - t, w.value, w.update) for w in pipeline.take_fired()] == [
        (0, 90_000 + MINUTE, 3, True)]
