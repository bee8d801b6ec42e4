# Starter code generated from solutions/distributed/elastic.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""The same per-rank code under torchrun (or any launcher that sets the `env://` variables).

`torchrun --nproc-per-node=N -m solutions.distributed train ...` starts N copies of the
command line. Each finds its place in the job from torchrun's variables (`torchrun_env`),
joins the gloo process group in the job's store (`job_store`) and runs the same per-rank
function that `trainer.train` runs in its own workers (worker.py, parameter_server.py).
torchrun's agent is then the coordinator: it watches the processes and, with
`--max-restarts=K`, kills and restarts all of them after a failure. The attempt number is
the agent's TORCHELASTIC_RESTART_COUNT (injected failures fire on attempt 0 only), and
every attempt resumes from the latest complete checkpoint in `checkpoint_dir`, chosen by
rank 0 and broadcast so that every rank restores the same one.

Several agents (`--nnodes`, c10d rendezvous) form one job the same way; `checkpoint_dir`
must then be a directory every node sees (rank 0 writes it, every rank reads it). An agent
whose own workers did not fail restarts them without counting a restart, so attempt
numbers can differ between nodes: for restarts across nodes, start every agent with
TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 (a fresh store per attempt, see `job_store`).
"""
from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from . import checkpoint as ckpt
from .worker import worker_for

REQUIRED = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class TorchrunEnv:
    rank: int
    world_size: int
    local_rank: int
    attempt: int       # TORCHELASTIC_RESTART_COUNT: 0, then 1 after the first restart, ...
    master_addr: str   # where the job's store is
    master_port: int
    agent_store: bool  # TORCHELASTIC_USE_AGENT_STORE: torchrun's agent hosts the store, not rank 0


def torchrun_env(environ) -> TorchrunEnv | None:
    """This process's place in a torchrun job, from its environment; None when not launched that way.

    Launched that way means RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT are all set. A missing
    LOCAL_RANK or TORCHELASTIC_RESTART_COUNT (another env:// launcher) counts as 0. A value that is
    not an integer, a world size below 1, a rank outside [0, WORLD_SIZE) or a port outside
    [1, 65535] is a ValueError naming the variable.
    """
    if not all(environ.get(k) for k in REQUIRED):
        return None

    def integer(name, default=None):
        raw = environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{name} must be an integer, got {raw!r}") from None

    world_size = integer("WORLD_SIZE")
    if world_size < 1:
        raise ValueError(f"WORLD_SIZE must be >= 1, got {world_size}")
    rank = integer("RANK")
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK must be in [0, {world_size}), got {rank}")
    attempt = integer("TORCHELASTIC_RESTART_COUNT", 0)
    if attempt < 0:
        raise ValueError(f"TORCHELASTIC_RESTART_COUNT must be >= 0, got {attempt}")
    port = integer("MASTER_PORT")
    if not 0 < port < 2**16:
        raise ValueError(f"MASTER_PORT must be in [1, 65535], got {port}")
    return TorchrunEnv(rank, world_size, integer("LOCAL_RANK", 0), attempt, environ["MASTER_ADDR"], port,
                       environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True")


def check_world(config, env: TorchrunEnv):
    """`config`, if its world size is the one the launcher started; else a ValueError saying both."""
    if config.world_size != env.world_size:
        raise ValueError(f"{config.workers} workers with strategy {config.strategy!r} need {config.world_size} "
                         f"processes, but the launcher started {env.world_size}")
    return config


def job_store(env: TorchrunEnv, timeout: datetime.timedelta) -> dist.Store:
    """The store this attempt's process group meets in (what `init_method="env://"` would connect to).

    torchrun's agent hosts one store for all attempts (TORCHELASTIC_USE_AGENT_STORE=True), and
    the keys of a previous attempt stay in it: a restarted rank could read a dead peer's
    address and fail to connect. Each attempt therefore gets its own key prefix. Without the
    agent's store (TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1), rank 0 hosts a fresh store per attempt.
    """
    agent_store = env.agent_store
    store = dist.TCPStore(env.master_addr, env.master_port, env.world_size, is_master=not agent_store and env.rank == 0,
                          timeout=timeout)
    return dist.PrefixStore(f"mlpractice/attempt-{env.attempt}", store) if agent_store else store


def params_digest(params: np.ndarray | None) -> str | None:
    """sha256 of a replica's parameter bytes: equal digests mean bitwise-equal replicas."""
    return None if params is None else hashlib.sha256(np.ascontiguousarray(params).tobytes()).hexdigest()


@dataclass(frozen=True)
class ElasticResult:
    rank: int
    world_size: int
    attempt: int
    resumed_from: int            # global step of the checkpoint this attempt resumed from (0: from scratch)
    checkpoint: str | None       # its path
    global_step: int             # steps done at the end
    loss: float | None           # global mean loss of the last step (None on asynchronous PS workers)
    final_params: np.ndarray | None
    digest: str | None           # params_digest(final_params)
    replicas_identical: bool     # every rank holding a replica has the same bits
    replicas_compared: int       # how many ranks hold one (asynchronous PS: only the server)


def run(config, env: TorchrunEnv) -> ElasticResult:
    """Run this rank's part of the job described by `env` (see the module docstring)."""
    config = check_world(config.validate(), env)
    torch.set_num_threads(1)
    timeout = datetime.timedelta(seconds=2 * config.timeout)
    dist.init_process_group("gloo", store=job_store(env, timeout), rank=env.rank, world_size=env.world_size,
                            timeout=timeout)
    try:
        chosen = [None, 0]
        if env.rank == 0 and config.checkpoint_dir:
            Path(config.checkpoint_dir).mkdir(parents=True, exist_ok=True)
            if latest := ckpt.latest_checkpoint(config.checkpoint_dir):
                chosen = [str(latest), ckpt.load_checkpoint(latest)["global_step"]]
        dist.broadcast_object_list(chosen, src=0)  # every rank restores the same checkpoint
        out = worker_for(config.strategy)(env.rank, env.world_size, config, env.attempt, chosen[0])
        digests = [None] * env.world_size
        dist.all_gather_object(digests, params_digest(out["params"]))
        # the last collective: after it no rank needs another, so leaving is safe for everyone
        dist.barrier()
    finally:
        dist.destroy_process_group()
    replicas = [d for d in digests if d is not None]
    return ElasticResult(rank=env.rank, world_size=env.world_size, attempt=env.attempt, resumed_from=chosen[1],
                         checkpoint=chosen[0], global_step=out["global_step"], loss=out["loss"],
                         final_params=out["params"], digest=params_digest(out["params"]),
                         replicas_identical=len(set(replicas)) == 1, replicas_compared=len(replicas))
