# Starter code generated from solutions/serving/routing.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Traffic splits between versions of one model: sticky A/B, canary rollback.

The variant is chosen when a request is enqueued. Sticky routing hashes
(experiment id, routing key) to a point in [0, 1) and lays the variants out as
cumulative ranges in ascending version order; so a user always lands on the
same variant, and raising the newest variant's weight (the last range) only
moves users *into* it, never between the others.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass


def bucket(experiment: str, routing_key: str) -> float:
    """Deterministic point in [0, 1) for a user in an experiment (uniform over keys)."""
    digest = hashlib.sha256(f"{experiment}\x00{routing_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_variant(weights: dict[int, float], point: float) -> int:
    """The version whose cumulative range holds `point` (0 <= point < 1).

    Ranges are laid out in ascending version order, each of width weight / total weight:
    with {1: 0.9, 2: 0.1}, points in [0, 0.9) go to 1 and [0.9, 1) to 2. A zero-weight
    version is never chosen. Raises ValueError if the weights do not sum to > 0.
    """
    # Exercise 2.6: sticky A/B: cumulative ranges.
    # Hint: walk sorted(weights) accumulating weight / total; return the first version with point < cumulative.
    raise NotImplementedError('Exercise 2.6: sticky A/B: cumulative ranges - see notebooks/02_model_serving.ipynb, section 5')


@dataclass(frozen=True)
class CanaryPolicy:
    """Roll `version` back to weight 0 once it has `min_requests` and breaks a threshold."""

    version: int
    min_requests: int = 100
    max_error_rate: float = 0.05
    max_p95_ms: float | None = None


def canary_verdict(policy: CanaryPolicy, requests: int, errors: int, p95_ms: float) -> str | None:
    """Why the canary must be rolled back, or None to keep it.

    Nothing is decided before `requests >= policy.min_requests`. Then: if errors / requests
    > max_error_rate -> "error rate 0.120 > 0.050" (three decimals); elif max_p95_ms is set and
    p95_ms > max_p95_ms -> "p95 250.0 ms > 200.0 ms" (one decimal); else None.
    """
    # Exercise 2.7: canary rollback rule.
    raise NotImplementedError('Exercise 2.7: canary rollback rule - see notebooks/02_model_serving.ipynb, section 5')


@dataclass
class TrafficSplit:
    weights: dict[int, float]
    sticky: bool = True
    experiment: str = ""
    canary: CanaryPolicy | None = None

    def pick(self, routing_key: str | None, rng: random.Random) -> int:
        """Sticky with a routing key; a seeded random draw without one (or when not sticky)."""
        point = bucket(self.experiment, routing_key) if self.sticky and routing_key is not None else rng.random()
        return choose_variant(self.weights, point)
