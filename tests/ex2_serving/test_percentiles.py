"""2.5: exact percentiles over the recent window (numpy.percentile is the oracle)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

pytestmark = pytest.mark.exercise("2.5", "latency percentiles")


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=200),
       q=st.one_of(st.sampled_from([0, 50, 95, 99, 100]), st.floats(0, 100)))
def test_matches_numpy(serving, values, q):
    got = serving.percentile(sorted(values), q)
    assert got == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-9)


def test_edges(serving):
    assert math.isnan(serving.percentile([], 50))
    assert serving.percentile([3.0], 99) == 3.0
    assert serving.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    with pytest.raises(ValueError):
        serving.percentile([1.0], 101)


def test_window_keeps_only_recent_latencies(serving):
    from mlpractice.impl import load
    stats = load("serving.stats").VersionStats(window=100)
    for i in range(1000):
        stats.record("ok", i / 1000, now=float(i))
    stats.record("error", 5.0, now=1000.0)  # a failure's latency (say a timeout's) would move p95 and p99
    summary = stats.summary(now=1000.0, queue_depth=0)
    recent = np.arange(900, 1000) / 1000
    for q in (50, 95, 99):
        assert summary["latency_ms"][f"p{q}"] == pytest.approx(1000 * np.percentile(recent, q))
    assert (summary["requests"], summary["errors"], summary["latency_window"]) == (1001, 1, 100)
    assert summary["error_rate"] == pytest.approx(1 / 1001)
