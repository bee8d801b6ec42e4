"""Single-process oracle: SGD with momentum on the concatenation of all ranks' batches.

The batch order comes from torch's own DistributedSampler, so this reference
shares no code with the implementation under test.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data.distributed import DistributedSampler


def concatenated_batches(num_samples, world_size, batch_size, epochs, seed):
    """For every global step, the indices of all ranks' batches concatenated (rank 0 first)."""
    steps = []
    for epoch in range(epochs):
        per_rank = []
        for rank in range(world_size):
            sampler = DistributedSampler(range(num_samples), num_replicas=world_size, rank=rank, seed=seed)
            sampler.set_epoch(epoch)
            per_rank.append(list(sampler))
        n = len(per_rank[0])
        for start in range(0, n, batch_size):
            steps.append([i for idx in per_rank for i in idx[start:start + batch_size]])
    return steps


def single_process_sgd(config, world_size):
    """Parameter vector after every step of plain SGD(momentum) on the concatenated batches."""
    torch.manual_seed(config.seed)
    model = config.model()
    model.eval()  # the equality tests run without dropout; eval() also skips the buffer update
    X, y = (torch.as_tensor(a) for a in config.dataset())
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    history = []
    for idx in concatenated_batches(len(X), world_size, config.batch_size, config.epochs, config.seed):
        take = torch.tensor(idx)
        loss = torch.nn.functional.mse_loss(model(X[take]), y[take])
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy())
    return np.array(history)
