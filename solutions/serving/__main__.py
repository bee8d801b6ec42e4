"""Command line.

    python -m solutions.serving demo-registry DIR
    python -m solutions.serving --registry DIR [--host 127.0.0.1 --port 8000 --workers N --max-batch-size N
                                --max-wait-ms T --max-queue-size Q --model NAME ...]
    python -m solutions.serving --llm tinygpt [--registry DIR --llm-max-num-seqs 16 --llm-static ...]

`--llm tinygpt` also serves the tiny GPT's "late" checkpoint as model `tinygpt` on the generate routes
(llm_http.py) with a ContinuousBatcher (`--llm-static`: request-level batching, for comparison); without
--registry it serves no other model.

With `--workers N` (N > 1) uvicorn starts N worker processes on one socket;
admin calls reach every worker (control.py) and /metrics sums them. On
SIGTERM/SIGINT each worker drains first (readiness 400, new requests 503
Draining + Retry-After, queued requests answered), keeps answering 503 for
--drain-linger-s so clients stop sending, then uvicorn closes the socket and exits.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile

from .demo import build_bench_registry, build_demo_registry
from .settings import Settings


def serve(args) -> int:
    import uvicorn

    from .registry import ModelRegistry

    with tempfile.TemporaryDirectory(prefix="mlserve-") as scratch:
        registry = args.registry or os.path.join(scratch, "registry")  # --llm alone: an empty registry
        os.makedirs(registry, exist_ok=True)
        models = tuple(args.model or ModelRegistry(registry).models())
        if not models and not args.llm:
            print(f"no models in {registry}: build one with `python -m solutions.serving demo-registry DIR`",
                  file=sys.stderr)
            return 2
        settings = Settings(registry=registry, models=models, max_batch_size=args.max_batch_size,
                            max_wait_ms=args.max_wait_ms, max_queue_size=args.max_queue_size,
                            timeout_s=args.timeout_s, torch_threads=args.torch_threads,
                            gil_switch_ms=args.gil_switch_ms, trust=args.trust, drain_linger_s=args.drain_linger_s,
                            llm=args.llm or "", llm_max_num_seqs=args.llm_max_num_seqs,
                            llm_max_waiting=args.llm_max_waiting, llm_cache=args.llm_cache,
                            llm_static=args.llm_static)
        if args.workers > 1:  # shared admin state and metrics, fresh for this run
            settings = dataclasses.replace(settings, state_dir=os.path.join(scratch, "state"))
            os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(scratch, "metrics"))
            os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        os.environ.update(settings.to_env())  # the workers build their server from these
        uvicorn.run(f"{__package__}.asgi:create_app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level, access_log=False, timeout_graceful_shutdown=30)
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["demo-registry"], ["bench-registry"]):
        p = argparse.ArgumentParser(prog=f"python -m solutions.serving {argv[0]}")
        p.add_argument("root")
        p.add_argument("--seed", type=int, default=0)
        args = p.parse_args(argv[1:])
        build = build_demo_registry if argv[0] == "demo-registry" else build_bench_registry
        registry = build(args.root, seed=args.seed)
        for name in registry.models():
            print(f"{name}: versions {registry.versions(name)} aliases {registry.aliases(name)}")
        return 0
    p = argparse.ArgumentParser(prog="python -m solutions.serving", description="serve models over KServe v2 REST")
    p.add_argument("--registry", help="the model registry directory (required unless --llm)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--model", action="append", help="model to load at startup (default: every model)")
    p.add_argument("--max-batch-size", type=int, default=32)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    p.add_argument("--max-queue-size", type=int, default=1024)
    p.add_argument("--timeout-s", type=float, default=10.0)
    p.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--gil-switch-ms", type=float, default=Settings.gil_switch_ms,
                   help=f"the GIL switch interval of each server process, ms (default {Settings.gil_switch_ms:g}; "
                        "CPython's is 5)")
    p.add_argument("--drain-linger-s", type=float, default=1.0,
                   help="after SIGTERM's drain, keep answering 503 this long before closing (default 1)")
    p.add_argument("--trust", action="store_true", help="allow pickle artifacts whose sha256 matches")
    p.add_argument("--llm", choices=["tinygpt"], help="also serve the tiny GPT on the generate routes")
    p.add_argument("--llm-max-num-seqs", type=int, default=Settings.llm_max_num_seqs,
                   help="sequences decoding at once (default %(default)s)")
    p.add_argument("--llm-max-waiting", type=int, default=Settings.llm_max_waiting,
                   help="requests waiting for admission before 503 (default %(default)s)")
    p.add_argument("--llm-cache", choices=["contiguous", "paged"], default=Settings.llm_cache)
    p.add_argument("--llm-static", action="store_true", help="request-level batching instead of continuous")
    p.add_argument("--log-level", default="warning")
    args = p.parse_args(argv)
    if not args.registry and not args.llm:
        p.error("--registry is required (unless --llm)")
    if args.workers < 1:
        p.error(f"--workers must be >= 1, got {args.workers}")
    if not args.gil_switch_ms > 0:
        p.error(f"--gil-switch-ms must be > 0, got {args.gil_switch_ms}")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
