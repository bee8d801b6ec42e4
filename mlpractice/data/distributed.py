"""Seeded regression data for exercise 3 (distributed training).

A small nonlinear regression problem: big enough that data-parallel training
has something to learn, small enough that every multi-process test finishes in
well under a second of compute. Returned as float64 numpy arrays so the
equality tests against single-process SGD are meaningful to 1e-12.
"""
from __future__ import annotations

import numpy as np


def make_regression(num_samples: int = 96, num_features: int = 8, *, noise: float = 0.05,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) with X ~ N(0, 1) of shape (n, d) and y = sin(X @ w) + 0.5 * (X @ v)^2 / d + noise, shape (n, 1)."""
    if num_samples < 1 or num_features < 1:
        raise ValueError("num_samples and num_features must be positive")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((num_samples, num_features))
    w = rng.standard_normal(num_features) / np.sqrt(num_features)
    v = rng.standard_normal(num_features) / np.sqrt(num_features)
    y = np.sin(X @ w) + 0.5 * (X @ v) ** 2 / num_features + noise * rng.standard_normal(num_samples)
    return X, y[:, None]
