"""Workers for the 3.10 tests (ZeRO stage 1), run in real gloo processes.

The oracle is plain data parallelism: the same torch optimizer on the full parameters, after
dist.all_reduce / world_size of every gradient. State bytes are counted here, not by the
implementation's own counter.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from mlpractice.impl import load

STEPS = 4
OPTIMIZERS = {
    "sgd-momentum": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    "adam": (torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99))),
}
# total sizes 23 (prime), 2 (fewer elements than 3 ranks: an empty shard) and the MLP's 433
SHAPES = {"23": [(5, 3), (7,), (1,)], "2": [(2,)]}


def optimizer_state_bytes(optimizer) -> int:
    return sum(v.numel() * v.element_size() for s in optimizer.state.values() for v in s.values()
               if isinstance(v, torch.Tensor))


def make_params(case):
    torch.manual_seed(11)
    if case == "mlp":
        return list(load("distributed").mlp(8, 16, 1, dropout=0.0).parameters())
    return [torch.nn.Parameter(torch.randn(shape, dtype=torch.float64)) for shape in SHAPES[case]]


def loss_of(params, rank, step):
    """A rank- and step-dependent smooth loss: the ranks' gradients differ, and change over the steps."""
    g = torch.Generator().manual_seed(1000 * rank + step)
    total = 0
    for p in params:
        target = torch.randn(p.shape, dtype=torch.float64, generator=g)
        total = total + ((p - target) ** 2 * (1 + rank)).sum() + torch.sin(p * (step + 1)).sum()
    return total


def run(case, optimizer, rank, world_size, zero):
    distributed = load("distributed")
    params = make_params(case)
    cls, options = OPTIMIZERS[optimizer]
    opt = distributed.ZeroOptimizer(params, cls, **options) if zero else cls(params, **options)
    history = []
    for step in range(STEPS):
        opt.zero_grad()
        loss_of(params, rank, step).backward()
        if not zero:
            for p in params:
                dist.all_reduce(p.grad)
                p.grad /= world_size
        opt.step()
        history.append(torch.cat([p.detach().reshape(-1) for p in params]).numpy().copy())
    inner = opt.optimizer if zero else opt
    return dict(history=np.array(history), state_bytes=optimizer_state_bytes(inner),
                shard=(opt.owned, opt.shard.numel()) if zero else None,
                inner_params=[p.numel() for group in inner.param_groups for p in group["params"]])


def zero_vs_plain(rank, world_size):
    out = {}
    for case in ("23", "2", "mlp"):
        for optimizer in OPTIMIZERS:
            out[case, optimizer] = dict(zero=run(case, optimizer, rank, world_size, True),
                                        plain=run(case, optimizer, rank, world_size, False))
    try:
        load("distributed").ZeroOptimizer([torch.nn.Parameter(torch.ones(2)), *make_params("2")], torch.optim.SGD)
        out["mixed"] = None
    except ValueError as err:
        out["mixed"] = str(err)
    return out


def missing_gradient(rank, world_size):
    """One good step, then a step where parameters 1 and 2 got no gradient."""
    distributed = load("distributed")
    params = make_params("23")
    opt = distributed.ZeroOptimizer(params, torch.optim.SGD, lr=0.1)
    loss_of(params, rank, 0).backward()
    opt.step()
    opt.zero_grad()
    params[0].sum().backward()
    opt.step()
