"""Model adapters for `Evaluator.evaluate`: each maps a batch of prompts to a batch of outputs.

- `CallableModel(fn)`: any Python function of one prompt (or of a batch with `batched=True`),
- `HFGenerator(path)`: greedy decoding with a local transformers checkpoint,
- `OpenAICompletions(base_url, model)`: the OpenAI-compatible `/v1/completions` endpoint that
  vLLM, llama.cpp server and Ollama expose, over httpx, with retries on connection errors.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence


class CallableModel:
    def __init__(self, fn: Callable, *, batched: bool = False, name: str | None = None):
        self.fn, self.batched = fn, batched
        self.name = name or getattr(fn, "__name__", "callable")

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return list(self.fn(list(prompts))) if self.batched else [self.fn(p) for p in prompts]


class HFGenerator:
    """Greedy generation with a local causal LM checkpoint (left padding, CPU)."""

    def __init__(self, path, *, max_new_tokens: int = 32, name: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(path), padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(str(path)).eval()
        self.max_new_tokens = max_new_tokens
        self.name = name or str(path).rstrip("/").rsplit("/", 1)[-1]

    def generate(self, prompts: Sequence[str]) -> list[str]:
        import torch

        batch = self.tokenizer(list(prompts), return_tensors="pt", padding=True)
        with torch.no_grad():
            out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id)
        new = out[:, batch["input_ids"].shape[1]:]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]


class OpenAICompletions:
    """POST {base_url}/v1/completions with a batch of prompts; outputs ordered by `index`."""

    def __init__(self, base_url: str, model: str, *, max_tokens: int = 64, temperature: float = 0.0,
                 api_key: str | None = None, timeout: float = 60.0, retries: int = 2):
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self.model, self.max_tokens, self.temperature, self.retries = model, max_tokens, temperature, retries
        self.name = model

    def generate(self, prompts: Sequence[str]) -> list[str]:
        import httpx

        body = {"model": self.model, "prompt": list(prompts), "max_tokens": self.max_tokens,
                "temperature": self.temperature}
        for attempt in range(self.retries + 1):
            try:
                response = self.client.post("/v1/completions", json=body)
                break
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
        if response.status_code != 200:
            raise RuntimeError(f"completions endpoint answered {response.status_code}: {response.text[:200]}")
        choices = sorted(response.json()["choices"], key=lambda c: c["index"])
        if len(choices) != len(prompts):
            raise RuntimeError(f"endpoint returned {len(choices)} choices for {len(prompts)} prompts")
        return [c["text"].strip() for c in choices]
