"""`TrainConfig`: everything one training run needs, validated, picklable into the workers."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from .hooks import WorkerHooks
from .injection import ABLATIONS, Ablation, Failure, RecordParams, WorkerDelays
from .models import mlp

STRATEGIES = ("allreduce", "ddp", "parameter_server")


def default_dataset(num_samples: int = 96, seed: int = 0):
    from mlpractice.data.distributed import make_regression
    return make_regression(num_samples, 8, seed=seed)


@dataclass(frozen=True)
class TrainConfig:
    workers: int = 2
    strategy: str = "allreduce"
    model: Callable = functools.partial(mlp, dropout=0.1)
    dataset: Callable = default_dataset  # () -> (X, y) numpy arrays; a function so it pickles small
    batch_size: int = 4                  # per worker
    lr: float = 0.05
    momentum: float = 0.9
    epochs: int = 2
    seed: int = 0
    shuffle: bool = True
    augment_noise: float = 0.05          # std of the loader's input noise (drawn from its own generator)
    checkpoint_dir: str | None = None
    checkpoint_every: int = 4
    max_restarts: int = 0
    failure: Failure | None = None       # inject one failure on the first attempt (a worker hook)
    timeout: float = 5.0                 # hang detection; the process group waits 2x this
    staleness: int | None = 0            # parameter server: 0 = synchronous, None = unbounded
    # experiments, run as worker hooks (injection.py) like `failure`, never as branches of the loop:
    worker_delays: tuple = ()            # parameter server: per-worker seconds of sleep per step
    record_params: bool = False          # return every replica's parameters after every step
    ablate: tuple = ()                   # checkpoint pieces to drop on resume (the ablation experiment)
    hooks: tuple = ()                    # your own WorkerHooks, called before the ones above

    def validate(self) -> "TrainConfig":
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"workers must be a positive int, got {self.workers!r}")
        if self.failure is not None and self.failure.rank >= self.world_size:
            raise ValueError(f"failure rank {self.failure.rank} outside world size {self.world_size}")
        if (self.failure is not None or self.max_restarts) and not self.checkpoint_dir:
            raise ValueError("failure injection and restarts need a checkpoint_dir")
        if unknown := set(self.ablate) - set(ABLATIONS):
            raise ValueError(f"unknown ablation {sorted(unknown)}: choose from {ABLATIONS}")
        if self.strategy == "parameter_server" and (self.checkpoint_dir or self.failure or self.max_restarts):
            raise ValueError("checkpoints, failure injection and restarts are implemented for the "
                             "allreduce and ddp strategies, not parameter_server")
        if self.staleness is not None and self.staleness < 0:
            raise ValueError(f"staleness must be >= 0 or None, got {self.staleness}")
        if bad := [h for h in self.hooks if not isinstance(h, WorkerHooks)]:
            raise ValueError(f"hooks must be WorkerHooks instances, got {bad!r}")
        return self

    @property
    def world_size(self) -> int:
        return self.workers + (self.strategy == "parameter_server")

    def worker_hooks(self) -> tuple:
        """`hooks` plus the experiments this config asks for, as fresh hook objects (called in each worker)."""
        first_worker = 1 if self.strategy == "parameter_server" else 0  # rank 0 serves the parameters
        extra = [
            self.failure,
            Ablation(self.ablate) if self.ablate else None,
            WorkerDelays({first_worker + i: d for i, d in enumerate(self.worker_delays)}) if self.worker_delays else None,
            RecordParams() if self.record_params else None,
        ]
        return (*self.hooks, *(h for h in extra if h is not None))
