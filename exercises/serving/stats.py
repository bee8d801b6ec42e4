# Starter code generated from solutions/serving/stats.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Per-version request statistics and their summary.

Counters (requests by status, batches by size) only ever grow; latencies and
completion times live in a bounded window of the most recent requests, so the
percentiles are exact over that window, not an estimate over all time
(the Prometheus histograms in app.py are the all-time, mergeable view).
"""
from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

STATUSES = ("ok", "error", "timeout", "rejected", "invalid")


def percentile(sorted_values: list[float], q: float) -> float:
    """Exact q-th percentile (0 <= q <= 100) of an ascending list, by linear interpolation.

    The same definition as numpy.percentile's default ("linear"): the value at fractional
    rank r = (n - 1) * q / 100 interpolated between sorted_values[floor(r)] and
    sorted_values[ceil(r)]. Empty input -> nan. q outside [0, 100] -> ValueError.
    """
    # Exercise 2.5: exact percentile over the window.
    # Hint: lo = floor(r), hi = min(lo + 1, n - 1); weight the two neighbours by r - lo.
    raise NotImplementedError('Exercise 2.5: exact percentile over the window - see notebooks/02_model_serving.ipynb, section 4')


@dataclass
class VersionStats:
    """What the server records for one (model, version)."""

    window: int = 2048
    by_status: Counter = field(default_factory=Counter)
    batch_sizes: Counter = field(default_factory=Counter)
    rate_window_s: float = 10.0
    latencies: deque = field(default=None)
    per_second: Counter = field(default_factory=Counter)  # completions by whole clock second
    first_seen: float | None = None

    def __post_init__(self):
        self.latencies = deque(maxlen=self.window)

    def record(self, status: str, latency_s: float, now: float) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        self.by_status[status] += 1
        if self.first_seen is None:
            self.first_seen = now - latency_s
        if status == "ok":
            self.latencies.append(latency_s)
            second = math.floor(now)
            self.per_second[second] += 1
            for old in [s for s in self.per_second if s <= second - self.rate_window_s]:
                del self.per_second[old]

    def throughput(self, now: float) -> float:
        """Completions per second over the last rate_window_s (or since the first request, at least 1 s)."""
        if self.first_seen is None:
            return 0.0
        recent = sum(n for s, n in self.per_second.items() if s > now - self.rate_window_s - 1)
        return recent / max(1.0, min(self.rate_window_s, now - self.first_seen))

    def record_batch(self, size: int) -> None:
        self.batch_sizes[size] += 1

    @property
    def requests(self) -> int:
        return sum(self.by_status.values())

    @property
    def errors(self) -> int:
        """Server-side failures: the model raised, or the deadline passed (not 422s or 503s)."""
        return self.by_status["error"] + self.by_status["timeout"]

    def latency_percentiles_ms(self) -> dict[str, float]:
        values = sorted(self.latencies)
        return {f"p{q}": 1000 * percentile(values, q) for q in (50, 95, 99)}

    def summary(self, now: float, queue_depth: int) -> dict:
        requests = self.requests
        batches = sum(self.batch_sizes.values())
        items = sum(size * count for size, count in self.batch_sizes.items())
        return {
            "requests": requests,
            "ok": self.by_status["ok"],
            "errors": self.errors,
            "error_rate": self.errors / requests if requests else 0.0,
            "rejected": self.by_status["rejected"],
            "timed_out": self.by_status["timeout"],
            "invalid": self.by_status["invalid"],
            "latency_ms": self.latency_percentiles_ms(),
            "latency_window": len(self.latencies),
            "throughput_rps": self.throughput(now),
            "queue_depth": queue_depth,
            "batches": batches,
            "mean_batch_size": items / batches if batches else 0.0,
            "batch_size_histogram": dict(sorted(self.batch_sizes.items())),
        }
