# Starter code generated from solutions/distributed/sharding.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""Which sample indices each data-parallel rank reads in one epoch.

`shard_indices` is the exact contract of `torch.utils.data.DistributedSampler`,
written out so the learner sees every rule; the tests check it against the
sampler itself for every combination of arguments.
"""
from __future__ import annotations

import math

import torch


def shard_indices(num_samples: int, rank: int, world_size: int, *, shuffle: bool = True, seed: int = 0,
                  epoch: int = 0, drop_last: bool = False) -> list[int]:
    """The indices rank `rank` of `world_size` reads in epoch `epoch`, in reading order.

    Exact semantics (those of DistributedSampler):
    1. Order: `torch.randperm(num_samples, generator=g)` with `g.manual_seed(seed + epoch)` when
       `shuffle`, else `0, 1, ..., num_samples - 1`. Every rank computes the same order, which is
       why no communication is needed, and why changing `epoch` reshuffles.
    2. Length: every rank gets the same count `per_rank`, so collective steps line up:
       `ceil((num_samples - world_size) / world_size)` if `drop_last` and num_samples is not
       divisible by world_size (the tail is dropped), else `ceil(num_samples / world_size)`
       (the order is padded by repeating it from its start, cyclically if needed).
       Total used: `per_rank * world_size`.
    3. Assignment: rank r takes positions r, r + world_size, r + 2 * world_size, ... (strided,
       not contiguous blocks) of the padded or truncated order.
    Raises ValueError for a rank outside [0, world_size) or a negative sample count, TypeError
    unless num_samples, rank, world_size, seed and epoch are ints.
    """
    if not all(isinstance(v, int) for v in (num_samples, rank, world_size, seed, epoch)):
        raise TypeError("num_samples, rank, world_size, seed and epoch must be ints")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    # Exercise 3.1: shard the dataset exactly like DistributedSampler.
    # Hint: build the full order, pad or cut it to per_rank * world_size, then take order[rank::world_size].
    raise NotImplementedError('Exercise 3.1: shard the dataset exactly like DistributedSampler - see notebooks/03_distributed_training.ipynb, section 1')
