"""The metric protocol: streaming in random chunks and merging shards give the batch result exactly."""
import random
import warnings

import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from .strategies import aligned_corpus

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.3", "metric protocol: update, merge, compute")

LABELS = ["positive", "negative", "neutral"]


def text_metrics():
    return {  # exact_match first: it needs only requirement 1.3, so a stub there is reported first
        "exact_match": llm_eval.get_metric("exact_match"),
        "bleu": llm_eval.get_metric("bleu"),
        "bleu_intl": llm_eval.get_metric("bleu", tokenize="intl", smooth="floor"),
        "sentence_bleu": llm_eval.get_metric("sentence_bleu"),
        "rouge": llm_eval.get_metric("rouge", use_stemmer=True),
        "f1": llm_eval.get_metric("f1"),
    }


def random_chunks(n, rnd):
    cuts = sorted(rnd.sample(range(1, n), rnd.randint(0, n - 1))) if n > 1 else []
    return list(zip([0] + cuts, cuts + [n]))


def run_batch(metric, preds, refs):
    return metric.fresh().update(preds, refs).compute()


@settings(max_examples=60, deadline=None)
@given(aligned_corpus(min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_chunks_and_shards_equal_batch_for_text_metrics(corpus, rnd):
    preds, refs = corpus
    warnings.simplefilter("ignore")
    for metric in text_metrics().values():
        batch = run_batch(metric, preds, refs)
        streamed = metric.fresh()
        for a, b in random_chunks(len(preds), rnd):
            streamed.update(preds[a:b], refs[a:b])
        assert streamed.compute() == batch
        shards = [metric.fresh().update(preds[a:b], refs[a:b]) for a, b in random_chunks(len(preds), rnd)]
        rnd.shuffle(shards)
        merged = shards[0]
        for shard in shards[1:]:
            merged.merge(shard)
        assert merged.compute() == batch, metric.name


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS + [" Positive ", "maybe", ""]), st.sampled_from(LABELS)),
                min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_chunks_and_shards_equal_batch_for_accuracy(pairs, rnd):
    preds, golds = [p for p, _ in pairs], [g for _, g in pairs]
    metric = llm_eval.get_metric("accuracy", labels=LABELS)
    batch = run_batch(metric, preds, golds)
    shards = [metric.fresh().update(preds[a:b], golds[a:b]) for a, b in random_chunks(len(preds), rnd)]
    rnd.shuffle(shards)
    for shard in shards[1:]:
        shards[0].merge(shard)
    assert shards[0].compute() == batch


def test_exact_match_chunks_and_merge():
    metric = llm_eval.get_metric("exact_match")
    preds, refs = ["a", "The b.", "c", "d"], ["a", "b", ["x", "c"], "e"]
    batch = metric.fresh().update(preds, refs).compute()
    assert (batch.value, batch.n) == (0.75, 4)
    shard = metric.fresh().update(preds[2:], refs[2:])
    assert metric.fresh().update(preds[:1], refs[:1]).update(preds[1:2], refs[1:2]).merge(shard).compute() == batch
    assert metric.fresh().compute().n == 0


def test_corpus_bleu_metric_equals_corpus_bleu_function():
    preds = ["the cat sat on the mat", "a dog barked", "rain again today in the city"]
    refs = ["the cat sat on a mat", ["a dog barked loudly", "the dog barked"], "it rains again in the city today"]
    result = llm_eval.get_metric("bleu").update(preds, refs).compute()
    assert result.value == llm_eval.corpus_bleu(preds, refs).score
    assert result.signature == "metric:bleu|nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp"
    assert result.n == 3


def test_merge_refuses_different_options():
    a = llm_eval.get_metric("bleu").update(["a b c"], ["a b c"])
    b = llm_eval.get_metric("bleu", tokenize="intl").update(["a b c"], ["a b c"])
    with pytest.raises(ValueError, match="cannot merge"):
        a.merge(b)


def test_register_a_custom_metric():
    @llm_eval.register_metric("length_ratio_test")
    class LengthRatio(llm_eval.Metric):
        def item_stats(self, prediction, reference):
            return llm_eval.Sums((len(prediction.split()), len(reference.split())))

        def score(self, stats):
            hyp, ref = stats or (0, 0)
            return {"score": hyp / ref if ref else 0.0}

    metric = llm_eval.get_metric("length_ratio_test")
    assert "length_ratio_test" in llm_eval.registered_metrics()
    shard = metric.fresh().update(["a b c"], ["a b"])
    assert metric.update(["a"], ["a b"]).merge(shard).compute().value == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(aligned_corpus(min_size=1, max_size=10), st.integers(1, 5))
def test_evaluate_stream_final_equals_evaluate(corpus, batch_size):
    preds, refs = corpus
    warnings.simplefilter("ignore")
    evaluator = llm_eval.Evaluator(["bleu", "rouge", "f1", "exact_match", "sentence_bleu"])
    batch = evaluator.evaluate(preds, [{"reference": r} for r in refs], batch_size=3)
    running = list(evaluator.evaluate_stream(zip(preds, refs), batch_size=batch_size))
    assert len(running) == -(-len(preds) // batch_size)
    assert [r.n for r in running][-1] == len(preds)
    assert running[-1].results == batch.results


@pytest.mark.scaffold  # batching model calls is the Evaluator's given code
def test_evaluate_calls_a_model_in_batches():
    calls = []

    def model(prompts):
        calls.append(len(prompts))
        return [p.upper() for p in prompts]

    data = [{"prompt": f"item {i}", "reference": f"ITEM {i}"} for i in range(5)]
    result = llm_eval.Evaluator(["exact_match"]).evaluate(model, data, batch_size=2)
    assert calls == [2, 2, 1]
    assert result["exact_match"].value == 1.0
    assert result.item_values["exact_match"] == [1.0] * 5


@pytest.mark.scaffold  # the Evaluator and the warnings are given code
def test_evaluator_gathers_warnings_from_each_metric():
    """Warnings come through the protocol (`Metric.data_warnings`), whatever a metric is called."""
    class Lengths(llm_eval.Metric):
        name = "lengths_test"

        def item_stats(self, prediction, reference):
            return llm_eval.Sums((len(prediction), 1))

        def score(self, stats):
            total, n = stats or (0, 0)
            return {"score": total / n if n else 0.0}

        def data_warnings(self, predictions, references):
            return [f"{sum(len(p) > 5 for p in predictions)} long prediction(s)"]

    rouge = llm_eval.get_metric("rouge")
    data = [{"reference": "one sentence here"}, {"reference": "naïve café"}]
    with pytest.warns(UserWarning, match="rougeLsum splits sentences on newlines"):
        result = llm_eval.Evaluator({"len": Lengths(), "r": rouge, "r2": rouge.fresh()}).evaluate(
            ["a longer one", ""], data)
    assert result.warnings == ["1 empty prediction(s)", "1 long prediction(s)",
                               "rougeLsum: no text has a newline, so rougeLsum equals rougeL",
                               "ROUGE's ASCII tokenizer dropped these characters: éï"]
    assert llm_eval.get_metric("bleu").data_warnings(["a"], ["a"]) == []
