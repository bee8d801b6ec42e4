"""ZeRO stage 1: every rank keeps the optimizer state of one shard of the parameters only.

Plain data parallelism keeps a full copy of the optimizer state on every rank: momentum for
SGD, two moments for Adam, i.e. one or two more copies of the model per rank. The ring
all-reduce already cuts the flattened gradient into N chunks, and after its reduce-scatter
phase rank r holds the finished sum of chunk (r + 1) % N. ZeRO stage 1 stops there: rank r
averages that chunk, steps a real torch optimizer on it (so its state covers that chunk
alone), writes the new values into its chunk of the flat parameters, and the ring's all-gather
phase copies every rank's updated chunk to all the others. Communication is the same as one
all-reduce; the optimizer state per rank is 1/N of plain data parallelism (the ring's chunks
differ by at most one element, so the largest is ceil(numel / N) and no padding is needed).
This equals plain data parallelism exactly for optimizers that update each element from that
element's own history (SGD, momentum, Adam, AdamW), not for those that look at a whole tensor
(LAMB's trust ratio, clipping by the global norm).
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from .models import flat_params, mlp
from .overlap import demo_data
from .ring import chunk_bounds, ring_all_gather, ring_reduce_scatter


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in the optimizer's per-parameter state (momentum, moments, step counters)."""
    return sum(v.numel() * v.element_size() for state in optimizer.state.values()
               for v in state.values() if isinstance(v, torch.Tensor))


class ZeroOptimizer:
    """`optimizer_cls(**options)` stepped on this rank's shard of `parameters`, flattened in order.

    Call it like a torch optimizer after backward (`zero_grad()`, `step()`): `step()` reduce-scatters
    the flat gradients over the ring (`ring_reduce_scatter`), divides this rank's finished chunk by
    the world size, steps `self.optimizer` on `self.shard` (a flat float parameter holding chunk
    `self.owned` of the flattened parameters), and all-gathers the updated chunks (`ring_all_gather`)
    into every parameter. Every parameter needs a gradient at `step()` (ValueError otherwise) and all
    share one dtype. The result equals plain data parallelism (gradients averaged over the ranks, then
    `optimizer_cls` on the full parameters) for element-wise optimizers.
    """

    def __init__(self, parameters, optimizer_cls, *, group=None, **options):
        self.params = list(parameters)
        if not self.params:
            raise ValueError("parameters: got none")
        dtypes = {p.dtype for p in self.params}
        if len(dtypes) > 1:
            raise ValueError(f"parameters: ZeroOptimizer needs one dtype, got {sorted(map(str, dtypes))}")
        if not (isinstance(optimizer_cls, type) and issubclass(optimizer_cls, torch.optim.Optimizer)):
            raise TypeError(f"optimizer_cls must be a torch.optim.Optimizer class, got {optimizer_cls!r}")
        self.group = group
        self.world_size, rank = dist.get_world_size(group), dist.get_rank(group)
        self.numel = sum(p.numel() for p in self.params)
        self.bounds = chunk_bounds(self.numel, self.world_size)
        self.owned = (rank + 1) % self.world_size  # the chunk the ring's reduce-scatter finishes on this rank
        a, b = self.bounds[self.owned]
        self.shard = torch.nn.Parameter(self.flat_params()[a:b].clone())
        self.optimizer = optimizer_cls([self.shard], **options)

    def flat_params(self) -> torch.Tensor:
        """A new contiguous 1-D copy of all parameters, in order."""
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    def flat_grads(self) -> torch.Tensor:
        """A new contiguous 1-D copy of all gradients, in order; ValueError naming a parameter without one."""
        missing = [i for i, p in enumerate(self.params) if p.grad is None]
        if missing:
            raise ValueError(f"parameters {missing} have no gradient: ZeroOptimizer.step() needs one for every "
                             "parameter on every rank (the ranks exchange equal-size flat buffers)")
        return torch.cat([p.grad.detach().reshape(-1) for p in self.params])

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def step(self) -> None:
        """One optimizer step of every rank's shard; afterwards every rank holds the same parameters."""
        grads = self.flat_grads()
        # BEGIN SOLUTION [3.10] reduce-scatter, step this rank's shard, all-gather (section 9)
        # HINT: owned = ring_reduce_scatter(grads, group=self.group); a, b = self.bounds[owned];
        # HINT: self.shard.grad = grads[a:b] / self.world_size; self.optimizer.step(); flat = self.flat_params();
        # HINT: flat[a:b] = self.shard; ring_all_gather(flat, group=self.group); copy flat's slices into the params.
        owned = ring_reduce_scatter(grads, group=self.group)
        a, b = self.bounds[owned]
        self.shard.grad = grads[a:b] / self.world_size
        self.optimizer.step()
        flat = self.flat_params()
        flat[a:b] = self.shard.detach()
        ring_all_gather(flat, group=self.group)
        offset = 0
        with torch.no_grad():
            for p in self.params:
                p.copy_(flat[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
        # END SOLUTION

    def state_bytes(self) -> int:
        """Bytes of optimizer state this rank holds (its shard's)."""
        return state_bytes(self.optimizer)


OPTIMIZERS = {"sgd": (torch.optim.SGD, dict(lr=0.05, momentum=0.9)), "adam": (torch.optim.Adam, dict(lr=0.01))}


def zero_demo(rank, world_size, optimizer: str = "adam", d_in=8, hidden=16, steps=3, batch=4, seed=0):
    """A worker for the notebook and the benchmark: `steps` steps of `mlp(d_in, hidden, 1)` (no dropout,
    seeded with `seed`) with ZeroOptimizer and OPTIMIZERS[optimizer]; rank r trains on its rows of
    `demo_data(world_size, d_in, batch, seed)`. Returns the parameters after each step, this rank's
    shard (chunk index and size) and the bytes of its optimizer state."""
    cls, options = OPTIMIZERS[optimizer]
    torch.manual_seed(seed)
    model = mlp(d_in, hidden, 1, dropout=0.0)
    X, y = demo_data(world_size, d_in, batch, seed)
    mine = slice(rank * batch, (rank + 1) * batch)
    opt = ZeroOptimizer(model.parameters(), cls, **options)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(X[mine]), y[mine]).backward()
        opt.step()
        history.append(flat_params(model))
    return dict(history=history, owned=opt.owned, shard_numel=opt.shard.numel(), state_bytes=opt.state_bytes())
