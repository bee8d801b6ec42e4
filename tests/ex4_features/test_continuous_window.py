"""The continuous window (t - W, t] per event == pandas groupby(key).rolling(W, on=ts), ties by arrival."""
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from .oracles import AGGS, MINUTE, assert_rows_match, disordered, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.2", "continuous window (last W as of each event)")

WINDOWS = [5 * MINUTE, MINUTE, 1_000]


def pipeline_for(window_ms, out_of_orderness=0):
    w = features.ContinuousWindow(window_ms)
    feats = [features.Feature(a, "user", None if a == "count" else "amount", a, w) for a in AGGS]
    return features.FeaturePipeline(feats, max_out_of_orderness=out_of_orderness)


@settings(max_examples=60, deadline=None)
@given(ordered_events(), st.sampled_from(WINDOWS))
def test_in_order_stream_equals_pandas_rolling(events, window_ms):
    pipeline = pipeline_for(window_ms)
    rows = []
    for e in events:
        out = pipeline.process(e)
        assert [r["event_id"] for r in out] == [e["event_id"]]  # in order, no out-of-orderness: emitted at once
        rows += out
    assert_rows_match(rows, events, window_ms)


@settings(max_examples=60, deadline=None)
@given(st.data(), ordered_events(max_size=50), st.sampled_from(WINDOWS), st.sampled_from([0, 1_000, 3 * MINUTE]))
def test_out_of_order_stream_after_watermark_reordering_equals_pandas(data, events, window_ms, max_delay):
    """Bounded disorder, watermark out-of-orderness = the bound: nothing is late, rows equal pandas."""
    arrival = data.draw(disordered(events, max_delay))
    pipeline = pipeline_for(window_ms, out_of_orderness=max_delay)
    rows = pipeline.process_batch(arrival) + pipeline.flush()
    assert pipeline.late == [] and pipeline.stats["late_dropped"] == 0
    assert [(r["ts"], r["seq"]) for r in rows] == sorted((r["ts"], r["seq"]) for r in rows)
    assert_rows_match(rows, arrival, window_ms)


def test_window_is_open_on_the_left_and_ties_follow_arrival():
    pipeline = pipeline_for(MINUTE)
    t = 1_000_000
    out = []
    for i, (ts, amount) in enumerate([(t, 1.0), (t, 2.0), (t + MINUTE, 4.0), (t + MINUTE, 8.0)]):
        out += pipeline.process({"event_id": i, "user": "a", "amount": amount, "ts": ts})
    assert [r["count"] for r in out] == [1, 2, 1, 2]  # t + W evicts both events at t; ties see earlier arrivals
    assert [r["sum"] for r in out] == [1.0, 3.0, 4.0, 12.0]
    assert [r["max"] for r in out] == [1.0, 2.0, 4.0, 8.0]


def test_state_rejects_out_of_order_input():
    state = features.ContinuousWindowState(MINUTE, ["count", "max"])
    assert state.add(10, 1.0) == [1, 1.0]
    with pytest.raises(ValueError, match="order"):
        state.add(5, 2.0)
