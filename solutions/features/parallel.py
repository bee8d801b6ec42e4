"""Key-partitioned parallelism: K worker processes, each owning a hash partition of keys.

The parent is the source: it validates, de-duplicates, numbers events and computes the one
global watermark (`FeaturePipeline.admit`). Each admitted event goes to the worker that owns
its key, carrying its sequence number and the watermark before and after it, and every
worker ends with the final watermark. A worker therefore sees its keys' events classified
and ordered exactly as a single process would, so the K partitions' rows, window results
and late events together equal one process's. (Per-partition watermarks would not: a quiet
partition would hold back, or a busy one would declare another partition's events late -
which is why Flink sources broadcast watermarks.) Which late event a window still takes is
decided where the window state lives, in the workers, as Flink's window operators do.
Workers are real OS processes (multiprocessing, spawn).
"""
from __future__ import annotations

import multiprocessing as mp
import zlib

from .pipeline import FeaturePipeline


def partition_of(key, partitions: int) -> int:
    """Stable across processes and runs (Python's hash() of a str is salted per process)."""
    return zlib.crc32(repr(key).encode()) % partitions


def _work(args):
    features, ooo, lateness, messages, final_watermark = args
    late = []
    pipeline = FeaturePipeline(features, ooo, lateness, late=late)
    rows, tagged = [], []
    for admitted in messages:
        rows += pipeline.apply(*admitted)
        tagged += [(admitted[1], le) for le in late]  # an event's late output comes from its own apply
        late.clear()
    rows += pipeline.advance(final_watermark)
    return rows, pipeline.fired, tagged, pipeline.stats


def run_partitioned(features, records, partitions: int = 2, max_out_of_orderness=0, allowed_lateness=0,
                    flush: bool = True, dedup_horizon=None):
    """Run the pipeline over `records` with `partitions` worker processes.

    Returns (rows sorted by seq, window results, source pipeline holding the late events in
    arrival order, the dead letters and the stats). Every feature must be keyed by the same event field.
    """
    if not isinstance(partitions, int) or partitions < 1:
        raise ValueError(f"partitions must be a positive int, got {partitions!r}")
    keys = {f.key for f in features}
    if len(keys) != 1:
        raise ValueError(f"key-partitioning needs every feature keyed by one field, got {sorted(keys)}")
    key = keys.pop()
    source = FeaturePipeline(features, max_out_of_orderness, allowed_lateness, dedup_horizon)
    messages = [[] for _ in range(partitions)]
    for record in records:
        admitted = source.admit(record)
        if admitted is not None:
            messages[partition_of(admitted[0][key], partitions)].append(admitted)
    final = float("inf") if flush else source.clock
    jobs = [(source.features, source.max_out_of_orderness, source.allowed_lateness, m, final) for m in messages]
    with mp.get_context("spawn").Pool(partitions) as pool:
        results = pool.map(_work, jobs)
    rows = sorted((r for part, _, _, _ in results for r in part), key=lambda r: r["seq"])
    fired = [w for _, part, _, _ in results for w in part]
    for _, late in sorted((t for _, _, tagged, _ in results for t in tagged), key=lambda t: t[0]):
        source.emit_late(late)
    for _, _, _, stats in results:
        source.stats.update(stats)
    return rows, fired, source
