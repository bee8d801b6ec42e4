# Starter code generated from solutions/serving/routing.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Traffic splits between versions of one model: sticky A/B, canary rollback.

The variant is chosen when a request is enqueued, by weighted rendezvous hashing (weighted
highest-random-weight). Every user holds one point u_v in (0, 1) per version, a hash of
(experiment id, routing key, version), fixed for good; with weights w_v each version scores
-ln(u_v) / w_v, and the lowest score wins (ties: the lower version).

Guarantee: each version is chosen with probability w_v / sum(w) over users; a user's variant
changes only when the weights change, and a user moves from version a to version b only if the
ratio w_b / w_a grew (so raising one variant's weight only moves users into it, lowering one only
moves users out of it, and a zero-weight version is never chosen).

Why: -ln(u_v) / w_v is an exponential draw with rate w_v, and the smallest of independent
exponentials is the one of rate w_v with probability w_v / sum(w). A user's points never change.
With s_v = -ln(u_v): a user on a before a change has s_a / w_a <= s_b / w_b, and on b after it
s_b / w'_b <= s_a / w'_a; together w'_b / w'_a >= s_b / s_a >= w_b / w_a, and equality throughout
would be a tie, which the lower version wins both times. (Floating-point rounding could only
flip two scores equal to about 1e-16 relative, which no realistic population of users holds.)
"""
from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass


def bucket(experiment: str, routing_key: str) -> float:
    """Deterministic point in [0, 1) for a user in an experiment (uniform over keys, 53 bits)."""
    digest = hashlib.sha256(f"{experiment}\x00{routing_key}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / 2**53  # exact: never rounds up to 1.0


def variant_points(experiment: str, routing_key: str, versions: Iterable[int]) -> dict[int, float]:
    """The user's fixed point in the open interval (0, 1) for each version: {version: u_v}.

    Independent across versions and users, and uniform, so -ln(u_v) is never infinite. The point of
    version v does not depend on which other versions are in the split.
    """
    points = {}
    for v in versions:
        k = int(bucket(experiment, f"{routing_key}\x00{v}") * 2**52)  # exact: 52 of bucket's 53 bits
        points[v] = (2 * k + 1) / 2**53  # the midpoint of a grid cell: exact, strictly inside (0, 1)
    return points


def choose_variant(weights: dict[int, float], points: dict[int, float]) -> int:
    """The version a user is routed to, by weighted rendezvous hashing.

    `weights` maps version -> weight; `points` maps version -> this user's point in (0, 1) for that
    version (`variant_points(experiment, routing_key, weights)`: fixed per experiment, user and
    version). Every version with weight w > 0 scores -ln(points[v]) / w and the lowest score wins;
    equal scores go to the lower version. Versions with weight <= 0 are skipped and need no point.
    Example: weights {1: 1.0, 2: 3.0}, points {1: 0.6, 2: 0.3} score 0.511 and 0.401, so 2.

    Guarantee: each version is chosen with probability w_v / sum(w) over users; a user's variant
    changes only when the weights change, and a user moves from version a to version b only if the
    ratio w_b / w_a grew (so raising one variant's weight only moves users into it, lowering one
    only moves users out of it, and a zero-weight version is never chosen).

    Raises ValueError if the weights do not sum to > 0, or if `points` lacks a version whose
    weight is > 0.
    """
    # Exercise 2.6: sticky A/B: weighted rendezvous hashing, lowest -ln(u) / w wins.
    # Hint: over sorted(weights) with weight > 0: score = -math.log(points[v]) / weights[v]; keep the first lowest.
    raise NotImplementedError('Exercise 2.6: sticky A/B: weighted rendezvous hashing, lowest -ln(u) / w wins - see notebooks/02_model_serving.ipynb, section 5')


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


def random_points(versions: Iterable[int], rng: random.Random) -> dict[int, float]:
    """One fresh uniform point in (0, 1) per version, in ascending version order (seeded, reproducible)."""
    points = {}
    for v in sorted(versions):
        u = rng.random()
        while u == 0.0:  # random() is in [0, 1); -ln(0) is infinite
            u = rng.random()
        points[v] = u
    return points


@dataclass
class TrafficSplit:
    weights: dict[int, float]
    sticky: bool = True
    experiment: str = ""
    canary: CanaryPolicy | None = None

    def pick(self, routing_key: str | None, rng: random.Random) -> int:
        """Sticky with a routing key; a seeded random draw without one (or when not sticky)."""
        if self.sticky and routing_key is not None:
            points = variant_points(self.experiment, routing_key, self.weights)
        else:
            points = random_points(self.weights, rng)
        return choose_variant(self.weights, points)
