# Starter code generated from solutions/serving/loadgen.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Load generators for the benchmark and the notebook: closed loop (N clients) and open loop (Poisson).

Both take any `httpx.AsyncClient` - over a real socket to uvicorn in the
benchmark, over ASGI in the notebook - and a bounded number of requests.
Closed loop measures capacity (each client sends its next request when the
last one returns); open loop measures latency at an offered rate, including
queueing that a closed loop hides (coordinated omission). Given `check(i,
response)`, a 200 whose answer is wrong is counted as "wrong answer", an error.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadResult:
    latencies_s: list = field(default_factory=list)  # successful requests only
    statuses: Counter = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def summary(self) -> dict:
        lat = np.asarray(self.latencies_s) * 1000
        pct = {f"p{q}_ms": float(np.percentile(lat, q)) if lat.size else float("nan") for q in (50, 95, 99)}
        return {"requests": sum(self.statuses.values()), "ok": self.statuses[200], "errors": self.errors,
                "error_statuses": {str(k): n for k, n in sorted(self.statuses.items(), key=str) if k != 200},
                "throughput_rps": self.statuses[200] / self.elapsed_s if self.elapsed_s else 0.0, **pct}


async def _one(client, path, body, result: LoadResult, check=None, i: int = 0) -> None:
    start = time.perf_counter()
    try:
        response = await client.post(path, json=body)
        status = response.status_code
        if status == 200 and check is not None and not check(i, response):
            status = "wrong answer"
    except Exception as err:  # noqa: BLE001 - a transport error is an error to count, not a crash
        status = type(err).__name__
    result.statuses[status] += 1
    if status == 200:
        result.latencies_s.append(time.perf_counter() - start)


async def closed_loop(client, path: str, make_body, *, clients: int, requests: int, check=None) -> LoadResult:
    """`clients` concurrent clients send `requests` requests in total, each waiting for its answer."""
    result, issued = LoadResult(), 0

    async def client_loop():
        nonlocal issued
        while issued < requests:
            i = issued
            issued += 1
            await _one(client, path, make_body(i), result, check, i)

    start = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    result.elapsed_s = time.perf_counter() - start
    return result


async def open_loop(client, path: str, make_body, *, arrivals_s, check=None) -> LoadResult:
    """One request at each time in `arrivals_s` (seconds from start), whatever the answers do."""
    result, tasks = LoadResult(), []
    start = time.perf_counter()
    for i, t in enumerate(arrivals_s):
        delay = start + t - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(_one(client, path, make_body(i), result, check, i)))
    await asyncio.gather(*tasks)
    result.elapsed_s = time.perf_counter() - start
    return result


def infer_body(row) -> dict:
    row = np.asarray(row, dtype=np.float32).reshape(1, -1)
    return {"inputs": [{"name": "input-0", "shape": list(row.shape), "datatype": "FP32", "data": row.ravel().tolist()}]}
