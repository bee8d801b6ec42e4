# Starter code generated from solutions/llm_eval/tracker.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""Track evaluation runs over time in SQLite and flag significant regressions.

One row per (run, metric): model, dataset hash, metric key, signature, value, 95% CI, n,
timestamp and code version. A regression check compares a new result with the *last run of
the same model, dataset and signature* (a number computed differently is never a baseline)
and flags it when the two 95% intervals do not overlap in the worse direction.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .compare import bootstrap_scores, interval, resample_indices
from .evaluator import EvalResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER NOT NULL, model TEXT NOT NULL, dataset TEXT NOT NULL, metric TEXT NOT NULL,
    signature TEXT NOT NULL, value REAL NOT NULL, ci_low REAL, ci_high REAL, n INTEGER NOT NULL,
    higher_is_better INTEGER NOT NULL, timestamp REAL NOT NULL, code_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_lookup ON runs (model, dataset, metric, signature, run);
"""


def dataset_hash(references) -> str:
    """A short content hash of the references, so runs on different data are never compared."""
    return hashlib.sha256(json.dumps(references, sort_keys=True, default=str).encode()).hexdigest()[:12]


def code_version() -> str:
    """A hash of this package's source: changes whenever the metric code changes."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def result_interval(result: EvalResult, key: str, n_samples: int = 200, seed: int = 12345) -> tuple[float, float]:
    """Bootstrap 95% interval of one metric of one result (needs per-item statistics)."""
    if not result.item_stats.get(key):
        return float("nan"), float("nan")
    return interval(bootstrap_scores(result.metrics[key], result.item_stats[key],
                                     resample_indices(result.n, n_samples, seed)))


@dataclass(frozen=True)
class Regression:
    metric: str
    previous: float
    current: float
    previous_ci: tuple[float, float]
    current_ci: tuple[float, float]
    significant: bool


class EvalTracker:
    """Evaluation history in one SQLite file (`":memory:"` for a throwaway tracker)."""

    def __init__(self, path: str | Path):
        self.db = sqlite3.connect(str(path))
        self.db.executescript(SCHEMA)

    def close(self):
        self.db.close()

    def log(self, result: EvalResult, *, model: str | None = None, timestamp: float | None = None,
            version: str | None = None) -> int:
        """Store every metric of `result` as one run; returns the run number."""
        model = model or result.model
        if not model:
            raise ValueError("log needs a model name (pass model=... or evaluate with model_name=...)")
        run = (self.db.execute("SELECT COALESCE(MAX(run), 0) FROM runs").fetchone()[0]) + 1
        data = dataset_hash(result.references)
        stamp = time.time() if timestamp is None else timestamp
        version = version or code_version()
        with self.db:
            for key, r in result.results.items():
                low, high = result_interval(result, key)
                self.db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                (run, model, data, key, r.signature, r.value, low, high, r.n,
                                 int(result.metrics[key].higher_is_better) if key in result.metrics else 1,
                                 stamp, version))
        return run

    def history(self, model: str | None = None, metric: str | None = None) -> pd.DataFrame:
        """All logged rows (optionally one model / metric), oldest first, with `ci_half`."""
        query, args = "SELECT * FROM runs WHERE 1=1", []
        if model:
            query, args = query + " AND model = ?", args + [model]
        if metric:
            query, args = query + " AND metric = ?", args + [metric]
        frame = pd.read_sql_query(query + " ORDER BY run, metric", self.db, params=args)
        frame[["ci_low", "ci_high"]] = frame[["ci_low", "ci_high"]].astype(float)  # NULL (no interval) -> NaN
        frame["ci_half"] = (frame["ci_high"] - frame["ci_low"]) / 2
        return frame

    def check_regression(self, result: EvalResult, *, model: str | None = None) -> list[Regression]:
        """Per metric, compare with the last logged run of the same model, dataset and signature.

        `significant` is True when the intervals are disjoint in the worse direction (current
        upper bound below the previous lower bound, or the mirror image when lower is better).
        Metrics without such a previous run are skipped. Call before `log`-ging the new result.
        """
        model = model or result.model
        data = dataset_hash(result.references)
        found = []
        for key, r in result.results.items():
            row = self.db.execute(
                "SELECT value, ci_low, ci_high, higher_is_better FROM runs WHERE model=? AND dataset=? AND "
                "metric=? AND signature=? ORDER BY run DESC LIMIT 1", (model, data, key, r.signature)).fetchone()
            if row is None:
                continue
            prev, prev_low, prev_high, higher = row
            # SQLite stores a NaN interval (a run logged without per-item statistics) as NULL
            prev_low, prev_high = (float("nan") if x is None else x for x in (prev_low, prev_high))
            low, high = result_interval(result, key)
            # Exercise 1.8: flag a significant drop against the last comparable run.
            # Hint: NaN intervals (no per-item statistics) can never be significant.
            raise NotImplementedError('Exercise 1.8: flag a significant drop against the last comparable run - see notebooks/01_llm_evaluation.ipynb, section 9')
            found.append(Regression(key, prev, r.value, (prev_low, prev_high), (low, high), significant))
        return found
