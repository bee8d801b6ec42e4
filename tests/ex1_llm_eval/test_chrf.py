"""chrF and chrF++ against sacreBLEU 2.x's CHRF (the oracle, used only here)."""
import math
import random

import pytest
import sacrebleu
from hypothesis import example, given, settings, strategies as st

from mlpractice.impl import load

from .strategies import aligned_corpus, as_list, references, sacrebleu_streams, text

llm_eval = load("llm_eval")
chrf = load("llm_eval").chrf
pytestmark = pytest.mark.exercise("1.12", "chrF and chrF++")

options = st.fixed_dictionaries({
    "char_order": st.sampled_from([6, 6, 1, 3]),
    "word_order": st.sampled_from([0, 2, 1]),
    "beta": st.sampled_from([2, 2, 1, 3]),
    "lowercase": st.booleans(),
    "whitespace": st.booleans(),
    "eps_smoothing": st.booleans(),
})


def close(ours, theirs):
    return math.isclose(ours, theirs, rel_tol=0, abs_tol=1e-9)


@settings(max_examples=300, deadline=None)
@given(aligned_corpus(), options)
@example((["a b", "c"], [["a b c", "a b"], "c d"]), {"char_order": 6, "word_order": 2, "beta": 2,
                                                      "lowercase": False, "whitespace": False, "eps_smoothing": False})
def test_corpus_chrf_equals_sacrebleu(corpus, o):
    hyps, refs = corpus
    ours = llm_eval.corpus_chrf(hyps, refs, **o)
    theirs = sacrebleu.CHRF(**o).corpus_score(hyps, sacrebleu_streams(refs))
    assert close(ours.score, theirs.score), (ours.score, theirs.score)


@settings(max_examples=300, deadline=None)
@given(text, references(), options)
# a reference with no n-gram of some order: the hypothesis's n-grams of that order count 0 (sacreBLEU)
@example("abcdefg", "ab", {"char_order": 6, "word_order": 0, "beta": 2, "lowercase": False, "whitespace": False,
                           "eps_smoothing": False})
# chrF++'s word split: one punctuation mark off the end, else off the start
@example("(hi) there, you!", ["(hi there) , you !"], {"char_order": 6, "word_order": 2, "beta": 2,
                                                      "lowercase": False, "whitespace": False, "eps_smoothing": True})
def test_sentence_chrf_equals_sacrebleu(hyp, refs, o):
    ours = llm_eval.sentence_chrf(hyp, refs, **o)
    theirs = sacrebleu.CHRF(**o).sentence_score(hyp, as_list(refs))
    assert close(ours.score, theirs.score), (ours.score, theirs.score)


@pytest.mark.parametrize("tied", [["aca", "aaaa"], ["aaaa", "aca"]])
def test_a_tie_between_references_keeps_the_first(tied):
    # against "aabb", "aca" and "aaaa" score the same bits with different counts: the first one's go into
    # the corpus sum, and the corpus score depends on which (29.45 or 24.29 here). The tie is exact only in
    # sacreBLEU's order of floating-point operations.
    metric = chrf.CHRF()
    first, second = (metric.item_stats("aabb", [r]) for r in tied)
    assert chrf.chrf_from_counts(first.counts) == chrf.chrf_from_counts(second.counts)
    assert metric.item_stats("aabb", tied).counts == first.counts != second.counts
    hyps, refs = ["aabb", "abc"], [tied, ["abd"]]
    assert close(llm_eval.corpus_chrf(hyps, refs).score,
                 sacrebleu.CHRF().corpus_score(hyps, sacrebleu_streams(refs)).score)


def test_a_near_tie_goes_the_way_sacrebleu_rounds_it():
    # against "aabb", "ba" scores 41.66666666666667 and "bbaa" 41.666666666666664 in sacreBLEU's order of
    # operations (P R (1 + b^2), then / (b^2 P + R), then * 100); 100 (1 + b^2) P R / (b^2 P + R) ties them
    # and keeps the first, which changes the corpus score (36.43 instead of 34.54)
    hyps, refs = ["aabb", "abc"], [["bbaa", "ba"], ["abd"]]
    assert close(llm_eval.corpus_chrf(hyps, refs).score,
                 sacrebleu.CHRF().corpus_score(hyps, sacrebleu_streams(refs)).score)


@settings(max_examples=100, deadline=None)
@given(aligned_corpus(min_size=2, max_size=12), st.sampled_from([0, 2]), st.randoms(use_true_random=False))
def test_statistics_stream_and_shard_to_the_same_score(corpus, word_order, rnd):
    hyps, refs = corpus
    metric = chrf.CHRF(word_order=word_order)
    items = [metric.item_stats(h, as_list(r)) for h, r in zip(hyps, refs)]
    one_pass = sum(items, chrf.CHRFStats())
    cuts = sorted(rnd.sample(range(1, len(items)), rnd.randint(0, len(items) - 1)))
    shards = [sum(items[a:b], chrf.CHRFStats()) for a, b in zip([0] + cuts, cuts + [len(items)])]
    rnd.shuffle(shards)
    merged = sum(shards, chrf.CHRFStats())
    assert merged == one_pass  # integer counts: exact, in any order
    assert metric.score(merged).score == llm_eval.corpus_chrf(hyps, refs, word_order=word_order).score


def test_the_registered_metric_streams_shards_and_resamples_like_bleu():
    # through the metric protocol (1.3): chunks, shards in any order and the bootstrap's vectors
    hyps = ["the cat sat on the mat", "a dog ran", "", "cats and dogs", "the end"]
    refs = [["the cat is on the mat", "a cat sat"], "the dog ran", "nothing", ["cat and dog"], "the end"]
    batch = llm_eval.get_metric("chrf", word_order=2).update(hyps, refs).compute()
    shards = [llm_eval.get_metric("chrf", word_order=2).update(hyps[a:b], refs[a:b]) for a, b in [(3, 5), (0, 1), (1, 3)]]
    merged = shards[0].merge(shards[1]).merge(shards[2]).compute()
    assert merged.value == batch.value and merged.n == batch.n == 5
    assert close(batch.value, llm_eval.corpus_chrf(hyps, refs, word_order=2).score)
    assert batch.signature == "metric:chrf|nrefs:var|case:mixed|eff:yes|nc:6|nw:2|space:no"
    metric = llm_eval.get_metric("chrf")
    stats = metric.item_stats(hyps[0], refs[0])
    assert metric.from_vector(metric.to_vector(stats)).counts == stats.counts
    with pytest.raises(ValueError, match="different metric or options"):
        llm_eval.get_metric("chrf").merge(llm_eval.get_metric("chrf", word_order=2))


def test_names_signature_and_defaults_match_sacrebleu():
    hyps, refs = ["the cat sat", "a dog"], [["the cat sat down", "a cat sat"], ["the dog"]]
    for word_order, name in [(0, "chrF2"), (2, "chrF2++")]:
        ours = llm_eval.corpus_chrf(hyps, refs, word_order=word_order)
        oracle = sacrebleu.CHRF(word_order=word_order)
        theirs = oracle.corpus_score(hyps, sacrebleu_streams(refs))
        assert ours.name == theirs.name == name and close(ours.score, theirs.score)
        assert str(ours.signature) == str(oracle.get_signature()).rsplit("|version:", 1)[0]
    assert str(llm_eval.sentence_chrf("x", "x")) == "chrF2 = 100.00"


def test_chrf_rewards_a_shared_stem_that_bleu_misses():
    hyp, ref = "the cats were running", "the cat runs"
    assert llm_eval.sentence_bleu(hyp, ref).score < 20 < llm_eval.sentence_chrf(hyp, ref).score


@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
@pytest.mark.parametrize("call, needle", [
    (lambda: llm_eval.corpus_chrf("a b", ["a b"]), "use sentence_chrf"),
    (lambda: llm_eval.corpus_chrf(["a", "b"], ["a"]), "2 hypotheses but 1 references"),
    (lambda: llm_eval.corpus_chrf(["a"], [["a", 3]]), "every reference must be a string"),
    (lambda: llm_eval.corpus_chrf(["a"], ["a"], char_order=-1), "char_order must be an integer >= 0"),
    (lambda: llm_eval.corpus_chrf(["a"], ["a"], char_order=0, word_order=0), "at least 1"),
    (lambda: llm_eval.corpus_chrf(["a"], ["a"], beta=0), "beta must be a positive number"),
    (lambda: llm_eval.sentence_chrf(["a"], "a"), "use corpus_chrf"),
    (lambda: chrf.CHRFStats((1, 2, 3), 1) + chrf.CHRFStats((1, 2, 3, 4, 5, 6), 1), "different settings"),
])
def test_bad_input_raises_clear_value_error(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()


def test_random_corpora_of_real_text_equal_sacrebleu():
    # longer texts than the strategies draw: sentences of the English corpus that ships with Python
    from pydoc_data.topics import topics
    sentences = [s.strip() for t in topics.values() for s in t.split(".") if 20 < len(s.strip()) < 200]
    rnd = random.Random(7)
    hyps = [rnd.choice(sentences) for _ in range(200)]
    refs = [[h if rnd.random() < 0.3 else rnd.choice(sentences), rnd.choice(sentences)] for h in hyps]
    for word_order in (0, 2):
        ours = llm_eval.corpus_chrf(hyps, refs, word_order=word_order)
        theirs = sacrebleu.CHRF(word_order=word_order).corpus_score(hyps, sacrebleu_streams(refs))
        assert close(ours.score, theirs.score)
