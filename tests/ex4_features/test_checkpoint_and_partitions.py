"""Checkpoint/restore equals an uninterrupted run; K key-partitioned worker processes equal one process."""
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


def outcome(pipeline, rows):
    """Everything observable, as text (NaN != NaN would make equal runs compare unequal)."""
    return repr((rows, pipeline.fired, [le.event["event_id"] for le in pipeline.late],
                 [(r.get("event_id"), reason) for r, reason in pipeline.dead_letters], sorted(pipeline.stats.items())))


@functools.lru_cache(maxsize=1)
def uninterrupted_outcome():
    return outcome(*uninterrupted())


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, len(RECORDS) - 1), min_size=1, max_size=3, unique=True))
def test_restart_from_checkpoint_equals_uninterrupted_run(cuts):
    want = uninterrupted_outcome()
    pipeline = features.FeaturePipeline(user_features(), **SETTINGS)
    rows = []
    for cut in sorted(cuts):
        rows += pipeline.process_batch(RECORDS[pipeline.offset:cut])
        blob = pipeline.checkpoint()
        # the "crash": work done after the checkpoint is lost with the process
        pipeline.process_batch(RECORDS[cut:cut + 50])
        pipeline = features.FeaturePipeline.restore(blob)
        assert pipeline.offset == cut
    rows += pipeline.process_batch(RECORDS[pipeline.offset:]) + pipeline.flush()
    assert outcome(pipeline, rows) == want


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
    assert repr(pipeline.fired) == repr(single.fired) and pipeline.stats == single.stats


@pytest.mark.timeout(120)
@pytest.mark.parametrize("k", [1, 3])
def test_key_partitioned_workers_equal_one_process(k):
    single, single_rows = uninterrupted()
    rows, fired, source = features.run_partitioned(user_features(), RECORDS, partitions=k, **SETTINGS)
    assert repr(rows) == repr(sorted(single_rows, key=lambda r: r["seq"]))
    order = lambda ws: sorted(ws, key=lambda w: (w.feature, str(w.key), w.start, w.end, w.update, repr(w.value)))
    assert repr(order(fired)) == repr(order(single.fired))
    assert [le.event["event_id"] for le in source.late] == [le.event["event_id"] for le in single.late]
    assert source.stats == single.stats
    assert features.partition_of("u01", 7) == features.partition_of("u01", 7)
