"""Command line: `python -m solutions.distributed train --workers 2 --strategy allreduce ...`.

Prints the run's timeline (event, step, rank) and the final loss; exit code 0 when
training completed, 1 when it failed beyond `--max-restarts`.
"""
from __future__ import annotations

import argparse
import sys

from .launcher import WorkerFailure
from .trainer import STRATEGIES, Failure, TrainConfig, train


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.distributed")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the example MLP with N worker processes")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--strategy", choices=STRATEGIES, default="allreduce")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--checkpoint-every", type=int, default=4)
    p.add_argument("--max-restarts", type=int, default=3)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds without a heartbeat = hung")
    p.add_argument("--staleness", type=int, default=0, help="parameter server bound; -1 = unbounded")
    p.add_argument("--fail-rank", type=int, default=None)
    p.add_argument("--fail-step", type=int, default=5)
    p.add_argument("--fail-kind", default="crash", choices=["crash", "hang", "crash_during_checkpoint_write"])
    args = parser.parse_args(argv)
    failure = Failure(args.fail_kind, args.fail_rank, args.fail_step) if args.fail_rank is not None else None
    config = TrainConfig(workers=args.workers, strategy=args.strategy, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
                         max_restarts=args.max_restarts if args.checkpoint_dir else 0,
                         timeout=args.timeout, failure=failure,
                         staleness=None if args.staleness < 0 else args.staleness)
    try:
        result = train(config)
    except (WorkerFailure, ValueError) as err:
        print(f"training failed: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    for e in result.timeline:
        where = "" if e.rank is None else f" rank {e.rank}"
        print(f"{e.time:8.3f}s  {e.kind:<17} step {e.step}{where}  {e.detail}".rstrip())
    print(f"final loss {result.loss_history[-1]:.4f} after {len(result.loss_history)} steps, "
          f"{result.restarts} restart(s), replicas identical: {result.replicas_identical}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
