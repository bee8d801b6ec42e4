# Starter code generated from solutions/distributed/launcher.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""Start `world_size` real OS processes joined by a gloo process group, and watch them.

`launch(fn, world_size, *args)` runs `fn(rank, world_size, *args)` in every worker
and returns the list of the workers' return values, indexed by rank. It is the
small version of what torchrun's agent does, and its semantics are exact:

- Workers start from a forkserver that has already imported torch (fast, and no
  threads of the parent are forked). Each worker sets one intra-op thread, joins a
  gloo process group on 127.0.0.1 at a port chosen for this launch, with a
  `timeout` in seconds (never gloo's 30-minute default), and inherits the
  implementation choice (MLPRACTICE_IMPL) of the parent. Rank 0 hosts the group's
  TCP store, even inside a torchrun worker (whose TORCHELASTIC_USE_AGENT_STORE
  would make every rank wait for a store that torchrun's agent hosts elsewhere).
- Return values travel back pickled through one pipe per rank (numpy arrays, dicts,
  floats); a worker's sends are written before they return, so whatever a rank sent
  before it died (its last progress, an error report) is still read.
- No rank exits while another may still need it: after its report (result or
  error) a worker waits until the coordinator has every rank's result, because
  rank 0 hosts the store and a peer may still be in rendezvous or in its last
  collective. So an exit before that, whatever its code, is a crash.
- The coordinator never blocks forever: it polls the queue and every worker's
  liveness every `poll` seconds. The first failure ends the launch: a worker that
  raises relays "rank r: ExcType: message" plus its traceback, a worker that dies
  without a word (os._exit, SIGKILL) is reported with its exit code, and when some
  worker's last message is older than `heartbeat_timeout` the launch is hung (see
  `hung_rank` for which rank is blamed). Then every worker is killed (SIGKILL) and
  `WorkerFailure` is raised, so a failure is seen within about `poll` seconds, not
  after the gloo timeout. When a survivor's error only says that a peer went away,
  the dead peer is blamed (kind "crash"). A rank's heartbeat clock starts when its
  process is up (a cold forkserver can take seconds to start the first workers;
  that is not a hang; `deadline` bounds it).
- `on_message(rank, payload)` receives anything a worker sends with `send(...)`
  (step reports, checkpoint notices) while the launch runs; every message is a
  heartbeat, and `heartbeat(progress)` is one that carries nothing else.
"""
from __future__ import annotations

import datetime
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import time
import traceback
from dataclasses import dataclass

from mlpractice.net import free_port  # shared loopback helper

PG_TIMEOUT_S = 5.0
PEER_LOST = ("closed by peer", "reset by peer", "Broken pipe", "Connection refused")
PEER_LOST_GRACE_S = 1.0
EXIT_GRACE_S = 5.0  # released workers that have not exited by then are killed
_CTX = None
_CHANNEL = None  # the worker's end of its pipe to the coordinator (set in each worker)


class WorkerFailure(RuntimeError):
    """A launch ended because one worker failed. `kind` is 'error', 'crash' or 'hang';
    `progress` is the last progress the blamed rank reported (None if it reported none)."""

    def __init__(self, message: str, *, rank: int, kind: str, elapsed: float = 0.0, progress: int | None = None):
        super().__init__(message)
        self.rank, self.kind, self.elapsed, self.progress = rank, kind, elapsed, progress


@dataclass(frozen=True)
class _Job:
    fn: object
    args: tuple
    rank: int
    world_size: int
    port: int
    timeout: float
    impl: str | None
    linger: float  # the longest a worker waits for its release (the launch's deadline)


def context():
    """The shared forkserver context; torch and numpy are preloaded once in the server."""
    global _CTX
    if _CTX is None:
        _CTX = mp.get_context("forkserver")
        # torch._dynamo is what the first optimizer construction imports (1+ s): pay it once, here
        _CTX.set_forkserver_preload(["torch", "torch.distributed", "torch._dynamo", "numpy"])
    return _CTX


def send(payload, *, progress: int | None = None) -> None:
    """From inside a worker: send `payload` to the coordinator's `on_message` now (also a heartbeat).

    `progress` (optional) is how far this rank has come, in units every rank counts alike
    (the trainer counts half-steps); the coordinator blames a hang on the rank furthest behind.
    Outside a launch (a plain process, or torchrun) this does nothing.
    """
    if _CHANNEL is not None:
        _CHANNEL.send(("msg", payload, progress))  # written to the pipe before this returns


def heartbeat(progress: int | None = None) -> None:
    """From inside a worker: a heartbeat that carries only `progress` (not passed to on_message)."""
    send(("heartbeat",), progress=progress)


def _worker(job: _Job, channel, release) -> None:
    global _CHANNEL
    _CHANNEL = channel
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.pop("TORCHELASTIC_USE_AGENT_STORE", None)  # this launch's rank 0 hosts the store
    if job.impl:
        os.environ["MLPRACTICE_IMPL"] = job.impl
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    parent = os.getppid()
    heartbeat()  # "ready": starts this rank's heartbeat clock
    try:
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{job.port}", rank=job.rank,
            world_size=job.world_size, timeout=datetime.timedelta(seconds=job.timeout))
        result = job.fn(job.rank, job.world_size, *job.args)
        channel.send(("ok", result))
    except BaseException as exc:  # relay everything, including KeyboardInterrupt (and an unpicklable result)
        channel.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        channel.close()
    # Stay until every rank has reported (see the module docstring); a coordinator that died
    # (our parent, the forkserver, is gone) or a launch past its deadline also ends the wait.
    until = time.monotonic() + job.linger
    while not release.wait(0.5) and os.getppid() == parent and time.monotonic() < until:
        pass


def hung_rank(last_seen: dict, progress: dict, now: float, timeout: float) -> int | None:
    """The rank to blame for a hang, or None while no rank has been silent for more than `timeout`.

    `last_seen[r]` is when unfinished rank r was last heard from, `progress[r]` the last progress
    it reported (none yet counts as -1). The ranks that wait for a hung rank inside a collective
    go silent too, about when they enter it, and they are ahead of it: among the ranks silent for
    more than half the timeout, blame the one with the least progress, then the one silent longest,
    then the lowest rank.
    """
    silent = {r: now - t for r, t in last_seen.items() if now - t > timeout / 2}
    if not any(s > timeout for s in silent.values()):
        return None
    return min(silent, key=lambda r: (progress.get(r, -1), -silent[r], r))


def launch(fn, world_size: int, *args, timeout: float = PG_TIMEOUT_S, poll: float = 0.02,
           heartbeat_timeout: float | None = None, on_message=None, deadline: float = 600.0) -> list:
    """Run fn(rank, world_size, *args) in `world_size` processes; return results by rank (see module doc)."""
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive int, got {world_size!r}")
    ctx = context()
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    release = ctx.Event()
    port = free_port()
    impl = os.environ.get("MLPRACTICE_IMPL")
    # one pipe per rank, written synchronously: what a rank sent before it died stays readable
    pipes = [ctx.Pipe(duplex=False) for _ in range(world_size)]
    procs = [ctx.Process(target=_worker, daemon=True, args=(
        _Job(fn, args, r, world_size, port, timeout, impl, deadline), pipes[r][1], release)) for r in range(world_size)]
    try:
        for p, (_, writer) in zip(procs, pipes):
            p.start()
            writer.close()  # the worker has its own copy
        results = _Watch(procs, [reader for reader, _ in pipes], on_message, heartbeat_timeout, poll, deadline).run()
        release.set()
        _join(procs, EXIT_GRACE_S)
        return results
    finally:
        _kill_all(procs)
        for reader, writer in pipes:
            reader.close()
            writer.close()


class _Watch:
    """The coordinator's side of one launch: read every rank's pipe, poll liveness, raise the first failure."""

    def __init__(self, procs, readers, on_message, heartbeat_timeout, poll, deadline):
        self.procs, self.on_message, self.heartbeat_timeout = procs, on_message, heartbeat_timeout
        self.poll, self.deadline = poll, deadline
        self.open = {reader: rank for rank, reader in enumerate(readers)}
        self.results: dict[int, object] = {}
        self.last_seen: dict[int, float] = {}  # rank -> time of its last message; its clock starts with "ready"
        self.progress: dict[int, int] = {}     # rank -> the last progress it reported
        self.start = time.monotonic()

    def run(self) -> list:
        next_check = self.start
        while len(self.results) < len(self.procs):
            if time.monotonic() >= next_check:  # also when messages keep arriving
                self._check_alive()
                next_check = time.monotonic() + self.poll
            for reader in mp_connection.wait(list(self.open), timeout=self.poll):
                if (error := self._read(reader)) is not None:
                    raise self._root_cause(*error)
        return [self.results[r] for r in range(len(self.procs))]

    def _read(self, reader):
        """Take one message from a rank's pipe; return (rank, message, traceback) if it is an error report."""
        rank = self.open[reader]
        try:
            kind, *rest = reader.recv()
        except EOFError:  # the worker closed its end: it reported, or it is gone (liveness polling tells)
            del self.open[reader]
            return None
        self.last_seen[rank] = time.monotonic()
        if kind == "ok":
            self.results[rank] = rest[0]
            self.last_seen.pop(rank)
        elif kind == "msg":
            payload, reported = rest
            if reported is not None:
                self.progress[rank] = reported
            if self.on_message is not None and payload != ("heartbeat",):
                self.on_message(rank, payload)
        else:
            return (rank, *rest)
        return None

    def _drain(self, rank):
        """Read everything `rank` wrote before it exited; return its error report, if any."""
        error = None
        for reader in [c for c, r in self.open.items() if r == rank]:
            while reader in self.open and reader.poll(0):
                error = self._read(reader) or error
        return error

    def _failure(self, message, rank, kind) -> WorkerFailure:
        return WorkerFailure(message, rank=rank, kind=kind, elapsed=time.monotonic() - self.start,
                             progress=self.progress.get(rank))

    def _root_cause(self, rank, message, tb) -> WorkerFailure:
        """The failure to report when `rank` raised: its own error, unless a peer died first.

        A peer's death shows up in the survivors as "connection closed by peer": for such
        messages wait up to PEER_LOST_GRACE_S for the dead rank's exit status (the forkserver
        relays it) and blame that rank instead.
        """
        grace = PEER_LOST_GRACE_S if any(sign in message for sign in PEER_LOST) else self.poll
        until = time.monotonic() + grace
        while True:
            dead = [r for r, p in enumerate(self.procs) if r not in self.results and p.exitcode is not None]
            if dead:
                self._drain(dead[0])  # its last progress
                return self._failure(f"rank {dead[0]}: worker died with exit code {self.procs[dead[0]].exitcode} "
                                     "before reporting", dead[0], "crash")
            if time.monotonic() >= until:
                return self._failure(f"rank {rank}: {message}\n--- worker traceback ---\n{tb}", rank, "error")
            time.sleep(self.poll)

    def _check_alive(self):
        """Raise WorkerFailure for the first dead, silent or overdue worker (see the module docstring)."""
        for rank, p in enumerate(self.procs):
            if rank not in self.results and p.exitcode is not None:  # workers wait for their release
                if (error := self._drain(rank)) is not None:
                    raise self._root_cause(*error)
                if rank not in self.results:  # any exit before the release is a crash
                    raise self._failure(f"rank {rank}: worker died with exit code {p.exitcode} before reporting",
                                        rank, "crash")
        now = time.monotonic()
        if self.heartbeat_timeout is not None:
            blamed = hung_rank(self.last_seen, self.progress, now, self.heartbeat_timeout)
            if blamed is not None:
                silent = sorted(r for r, t in self.last_seen.items() if now - t > self.heartbeat_timeout / 2)
                raise self._failure(f"rank {blamed}: no heartbeat for {self.heartbeat_timeout:g} s (hung; silent "
                                    f"ranks {silent}, progress {[self.progress.get(r, -1) for r in silent]})",
                                    blamed, "hang")
        if now - self.start > self.deadline:
            raise WorkerFailure(f"launch exceeded its {self.deadline:g} s deadline", rank=-1, kind="hang",
                                elapsed=now - self.start)


def _join(procs, seconds: float) -> None:
    until = time.monotonic() + seconds
    for p in procs:
        p.join(max(0.0, until - time.monotonic()))


def _kill_all(procs):
    for p in procs:
        if p.is_alive():
            p.kill()
    _join(procs, 5.0)
