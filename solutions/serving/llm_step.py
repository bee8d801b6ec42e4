"""The tiny GPT's forward pass with a KV cache: a prefill for a new prompt, a batched decode for the rest.

mlpractice/tinygpt.py's `GPT.forward` recomputes every position of the sequence for every new token. Here
the same modules run in the two shapes a serving engine needs:

  prefill(model, ids, cache)   the whole prompt in one forward (causal attention over itself), writing
                               every layer's K and V into the empty cache; the logits of its last position.
  decode(model, tokens, positions, caches)
                               ONE forward for B sequences, each adding one token at its own position. The
                               linear layers (qkv, proj, MLP, head) see a (B, 1, d) batch; only attention is
                               per sequence, since each new token attends to its own sequence's cached K, V
                               plus its own. The caches have different lengths, so they are gathered into a
                               zero-padded (B, n_head, Lmax + 1, head_dim) batch with a mask that hides
                               the padding.

The arithmetic is the same as `GPT.forward`'s, so the logits agree with a full recompute to rounding
(tests/ex2_serving/test_continuous_batching.py checks 1e-9 in float64).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F


def _heads(z: torch.Tensor, n_head: int) -> torch.Tensor:
    """(B, T, d) -> (B, n_head, T, head_dim)."""
    b, t, d = z.shape
    return z.view(b, t, n_head, d // n_head).transpose(1, 2)


def _merge(y: torch.Tensor) -> torch.Tensor:
    """(B, n_head, T, head_dim) -> (B, T, d)."""
    b, h, t, hd = y.shape
    return y.transpose(1, 2).reshape(b, t, h * hd)


@torch.no_grad()
def prefill(model, ids, cache) -> torch.Tensor:
    """Run prompt `ids` (a list of token ids) into the empty `cache`; the logits (vocab,) of its last position."""
    if cache.length != 0:
        raise ValueError("prefill writes a whole prompt into an empty cache (no chunked prefill here)")
    idx = torch.tensor([list(ids)])
    t = idx.shape[1]
    x = model.wte(idx) + model.wpe(torch.arange(t))
    for layer, block in enumerate(model.blocks):
        n_head = block.attn.n_head
        q, k, v = (_heads(z, n_head) for z in block.attn.qkv(block.ln1(x)).split(x.shape[-1], dim=2))
        cache.append(layer, k[0], v[0])
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + block.attn.proj(_merge(y))
        x = x + block.mlp(block.ln2(x))
    cache.advance(t)
    return model.head(model.ln_f(x[0, -1]))


def _padded_past(caches, layer: int, k_new: torch.Tensor, v_new: torch.Tensor):
    """Each sequence's cached K, V of `layer` followed by its new token's k, v, left-aligned in a zero-padded
    (B, n_head, Lmax + 1, head_dim) batch, and the (B, 1, 1, Lmax + 1) mask of the real positions."""
    # BEGIN SOLUTION [2.9] gather the caches and the new tokens into one padded batch with its mask (section 7)
    # HINT: sequence i has lengths[i] cached positions; its new k, v go right after them, at index lengths[i].
    lengths = [c.length for c in caches]
    b, n_head, _, head_dim = k_new.shape
    keys = k_new.new_zeros(b, n_head, max(lengths) + 1, head_dim)
    values = torch.zeros_like(keys)
    mask = torch.zeros(b, 1, 1, max(lengths) + 1, dtype=torch.bool)
    for i, (cache, n) in enumerate(zip(caches, lengths)):
        past_k, past_v = cache.view(layer)
        keys[i, :, :n], values[i, :, :n] = past_k, past_v
        keys[i, :, n], values[i, :, n] = k_new[i, :, 0], v_new[i, :, 0]
        mask[i, ..., :n + 1] = True
    return keys, values, mask
    # END SOLUTION


@torch.no_grad()
def decode(model, tokens, positions, caches) -> torch.Tensor:
    """One new token per sequence: tokens[i] at position positions[i] (its cache's length) of the sequence
    cached in caches[i]. Appends every layer's new K, V to each cache; the logits (B, vocab)."""
    idx, pos = torch.tensor(list(tokens)), torch.tensor(list(positions))
    x = (model.wte(idx) + model.wpe(pos)).unsqueeze(1)  # (B, 1, d): each sequence is one new position
    for layer, block in enumerate(model.blocks):
        n_head = block.attn.n_head
        q, k, v = (_heads(z, n_head) for z in block.attn.qkv(block.ln1(x)).split(x.shape[-1], dim=2))
        keys, values, mask = _padded_past(caches, layer, k, v)
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        for i, cache in enumerate(caches):
            cache.append(layer, k[i], v[i])
        x = x + block.attn.proj(_merge(y))
        x = x + block.mlp(block.ln2(x))
    for cache in caches:
        cache.advance(1)
    return model.head(model.ln_f(x[:, 0]))
