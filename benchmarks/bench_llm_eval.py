"""Exercise 1 benchmark: our metrics against sacreBLEU, rouge-score and plain embedding, same process.

The same synthetic (prediction, reference) pairs for everyone (the exercise's eval-set templates, four
systems, so every reference appears four times). How it stays fair:
- a warm-up round first (imports, model load, first calls), not counted;
- then `--rounds` rounds; in each, every contender runs once, back to back, and the order alternates
  from round to round (ours first, then the peer first), so drifting load hits both sides alike;
- caches are cleared before every run on both sides (our tokenizer caches emptied; a fresh sacreBLEU
  object, a fresh RougeScorer and a fresh embedding cache each run);
- every run's output is checked against the peer's from the same round: BLEU score, precisions and
  lengths; chrF and chrF++ scores; ROUGE precision, recall and F of every item, for each type alone and all four at once;
  similarity per item;
- medians over the rounds with their ranges, and the ratio peer time / our time per round (median and
  range; >= 1.0 means we are at least as fast).
The tiny GPT's scoring (log-probabilities of every token of 2000 windows) runs in batches of 32 padded
windows against one window at a time, checked equal to 1e-5. The embedding path is compared with plain
batched encoding without a cache (sentence-transformers'
`encode` on all predictions and all references, which sorts by length itself) as well as with encoding
each pair separately.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as `make bench` runs it; threads only contend on 2 cores
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import sacrebleu  # noqa: E402
from rouge_score import rouge_scorer  # noqa: E402

from mlpractice.data.llm_eval import SYSTEMS, eval_set  # noqa: E402
from mlpractice.impl import load  # noqa: E402

llm_eval = load("llm_eval")
tokenizers = load("llm_eval.tokenizers")
ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def clear_ours():
    for f in (tokenizers.tokenize_13a, tokenizers.tokenize_intl, tokenizers.tokenize_rouge, tokenizers._stem):
        f.cache_clear()


def rounds(contenders: dict, check, n_rounds: int, setup=clear_ours) -> dict[str, list[float]]:
    """Time each contender once per round, alternating the order; check every round's outputs."""
    times = {name: [] for name in contenders}
    for r in range(n_rounds + 1):  # round 0 is the warm-up
        names = list(contenders) if r % 2 else list(contenders)[::-1]
        outputs = {}
        for name in names:
            setup()
            start = time.perf_counter()
            outputs[name] = contenders[name]()
            if r:
                times[name].append(time.perf_counter() - start)
        check(outputs)
    return times


def spread(values) -> str:
    return f"{statistics.median(values):6.2f}s ({min(values):.2f}-{max(values):.2f})"


def report(label: str, times: dict[str, list[float]], peer: str, ours: str = "ours") -> None:
    ratios = [p / o for p, o in zip(times[peer], times[ours])]
    print(f"{label:18s} ours {spread(times[ours])}  {peer:12s} {spread(times[peer])}  "
          f"ratio {statistics.median(ratios):5.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")


def check_bleu(out):
    ours, peer = out["ours"], out["sacreBLEU"]
    assert abs(ours.score - peer.score) < 1e-9 and (ours.sys_len, ours.ref_len) == (peer.sys_len, peer.ref_len)
    assert max(abs(a - b) for a, b in zip(ours.precisions, peer.precisions)) < 1e-9


def check_chrf(out):
    assert abs(out["ours"].score - out["sacreBLEU"].score) < 1e-9, (out["ours"].score, out["sacreBLEU"].score)


def check_rouge(out):
    for ours, peer in zip(out["ours"], out["rouge-score"]):
        for kind in peer:
            assert max(abs(a - b) for a, b in zip(ours[kind], peer[kind])) < 1e-9, (kind, ours[kind], peer[kind])


def check_similarity(out):
    ours = np.array(out["ours"])
    for name, theirs in out.items():
        assert np.abs(ours - np.array(theirs)).max() < 1e-4, name


def cosines(a: np.ndarray, b: np.ndarray) -> list[float]:
    return list(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=10000, help="(prediction, reference) pairs (default 10000)")
    p.add_argument("--rounds", type=int, default=5, help="alternated rounds after the warm-up (default 5)")
    p.add_argument("--embed-pairs", type=int, default=1000, help="pairs for the embedding comparison")
    p.add_argument("--per-pair-rounds", type=int, default=1,
                   help="rounds that also run the slow one-pair-at-a-time encoding (default 1)")
    p.add_argument("--score-windows", type=int, default=2000, help="windows the tiny GPT scores (default 2000)")
    p.add_argument("--small", action="store_true", help="a quick check: 400 pairs, 2 rounds, 64 embedding pairs")
    args = p.parse_args()
    if args.small:
        args.pairs, args.rounds, args.embed_pairs, args.score_windows = 400, 2, 64, 200
    items = eval_set(-(-args.pairs // len(SYSTEMS)), seed=1)
    preds = [x["outputs"][s] for x in items for s in SYSTEMS][:args.pairs]
    refs = [x["reference"] for x in items for _ in SYSTEMS][:args.pairs]
    print(f"{len(preds)} pairs, {args.rounds} alternated rounds after a warm-up; median (range) per contender")

    times = rounds({"ours": lambda: llm_eval.corpus_bleu(preds, refs),
                    "sacreBLEU": lambda: sacrebleu.BLEU().corpus_score(preds, [refs])}, check_bleu, args.rounds)
    report("corpus BLEU", times, "sacreBLEU")

    for word_order, label in [(0, "chrF"), (2, "chrF++")]:
        times = rounds({"ours": lambda wo=word_order: llm_eval.corpus_chrf(preds, refs, word_order=wo),
                        "sacreBLEU": lambda wo=word_order: sacrebleu.CHRF(word_order=wo).corpus_score(preds, [refs])},
                       check_chrf, args.rounds)
        report(label, times, "sacreBLEU")

    for kinds in [[k] for k in ROUGE_TYPES] + [ROUGE_TYPES]:
        def ours(kinds=kinds):
            return [llm_eval.rouge(p, r, rouge_types=kinds) for p, r in zip(preds, refs)]

        def peer(kinds=kinds):
            scorer = rouge_scorer.RougeScorer(kinds)
            return [scorer.score(r, p) for p, r in zip(preds, refs)]

        times = rounds({"ours": ours, "rouge-score": peer}, check_rouge, args.rounds)
        report(kinds[0] if len(kinds) == 1 else "all four", times, "rouge-score")

    lm = llm_eval.TinyGPTLM("late")  # scoring throughput of the tiny GPT: batched windows against one at a time
    windows = [lm.tokenize(p)[:lm.max_length] for p in preds[:args.score_windows]]
    tokens = sum(len(w) - 1 for w in windows)

    def batched(size=32):
        return [lp for i in range(0, len(windows), size) for lp in lm.log_probs_batch(windows[i:i + size])]

    def one_at_a_time():
        return [lm.log_probs(w) for w in windows]

    def check_scores(out):
        for a, b in zip(out["ours"], out["one at a time"]):
            assert len(a) == len(b) and max((abs(x - y) for x, y in zip(a, b)), default=0) < 1e-5

    times = rounds({"ours": batched, "one at a time": one_at_a_time}, check_scores, args.rounds, setup=lambda: None)
    report("tinygpt scoring", times, "one at a time")
    print(f"(tinygpt scoring: {len(windows)} windows, {tokens} scored tokens; batches of 32: "
          f"{tokens / statistics.median(times['ours']):,.0f} tokens/s, one at a time: "
          f"{tokens / statistics.median(times['one at a time']):,.0f} tokens/s)")

    base = llm_eval.MiniLMEmbedder()
    sub_p, sub_r = preds[:args.embed_pairs], refs[:args.embed_pairs]

    def plain_batched():
        vectors = base.encode(sub_p + sub_r)  # batches of 32, sorted by length inside sentence-transformers
        return cosines(vectors[:len(sub_p)], vectors[len(sub_p):])

    def per_pair():
        return [cosines(base.encode([p]), base.encode([r]))[0] for p, r in zip(sub_p, sub_r)]

    contenders = {"ours": lambda: llm_eval.semantic_similarity(sub_p, sub_r,
                                                               embedder=llm_eval.CachedEmbedder(base)).per_item,
                  "batched": plain_batched}
    times = rounds(contenders, check_similarity, args.rounds)
    report("embedding sim", times, "batched")
    slow = rounds({**contenders, "per-pair": per_pair}, check_similarity, args.per_pair_rounds)
    report("embedding sim", slow, "per-pair")
    print(f"(embedding: {len(sub_p)} pairs, {len(set(sub_p + sub_r))} distinct texts; per-pair: "
          f"{args.per_pair_rounds} round(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
