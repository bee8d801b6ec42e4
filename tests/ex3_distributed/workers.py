"""Worker functions the exercise-3 tests launch in real processes.

They run in the child (so they import the implementation through
mlpractice.impl.load, which follows the inherited MLPRACTICE_IMPL) and return
plain numpy arrays and numbers. The oracles (dist.all_reduce, DDP) live here,
never in solutions/.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.distributed as dist

from mlpractice.impl import load


def ring_cases(world_size: int) -> list[int]:
    return sorted({1, max(1, world_size - 1), world_size, world_size + 1, 13, 1_000_003, 6 * world_size})


def ring_vs_all_reduce(rank, world_size):
    """Every size of ring_cases: integer-valued and random float32, sum and mean, vs dist.all_reduce."""
    distributed = load("distributed")
    out = {}
    for n in ring_cases(world_size):
        for kind in ("int", "rand"):
            g = torch.Generator().manual_seed(1000 * n + 10 * rank + (kind == "rand"))
            if kind == "int":
                x = torch.randint(-50, 50, (n,), generator=g).float()
            else:
                x = torch.randn(n, generator=g)
            expected = x.clone()
            dist.all_reduce(expected)
            log = []
            got = distributed.ring_allreduce(x.clone(), op="sum", log=log)
            mean = distributed.ring_allreduce(x.clone().view(-1, 1) if n > 1 else x.clone(), op="mean")
            out[(n, kind)] = dict(got=got.numpy(), expected=expected.numpy(),
                                  mean=mean.reshape(-1).numpy(), expected_mean=(expected / world_size).numpy(),
                                  bytes_sent=sum(s.bytes_sent for s in log), steps=len(log))
    # a subgroup of ranks {0, last}: the ring runs over group ranks, sending to global ranks
    members = [0, world_size - 1]
    group = dist.new_group(members, timeout=__import__("datetime").timedelta(seconds=10))
    if rank in members:
        x = torch.arange(7, dtype=torch.float32) * (rank + 1)
        expected = x.clone()
        dist.all_reduce(expected, group=group)
        out["subgroup"] = dict(got=distributed.ring_allreduce(x, group=group).numpy(), expected=expected.numpy())
    return out


def ring_float64_2d(rank, world_size):
    distributed = load("distributed")
    x = torch.arange(35, dtype=torch.float64).reshape(5, 7) * (rank + 1)
    return distributed.ring_allreduce(x, op="sum").numpy()


# --- checkpoint writer (scaffold) ------------------------------------------------------------

def write_checkpoints_until_killed(directory, impl, numel, started):
    """save_checkpoint ckpt-000002.pt, ckpt-000003.pt, ... (each step's own payload) until SIGKILLed.

    `started` is set after the first save: its one-time costs (lazy imports) are behind it, and the
    kills land in the steady loop, where writing takes most of the time.
    """
    os.environ["MLPRACTICE_IMPL"] = impl
    ckpt = load("distributed.checkpoint")
    for step in range(2, 10_000):
        ckpt.save_checkpoint(ckpt.checkpoint_path(directory, step), checkpoint_state(step, numel))
        started.set()


def checkpoint_state(step, numel):
    return {"step": step, "payload": torch.full((numel,), float(step), dtype=torch.float64)}


# --- models ---------------------------------------------------------------------------------

class UnusedOnRank1(torch.nn.Module):
    """Linear(8, 1) then Linear(1, 1); rank 1's forward skips the second, so it gets no gradient there."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(8, 1, dtype=torch.float64)
        self.b = torch.nn.Linear(1, 1, dtype=torch.float64)

    def forward(self, x):
        y = self.a(x)
        return y if dist.get_rank() == 1 else self.b(y)


def unused_on_rank1():
    return UnusedOnRank1()


# --- launcher behaviour (scaffold) -----------------------------------------------------------

def raise_on_rank1(rank, world_size):
    if rank == 1:
        raise NotImplementedError("Exercise 9.9: a test stub - see nowhere")
    t = torch.ones(1)
    dist.all_reduce(t)  # rank 0 blocks here until the coordinator kills it
    return t.numpy()


def exit_on_rank0(rank, world_size):
    if rank == 0:
        os._exit(3)
    t = torch.ones(1)
    dist.all_reduce(t)
    return t.numpy()


def sleep_forever_on_rank1(rank, world_size):
    if rank == 1:
        time.sleep(3600)
    return np.zeros(1)


def use_the_store_after_rank0_returned(rank, world_size):
    """Rank 0 returns at once; rank 1 still talks to the store that rank 0 hosts, a second later."""
    store = dist.distributed_c10d._get_default_store()
    if rank == 0:
        return "returned"
    time.sleep(1.0)
    store.set("late", "still here")
    return store.get("late").decode()


def fall_behind_on(rank, world_size, slow):
    """Rank `slow` heartbeats at progress 0 for a while, then hangs; the others reach progress 1 and
    wait for it in a collective (so their last heartbeat is the older one)."""
    launcher = load("distributed.launcher")
    if rank != slow:
        launcher.heartbeat(progress=1)
        dist.all_reduce(torch.ones(1))  # waits for the slow rank until the coordinator kills it
        return None
    for _ in range(5):
        launcher.heartbeat(progress=0)
        time.sleep(0.05)
    time.sleep(3600)


def report_impl_and_threads(rank, world_size):
    return dict(impl=os.environ.get("MLPRACTICE_IMPL"), threads=torch.get_num_threads(),
                module=load("distributed").__name__)


def average_gradients_vs_oracle(rank, world_size):
    """average_gradients (bucketed and per-parameter) vs dist.all_reduce / world_size on the same grads."""
    distributed = load("distributed")
    torch.manual_seed(0)
    model = distributed.mlp(d_in=5, hidden=7, d_out=3, dropout=0.0)
    x = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(rank))
    out = {}
    for bucketed in (True, False):
        model.zero_grad()
        model(x).pow(2).sum().backward()
        expected = [p.grad.clone() for p in model.parameters()]
        for e in expected:
            dist.all_reduce(e)
            e /= world_size
        calls = distributed.average_gradients(model.parameters(), bucketed=bucketed)
        out[bucketed] = dict(calls=calls, got=[p.grad.numpy().copy() for p in model.parameters()],
                             expected=[e.numpy() for e in expected])
    return out


def pipeline_vs_unsplit(rank, world_size, micro_batches):
    """Both schedules on a (Linear, Tanh) x 4 model; returns per kind this stage's result and the oracle grads."""
    distributed = load("distributed")
    g = torch.Generator().manual_seed(0)
    X = torch.randn(8, 8, dtype=torch.float64, generator=g)
    y = torch.randn(8, 1, dtype=torch.float64, generator=g)
    out = {}
    for kind in ("gpipe", "1f1b"):
        torch.manual_seed(1)
        model = distributed.deep_mlp(8, 16, 4, 1)
        res = distributed.pipeline_parallel(model, X, y, micro_batches=micro_batches, kind=kind)
        torch.manual_seed(1)
        reference = distributed.deep_mlp(8, 16, 4, 1)
        loss = torch.nn.functional.mse_loss(reference(X), y)
        loss.backward()
        stage = distributed.split_stages(reference, world_size)[rank]
        out[kind] = dict(grads=res.grads, expected=[p.grad.numpy().copy() for p in stage.parameters()],
                         log=[(op, m) for op, m, _ in res.log], peak=res.peak_activations,
                         loss=res.loss, expected_loss=float(loss))
    return out


def tensor_parallel_vs_unsplit(rank, world_size):
    distributed = load("distributed")
    tp = load("distributed.tensor_parallel")
    torch.manual_seed(0)
    fc1 = torch.nn.Linear(6, 8, dtype=torch.float64)
    fc2 = torch.nn.Linear(8, 3, dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x_ref = x.clone().requires_grad_(True)
    y_ref = fc2(torch.nn.functional.gelu(fc1(x_ref)))
    y_ref.pow(2).sum().backward()
    shard = distributed.tensor_parallel_mlp(fc1, fc2)
    x_tp = x.clone().requires_grad_(True)
    before = dict(tp.CALLS)
    y_tp = shard(x_tp)
    y_tp.pow(2).sum().backward()
    a, b = shard.span
    return dict(y=y_tp.detach().numpy(), y_ref=y_ref.detach().numpy(),
                x_grad=x_tp.grad.numpy(), x_grad_ref=x_ref.grad.numpy(),
                w1=shard.w1.grad.numpy(), w1_ref=fc1.weight.grad[a:b].numpy(),
                b1=shard.b1.grad.numpy(), b1_ref=fc1.bias.grad[a:b].numpy(),
                w2=shard.w2.grad.numpy(), w2_ref=fc2.weight.grad[:, a:b].numpy(),
                b2=shard.b2.grad.numpy(), b2_ref=fc2.bias.grad.numpy(),
                calls={k: tp.CALLS[k] - before[k] for k in before})
