"""Load test: dynamic batching on vs off, real uvicorn on 127.0.0.1, same model, same run.

    python benchmarks/bench_serving.py [--runs 5] [--requests 1500] [--clients 64] [--impl solutions]

Starts `python -m <impl>.serving` as a real server process with batching on
(max_batch_size=32, max_wait_ms=2) and off (max_batch_size=1), alternating the
order run by run so drift on a shared machine hits both, on a PyTorch MLP of a few
million parameters. Each run drives the server with a closed loop of 64 clients,
then 1 client (and, in the first run, an open-loop Poisson load). Every answer's
class is checked against the model run outside the server: a wrong answer counts
as an error. Then batching on with 1 and 2 worker processes. Prints medians and
ranges over the runs: throughput, p50/p99, the ratio batching / no batching at 64
clients (goal: at least 4x, zero errors), the p50 batching adds at 1 client
(budget: max_wait_ms + 1 ms) and the 2-worker / 1-worker throughput.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from json import dumps as json_dumps, loads as json_loads
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

    def __init__(self, impl: str, registry: str | None, *extra_flags: str, **options):
        self.port = free_port()
        flags = [*(["--registry", registry] if registry else []), *extra_flags,
                 *(f"--{k.replace('_', '-')}={v}" for k, v in options.items())]
        self.cmd = [sys.executable, "-m", f"{impl}.serving", "--host", "127.0.0.1", "--port", str(self.port), *flags]
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
    per request as the server does, which on a 2-core box would cap both modes at the same rate (with 64
    streaming clients httpx took 85-89% of a core and starved the LLM server of requests).
    """

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.idle: list = []

    async def post(self, path: str, json: dict):
        return await self._request(path, json, None)

    async def post_events(self, path: str, json: dict, on_event) -> int:
        """POST, and call `on_event(doc)` for each Server-Sent Event `data: {json}` of a 200 answer (chunked) as
        its bytes arrive; the status. An answer with a Content-Length (an error) is read whole, and no event."""
        return (await self._request(path, json, on_event)).status_code

    async def _request(self, path: str, json: dict, on_event):
        payload = json_dumps(json).encode()
        request = (b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                   % (path.encode(), self.host.encode(), len(payload)) + payload)
        if self.idle:
            conn = self.idle.pop()
            try:
                return await self._exchange(conn, request, on_event)
            except (asyncio.IncompleteReadError, ConnectionError):
                conn[1].close()  # the server closed an idle keep-alive connection: reconnect once, like httpx
        return await self._exchange(await asyncio.open_connection(self.host, self.port), request, on_event)

    async def _exchange(self, conn, request: bytes, on_event):
        reader, writer = conn
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = CONTENT_LENGTH.search(head)
        if length is not None:
            content = await reader.readexactly(int(length.group(1)))
        else:  # chunked: the event stream
            content, pending = b"", b""
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                pending += (await reader.readexactly(size + 2))[:-2]
                *events, pending = pending.split(b"\n\n")
                for event in events:
                    if event.startswith(b"data: ") and on_event is not None:
                        on_event(json_loads(event[6:]))
            await reader.readuntil(b"\r\n")  # the empty trailer
        self.idle.append(conn)
        return SimpleNamespace(status_code=status, content=content)

    async def aclose(self):
        for _, writer in self.idle:
            writer.close()


def expected_classes(root: str, rows: np.ndarray, impl: str) -> np.ndarray:
    """The class each row must get: the registered model run here, outside the server."""
    import torch
    torch.set_num_threads(1)
    serving = load("serving", impl)
    artifact = serving.ModelRegistry(root).load("mlp")
    return np.asarray(artifact.predictor.predict(rows)).argmax(axis=1)


def answer_checker(expected: np.ndarray):
    """check(i, response): the 200 answer for row i % len(expected) names its class."""
    def check(i, response) -> bool:
        try:
            out = json.loads(response.content)["outputs"][0]
            return int(np.argmax(out["data"])) == int(expected[i % len(expected)])
        except (KeyError, IndexError, TypeError, ValueError):
            return False
    return check


async def measure(url: str, loadgen, rows, check, args, *, open_loop: bool) -> dict:
    body = lambda i: loadgen.infer_body(rows[i % len(rows)])
    path = "/v2/models/mlp/infer"
    client = RawHTTPClient(url)
    try:
        await loadgen.closed_loop(client, path, body, clients=8, requests=100, check=check)  # warm-up
        out = {"closed_many": await loadgen.closed_loop(client, path, body, clients=args.clients,
                                                        requests=args.requests, check=check),
               "closed_one": await loadgen.closed_loop(client, path, body, clients=1, requests=args.requests // 5,
                                                       check=check)}
        if open_loop:
            out["open"] = await loadgen.open_loop(client, path, body, check=check,
                                                  arrivals_s=poisson_arrivals(args.rate, args.requests // 2, seed=1))
    finally:
        await client.aclose()
    return {k: v.summary() for k, v in out.items()}


def line(name: str, s: dict) -> str:
    return (f"  {name:<26} {s['throughput_rps']:8.1f} req/s   p50 {s['p50_ms']:7.2f}  p95 {s['p95_ms']:7.2f}  "
            f"p99 {s['p99_ms']:7.2f} ms   errors {s['errors']} {s['error_statuses'] or ''}")


def spread(values) -> str:
    return f"{statistics.median(values):.2f} (range {min(values):.2f}-{max(values):.2f})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--impl", default="solutions", choices=["solutions", "exercises"])
    p.add_argument("--runs", type=int, default=5, help="alternated batching on/off runs (default 5)")
    p.add_argument("--requests", type=int, default=1500)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--rate", type=float, default=150.0, help="open-loop Poisson arrival rate (req/s)")
    p.add_argument("--in-features", type=int, default=64)
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    p.add_argument("--gil-switch-ms", type=float, default=None,
                   help="the servers' GIL switch interval in both modes (default: the server's own)")
    args = p.parse_args()
    serving_demo = load("serving.demo", args.impl)
    loadgen = load("serving.loadgen", args.impl)
    gil = {"gil_switch_ms": args.gil_switch_ms} if args.gil_switch_ms is not None else {}
    modes = {"batching": {"max_batch_size": 32, "max_wait_ms": args.max_wait_ms, **gil},
             "no batching": {"max_batch_size": 1, "max_wait_ms": 0, **gil}}
    with tempfile.TemporaryDirectory() as root:
        registry = serving_demo.build_bench_registry(root, in_features=args.in_features, hidden=args.hidden,
                                                     depth=args.depth)
        params = registry.manifest("mlp")["metadata"]["parameters"]
        rows = np.random.default_rng(0).normal(size=(256, args.in_features)).astype(np.float32)
        check = answer_checker(expected_classes(root, rows, args.impl))
        print(f"model: MLP {args.in_features}->{args.hidden}x{args.depth}->10, {params / 1e6:.1f}M parameters; "
              f"{os.cpu_count()} CPUs; {args.requests} requests per closed-loop run; every answer's class checked")
        runs: dict[str, list[dict]] = {mode: [] for mode in modes}
        for r in range(args.runs):
            order = list(modes) if r % 2 == 0 else list(modes)[::-1]  # alternate, so drift hits both modes
            for mode in order:
                with ServerProcess(args.impl, root, max_queue_size=4096, **modes[mode]) as server:
                    runs[mode].append(asyncio.run(measure(server.url, loadgen, rows, check, args, open_loop=r == 0)))
                print(f"run {r + 1} {mode} {modes[mode]}")
                for key, label in [("closed_many", f"closed loop, {args.clients} clients"),
                                   ("closed_one", "closed loop, 1 client"), ("open", f"open loop, Poisson {args.rate:g}/s")]:
                    if key in runs[mode][-1]:
                        print(line(label, runs[mode][-1][key]))
        workers = {}
        for n in (1, 2):
            with ServerProcess(args.impl, root, max_queue_size=4096, workers=n, **modes["batching"]) as server:
                workers[n] = asyncio.run(measure(server.url, loadgen, rows, check, args, open_loop=False))
            print(line(f"batching, {n} worker(s), {args.clients} clients", workers[n]["closed_many"]))
    on, off = runs["batching"], runs["no batching"]
    ratios = [a["closed_many"]["throughput_rps"] / b["closed_many"]["throughput_rps"] for a, b in zip(on, off)]
    errors = sum(s["errors"] for mode in runs.values() for run in mode for s in run.values())
    errors += sum(s["errors"] for run in workers.values() for s in run.values())
    print(f"\nover {args.runs} alternated runs (median and range):")
    for mode, results in runs.items():
        for key, label in [("closed_many", f"{args.clients} clients"), ("closed_one", "1 client")]:
            print(f"  {mode:<12} {label:<11} throughput {spread([x[key]['throughput_rps'] for x in results])} req/s"
                  f"   p50 {spread([x[key]['p50_ms'] for x in results])} ms"
                  f"   p99 {spread([x[key]['p99_ms'] for x in results])} ms")
    ratio = statistics.median(ratios)
    print(f"throughput ratio at {args.clients} clients (batching / no batching): {spread(ratios)}x "
          f"(goal >= 4x median: {'met' if ratio >= 4 else 'NOT met'})")
    p50_delta = statistics.median(x["closed_one"]["p50_ms"] for x in on) - \
        statistics.median(x["closed_one"]["p50_ms"] for x in off)
    print(f"p50 added at 1 client: {p50_delta:+.2f} ms (budget max_wait_ms + 1 = {args.max_wait_ms + 1:g} ms: "
          f"{'met' if p50_delta <= args.max_wait_ms + 1 else 'NOT met'})")
    print(f"2 workers / 1 worker throughput at {args.clients} clients (batching): "
          f"{workers[2]['closed_many']['throughput_rps'] / workers[1]['closed_many']['throughput_rps']:.2f}x")
    print(f"errors (including wrong answers) across all runs: {errors}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
