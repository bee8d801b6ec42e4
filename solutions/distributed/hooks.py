"""Points where code from outside may act inside a worker's training loop.

The loops in `worker.py` and `parameter_server.py` are what a user runs; experiments
(failure injection, the checkpoint ablations, slow workers, recording every step's
parameters) and tests plug in here instead of adding branches to them. A hook object
travels inside the `TrainConfig` (`hooks=(...)`), so every worker process gets its own
copy; every method of `WorkerHooks` does nothing, and a subclass overrides the points
it needs. In the order a rank calls them:

- `start(ctx)`: once, before the model is built.
- `after_restore(ctx, model, optimizer, loader, epoch, step) -> (optimizer, epoch, step)`:
  only when resuming, after the checkpoint's state is restored; returns what to continue with.
- `before_step(ctx, global_step)`: before each step's forward (`global_step` steps are done).
- `after_step(ctx, model, global_step)`: after each optimizer step (`global_step` counts it).
- `before_checkpoint_write(ctx, global_step)`: on rank 0, with every rank's state gathered,
  just before the checkpoint file is written.
- `result(ctx) -> dict`: at the end; merged into the rank's result (`TrainResult.hook_results`).

`ctx` is a `WorkerContext`: rank, world size, attempt (0, then 1 after the first restart,
...) and the run's TrainConfig.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerContext:
    rank: int
    world_size: int
    attempt: int
    config: object  # the TrainConfig


class WorkerHooks:
    """Do-nothing hooks; subclass and override the points you need (see the module docstring)."""

    def start(self, ctx: WorkerContext) -> None:
        pass

    def after_restore(self, ctx: WorkerContext, model, optimizer, loader, epoch: int, step: int):
        return optimizer, epoch, step

    def before_step(self, ctx: WorkerContext, global_step: int) -> None:
        pass

    def after_step(self, ctx: WorkerContext, model, global_step: int) -> None:
        pass

    def before_checkpoint_write(self, ctx: WorkerContext, global_step: int) -> None:
        pass

    def result(self, ctx: WorkerContext) -> dict:
        return {}


class HookChain:
    """One rank's hooks, bound to its context: each point calls every hook in order (`after_restore`
    threads the optimizer and position through them, `result` merges their dicts)."""

    def __init__(self, hooks, ctx: WorkerContext):
        self.hooks, self.ctx = tuple(hooks), ctx
        for h in self.hooks:
            h.start(ctx)

    def after_restore(self, model, optimizer, loader, epoch, step):
        for h in self.hooks:
            optimizer, epoch, step = h.after_restore(self.ctx, model, optimizer, loader, epoch, step)
        return optimizer, epoch, step

    def before_step(self, global_step):
        for h in self.hooks:
            h.before_step(self.ctx, global_step)

    def after_step(self, model, global_step):
        for h in self.hooks:
            h.after_step(self.ctx, model, global_step)

    def before_checkpoint_write(self, global_step):
        for h in self.hooks:
            h.before_checkpoint_write(self.ctx, global_step)

    def result(self):
        out = {}
        for h in self.hooks:
            out.update(h.result(self.ctx))
        return out
