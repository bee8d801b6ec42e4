"""Workers for the 3.9 tests (overlapped gradient all-reduce), run in real gloo processes.

The oracle is a synchronous dist.all_reduce of every gradient after backward; the workers return
plain numbers, numpy arrays and tuples (timelines as events and bucket lists).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from mlpractice.impl import load

from .workers import UnusedOnRank1

CAPS = (1, 2400, 1 << 30)  # every parameter its own bucket; a few buckets; one bucket
STEPS = 4
ROWS_PER_RANK = 3


def data(world_size):
    """(X, y) for every rank together; rank r's rows are [r * ROWS_PER_RANK, (r + 1) * ROWS_PER_RANK)."""
    g = torch.Generator().manual_seed(7)
    n = world_size * ROWS_PER_RANK
    return torch.randn(n, 8, dtype=torch.float64, generator=g), torch.randn(n, 1, dtype=torch.float64, generator=g)


def model():
    torch.manual_seed(3)
    return load("distributed").deep_mlp(8, 16, 4, 1)  # 10 parameters, from 8 to 2048 bytes


def one_process_history(world_size):
    """The oracle in one process: SGD(momentum) on all ranks' rows at once."""
    net = model()
    X, y = data(world_size)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    history = []
    for _ in range(STEPS):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(X), y).backward()
        opt.step()
        history.append(flat(net))
    return np.array(history)


def flat(net):
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()]).numpy().copy()


def summary(timeline):
    return dict(events=list(timeline.events), buckets=[(b.bucket, tuple(b.params), b.nbytes) for b in timeline.buckets],
                during=list(timeline.launched_during_backward()))


def train(world_size, rank, cap, overlapped):
    """STEPS of SGD on this rank's rows; gradients averaged with overlap or by the synchronous oracle."""
    distributed = load("distributed")
    net = model()
    X, y = data(world_size)
    mine = slice(rank * ROWS_PER_RANK, (rank + 1) * ROWS_PER_RANK)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    reducer = distributed.OverlappedAllReduce(net.parameters(), bucket_cap_bytes=cap) if overlapped else None
    history, timelines = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        if reducer:
            reducer.start()
        torch.nn.functional.mse_loss(net(X[mine]), y[mine]).backward()
        if reducer:
            timelines.append(summary(reducer.finish()))
        else:
            for p in net.parameters():
                dist.all_reduce(p.grad)
                p.grad /= world_size
        opt.step()
        history.append(flat(net))
    if reducer:
        reducer.remove()
    return np.array(history), timelines


class HeadFirst(torch.nn.Module):
    """Registers the head before the body, but runs the body first: backward finishes the head's
    gradients first, the opposite of reverse registration order."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(4, 1, dtype=torch.float64)
        self.body = torch.nn.Linear(3, 4, dtype=torch.float64)

    def forward(self, x):
        return self.head(torch.tanh(self.body(x)))


def overlap_cases(rank, world_size):
    distributed = load("distributed")
    out = {"caps": {}}
    for cap in CAPS:
        mine, timelines = train(world_size, rank, cap, overlapped=True)
        oracle, _ = train(world_size, rank, cap, overlapped=False)
        out["caps"][cap] = dict(history=mine, oracle=oracle, timelines=timelines)
    out["param_bytes"] = [p.numel() * p.element_size() for p in model().parameters()]

    # ready order differs from reverse registration order: buckets must still go out in bucket order
    torch.manual_seed(0)
    net = HeadFirst()
    reducer = distributed.OverlappedAllReduce(net.parameters(), bucket_cap_bytes=1)
    reducer.start()
    net(torch.randn(2, 3, dtype=torch.float64) * (rank + 1)).pow(2).sum().backward()
    out["head_first"] = summary(reducer.finish())
    reducer.remove()

    # allow_unused: rank 1 skips the second layer; its gradient counts as zero there
    torch.manual_seed(0)
    net = UnusedOnRank1()
    reducer = distributed.OverlappedAllReduce(net.parameters(), bucket_cap_bytes=1, allow_unused=True)
    x = torch.randn(4, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(rank))
    net(x).pow(2).sum().backward()
    expected = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in net.parameters()]
    timeline = reducer.finish()  # no start(): the step begins with its first gradient
    for e in expected:  # after finish(): rank 0's buckets are already out, any collective now would pair with them
        dist.all_reduce(e)
        e /= world_size
    out["unused"] = dict(got=[p.grad.numpy().copy() for p in net.parameters()],
                         expected=[e.numpy() for e in expected], timeline=summary(timeline))
    reducer.remove()

    # a frozen parameter is left out; mixed dtypes are refused
    net = model()
    net[0].weight.requires_grad_(False)
    reducer = distributed.OverlappedAllReduce(net.parameters(), bucket_cap_bytes=1)
    reducer.start()
    net(torch.ones(2, 8, dtype=torch.float64) * (rank + 1)).sum().backward()
    local = [p.grad.clone() for p in net.parameters() if p.requires_grad]
    frozen = summary(reducer.finish())
    for g in local:
        dist.all_reduce(g)
        g /= world_size
    out["frozen"] = dict(buckets=len(frozen["buckets"]), got=[p.grad.numpy().copy() for p in net.parameters()
                                                              if p.requires_grad], expected=[g.numpy() for g in local],
                         weight_grad=net[0].weight.grad)
    reducer.remove()
    try:
        distributed.OverlappedAllReduce([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2).double())])
        out["mixed"] = None
    except ValueError as err:
        out["mixed"] = str(err)

    # two backwards without finish() in between
    net = model()
    reducer = distributed.OverlappedAllReduce(net.parameters(), bucket_cap_bytes=1 << 30)
    loss = net(torch.ones(2, 8, dtype=torch.float64)).sum()
    reducer.start()
    loss.backward(retain_graph=True)
    try:
        loss.backward()
        out["twice"] = None
    except ValueError as err:
        out["twice"] = str(err)
    reducer.finish()  # the one bucket went out in the first backward: wait for it on every rank
    return out


def unused_without_allow_unused(rank, world_size):
    distributed = load("distributed")
    torch.manual_seed(0)
    net = UnusedOnRank1()
    reducer = distributed.OverlappedAllReduce(net.parameters(), bucket_cap_bytes=1)
    reducer.start()
    net(torch.ones(2, 8, dtype=torch.float64)).sum().backward()
    reducer.finish()  # rank 1 raises; rank 0 waits for it until the launch ends
    return "finished"
