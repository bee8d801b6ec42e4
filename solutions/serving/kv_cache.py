"""The KV cache: each layer's keys and values of the tokens a sequence has seen, kept so that a new token
costs one position of compute instead of the whole sequence again.

Generating token t+1 needs attention from the new token to the keys and values of tokens 0..t, in every
layer. Those keys and values never change once computed (the attention is causal), so the engine stores
them: K and V of shape (n_layer, n_head, length, head_dim) per sequence, filled by the prefill (the whole
prompt at once) and then one position per decode step.

Two layouts of the same thing:

  ContiguousCache  one slab per sequence, preallocated to the context (`max_len`). Simple and fast to
                   read, but every sequence holds memory for the longest sequence it could become.
  PagedCache       vLLM's PagedAttention layout: memory is a shared pool of fixed-size blocks of
                   `block_size` positions (BlockPool); a sequence holds a block table (the ids of its
                   blocks, in order) and takes a new block only when its last one is full. A sequence
                   wastes at most block_size - 1 positions, so many more fit in the same memory.

Both have one interface, so the model code (llm_step.py) does not know which it writes to:
`append(k, v)` writes t new positions of every layer, k and v shaped (n_layer, n_head, t, head_dim), after
the `length` already held, and adds t to `length`; `view()` reads all of it back, (n_layer, n_head, length,
head_dim) each; `reserved_tokens` is the memory it holds, in positions, and `free()` gives it back. The
model writes a step's keys and values once per sequence, after its forward (not once per layer): the
Python cost of a step then grows by one append and one view per sequence. `kv_positions` is the most a
sequence can ever hold: what the scheduler reserves for it, in blocks, when it admits it.
"""
from __future__ import annotations

import math
from collections import deque

import torch


def kv_positions(prompt_len: int, max_tokens: int, context: int) -> int:
    """The most positions a sequence ever caches: its prompt and every generated token but the last (which
    is never fed back), and generation stops once prompt + generated reaches the context."""
    return prompt_len - 1 + min(max_tokens, max(context - prompt_len, 1))


class OutOfBlocks(RuntimeError):
    """The block pool has no free block (the scheduler reserves blocks at admission, so it never sees this)."""


class ContiguousCache:
    """One sequence's keys and values, preallocated to `max_len` positions."""

    def __init__(self, n_layer: int, n_head: int, head_dim: int, max_len: int, dtype: torch.dtype):
        self.max_len = max_len
        self.k: torch.Tensor | None = torch.zeros(n_layer, n_head, max_len, head_dim, dtype=dtype)
        self.v: torch.Tensor | None = torch.zeros_like(self.k)
        self.length = 0

    def append(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Write k, v (n_layer, n_head, t, head_dim) at positions length..length+t-1; length += t."""
        # BEGIN SOLUTION [2.9] write into and read from the contiguous cache (section 7)
        start, t = self.length, k.shape[2]
        if start + t > self.max_len:
            raise ValueError(f"{start + t} positions do not fit a cache of {self.max_len}")
        self.k[:, :, start:start + t] = k
        self.v[:, :, start:start + t] = v
        self.length += t
        # END SOLUTION

    def view(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(K, V), each (n_layer, n_head, length, head_dim): slices of the slab, no copy."""
        # BEGIN SOLUTION [2.9] write into and read from the contiguous cache (section 7)
        return self.k[:, :, :self.length], self.v[:, :, :self.length]
        # END SOLUTION

    def free(self) -> None:
        self.k = self.v = None
        self.length = 0

    @property
    def reserved_tokens(self) -> int:
        """Positions of memory held: the whole context, however short the sequence."""
        return 0 if self.k is None else self.max_len


class BlockPool:
    """The memory of every paged cache: K and V of `num_blocks` blocks of `block_size` positions each,
    shaped (num_blocks, n_layer, n_head, block_size, head_dim), and the list of free blocks."""

    def __init__(self, num_blocks: int, block_size: int, n_layer: int, n_head: int, head_dim: int,
                 dtype: torch.dtype):
        self.num_blocks, self.block_size = num_blocks, block_size
        self.k = torch.zeros(num_blocks, n_layer, n_head, block_size, head_dim, dtype=dtype)
        self.v = torch.zeros_like(self.k)
        self._free = deque(range(num_blocks))
        self._in_use: set[int] = set()

    def allocate(self) -> int:
        if not self._free:
            raise OutOfBlocks(f"all {self.num_blocks} KV blocks are in use")
        block = self._free.popleft()
        self._in_use.add(block)
        return block

    def free(self, block: int) -> None:
        if block not in self._in_use:
            raise ValueError(f"block {block} is not in use (freed twice?)")
        self._in_use.remove(block)
        self._free.append(block)

    @property
    def blocks_in_use(self) -> int:
        return len(self._in_use)

    @property
    def free_blocks(self) -> int:
        return len(self._free)

    def blocks_for(self, tokens: int) -> int:
        """Blocks that hold `tokens` positions."""
        return math.ceil(tokens / self.block_size)


class PagedCache:
    """One sequence's keys and values in blocks of a shared BlockPool, found through its block table."""

    def __init__(self, pool: BlockPool):
        self.pool = pool
        self.blocks: list[int] = []  # the block table: position p lives in blocks[p // block_size]
        self.length = 0

    def append(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Write k, v (n_layer, n_head, t, head_dim) at positions length..length+t-1, taking new blocks from
        the pool only when the last one is full; length += t."""
        # BEGIN SOLUTION [2.10] take blocks on demand and write through the block table (section 7)
        # HINT: position p lives in block self.blocks[p // block_size] at offset p % block_size.
        bs, t = self.pool.block_size, k.shape[2]
        while len(self.blocks) * bs < self.length + t:
            self.blocks.append(self.pool.allocate())
        written = 0
        while written < t:  # one slice per block the new positions fall in
            pos = self.length + written
            block, offset = self.blocks[pos // bs], pos % bs
            n = min(bs - offset, t - written)
            self.pool.k[block, :, :, offset:offset + n] = k[:, :, written:written + n]
            self.pool.v[block, :, :, offset:offset + n] = v[:, :, written:written + n]
            written += n
        self.length += t
        # END SOLUTION

    def view(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(K, V), each (n_layer, n_head, length, head_dim), gathered from the blocks (a copy: a real
        paged-attention kernel reads the blocks in place through the block table instead)."""
        # BEGIN SOLUTION [2.10] read a sequence's keys and values back through its block table (section 7)
        table = torch.tensor(self.blocks, dtype=torch.long)
        return self._gather(self.pool.k, table), self._gather(self.pool.v, table)
        # END SOLUTION

    def _gather(self, store: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION [2.10] read a sequence's keys and values back through its block table (section 7)
        blocks = store[table]  # (blocks, n_layer, n_head, block_size, head_dim)
        n_layer, n_head, head_dim = blocks.shape[1], blocks.shape[2], blocks.shape[4]
        positions = len(table) * self.pool.block_size
        return blocks.permute(1, 2, 0, 3, 4).reshape(n_layer, n_head, positions, head_dim)[:, :, :self.length]
        # END SOLUTION

    def free(self) -> None:
        for block in self.blocks:
            self.pool.free(block)
        self.blocks = []
        self.length = 0

    @property
    def reserved_tokens(self) -> int:
        """Positions of memory held: the blocks' worth, at most block_size - 1 more than the length."""
        return len(self.blocks) * self.pool.block_size
