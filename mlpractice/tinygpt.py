"""A tiny GPT over bytes, in nanoGPT's shape, trained offline on the English documentation that ships
with Python (`pydoc_data.topics`).

Tokens are the 256 byte values plus one end-of-text token (256), which starts every text: any string is
encodable and nothing is unknown. The model is token and position embeddings, `n_layer` pre-norm blocks of
causal self-attention and a 4x GELU MLP, a final LayerNorm and a head tied to the token embedding.
`load("early")` and `load("late")` return the two committed checkpoints of one seeded training run
(tinygpt_train.py reproduces them); they differ visibly in quality, so comparisons between them are real.
The exercises use it as a real language model that works offline: perplexity, log-likelihood scoring and
judging in exercise 1, generation with a KV cache in exercise 2.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

EOT = 256  # end of text: the prefix of every text, and what generation stops at
CHECKPOINTS = Path(__file__).resolve().parent / "data" / "tinygpt"


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 257
    context: int = 128
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 96


class SelfAttention(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.n_head = c.n_head
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.proj = nn.Linear(c.n_embd, c.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(c.n_embd), SelfAttention(c)
        self.ln2 = nn.LayerNorm(c.n_embd)
        self.mlp = nn.Sequential(nn.Linear(c.n_embd, 4 * c.n_embd), nn.GELU(), nn.Linear(4 * c.n_embd, c.n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig = GPTConfig()):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.context, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.wte.weight  # tied, as GPT-2
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith(("proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (batch, time, vocab) for token ids (batch, time), time <= config.context."""
        t = idx.shape[1]
        if t > self.config.context:
            raise ValueError(f"{t} tokens is longer than the model's context of {self.config.context}")
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def encode(text: str) -> list[int]:
    """The end-of-text prefix, then the text's UTF-8 bytes."""
    return [EOT, *text.encode("utf-8")]


def decode(ids) -> str:
    """The bytes among `ids` as text (end-of-text tokens dropped; a cut multi-byte character shows as U+FFFD)."""
    return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


def save(model: GPT, path: Path, metadata: dict) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k != "head.weight"}
    save_file(state, str(path), metadata={"config": json.dumps(asdict(model.config)),
                                          **{k: json.dumps(v) for k, v in metadata.items()}})


def load(name: str = "late", directory: Path = CHECKPOINTS) -> GPT:
    """A committed checkpoint ("early" or "late") in eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(directory) / f"{name}.safetensors"
    if not path.exists():
        known = sorted(p.stem for p in Path(directory).glob("*.safetensors"))
        raise ValueError(f"no tiny GPT checkpoint {name!r}: choose one of {known}")
    with safe_open(str(path), "pt") as f:
        config = GPTConfig(**json.loads(f.metadata()["config"]))
    model = GPT(config)
    state = load_file(str(path))
    state["head.weight"] = state["wte.weight"]
    model.load_state_dict(state)
    return model.eval()


def metadata(name: str = "late", directory: Path = CHECKPOINTS) -> dict:
    from safetensors import safe_open

    with safe_open(str(Path(directory) / f"{name}.safetensors"), "pt") as f:
        return {k: json.loads(v) for k, v in f.metadata().items()}


# Generation. `generate` is the reference: one prompt alone, the whole sequence recomputed for every new
# token. The serving engine (exercise 2) must produce exactly its tokens, so both take their sampling and
# their stopping rule from the two functions below.

def sample_next(logits_row: torch.Tensor, temperature: float, generator: torch.Generator) -> int:
    """The next token from one row of logits: argmax at temperature 0 (the first index on a tie), else a
    draw from softmax(logits / temperature), computed in float64, with `generator`."""
    if temperature == 0:
        return int(torch.argmax(logits_row))
    probs = torch.softmax(logits_row.double() / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def finish_check(prompt_len: int, generated: list[int], max_tokens: int, stop: tuple[str, ...],
                 context: int) -> tuple[str | None, int]:
    """Whether generation ends after the last token of `generated`: (reason, how many of `generated`
    are output), reason None to go on. Checked in this order:
      - the token is EOT: "eos", and the EOT is not output;
      - the generated bytes end with a stop string's UTF-8 bytes: "stop", and those bytes are not output
        (the longest, when several match). Tested after every token, so the first occurrence ends it;
      - max_tokens tokens were generated, or prompt + generated reached the context: "length".
    """
    n = len(generated)
    if generated[-1] == EOT:
        return "eos", n - 1
    stops = [s.encode("utf-8") for s in stop if s]
    longest = max(map(len, stops), default=0)
    tail = bytes(generated[-longest:]) if longest else b""
    matched = [len(s) for s in stops if tail.endswith(s)]
    if matched:
        return "stop", n - max(matched)
    if n >= max_tokens or prompt_len + n >= context:
        return "length", n
    return None, n


def generate(model: GPT, prompt_ids, max_tokens: int, *, temperature: float = 0.0, seed: int | None = None,
             stop: tuple[str, ...] = ()) -> tuple[list[int], str]:
    """Generate from `prompt_ids` alone by full recompute (no cache): (output ids, finish reason).

    One torch.Generator seeded with `seed` (None means 0) per call; runs in the model's dtype.
    """
    ids = [int(i) for i in prompt_ids]
    if not ids or max_tokens < 1:
        raise ValueError("generate needs a non-empty prompt and max_tokens >= 1")
    generator = torch.Generator().manual_seed(0 if seed is None else seed)
    generated: list[int] = []
    with torch.no_grad():
        while True:
            logits = model(torch.tensor([ids + generated]))[0, -1]
            generated.append(sample_next(logits, temperature, generator))
            reason, keep = finish_check(len(ids), generated, max_tokens, tuple(stop), model.config.context)
            if reason is not None:
                return generated[:keep], reason
