"""One scheduler step of the tiny GPT with a KV cache, in ONE forward pass (Orca's selective batching).

mlpractice/tinygpt.py's `GPT.forward` recomputes every position of the sequence for every new token. A
serving step has two kinds of work instead:

  prefills   admitted prompts, each whole, writing every layer's K and V into its (empty) cache; the logits
             of its last position give its first token.
  decodes    running sequences, each adding one token at its own position and attending to its own cache.

`step_forward` runs both at once. Every token of the step, all the prompts' and one per decode, is a row of
one (N, d) batch for the layers that treat tokens independently: embeddings, layer norms, the qkv and
output projections, the MLP, the head. That is where the FLOPs are, and why a step of 16 sequences costs
far less than 16 steps of one. Only attention is per sequence:

  prefills   right-padded into (P, n_head, Tmax, head_dim) with causal attention: a real position attends
             only to earlier ones, so it never sees the padding after its prompt.
  decodes    `_padded_past`: the caches have different lengths, so once per step they are copied into one
             zero-padded (B, n_layer, n_head, Lmax + 1, head_dim) batch, with a mask of the real positions.
             Layer by layer, the new tokens' k, v go into the last column, after the padding: attention is a
             weighted sum over a SET of keys, so their order carries nothing (positions entered through the
             embeddings).

After the forward each cache appends the step's positions of every layer in one call (`_write`).
The arithmetic is GPT.forward's, so the logits agree with a full recompute to rounding
(tests/ex2_serving/test_continuous_batching.py checks 1e-9 in float64).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F
from torch.nn.utils.rnn import pad_sequence


def _heads(z: torch.Tensor, n_head: int) -> torch.Tensor:
    """(B, T, d) -> (B, n_head, T, head_dim)."""
    b, t, d = z.shape
    return z.view(b, t, n_head, d // n_head).transpose(1, 2)


def _merge(y: torch.Tensor) -> torch.Tensor:
    """(B, n_head, T, head_dim) -> (B, T, d)."""
    b, h, t, hd = y.shape
    return y.transpose(1, 2).reshape(b, t, h * hd)


def _padded_past(caches):
    """Every sequence's cached K, V in one zero-padded batch one column wider than the longest cache (Lmax):
    (B, n_layer, n_head, Lmax + 1, head_dim) each, column Lmax left for the new token's k, v (the decode writes
    it, layer by layer); and the (B, 1, 1, Lmax + 1) boolean mask of what each new token attends to: its own
    cached positions and column Lmax."""
    # BEGIN SOLUTION [2.9] gather the caches into one padded batch, and the mask of the real positions (section 7)
    # HINT: sequence i has lengths[i] cached positions (columns 0..lengths[i]-1); columns lengths[i]..Lmax-1
    # HINT: are padding, and column Lmax will hold its new token.
    lengths, pasts = [cache.length for cache in caches], [cache.view() for cache in caches]
    n_layer, n_head, _, head_dim = pasts[0][0].shape
    keys = pasts[0][0].new_zeros(len(caches), n_layer, n_head, max(lengths) + 1, head_dim)
    values = torch.zeros_like(keys)
    for i, (k, v) in enumerate(pasts):
        keys[i, :, :, :lengths[i]], values[i, :, :, :lengths[i]] = k, v
    columns = torch.arange(keys.shape[3])
    mask = (columns < torch.tensor(lengths)[:, None]) | (columns == keys.shape[3] - 1)
    return keys, values, mask[:, None, None, :]
    # END SOLUTION


def _prefill_attention(q, k, v, lengths: list[int], real: torch.Tensor, n_head: int):
    """Causal attention of each prompt over itself. q, k, v: the prompts' rows (sum of lengths, d), prompt
    after prompt; `real` (P, Tmax) marks each padded row's real positions. The attention output, the same
    rows; and k, v as (P, n_head, Tmax, head_dim), right-padded."""
    q, k, v = (_heads(pad_sequence(z.split(lengths), batch_first=True), n_head) for z in (q, k, v))
    y = _merge(F.scaled_dot_product_attention(q, k, v, is_causal=True))  # (P, Tmax, d)
    return y[real], k, v  # y[real]: back to (sum of lengths, d), prompt after prompt


def _decode_attention(q, k, v, n_head: int, keys, values, mask):
    """Each new token's attention over its sequence's cache and itself: keys, values are this layer's padded
    batch (B, n_head, Lmax + 1, head_dim), whose last column takes the new k, v here. q, k, v: one row (B, d)
    per decoding sequence. The output (B, d), and k, v as (B, n_head, 1, head_dim)."""
    q, k, v = (_heads(z.unsqueeze(1), n_head) for z in (q, k, v))
    keys[:, :, -1:], values[:, :, -1:] = k, v  # the new token is column Lmax
    return _merge(F.scaled_dot_product_attention(q, keys, values, attn_mask=mask))[:, 0], k, v


@torch.no_grad()
def step_forward(model, prompts, prompt_caches, tokens, caches) -> tuple[torch.Tensor, torch.Tensor]:
    """Prefill each prompts[i] (token ids) into the empty prompt_caches[i] and decode each tokens[j] at
    position caches[j].length of its sequence, in one forward; every cache then holds its new positions.
    The logits (P, vocab) of each prompt's last position and (B, vocab) of each decoded token."""
    if any(cache.length for cache in prompt_caches):
        raise ValueError("a prefill writes a whole prompt into an empty cache (no chunked prefill here)")
    lengths = [len(p) for p in prompts]
    ids = [i for p in prompts for i in p] + list(tokens)
    positions = [t for n in lengths for t in range(n)] + [cache.length for cache in caches]
    x = model.wte(torch.tensor(ids)) + model.wpe(torch.tensor(positions))  # (N, d): one row per token
    n_prompt, d = sum(lengths), x.shape[1]
    if prompts:  # the same for every layer
        real = torch.arange(max(lengths)) < torch.tensor(lengths)[:, None]
    if caches:
        past_k, past_v, mask = _padded_past(caches)
        # additive (0 or -inf), built once: SDPA would turn a boolean mask into this at every layer
        mask = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(~mask, float("-inf"))
    prompt_k, prompt_v, decode_k, decode_v = [], [], [], []  # each layer's new keys and values, for the caches
    for layer, block in enumerate(model.blocks):
        n_head = block.attn.n_head
        q, k, v = block.attn.qkv(block.ln1(x)).split(d, dim=1)
        parts = []
        if prompts:
            y, layer_k, layer_v = _prefill_attention(q[:n_prompt], k[:n_prompt], v[:n_prompt], lengths, real, n_head)
            parts.append(y)
            prompt_k.append(layer_k)
            prompt_v.append(layer_v)
        if caches:
            y, layer_k, layer_v = _decode_attention(q[n_prompt:], k[n_prompt:], v[n_prompt:], n_head,
                                                    past_k[:, layer], past_v[:, layer], mask)
            parts.append(y)
            decode_k.append(layer_k)
            decode_v.append(layer_v)
        x = x + block.attn.proj(torch.cat(parts))
        x = x + block.mlp(block.ln2(x))
    _write(prompt_caches, lengths, prompt_k, prompt_v)
    _write(caches, [1] * len(caches), decode_k, decode_v)
    last = torch.tensor(lengths).cumsum(0) - 1 if prompts else torch.zeros(0, dtype=torch.long)
    logits = model.head(model.ln_f(torch.cat([x[last], x[n_prompt:]])))
    return logits[:len(prompts)], logits[len(prompts):]


def _write(caches, counts, layer_k, layer_v) -> None:
    """After the forward, cache i appends its first counts[i] new positions of every layer in one call;
    layer_k, layer_v hold each layer's (B, n_head, T, head_dim)."""
    if not caches:
        return
    k, v = torch.stack(layer_k, dim=1), torch.stack(layer_v, dim=1)  # (B, n_layer, n_head, T, head_dim)
    for i, (cache, n) in enumerate(zip(caches, counts)):
        cache.append(k[i, :, :, :n], v[i, :, :, :n])
