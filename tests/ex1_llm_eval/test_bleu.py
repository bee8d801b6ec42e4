"""Corpus and sentence BLEU against sacreBLEU 2.x (the oracle, used only here)."""
import math

import pytest
import sacrebleu
from hypothesis import example, given, settings, strategies as st

from mlpractice.impl import load

from .strategies import aligned_corpus, as_list, references, sacrebleu_streams, text

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.1", "BLEU statistics and score")

TOKENIZERS = ["13a", "intl", "none"]
SMOOTHINGS = ["exp", "floor", "add-k", "none"]
options = st.fixed_dictionaries({
    "tokenize": st.sampled_from(TOKENIZERS),
    "smooth": st.sampled_from(SMOOTHINGS),
    "effective_order": st.booleans(),
    "lowercase": st.booleans(),
})


def oracle_options(o):
    return dict(tokenize=o["tokenize"], smooth_method=o["smooth"], use_effective_order=o["effective_order"],
                lowercase=o["lowercase"])


def assert_same(ours, theirs):
    assert math.isclose(ours.score, theirs.score, rel_tol=0, abs_tol=1e-9), (ours.score, theirs.score)
    assert ours.sys_len == theirs.sys_len and ours.ref_len == theirs.ref_len
    assert math.isclose(ours.bp, theirs.bp, abs_tol=1e-12)
    for p, q in zip(ours.precisions, theirs.precisions):
        assert math.isclose(p, q, abs_tol=1e-9)


@settings(max_examples=400, deadline=None)
@given(aligned_corpus(), options)
def test_corpus_bleu_equals_sacrebleu(corpus, o):
    hyps, refs = corpus
    ours = llm_eval.corpus_bleu(hyps, refs, **o)
    bleu = sacrebleu.BLEU(tokenize=o["tokenize"], smooth_method=o["smooth"],
                          effective_order=o["effective_order"], lowercase=o["lowercase"])
    theirs = bleu.corpus_score(hyps, sacrebleu_streams(refs))
    assert_same(ours, theirs)
    assert str(ours.signature) == bleu.get_signature().format().rsplit("|version:", 1)[0]


@settings(max_examples=400, deadline=None)
@given(text, references(), options)
# "the" occurs once in each reference: clipped by the maximum (1), not the sum over references (2)
@example("the the the cat", ["the cat", "the dog"], {"tokenize": "13a", "smooth": "exp", "effective_order": True,
                                                    "lowercase": False})
def test_sentence_bleu_equals_sacrebleu(hyp, refs, o):
    ours = llm_eval.sentence_bleu(hyp, refs, **o)
    theirs = sacrebleu.sentence_bleu(hyp, as_list(refs), **oracle_options(o))
    assert_same(ours, theirs)


@settings(max_examples=150, deadline=None)
@given(text, references(), st.sampled_from(["floor", "add-k"]), st.sampled_from([0.01, 0.5, 2.0]))
def test_smoothing_values_equal_sacrebleu(hyp, refs, smooth, value):
    ours = llm_eval.sentence_bleu(hyp, refs, smooth=smooth, smooth_value=value)
    theirs = sacrebleu.sentence_bleu(hyp, as_list(refs), smooth_method=smooth, smooth_value=value)
    assert_same(ours, theirs)


item_options = st.fixed_dictionaries({
    "tokenize": st.sampled_from(TOKENIZERS),
    "smooth": st.sampled_from(SMOOTHINGS),
    "smooth_value": st.sampled_from([None, 0.01, 0.5, 2.0]),
    "effective_order": st.booleans(),
    "lowercase": st.booleans(),
})


@settings(max_examples=200, deadline=None)
@given(text, references(), item_options)
@example("a cat sat", "the cat sat down", {"tokenize": "13a", "smooth": "floor", "smooth_value": 0.5,
                                           "effective_order": False, "lowercase": False})  # a zero 3-gram match
@example("A Cat sat", "a cat sat there", {"tokenize": "intl", "smooth": "add-k", "smooth_value": 2.0,
                                          "effective_order": True, "lowercase": True})
def test_metric_item_value_is_sentence_bleu_with_every_option(hyp, refs, o):
    """The per-item value (win/tie/loss, worst items) is sacreBLEU's sentence BLEU with all of the
    metric's options: tokenizer, case, smoothing method and value; effective order always on."""
    metric = llm_eval.get_metric("bleu", **o)
    value = metric.item_value(metric.item_stats(hyp, refs))
    theirs = sacrebleu.sentence_bleu(hyp, as_list(refs), smooth_method=o["smooth"], smooth_value=o["smooth_value"],
                                     tokenize=o["tokenize"], lowercase=o["lowercase"], use_effective_order=True)
    assert math.isclose(value, theirs.score, rel_tol=0, abs_tol=1e-9), (value, theirs.score)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=3).map(" ".join),
       st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=6).map(" ".join))
def test_short_hypotheses(hyp, ref):
    """Fewer than 4 tokens: zero totals for high orders, effective order, exact 0 on no match."""
    for eff in (True, False):
        ours = llm_eval.sentence_bleu(hyp, ref, effective_order=eff)
        theirs = sacrebleu.sentence_bleu(hyp, [ref], use_effective_order=eff)
        assert_same(ours, theirs)


def test_defaults_and_signature():
    hyps = ["The cat sat on the mat.", "It rained all day in Paris!"]
    refs = [["The cat is on the mat.", "A cat sat on a mat."], "It rained all day long in Paris."]
    ours = llm_eval.corpus_bleu(hyps, refs)
    assert str(ours.signature) == "nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp"
    assert str(llm_eval.corpus_bleu(hyps[:1], refs[:1], smooth="floor").signature).endswith("smooth:floor[0.10]")
    assert llm_eval.sentence_bleu("", "something").score == 0.0
    assert llm_eval.sentence_bleu("no overlap at all", "zzz yyy").score == 0.0


def test_corpus_bleu_is_not_the_mean_of_sentence_bleu():
    hyps = ["the cat sat on the mat today", "a dog", "completely unrelated words here"]
    refs = ["the cat sat on the mat", "a dog barked loudly at night", "a storm is coming"]
    corpus = llm_eval.corpus_bleu(hyps, refs).score
    mean = sum(llm_eval.sentence_bleu(h, r).score for h, r in zip(hyps, refs)) / len(hyps)
    assert corpus == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert abs(corpus - mean) > 1.0


@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
@pytest.mark.parametrize("hyps, refs, needle", [
    (["a", "b"], ["a"], "2 hypotheses but 1 references"),
    ("a b c", ["a b c"], "bare string"),
    (["a"], "a", "bare string"),
    (["a"], [[]], "non-empty list"),
    (["a"], [[1]], "must be a string"),
    ([None], ["a"], "hypotheses[0]"),
])
def test_bad_input_raises_clear_value_error(hyps, refs, needle):
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        llm_eval.corpus_bleu(hyps, refs)


@pytest.mark.scaffold
def test_sentence_bleu_rejects_a_list_hypothesis():
    with pytest.raises(ValueError, match="hypothesis must be a string"):
        llm_eval.sentence_bleu(["a"], "a")
