"""What every rank does before its training loop, shared by the data-parallel and parameter-server workers."""
from __future__ import annotations

import random

import numpy as np
import torch

from .loader import ShardLoader


def seed_rank(seed: int, rank: int) -> None:
    """Per-rank RNG for dropout and anything else random: different per rank, fixed per seed."""
    torch.manual_seed(seed * 1000 + rank + 1)
    np.random.seed(seed * 1000 + rank + 1)
    random.seed(seed * 1000 + rank + 1)


def generator_seed(seed: int, data_rank: int) -> int:
    """The seed of a data rank's loader generator (its augmentation noise)."""
    return seed * 1000 + data_rank + 7


def build(config, rank: int, data_rank: int, data_world: int):
    """Model (same init on every rank), optimizer, loader for one rank, RNGs seeded."""
    torch.manual_seed(config.seed)
    model = config.model()
    optimizer = make_optimizer(config, model)
    X, y = config.dataset()
    loader = ShardLoader(X, y, data_rank, data_world, config.batch_size, sampler_seed=config.seed,
                         shuffle=config.shuffle, noise=config.augment_noise,
                         generator_seed=generator_seed(config.seed, data_rank))
    seed_rank(config.seed, rank)
    return model, optimizer, loader


def make_optimizer(config, model) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)


def state_arrays(model) -> dict:
    """name -> numpy copy of every parameter and buffer (what a result carries back)."""
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
