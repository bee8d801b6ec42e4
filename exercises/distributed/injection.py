# Starter code generated from solutions/distributed/injection.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""Experiments as worker hooks: injected failures, checkpoint ablations, slow workers, recorded steps.

None of this is in the training loop itself: `TrainConfig` turns its `failure`, `ablate`,
`worker_delays` and `record_params` fields into these hooks (`TrainConfig.worker_hooks`),
and a test or an experiment can pass its own `WorkerHooks` subclass in `hooks=(...)`.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from .hooks import WorkerHooks
from .models import flat_params
from .worker_common import generator_seed, make_optimizer, seed_rank

FAILURES = ("crash", "hang", "crash_during_checkpoint_write")
ABLATIONS = ("optimizer", "rng", "loader_generator", "data_position")


@dataclass(frozen=True)
class Failure(WorkerHooks):
    """Inject one failure on the first attempt: `kind` of rank `rank` when `step` optimizer steps are done.

    "crash": the process exits at once (os._exit(1), no goodbye). "hang": it sleeps forever.
    "crash_during_checkpoint_write": rank 0 exits the same way in the middle of the first
    checkpoint at or after `step`: every rank's state is gathered, the file is not written.
    (That a kill during the write itself never leaves a partial checkpoint is
    `save_checkpoint`'s promise, tested by killing a real writer.)
    """
    kind: str
    rank: int = 0
    step: int = 0

    def __post_init__(self):
        if self.kind not in FAILURES:
            raise ValueError(f"failure kind must be one of {FAILURES}, got {self.kind!r}")
        if self.kind == "crash_during_checkpoint_write" and self.rank != 0:
            raise ValueError("crash_during_checkpoint_write needs rank 0 (rank 0 writes checkpoints)")

    def _armed(self, ctx) -> bool:
        return ctx.attempt == 0 and ctx.rank == self.rank

    def before_step(self, ctx, global_step):
        if self._armed(ctx) and global_step == self.step:
            if self.kind == "crash":
                os._exit(1)
            if self.kind == "hang":
                time.sleep(3600)

    def before_checkpoint_write(self, ctx, global_step):
        if self._armed(ctx) and self.kind == "crash_during_checkpoint_write" and global_step >= self.step:
            os._exit(1)


class Ablation(WorkerHooks):
    """After a restore, undo some pieces of it, as if the checkpoint had not carried them (see ABLATIONS)."""

    def __init__(self, pieces):
        if unknown := set(pieces) - set(ABLATIONS):
            raise ValueError(f"unknown ablation {sorted(unknown)}: choose from {ABLATIONS}")
        self.pieces = tuple(pieces)

    def after_restore(self, ctx, model, optimizer, loader, epoch, step):
        config = ctx.config
        if "optimizer" in self.pieces:
            optimizer = make_optimizer(config, model)
        if "rng" in self.pieces:
            seed_rank(config.seed, ctx.rank)
        if "loader_generator" in self.pieces:
            loader.generator.manual_seed(generator_seed(config.seed, loader.rank))
        if "data_position" in self.pieces:
            step = 0
        return optimizer, epoch, step


class WorkerDelays(WorkerHooks):
    """Sleep `seconds[rank]` before every step of that rank (a slow worker)."""

    def __init__(self, seconds: dict):
        self.seconds = dict(seconds)

    def before_step(self, ctx, global_step):
        if delay := self.seconds.get(ctx.rank, 0.0):
            time.sleep(delay)


class RecordParams(WorkerHooks):
    """Keep this rank's parameters after every step; the result's "history" is (steps, num_params)."""

    def __init__(self):
        self.history = []

    def after_step(self, ctx, model, global_step):
        self.history.append(flat_params(model))

    def result(self, ctx):
        return {"history": np.array(self.history)}
