# Starter code generated from solutions/serving/__main__.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Command line.

    python -m solutions.serving demo-registry DIR
    python -m solutions.serving --registry DIR [--host 127.0.0.1 --port 8000 --max-batch-size N
                                --max-wait-ms T --max-queue-size Q --model NAME ...]

On SIGTERM/SIGINT the server drains first (readiness 503, queued requests
answered), then uvicorn exits.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from .demo import build_bench_registry, build_demo_registry


def serve(args) -> int:
    import torch
    import uvicorn

    from .app import create_app
    from .registry import ModelRegistry
    from .server import ModelServer

    # one intra-op thread per server process: on shared CPUs, more threads than free cores make
    # every batch wait on spinning workers (measured: batch 8 went from 9 ms to 45 ms)
    torch.set_num_threads(args.torch_threads)
    registry = ModelRegistry(args.registry)
    models = args.model or registry.models()
    if not models:
        print(f"no models in {args.registry}: build one with `python -m solutions.serving demo-registry DIR`",
              file=sys.stderr)
        return 2
    server = ModelServer(registry, max_batch_size=args.max_batch_size, max_wait_ms=args.max_wait_ms,
                         max_queue_size=args.max_queue_size, cache_size=max(4, len(models)),
                         default_timeout_s=args.timeout_s, trust=args.trust)
    app = create_app(server, load_models=models)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            access_log=False, timeout_graceful_shutdown=30)

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig, frame):
            # drain before uvicorn stops accepting, so load balancers see readiness fall first
            loop = asyncio.get_event_loop()
            if not server.draining and loop.is_running():
                async def drain_then_exit():
                    try:
                        await server.drain()
                    finally:
                        super(DrainingServer, self).handle_exit(sig, frame)
                loop.create_task(drain_then_exit())
            else:
                super().handle_exit(sig, frame)

    DrainingServer(config).run()
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
    p.add_argument("--registry", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", action="append", help="model to load at startup (default: every model)")
    p.add_argument("--max-batch-size", type=int, default=32)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    p.add_argument("--max-queue-size", type=int, default=1024)
    p.add_argument("--timeout-s", type=float, default=10.0)
    p.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--trust", action="store_true", help="allow pickle artifacts whose sha256 matches")
    p.add_argument("--log-level", default="warning")
    return serve(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
