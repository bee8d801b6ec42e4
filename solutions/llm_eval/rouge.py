"""ROUGE-N, ROUGE-L and ROUGE-Lsum, equal to Google's rouge-score 0.1.2.

Tokens come from rouge-score's ASCII tokenizer (`tokenizers.tokenize_rouge`). ROUGE-N counts
clipped n-gram overlaps; ROUGE-L uses the longest common subsequence of the two token lists;
ROUGE-Lsum splits both texts into sentences on newlines and scores the union of each
reference sentence's LCS with every predicted sentence (Lin 2004, section 3.2). With several
references the best F-measure per type wins, as `RougeScorer.score_multi`.
"""
from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from .tokenizers import tokenize_rouge

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_ROUGE_N = re.compile(r"^rouge([1-9])$")


class Score(NamedTuple):
    precision: float
    recall: float
    fmeasure: float


# BEGIN INTERVIEW [1.2] ROUGE-N, ROUGE-L and ROUGE-Lsum with the LCS (section 3)
def f_measure(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall; 0.0 when both are 0."""
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def rouge_n(ref_tokens: Sequence[str], pred_tokens: Sequence[str], n: int) -> Score:
    """Clipped n-gram overlap; precision over predicted n-grams, recall over reference n-grams.

    Denominators are max(count, 1), so an empty side gives 0 rather than a division error.
    """
    # BEGIN SOLUTION [1.2] ROUGE-N precision, recall and F (section 3)
    # HINT: Counter(zip(*(tokens[i:] for i in range(n)))) counts n-grams.
    ref = Counter(zip(*(ref_tokens[i:] for i in range(n))))
    pred = Counter(zip(*(pred_tokens[i:] for i in range(n))))
    overlap = sum((ref & pred).values())
    precision = overlap / max(sum(pred.values()), 1)
    recall = overlap / max(sum(ref.values()), 1)
    return Score(precision, recall, f_measure(precision, recall))
    # END SOLUTION


def lcs_table(ref: Sequence[str], pred: Sequence[str]) -> list[list[int]]:
    """table[i][j] = LCS length of ref[:i] and pred[:j]; shape (len(ref)+1, len(pred)+1)."""
    # BEGIN SOLUTION [1.2] the LCS dynamic programme (section 3)
    table = [[0] * (len(pred) + 1) for _ in range(len(ref) + 1)]
    for i, r in enumerate(ref, 1):
        row, above = table[i], table[i - 1]
        for j, p in enumerate(pred, 1):
            row[j] = above[j - 1] + 1 if r == p else (above[j] if above[j] > row[j - 1] else row[j - 1])
    return table
    # END SOLUTION


def lcs_length(ref: Sequence[str], pred: Sequence[str]) -> int:
    """Length of the longest common subsequence, keeping only one row of the table at a time."""
    # BEGIN SOLUTION [1.2] LCS length in O(len(pred)) memory (section 3)
    prev = [0] * (len(pred) + 1)
    for r in ref:
        row = [0]
        for j, p in enumerate(pred):
            row.append(prev[j] + 1 if r == p else (prev[j + 1] if prev[j + 1] > row[j] else row[j]))
        prev = row
    return prev[-1]
    # END SOLUTION


def rouge_l(ref_tokens: Sequence[str], pred_tokens: Sequence[str]) -> Score:
    """LCS length over len(pred) (precision) and len(ref) (recall); 0 if either side is empty."""
    # BEGIN SOLUTION [1.2] ROUGE-L from the LCS length (section 3)
    if not ref_tokens or not pred_tokens:
        return Score(0.0, 0.0, 0.0)
    lcs = lcs_length(ref_tokens, pred_tokens)
    precision, recall = lcs / len(pred_tokens), lcs / len(ref_tokens)
    return Score(precision, recall, f_measure(precision, recall))
    # END SOLUTION


def lcs_indices(ref: Sequence[str], pred: Sequence[str]) -> list[int]:
    """Indices into `ref` of one LCS, read back from the table as rouge-score does.

    From the bottom-right corner: on a token match take it and move diagonally; otherwise
    move left when table[i][j-1] > table[i-1][j], else up. (Which LCS is chosen changes Lsum.)
    """
    # BEGIN SOLUTION [1.2] read one LCS back from the table (section 3)
    table = lcs_table(ref, pred)
    i, j, picked = len(ref), len(pred), []
    while i > 0 and j > 0:
        if ref[i - 1] == pred[j - 1]:
            picked.append(i - 1)
            i, j = i - 1, j - 1
        elif table[i][j - 1] > table[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return picked[::-1]
    # END SOLUTION


def rouge_lsum(ref_sents: Sequence[Sequence[str]], pred_sents: Sequence[Sequence[str]]) -> Score:
    """Summary-level LCS: for each reference sentence, the union of its LCS indices with every
    predicted sentence; each token of that union is a hit while both texts still have an unused
    copy of it (token counts over all sentences, decremented per hit). P = hits / predicted
    tokens, R = hits / reference tokens; 0 if either side has no sentence or no token.
    """
    # BEGIN SOLUTION [1.2] ROUGE-Lsum with union LCS (section 3)
    # HINT: keep two Counters of remaining tokens; a hit spends one from each.
    m, n = sum(map(len, ref_sents)), sum(map(len, pred_sents))
    if not ref_sents or not pred_sents or not m or not n:
        return Score(0.0, 0.0, 0.0)
    ref_left = Counter(t for s in ref_sents for t in s)
    pred_left = Counter(t for s in pred_sents for t in s)
    hits = 0
    for ref in ref_sents:
        union = sorted(set().union(*(lcs_indices(ref, pred) for pred in pred_sents)))
        for token in (ref[i] for i in union):
            if ref_left[token] > 0 and pred_left[token] > 0:
                hits += 1
                ref_left[token] -= 1
                pred_left[token] -= 1
    precision, recall = hits / n, hits / m
    return Score(precision, recall, f_measure(precision, recall))
    # END SOLUTION
# END INTERVIEW


def sentences(text: str) -> list[str]:
    """ROUGE-Lsum's sentence split: one sentence per non-empty line."""
    return [s for s in text.split("\n") if s]


def rouge_single(prediction: str, reference: str, rouge_types: Sequence[str], use_stemmer: bool) -> dict[str, Score]:
    if any(kind != "rougeLsum" for kind in rouge_types):  # Lsum tokenizes sentence by sentence instead
        pred, ref = tokenize_rouge(prediction, use_stemmer), tokenize_rouge(reference, use_stemmer)
    scores = {}
    for kind in rouge_types:
        if kind == "rougeL":
            scores[kind] = rouge_l(ref, pred)
        elif kind == "rougeLsum":
            scores[kind] = rouge_lsum([tokenize_rouge(s, use_stemmer) for s in sentences(reference)],
                                      [tokenize_rouge(s, use_stemmer) for s in sentences(prediction)])
        else:
            scores[kind] = rouge_n(ref, pred, int(_ROUGE_N.match(kind).group(1)))
    return scores


def check_rouge_types(rouge_types) -> tuple[str, ...]:
    if isinstance(rouge_types, str):
        rouge_types = (rouge_types,)
    for kind in rouge_types:
        if kind not in ("rougeL", "rougeLsum") and not _ROUGE_N.match(str(kind)):
            raise ValueError(f"unknown ROUGE type {kind!r}: use rouge1..rouge9, rougeL or rougeLsum")
    return tuple(rouge_types)


def rouge(prediction: str, references: str | Sequence[str], *, rouge_types: Sequence[str] = ROUGE_TYPES,
          use_stemmer: bool = False) -> dict[str, Score]:
    """{type: Score(precision, recall, fmeasure)} of one prediction; several references: best F per type.

    Ties between references go to the first one. ROUGE-Lsum warns (UserWarning) when a text of
    more than one token has no newline, because it then silently equals ROUGE-L.
    """
    if not isinstance(prediction, str):
        raise ValueError(f"prediction must be a string, got {type(prediction).__name__}")
    refs = [references] if isinstance(references, str) else list(references)
    if not refs or not all(isinstance(r, str) for r in refs):
        raise ValueError("references must be a string or a non-empty list of strings")
    rouge_types = check_rouge_types(rouge_types)
    if "rougeLsum" in rouge_types:
        warn_if_no_newlines([prediction, *refs])
    per_ref = [rouge_single(prediction, r, rouge_types, use_stemmer) for r in refs]
    best = {}
    for kind in rouge_types:
        best[kind] = max(per_ref, key=lambda s: s[kind].fmeasure)[kind]  # max keeps the first of ties
    return best


def warn_if_no_newlines(texts: Sequence[str]) -> None:
    if any("\n" not in t and len(t.split()) > 1 for t in texts):
        warnings.warn("rougeLsum splits sentences on newlines and a text has none, so rougeLsum equals "
                      "rougeL here; put one sentence per line", UserWarning, stacklevel=3)
