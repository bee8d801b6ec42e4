"""Command line: `python -m solutions.distributed train --workers 2 --strategy allreduce ...`.

Two launchers run the same per-rank code:

- The project's own (`python -m solutions.distributed train --workers N ...`): starts the
  N workers itself, prints the run's timeline (event, step, rank) and the final loss.
- torchrun (`torchrun --nproc-per-node=N -m solutions.distributed train ...`): every copy
  joins torchrun's job (RANK, WORLD_SIZE, ... in its environment; `--workers` defaults to
  what torchrun started), and rank 0 prints the job's summary. Restarts are torchrun's
  (`torchrun --max-restarts=K`); every attempt resumes from the latest checkpoint.

Both end with `final params sha256 <hex>` of rank 0's final parameters: equal lines mean bitwise
equal runs. Exit code 0 when training completed, 1 when it failed (beyond `--max-restarts`),
2 for bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys

from .elastic import check_world, params_digest, run, torchrun_env
from .launcher import WorkerFailure
from .trainer import STRATEGIES, Failure, TrainConfig, train

OWN_MAX_RESTARTS = 3


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m solutions.distributed")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the example MLP with N worker processes")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default 2; under torchrun: what torchrun started)")
    p.add_argument("--strategy", choices=STRATEGIES, default="allreduce")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--checkpoint-every", type=int, default=4)
    p.add_argument("--max-restarts", type=int, default=None,
                   help=f"own launcher only (default {OWN_MAX_RESTARTS}); under torchrun pass it to torchrun")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds without a heartbeat = hung")
    p.add_argument("--staleness", type=int, default=0, help="parameter server bound; -1 = unbounded")
    p.add_argument("--fail-rank", type=int, default=None)
    p.add_argument("--fail-step", type=int, default=5)
    p.add_argument("--fail-kind", default="crash", choices=["crash", "hang", "crash_during_checkpoint_write"])
    return parser


def config_from(args, world_size: int | None) -> TrainConfig:
    """The run's TrainConfig; `world_size` is torchrun's (None under the own launcher)."""
    workers = args.workers
    if workers is None:
        workers = 2 if world_size is None else world_size - (args.strategy == "parameter_server")
    if world_size is None:
        restarts = OWN_MAX_RESTARTS if args.max_restarts is None else args.max_restarts
    elif args.max_restarts is not None:
        raise ValueError("under torchrun the restarts are torchrun's: pass --max-restarts to torchrun, not to train")
    else:
        restarts = 0
    failure = Failure(args.fail_kind, args.fail_rank, args.fail_step) if args.fail_rank is not None else None
    return TrainConfig(workers=workers, strategy=args.strategy, epochs=args.epochs,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
                       max_restarts=restarts if args.checkpoint_dir else 0,
                       timeout=args.timeout, failure=failure,
                       staleness=None if args.staleness < 0 else args.staleness)


def first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [""])[0]


def replicas(compared: int, identical: bool) -> str:
    if compared < 2:  # one replica (asynchronous parameter server: only the server holds one) proves nothing
        return f"replicas identical: n/a ({compared} replica)"
    return f"replicas identical: {identical}"


def main(argv=None, environ=None) -> int:
    args = parser().parse_args(argv)
    try:
        env = torchrun_env(os.environ if environ is None else environ)
        config = config_from(args, None if env is None else env.world_size).validate()
        if env is not None:
            check_world(config, env)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return own_launcher(config) if env is None else under_torchrun(config, env)


def own_launcher(config) -> int:
    try:
        result = train(config)
    except (WorkerFailure, ValueError) as err:
        print(f"training failed: {first_line(err)}", file=sys.stderr)
        return 1
    for e in result.timeline:
        where = "" if e.rank is None else f" rank {e.rank}"
        print(f"{e.time:8.3f}s  {e.kind:<17} step {e.step}{where}  {e.detail}".rstrip())
    print(f"final loss {result.loss_history[-1]:.4f} after {len(result.loss_history)} steps, "
          f"{result.restarts} restart(s), {replicas(result.replicas_compared, result.replicas_identical)}")
    print(f"final params sha256 {params_digest(result.final_params)}")
    return 0


def under_torchrun(config, env) -> int:
    try:
        result = run(config, env)
    except Exception as err:  # torchrun's agent sees the exit code and restarts, or reports the failure
        print(f"rank {env.rank}: training failed: {type(err).__name__}: {first_line(err)}", file=sys.stderr)
        return 1
    if env.rank == 0:
        resumed = (f"resumed from step {result.resumed_from} ({os.path.basename(result.checkpoint)})"
                   if result.checkpoint else "started from scratch")
        loss = "n/a" if result.loss is None else f"{result.loss:.4f}"
        print(f"torchrun job: world size {result.world_size}, attempt {result.attempt}, {resumed}")
        print(f"final loss {loss} after {result.global_step} steps, attempt {result.attempt}, "
              f"{replicas(result.replicas_compared, result.replicas_identical)}")
        print(f"final params sha256 {result.digest}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
