"""Watermark, allowed lateness (Flink's rule, per window) and the late side output."""
import io
import math
from collections import defaultdict

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from .oracles import AGGS, MINUTE, assert_rows_match, close, disordered, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.5", "watermarks, lateness, side outputs")

SECOND = 1_000


def flink_lateness(arrival, windows_of, out_of_orderness, lateness):
    """Flink's window operator, event by event, counting events per window.

    The watermark W is the largest event time so far minus the out-of-orderness. An event
    behind it (ts < W) joins each of its windows [start, end) with end + lateness > W and is
    dropped by the others. A window fires once W >= end, and again (an update) for every event
    it takes after that. Returns ({window: [(count, update), ...]}, {window: [event ids]},
    [ids of events that every window dropped], number of late events some window took).
    """
    top = -math.inf
    members, emitted, dropped, taken_late = defaultdict(list), defaultdict(list), [], 0
    fire = lambda w: emitted[w].append((len(members[w]), bool(emitted[w])))
    for e in arrival:
        wm = top - out_of_orderness
        took = False
        for w in windows_of(e):
            if e["ts"] >= wm or w[2] + lateness > wm:
                took = True
                members[w].append(e["event_id"])
                if w[2] <= wm:  # its end has passed: it fires right away, again if it had fired
                    fire(w)
        if not took:
            dropped.append(e["event_id"])
        elif e["ts"] < wm:
            taken_late += 1
        top = max(top, e["ts"])
        for w in list(members):
            if not emitted[w] and w[2] <= top - out_of_orderness:
                fire(w)
    for w in list(members):
        if not emitted[w]:
            fire(w)
    return dict(emitted), dict(members), dropped, taken_late


WINDOWS = {
    "tumbling 1min": (features.TumblingWindow(MINUTE),
                      lambda e: [(e["user"], s, s + MINUTE) for s in [e["ts"] // MINUTE * MINUTE]]),
    "sliding 2min/1min": (features.SlidingWindow(2 * MINUTE, MINUTE),
                          lambda e: [(e["user"], s, s + 2 * MINUTE)
                                     for s in [e["ts"] // MINUTE * MINUTE - MINUTE, e["ts"] // MINUTE * MINUTE]]),
}


@settings(max_examples=60, deadline=None)
@given(st.data(), ordered_events(max_size=60), st.sampled_from([0, 1_000]), st.sampled_from([0, MINUTE, 5 * MINUTE]),
       st.sampled_from(sorted(WINDOWS)))
def test_lateness_is_decided_per_window_as_flink_does(data, events, out_of_orderness, lateness, which):
    arrival = data.draw(disordered(events, 10 * MINUTE))
    window, windows_of = WINDOWS[which]
    feats = [features.Feature("n", "user", None, "count", window),
             features.Feature("spend", "user", "amount", "sum", window)]
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness=out_of_orderness, allowed_lateness=lateness)
    pipeline.process_batch(arrival)
    pipeline.flush()
    emitted, members, dropped, taken_late = flink_lateness(arrival, windows_of, out_of_orderness, lateness)
    got = defaultdict(list)
    final = {}
    for w in pipeline.fired:
        if w.feature == "n":
            got[(w.key, w.start, w.end)].append((w.value, w.update))
        final[(w.feature, w.key, w.start)] = w.value
    assert dict(got) == emitted  # every firing and every update, in order
    amount = {e["event_id"]: e["amount"] for e in events}
    for (user, start, end), ids in members.items():
        assert close(final[("spend", user, start)], float(pd.Series([amount[i] for i in ids]).sum()), 1e4)
    assert [le.event["event_id"] for le in pipeline.late] == dropped
    assert all(le.dropped_by == ("n", "spend") and le.reason == "too late" for le in pipeline.late)
    assert pipeline.stats["late_dropped"] == len(dropped)
    assert pipeline.stats["late_allowed"] == taken_late
    assert pipeline.stats["records"] == pipeline.stats["accepted"] + pipeline.stats["late_dropped"] == len(arrival)


def run_times(times, feats, **settings):
    pipeline = features.FeaturePipeline(feats, **settings)
    for i, t in enumerate(times):
        pipeline.process({"event_id": i, "k": "k", "ts": t})
    pipeline.flush()
    return pipeline


@pytest.mark.parametrize("lateness, want_fired, want_late", [
    (3 * SECOND, [(0, 4, False), (0, 5, True), (5, 2, False), (10, 2, False)], [1]),
    (0, [(0, 4, False), (5, 2, False), (10, 2, False)], [2, 1]),
])
def test_flink_allowed_lateness_example(lateness, want_fired, want_late):
    """What Flink prints for a 5 s tumbling count with 2 s bounded out-of-orderness.

    Events at 1, 2, 4, 6, 3, 8, 2, 11, 1, 13 s in arrival order. The 3 s event arrives behind
    the watermark (4 s) but [0, 5) has not fired, so it counts. With 3 s allowed lateness the
    second 2 s event updates the fired window (5) and only the last 1 s event, after the
    cleanup at 5 + 3 s, goes to the side output; with lateness 0 both do.
    """
    times = [1, 2, 4, 6, 3, 8, 2, 11, 1, 13]
    feats = [features.Feature("n", "k", None, "count", features.TumblingWindow("5s"))]
    pipeline = run_times([t * SECOND for t in times], feats, max_out_of_orderness="2s", allowed_lateness=lateness)
    assert [(w.start // SECOND, w.value, w.update) for w in pipeline.fired] == want_fired
    assert [times[le.event["event_id"]] for le in pipeline.late] == want_late
    assert pipeline.stats["late_dropped"] == len(want_late)


def test_an_event_behind_the_watermark_joins_a_window_that_has_not_fired():
    """1-hour tumbling count, no lateness, events at 0, 30 and 10 minutes: Flink counts 3."""
    feats = [features.Feature("n", "k", None, "count", features.TumblingWindow("1h"))]
    pipeline = run_times([0, 30 * MINUTE, 10 * MINUTE], feats)
    assert [(w.start, w.end, w.value, w.update) for w in pipeline.fired] == [(0, 60 * MINUTE, 3, False)]
    assert pipeline.late == [] and pipeline.stats["late_allowed"] == 1


@pytest.mark.parametrize("lateness", [0, MINUTE])
@pytest.mark.parametrize("before_cleanup", [1, 0])
def test_a_window_takes_late_events_until_the_watermark_reaches_end_plus_lateness(lateness, before_cleanup):
    """Window [base, base + 1 min): kept while end + allowed_lateness > watermark, dropped at equality."""
    base = 10 * MINUTE
    pipeline = features.FeaturePipeline([features.Feature("n", "user", None, "count", features.TumblingWindow(MINUTE))],
                                        allowed_lateness=lateness)
    pipeline.process({"event_id": 0, "user": "a", "ts": base + 10})
    watermark = base + MINUTE + lateness - before_cleanup
    pipeline.process({"event_id": 1, "user": "b", "ts": watermark})  # another key moves the watermark
    assert pipeline.watermark == watermark
    pipeline.process({"event_id": 2, "user": "a", "ts": base + 20})
    pipeline.flush()
    last = {(w.key, w.start): w.value for w in pipeline.fired}
    if before_cleanup:
        assert last[("a", base)] == 2 and pipeline.late == []
    else:
        assert last[("a", base)] == 1 and [le.event["event_id"] for le in pipeline.late] == [2]


def test_window_fires_when_watermark_reaches_its_end_and_late_event_updates_it():
    window = features.TumblingWindow(MINUTE)
    pipeline = features.FeaturePipeline([features.Feature("n", "user", None, "count", window)],
                                        max_out_of_orderness=1_000, allowed_lateness=MINUTE)
    base = 60 * MINUTE
    pipeline.process({"event_id": 1, "user": "a", "ts": base + 10})
    pipeline.process({"event_id": 2, "user": "a", "ts": base + MINUTE + 999})  # watermark = base + MINUTE - 1
    assert pipeline.fired == []
    pipeline.process({"event_id": 3, "user": "a", "ts": base + MINUTE + 1_000})  # watermark reaches the end
    assert [(w.start, w.value, w.update) for w in pipeline.take_fired()] == [(base, 1, False)]
    pipeline.process({"event_id": 4, "user": "a", "ts": base + 20})  # late but within allowed lateness
    assert [(w.start, w.value, w.update) for w in pipeline.take_fired()] == [(base, 2, True)]
    pipeline.process({"event_id": 5, "user": "a", "ts": base + 2 * MINUTE + 1_001})  # watermark > end + lateness
    pipeline.process({"event_id": 6, "user": "a", "ts": base + 30})  # too late now: side output
    assert [le.event["event_id"] for le in pipeline.late] == [6]
    assert pipeline.watermark == base + 2 * MINUTE + 1


@settings(max_examples=40, deadline=None)
@given(st.data(), ordered_events(max_size=50), st.sampled_from([0, 1_000, 30_000]))
def test_late_events_are_left_out_and_the_rest_equals_pandas(data, events, out_of_orderness):
    """Disorder beyond the bound: continuous features take no event behind the watermark; the rest is pandas."""
    arrival = data.draw(disordered(events, 5 * MINUTE))
    w = features.ContinuousWindow(5 * MINUTE)
    feats = [features.Feature(a, "user", None if a == "count" else "amount", a, w) for a in AGGS]
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness=out_of_orderness, allowed_lateness=MINUTE)
    rows = pipeline.process_batch(arrival) + pipeline.flush()
    late_ids = {le.event["event_id"] for le in pipeline.late}
    assert len(late_ids) == len(pipeline.late)
    kept = [e for e in arrival if e["event_id"] not in late_ids]
    assert len(rows) == len(kept)
    assert_rows_match(rows, kept, 5 * MINUTE)
    assert pipeline.stats["late_dropped"] == len(late_ids) and pipeline.stats["late_allowed"] == 0


def test_continuous_features_name_themselves_on_late_events():
    feats = [features.Feature("n5", "user", None, "count", features.ContinuousWindow("5min")),
             features.Feature("n1", "user", None, "count", features.TumblingWindow("1min"))]
    pipeline = features.FeaturePipeline(feats, allowed_lateness="10min")
    pipeline.process({"event_id": 1, "user": "a", "ts": 10 * MINUTE})
    pipeline.process({"event_id": 2, "user": "a", "ts": 9 * MINUTE})  # late, allowed for the tumbling window
    pipeline.process({"event_id": 3, "user": "a", "ts": -5 * MINUTE})  # too late for both
    early, late = pipeline.late
    assert (early.event["event_id"], early.reason, early.dropped_by) == (2, "behind the watermark", ("n5",))
    assert (late.event["event_id"], late.reason, late.dropped_by) == (3, "too late", ("n5", "n1"))
    assert pipeline.stats["late_allowed"] == pipeline.stats["late_dropped"] == 1


@pytest.mark.scaffold
def test_replay_cli_reports_counts():
    cli = load("features.__main__")
    out = io.StringIO()
    report = cli.replay(3_000, 0, 200, 1.1, 0, out=out)
    text = out.getvalue()
    assert "events/s" in text and "p99" in text and "dead letters" in text
    assert report["records"] == 3_000 + report["duplicates"]
    assert report["dead_letter"] > 0
