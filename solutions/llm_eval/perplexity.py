"""Perplexity with a sliding window: every token scored exactly once, with as much context as fits.

For a text of L tokens and 1 <= stride < max_length, window k covers ids[k*stride : k*stride + max_length] (clipped at L);
windows stop at the first one that reaches the end. Token t (t >= 1) is scored in the first
window whose end is past t, with the tokens of that window before t as its context. Token 0
is never a target (it has no context): it is the model's prefix token (BOS or end-of-text, see
`language_model`), so every token of the text itself is scored. The perplexity is
exp(total NLL / number of scored tokens) over all texts together.

Bits per byte = -(sum of log2 p over the scored tokens) / (UTF-8 bytes those tokens spell), pooled
over all texts. Since the prefix spells no text and every text token is scored, the denominator is
all the texts' bytes: a one-token text adds one scored token and its bytes, an empty text adds
nothing, and with no scored token at all both numbers are NaN. This is lm-evaluation-harness's
`bits_per_byte` (documents scored from an end-of-text prefix, summed log-likelihood over summed
bytes); unlike perplexity it compares models with different tokenizers.

The loop in the transformers guide "Perplexity of fixed-length models" multiplies each
window's mean loss by (targets - 1) and divides by the token count: with overlapping windows
that weighting is off by one per window, which matters most for stride=1 or max_length=2.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .language_model import LanguageModel
from .metric import Metric, Sums, exact, register_metric


@dataclass(frozen=True)
class PerplexityResult:
    perplexity: float
    nll: float  # mean negative log-likelihood per scored token, in nats
    n_tokens: int
    bits_per_byte: float  # -sum(log p) / UTF-8 bytes / ln 2 (see the module docstring)
    signature: str


def check_window(max_length: int, stride: int) -> None:
    if not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length must be an int >= 2 (a target needs a context token), got {max_length!r}")
    if not isinstance(stride, int) or not 1 <= stride <= max_length - 1:
        # stride == max_length would leave the first token of every later window without context
        raise ValueError(f"stride must be an int in [1, max_length - 1] = [1, {max_length - 1}] so that every "
                         f"token has a context token in its window, got {stride!r}")


def scored_positions(n_tokens: int, max_length: int, stride: int) -> list[tuple[int, int, int]]:
    """The windows as (begin, end, first_target): window ids[begin:end] scores targets
    first_target..end-1. Together the targets are 1..n_tokens-1, each exactly once."""
    # BEGIN SOLUTION [1.5] sliding windows that score each token once (section 6)
    # HINT: remember where the previous window ended; targets start at max(prev_end, begin + 1).
    windows, prev_end = [], 0
    for begin in range(0, max(n_tokens - 1, 1), stride):
        end = min(begin + max_length, n_tokens)
        first = max(prev_end, begin + 1)
        if first < end:
            windows.append((begin, end, first))
        prev_end = end
        if end == n_tokens:
            break
    return windows
    # END SOLUTION


def text_loglik(model: LanguageModel, ids: Sequence[int], max_length: int, stride: int) -> tuple[float, int]:
    """(sum of log p over scored tokens, number of scored tokens) for one tokenized text."""
    # BEGIN SOLUTION [1.5] sum the log-probabilities of the new targets of each window (section 6)
    total, count = 0.0, 0
    for begin, end, first in scored_positions(len(ids), max_length, stride):
        logp = model.log_probs(list(ids[begin:end]))  # logp[j] scores ids[begin + j + 1]
        new = logp[first - begin - 1:]
        total += sum(new)
        count += len(new)
    return total, count
    # END SOLUTION


def check_model(model) -> None:
    if not isinstance(model, LanguageModel):
        raise ValueError("model must provide name, tokenize(text) and log_probs(ids) (the LanguageModel protocol)")
    if not model.tokenize(""):
        # without a prefix the first token of every text would be context only, yet its bytes would count
        raise ValueError(f"model {model.name!r}: tokenize('') returned no ids; tokenize must start every text "
                         "with a prefix token (BOS or end-of-text) so that the text's first token is scored")


def perplexity_stats(model: LanguageModel, text: str, max_length: int, stride: int) -> Sums:
    """(sum of log p, scored tokens, UTF-8 bytes) of one text: every text token is scored, so every byte."""
    loglik, count = text_loglik(model, model.tokenize(text), max_length, stride)
    return Sums((exact(loglik), count, len(text.encode("utf-8"))))


def perplexity_from_stats(stats: Sums, signature: str) -> PerplexityResult:
    loglik, count, n_bytes = stats or (Fraction(0), 0, 0)
    if not count:  # nothing scored: both numbers are undefined (0.0 would read as a perfect model)
        return PerplexityResult(float("nan"), float("nan"), 0, float("nan"), signature)
    nll = float(-loglik / count)
    return PerplexityResult(math.exp(nll), nll, count, float(-loglik / n_bytes) / math.log(2), signature)


def signature_of(model: LanguageModel, max_length: int, stride: int) -> str:
    return f"model:{model.name}|max_length:{max_length}|stride:{stride}"


def perplexity(model: LanguageModel, texts: Sequence[str], *, max_length: int, stride: int) -> PerplexityResult:
    """Perplexity of `model` on `texts` (pooled over all scored tokens), see the module docstring."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValueError("texts must be a list of strings, not a bare string")
    check_window(max_length, stride)
    check_model(model)
    stats = sum((perplexity_stats(model, t, max_length, stride) for t in texts), Sums())
    return perplexity_from_stats(stats, signature_of(model, max_length, stride))


@register_metric("perplexity")
class Perplexity(Metric):
    """Perplexity of the predictions themselves under `model` (references are ignored)."""

    primary = "perplexity"
    higher_is_better = False

    def __init__(self, model: LanguageModel, max_length: int = 128, stride: int = 64):
        check_window(max_length, stride)
        check_model(model)
        self.model, self.max_length, self.stride = model, max_length, stride
        super().__init__()

    def item_stats(self, prediction, reference):
        return perplexity_stats(self.model, prediction, self.max_length, self.stride)

    def score(self, stats):
        r = perplexity_from_stats(stats, "")
        return {"perplexity": r.perplexity, "nll": r.nll, "bits_per_byte": r.bits_per_byte,
                "n_tokens": float(r.n_tokens)}

    def options(self):
        return {"model": self.model.name, "max_length": self.max_length, "stride": self.stride}
