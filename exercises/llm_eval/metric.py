# Starter code generated from solutions/llm_eval/metric.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""The metric protocol and registry: per-item sufficient statistics that add up exactly.

A metric turns one (prediction, reference) item into *statistics*, adds statistics with `+`,
and computes its score from the sum alone. That one rule makes every way of feeding data
agree bit for bit: a batch, a stream in any chunk sizes, shards merged in any order.
Floating-point values (ROUGE F, cosine similarity, log-probabilities) are therefore summed as
exact rationals (`fractions.Fraction`), because float addition is not associative and a
mean computed in a different order would differ in the last bit.

Two metrics can be merged only when their signatures agree: a signature names every option
that changes the number, so shards scored differently are never silently mixed.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

_REGISTRY: dict[str, type["Metric"]] = {}


class Sums(tuple):
    """A tuple of numbers that adds element-wise: the statistics of mean-style metrics."""

    def __add__(self, other):
        if not other:
            return self
        if not self:
            return other
        return Sums(a + b for a, b in zip(self, other))


def exact(value: float) -> Fraction:
    """The float's exact rational value, so sums do not depend on their order."""
    return Fraction(value)


@dataclass(frozen=True)
class MetricResult:
    """One metric's result: `value` is the headline number, `details` everything else it reports."""

    name: str
    value: float
    details: dict[str, float] = field(default_factory=dict)
    signature: str = ""
    n: int = 0

    def __float__(self) -> float:
        return self.value


class Metric:
    """Base class of every metric. Subclasses define the pure parts:

    - `item_stats(prediction, reference)`: statistics of one item (anything supporting `+`),
    - `zero()`: the statistics of no items (the identity of `+`),
    - `score(stats) -> dict[str, float]`: every number the metric reports, from summed statistics,
    - `options()`: the settings that change the number (they form the signature).

    The protocol is `update(predictions, references)`, `merge(other)`, `compute()` and `signature`.
    `primary` names the headline key of `score`; `item_value(stats)` scores a single item
    (for per-item comparisons and worst-k examples); `data_warnings(predictions, references)` lists
    what in the data makes this metric's number misleading (the evaluator gathers them for the report).
    """

    name: ClassVar[str] = "metric"
    primary: ClassVar[str] = "score"
    higher_is_better: ClassVar[bool] = True

    def __init__(self):
        self.state = self.zero()
        self.n = 0

    # ---- pure parts, defined by each metric
    def item_stats(self, prediction: Any, reference: Any):
        raise NotImplementedError

    def zero(self):
        return Sums()

    def score(self, stats) -> dict[str, float]:
        raise NotImplementedError

    def options(self) -> dict[str, Any]:
        return {}

    def item_value(self, stats) -> float:
        return self.score(stats)[self.primary]

    def data_warnings(self, predictions: Sequence, references: Sequence) -> list[str]:
        return []

    def to_vector(self, stats) -> list[float]:
        """Statistics as a flat vector (for vectorized bootstrap resampling): sums become dot products."""
        return [float(x) for x in stats]

    def from_vector(self, vector) -> Any:
        return Sums(float(x) for x in vector)

    # ---- the protocol
    @property
    def signature(self) -> str:
        parts = [f"metric:{self.name}"] + [f"{k}:{v}" for k, v in self.options().items()]
        return "|".join(parts)

    def fresh(self) -> "Metric":
        """A copy with the same options and no data."""
        other = copy.copy(self)
        other.state, other.n = self.zero(), 0
        return other

    def batch_stats(self, predictions: Sequence, references: Sequence) -> list:
        """Statistics of each item of a batch; metrics that batch a model call override this."""
        return [self.item_stats(p, r) for p, r in zip(predictions, references)]

    def update(self, predictions: Sequence, references: Sequence) -> "Metric":
        """Add a batch of aligned (prediction, reference) items to the running statistics."""
        if isinstance(predictions, str) or isinstance(references, str):
            raise ValueError(f"{self.name}.update takes lists of predictions and references, not a bare string")
        if len(predictions) != len(references):
            raise ValueError(f"{self.name}.update: {len(predictions)} predictions but {len(references)} references")
        return self.update_stats(self.batch_stats(predictions, references))

    def update_stats(self, item_stats: Sequence) -> "Metric":
        """Add already computed per-item statistics to `self.state` with `+` (in order) and count
        them in `self.n`; returns self so calls chain."""
        # Exercise 1.3: add the per-item statistics to the running state.
        raise NotImplementedError('Exercise 1.3: add the per-item statistics to the running state - see notebooks/01_llm_evaluation.ipynb, section 4')

    def merge(self, other: "Metric") -> "Metric":
        """Fold another shard's statistics and item count into this one (in place; returns self).
        Raises ValueError when `other` is another metric type or has different `options()`:
        statistics computed with different options must never be added."""
        # Exercise 1.3: merge two shards exactly.
        raise NotImplementedError('Exercise 1.3: merge two shards exactly - see notebooks/01_llm_evaluation.ipynb, section 4')

    def compute(self) -> MetricResult:
        """MetricResult(name, value=score[primary], details=score, signature, n) of the statistics so
        far, where score = self.score(self.state); an empty metric scores its zero statistics."""
        # Exercise 1.3: compute the result from the summed statistics.
        raise NotImplementedError('Exercise 1.3: compute the result from the summed statistics - see notebooks/01_llm_evaluation.ipynb, section 4')


def register_metric(name: str):
    """Class decorator: make a Metric subclass available as `get_metric(name)`."""
    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Metric)):
            raise TypeError(f"@register_metric({name!r}) needs a Metric subclass, got {cls!r}")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"a metric named {name!r} is already registered ({_REGISTRY[name].__name__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return decorate


def get_metric(name: str, **options) -> Metric:
    """A new instance of the registered metric `name`, configured with `options`."""
    if name not in _REGISTRY:
        raise KeyError(f"no metric {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)


def registered_metrics() -> list[str]:
    return sorted(_REGISTRY)
