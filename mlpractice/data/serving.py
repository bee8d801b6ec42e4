"""Seeded data for exercise 2 (model serving): tabular examples, users and arrival schedules."""
from __future__ import annotations

import numpy as np


def classification_data(n: int = 600, n_features: int = 8, n_classes: int = 3, seed: int = 0):
    """Gaussian blobs: X float32 (n, n_features), y int64 (n,) in [0, n_classes)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n)
    X = centers[y] + rng.normal(0, 1.0, size=(n, n_features))
    return X.astype(np.float32), y.astype(np.int64)


def user_ids(n: int = 10_000, seed: int = 0) -> list[str]:
    """Stable pseudo-random user ids like 'user-3f2a9c1e'."""
    rng = np.random.default_rng(seed)
    return [f"user-{v:08x}" for v in rng.integers(0, 2**32, size=n)]


def poisson_arrivals(rate_per_s: float, n: int, seed: int = 0) -> np.ndarray:
    """Arrival times (seconds, ascending, starting near 0) of a Poisson process."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))


def bursty_arrivals(seed: int = 0) -> np.ndarray:
    """A short schedule (ms) for the batcher timeline: a trickle, a burst, a gap, a trickle."""
    rng = np.random.default_rng(seed)
    trickle = np.sort(rng.uniform(0, 6, size=3))
    burst = 8 + np.sort(rng.uniform(0, 1.5, size=11))
    late = 14 + np.sort(rng.uniform(0, 5, size=4))
    return np.round(np.concatenate([trickle, burst, late]), 2)
