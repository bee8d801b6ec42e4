# Starter code generated from solutions/features/offline.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""The offline store: append-only history of feature values, read with pandas for training.

Each row is (entity, feature, value, feature_ts, created_ts, input): `input` is the
event's own value of the field a continuous feature aggregates (None for a count and
for values written directly), which lets a training row re-evaluate the window at its
own time (feature_store.py). Parquet files under a directory, or frames in memory.
"""
from __future__ import annotations

from pathlib import Path

OFFLINE_COLUMNS = ["entity", "feature", "value", "feature_ts", "created_ts", "input"]


class OfflineStore:
    """Append-only history of (entity, feature, value, feature_ts, created_ts, input) rows."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self.parts: list = []  # in-memory parts when there is no path
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)

    def append(self, rows: list[dict]):
        import pandas as pd

        if not rows:
            return
        frame = pd.DataFrame(rows, columns=OFFLINE_COLUMNS)
        if self.path is None:
            self.parts.append(frame)
        else:
            n = len(list(self.path.glob("part-*.parquet")))
            frame.to_parquet(self.path / f"part-{n:06d}.parquet", index=False)

    def read(self, features: list[str] | None = None):
        import pandas as pd

        if self.path is None:
            frames = self.parts
        else:
            frames = [pd.read_parquet(p) for p in sorted(self.path.glob("part-*.parquet"))]
        if not frames:
            return pd.DataFrame(columns=OFFLINE_COLUMNS)
        history = pd.concat(frames, ignore_index=True)
        return history if features is None else history[history["feature"].isin(features)].reset_index(drop=True)
