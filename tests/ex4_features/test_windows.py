"""Tumbling and sliding (hopping) windows == a pandas groupby over independently computed assignments."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from .oracles import MINUTE, close, disordered, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.3", "tumbling and sliding windows")

AGGS = ["count", "sum", "max", "mean"]


def run(feats, arrival, out_of_orderness):
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness=out_of_orderness)
    pipeline.process_batch(arrival)
    pipeline.flush()
    return pipeline.fired


def oracle(assigned: pd.DataFrame):
    """{(agg, user, start): value} from a frame with one row per (event, window start)."""
    grouped = assigned.groupby(["user", "start"])["amount"]
    out = {}
    for agg in AGGS:
        for (user, start), value in grouped.agg(agg).items():
            out[(agg, user, int(start))] = float(value)
    return out


def compare(fired, want, size):
    got = {(w.feature, w.key, w.start): w.value for w in fired}
    assert len(got) == len(fired), "each window fires exactly once when nothing is late"
    assert all(not w.update and w.end == w.start + size for w in fired)
    assert set(got) == set(want)
    for k, v in want.items():
        assert close(got[k], v, 1e4), (k, got[k], v)


@settings(max_examples=50, deadline=None)
@given(st.data(), ordered_events(max_size=50), st.sampled_from([1_000, MINUTE, 5 * MINUTE]),
       st.sampled_from([0, 2_000]))
def test_tumbling_equals_pandas_floor_groupby(data, events, size, max_delay):
    arrival = data.draw(disordered(events, max_delay))
    window = features.TumblingWindow(size)
    feats = [features.Feature(a, "user", None if a == "count" else "amount", a, window) for a in AGGS]
    df = pd.DataFrame(events)
    df["start"] = (df["ts"] // size) * size
    compare(run(feats, arrival, max_delay), oracle(df), size)


@settings(max_examples=50, deadline=None)
@given(st.data(), ordered_events(max_size=40), st.sampled_from([(MINUTE, 30_000), (5 * MINUTE, MINUTE),
                                                                (5 * MINUTE, 2 * MINUTE), (1_000, 1_000)]))
def test_sliding_equals_pandas_groupby_over_exploded_windows(data, events, size_slide):
    size, slide = size_slide
    arrival = data.draw(disordered(events, 1_000))
    window = features.SlidingWindow(size, slide)
    feats = [features.Feature(a, "user", None if a == "count" else "amount", a, window) for a in AGGS]
    df = pd.DataFrame(events)
    # every start k*slide with start <= ts < start + size, from integer arithmetic alone
    first = (df["ts"] - size) // slide + 1
    last = df["ts"] // slide
    df["start"] = [list(np.arange(a, b + 1) * slide) for a, b in zip(first, last)]
    compare(run(feats, arrival, 1_000), oracle(df.explode("start")), size)


@given(st.integers(-10**13, 10**13), st.sampled_from([(MINUTE, 30_000), (7_000, 3_000), (5, 5)]))
def test_assignment_boundaries(ts, size_slide):
    size, slide = size_slide
    [(start, end)] = features.TumblingWindow(size).assign(ts)
    assert start <= ts < end and end - start == size and start % size == 0
    windows = features.SlidingWindow(size, slide).assign(ts)
    assert windows == sorted(windows)
    assert all(s <= ts < e and e - s == size and s % slide == 0 for s, e in windows)
    assert len(windows) == len([k for k in range((ts - size) // slide, ts // slide + 2)
                                if k * slide <= ts < k * slide + size])


def test_event_on_a_boundary_belongs_to_the_window_that_starts_there():
    assert features.TumblingWindow(MINUTE).assign(MINUTE) == [(MINUTE, 2 * MINUTE)]
    assert features.SlidingWindow(2 * MINUTE, MINUTE).assign(2 * MINUTE) == [(MINUTE, 3 * MINUTE),
                                                                           (2 * MINUTE, 4 * MINUTE)]
