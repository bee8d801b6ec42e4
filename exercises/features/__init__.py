# Starter code generated from solutions/features/__init__.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""Exercise 4: a real-time feature pipeline.

Event-time windows with watermarks, incremental aggregates, a feature store with
online lookups and point-in-time-correct history. See notebooks/04_feature_pipeline.ipynb.
"""
from .aggregates import AGGREGATES, make_aggregate, signature
from .asof import asof_indices
from .parallel import partition_of, run_partitioned
from .pipeline import Feature, FeaturePipeline, LateEvent, WindowResult
from .recovery import committed, resume, run_with_checkpoints
from .feature_store import FeatureStore, OnDemandFeature, enrich
from .microbatch import flush_columns, process_columns
from .offline import OfflineStore
from .store import MemoryOnlineStore, Record, SQLiteOnlineStore, decayed, is_fresh, open_online_store, should_replace
from .windows import ContinuousWindow, ContinuousWindowState, SessionWindow, SlidingWindow, TumblingWindow, to_ms

__all__ = [
    "AGGREGATES", "make_aggregate", "signature", "asof_indices", "partition_of", "run_partitioned",
    "Feature", "FeaturePipeline", "LateEvent", "WindowResult", "committed", "resume", "run_with_checkpoints", "FeatureStore", "MemoryOnlineStore",
    "OfflineStore", "OnDemandFeature", "Record", "SQLiteOnlineStore", "decayed", "enrich", "is_fresh",
    "open_online_store", "should_replace", "ContinuousWindow", "ContinuousWindowState", "SessionWindow",
    "SlidingWindow", "TumblingWindow", "to_ms", "process_columns", "flush_columns",
]
