# Starter code generated from solutions/llm_eval/language_model.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""The small LanguageModel protocol perplexity needs, and two adapters.

A language model here is anything with
  - `name`: a string for signatures,
  - `tokenize(text) -> list[int]`: a *prefix* token that spells no text (BOS or end-of-text) followed
    by the text's tokens. Token 0 is only ever context, so the prefix is what lets the text's first
    token be scored (lm-evaluation-harness scores a document from its end-of-text token the same way);
    `tokenize("")` is therefore `[prefix]`, never empty,
  - `log_probs(ids) -> list[float]`: for a window of ids, log p(ids[t] | ids[:t]) for t = 1..len-1,
    seeing nothing before the window.
`HFCausalLM` wraps any transformers causal LM (a local checkpoint directory or a model object);
`TinyGPTLM` the repository's tiny byte-level GPT (mlpractice/tinygpt.py, two committed checkpoints);
`NgramLM` is a character n-gram model with Witten-Bell interpolation, trained in a second.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Protocol, runtime_checkable


@runtime_checkable
class LanguageModel(Protocol):
    name: str

    def tokenize(self, text: str) -> list[int]: ...

    def log_probs(self, ids: list[int]) -> list[float]: ...


class HFCausalLM:
    """A transformers causal LM: `HFCausalLM("path/to/checkpoint")` or `HFCausalLM(model, tokenizer)`.

    `tokenizer` needs only `encode(text) -> list[int]`. Every text is scored after `prefix_token_id`,
    by default the tokenizer's BOS token, else its end-of-text (EOS) token, as lm-evaluation-harness
    chooses it; a transformers tokenizer encodes without its own special tokens so the prefix is not
    doubled. Runs on CPU in eval mode without gradients.
    """

    def __init__(self, model, tokenizer=None, name: str | None = None, *, prefix_token_id: int | None = None):
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            path = str(model)
            model = AutoModelForCausalLM.from_pretrained(path)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
            name = name or path.rstrip("/").rsplit("/", 1)[-1]
        if tokenizer is None:
            raise ValueError("HFCausalLM needs a tokenizer with an encode(text) method")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.name = name or type(model).__name__
        self.prefix_token_id = self._prefix(prefix_token_id)
        from transformers import PreTrainedTokenizerBase

        self._plain_encode = isinstance(tokenizer, PreTrainedTokenizerBase)

    def _prefix(self, given: int | None) -> int:
        if given is None:
            given = next((i for i in (getattr(self.tokenizer, "bos_token_id", None),
                                      getattr(self.tokenizer, "eos_token_id", None)) if i is not None), None)
            if given is None:
                raise ValueError("HFCausalLM: the tokenizer has no bos_token_id or eos_token_id; pass "
                                 "prefix_token_id=<id> (the token every text is scored after)")
        vocab = getattr(getattr(self.model, "config", None), "vocab_size", None)
        if not isinstance(given, int) or given < 0 or (vocab is not None and given >= vocab):
            raise ValueError(f"prefix_token_id must be a token id in [0, {vocab}), got {given!r}")
        return given

    def tokenize(self, text: str) -> list[int]:
        if self._plain_encode:  # a transformers tokenizer would add its own BOS (Llama) next to the prefix
            return [self.prefix_token_id, *self.tokenizer.encode(text, add_special_tokens=False)]
        return [self.prefix_token_id, *self.tokenizer.encode(text)]

    def log_probs(self, ids: list[int]) -> list[float]:
        import torch

        if len(ids) < 2:
            return []
        with torch.no_grad():
            logits = self.model(torch.tensor([ids])).logits[0, :-1].double()
            logp = torch.log_softmax(logits, dim=-1)
            return logp.gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1).tolist()


class TinyGPTLM:
    """The tiny byte-level GPT (`mlpractice.tinygpt`): `TinyGPTLM("early")` or `TinyGPTLM("late")`.
    Tokens are UTF-8 bytes after the end-of-text prefix; windows up to the model's context (64)."""

    def __init__(self, checkpoint: str = "late"):
        from mlpractice import tinygpt

        self.model = tinygpt.load(checkpoint)
        self.name = f"tinygpt-{checkpoint}"
        self.max_length = self.model.config.context
        self._encode = tinygpt.encode

    def tokenize(self, text: str) -> list[int]:
        return self._encode(text)

    def log_probs(self, ids: list[int]) -> list[float]:
        return self.log_probs_batch([ids])[0] if len(ids) >= 2 else []

    def log_probs_batch(self, windows: list[list[int]]) -> list[list[float]]:
        """`log_probs` of several windows in one forward pass: each is padded on the right, which a causal
        model never looks at, so every real position sees exactly its own prefix. Equal to one window at a
        time up to the last bits of the batched matrix products."""
        import torch

        if not windows:
            return []
        width = max(len(w) for w in windows)
        batch = torch.tensor([w + [0] * (width - len(w)) for w in windows])
        with torch.no_grad():
            logp = torch.log_softmax(self.model(batch)[:, :-1].double(), dim=-1)
            picked = logp.gather(2, batch[:, 1:].unsqueeze(2)).squeeze(2)
        return [picked[i, :len(w) - 1].tolist() for i, w in enumerate(windows)]


class NgramLM:
    """Character n-gram language model with Witten-Bell interpolation down to add-one unigrams.

    p(w | h) = (c(h, w) + T(h) * p(w | h')) / (c(h) + T(h)), h' = h without its oldest character,
    T(h) = number of distinct characters seen after h; an unseen history falls back to p(w | h').
    Character id 0 is BOS (prepended by `tokenize`), 1 is an unknown character.
    """

    def __init__(self, order: int = 3):
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = order
        self.name = f"char-{order}gram"
        self.vocab: dict[str, int] = {}
        self.counts: dict[tuple, Counter] = defaultdict(Counter)

    def fit(self, text: str) -> "NgramLM":
        self.vocab = {c: i + 2 for i, c in enumerate(sorted(set(text)))}
        ids = self.tokenize(text)
        for t in range(1, len(ids)):
            for n in range(0, self.order):
                if n <= t:
                    self.counts[tuple(ids[t - n:t])][ids[t]] += 1
        self._totals = {h: (sum(c.values()), len(c)) for h, c in self.counts.items()}
        return self

    def tokenize(self, text: str) -> list[int]:
        return [0] + [self.vocab.get(c, 1) for c in text]

    def prob(self, history: tuple, w: int) -> float:
        p = (self.counts[()][w] + 1) / (self._totals[()][0] + len(self.vocab) + 2)
        for n in range(1, min(len(history), self.order - 1) + 1):
            h = history[len(history) - n:]
            if h not in self._totals:
                break
            total, distinct = self._totals[h]
            p = (self.counts[h][w] + distinct * p) / (total + distinct)
        return p

    def log_probs(self, ids: list[int]) -> list[float]:
        k = self.order - 1
        return [math.log(self.prob(tuple(ids[max(0, t - k):t]), ids[t])) for t in range(1, len(ids))]
