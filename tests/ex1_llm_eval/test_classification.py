"""Accuracy with invalid_rate and macro-F1 (sklearn as oracle), exact match and token F1."""
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.4", "accuracy, macro-F1, exact match, token F1")

LABELS = ["positive", "negative", "neutral"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS + ["Positive", " neutral\n", "maybe", ""]),
                          st.sampled_from(LABELS)), min_size=1, max_size=40))
def test_accuracy_and_macro_f1_equal_sklearn(pairs):
    # the oracle is imported here, not at the top: grading another part of exercise 1 need not load sklearn
    from sklearn.metrics import accuracy_score, f1_score
    preds = [p for p, _ in pairs]
    golds = [g for _, g in pairs]
    metric = llm_eval.get_metric("accuracy", labels=LABELS)
    confusion = Counter()
    for p, g in zip(preds, golds):
        confusion += metric.item_stats(p, g)  # given scaffolding; the scores are requirement 1.4
    scores = metric.score(confusion)
    normalized = [p.strip().lower() if p.strip().lower() in LABELS else "<invalid>" for p in preds]
    assert scores["accuracy"] == pytest.approx(accuracy_score(golds, normalized), abs=1e-12)
    assert scores["invalid_rate"] == pytest.approx(normalized.count("<invalid>") / len(preds), abs=1e-12)
    expected_f1 = f1_score(golds, normalized, labels=sorted(LABELS), average="macro", zero_division=0)
    assert scores["macro_f1"] == pytest.approx(expected_f1, abs=1e-12)


@pytest.mark.scaffold
def test_gold_label_outside_the_set_is_an_error():
    metric = llm_eval.get_metric("accuracy", labels=LABELS)
    with pytest.raises(ValueError, match="not in the label set"):
        metric.update(["positive"], ["sarcastic"])
        metric.compute()


@pytest.mark.parametrize("pred, ref, f1", [
    ("The Eiffel Tower", "eiffel tower", 1.0),
    ("in Paris, France", "Paris", 0.5),
    ("", "", 1.0),
    ("", "Paris", 0.0),
    ("blue blue", "blue", 2 / 3),
    ("blue blue", "blue blue red", 0.8),  # a repeated token matches as often as both answers have it
])
def test_token_f1_squad_definition(pred, ref, f1):
    assert llm_eval.token_f1(pred, ref) == pytest.approx(f1)


def test_f1_metric_takes_the_best_reference():
    metric = llm_eval.get_metric("f1")
    stats = metric.item_stats("big red apple", ["apple", "big red apple pie"])
    assert metric.score(stats)["score"] == pytest.approx(2 * 1 * 0.75 / 1.75)
