"""Semantic similarity: batched + cached encoding equals naive per-pair cosine."""
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

from .strategies import aligned_corpus

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.6", "semantic similarity with a cached embedder (stretch)")


class HashEmbedder:
    """Deterministic bag of hashed character trigrams; records every encode call."""

    name = "hash-trigram-32"

    def __init__(self):
        self.calls = []

    def encode(self, texts):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), 32))
        for i, t in enumerate(texts):
            padded = f"  {t} "
            for j in range(len(padded) - 2):
                out[i, zlib.crc32(padded[j:j + 3].encode()) % 32] += 1.0
        return out


def naive(pred, refs, emb):
    refs = [refs] if isinstance(refs, str) else refs
    p = emb.encode([pred])[0]
    best = -2.0
    for r in refs:
        v = emb.encode([r])[0]
        denom = np.linalg.norm(p) * np.linalg.norm(v)
        best = max(best, float(p @ v / denom) if denom else 0.0)
    return best


@settings(max_examples=80, deadline=None)
@given(aligned_corpus(min_size=1, max_size=10))
def test_equals_naive_per_pair_cosine(corpus):
    preds, refs = corpus
    result = llm_eval.semantic_similarity(preds, refs, embedder=HashEmbedder())
    expected = [naive(p, r, HashEmbedder()) for p, r in zip(preds, refs)]
    assert result.per_item == pytest.approx(expected, abs=1e-9)
    assert result.score == pytest.approx(sum(expected) / len(expected), abs=1e-9)


class BlankIsZeroEmbedder(HashEmbedder):
    """Encodes a blank text as the zero vector, as some real embedders do."""

    def encode(self, texts):
        out = super().encode(texts)
        out[[not t.strip() for t in texts]] = 0.0
        return out


def test_a_zero_vector_has_cosine_zero_not_nan():
    preds, refs = ["", "a cat", "a cat"], ["a cat", ["  ", "a cat"], " "]
    result = llm_eval.semantic_similarity(preds, refs, embedder=BlankIsZeroEmbedder())
    expected = [naive(p, r, BlankIsZeroEmbedder()) for p, r in zip(preds, refs)]
    assert expected == pytest.approx([0.0, 1.0, 0.0])
    assert result.per_item == pytest.approx(expected, abs=1e-9)


def test_each_distinct_text_encoded_once_in_length_sorted_batches():
    emb = HashEmbedder()
    cached = llm_eval.CachedEmbedder(emb, batch_size=2)
    preds = ["a", "a much longer prediction", "mid length", "a"]
    refs = ["ref one", "ref one", "ref two is longer", ["a", "zz"]]
    llm_eval.semantic_similarity(preds, refs, embedder=cached)
    encoded = [t for call in emb.calls for t in call]
    assert sorted(encoded) == sorted(set(preds) | {"ref one", "ref two is longer", "zz"})
    assert all(len(call) <= 2 for call in emb.calls)
    assert [len(t) for t in encoded] == sorted((len(t) for t in encoded), reverse=True)
    emb.calls.clear()
    llm_eval.semantic_similarity(preds[:2], refs[:2], embedder=cached)
    assert emb.calls == []


def test_metric_streams_and_merges_exactly():
    metric = llm_eval.get_metric("semantic_similarity", embedder=HashEmbedder())
    preds = ["the cat sat", "a dog", "rain", "sun and sky", "x"]
    refs = ["a cat sat", "the dog", "rainy day", "blue sky", "y"]
    batch = metric.fresh().update(preds, refs).compute()
    shard = metric.fresh().update(preds[3:], refs[3:])
    merged = metric.fresh().update(preds[:1], refs[:1]).update(preds[1:3], refs[1:3]).merge(shard)
    assert merged.compute() == batch


def test_minilm_prefers_the_paraphrase():
    warnings.simplefilter("ignore")
    embedder = llm_eval.MiniLMEmbedder()
    ref = "The city opened a new bridge on Monday after five years of work."
    sims = llm_eval.semantic_similarity(
        ["After five years of construction a bridge was inaugurated in the city on Monday.",
         "The company reported falling profits in the third quarter."], [ref, ref], embedder=embedder).per_item
    assert sims[0] > sims[1] + 0.3
