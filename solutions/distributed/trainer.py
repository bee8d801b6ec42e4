"""`train(config)`: launch the workers, checkpoint, detect failures, restart, like torchrun's agent.

Coordinator semantics (DistributedTrainer.run):
- Start `world_size` workers (strategy "allreduce" and "ddp": `workers` processes;
  "parameter_server": one server plus `workers`). Each worker heartbeats after every
  step. A crash (a worker process exits without reporting) is seen by liveness
  polling within `poll` seconds; a hang (no heartbeat from some worker for
  `config.timeout` seconds) is declared after that timeout. The process group's own
  timeout is twice that, so the coordinator, not a gloo error, notices a hang first.
- On a crash or hang every worker is killed, and if fewer than `max_restarts`
  restarts were used, all workers start again from the latest complete checkpoint
  (or from scratch if there is none). Injected failures fire on the first attempt only.
- An exception raised by the training code itself (NotImplementedError, ValueError, ...)
  is a bug, not a failure: rerunning deterministic code reproduces it, so it is
  re-raised at once with the worker's type and message.
- Every `checkpoint_every` optimizer steps the ranks gather their states on rank 0,
  which writes one atomic checkpoint file holding all of them.

The timeline records: start, checkpoint, failure detected, restart, done (seconds
since the run began; times vary between runs, the sequence of kinds and steps does not).
"""
from __future__ import annotations

import functools
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist

from . import checkpoint as ckpt
from .data_parallel import average_gradients
from .launcher import WorkerFailure, launch, send
from .loader import ShardLoader
from .models import flat_params, mlp

STRATEGIES = ("allreduce", "ddp", "parameter_server")
FAILURES = ("crash", "hang", "crash_during_checkpoint_write")
ABLATIONS = ("optimizer", "rng", "loader_generator", "data_position")


@dataclass(frozen=True)
class Failure:
    """Inject one failure on the first attempt: `kind` of rank `rank` when `step` optimizer steps are done.

    "crash": the process exits at once (os._exit, no goodbye). "hang": it sleeps forever.
    "crash_during_checkpoint_write": rank 0 dies halfway through writing the first
    checkpoint at or after `step` (the temporary file is left behind, torn).
    """
    kind: str
    rank: int = 0
    step: int = 0

    def __post_init__(self):
        if self.kind not in FAILURES:
            raise ValueError(f"failure kind must be one of {FAILURES}, got {self.kind!r}")
        if self.kind == "crash_during_checkpoint_write" and self.rank != 0:
            raise ValueError("crash_during_checkpoint_write needs rank 0 (rank 0 writes checkpoints)")


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
    failure: Failure | None = None
    timeout: float = 5.0                 # hang detection; the process group waits 2x this
    staleness: int | None = 0            # parameter server: 0 = synchronous, None = unbounded
    worker_delays: tuple = ()            # parameter server: per-worker seconds of sleep per step
    record_params: bool = False          # return every replica's parameters after every step
    ablate: tuple = ()                   # checkpoint pieces to drop on resume (the ablation experiment)

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
        return self

    @property
    def world_size(self) -> int:
        return self.workers + (self.strategy == "parameter_server")


@dataclass(frozen=True)
class Event:
    time: float
    kind: str  # start | checkpoint | failure detected | restart | done
    step: int | None = None
    rank: int | None = None
    detail: str = ""


@dataclass
class TrainResult:
    final_params: np.ndarray                  # flat float64 vector, rank 0's replica
    state_dict: dict                          # name -> numpy array (parameters and buffers)
    loss_history: list                        # global mean loss of every optimizer step
    restarts: int
    timeline: list                            # [Event]
    replicas_identical: bool                  # every replica ended with the same bits
    param_history: list | None = None         # [rank] -> array (steps, num_params) if record_params
    staleness: list = field(default_factory=list)  # parameter server: staleness of every applied push
    step_seconds: float = 0.0                 # median wall time between consecutive steps (coordinator's clock)


# ---------------------------------------------------------------- worker side

def _seed_rank(seed: int, rank: int) -> None:
    """Per-rank RNG for dropout and anything else random: different per rank, fixed per seed."""
    torch.manual_seed(seed * 1000 + rank + 1)
    np.random.seed(seed * 1000 + rank + 1)
    random.seed(seed * 1000 + rank + 1)


def build(config: TrainConfig, rank: int, data_rank: int, data_world: int):
    """Model (same init on every rank), optimizer, loader for one rank, RNGs seeded."""
    torch.manual_seed(config.seed)
    model = config.model()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    X, y = config.dataset()
    loader = ShardLoader(X, y, data_rank, data_world, config.batch_size, sampler_seed=config.seed,
                         shuffle=config.shuffle, noise=config.augment_noise,
                         generator_seed=config.seed * 1000 + data_rank + 7)
    _seed_rank(config.seed, rank)
    return model, optimizer, loader


def _ablate(pieces, model, config, rank, optimizer, loader, epoch, step):
    """Undo one piece of a restore, as if the checkpoint had not carried it."""
    if "optimizer" in pieces:
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    if "rng" in pieces:
        _seed_rank(config.seed, rank)
    if "loader_generator" in pieces:
        loader.generator.manual_seed(config.seed * 1000 + rank + 7)
    if "data_position" in pieces:
        step = 0
    return optimizer, epoch, step


def _maybe_fail(failure: Failure | None, rank: int, global_step: int) -> None:
    if failure is None or failure.rank != rank or global_step != failure.step:
        return
    if failure.kind == "crash":
        os._exit(1)
    if failure.kind == "hang":
        time.sleep(3600)


def _write_checkpoint(config, rank, state, global_step, attempt):
    gathered = [None] * dist.get_world_size() if rank == 0 else None
    dist.gather_object(state, gathered, dst=0)
    if rank != 0:
        return
    path = ckpt.checkpoint_path(config.checkpoint_dir, global_step)
    payload = {"world_size": dist.get_world_size(), "global_step": global_step, "ranks": gathered}
    f = config.failure
    if attempt == 0 and f is not None and f.kind == "crash_during_checkpoint_write" and global_step >= f.step:
        data = ckpt.serialize(payload)
        ckpt._atomic_write(path, data, crash_after=len(data) // 2)
    ckpt.save_checkpoint(path, payload)
    send(("checkpoint", global_step))


def train_worker(rank: int, world_size: int, config: TrainConfig, attempt: int, resume: str | None):
    """One data-parallel rank ("allreduce" or "ddp"): train, heartbeat, checkpoint; return its replica."""
    model, optimizer, loader = build(config, rank, rank, world_size)
    epoch, step, global_step = 0, 0, 0
    if resume:
        saved = ckpt.load_checkpoint(resume)
        if saved["world_size"] != world_size:
            raise ValueError(f"checkpoint was written by {saved['world_size']} ranks, not {world_size}")
        epoch, step = ckpt.restore_state(saved["ranks"][rank], model, optimizer, loader)
        global_step = saved["global_step"]
        optimizer, epoch, step = _ablate(config.ablate, model, config, rank, optimizer, loader, epoch, step)
    send(("ready",))  # a heartbeat: set-up and restore are done, steps begin
    net = torch.nn.parallel.DistributedDataParallel(model) if config.strategy == "ddp" else model
    failure = config.failure if attempt == 0 else None
    history = []
    per_epoch = loader.steps_per_epoch()
    while epoch < config.epochs:
        for step, x, y in loader.batches(epoch, step):
            _maybe_fail(failure, rank, global_step)
            loss = torch.nn.functional.mse_loss(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            if config.strategy == "allreduce":
                average_gradients(model.parameters())
            optimizer.step()
            global_step += 1
            mean_loss = loss.detach().clone()
            dist.all_reduce(mean_loss)  # metrics only
            send(("step", global_step, float(mean_loss) / world_size))
            if config.record_params:
                history.append(flat_params(model))
            if config.checkpoint_dir and global_step % config.checkpoint_every == 0:
                nxt = (epoch, step + 1) if step + 1 < per_epoch else (epoch + 1, 0)
                _write_checkpoint(config, rank, ckpt.capture_state(model, optimizer, loader, *nxt),
                                  global_step, attempt)
        epoch, step = epoch + 1, 0
    return dict(params=flat_params(model), global_step=global_step,
                state_dict={k: v.detach().numpy().copy() for k, v in model.state_dict().items()},
                history=np.array(history) if config.record_params else None, staleness=[])


# ---------------------------------------------------------------- coordinator side

def should_restart(kind: str, message: str, restarts: int, max_restarts: int) -> bool:
    """Decide whether the coordinator restarts the workers after a failure.

    `kind` is the launcher's diagnosis: "crash" (a process died without a word), "hang"
    (no heartbeat within the timeout) or "error" (a worker raised; `message` is
    "rank r: ExcType: text"). Restart iff restarts < max_restarts and the failure is an
    infrastructure failure: a crash, a hang, or an error whose type is RuntimeError,
    DistBackendError, DistNetworkError or ConnectionError (what a dying peer or a
    broken connection raises in the survivors). Any other exception is a bug in the
    training code; rerunning deterministic code would only reproduce it, so never restart.
    """
    # BEGIN SOLUTION [3.6] decide which failures are worth a restart (section 4)
    if restarts >= max_restarts:
        return False
    if kind in ("crash", "hang"):
        return True
    exc_type = message.split(": ", 2)[1] if message.count(": ") >= 2 else ""
    return exc_type in ("RuntimeError", "DistBackendError", "DistNetworkError", "ConnectionError")
    # END SOLUTION


class DistributedTrainer:
    """Runs one training job to completion through failures (see the module docstring)."""

    def __init__(self, config: TrainConfig):
        self.config = config.validate()
        self.timeline: list[Event] = []
        self.losses: dict[int, float] = {}
        self.step_clock: dict[int, float] = {}
        self._t0 = 0.0

    def _event(self, kind, step=None, rank=None, detail=""):
        self.timeline.append(Event(round(time.monotonic() - self._t0, 4), kind, step, rank, detail))

    def _on_message(self, rank, payload):
        if payload[0] == "step":
            if rank == 0:  # rank 0: the first data-parallel rank, or the parameter server
                self.losses[payload[1]] = payload[2]
                self.step_clock[payload[1]] = time.monotonic()
        elif payload[0] == "checkpoint":
            self._event("checkpoint", step=payload[1], rank=rank)

    def _worker_fn(self):
        if self.config.strategy == "parameter_server":
            from .parameter_server import ps_train_worker
            return ps_train_worker
        return train_worker

    def run(self) -> TrainResult:
        config = self.config
        self._t0 = time.monotonic()
        if config.checkpoint_dir:
            Path(config.checkpoint_dir).mkdir(parents=True, exist_ok=True)
        restarts = 0
        while True:
            resume = ckpt.latest_checkpoint(config.checkpoint_dir) if config.checkpoint_dir else None
            resumed_at = ckpt.load_checkpoint(resume)["global_step"] if resume else 0
            self._event("start" if restarts == 0 else "restart", step=resumed_at)
            if restarts:  # steps after the checkpoint are redone; drop their stale losses
                self.losses = {k: v for k, v in self.losses.items() if k <= resumed_at}
            try:
                results = launch(self._worker_fn(), config.world_size, config, restarts,
                                 str(resume) if resume else None, timeout=2 * config.timeout,
                                 heartbeat_timeout=config.timeout, on_message=self._on_message)
                break
            except WorkerFailure as failure:
                first_line = str(failure).splitlines()[0]
                self._event("failure detected", rank=failure.rank, detail=f"{failure.kind}: {first_line}")
                if "NotImplementedError" in first_line:
                    raise  # an unfinished exercise part, not a failure to recover from
                if not should_restart(failure.kind, first_line, restarts, config.max_restarts):
                    raise
                restarts += 1
        self._event("done", step=results[0]["global_step"])
        replicas = [r for r in results if r["params"] is not None]  # async PS workers hold no final replica
        same = all(r["params"].tobytes() == replicas[0]["params"].tobytes() for r in replicas)
        return TrainResult(
            final_params=replicas[0]["params"], state_dict=replicas[0]["state_dict"],
            loss_history=[self.losses[k] for k in sorted(self.losses)], restarts=restarts,
            timeline=self.timeline, replicas_identical=same,
            param_history=[r["history"] for r in results] if config.record_params else None,
            staleness=[s for r in results for s in r["staleness"]], step_seconds=self._median_step())

    def _median_step(self) -> float:
        steps = sorted(self.step_clock)
        gaps = sorted(self.step_clock[b] - self.step_clock[a] for a, b in zip(steps, steps[1:]) if b == a + 1)
        return gaps[len(gaps) // 2] if gaps else 0.0


def train(config: TrainConfig) -> TrainResult:
    """Train to completion with `config` (see DistributedTrainer); raise WorkerFailure if it cannot."""
    return DistributedTrainer(config).run()
