# Starter code generated from solutions/llm_eval/chrf.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""chrF and chrF++ (Popovic 2015, 2017), equal to sacreBLEU 2.x's `CHRF`.

BLEU's shape again: each segment yields sufficient statistics, three counts per n-gram order
(hypothesis n-grams, reference n-grams, matches), first the character orders 1..char_order, then
the word orders 1..word_order (word_order=2 is chrF++). With several references a segment keeps
the statistics of the reference whose sentence-level score is highest (the first on a tie).
Statistics add up across segments, shards and streaming chunks; the score is a pure function of
the sum; and the signature names every choice that changes the number.

The score (sacreBLEU >= 2.0): per order, precision = matches / hypothesis n-grams and recall =
matches / reference n-grams; the precisions and recalls of the orders where both sides have
n-grams are averaged ("effective order"), and chrF = 100 (1 + b^2) P R / (b^2 P + R), 0 when
P + R = 0. With `eps_smoothing` (chrF++.py, Moses, NLTK) it is instead the mean of the per-order
F scores, an order without n-grams counting 1e-16.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .bleu import check_aligned

CHAR_ORDER, WORD_ORDER, BETA = 6, 0, 2
EPS = 1e-16  # what an undefined precision, recall or F counts with eps_smoothing
PUNCTUATION = frozenset('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')


@dataclass(frozen=True)
class CHRFStats:
    """Sufficient statistics of chrF for one segment or any sum of segments: `counts` holds
    (hypothesis n-grams, reference n-grams, matches) per order, flattened; () before any segment.
    `nrefs` as in BLEUStats: 0 for no segments, -1 once segments with different counts were added."""

    counts: tuple[int, ...] = ()
    nrefs: int = 0

    def __add__(self, other: "CHRFStats") -> "CHRFStats":
        if not other.counts:
            return self
        if not self.counts:
            return other
        if len(self.counts) != len(other.counts):
            raise ValueError(f"cannot add chrF statistics of {len(self.counts) // 3} and "
                             f"{len(other.counts) // 3} orders: they come from different settings")
        nrefs = self.nrefs if self.nrefs == other.nrefs else -1
        return CHRFStats(tuple(a + b for a, b in zip(self.counts, other.counts)), nrefs)


@dataclass(frozen=True)
class CHRFSignature:
    """Everything that changes a chrF number; formats like sacreBLEU's signature (minus version)."""

    nrefs: int
    lowercase: bool
    eps_smoothing: bool
    char_order: int
    word_order: int
    whitespace: bool

    def __str__(self) -> str:
        nrefs = "var" if self.nrefs == -1 else self.nrefs
        return (f"nrefs:{nrefs}|case:{'lc' if self.lowercase else 'mixed'}|"
                f"eff:{'no' if self.eps_smoothing else 'yes'}|nc:{self.char_order}|nw:{self.word_order}|"
                f"space:{'yes' if self.whitespace else 'no'}")


@dataclass(frozen=True)
class CHRFScore:
    score: float  # 0-100
    name: str     # "chrF2", or "chrF2++" with word_order=2
    stats: CHRFStats
    signature: CHRFSignature

    def __float__(self) -> float:
        return self.score

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.2f}"


# ---------------------------------------------------------------- n-grams (given)
def char_ngrams(text: str, order: int, whitespace: bool = False) -> list[Counter]:
    """Counters of the character n-grams of orders 1..order; whitespace is removed first unless
    `whitespace` (any Unicode whitespace, as `str.split` sees it)."""
    if not whitespace:
        text = "".join(text.split())
    return [Counter(text[i:i + n] for i in range(len(text) - n + 1)) for n in range(1, order + 1)]


def words(text: str) -> list[str]:
    """chrF++'s word split: whitespace, then one punctuation mark split off the end of a word, or
    else off its start ("(hi)" -> "(hi", ")"), as sacreBLEU does; one-character words stay whole."""
    out = []
    for w in text.split():
        if len(w) == 1:
            out.append(w)
        elif w[-1] in PUNCTUATION:
            out += [w[:-1], w[-1]]
        elif w[0] in PUNCTUATION:
            out += [w[0], w[1:]]
        else:
            out.append(w)
    return out


def word_ngrams(tokens: Sequence[str], order: int) -> list[Counter]:
    """Counters of the word n-grams (joined by one space) of orders 1..order."""
    return [Counter(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)) for n in range(1, order + 1)]


# ---------------------------------------------------------------- statistics and score
def match_counts(hyp: Counter, ref: Counter) -> tuple[int, int, int]:
    """(hypothesis n-grams, reference n-grams, matches) of one order: a match is an n-gram both
    sides have, counted min(hypothesis count, reference count) times. As sacreBLEU, the hypothesis
    count is 0 when the reference has no n-gram of this order."""
    # Exercise 1.12: the counts of one order.
    # Hint: sum(hyp.values()) n-grams, sum(ref.values()); matches = sum of min(count, ref[ngram]) over shared n-grams.
    raise NotImplementedError('Exercise 1.12: the counts of one order - see notebooks/01_llm_evaluation.ipynb, section 11')


def chrf_from_counts(counts: Sequence[int], beta: float = BETA, eps_smoothing: bool = False) -> float:
    """The score (0-100) from flattened (hypothesis, reference, matches) counts, as the module says.

    Per order: precision = matches / hypothesis n-grams (EPS if there are none), recall likewise over
    the reference n-grams. Without `eps_smoothing`: average the precisions and recalls of the orders
    where both sides have n-grams and return 100 (1 + beta^2) P R / (beta^2 P + R), or 0.0 if no order
    counts or P + R = 0. With it: the mean over all orders of (1 + beta^2) p r / (beta^2 p + r), an
    order whose denominator is 0 counting EPS, times 100. Round as sacreBLEU does, since the last bit
    decides which of two references wins a tie: the final score is s = (1 + beta^2) * P * R, then
    s /= beta^2 * P + R, then 100 * s.
    """
    # Exercise 1.12: chrF from the summed counts.
    # Hint: compute both ways in one loop over the orders, then return the one `eps_smoothing` asks for.
    raise NotImplementedError('Exercise 1.12: chrF from the summed counts - see notebooks/01_llm_evaluation.ipynb, section 11')


def segment_counts(hyp_ngrams: list[Counter], refs_ngrams: list[list[Counter]], beta: float = BETA,
                   eps_smoothing: bool = False) -> tuple[int, ...]:
    """One segment's flattened counts: against each reference, `match_counts` order by order; keep
    those of the reference whose `chrf_from_counts` is highest, the first one on a tie."""
    # Exercise 1.12: the best reference of a segment.
    # Hint: start from a best score of -1 so that the first reference is always taken.
    raise NotImplementedError('Exercise 1.12: the best reference of a segment - see notebooks/01_llm_evaluation.ipynb, section 11')


# ---------------------------------------------------------------- configured metric (scaffolding)
class CHRF:
    """Configured chrF: turns (hypothesis, references) items into statistics and statistics into a score."""

    def __init__(self, *, char_order: int = CHAR_ORDER, word_order: int = WORD_ORDER, beta: float = BETA,
                 lowercase: bool = False, whitespace: bool = False, eps_smoothing: bool = False):
        for name, value in (("char_order", char_order), ("word_order", word_order)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if char_order + word_order == 0:
            raise ValueError("char_order + word_order must be at least 1")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ValueError(f"beta must be a positive number, got {beta!r}")
        self.char_order, self.word_order, self.beta = char_order, word_order, beta
        self.lowercase, self.whitespace, self.eps_smoothing = lowercase, whitespace, eps_smoothing

    def ngrams(self, text: str) -> list[Counter]:
        if self.lowercase:
            text = text.lower()
        found = char_ngrams(text, self.char_order, self.whitespace)
        return found + word_ngrams(words(text), self.word_order) if self.word_order else found

    def item_stats(self, hypothesis: str, references: list[str]) -> CHRFStats:
        counts = segment_counts(self.ngrams(hypothesis), [self.ngrams(r) for r in references],
                                self.beta, self.eps_smoothing)
        return CHRFStats(counts, len(references))

    def signature(self, nrefs: int) -> CHRFSignature:
        return CHRFSignature(nrefs, self.lowercase, self.eps_smoothing, self.char_order, self.word_order,
                             self.whitespace)

    def score(self, stats: CHRFStats) -> CHRFScore:
        counts = stats.counts or (0,) * (3 * (self.char_order + self.word_order))
        name = f"chrF{self.beta}" + "+" * self.word_order
        return CHRFScore(chrf_from_counts(counts, self.beta, self.eps_smoothing), name, stats,
                         self.signature(stats.nrefs))


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], **options) -> CHRFScore:
    """Corpus chrF; `references[i]` is one reference string or a list of them for `hypotheses[i]`.
    Options: char_order=6, word_order=0 (2 for chrF++), beta=2, lowercase, whitespace, eps_smoothing."""
    refs = check_aligned(hypotheses, references, "sentence_chrf")
    chrf = CHRF(**options)
    return chrf.score(sum((chrf.item_stats(h, r) for h, r in zip(hypotheses, refs)), CHRFStats()))


def sentence_chrf(hypothesis: str, references: str | Sequence[str], **options) -> CHRFScore:
    """chrF of one hypothesis against one reference string or a list of them."""
    if not isinstance(hypothesis, str):
        raise ValueError(f"hypothesis must be a string, got {type(hypothesis).__name__} "
                         "(use corpus_chrf for a list of hypotheses)")
    return corpus_chrf([hypothesis], [references], **options)
