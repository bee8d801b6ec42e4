"""Incremental aggregates: sufficient statistics with add, remove and merge.

Every aggregate is a small bag of sufficient statistics with four operations:

- `add(x)`    fold one value in, O(1) (amortized for min/max);
- `remove(x)` take out the *oldest* value still inside (first in, first out),
  which is the only order a time window ever evicts in; `x` must be that value;
- `merge(o)`  combine with another aggregate of the values that came *after* ours
  (a concatenation), which is what tumbling panes and session merges need;
- `result()`  the statistic; `nan` where it is undefined (mean/min/max of nothing,
  variance of fewer than two values, like pandas).

`signature()` says exactly how the statistic is computed, so a number read
from a store can be traced back to its definition.

Why not the textbook formulas: a plain running sum of squares loses every
significant digit when values are large relative to their spread (values near
1e9 with spread 1: E[x^2] - E[x]^2 cancels to 0 or a negative number), so the
variance uses Welford's update, inverted for removal. Min and max cannot be
"un-added" from a single number, so they keep a monotonic deque: O(1)
amortized per event instead of rescanning the window.
"""
from __future__ import annotations

import math
from collections import Counter, deque

NAN = float("nan")


class Count:
    name = "count"

    def __init__(self):
        self.n = 0

    def add(self, x=None):
        self.n += 1

    def remove(self, x=None):
        self.n -= 1

    def merge(self, other: "Count"):
        self.n += other.n

    def result(self):
        return self.n


class Sum:
    """Neumaier-compensated sum: add/remove cycles do not accumulate rounding drift."""
    name = "sum"

    def __init__(self):
        self.n = 0
        self.total = 0.0
        self.compensation = 0.0

    def _fold(self, x: float):
        t = self.total + x
        if abs(self.total) >= abs(x):
            self.compensation += (self.total - t) + x
        else:
            self.compensation += (x - t) + self.total
        self.total = t

    def add(self, x):
        self.n += 1
        total = self.total  # _fold inlined: this is the hot path
        t = total + x
        if abs(total) >= abs(x):
            self.compensation += (total - t) + x
        else:
            self.compensation += (x - t) + total
        self.total = t

    def remove(self, x):
        self.n -= 1
        if self.n == 0:  # an empty window is exactly zero, whatever the rounding history
            self.total = self.compensation = 0.0
        else:
            self._fold(-x)

    def merge(self, other: "Sum"):
        self.n += other.n
        self._fold(other.total)
        self._fold(other.compensation)

    def result(self):
        return self.total + self.compensation


class Mean(Sum):
    name = "mean"

    def result(self):
        return (self.total + self.compensation) / self.n if self.n else NAN


class Variance:
    """Sample variance (ddof=1, like pandas) by Welford's update, with its inverse for removal."""
    name = "var"

    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations from the current mean

    def add(self, x):
        """Fold x into (n, mean, m2) without ever forming a sum of squares."""
        # BEGIN SOLUTION [4.1] Welford add and remove for the variance (section 1)
        # HINT: add: n += 1; d = x - mean; mean += d / n; m2 += d * (x - new mean).
        # HINT: remove undoes it: mean_old = (n * mean - x) / (n - 1), and m2 -= (x - mean) * (x - mean_old).
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)
        # END SOLUTION

    def remove(self, x):
        """Undo add(x) for the oldest value x. Removing the last value resets n, mean and m2 to 0;
        m2 is clamped at 0 (rounding must never make a variance negative)."""
        # BEGIN SOLUTION [4.1] Welford add and remove for the variance (section 1)
        if self.n <= 1:
            self.n, self.mean, self.m2 = 0, 0.0, 0.0
            return
        mean_without = (self.n * self.mean - x) / (self.n - 1)
        self.m2 -= (x - self.mean) * (x - mean_without)
        self.mean = mean_without
        self.n -= 1
        self.m2 = max(self.m2, 0.0)  # rounding must never make a variance negative
        # END SOLUTION

    def merge(self, other: "Variance"):
        # Chan et al.'s parallel combination of two Welford states
        n = self.n + other.n
        if n == 0:
            return
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n

    def result(self):
        return self.m2 / (self.n - 1) if self.n >= 2 else NAN


class Std(Variance):
    name = "std"

    def result(self):
        return math.sqrt(self.m2 / (self.n - 1)) if self.n >= 2 else NAN


class Max:
    """Monotonic deque of (arrival index, value), values strictly decreasing front to back.

    The front is the maximum. A value that has a larger-or-equal value *after* it
    can never be the maximum again, so `add` drops it; `remove` pops the front only
    when the front is the oldest value still in the window.
    """
    name = "max"
    largest = True  # Min sets False: the same deque, with the comparison flipped

    def __init__(self):
        self.queue: deque = deque()
        self.added = 0    # values ever added (the next arrival index)
        self.removed = 0  # values ever removed (the arrival index of the oldest value inside)

    def _dominates(self, new, old) -> bool:
        return new >= old if self.largest else new <= old

    def add(self, x):
        """Append (arrival index, x) after dropping every back entry x dominates; O(1) amortized."""
        # BEGIN SOLUTION [4.1] monotonic deque for min and max (section 1)
        # HINT: pop from the back while the new value dominates the back (>= for max, <= for min),
        # HINT: then append (arrival index, x). Comparisons are inlined: this is the hot path.
        queue = self.queue
        if self.largest:
            while queue and queue[-1][1] <= x:
                queue.pop()
        else:
            while queue and queue[-1][1] >= x:
                queue.pop()
        queue.append((self.added, x))
        self.added += 1
        # END SOLUTION

    def remove(self, x=None):
        """Remove the oldest value inside (x is not needed); ValueError when empty."""
        # BEGIN SOLUTION [4.1] monotonic deque for min and max (section 1)
        # HINT: the front leaves only if its arrival index is the oldest one inside.
        if self.added == self.removed:
            raise ValueError(f"remove from an empty {self.name}")
        if self.queue[0][0] == self.removed:
            self.queue.popleft()
        self.removed += 1
        # END SOLUTION

    def merge(self, other: "Max"):
        offset = self.added - other.removed
        for index, x in other.queue:
            while self.queue and self._dominates(x, self.queue[-1][1]):
                self.queue.pop()
            self.queue.append((index + offset, x))
        self.added += other.added - other.removed

    def result(self):
        return self.queue[0][1] if self.queue else NAN


class Min(Max):
    name = "min"
    largest = False


class Last:
    """The most recently added value still inside (FIFO removal only empties it)."""
    name = "last"

    def __init__(self):
        self.n = 0
        self.value = NAN

    def add(self, x):
        self.n += 1
        self.value = x

    def remove(self, x=None):
        self.n -= 1
        if self.n == 0:
            self.value = NAN

    def merge(self, other: "Last"):
        if other.n:
            self.value = other.value
        self.n += other.n

    def result(self):
        return self.value


class DistinctCount:
    """Exact distinct count: a multiset, so removal is exact (HyperLogLog would not invert)."""
    name = "distinct"

    def __init__(self):
        self.counts: Counter = Counter()

    def add(self, x):
        self.counts[x] += 1

    def remove(self, x):
        left = self.counts[x] - 1
        if left < 0:
            raise ValueError(f"remove of {x!r}, which is not inside")
        if left:
            self.counts[x] = left
        else:
            del self.counts[x]

    def merge(self, other: "DistinctCount"):
        self.counts.update(other.counts)

    def result(self):
        return len(self.counts)


AGGREGATES = {cls.name: cls for cls in (Count, Sum, Mean, Variance, Std, Min, Max, Last, DistinctCount)}


def make_aggregate(name: str):
    """A fresh aggregate by name: one of count, sum, mean, var, std, min, max, last, distinct."""
    if not isinstance(name, str):
        raise TypeError(f"aggregate name must be a string, got {type(name).__name__}")
    if name not in AGGREGATES:
        raise ValueError(f"unknown aggregate {name!r}: choose one of {sorted(AGGREGATES)}")
    return AGGREGATES[name]()


def signature(name: str) -> str:
    """How the aggregate is computed, e.g. 'std|ddof=1|welford+remove|fifo'."""
    detail = {
        "count": "exact", "sum": "neumaier", "mean": "neumaier-sum/count", "var": "ddof=1|welford+remove",
        "std": "ddof=1|welford+remove", "min": "monotonic-deque", "max": "monotonic-deque",
        "last": "arrival-order", "distinct": "exact-multiset",
    }[make_aggregate(name).name]
    return f"{name}|{detail}|fifo"
