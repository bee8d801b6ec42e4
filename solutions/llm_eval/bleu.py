"""Corpus and sentence BLEU, bit-for-bit equal to sacreBLEU 2.x.

The shape is sacreBLEU's: each segment yields *sufficient statistics* (hypothesis length,
closest reference length, matched and total n-gram counts for n = 1..4); statistics add up
across segments, shards and streaming chunks; the score is a pure function of the summed
statistics; and a signature records every choice that changes the number. Corpus BLEU is
therefore computed from summed counts, never as a mean of sentence BLEUs.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .tokenizers import BLEU_TOKENIZERS

MAX_ORDER = 4
SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}
LOG_ZERO = -9999999999  # sacreBLEU's floor for log(0)


@dataclass(frozen=True)
class BLEUStats:
    """Sufficient statistics of BLEU for one segment or any sum of segments.

    `nrefs` is the number of references per segment: 0 for no segments yet, -1 once
    segments with different counts were added (sacreBLEU prints that as `nrefs:var`).
    """

    sys_len: int = 0
    ref_len: int = 0
    correct: tuple[int, ...] = (0,) * MAX_ORDER
    total: tuple[int, ...] = (0,) * MAX_ORDER
    nrefs: int = 0

    def __add__(self, other: "BLEUStats") -> "BLEUStats":
        if self.nrefs == other.nrefs or other.nrefs == 0:
            nrefs = self.nrefs
        else:
            nrefs = other.nrefs if self.nrefs == 0 else -1
        return BLEUStats(
            self.sys_len + other.sys_len,
            self.ref_len + other.ref_len,
            tuple(a + b for a, b in zip(self.correct, other.correct)),
            tuple(a + b for a, b in zip(self.total, other.total)),
            nrefs,
        )


@dataclass(frozen=True)
class BLEUSignature:
    """Everything that changes a BLEU number; formats like sacreBLEU's signature (minus version)."""

    nrefs: int
    lowercase: bool
    effective_order: bool
    tokenize: str
    smooth: str
    smooth_value: float | None = None

    def __str__(self) -> str:
        smooth = self.smooth
        default = SMOOTH_DEFAULTS[self.smooth]
        if default is not None:
            value = default if self.smooth_value is None else self.smooth_value
            smooth += f"[{value:.2f}]"
        nrefs = "var" if self.nrefs == -1 else self.nrefs
        return (f"nrefs:{nrefs}|case:{'lc' if self.lowercase else 'mixed'}|"
                f"eff:{'yes' if self.effective_order else 'no'}|tok:{self.tokenize}|smooth:{smooth}")


@dataclass(frozen=True)
class BLEUScore:
    score: float  # 0-100
    precisions: tuple[float, ...]  # percentages, after smoothing
    bp: float
    sys_len: int
    ref_len: int
    stats: BLEUStats
    signature: BLEUSignature

    def __float__(self) -> float:
        return self.score

    def __str__(self) -> str:
        prec = "/".join(f"{p:.1f}" for p in self.precisions)
        return f"BLEU = {self.score:.2f} {prec} (BP = {self.bp:.3f} hyp_len = {self.sys_len} ref_len = {self.ref_len})"


# BEGIN INTERVIEW [1.1] BLEU from tokens to score (section 2)
def ngram_counts(tokens: Sequence[str], max_order: int = MAX_ORDER) -> Counter:
    """Counts of every n-gram (as a tuple of tokens) of order 1..max_order."""
    counts: Counter = Counter()
    for n in range(1, max_order + 1):
        counts.update(zip(*(tokens[i:] for i in range(n))))
    return counts


def closest_ref_len(hyp_len: int, ref_lens: Sequence[int]) -> int:
    """The reference length closest to the hypothesis length; ties go to the shorter reference."""
    # BEGIN SOLUTION [1.1] pick the closest reference length (section 2)
    # HINT: sort key (distance, length) breaks ties towards the shorter reference.
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))
    # END SOLUTION


def clip_counts(hyp_counts: Counter, ref_counts: Sequence[Counter]) -> dict:
    """Per n-gram, the hypothesis count clipped by the maximum count in any one reference
    (n-grams that occur in no reference are left out)."""
    # BEGIN SOLUTION [1.1] clip hypothesis n-gram counts by the references (section 2)
    # HINT: the clip of an n-gram is its maximum count over the references; take the min with the hypothesis count.
    max_ref = ref_counts[0]
    if len(ref_counts) > 1:
        max_ref = dict(max_ref)
        for counts in ref_counts[1:]:
            for ngram, count in counts.items():
                if count > max_ref.get(ngram, 0):
                    max_ref[ngram] = count
    return {ngram: min(count, max_ref[ngram]) for ngram, count in hyp_counts.items() if ngram in max_ref}
    # END SOLUTION


def segment_stats(hyp_tokens: Sequence[str], refs_tokens: Sequence[Sequence[str]]) -> BLEUStats:
    """Sufficient statistics of one tokenized hypothesis against its tokenized references.

    sys_len = number of hypothesis tokens; ref_len = `closest_ref_len`; correct[n-1] = sum of
    clipped counts of the hypothesis n-grams of order n; total[n-1] = number of hypothesis n-grams
    of order n (n = 1..4); nrefs = number of references.
    """
    # BEGIN SOLUTION [1.1] segment sufficient statistics (section 2)
    # HINT: ngram_counts gives every order at once; len(ngram) tells the order.
    hyp_counts = ngram_counts(hyp_tokens)
    matched = clip_counts(hyp_counts, [ngram_counts(r) for r in refs_tokens])
    correct = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    for ngram, count in hyp_counts.items():
        total[len(ngram) - 1] += count
    for ngram, count in matched.items():
        correct[len(ngram) - 1] += count
    ref_len = closest_ref_len(len(hyp_tokens), [len(r) for r in refs_tokens])
    return BLEUStats(len(hyp_tokens), ref_len, tuple(correct), tuple(total), len(refs_tokens))
    # END SOLUTION


def brevity_penalty(sys_len: int, ref_len: int) -> float:
    """1 when the system output is at least as long as the references, else exp(1 - r/c); 0 if c = 0."""
    # BEGIN SOLUTION [1.1] brevity penalty (section 2)
    if sys_len >= ref_len:
        return 1.0
    return math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    # END SOLUTION


def bleu_from_stats(stats: BLEUStats, *, smooth: str = "exp", smooth_value: float | None = None,
                    effective_order: bool = False) -> tuple[float, tuple[float, ...], float]:
    """(score, precisions, bp) from summed statistics, exactly as sacreBLEU's `compute_bleu`.

    - No matched n-gram of any order: score 0.0, all precisions 0.0.
    - For n = 1..4 in order: `add-k` first adds k to correct and total for n >= 2; then if
      total[n] == 0 stop (later orders keep precision 0). With `effective_order` only the
      orders reached so far are averaged; without it all 4 are.
    - correct[n] == 0: `exp` doubles a running factor f (starting at 1) and uses 100/(f*total),
      `floor` uses 100*k/total (k = 0.1 by default), `none`/`add-k` leave 0. Otherwise 100*correct/total.
    - score = bp * exp(mean of log p over the averaged orders), log(0) taken as -9999999999.
    An unknown `smooth` is a ValueError naming the choices (`SMOOTH_DEFAULTS`).
    """
    # BEGIN SOLUTION [1.1] BLEU score from sufficient statistics with smoothing (section 2)
    # HINT: follow the bullet list literally; the order of the checks matters for add-k.
    if smooth not in SMOOTH_DEFAULTS:
        raise ValueError(f"unknown smoothing {smooth!r}: choose one of {sorted(SMOOTH_DEFAULTS)}")
    k = SMOOTH_DEFAULTS[smooth] if smooth_value is None else smooth_value
    bp = brevity_penalty(stats.sys_len, stats.ref_len)
    precisions = [0.0] * MAX_ORDER
    if not any(stats.correct):
        return 0.0, tuple(precisions), bp
    correct, total = list(stats.correct), list(stats.total)
    exp_factor = 1.0
    orders = MAX_ORDER
    for n in range(MAX_ORDER):
        if smooth == "add-k" and n > 0:
            correct[n] += k
            total[n] += k
        if total[n] == 0:
            break
        if effective_order:
            orders = n + 1
        if correct[n] == 0:
            if smooth == "exp":
                exp_factor *= 2
                precisions[n] = 100.0 / (exp_factor * total[n])
            elif smooth == "floor":
                precisions[n] = 100.0 * k / total[n]
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    log_sum = sum(math.log(p) if p != 0.0 else LOG_ZERO for p in precisions[:orders])
    return bp * math.exp(log_sum / orders), tuple(precisions), bp
    # END SOLUTION
# END INTERVIEW


# ---------------------------------------------------------------- input handling (scaffolding)

def as_reference_list(refs, where: str) -> list[str]:
    """One item's references as a list: a string is one reference, a sequence is several."""
    if isinstance(refs, str):
        return [refs]
    if not isinstance(refs, Sequence) or not refs:
        raise ValueError(f"{where}: expected a reference string or a non-empty list of strings, got {refs!r:.80}")
    for r in refs:
        if not isinstance(r, str):
            raise ValueError(f"{where}: every reference must be a string, got {type(r).__name__}")
    return list(refs)


def check_aligned(hypotheses, references, sentence_fn: str = "sentence_bleu") -> list[list[str]]:
    """Validate corpus inputs (type, then length) and return references as lists per item."""
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise ValueError("hypotheses must be a list of strings, not a bare string "
                         f"(use {sentence_fn} for one sentence)")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise ValueError("references must be a list aligned with hypotheses (item i: a string or a "
                         "list of strings), not a bare string")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: they must be "
                         "aligned item by item (sacreBLEU would silently truncate)")
    for i, h in enumerate(hypotheses):
        if not isinstance(h, str):
            raise ValueError(f"hypotheses[{i}] must be a string, got {type(h).__name__}")
    return [as_reference_list(r, f"references[{i}]") for i, r in enumerate(references)]


class BLEU:
    """Configured BLEU: tokenizes and turns (hypothesis, references) items into statistics."""

    def __init__(self, *, tokenize: str = "13a", smooth: str = "exp", smooth_value: float | None = None,
                 effective_order: bool = False, lowercase: bool = False):
        if tokenize not in BLEU_TOKENIZERS:
            raise ValueError(f"unknown tokenizer {tokenize!r}: choose one of {sorted(BLEU_TOKENIZERS)}")
        if smooth not in SMOOTH_DEFAULTS:
            raise ValueError(f"unknown smoothing {smooth!r}: choose one of {sorted(SMOOTH_DEFAULTS)}")
        self.tokenize, self.smooth, self.smooth_value = tokenize, smooth, smooth_value
        self.effective_order, self.lowercase = effective_order, lowercase
        self._tokenizer = BLEU_TOKENIZERS[tokenize]

    def tokens(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return self._tokenizer(text.rstrip()).split()

    def item_stats(self, hypothesis: str, references: list[str]) -> BLEUStats:
        return segment_stats(self.tokens(hypothesis), [self.tokens(r) for r in references])

    def signature(self, nrefs: int) -> BLEUSignature:
        return BLEUSignature(nrefs, self.lowercase, self.effective_order, self.tokenize,
                             self.smooth, self.smooth_value)

    def score(self, stats: BLEUStats) -> BLEUScore:
        score, precisions, bp = bleu_from_stats(stats, smooth=self.smooth, smooth_value=self.smooth_value,
                                                effective_order=self.effective_order)
        return BLEUScore(score, precisions, bp, stats.sys_len, stats.ref_len, stats,
                         self.signature(stats.nrefs))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], *,
                tokenize: str = "13a", smooth: str = "exp", smooth_value: float | None = None,
                effective_order: bool = False, lowercase: bool = False) -> BLEUScore:
    """Corpus BLEU; `references[i]` is one reference string or a list of them for `hypotheses[i]`."""
    refs = check_aligned(hypotheses, references)
    bleu = BLEU(tokenize=tokenize, smooth=smooth, smooth_value=smooth_value,
                effective_order=effective_order, lowercase=lowercase)
    stats = sum((bleu.item_stats(h, r) for h, r in zip(hypotheses, refs)), BLEUStats())
    return bleu.score(stats)


def sentence_bleu(hypothesis: str, references: str | Sequence[str], *, tokenize: str = "13a",
                  smooth: str = "exp", smooth_value: float | None = None, effective_order: bool = True,
                  lowercase: bool = False) -> BLEUScore:
    """BLEU of one hypothesis against one reference string or a list of them (effective order on)."""
    if not isinstance(hypothesis, str):
        raise ValueError(f"hypothesis must be a string, got {type(hypothesis).__name__} "
                         "(use corpus_bleu for a list of hypotheses)")
    return corpus_bleu([hypothesis], [references], tokenize=tokenize, smooth=smooth, smooth_value=smooth_value,
                       effective_order=effective_order, lowercase=lowercase)
