"""Start `world_size` real OS processes joined by a gloo process group, and watch them.

`launch(fn, world_size, *args)` runs `fn(rank, world_size, *args)` in every worker
and returns the list of the workers' return values, indexed by rank. It is the
small version of what torchrun's agent does, and its semantics are exact:

- Workers start from a forkserver that has already imported torch (fast, and no
  threads of the parent are forked). Each worker sets one intra-op thread, joins a
  gloo process group on 127.0.0.1 at a port chosen for this launch, with a
  `timeout` in seconds (never gloo's 30-minute default), and inherits the
  implementation choice (MLPRACTICE_IMPL) of the parent.
- Return values travel back pickled through a queue (numpy arrays, dicts, floats).
- The coordinator never blocks forever: it polls the queue and every worker's
  liveness every `poll` seconds. The first failure ends the launch: a worker that
  raises relays "rank r: ExcType: message" plus its traceback, a worker that dies
  without a word (os._exit, SIGKILL) is reported with its exit code, a worker
  whose last heartbeat is older than `heartbeat_timeout` is declared hung. Then
  every worker is killed (SIGKILL) and `WorkerFailure` is raised, so a failure is
  seen within about `poll` seconds, not after the gloo timeout. When a survivor's error
  only says that a peer went away, the dead peer is blamed (kind "crash").
  A rank's heartbeat clock starts when its process is up (a cold forkserver can
  take seconds to start the first workers; that is not a hang; `deadline` bounds it).
- `on_message(rank, payload)` receives anything a worker sends with `send(...)`
  (heartbeats, checkpoint notices) while the launch runs.
"""
from __future__ import annotations

import datetime
import multiprocessing as mp
import os
import queue as queue_mod
import time
import traceback
from dataclasses import dataclass

from mlpractice.net import free_port  # shared loopback helper

PG_TIMEOUT_S = 5.0
PEER_LOST = ("closed by peer", "reset by peer", "Broken pipe", "Connection refused")
PEER_LOST_GRACE_S = 1.0
_CTX = None
_CHANNEL = None  # the worker's end of the result queue (set in each worker)


class WorkerFailure(RuntimeError):
    """A launch ended because one worker failed. `kind` is 'error', 'crash' or 'hang'."""

    def __init__(self, message: str, *, rank: int, kind: str, elapsed: float = 0.0):
        super().__init__(message)
        self.rank, self.kind, self.elapsed = rank, kind, elapsed


@dataclass(frozen=True)
class _Job:
    fn: object
    args: tuple
    rank: int
    world_size: int
    port: int
    timeout: float
    impl: str | None


def context():
    """The shared forkserver context; torch and numpy are preloaded once in the server."""
    global _CTX
    if _CTX is None:
        _CTX = mp.get_context("forkserver")
        # torch._dynamo is what the first optimizer construction imports (1+ s): pay it once, here
        _CTX.set_forkserver_preload(["torch", "torch.distributed", "torch._dynamo", "numpy"])
    return _CTX



def send(payload) -> None:
    """From inside a worker: send `payload` to the coordinator's `on_message` now."""
    if _CHANNEL is not None:
        _CHANNEL.put(("msg", _rank(), payload))


def _rank() -> int:
    import torch.distributed as dist
    return dist.get_rank() if dist.is_initialized() else -1


def _worker(job: _Job, channel) -> None:
    global _CHANNEL
    _CHANNEL = channel
    os.environ["OMP_NUM_THREADS"] = "1"
    if job.impl:
        os.environ["MLPRACTICE_IMPL"] = job.impl
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    channel.put(("msg", job.rank, ("ready",)))  # starts this rank's heartbeat clock
    try:
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{job.port}", rank=job.rank,
            world_size=job.world_size, timeout=datetime.timedelta(seconds=job.timeout))
        result = job.fn(job.rank, job.world_size, *job.args)
        channel.put(("ok", job.rank, result))
    except BaseException as exc:  # relay everything, including KeyboardInterrupt
        channel.put(("error", job.rank, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        # no destroy_process_group barrier: a peer may already be gone
        channel.close()
        channel.join_thread()


def launch(fn, world_size: int, *args, timeout: float = PG_TIMEOUT_S, poll: float = 0.02,
           heartbeat_timeout: float | None = None, on_message=None, deadline: float = 600.0) -> list:
    """Run fn(rank, world_size, *args) in `world_size` processes; return results by rank (see module doc)."""
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive int, got {world_size!r}")
    ctx = context()
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    channel = ctx.Queue()
    port = free_port()
    impl = os.environ.get("MLPRACTICE_IMPL")
    procs = [ctx.Process(target=_worker, args=(_Job(fn, args, r, world_size, port, timeout, impl), channel),
                         daemon=True) for r in range(world_size)]
    start = time.monotonic()
    for p in procs:
        p.start()
    results: dict[int, object] = {}
    last_seen: dict[int, float] = {}  # rank -> time of its last message; its clock starts with "ready"
    clean_exits: dict[int, float] = {}  # rank -> when it was first seen exited with code 0, unreported
    next_check = start
    try:
        while len(results) < world_size:
            if time.monotonic() >= next_check:  # also when messages keep arriving
                _check_alive(procs, results, last_seen, clean_exits, heartbeat_timeout, start, deadline)
                next_check = time.monotonic() + poll
            try:
                kind, rank, *rest = channel.get(timeout=poll)
            except queue_mod.Empty:
                continue
            last_seen[rank] = time.monotonic()
            if kind == "ok":
                results[rank] = rest[0]
            elif kind == "msg":
                if on_message is not None and rest[0] != ("ready",):
                    on_message(rank, rest[0])
            else:
                raise _root_cause(procs, results, rank, *rest, poll=poll, start=start)
        return [results[r] for r in range(world_size)]
    finally:
        _kill_all(procs)
        channel.close()


def _root_cause(procs, results, rank, message, tb, *, poll, start) -> WorkerFailure:
    """The failure to report when `rank` raised: its own error, unless a peer died first.

    A peer's death shows up in the survivors as "connection closed by peer": for such
    messages wait up to PEER_LOST_GRACE_S for the dead rank's exit status (the forkserver
    relays it) and blame that rank instead.
    """
    grace = PEER_LOST_GRACE_S if any(sign in message for sign in PEER_LOST) else poll
    until = time.monotonic() + grace
    while True:
        dead = [r for r, p in enumerate(procs) if r not in results and p.exitcode not in (None, 0)]
        if dead:
            return WorkerFailure(f"rank {dead[0]}: worker died with exit code {procs[dead[0]].exitcode} "
                                 "before reporting", rank=dead[0], kind="crash", elapsed=time.monotonic() - start)
        if time.monotonic() >= until:
            return WorkerFailure(f"rank {rank}: {message}\n--- worker traceback ---\n{tb}",
                                 rank=rank, kind="error", elapsed=time.monotonic() - start)
        time.sleep(poll)


def _check_alive(procs, results, last_seen, clean_exits, heartbeat_timeout, start, deadline):
    """Raise WorkerFailure for the first dead, silent or overdue worker (see the module docstring)."""
    now = time.monotonic()
    for rank, p in enumerate(procs):
        if rank in results or p.exitcode is None:
            continue
        # a clean exit means the result is already in the pipe (a worker flushes before it exits),
        # so only an exit that stays unexplained for a second is a crash
        if p.exitcode == 0 and now - clean_exits.setdefault(rank, now) < 1.0:
            continue
        raise WorkerFailure(f"rank {rank}: worker died with exit code {p.exitcode} before reporting",
                            rank=rank, kind="crash", elapsed=now - start)
    if heartbeat_timeout is not None:
        silent = [r for r in range(len(procs))
                  if r not in results and r in last_seen and now - last_seen[r] > heartbeat_timeout]
        if silent:
            # peers blocked in a collective with the hung rank go silent too: name them all
            oldest = min(silent, key=lambda r: last_seen[r])
            raise WorkerFailure(f"rank {oldest}: no heartbeat for {heartbeat_timeout:g} s (hung; silent ranks "
                                f"{silent})", rank=oldest, kind="hang", elapsed=now - start)
    if now - start > deadline:
        raise WorkerFailure(f"launch exceeded its {deadline:g} s deadline", rank=-1, kind="hang",
                            elapsed=now - start)


def _kill_all(procs):
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(timeout=5)
