"""Dead letters and de-duplication: a repeated event id is applied once while it is remembered.

An id is remembered while its event time + dedup_horizon > the watermark, so memory follows the
watermark, not the stream; a repeat after that is a new event, which the default horizon makes too
late for every tumbling, sliding and continuous window.
"""
import math

import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.data.features import transactions
from mlpractice.impl import load

from .oracles import MINUTE, disordered, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.5", "watermarks, lateness, side outputs")


def test_dead_letters_have_reasons_and_duplicates_apply_once():
    messy = transactions(600, 20, seed=3, duplicate_fraction=0.1, malformed_fraction=0.05, late_fraction=0.03,
                         late_by_ms=(4_000, 20_000))
    feats = [features.Feature("n", "user", None, "count", features.ContinuousWindow("5min")),
             features.Feature("spend", "user", "amount", "sum", features.ContinuousWindow("5min"))]

    def run(records):
        p = features.FeaturePipeline(feats, max_out_of_orderness="3s")
        return p, p.process_batch(records) + p.flush()

    p_messy, rows_messy = run(messy)
    dead = {id(r) for r, _ in p_messy.dead_letters}
    first_valid, seen = [], set()  # the stream a clean exactly-once source would deliver
    for r in messy:
        if id(r) not in dead and r["event_id"] not in seen:
            seen.add(r["event_id"])
            first_valid.append(r)
    p_clean, rows_clean = run(first_valid)
    assert rows_messy == rows_clean
    assert p_messy.stats["duplicates"] == len(messy) - len(dead) - len(first_valid) > 0
    assert len(p_messy.dead_letters) == p_messy.stats["dead_letter"] > 0
    reasons = {reason.split(" ")[0] for _, reason in p_messy.dead_letters}
    assert reasons <= {"missing", "value", "key"}
    assert any("finite" in reason for _, reason in p_messy.dead_letters)
    assert any("must be a number" in reason for _, reason in p_messy.dead_letters)
    assert p_messy.stats["records"] == p_messy.offset == len(messy)


def test_duplicates_are_recognised_within_the_dedup_horizon_and_not_after():
    """An id is remembered until the watermark reaches its event time + dedup_horizon."""
    feats = [features.Feature("n", "user", None, "count", features.TumblingWindow(MINUTE))]
    pipeline = features.FeaturePipeline(feats, allowed_lateness=MINUTE, dedup_horizon="5min")
    base = 10 * MINUTE
    first = {"event_id": "x", "user": "a", "ts": base}
    pipeline.process(first)
    pipeline.process({"event_id": "w1", "user": "b", "ts": base + 5 * MINUTE - 1})
    pipeline.process(dict(first))  # still remembered: a duplicate
    assert pipeline.stats["duplicates"] == 1 and pipeline.late == []
    pipeline.process({"event_id": "w2", "user": "b", "ts": base + 5 * MINUTE})  # watermark = ts + horizon
    pipeline.process(dict(first))  # forgotten: a new event, too late for its window
    assert pipeline.stats["duplicates"] == 1
    assert [le.event["event_id"] for le in pipeline.late] == ["x"] and pipeline.stats["late_dropped"] == 1


def test_the_default_horizon_forgets_an_id_exactly_when_its_window_is_dropped():
    """Default horizon = allowed lateness + the longest window (here 1 + 1 min). An event at its window's
    start is the tightest case: it is forgotten when the watermark reaches ts + 2 min = end + lateness."""
    feats = [features.Feature("n", "user", None, "count", features.TumblingWindow(MINUTE))]
    pipeline = features.FeaturePipeline(feats, allowed_lateness=MINUTE)
    base = 10 * MINUTE
    first = {"event_id": "x", "user": "a", "ts": base}
    pipeline.process(first)
    pipeline.process({"event_id": "w1", "user": "b", "ts": base + 2 * MINUTE - 1})
    pipeline.process(dict(first))  # the window is still kept: this must be a duplicate, not a second count
    pipeline.process({"event_id": "w2", "user": "b", "ts": base + 2 * MINUTE})
    pipeline.process(dict(first))  # forgotten, and too late for the window it would change
    pipeline.flush()
    assert pipeline.stats["duplicates"] == 1 and pipeline.stats["late_dropped"] == 1
    assert [w.value for w in pipeline.fired if w.key == "a"] == [1]


@st.composite
def redelivered(draw, max_delay):
    """Events disordered by up to `max_delay`, some delivered again at any later position, one far-late event."""
    events = draw(ordered_events(max_size=40))
    arrival = draw(disordered(events, max_delay))
    for i, extra in sorted(draw(st.lists(st.tuples(st.integers(0, len(arrival) - 1), st.integers(0, 60)),
                                         max_size=8)), reverse=True):
        arrival.insert(min(len(arrival), i + 1 + extra), dict(arrival[i]))
    arrival.append({"event_id": "far", "user": "a", "amount": 1.0, "ts": events[0]["ts"] - 60 * MINUTE})
    return arrival


def expected_duplicates(arrival, out_of_orderness, horizon):
    """A repeat is a duplicate while the remembered delivery's ts + horizon > the watermark at its arrival."""
    top, remembered, duplicates = -math.inf, {}, 0
    for r in arrival:
        old = remembered.get(r["event_id"])
        if old is not None and old + horizon > top - out_of_orderness:
            duplicates += 1
            continue
        remembered[r["event_id"]] = r["ts"]
        top = max(top, r["ts"])
    return duplicates


@settings(max_examples=50, deadline=None)
@given(redelivered(3 * MINUTE), st.sampled_from([0, 1_000]), st.sampled_from([1, 30_000, MINUTE, 4 * MINUTE]))
def test_duplicates_are_counted_exactly_within_the_horizon(arrival, out_of_orderness, horizon):
    w = features.TumblingWindow(MINUTE)
    feats = [features.Feature("n", "user", None, "count", w), features.Feature("spend", "user", "amount", "sum", w),
             features.Feature("n5", "user", None, "count", features.ContinuousWindow(5 * MINUTE))]
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness=out_of_orderness, allowed_lateness=MINUTE,
                                        dedup_horizon=horizon)
    pipeline.process_batch(arrival)
    pipeline.flush()
    stats = pipeline.stats
    assert stats["duplicates"] == expected_duplicates(arrival, out_of_orderness, horizon)
    assert stats["records"] == stats["accepted"] + stats["duplicates"] + stats["late_dropped"] == len(arrival)


@settings(max_examples=50, deadline=None)
@given(redelivered(3 * MINUTE), st.sampled_from([0, 1_000]), st.sampled_from([0, 30_000, MINUTE]))
def test_with_the_default_horizon_a_forgotten_duplicate_changes_no_feature(arrival, out_of_orderness, lateness):
    """The default horizon (allowed lateness + the longest window) forgets an id only once no
    tumbling, sliding or continuous window could take the event again."""
    feats = [features.Feature("n", "user", None, "count", features.TumblingWindow(MINUTE)),
             features.Feature("s", "user", "amount", "sum", features.SlidingWindow(2 * MINUTE, MINUTE)),
             features.Feature("n90", "user", None, "count", features.ContinuousWindow(90_000))]

    def run(records):
        pipeline = features.FeaturePipeline(feats, max_out_of_orderness=out_of_orderness, allowed_lateness=lateness)
        rows = pipeline.process_batch(records) + pipeline.flush()
        return [{k: v for k, v in r.items() if k != "seq"} for r in rows], pipeline.fired

    once, seen = [], set()
    for r in arrival:
        if r["event_id"] not in seen:
            seen.add(r["event_id"])
            once.append(r)
    assert repr(run(arrival)) == repr(run(once))
