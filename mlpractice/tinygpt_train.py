"""Train the tiny GPT's two checkpoints from a seeded recipe: `python -m mlpractice.tinygpt_train`.

The data is `pydoc_data.topics` (English text in every Python) split as exercise 1's `heldout_text`:
all but the last 4000 characters to train on, those to score. The recipe (RECIPE) fixes the seed,
the model's shape, the optimizer (AdamW, warm-up then cosine decay, gradient clipping) and the steps;
two threads, a fixed number, so the floating-point reductions happen in the same order every run. "early" is the model after
`early_step` steps, "late" after all of them. Each checkpoint records the recipe, its SHA-256 and
the held-out bits per byte. `--check` trains again and compares with the committed checkpoints bit
for bit (that holds on the same torch build and CPU family; elsewhere expect the last bits to move).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import sys
import time

import torch
from torch.nn import functional as F

from . import tinygpt
from .data.llm_eval import heldout_text

RECIPE = {"seed": 0, "n_layer": 3, "n_head": 4, "n_embd": 96, "context": 64, "steps": 900, "early_step": 60,
          "batch": 32, "lr": 6e-3, "min_lr": 3e-4, "warmup": 40, "betas": [0.9, 0.95], "weight_decay": 0.1,
          "grad_clip": 1.0, "threads": 2}


def recipe_sha(recipe: dict = RECIPE) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def training_tokens() -> torch.Tensor:
    train, _ = heldout_text()
    return torch.tensor(tinygpt.encode(train), dtype=torch.long)


def learning_rate(step: int, r: dict) -> float:
    if step < r["warmup"]:
        return r["lr"] * (step + 1) / r["warmup"]
    progress = (step - r["warmup"]) / max(1, r["steps"] - r["warmup"])
    return r["min_lr"] + 0.5 * (r["lr"] - r["min_lr"]) * (1 + math.cos(math.pi * progress))


def heldout_bits_per_byte(model: tinygpt.GPT) -> float:
    """Bits per byte of the held-out text, scored in windows of the model's context, each after an
    end-of-text token (every byte scored once, with the bytes before it in its window as context)."""
    _, held = heldout_text()
    data = held.encode("utf-8")
    width = model.config.context - 1
    nll, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), width):
            ids = torch.tensor([[tinygpt.EOT, *data[start:start + width]]])
            logits = model(ids[:, :-1]).double()
            nll += F.cross_entropy(logits[0], ids[0, 1:], reduction="sum").item()
            count += ids.shape[1] - 1
    return nll / count / math.log(2)


def train(recipe: dict = RECIPE, steps: int | None = None) -> dict[str, tinygpt.GPT]:
    """{"early": ..., "late": ...} after `early_step` and `steps` steps of the recipe."""
    r = recipe
    torch.manual_seed(r["seed"])
    torch.set_num_threads(r["threads"])
    config = tinygpt.GPTConfig(context=r["context"], n_layer=r["n_layer"], n_head=r["n_head"], n_embd=r["n_embd"])
    model = tinygpt.GPT(config)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": r["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=r["lr"], betas=tuple(r["betas"]))
    data = training_tokens()
    g = torch.Generator().manual_seed(r["seed"])
    out = {}
    for step in range(steps if steps is not None else r["steps"]):
        if step == r["early_step"]:
            out["early"] = copy.deepcopy(model).eval()
        starts = torch.randint(0, len(data) - r["context"] - 1, (r["batch"],), generator=g)
        chunk = torch.stack([data[s:s + r["context"] + 1] for s in starts.tolist()])
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, r)
        logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), r["grad_clip"])
        opt.step()
    out["late"] = model.eval()
    return out


def weights_sha(model: tinygpt.GPT) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="train again and compare with the committed checkpoints")
    args = p.parse_args(argv)
    start = time.perf_counter()
    models = train()
    seconds = time.perf_counter() - start
    print(f"trained {RECIPE['steps']} steps in {seconds:.0f} s (recipe {recipe_sha()[:12]})")
    status = 0
    for name, model in models.items():
        step = RECIPE["early_step"] if name == "early" else RECIPE["steps"]
        bpb = heldout_bits_per_byte(model)
        params = sum(p.numel() for p in model.parameters())
        if args.check:
            committed = tinygpt.load(name)
            same = weights_sha(committed) == weights_sha(model)
            status |= not same
            print(f"{name}: {'identical to' if same else 'DIFFERS from'} the committed checkpoint")
        else:
            tinygpt.CHECKPOINTS.mkdir(parents=True, exist_ok=True)
            tinygpt.save(model, tinygpt.CHECKPOINTS / f"{name}.safetensors",
                         {"recipe": RECIPE, "recipe_sha": recipe_sha(), "step": step,
                          "heldout_bits_per_byte": round(bpb, 4), "weights_sha": weights_sha(model)})
        print(f"{name}: step {step}, {params} parameters, held-out {bpb:.3f} bits/byte "
              f"(perplexity per byte {2 ** bpb:.2f})")
    return status


if __name__ == "__main__":
    sys.exit(main())
