"""Exercise 1 benchmark: our metrics against sacreBLEU, rouge-score and naive embedding, same process.

Same 10k synthetic (prediction, reference) pairs for everyone (the exercise's eval-set templates,
four systems). Caches are cleared before every repetition on both sides (a fresh sacreBLEU
object per repetition; our tokenizer caches emptied), and the best of 3 is reported.
Prints ratios: peer time / our time (>= 1.0 means we are at least as fast).
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as `make bench` runs it; threads only contend on 2 cores
warnings.filterwarnings("ignore")

import sacrebleu  # noqa: E402
from rouge_score import rouge_scorer  # noqa: E402

from mlpractice.data.llm_eval import SYSTEMS, eval_set  # noqa: E402
from mlpractice.impl import load  # noqa: E402

llm_eval = load("llm_eval")
tokenizers = load("llm_eval.tokenizers")


def best_of(fn, reps=3, setup=lambda: None):
    times = []
    for _ in range(reps):
        setup()
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def clear_ours():
    for f in (tokenizers.tokenize_13a, tokenizers.tokenize_intl, tokenizers.tokenize_rouge):
        f.cache_clear()


def main():
    items = eval_set(2500, seed=1)
    preds = [x["outputs"][s] for x in items for s in SYSTEMS]
    refs = [x["reference"] for x in items for _ in SYSTEMS]
    print(f"{len(preds)} pairs")

    ours_t, ours = best_of(lambda: llm_eval.corpus_bleu(preds, refs), setup=clear_ours)
    peer_t, peer = best_of(lambda: sacrebleu.BLEU().corpus_score(preds, [refs]))
    assert abs(ours.score - peer.score) < 1e-9
    print(f"corpus BLEU      ours {ours_t:6.2f}s  sacreBLEU   {peer_t:6.2f}s  ratio {peer_t / ours_t:5.2f}x")

    for kind in ["rouge1", "rouge2", "rougeL", "rougeLsum"]:
        ours_t, o = best_of(lambda: [llm_eval.rouge(p, r, rouge_types=[kind])[kind].fmeasure
                                     for p, r in zip(preds, refs)], setup=clear_ours)
        scorer = rouge_scorer.RougeScorer([kind])
        peer_t, t = best_of(lambda: [scorer.score(r, p)[kind].fmeasure for p, r in zip(preds, refs)])
        assert max(abs(a - b) for a, b in zip(o, t)) < 1e-9
        print(f"{kind:16s} ours {ours_t:6.2f}s  rouge-score {peer_t:6.2f}s  ratio {peer_t / ours_t:5.2f}x")

    base = llm_eval.MiniLMEmbedder()
    sub_p, sub_r = preds[:1000], refs[:1000]  # the naive path is slow: 1000 pairs, 2000 encode calls

    def naive():
        sims = []
        for p, r in zip(sub_p, sub_r):
            a, b = base.encode([p])[0], base.encode([r])[0]
            sims.append(float(a @ b / ((a @ a) ** 0.5 * (b @ b) ** 0.5)))
        return sims

    ours_t, o = best_of(lambda: llm_eval.semantic_similarity(sub_p, sub_r, embedder=llm_eval.CachedEmbedder(base)),
                        reps=2)
    peer_t, t = best_of(naive, reps=1)
    assert max(abs(a - b) for a, b in zip(o.per_item, t)) < 1e-4
    print(f"embedding sim    ours {ours_t:6.2f}s  naive       {peer_t:6.2f}s  ratio {peer_t / ours_t:5.2f}x "
          f"({len(sub_p)} pairs)")


if __name__ == "__main__":
    main()
