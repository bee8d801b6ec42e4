"""Parameter server over gloo point-to-point messages (not the RPC framework).

Rank 0 holds the parameters and the optimizer; ranks 1..W are workers that each
own a shard of the data. A worker pushes [version, loss, gradient...] and pulls
[version, parameters...]; `version` counts the updates the server has applied.

- Synchronous (staleness 0): every round the server receives one gradient from
  each worker (in rank order), averages them, takes one optimizer step and sends
  the new parameters to all. This is exactly synchronous data-parallel SGD.
- Asynchronous (staleness S >= 1, or None for unbounded): the server applies each
  gradient as it arrives (scaled by 1/W so the step size per sample matches), and a
  `StalenessGate` decides when a worker may get fresh parameters and start its next
  step: the stale synchronous parallel rule, no worker runs more than S steps ahead
  of the slowest. The staleness of every applied gradient (updates applied between
  the worker's pull and its push) is recorded.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from .hooks import HookChain, WorkerContext
from .launcher import send
from .models import flat_params
from .worker_common import build, state_arrays


class StalenessGate:
    """Bounded-staleness admission for W workers that each push `steps` gradients.

    Exact semantics: `clock[w]` is the number of gradients worker w has pushed. After
    its push, worker w waits. A waiting worker is released (gets fresh parameters and
    starts its next step) as soon as clock[w] >= steps (it is done: the reply only lets
    it exit), or `bound` is None, or clock[w] - min over all workers of clock <= bound.
    `push(w, computed_at, version)` records one push of a gradient computed on
    parameters of version `computed_at` and applied when the server is at `version`,
    and returns its staleness `version - computed_at` (also appended to `staleness`).
    `releasable()` returns the waiting workers that may go now, in increasing rank
    order, and stops waiting for them.
    """

    def __init__(self, workers, bound: int | None, steps: int):
        if bound is not None and bound < 0:
            raise ValueError(f"staleness bound must be >= 0 or None, got {bound}")
        self.bound, self.steps = bound, steps
        self.clock = {w: 0 for w in workers}
        self.waiting: set[int] = set()
        self.staleness: list[int] = []

    def push(self, worker: int, computed_at: int, version: int) -> int:
        if worker not in self.clock:
            raise ValueError(f"unknown worker {worker}")
        # BEGIN SOLUTION [3.5] record a push: clock, waiting set, observed staleness (section 5)
        self.clock[worker] += 1
        self.waiting.add(worker)
        staleness = version - computed_at
        self.staleness.append(staleness)
        return staleness
        # END SOLUTION

    def releasable(self) -> list[int]:
        # BEGIN SOLUTION [3.5] release the waiting workers the staleness bound allows (section 5)
        slowest = min(self.clock.values())
        go = sorted(w for w in self.waiting if self.clock[w] >= self.steps or self.bound is None
                    or self.clock[w] - slowest <= self.bound)
        self.waiting -= set(go)
        return go
        # END SOLUTION


def _vector(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _load_vector(model, flat: torch.Tensor) -> None:
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(flat[offset:offset + p.numel()].view_as(p))
            offset += p.numel()


def _set_grads(model, flat: torch.Tensor) -> None:
    offset = 0
    for p in model.parameters():
        p.grad = flat[offset:offset + p.numel()].view_as(p).clone()
        offset += p.numel()


def _reply(model, version: int, dst: int):
    return dist.isend(torch.cat([torch.tensor([float(version)], dtype=torch.float64), _vector(model)]), dst=dst)


class ParameterServer:
    """Rank 0's side: owns the parameters and the optimizer, serves W workers for `steps` pushes each.

    `run()` sends version 0 to every worker, then serves synchronous rounds (bound 0) or
    asynchronous pushes (bound S >= 1 or None) as described in the module docstring.
    Afterwards `version` is the number of updates applied, `staleness` the staleness of
    every applied push (all 0 when synchronous) and `history` the parameters after every
    update (if `record`). `on_update(model, version)`, if given, is called after every update.
    """

    def __init__(self, model, optimizer, workers: int, steps: int, staleness: int | None = 0,
                 record: bool = False, on_update=None):
        self.model, self.optimizer = model, optimizer
        self.workers, self.steps, self.bound, self.record = workers, steps, staleness, record
        self.on_update = on_update
        self.size = sum(p.numel() for p in model.parameters())
        self.version, self.staleness, self.history, self.last_loss = 0, [], [], None

    def run(self) -> "ParameterServer":
        for w in range(1, self.workers + 1):
            _reply(self.model, self.version, w).wait()
        if self.bound == 0:
            self._serve_synchronous()
        else:
            self._serve_asynchronous()
        return self

    def _apply(self, grad: torch.Tensor, loss: float) -> None:
        _set_grads(self.model, grad)
        self.optimizer.step()
        self.version, self.last_loss = self.version + 1, loss
        send(("step", self.version, loss))  # heartbeat and loss history
        if self.record:
            self.history.append(flat_params(self.model))
        if self.on_update is not None:
            self.on_update(self.model, self.version)

    def _receive(self, src=None) -> tuple[torch.Tensor, int]:
        buf = torch.empty(2 + self.size, dtype=torch.float64)
        sender = dist.recv(buf, src=src)
        return buf, sender

    def _serve_synchronous(self) -> None:
        for _ in range(self.steps):
            msgs = [self._receive(w)[0] for w in range(1, self.workers + 1)]  # rank order: deterministic sum
            self._apply(sum(m[2:] for m in msgs) / self.workers, float(sum(m[1] for m in msgs)) / self.workers)
            self.staleness += [0] * self.workers
            for work in [_reply(self.model, self.version, w) for w in range(1, self.workers + 1)]:
                work.wait()

    def _serve_asynchronous(self) -> None:
        gate = StalenessGate(range(1, self.workers + 1), self.bound, self.steps)
        for _ in range(self.steps * self.workers):
            buf, src = self._receive()  # from whichever worker is first
            gate.push(src, int(buf[0]), self.version)
            self._apply(buf[2:] / self.workers, float(buf[1]))
            for work in [_reply(self.model, self.version, w) for w in gate.releasable()]:
                work.wait()
        self.staleness = gate.staleness


def ps_train_worker(rank: int, world_size: int, config, attempt: int, resume) -> dict:
    """One rank of the parameter-server strategy: rank 0 serves, ranks 1..W compute gradients."""
    hooks = HookChain(config.worker_hooks(), WorkerContext(rank, world_size, attempt, config))
    workers = world_size - 1
    model, optimizer, loader = build(config, rank, max(rank - 1, 0), workers)
    steps = loader.steps_per_epoch() * config.epochs
    if rank == 0:
        server = ParameterServer(model, optimizer, workers, steps, config.staleness,
                                 on_update=hooks.after_step).run()
        return dict(params=flat_params(model), global_step=steps, staleness=server.staleness,
                    state_dict=state_arrays(model), loss=server.last_loss, hooks=hooks.result())
    size = sum(p.numel() for p in model.parameters())
    reply = torch.empty(1 + size, dtype=torch.float64)
    dist.recv(reply, src=0)
    _load_vector(model, reply[1:])
    version, done = int(reply[0]), 0
    for epoch in range(config.epochs):
        for _, x, y in loader.batches(epoch):
            hooks.before_step(done)
            loss = torch.nn.functional.mse_loss(model(x), y)
            model.zero_grad()
            loss.backward()
            grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
            head = torch.tensor([float(version), float(loss.detach())], dtype=torch.float64)
            dist.isend(torch.cat([head, grad]), dst=0).wait()
            dist.recv(reply, src=0)
            _load_vector(model, reply[1:])
            version, done = int(reply[0]), done + 1
            send(("tick", done))
            hooks.after_step(model, done)
    synchronous = config.staleness == 0  # asynchronous workers hold no final replica
    return dict(params=flat_params(model) if synchronous else None, global_step=done, staleness=[],
                state_dict={}, loss=None, hooks=hooks.result())
