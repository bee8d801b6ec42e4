"""Load test: dynamic batching on vs off, real uvicorn on 127.0.0.1, same model, same run.

    python benchmarks/bench_serving.py [--requests 1500] [--clients 64] [--impl solutions]

Starts `python -m <impl>.serving` twice as a real server process (max_batch_size=32,
max_wait_ms=2 and then max_batch_size=1), on a PyTorch MLP of a few million parameters,
and drives each with the same closed-loop load (64 clients, then 1 client) and the
same open-loop Poisson load. Prints throughput, p50/p95/p99 and errors, and the ratios
batching/no batching. Issue target: >= 4x throughput at 64 clients with zero errors, and
at 1 client p50 no more than max_wait_ms + 1 ms above no batching.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from json import dumps as json_dumps
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONTENT_LENGTH = re.compile(rb"(?i)content-length: *(\d+)")
sys.path.insert(0, str(ROOT))

from mlpractice.data.serving import poisson_arrivals  # noqa: E402
from mlpractice.impl import load  # noqa: E402
from mlpractice.net import free_port  # noqa: E402



class ServerProcess:
    """`python -m <impl>.serving` on a free loopback port; SIGTERM (graceful drain) on exit, bounded."""

    def __init__(self, impl: str, registry: str, **options):
        self.port = free_port()
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
        self.cmd = [sys.executable, "-m", f"{impl}.serving", "--registry", registry, "--host", "127.0.0.1",
                    "--port", str(self.port), *flags]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {' '.join(self.cmd)}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready within 120 s")

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class RawHTTPClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, duck-typed to `httpx.AsyncClient.post`.

    A load generator must cost far less than the server it measures; httpx spends about as much CPU
    per request as the server does, which on a 2-core box would cap both modes at the same rate.
    """

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.idle: list = []

    async def post(self, path: str, json: dict):
        payload = json_dumps(json).encode()
        request = (b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                   % (path.encode(), self.host.encode(), len(payload)) + payload)
        if self.idle:
            conn = self.idle.pop()
            try:
                return await self._exchange(conn, request)
            except (asyncio.IncompleteReadError, ConnectionError):
                conn[1].close()  # the server closed an idle keep-alive connection: reconnect once, like httpx
        return await self._exchange(await asyncio.open_connection(self.host, self.port), request)

    async def _exchange(self, conn, request: bytes):
        reader, writer = conn
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        content = await reader.readexactly(int(CONTENT_LENGTH.search(head).group(1)))
        self.idle.append(conn)
        return SimpleNamespace(status_code=status, content=content)

    async def aclose(self):
        for _, writer in self.idle:
            writer.close()


async def measure(url: str, loadgen, args) -> dict:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(256, args.in_features)).astype(np.float32)
    body = lambda i: loadgen.infer_body(rows[i % len(rows)])
    path = "/v2/models/mlp/infer"
    client = RawHTTPClient(url)
    try:
        await loadgen.closed_loop(client, path, body, clients=8, requests=100)  # warm-up
        out = {"closed_many": await loadgen.closed_loop(client, path, body, clients=args.clients,
                                                        requests=args.requests),
               "closed_one": await loadgen.closed_loop(client, path, body, clients=1, requests=args.requests // 5),
               "open": await loadgen.open_loop(client, path, body,
                                               arrivals_s=poisson_arrivals(args.rate, args.requests // 2, seed=1))}
    finally:
        await client.aclose()
    return {k: v.summary() for k, v in out.items()}


async def measure_in_process(impl: str, root: str, args, **options) -> float:
    """Requests/s through ModelServer.predict alone (no HTTP), 64 concurrent callers: the batching gain
    on the model's cost, which the HTTP numbers dilute by Python's per-request cost (Amdahl)."""
    import torch
    torch.set_num_threads(1)
    serving = load("serving", impl)
    server = serving.ModelServer(serving.ModelRegistry(root), max_queue_size=4096, **options)
    await server.load_model("mlp")
    x = np.zeros(args.in_features, dtype=np.float32)
    remaining = args.requests

    async def caller():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await server.predict("mlp", x)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(args.clients)))
    rate = args.requests / (time.perf_counter() - start)
    await server.close()
    return rate


def line(name: str, s: dict) -> str:
    return (f"  {name:<26} {s['throughput_rps']:8.1f} req/s   p50 {s['p50_ms']:7.2f}  p95 {s['p95_ms']:7.2f}  "
            f"p99 {s['p99_ms']:7.2f} ms   errors {s['errors']} {s['error_statuses'] or ''}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--impl", default="solutions", choices=["solutions", "exercises"])
    p.add_argument("--requests", type=int, default=1500)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--rate", type=float, default=150.0, help="open-loop Poisson arrival rate (req/s)")
    p.add_argument("--in-features", type=int, default=64)
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    args = p.parse_args()
    serving_demo = load("serving.demo", args.impl)
    loadgen = load("serving.loadgen", args.impl)
    with tempfile.TemporaryDirectory() as root:
        registry = serving_demo.build_bench_registry(root, in_features=args.in_features, hidden=args.hidden,
                                                     depth=args.depth)
        params = registry.manifest("mlp")["metadata"]["parameters"]
        print(f"model: MLP {args.in_features}->{args.hidden}x{args.depth}->10, {params / 1e6:.1f}M parameters; "
              f"{os.cpu_count()} CPUs; {args.requests} requests per closed-loop run")
        results = {}
        for mode, options in [("batching", {"max_batch_size": 32, "max_wait_ms": args.max_wait_ms}),
                              ("no batching", {"max_batch_size": 1, "max_wait_ms": 0})]:
            with ServerProcess(args.impl, root, max_queue_size=4096, **options) as server:
                results[mode] = asyncio.run(measure(server.url, loadgen, args))
            print(f"{mode} ({options})")
            print(line(f"closed loop, {args.clients} clients", results[mode]["closed_many"]))
            print(line("closed loop, 1 client", results[mode]["closed_one"]))
            print(line(f"open loop, Poisson {args.rate:g}/s", results[mode]["open"]))
            results[mode]["in_process"] = asyncio.run(measure_in_process(args.impl, root, args, **options))
            print(f"  {'in-process, no HTTP':<26} {results[mode]['in_process']:8.1f} req/s")
    on, off = results["batching"], results["no batching"]
    ratio = on["closed_many"]["throughput_rps"] / off["closed_many"]["throughput_rps"]
    p50_delta = on["closed_one"]["p50_ms"] - off["closed_one"]["p50_ms"]
    errors = sum(r[k]["errors"] for r in results.values() for k in r if k != "in_process")
    print(f"in-process ratio (model cost only, {args.clients} callers): "
          f"{on['in_process'] / off['in_process']:.2f}x")
    print(f"throughput ratio at {args.clients} clients (batching / no batching): {ratio:.2f}x "
          f"(target >= 4x: {'met' if ratio >= 4 else 'NOT met'})")
    print(f"p50 added at 1 client: {p50_delta:+.2f} ms (budget max_wait_ms + 1 = {args.max_wait_ms + 1:g} ms: "
          f"{'met' if p50_delta <= args.max_wait_ms + 1 else 'NOT met'})")
    print(f"errors across all runs: {errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
