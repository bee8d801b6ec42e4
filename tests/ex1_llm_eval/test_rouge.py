"""ROUGE against rouge-score 0.1.2 (the oracle, used only here)."""
import functools
import math
import warnings

import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.impl import load

from .strategies import as_list, references, text

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.2", "ROUGE-N, ROUGE-L, ROUGE-Lsum")

TYPES = ["rouge1", "rouge2", "rouge3", "rougeL", "rougeLsum"]


@functools.cache
def oracle(stem: bool):
    """rouge-score's scorer, imported on first use: it loads nltk (3 s), which grading another part of
    exercise 1 need not pay for."""
    from rouge_score import rouge_scorer
    return rouge_scorer.RougeScorer(TYPES, use_stemmer=stem)

# Text with several sentences per line and repeated words, where union-LCS tie-breaking matters.
lines = st.lists(st.lists(st.sampled_from(["a", "b", "c", "the", "cats", "running", "ran", "A."]),
                          max_size=6).map(" ".join), max_size=4).map("\n".join)
rouge_text = st.one_of(text, lines, lines)


def assert_same(ours, theirs):
    assert set(ours) == set(theirs)
    for kind in theirs:
        for a, b in zip(ours[kind], theirs[kind]):
            assert math.isclose(a, b, rel_tol=0, abs_tol=1e-9), (kind, ours[kind], theirs[kind])


@settings(max_examples=500, deadline=None)
@given(rouge_text, rouge_text, st.booleans())
@example("a\nc b a", "a c", False)  # an LCS tie: read back with >= instead of > picks the other LCS
def test_rouge_equals_rouge_score(prediction, reference, stem):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = llm_eval.rouge(prediction, reference, rouge_types=TYPES, use_stemmer=stem)
    assert_same(ours, oracle(stem).score(reference, prediction))


@settings(max_examples=250, deadline=None)
@given(rouge_text, st.lists(rouge_text, min_size=1, max_size=3), st.booleans())
def test_multi_reference_takes_best_f_like_score_multi(prediction, refs, stem):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = llm_eval.rouge(prediction, refs, rouge_types=TYPES, use_stemmer=stem)
    assert_same(ours, oracle(stem).score_multi(refs, prediction))


def test_lsum_reads_the_lcs_back_as_rouge_score_on_a_tie():
    """"c b a" against "a c" has two LCS of length 1; rouge-score reads back "c" (moves up on a tie),
    so of the reference only "c" is hit: P = 1/4, R = 1/2."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = llm_eval.rouge("a\nc b a", "a c", rouge_types=["rougeLsum"])["rougeLsum"]
    assert (score.precision, score.recall) == (0.25, 0.5)
    assert score.fmeasure == pytest.approx(1 / 3, abs=1e-12)
    assert score.fmeasure == pytest.approx(oracle(False).score("a c", "a\nc b a")["rougeLsum"].fmeasure, abs=1e-12)


def test_known_values_and_empty():
    scores = llm_eval.rouge("the cat was found under the bed", "the cat was under the bed",
                            rouge_types=["rouge1", "rougeL"])
    assert scores["rouge1"].recall == 1.0 and scores["rouge1"].precision == pytest.approx(6 / 7)
    empty = llm_eval.rouge("", "", rouge_types=["rouge1", "rouge2", "rougeL", "rougeLsum"])
    assert all(s == (0.0, 0.0, 0.0) for s in empty.values())


def test_lsum_warns_without_newlines_and_not_with_them():
    with pytest.warns(UserWarning, match="newlines"):
        llm_eval.rouge("one sentence here", "one sentence there", rouge_types=["rougeLsum"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = llm_eval.rouge("first line\nsecond line", "first line\nthird line", rouge_types=["rougeLsum"])
    assert s["rougeLsum"].fmeasure == pytest.approx(0.75)
