"""Checkpoint/restore equals an uninterrupted run; K key-partitioned worker processes equal one process.

Side outputs (window results, late events, dead letters) go to sinks outside the pipeline's
state, so a checkpoint holds live state only: its size does not grow with the stream.
"""
import functools
import multiprocessing
import signal

import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.data.features import transactions
from mlpractice.impl import load

features = load("features")
pytestmark = pytest.mark.exercise("4.8", "checkpoint/restore and key-partitioned parallelism")


def user_features():
    five, tumble, session = features.ContinuousWindow("5min"), features.TumblingWindow("1min"), \
        features.SessionWindow("30s")
    return [features.Feature("n5", "user", None, "count", five),
            features.Feature("mean5", "user", "amount", "mean", five),
            features.Feature("max5", "user", "amount", "max", five),
            features.Feature("std5", "user", "amount", "std", five),
            features.Feature("spend1m", "user", "amount", "sum", tumble),
            features.Feature("sessions", "user", None, "count", session)]


RECORDS = transactions(3_000, 60, seed=11, rate=20.0, late_fraction=0.02, late_by_ms=(2_000, 120_000),
                       duplicate_fraction=0.02, malformed_fraction=0.01)
SETTINGS = dict(max_out_of_orderness="3s", allowed_lateness="1min")


def uninterrupted():
    p = features.FeaturePipeline(user_features(), **SETTINGS)
    rows = p.process_batch(RECORDS) + p.flush()
    return p, rows


def side_outputs(pipeline):
    return repr((pipeline.fired, [le.event["event_id"] for le in pipeline.late],
                 [(r.get("event_id"), reason) for r, reason in pipeline.dead_letters]))


def outcome(pipeline, rows):
    """Everything observable, as text (NaN != NaN would make equal runs compare unequal)."""
    return repr((rows, side_outputs(pipeline), sorted(pipeline.stats.items())))


@functools.lru_cache(maxsize=1)
def uninterrupted_outcome():
    return outcome(*uninterrupted())


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, len(RECORDS) - 1), min_size=1, max_size=3, unique=True))
def test_restart_from_checkpoint_equals_uninterrupted_run(cuts):
    want = uninterrupted_outcome()
    sinks = {"fired": [], "late": [], "dead_letters": []}
    pipeline = features.FeaturePipeline(user_features(), **SETTINGS, **sinks)
    rows = []
    for cut in sorted(cuts):
        rows += pipeline.process_batch(RECORDS[pipeline.offset:cut])
        blob = pipeline.checkpoint()
        delivered = {name: len(sink) for name, sink in sinks.items()}
        # the "crash": work done after the checkpoint is lost with the process, and a transactional
        # sink drops what it received after the last checkpoint
        pipeline.process_batch(RECORDS[cut:cut + 50])
        for name, sink in sinks.items():
            del sink[delivered[name]:]
        pipeline = features.FeaturePipeline.restore(blob, **sinks)
        assert pipeline.offset == cut
    rows += pipeline.process_batch(RECORDS[pipeline.offset:]) + pipeline.flush()
    assert outcome(pipeline, rows) == want


def stationary_stream(n):
    """Fixed key count and rate: live state (windows, buffer, remembered ids) stays the same size."""
    return transactions(n, 50, zipf=None, seed=5, rate=10.0, late_fraction=0.01, late_by_ms=(5_000, 200_000),
                        duplicate_fraction=0.01, malformed_fraction=0.01)


STATIONARY = stationary_stream(20_000)


def stationary_features():
    minute = features.ContinuousWindow("1min")
    return [features.Feature("n1", "user", None, "count", minute),
            features.Feature("max1", "user", "amount", "max", minute),
            features.Feature("spend1m", "user", "amount", "sum", features.TumblingWindow("1min")),
            features.Feature("sessions", "user", None, "count", features.SessionWindow("30s"))]


def test_checkpoint_size_follows_live_state_not_stream_length():
    pipeline = features.FeaturePipeline(stationary_features(), **SETTINGS)
    pipeline.process_batch(STATIONARY[:2_000])  # 200 s: past the windows and the de-duplication horizon
    small = len(pipeline.checkpoint())
    pipeline.process_batch(STATIONARY[2_000:])  # 10x the stream, the same keys and windows
    large = len(pipeline.checkpoint())
    assert 0.8 * small <= large <= 1.2 * small, (small, large)
    assert len(pipeline.fired) > 1_000 and len(pipeline.late) > 100  # the side outputs grew, outside it


def test_each_commit_holds_live_state_and_new_output_only(tmp_path):
    """run_with_checkpoints commits the state and what was emitted since the last commit, never the history."""
    features.run_with_checkpoints(stationary_features(), STATIONARY, tmp_path, 2_000, **SETTINGS)
    sizes = [path.stat().st_size for path in sorted(tmp_path.glob("commit-*.pkl"))]
    assert len(sizes) == 11
    assert max(sizes[1:10]) <= 1.2 * min(sizes[1:10]), sizes  # the last one also holds the flush
    _, last = features.committed(tmp_path)
    whole, _ = uninterrupted_stationary()
    assert side_outputs(last) == side_outputs(whole)


def uninterrupted_stationary():
    p = features.FeaturePipeline(stationary_features(), **SETTINGS)
    rows = p.process_batch(STATIONARY) + p.flush()
    return p, rows


@pytest.mark.timeout(120)
def test_process_killed_mid_stream_resumes_with_every_row_exactly_once(tmp_path):
    """A real SIGKILL: the child commits a checkpoint with its output every 400 records, dies at 1700."""
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=features.run_with_checkpoints,
                        args=(user_features(), RECORDS, tmp_path, 400, 1700), kwargs=SETTINGS)
    child.start()
    child.join(60)
    rows, pipeline = features.resume(user_features(), RECORDS, tmp_path, 400, **SETTINGS)
    assert child.exitcode == -signal.SIGKILL  # after resume: against a stub, resume raises the stub's error
    single, single_rows = uninterrupted()
    assert repr(rows) == repr(single_rows)
    assert side_outputs(pipeline) == side_outputs(single) and pipeline.stats == single.stats


@pytest.mark.timeout(120)
@pytest.mark.parametrize("k", [1, 3])
def test_key_partitioned_workers_equal_one_process(k):
    single, single_rows = uninterrupted()
    rows, fired, source = features.run_partitioned(user_features(), RECORDS, partitions=k, **SETTINGS)
    assert repr(rows) == repr(sorted(single_rows, key=lambda r: r["seq"]))
    order = lambda ws: sorted(ws, key=lambda w: (w.feature, str(w.key), w.start, w.end, w.update, repr(w.value)))
    assert repr(order(fired)) == repr(order(single.fired))
    assert repr(source.late) == repr(single.late)
    assert source.stats == single.stats
    assert features.partition_of("u01", 7) == features.partition_of("u01", 7)


@pytest.mark.scaffold
def test_side_outputs_go_to_the_sinks_given_and_bad_settings_are_named():
    got = []
    late = []
    w = features.TumblingWindow("1min")
    pipeline = features.FeaturePipeline([features.Feature("n", "user", None, "count", w)], fired=got.append,
                                        late=late, dead_letters=lambda item: got.append(("dead", item[1])))
    pipeline.process({"event_id": 1, "user": "a", "ts": 60_000})
    pipeline.process({"event_id": 2, "user": "a", "ts": 130_000})
    pipeline.process({"event_id": 3, "user": "a", "ts": 1_000})  # too late: [0, 1min) is long gone
    pipeline.process({"event_id": 4, "user": "a"})
    assert [(x.start, x.value) for x in got[:1]] == [(60_000, 1)] and got[1] == ("dead", "missing field 'ts'")
    assert [le.event["event_id"] for le in late] == [3] and pipeline.late is late
    with pytest.raises(TypeError, match="fired"):
        features.FeaturePipeline([features.Feature("n", "user", None, "count", w)], fired=3)
    for bad in [0, "soon"]:
        with pytest.raises(ValueError, match="dedup_horizon"):
            features.FeaturePipeline([features.Feature("n", "user", None, "count", w)], dedup_horizon=bad)
    with pytest.raises(TypeError, match="allowed_lateness"):
        features.FeaturePipeline([features.Feature("n", "user", None, "count", w)], allowed_lateness=[1])
