"""Worker functions the notebook and the benchmark launch (they must be importable by the workers).

Each returns plain numbers and numpy arrays; the caller computes any reference
itself, in its own process.
"""
from __future__ import annotations

import torch

from .pipeline import deep_mlp, pipeline_parallel
from .ring import ring_allreduce
from .tensor_parallel import CALLS, tensor_parallel_mlp


def rank_input(rank: int, numel: int) -> torch.Tensor:
    """The tensor rank `rank` contributes: integer-valued float32, so sums are exact."""
    return torch.randint(-9, 10, (numel,), generator=torch.Generator().manual_seed(rank)).float()


def ring_demo(rank, world_size, numel):
    log = []
    out = ring_allreduce(rank_input(rank, numel), log=log)
    return dict(result=out.numpy(), log=[(s.phase, s.step, s.sent, s.received, s.bytes_sent) for s in log])


def pipeline_demo(rank, world_size, micro_batches, kind, seed=1):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(8, 8, dtype=torch.float64, generator=g)
    y = torch.randn(8, 1, dtype=torch.float64, generator=g)
    torch.manual_seed(seed)
    res = pipeline_parallel(deep_mlp(8, 16, 4, 1), X, y, micro_batches=micro_batches, kind=kind)
    return dict(grads=res.grads, log=[(op, m) for op, m, _ in res.log], peak=res.peak_activations, loss=res.loss)


def tensor_parallel_demo(rank, world_size, seed=0):
    torch.manual_seed(seed)
    fc1 = torch.nn.Linear(6, 8, dtype=torch.float64)
    fc2 = torch.nn.Linear(8, 3, dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    shard = tensor_parallel_mlp(fc1, fc2)
    before = dict(CALLS)
    y = shard(x)
    y.pow(2).sum().backward()
    return dict(y=y.detach().numpy(), x_grad=x.grad.numpy(), w1_grad=shard.w1.grad.numpy(), span=shard.span,
                calls={k: CALLS[k] - before[k] for k in CALLS})

