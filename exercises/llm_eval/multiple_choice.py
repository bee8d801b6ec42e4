# Starter code generated from solutions/llm_eval/multiple_choice.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""Multiple choice by log-likelihood, as lm-evaluation-harness scores it, and calibration.

A question is a context, its choices and the index of the gold one. Each choice is scored as the
continuation `delimiter + choice` (one space, the harness's `target_delimiter`) of the context: the
sum of log p over the continuation's tokens, the model seeing the context's tokens first (left-
truncated to the model's window if needed). Then, as the harness's `process_results`:
- acc: the choice with the largest summed log-likelihood is the gold one (the first on a tie);
- acc_norm: the same with each log-likelihood divided by len(choice), the choice's length in
  characters, delimiter excluded (the harness's `completion_len`; equal to its byte length for
  ASCII text).
For calibration, the model's confidence in its `acc` answer is the softmax of the summed
log-likelihoods over the choices, at that answer. Expected calibration error with B equal-width
bins: bin b holds the confidences c with b/B <= c < (b+1)/B, the bounds being the floats b / B
(the last bin also takes 1.0); ECE = sum over the non-empty bins of (n_b / n) * |accuracy_b - mean
confidence_b|. (floor(c * B) is not the same bin: 0.57 * 100 is 56.99999999999999.)
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

DELIMITER = " "


@dataclass(frozen=True)
class Question:
    context: str
    choices: tuple[str, ...]
    gold: int


@dataclass(frozen=True)
class MCResult:
    acc: float
    acc_norm: float
    ece: float
    n: int
    confidences: list[float]
    correct: list[bool]
    reliability: list[dict]  # per bin: low, high, n, accuracy, confidence


# ---------------------------------------------------------------- scoring (given)
def continuation_loglik(model, context: str, continuation: str) -> float:
    """Sum of log p(token | everything before it) over the continuation's tokens after the context.
    The continuation's tokens are those of tokenize(context + continuation) past tokenize(context),
    as the harness splits them; the window is the last `max_length` tokens when the model has one."""
    whole, prefix = model.tokenize(context + continuation), model.tokenize(context)
    n_cont = len(whole) - len(prefix)
    if n_cont < 1 or whole[:len(prefix)] != prefix:
        raise ValueError(f"the continuation {continuation!r} adds no token after the context, or re-tokenizes it")
    window = whole[-(getattr(model, "max_length", None) or len(whole)):]
    if n_cont >= len(window):
        raise ValueError(f"the continuation {continuation!r} does not fit the model's window with any context")
    return math.fsum(model.log_probs(window)[-n_cont:])


def question_logliks(model, question: Question) -> list[float]:
    return [continuation_loglik(model, question.context, DELIMITER + c) for c in question.choices]


# ---------------------------------------------------------------- the learner's parts
def predictions(logliks: Sequence[float], choices: Sequence[str]) -> tuple[int, int]:
    """(the acc answer, the acc_norm answer): the index of the largest log-likelihood, and of the
    largest log-likelihood divided by len(choice); the first index on a tie, as numpy's argmax."""
    # Exercise 1.11: the acc and acc_norm answers.
    # Hint: max(range(n), key=...) returns the first maximum, as np.argmax does.
    raise NotImplementedError('Exercise 1.11: the acc and acc_norm answers - see notebooks/01_llm_evaluation.ipynb, section 12')


def confidence(logliks: Sequence[float], answer: int) -> float:
    """The softmax of the log-likelihoods at `answer`, computed stably (subtract the maximum first:
    log-likelihoods of long continuations are large negative numbers whose exp underflows)."""
    # Exercise 1.11: the model's confidence in its answer.
    raise NotImplementedError("Exercise 1.11: the model's confidence in its answer - see notebooks/01_llm_evaluation.ipynb, section 12")


def calibration(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> tuple[float, list[dict]]:
    """(ECE, the reliability table) with `bins` equal-width bins as the module says: confidence c is in
    bin b when b / bins <= c < (b + 1) / bins (those floats), 1.0 in the last bin; each non-empty bin's
    row {low, high, n, accuracy, confidence}, in bin order."""
    # Exercise 1.11: expected calibration error over equal-width bins.
    # Hint: bisect.bisect_right over the inner bounds [1/bins, ..., (bins-1)/bins] finds the bin.
    raise NotImplementedError('Exercise 1.11: expected calibration error over equal-width bins - see notebooks/01_llm_evaluation.ipynb, section 12')


# ---------------------------------------------------------------- the evaluation (given)
def evaluate_multiple_choice(model, questions: Sequence[Question], bins: int = 10) -> MCResult:
    """acc, acc_norm and the calibration of `acc`'s answers over the questions."""
    if not questions:
        raise ValueError("evaluate_multiple_choice needs at least one question")
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    for i, q in enumerate(questions):
        if len(q.choices) < 2 or not 0 <= q.gold < len(q.choices) or not all(q.choices):
            raise ValueError(f"question {i}: needs at least two non-empty choices and a gold index among them")
    hits = hits_norm = 0
    confidences, correct = [], []
    for q in questions:
        lls = question_logliks(model, q)
        plain, normed = predictions(lls, q.choices)
        hits += plain == q.gold
        hits_norm += normed == q.gold
        confidences.append(confidence(lls, plain))
        correct.append(plain == q.gold)
    ece, table = calibration(confidences, correct, bins)
    n = len(questions)
    return MCResult(hits / n, hits_norm / n, ece, n, confidences, correct, table)
