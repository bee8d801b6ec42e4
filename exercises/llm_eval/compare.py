# Starter code generated from solutions/llm_eval/compare.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""Compare several systems on the same items: paired bootstrap resampling as in sacreBLEU.

All systems are resampled with the *same* item indices (seeded), and every resample is scored
from summed per-item statistics, so corpus BLEU stays corpus BLEU inside the bootstrap. For a
system S against the baseline B with real difference d = |S - B| over the full set, the
p-value is (c + 1) / (n + 1), where c counts resamples whose centred absolute difference
|S_i - B_i| - mean_j |S_j - B_j| exceeds d (sacreBLEU's `_paired_bs_test`). The 95% interval
of a score sorts the resampled scores and takes the n//40-th from each end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evaluator import EvalResult

N_SAMPLES = 1000
SEED = 12345  # sacreBLEU's default SACREBLEU_SEED


def resample_indices(n_items: int, n_samples: int = N_SAMPLES, seed: int = SEED) -> np.ndarray:
    """(n_samples, n_items) item indices drawn with replacement; shared by all systems."""
    return np.random.default_rng(seed).choice(n_items, size=(n_samples, n_items), replace=True)


def bootstrap_scores(metric, item_stats: list, indices: np.ndarray) -> np.ndarray:
    """The metric's headline score on every resample, from summed per-item statistics."""
    # Exercise 1.7: score every bootstrap resample from summed statistics.
    # Hint: counts[s, i] = how often item i appears in resample s; counts @ vectors sums the statistics.
    raise NotImplementedError('Exercise 1.7: score every bootstrap resample from summed statistics - see notebooks/01_llm_evaluation.ipynb, section 8')


def interval(scores: np.ndarray) -> tuple[float, float]:
    """95% interval: sorted scores, n//40-th from the bottom and from the top (sacreBLEU)."""
    s = np.sort(scores)
    lower = len(s) // 40
    return float(s[lower]), float(s[len(s) - lower - 1])


def paired_p_value(real_sys: float, real_base: float, boot_sys: np.ndarray, boot_base: np.ndarray) -> float:
    """sacreBLEU's paired bootstrap p-value: (c + 1) / (n + 1)."""
    # Exercise 1.7: paired bootstrap p-value.
    raise NotImplementedError('Exercise 1.7: paired bootstrap p-value - see notebooks/01_llm_evaluation.ipynb, section 8')


@dataclass
class Comparison:
    table: pd.DataFrame  # one row per (metric, system)
    p_matrix: dict[str, pd.DataFrame]  # metric -> pairwise p-values
    baseline: str
    n_samples: int
    seed: int


def _check_same_items(results: dict[str, EvalResult]) -> tuple[int, list[str]]:
    first = next(iter(results.values()))
    for name, r in results.items():
        if r.n != first.n or r.references != first.references:
            raise ValueError(f"system {name!r} was not evaluated on the same items as the others")
        if set(r.results) != set(first.results):
            raise ValueError(f"system {name!r} has metrics {sorted(r.results)}, expected {sorted(first.results)}")
        for key in r.results:
            if r.results[key].signature != first.results[key].signature:
                raise ValueError(f"{key}: signatures differ ({r.results[key].signature!r} vs "
                                 f"{first.results[key].signature!r}); the numbers are not comparable")
        if not r.item_stats:
            raise ValueError(f"system {name!r} has no per-item statistics: use Evaluator.evaluate")
    return first.n, list(first.results)


def compare(results: dict[str, EvalResult], *, baseline: str | None = None, n_samples: int = N_SAMPLES,
            seed: int = SEED) -> Comparison:
    """Per metric and system: value, 95% CI, difference to the baseline with its CI and p-value,
    and per-item wins / ties / losses against the baseline."""
    if len(results) < 1:
        raise ValueError("compare needs at least one system")
    baseline = baseline or next(iter(results))
    if baseline not in results:
        raise ValueError(f"baseline {baseline!r} is not one of {list(results)}")
    n, keys = _check_same_items(results)
    indices = resample_indices(n, n_samples, seed)
    rows, p_matrix = [], {}
    for key in keys:
        boot = {name: bootstrap_scores(r.metrics[key], r.item_stats[key], indices) for name, r in results.items()}
        real = {name: r.results[key].value for name, r in results.items()}
        better = 1 if next(iter(results.values())).metrics[key].higher_is_better else -1
        base_items = np.array(results[baseline].item_values[key])
        for name, r in results.items():
            items = np.array(r.item_values[key])
            delta = boot[name] - boot[baseline]
            low, high = interval(boot[name])
            d_low, d_high = interval(delta)
            rows.append({
                "metric": key, "system": name, "value": real[name], "ci_low": low, "ci_high": high,
                "delta": real[name] - real[baseline], "delta_ci_low": d_low, "delta_ci_high": d_high,
                "p_value": 1.0 if name == baseline else paired_p_value(real[name], real[baseline], boot[name],
                                                                       boot[baseline]),
                "wins": int(np.sum(better * (items - base_items) > 0)),
                "ties": int(np.sum(items == base_items)),
                "losses": int(np.sum(better * (items - base_items) < 0)),
            })
        names = list(results)
        p_matrix[key] = pd.DataFrame(
            [[1.0 if a == b else paired_p_value(real[a], real[b], boot[a], boot[b]) for b in names] for a in names],
            index=names, columns=names)
    return Comparison(pd.DataFrame(rows), p_matrix, baseline, n_samples, seed)
