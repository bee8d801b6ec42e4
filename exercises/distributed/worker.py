# Starter code generated from solutions/distributed/worker.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""One data-parallel rank ("allreduce" or "ddp"): the training loop a user runs, with its checkpoints.

The same function runs under the project's launcher (`trainer.train`) and under torchrun
(`elastic.run`); only the process group's initialisation differs. Experiments and tests act
through the config's worker hooks (hooks.py), never through branches here.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from . import checkpoint as ckpt
from .data_parallel import average_gradients
from .hooks import HookChain, WorkerContext
from .launcher import heartbeat, send
from .models import flat_params
from .parameter_server import ps_train_worker
from .worker_common import build, state_arrays


def train_worker(rank: int, world_size: int, config, attempt: int, resume: str | None) -> dict:
    """One data-parallel rank: train, heartbeat, checkpoint; return its replica.

    Heartbeats carry progress in thirds of a step: 3k + 1 when step k + 1 begins, 3k + 2 once
    its gradients are computed (the rank is about to average them with its peers), 3k + 3 when
    it is done. A rank that waits for a hung peer inside a collective is thereby ahead of it.
    """
    hooks = HookChain(config.worker_hooks(), WorkerContext(rank, world_size, attempt, config))
    model, optimizer, loader = build(config, rank, rank, world_size)
    epoch, step, global_step = 0, 0, 0
    if resume:
        saved = ckpt.load_checkpoint(resume)
        if saved["world_size"] != world_size:
            raise ValueError(f"checkpoint was written by {saved['world_size']} ranks, not {world_size}")
        epoch, step = ckpt.restore_state(saved["ranks"][rank], model, optimizer, loader)
        global_step = saved["global_step"]
        optimizer, epoch, step = hooks.after_restore(model, optimizer, loader, epoch, step)
    heartbeat(progress=3 * global_step)  # set-up and restore are done, steps begin
    net = torch.nn.parallel.DistributedDataParallel(model) if config.strategy == "ddp" else model
    per_epoch = loader.steps_per_epoch()
    last_loss = None
    while epoch < config.epochs:
        for step, x, y in loader.batches(epoch, step):
            hooks.before_step(global_step)
            heartbeat(progress=3 * global_step + 1)
            loss = torch.nn.functional.mse_loss(net(x), y)
            optimizer.zero_grad()
            loss.backward()  # DDP averages the gradients in here
            heartbeat(progress=3 * global_step + 2)
            if config.strategy == "allreduce":
                average_gradients(model.parameters())
            optimizer.step()
            global_step += 1
            mean_loss = loss.detach().clone()
            dist.all_reduce(mean_loss)  # metrics only
            last_loss = float(mean_loss) / world_size
            send(("step", global_step, last_loss), progress=3 * global_step)
            hooks.after_step(model, global_step)
            if config.checkpoint_dir and global_step % config.checkpoint_every == 0:
                nxt = (epoch, step + 1) if step + 1 < per_epoch else (epoch + 1, 0)
                write_checkpoint(config, rank, ckpt.capture_state(model, optimizer, loader, *nxt),
                                 global_step, hooks)
        epoch, step = epoch + 1, 0
    return dict(params=flat_params(model), global_step=global_step, state_dict=state_arrays(model),
                staleness=[], loss=last_loss, hooks=hooks.result())


def write_checkpoint(config, rank: int, state: dict, global_step: int, hooks) -> None:
    """Gather every rank's state on rank 0, which writes them as one atomic checkpoint file."""
    gathered = [None] * dist.get_world_size() if rank == 0 else None
    dist.gather_object(state, gathered, dst=0)
    if rank != 0:
        return
    payload = {"world_size": dist.get_world_size(), "global_step": global_step, "ranks": gathered}
    hooks.before_checkpoint_write(global_step)
    ckpt.save_checkpoint(ckpt.checkpoint_path(config.checkpoint_dir, global_step), payload)
    send(("checkpoint", global_step))


def worker_for(strategy: str):
    """The per-rank function of a strategy: fn(rank, world_size, config, attempt, resume) -> dict."""
    return ps_train_worker if strategy == "parameter_server" else train_worker
