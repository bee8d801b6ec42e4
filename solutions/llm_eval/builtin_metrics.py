"""The built-in text and classification metrics, each as statistics -> score -> signature."""
from __future__ import annotations

import re
import string
import warnings
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

from .bleu import BLEU, BLEUStats, as_reference_list, bleu_from_stats
from .chrf import CHRF, CHRFStats
from .metric import Metric, Sums, exact, register_metric
from .rouge import ROUGE_TYPES, check_rouge_types, rouge, warn_if_no_newlines
from .tokenizers import dropped_by_rouge_tokenizer


def _mean(total, n) -> float:
    return float(Fraction(total) / n) if n else 0.0


@register_metric("bleu")
class CorpusBLEU(Metric):
    """Corpus BLEU from summed segment statistics (never a mean of sentence scores)."""

    def __init__(self, **bleu_options):
        self.bleu = BLEU(**bleu_options)
        super().__init__()

    def zero(self):
        return BLEUStats()

    def item_stats(self, prediction, reference):
        return self.bleu.item_stats(prediction, as_reference_list(reference, "reference"))

    def score(self, stats):
        s = self.bleu.score(stats)
        return {"score": s.score, "bp": s.bp, **{f"p{n}": p for n, p in enumerate(s.precisions, 1)}}

    def item_value(self, stats):
        """Sentence BLEU of one item with every option of this metric (its statistics already hold the
        tokenizer and case; smoothing and its value apply here), effective order always on, as in
        sacreBLEU's sentence_bleu: without it a sentence shorter than 4 tokens scores about 0."""
        return bleu_from_stats(stats, smooth=self.bleu.smooth, smooth_value=self.bleu.smooth_value,
                               effective_order=True)[0]

    def options(self):
        return {"bleu": str(self.bleu.signature(0)).split("|", 1)[1]}

    def to_vector(self, stats):
        return [stats.sys_len, stats.ref_len, *stats.correct, *stats.total]

    def from_vector(self, v):
        v = [int(round(x)) for x in v]
        return BLEUStats(v[0], v[1], tuple(v[2:6]), tuple(v[6:10]), self.state.nrefs)

    @property
    def signature(self):
        return f"metric:bleu|{self.bleu.signature(self.state.nrefs)}"


@register_metric("chrf")
class CorpusCHRF(Metric):
    """Corpus chrF (chrF++ with word_order=2) from summed segment statistics, as sacreBLEU's CHRF."""

    def __init__(self, **chrf_options):
        self.chrf = CHRF(**chrf_options)
        super().__init__()

    def zero(self):
        return CHRFStats()

    def item_stats(self, prediction, reference):
        return self.chrf.item_stats(prediction, as_reference_list(reference, "reference"))

    def score(self, stats):
        return {"score": self.chrf.score(stats).score}

    def options(self):
        return {"chrf": str(self.chrf.signature(0)).split("|", 1)[1]}

    def to_vector(self, stats):
        return list(stats.counts or (0,) * (3 * (self.chrf.char_order + self.chrf.word_order)))

    def from_vector(self, v):
        return CHRFStats(tuple(int(round(x)) for x in v), self.state.nrefs)

    @property
    def signature(self):
        return f"metric:chrf|{self.chrf.signature(self.state.nrefs)}"


@register_metric("sentence_bleu")
class MeanSentenceBLEU(Metric):
    """Mean of sentence-level BLEU (effective order on): a per-item score, not corpus BLEU."""

    def __init__(self, **bleu_options):
        bleu_options.setdefault("effective_order", True)
        self.bleu = BLEU(**bleu_options)
        super().__init__()

    def item_stats(self, prediction, reference):
        s = self.bleu.score(self.bleu.item_stats(prediction, as_reference_list(reference, "reference")))
        return Sums((exact(s.score), 1))

    def score(self, stats):
        total, n = stats or (0, 0)
        return {"score": _mean(total, n)}

    def options(self):
        return {"bleu": str(self.bleu.signature(1)).split("|", 1)[1]}


@register_metric("rouge")
class MeanROUGE(Metric):
    """Mean ROUGE F-measure per type over items (rouge-score's aggregate mean); headline rougeL."""

    primary = "rougeL"

    def __init__(self, rouge_types: Sequence[str] = ROUGE_TYPES, use_stemmer: bool = False):
        self.rouge_types = check_rouge_types(rouge_types)
        self.use_stemmer = use_stemmer
        if self.primary not in self.rouge_types:
            self.primary = self.rouge_types[0]
        super().__init__()
        self.warned_lsum = False

    def item_stats(self, prediction, reference):
        refs = as_reference_list(reference, "reference")
        if "rougeLsum" in self.rouge_types and not self.warned_lsum:
            warn_if_no_newlines([prediction, *refs])  # once per metric, not once per item
            self.warned_lsum = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = rouge(prediction, refs, rouge_types=self.rouge_types, use_stemmer=self.use_stemmer)
        return Sums([exact(scores[k].fmeasure) for k in self.rouge_types] + [1])

    def score(self, stats):
        if not stats:
            return {k: 0.0 for k in self.rouge_types}
        n = stats[-1]
        return {k: _mean(total, n) for k, total in zip(self.rouge_types, stats)}

    def options(self):
        return {"types": "+".join(self.rouge_types), "stem": "yes" if self.use_stemmer else "no", "tok": "ascii"}

    def data_warnings(self, predictions, references):
        texts = [t for p, r in zip(predictions, references)
                 for t in [p, *([r] if isinstance(r, str) else r)] if isinstance(t, str)]
        notes = []
        if "rougeLsum" in self.rouge_types and not any("\n" in t for t in texts):
            notes.append("rougeLsum: no text has a newline, so rougeLsum equals rougeL")
        dropped = "".join(sorted({c for t in texts for c in dropped_by_rouge_tokenizer(t)}))
        if dropped:
            notes.append(f"ROUGE's ASCII tokenizer dropped these characters: {dropped[:40]}")
        return notes


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lowercase, drop punctuation and articles, collapse whitespace."""
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


@register_metric("exact_match")
class ExactMatch(Metric):
    """1 when the SQuAD-normalized prediction equals a normalized reference (any of several)."""

    def item_stats(self, prediction, reference):
        pred = normalize_answer(prediction)
        hit = any(pred == normalize_answer(r) for r in as_reference_list(reference, "reference"))
        return Sums((int(hit), 1))

    def score(self, stats):
        hits, n = stats or (0, 0)
        return {"score": _mean(hits, n)}

    def options(self):
        return {"norm": "squad"}


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: overlap of normalized token multisets; both empty counts as a match."""
    # BEGIN SOLUTION [1.4] SQuAD token F1 (section 5)
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)
    # END SOLUTION


@register_metric("f1")
class TokenF1(Metric):
    """Mean SQuAD token F1, best over references per item."""

    def item_stats(self, prediction, reference):
        best = max(token_f1(prediction, r) for r in as_reference_list(reference, "reference"))
        return Sums((exact(best), 1))

    def score(self, stats):
        total, n = stats or (0, 0)
        return {"score": _mean(total, n)}

    def options(self):
        return {"norm": "squad"}


INVALID = None  # the prediction slot of an answer outside the label set


def normalize_label(text: str) -> str:
    return text.strip().lower()


def classification_scores(confusion: Counter, labels: Sequence[str]) -> dict[str, float]:
    """accuracy, invalid_rate and macro-F1 from a Counter of (gold, predicted-or-None) pairs.

    accuracy = correct / n (an invalid prediction is wrong); invalid_rate = invalid / n;
    macro_f1 = mean over `labels` of 2TP / (2TP + FP + FN), a label with no gold and no
    prediction contributing 0 (sklearn's zero_division=0). All 0.0 when n = 0.
    """
    # BEGIN SOLUTION [1.4] accuracy, invalid rate and macro-F1 from the confusion counts (section 5)
    # HINT: an invalid prediction is a false negative of its gold label and a false positive of nothing.
    n = sum(confusion.values())
    if n == 0:
        return {"accuracy": 0.0, "invalid_rate": 0.0, "macro_f1": 0.0}
    correct = sum(c for (gold, pred), c in confusion.items() if gold == pred)
    invalid = sum(c for (_, pred), c in confusion.items() if pred is INVALID)
    f1s = []
    for label in labels:
        tp = confusion[(label, label)]
        fp = sum(c for (gold, pred), c in confusion.items() if pred == label and gold != label)
        fn = sum(c for (gold, pred), c in confusion.items() if gold == label and pred != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {"accuracy": correct / n, "invalid_rate": invalid / n, "macro_f1": sum(f1s) / len(f1s)}
    # END SOLUTION


@register_metric("accuracy")
class Accuracy(Metric):
    """Classification accuracy over a fixed label set, with invalid_rate and macro-F1.

    Labels and predictions are compared after `strip().lower()`; a prediction outside the label
    set is wrong and counted in `invalid_rate`. A gold label outside the set is a ValueError.
    """

    primary = "accuracy"

    def __init__(self, labels: Sequence[str]):
        if isinstance(labels, str) or not labels:
            raise ValueError("accuracy needs the label set: a non-empty list of label strings")
        self.labels = tuple(sorted({normalize_label(x) for x in labels}))
        super().__init__()

    def zero(self):
        return Counter()

    def item_stats(self, prediction, reference):
        gold = normalize_label(reference)
        if gold not in self.labels:
            raise ValueError(f"gold label {reference!r} is not in the label set {list(self.labels)}")
        pred = normalize_label(prediction) if isinstance(prediction, str) else INVALID
        return Counter({(gold, pred if pred in self.labels else INVALID): 1})

    def score(self, stats):
        return classification_scores(stats, self.labels)

    def item_value(self, stats):
        return float(sum(c for (gold, pred), c in stats.items() if gold == pred))

    def _cells(self):
        return [(g, p) for g in self.labels for p in (*self.labels, INVALID)]

    def to_vector(self, stats):
        return [stats[cell] for cell in self._cells()]

    def from_vector(self, v):
        return Counter({cell: int(round(x)) for cell, x in zip(self._cells(), v) if round(x)})

    def options(self):
        return {"labels": ",".join(self.labels), "norm": "strip+lower"}
