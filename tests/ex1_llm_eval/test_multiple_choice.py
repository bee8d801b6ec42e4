"""Multiple choice by log-likelihood (lm-evaluation-harness's acc and acc_norm) and calibration (ECE)."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.data.llm_eval import cloze_questions
from mlpractice.impl import load

llm_eval = load("llm_eval")
mc = load("llm_eval").multiple_choice
pytestmark = pytest.mark.exercise("1.11", "multiple choice by log-likelihood, with calibration")


def brute_force_ece(confidences, correct, bins):
    """Bin membership by comparing with each bin's float bounds, sums in exact arithmetic."""
    n, total = len(confidences), Fraction(0)
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if idx:
            acc = Fraction(sum(bool(correct[i]) for i in idx), len(idx))
            conf = sum(Fraction(confidences[i]) for i in idx) / len(idx)
            total += Fraction(len(idx), n) * abs(acc - conf)
    return float(total)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.1, 0.57, 0.7, 1.0])), st.booleans()),
                min_size=1, max_size=60),
       st.integers(1, 100))
@example([(0.57, True)], 100)   # 0.57 * 100 = 56.99999999999999: floor(c * B) puts it one bin too low
@example([(1.0, False), (0.0, True)], 10)
def test_ece_equals_a_brute_force_computation(pairs, bins):
    confidences, correct = [c for c, _ in pairs], [k for _, k in pairs]
    ece, table = mc.calibration(confidences, correct, bins)
    assert ece == pytest.approx(brute_force_ece(confidences, correct, bins), abs=1e-12)
    assert sum(row["n"] for row in table) == len(pairs)
    assert [row["low"] for row in table] == sorted(row["low"] for row in table)
    for row in table:
        inside = [c for c in confidences if row["low"] <= c < row["high"] or (row["high"] == 1.0 and c == 1.0)]
        assert row["n"] == len(inside) and row["confidence"] == pytest.approx(sum(inside) / len(inside), abs=1e-12)


@pytest.fixture(scope="module")
def model():
    return llm_eval.TinyGPTLM("late")


def direct_logliks(lm, context, choices):
    """Each continuation scored by hand: the model over context + ' ' + choice, log-softmax, the
    continuation's byte positions summed."""
    import torch

    out = []
    for choice in choices:
        ids = lm.tokenize(context) + list((" " + choice).encode("utf-8"))
        with torch.no_grad():
            logp = torch.log_softmax(lm.model(torch.tensor([ids]))[0].double(), dim=-1)
        n = len(ids) - len(lm.tokenize(context))
        out.append(sum(logp[t - 1, ids[t]].item() for t in range(len(ids) - n, len(ids))))
    return out


@pytest.mark.timeout(120)
def test_acc_and_acc_norm_equal_a_direct_per_continuation_computation(model):
    questions = [llm_eval.Question(*q) for q in cloze_questions(n=30, seed=4)]
    result = llm_eval.evaluate_multiple_choice(model, questions, bins=5)
    acc = acc_norm = 0
    confidences = []
    for q in questions:
        lls = np.array(direct_logliks(model, q.context, q.choices))
        acc += int(np.argmax(lls)) == q.gold
        acc_norm += int(np.argmax(lls / np.array([len(c) for c in q.choices], dtype=float))) == q.gold
        probs = np.exp(lls - lls.max()) / np.exp(lls - lls.max()).sum()
        confidences.append(float(probs[np.argmax(lls)]))
    assert (result.acc, result.acc_norm, result.n) == (acc / 30, acc_norm / 30, 30)
    assert result.confidences == pytest.approx(confidences, abs=1e-9)
    assert result.ece == pytest.approx(brute_force_ece(confidences, result.correct, 5), abs=1e-9)


@pytest.mark.parametrize("logliks, choices, expected", [
    ([-10.0, -12.0], ["ab", "abcdef"], (0, 1)),     # acc and acc_norm disagree: -5 against -2 per character
    ([-3.0, -3.0, -1.0], ["x", "y", "zz"], (2, 2)),
    ([-2.0, -2.0], ["aa", "bb"], (0, 0)),           # a tie goes to the first, as np.argmax
    ([-6.0, -4.0], [" a", "a"], (1, 0)),            # a choice's own space counts; the scorer's delimiter does not
])
def test_predictions_pinned(logliks, choices, expected):
    assert mc.predictions(logliks, choices) == expected


def test_confidence_is_a_stable_softmax():
    assert mc.confidence([-1000.0, -1001.0], 0) == pytest.approx(1 / (1 + math.exp(-1)), abs=1e-12)
    assert mc.confidence([0.0, 0.0, 0.0, 0.0], 2) == pytest.approx(0.25, abs=1e-15)


@pytest.mark.timeout(120)
def test_the_late_checkpoint_is_better_than_chance_and_the_early_one(model):
    questions = [llm_eval.Question(*q) for q in cloze_questions(n=150, seed=0)]
    late = llm_eval.evaluate_multiple_choice(model, questions)
    early = llm_eval.evaluate_multiple_choice(llm_eval.TinyGPTLM("early"), questions)
    assert late.acc > early.acc and late.acc > 0.3, (early.acc, late.acc)


@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
@pytest.mark.parametrize("questions, bins, needle", [
    ([], 10, "at least one question"),
    ([("ctx", ("a",), 0)], 10, "at least two non-empty choices"),
    ([("ctx", ("a", "b"), 2)], 10, "a gold index among them"),
    ([("ctx", ("a", ""), 0)], 10, "non-empty choices"),
    ([("ctx", ("a", "b"), 0)], 0, "bins must be a positive integer"),
])
def test_bad_input_is_a_clear_error(questions, bins, needle):
    with pytest.raises(ValueError, match=needle):
        llm_eval.evaluate_multiple_choice(None, [llm_eval.Question(*q) for q in questions], bins=bins)
