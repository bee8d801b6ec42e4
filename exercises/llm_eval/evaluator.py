# Starter code generated from solutions/llm_eval/evaluator.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""Batch and streaming evaluation of one model (or a list of predictions) with several metrics.

`evaluate` scores a whole dataset and keeps each item's statistics (what `compare` resamples
for significance tests and what the report ranks for worst-k examples). `evaluate_stream`
consumes an iterable of (prediction, reference) pairs and yields the running result after
every `batch_size` items; its last result equals `evaluate` on the same items exactly, since
both add the same per-item statistics.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .metric import Metric, MetricResult, get_metric


@dataclass
class EvalResult:
    """Results per metric key; with `evaluate`, also the per-item statistics and values."""

    results: dict[str, MetricResult]
    n: int
    model: str = ""
    item_stats: dict[str, list] = field(default_factory=dict, repr=False)
    item_values: dict[str, list[float]] = field(default_factory=dict, repr=False)
    predictions: list = field(default_factory=list, repr=False)
    references: list = field(default_factory=list, repr=False)
    metrics: dict[str, Metric] = field(default_factory=dict, repr=False)
    warnings: list[str] = field(default_factory=list, repr=False)

    def __getitem__(self, key: str) -> MetricResult:
        return self.results[key]

    def values(self) -> dict[str, float]:
        return {k: r.value for k, r in self.results.items()}

    def to_frame(self):
        import pandas as pd

        rows = [{"metric": k, "key": d, "value": v, "signature": r.signature, "n": r.n}
                for k, r in self.results.items() for d, v in r.details.items()]
        return pd.DataFrame(rows)


def _as_metrics(metrics) -> dict[str, Metric]:
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    items = metrics.items() if isinstance(metrics, Mapping) else ((None, m) for m in metrics)
    out: dict[str, Metric] = {}
    for key, m in items:
        metric = get_metric(m) if isinstance(m, str) else m
        if not isinstance(metric, Metric):
            raise TypeError(f"expected a metric name or a Metric instance, got {m!r}")
        key = key or metric.name
        if key in out:
            raise ValueError(f"two metrics named {key!r}: pass a dict {{key: metric}} to tell them apart")
        out[key] = metric
    return out


def reference_of(item: Any) -> Any:
    """The reference of one dataset item: item['reference'] for a mapping, else the item itself."""
    if isinstance(item, Mapping):
        if "reference" not in item:
            raise ValueError(f"dataset item has no 'reference' key: {sorted(item)}")
        return item["reference"]
    return item


def prompt_of(item: Any) -> str:
    if not isinstance(item, Mapping) or "prompt" not in item:
        raise ValueError("to evaluate a model, each dataset item needs a 'prompt' key")
    return item["prompt"]


def generate(model, prompts: list[str]) -> list[str]:
    """Call a model on a batch: `model.generate(prompts)` if it has one, else `model(prompts)`."""
    outputs = model.generate(prompts) if hasattr(model, "generate") else model(prompts)
    outputs = list(outputs)
    if len(outputs) != len(prompts):
        raise ValueError(f"the model returned {len(outputs)} outputs for {len(prompts)} prompts")
    return outputs


class Evaluator:
    """Evaluate with several metrics: `Evaluator(["bleu", "rouge"])` or `{key: Metric}`."""

    def __init__(self, metrics):
        self.metrics = _as_metrics(metrics)

    def _fresh(self) -> dict[str, Metric]:
        return {k: m.fresh() for k, m in self.metrics.items()}

    def evaluate(self, model_or_predictions, dataset: Sequence, *, batch_size: int = 32,
                 model_name: str = "") -> EvalResult:
        """Score a model (anything callable on a list of prompts) or a list of predictions
        aligned with `dataset`, `batch_size` items at a time."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(dataset, str) or not isinstance(dataset, Sequence):
            raise ValueError("dataset must be a sequence of items")
        references = [reference_of(item) for item in dataset]
        if isinstance(model_or_predictions, str):
            raise ValueError("predictions must be a list of strings, not a bare string")
        if isinstance(model_or_predictions, Sequence):
            predictions = list(model_or_predictions)
            if len(predictions) != len(dataset):
                raise ValueError(f"{len(predictions)} predictions for {len(dataset)} dataset items")
        else:
            predictions = []
            for start in range(0, len(dataset), batch_size):
                batch = dataset[start:start + batch_size]
                predictions += generate(model_or_predictions, [prompt_of(item) for item in batch])
        metrics = self._fresh()
        item_stats: dict[str, list] = {k: [] for k in metrics}
        for start in range(0, len(predictions), batch_size):
            preds, refs = predictions[start:start + batch_size], references[start:start + batch_size]
            for key, metric in metrics.items():
                stats = metric.batch_stats(preds, refs)
                metric.update_stats(stats)
                item_stats[key] += stats
        return EvalResult(
            results={k: m.compute() for k, m in metrics.items()}, n=len(predictions), model=model_name,
            item_stats=item_stats,
            item_values={k: [metrics[k].item_value(s) for s in item_stats[k]] for k in metrics},
            predictions=predictions, references=references, metrics=metrics,
            warnings=gather_warnings(predictions, references, metrics))

    def evaluate_stream(self, pairs: Iterable[tuple[Any, Any]], *, batch_size: int = 32) -> Iterator[EvalResult]:
        """Yield the running result after every `batch_size` (prediction, reference) pairs and
        once more for a final partial batch; nothing is yielded for an empty stream."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        metrics = self._fresh()
        preds, refs, seen = [], [], 0

        def flush():
            for metric in metrics.values():
                metric.update(preds, refs)
            return EvalResult({k: m.compute() for k, m in metrics.items()}, seen, metrics=metrics)

        for prediction, reference in pairs:
            preds.append(prediction)
            refs.append(reference)
            seen += 1
            if len(preds) == batch_size:
                yield flush()
                preds, refs = [], []
        if preds:
            yield flush()


def gather_warnings(predictions, references, metrics: Mapping[str, Metric]) -> list[str]:
    """Human-readable warnings about the data that make some metric numbers misleading: empty
    predictions, then each metric's own `data_warnings` (a note repeated by two metrics is kept once)."""
    notes = []
    empty = sum(1 for p in predictions if isinstance(p, str) and not p.strip())
    if empty:
        notes.append(f"{empty} empty prediction(s)")
    for metric in metrics.values():
        notes += [n for n in metric.data_warnings(predictions, references) if n not in notes]
    return notes
