"""process_batch(records) == process(record) one at a time: rows, side outputs and every bit of state.

`process_batch` is the hot path (one inlined loop); `process` is the readable reference. On random
streams with disorder, ties, duplicates, malformed records and late events, split into random
batches, both must leave byte-identical checkpoints and emit identical rows.
"""
import math
import pickle

import pytest
from hypothesis import Phase, given, settings, strategies as st

from mlpractice.impl import load

from .oracles import MINUTE, disordered, ordered_events

features = load("features")
pytestmark = pytest.mark.exercise("4.5", "watermarks, lateness, side outputs")

MALFORMED = [
    lambda e: {k: v for k, v in e.items() if k != "ts"},
    lambda e: {**e, "amount": "12,50"},
    lambda e: {**e, "amount": float("nan")},
    lambda e: {**e, "amount": float("inf")},
    lambda e: {**e, "user": None},
    lambda e: {**e, "user": 1.5},
    lambda e: {**e, "ts": True},
    lambda e: {**e, "ts": float(e["ts"])},
    lambda e: {**e, "amount": True},
    lambda e: {k: v for k, v in e.items() if k != "event_id"},
    lambda e: [e],
    lambda e: None,
]
WELL_FORMED_ODDITIES = [  # valid, but not the common (str key, float amount) shape
    lambda e: {**e, "amount": int(e["amount"])},
    lambda e: {**e, "user": 7},
]


def feature_sets(window_ms):
    w = features.ContinuousWindow(window_ms)
    continuous = [features.Feature("n", "user", None, "count", w),
                  features.Feature("mean", "user", "amount", "mean", w),
                  features.Feature("max", "user", "amount", "max", w),
                  features.Feature("std", "user", "amount", "std", w)]
    windowed = [features.Feature("tumbling_sum", "user", "amount", "sum", features.TumblingWindow(MINUTE)),
                features.Feature("session_n", "user", None, "count", features.SessionWindow(30_000))]
    return {"continuous": continuous, "continuous+windowed": continuous + windowed}


@st.composite
def messy_streams(draw, malformed=None, merchants: bool = False):
    """Out-of-order streams with malformed records (`malformed`, default MALFORMED), well-formed oddities,
    redeliveries and one event far behind the watermark; `merchants` adds a merchant key to each event."""
    malformed = MALFORMED if malformed is None else malformed
    events = draw(ordered_events(max_size=60, users=("a", "b", "c", "d")))
    arrival = draw(disordered(events, draw(st.sampled_from([0, 1_000, 3 * MINUTE]))))
    out = []
    for e in arrival:
        if merchants:
            e = {**e, "merchant": "m" + str(e["event_id"] % 3)}
        roll = draw(st.integers(0, 9))
        if roll == 0:
            out.append(draw(st.sampled_from(malformed))(e))
        elif roll == 1:
            out.append(draw(st.sampled_from(WELL_FORMED_ODDITIES))(e))
        else:
            out.append(e)
        if roll == 2:  # an at-least-once source delivers it again
            out.append(dict(e))
    # always one event far behind the watermark, so every stream exercises the late path
    out.append({"event_id": "late", "user": "a", **({"merchant": "m0"} if merchants else {}), "amount": 1.0,
                "ts": events[0]["ts"] - 60 * MINUTE})
    out.append(dict(out[-1]))  # delivered again past the de-duplication horizon: a new (and too late) event
    return out


def same(a, b):
    return pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL) == pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL)


def state(pipeline) -> bytes:
    """The checkpointed state, with the stats counter in key order (its insertion order means nothing)."""
    saved = pickle.loads(pipeline.checkpoint())["state"]
    saved["stats"] = sorted(saved["stats"].items())
    return pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL)


# no shrinking: a stub (or a bug) fails on the first example, and shrinking these streams takes a minute
@settings(max_examples=80, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(messy_streams(), st.sampled_from([MINUTE, 5 * MINUTE]), st.sampled_from(["continuous", "continuous+windowed"]),
       st.sampled_from([0, 1_000]), st.sampled_from([0, MINUTE]), st.lists(st.integers(0, 80), max_size=4),
       st.sampled_from([None, 1, 2_000]))
def test_process_batch_equals_a_sequence_of_process(records, window_ms, which, out_of_orderness, lateness, cuts,
                                                    horizon):
    feats = feature_sets(window_ms)[which]
    settings = dict(max_out_of_orderness=out_of_orderness, allowed_lateness=lateness, dedup_horizon=horizon)
    one = features.FeaturePipeline(feats, **settings)
    batched = features.FeaturePipeline(feats, **settings)
    rows_one = [row for record in records for row in one.process(record)]
    rows_batched = []
    bounds = sorted({0, len(records), *(min(c, len(records)) for c in cuts)})
    for start, end in zip(bounds, bounds[1:]):
        rows_batched += batched.process_batch(records[start:end])
    assert [r["event_id"] for r in rows_batched] == [r["event_id"] for r in rows_one]
    assert same(rows_batched, rows_one)
    assert batched.stats == one.stats and batched.dead_letters == one.dead_letters
    assert same(batched.late, one.late) and same(batched.fired, one.fired)
    assert state(batched) == state(one)  # watermark, buffer, window state, remembered ids, offsets
    assert same(batched.flush(), one.flush()) and state(batched) == state(one)


@pytest.mark.scaffold
def test_process_batch_restores_the_garbage_collector():
    import gc

    w = features.ContinuousWindow(MINUTE)
    pipeline = features.FeaturePipeline([features.Feature("n", "user", None, "count", w)])
    assert gc.isenabled()
    pipeline.process_batch([{"event_id": 1, "user": "a", "ts": 0}, "not a record"])
    assert gc.isenabled() and pipeline.stats["dead_letter"] == 1 and not math.isnan(pipeline.window_value(
        pipeline.features[0], "a"))
