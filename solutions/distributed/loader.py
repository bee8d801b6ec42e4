"""Per-rank data loader: this rank's shard, in batches, with seeded augmentation noise.

The loader owns a `torch.Generator` (its augmentation noise), separate from the
global RNG that dropout uses, exactly like a DataLoader's `generator=`. Resuming
bit-identically needs both, plus the position (epoch, step within the epoch).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .sharding import shard_indices


class ShardLoader:
    """Batches of rank `rank`'s shard for one epoch at a time.

    `batches(epoch, start_step)` yields (step, x, y) for steps start_step, start_step + 1, ...
    of that epoch; the order comes from shard_indices(seed=sampler_seed, epoch=epoch), so
    skipping to `start_step` needs no replay. Every rank has the same number of steps per
    epoch (the shards are padded to equal length), so collectives line up.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, rank: int, world_size: int, batch_size: int, *,
                 sampler_seed: int = 0, shuffle: bool = True, noise: float = 0.0, generator_seed: int = 0):
        if len(X) != len(y):
            raise ValueError(f"X and y differ in length: {len(X)} vs {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.X, self.y = torch.as_tensor(X), torch.as_tensor(y)
        self.rank, self.world_size, self.batch_size = rank, world_size, batch_size
        self.sampler_seed, self.shuffle, self.noise = sampler_seed, shuffle, noise
        self.generator = torch.Generator().manual_seed(generator_seed)

    def indices(self, epoch: int) -> list[int]:
        return shard_indices(len(self.X), self.rank, self.world_size, shuffle=self.shuffle,
                             seed=self.sampler_seed, epoch=epoch)

    def steps_per_epoch(self) -> int:
        return math.ceil(math.ceil(len(self.X) / self.world_size) / self.batch_size)

    def batches(self, epoch: int, start_step: int = 0):
        idx = self.indices(epoch)
        for step in range(start_step, self.steps_per_epoch()):
            take = torch.tensor(idx[step * self.batch_size:(step + 1) * self.batch_size])
            x = self.X[take]
            if self.noise:
                x = x + self.noise * torch.randn(x.shape, generator=self.generator, dtype=x.dtype)
            yield step, x, self.y[take]
