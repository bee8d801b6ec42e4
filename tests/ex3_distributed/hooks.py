"""Worker hooks the exercise-3 tests pass in from outside (pickled into every worker process)."""
from __future__ import annotations

import os

import torch

from mlpractice.impl import load

WorkerHooks = load("distributed").WorkerHooks


class StepLog(WorkerHooks):
    """Records, in order, every hook point this rank passes; returned as the worker's "step_log"."""

    def __init__(self):
        self.log = []

    def start(self, ctx):
        self.log.append(("start", ctx.rank, ctx.attempt))

    def before_step(self, ctx, global_step):
        self.log.append(("before", global_step))

    def after_step(self, ctx, model, global_step):
        self.log.append(("after", global_step))

    def before_checkpoint_write(self, ctx, global_step):
        self.log.append(("checkpoint", global_step))

    def result(self, ctx):
        return {"step_log": list(self.log)}


class CrashAt(WorkerHooks):
    """A failure the test injects itself: rank `rank` exits with code 7 before step `step`, first attempt only."""

    def __init__(self, rank, step):
        self.rank, self.step = rank, step

    def before_step(self, ctx, global_step):
        if ctx.attempt == 0 and ctx.rank == self.rank and global_step == self.step:
            os._exit(7)


class ShapeErrorAt(WorkerHooks):
    """A bug in the training code: a real shape error on rank `rank` before step `step`, on every attempt."""

    def __init__(self, rank, step):
        self.rank, self.step = rank, step

    def before_step(self, ctx, global_step):
        if ctx.rank == self.rank and global_step == self.step:
            torch.zeros(4, 8) @ torch.zeros(7, 16)


class CrashEveryAttempt(WorkerHooks):
    """Rank `rank` exits with code 3 before step `steps[attempt]` (the last entry for later attempts)."""

    def __init__(self, rank, steps):
        self.rank, self.steps = rank, tuple(steps)

    def before_step(self, ctx, global_step):
        if ctx.rank == self.rank and global_step == self.steps[min(ctx.attempt, len(self.steps) - 1)]:
            os._exit(3)


class KilledInsideCheckpointWrite(WorkerHooks):
    """Rank 0 is killed by the kernel in the middle of writing the checkpoint of step `step`, first attempt.

    A file-size limit of `limit_bytes` (RLIMIT_FSIZE) with SIGXFSZ's default action (Python ignores it
    at start-up) makes the write that crosses the limit kill the process on the spot, as a power cut
    would: whatever file save_checkpoint was writing is left torn at exactly `limit_bytes`.
    """

    def __init__(self, step, limit_bytes=1024):
        self.step, self.limit = step, limit_bytes

    def before_checkpoint_write(self, ctx, global_step):
        if ctx.attempt == 0 and ctx.rank == 0 and global_step == self.step:
            import resource
            import signal
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file for the kill
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.limit))
