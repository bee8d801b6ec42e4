"""Watermark, allowed lateness, the late side output, dead letters and de-duplication."""
import io
import math

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.data.features import transactions
from mlpractice.impl import load

from .oracles import AGGS, MINUTE, assert_rows_match, close, disordered, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.5", "watermarks, lateness, side outputs")


def expected_lateness(arrival, out_of_orderness, lateness):
    """Classify each event independently: (on time | allowed | dropped) against max-so-far - bound."""
    top = -math.inf
    kinds = {}
    for e in arrival:
        wm = top - out_of_orderness
        if e["ts"] < wm - lateness:
            kinds[e["event_id"]] = "dropped"
            continue
        kinds[e["event_id"]] = "allowed" if e["ts"] < wm else "on_time"
        top = max(top, e["ts"])
    return kinds


@settings(max_examples=60, deadline=None)
@given(st.data(), ordered_events(max_size=60), st.sampled_from([0, 1_000]), st.sampled_from([0, MINUTE, 5 * MINUTE]))
def test_lateness_updates_windows_and_side_output_is_exact(data, events, out_of_orderness, lateness):
    arrival = data.draw(disordered(events, 10 * MINUTE))
    window = features.TumblingWindow(MINUTE)
    feats = [features.Feature("n", "user", None, "count", window),
             features.Feature("spend", "user", "amount", "sum", window)]
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness=out_of_orderness, allowed_lateness=lateness)
    pipeline.process_batch(arrival)
    pipeline.flush()
    kinds = expected_lateness(arrival, out_of_orderness, lateness)
    dropped = {k for k, v in kinds.items() if v == "dropped"}
    assert sorted(le.event["event_id"] for le in pipeline.late) == sorted(dropped)
    assert all(le.dropped_by == ("n", "spend") for le in pipeline.late)
    assert pipeline.stats["late_dropped"] == len(dropped)
    assert pipeline.stats["late_allowed"] == sum(v == "allowed" for v in kinds.values())
    # the last emission of every window equals a groupby over every event that was not dropped
    final = {}
    for w in pipeline.fired:
        final[(w.feature, w.key, w.start)] = w.value
    kept = pd.DataFrame([e for e in events if e["event_id"] not in dropped] or [{"user": "", "amount": 0, "ts": 0}])
    kept["start"] = kept["ts"] // MINUTE * MINUTE
    want = {}
    if len(events) > len(dropped):
        for (user, start), g in kept.groupby(["user", "start"]):
            want[("n", user, start)] = len(g)
            want[("spend", user, start)] = float(g["amount"].sum())
    assert set(final) == set(want)
    assert all(close(final[k], v, 1e4) for k, v in want.items())
    if lateness == 0:
        assert not any(w.update for w in pipeline.fired)


@settings(max_examples=40, deadline=None)
@given(st.data(), ordered_events(max_size=50), st.sampled_from([0, 1_000, 30_000]))
def test_late_events_are_left_out_and_the_rest_equals_pandas(data, events, out_of_orderness):
    """Disorder beyond the bound: late events go to the side output, the others are exactly pandas."""
    arrival = data.draw(disordered(events, 5 * MINUTE))
    w = features.ContinuousWindow(5 * MINUTE)
    feats = [features.Feature(a, "user", None if a == "count" else "amount", a, w) for a in AGGS]
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness=out_of_orderness)
    rows = pipeline.process_batch(arrival) + pipeline.flush()
    late_ids = {le.event["event_id"] for le in pipeline.late}
    assert len(late_ids) == len(pipeline.late)
    kept = [e for e in arrival if e["event_id"] not in late_ids]
    assert len(rows) == len(kept)
    assert_rows_match(rows, kept, 5 * MINUTE)
    assert pipeline.stats["late_dropped"] + pipeline.stats["late_allowed"] == len(late_ids)


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
    pipeline.process({"event_id": 5, "user": "a", "ts": base + 2 * MINUTE + 1_001})  # watermark = end + lateness
    pipeline.process({"event_id": 6, "user": "a", "ts": base + 30})  # too late now: side output
    assert [le.event["event_id"] for le in pipeline.late] == [6]
    assert pipeline.watermark == base + 2 * MINUTE + 1


def test_continuous_features_name_themselves_on_late_events():
    feats = [features.Feature("n5", "user", None, "count", features.ContinuousWindow("5min")),
             features.Feature("n1", "user", None, "count", features.TumblingWindow("1min"))]
    pipeline = features.FeaturePipeline(feats, allowed_lateness="10min")
    pipeline.process({"event_id": 1, "user": "a", "ts": 10 * MINUTE})
    pipeline.process({"event_id": 2, "user": "a", "ts": 9 * MINUTE})  # late, allowed for the tumbling window
    [late] = pipeline.late
    assert late.event["event_id"] == 2 and late.dropped_by == ("n5",)


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


def test_replay_cli_reports_counts():
    cli = load("features.__main__")
    out = io.StringIO()
    report = cli.replay(3_000, 0, 200, 1.1, 0, out=out)
    text = out.getvalue()
    assert "events/s" in text and "p99" in text and "dead letters" in text
    assert report["records"] == 3_000 + report["duplicates"]
    assert report["dead_letter"] > 0
