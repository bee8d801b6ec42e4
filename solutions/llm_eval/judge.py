"""LLM-as-judge, pairwise, asked in both orders: win rate, position bias, agreement and Cohen's kappa.

A judge is any callable `judge(prompt, answer_a, answer_b) -> str`: a remote LLM behind a prompt
template, the tiny GPT's likelihood, or a rule. It sees two answers in two positions, A and B; the
answers come from two systems, x and y. Exact semantics (each clause kept true by a test in
tests/ex1_llm_eval/test_judge.py):

  * Every item (prompt, answer_x, answer_y, label) is asked twice: judge(prompt, x, y), where x is A,
    and judge(prompt, y, x), where y is A.
  * A raw verdict is parsed strictly: after stripping whitespace, "A", "B" or "tie" in any case, or
    MT-Bench's "[[A]]", "[[B]]" and "[[C]]" (C is a tie). Anything else, a non-string included, is
    invalid and never guessed: "Answer A is better." is invalid, not A.
  * Each order's verdict is mapped to the systems: in the first order A is x and B is y, in the
    second A is y and B is x; a tie stays a tie.
  * An item with an invalid verdict in either order is invalid. It counts toward the invalid rate
    and toward nothing else.
  * A valid item flips when its two mapped verdicts differ. A flipped item's verdict is "tie"
    (MT-Bench's rule for an inconsistent pair); otherwise it is the verdict both orders agree on. It
    favours the first position when both orders answered A, the second when both answered B.
  * The statistics are counts summed over items (sufficient statistics, as BLEU's): items, invalid
    items, x wins, y wins, ties, flips, first-position and second-position items, and the 3 x 3
    confusion of verdict by reference label over the valid labelled items.
  * The scores come from the counts alone. Over the valid items: win rate of x = (x wins + ties / 2)
    / valid, tie rate, position-bias rate = flips / valid, first-position rate. Over all items:
    invalid rate = invalid / items. Over the valid labelled items: agreement = trace / total, and
    Cohen's kappa = (p_o - p_e) / (1 - p_e) (sklearn's `cohen_kappa_score`, unweighted; nan when p_e =
    1, that is both sides use one and the same label). A rate with nothing to count over is nan.
  * Each score's 95% interval: a percentile bootstrap over items, with compare.py's seeded resample
    indices and its interval rule (the n//40-th resampled score from each end), resamples where
    the score is nan left out.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from .compare import N_SAMPLES, SEED, interval, resample_indices
from .multiple_choice import continuation_loglik

LABELS = ("x", "y", "tie")  # the confusion's row (verdict) and column (label) order
SCORES = ("win_rate", "tie_rate", "position_bias", "first_position", "invalid_rate", "agreement", "kappa")


@dataclass(frozen=True)
class JudgeItem:
    prompt: str
    answer_x: str
    answer_y: str
    label: str | None = None  # the reference: "x", "y", "tie", or None when unlabelled


@dataclass(frozen=True)
class JudgeStats:
    items: int = 0
    invalid: int = 0
    x: int = 0
    y: int = 0
    tie: int = 0
    flips: int = 0
    first: int = 0
    second: int = 0
    confusion: tuple[int, ...] = (0,) * 9  # row-major, rows the verdict, columns the label, LABELS order

    def __add__(self, other: "JudgeStats") -> "JudgeStats":
        sums = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "confusion"}
        return JudgeStats(**sums, confusion=tuple(a + b for a, b in zip(self.confusion, other.confusion)))

    def vector(self) -> list[int]:
        return [getattr(self, f.name) for f in fields(self) if f.name != "confusion"] + list(self.confusion)

    @classmethod
    def from_vector(cls, v) -> "JudgeStats":
        v = [int(a) for a in v]
        return cls(*v[:8], confusion=tuple(v[8:]))


@dataclass(frozen=True)
class JudgeSignature:
    judge: str
    n_samples: int
    seed: int

    def __str__(self) -> str:
        return f"judge:{self.judge}|orders:both|flip:tie|ci:95%|bs:{self.n_samples}|seed:{self.seed}"


@dataclass
class JudgeResult:
    scores: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    stats: JudgeStats
    records: list[dict]  # per item: the two raw verdicts, the two parsed ones, the verdict, flipped
    signature: JudgeSignature


# ---------------------------------------------------------------- the learner's parts
_MT_BENCH = {"[[a]]": "A", "[[b]]": "B", "[[c]]": "tie"}


def parse_verdict(raw) -> str | None:
    """"A", "B" or "tie" for a well-formed verdict, as the module says; None for anything else."""
    # BEGIN SOLUTION [1.9] parse a raw verdict strictly (section 13)
    # HINT: a lenient parser that finds an "A" inside "Answer A is better." guesses; return None instead.
    if not isinstance(raw, str):
        return None
    text = raw.strip().lower()
    if text in ("a", "b"):
        return text.upper()
    if text == "tie":
        return "tie"
    return _MT_BENCH.get(text)
    # END SOLUTION


def item_stats(first: str | None, second: str | None, label: str | None = None) -> JudgeStats:
    """One item's counts from its parsed verdicts: `first` with x shown as A, `second` with y shown as A
    (each "A", "B", "tie" or None for invalid), and its reference label ("x", "y", "tie" or None)."""
    # BEGIN SOLUTION [1.9] one item's verdict, flip and confusion counts (section 13)
    # HINT: map each order to the systems first ({"A": "x", "B": "y"} in the first, swapped in the second).
    if first is None or second is None:
        return JudgeStats(items=1, invalid=1)
    one = {"A": "x", "B": "y", "tie": "tie"}[first]
    two = {"A": "y", "B": "x", "tie": "tie"}[second]
    verdict = one if one == two else "tie"
    confusion = [0] * 9
    if label is not None:
        confusion[3 * LABELS.index(verdict) + LABELS.index(label)] = 1
    return JudgeStats(items=1, **{verdict: 1}, flips=int(one != two), first=int(first == second == "A"),
                      second=int(first == second == "B"), confusion=tuple(confusion))
    # END SOLUTION


def cohen_kappa(confusion: Sequence[Sequence[int]]) -> float:
    """Cohen's kappa of a square confusion matrix of counts, (p_o - p_e) / (1 - p_e); nan when there is
    no item or p_e = 1. p_o is the diagonal's share; p_e = sum_k (row_k / n) (column_k / n)."""
    # BEGIN SOLUTION [1.9] Cohen's kappa from the confusion counts (section 13)
    # HINT: with integer counts, n^2 p_e = sum_k row_k column_k is exact: test p_e = 1 on integers.
    n = sum(sum(row) for row in confusion)
    if n == 0:
        return math.nan
    k = len(confusion)
    observed = sum(confusion[i][i] for i in range(k))
    expected = sum(sum(confusion[i]) * sum(row[i] for row in confusion) for i in range(k))
    if expected == n * n:
        return math.nan
    return (n * observed - expected) / (n * n - expected)
    # END SOLUTION


# ---------------------------------------------------------------- scores and the evaluation (given)
def _rate(num: float, den: int) -> float:
    return num / den if den else math.nan


def judge_scores(stats: JudgeStats) -> dict[str, float]:
    """Every score of the module's list, from the counts alone."""
    valid = stats.x + stats.y + stats.tie
    c = stats.confusion
    labelled = sum(c)
    return {
        "win_rate": _rate(stats.x + stats.tie / 2, valid),
        "tie_rate": _rate(stats.tie, valid),
        "position_bias": _rate(stats.flips, valid),
        "first_position": _rate(stats.first, valid),
        "invalid_rate": _rate(stats.invalid, stats.items),
        "agreement": _rate(c[0] + c[4] + c[8], labelled),
        "kappa": cohen_kappa([c[0:3], c[3:6], c[6:9]]),
    }


def _check_items(items: Sequence[JudgeItem]) -> None:
    if not items:
        raise ValueError("evaluate_judge needs at least one item")
    for i, it in enumerate(items):
        if not isinstance(it, JudgeItem):
            raise ValueError(f"item {i}: expected a JudgeItem, got {type(it).__name__}")
        for name in ("prompt", "answer_x", "answer_y"):
            if not isinstance(getattr(it, name), str):
                raise ValueError(f"item {i}: {name} must be a string, got {type(getattr(it, name)).__name__}")
        if it.label is not None and it.label not in LABELS:
            raise ValueError(f"item {i}: label must be one of {LABELS} or None, got {it.label!r}")


def evaluate_judge(judge: Callable[[str, str, str], str], items: Sequence[JudgeItem], *, n_samples: int = N_SAMPLES,
                   seed: int = SEED, name: str | None = None) -> JudgeResult:
    """Ask `judge` every item in both orders; the scores of the module's list with bootstrap intervals."""
    _check_items(items)
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    per_item, records = [], []
    for it in items:
        raw = (judge(it.prompt, it.answer_x, it.answer_y), judge(it.prompt, it.answer_y, it.answer_x))
        first, second = parse_verdict(raw[0]), parse_verdict(raw[1])
        s = item_stats(first, second, it.label)
        per_item.append(s)
        verdict = None if s.invalid else next(v for v in LABELS if getattr(s, v))
        records.append({"raw": raw, "parsed": (first, second), "verdict": verdict, "flipped": bool(s.flips)})
    total = sum(per_item, JudgeStats())
    vectors = np.array([s.vector() for s in per_item], dtype=np.int64)
    sums = vectors[resample_indices(len(items), n_samples, seed)].sum(axis=1)  # (n_samples, n_counts)
    boot = [judge_scores(JudgeStats.from_vector(row)) for row in sums]
    intervals = {}
    for key in SCORES:
        values = np.array([b[key] for b in boot])
        values = values[~np.isnan(values)]
        intervals[key] = interval(values) if len(values) else (math.nan, math.nan)
    label = name or getattr(judge, "name", None) or getattr(judge, "__name__", type(judge).__name__)
    return JudgeResult(judge_scores(total), intervals, total, records, JudgeSignature(label, n_samples, seed))


# ---------------------------------------------------------------- judges
class BiasedJudge:
    """A deterministic judge with a known position bias, for tests and the notebook. It prefers the answer
    with the higher `score(prompt, answer)`; when the two scores are within `margin` it answers "A", the
    first position, as LLM judges tend to when unsure. A share `malformed` of its verdicts (chosen by a
    hash of the inputs, so the same call answers the same) is a sentence, "Answer A is better.", which a
    strict parser refuses."""

    def __init__(self, score: Callable[[str, str], float], *, margin: float = 0.05, malformed: float = 0.0,
                 name: str = "biased"):
        self.score, self.margin, self.malformed, self.name = score, margin, malformed, name

    def __call__(self, prompt: str, answer_a: str, answer_b: str) -> str:
        a, b = self.score(prompt, answer_a), self.score(prompt, answer_b)
        verdict = "A" if abs(a - b) <= self.margin or a > b else "B"
        digest = hashlib.sha256("\x00".join((prompt, answer_a, answer_b)).encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 < self.malformed:
            return f"Answer {verdict} is better."
        return verdict


class LikelihoodJudge:
    """A judge built on a language model's log-likelihood: it prefers the answer the model finds more
    likely as the prompt's continuation, per byte (summed log p over the answer's tokens, divided by its
    UTF-8 length), and answers "tie" within `tie_margin` nats per byte. Each answer is scored on its own,
    so the order it is shown in cannot change the verdict: its position-bias rate is 0 by construction."""

    def __init__(self, model, *, tie_margin: float = 0.0, name: str | None = None):
        self.model, self.tie_margin = model, tie_margin
        self.name = name or f"likelihood({getattr(model, 'name', 'lm')})"
        self._cache: dict[tuple[str, str], float] = {}

    def per_byte(self, prompt: str, answer: str) -> float:
        key = (prompt, answer)
        if key not in self._cache:
            self._cache[key] = continuation_loglik(self.model, prompt, answer) / len(answer.encode("utf-8"))
        return self._cache[key]

    def __call__(self, prompt: str, answer_a: str, answer_b: str) -> str:
        gap = self.per_byte(prompt, answer_a) - self.per_byte(prompt, answer_b)
        return "tie" if abs(gap) <= self.tie_margin else ("A" if gap > 0 else "B")

