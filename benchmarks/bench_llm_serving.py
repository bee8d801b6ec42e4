"""Load test: continuous vs request-level (static) batching of LLM generation, real uvicorn on 127.0.0.1.

    python benchmarks/bench_llm_serving.py [--runs 5] [--requests 384] [--clients 16,64] [--impl solutions]

Starts `python -m <impl>.serving --llm tinygpt` (one process, the tiny GPT's "late" checkpoint) with
continuous batching and with request-level batching (`--llm-static`), the same settings otherwise
(max_num_seqs 16), alternating the order run by run so drift on a shared machine hits both. For each number
of clients, a closed loop of streaming clients (POST .../generate_stream, each on its own keep-alive
connection of bench_serving.RawHTTPClient: httpx's pool took 85-89% of a core at 64 clients and starved the
server of requests, so the load generator would have been what was measured) sends the same `--requests`
requests: prompts cut from Python's documentation, output lengths (max_tokens) drawn from a seeded lognormal
clipped to 1..48, no stop strings, so every request must end "length" with exactly max_tokens tokens
(anything else, or a non-200, is an error). Client-side measures: generated tokens/s, time to first token
(request sent to first event), time per output token ((last - first event) / (n - 1)), p50 and p95. Prints
each run, then medians over the runs and the ratio continuous / static tokens/s (goal: >= 2x, zero errors).
Last, the same workload through the engine alone, without HTTP: its own continuous / static ratio and the
cost of a decode step by batch size (what bounds the ratio over HTTP), and the paged cache's memory: mean KV
positions reserved per running sequence, paged (block_size 8) vs contiguous (the whole context).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlpractice import tinygpt  # noqa: E402
from mlpractice.impl import load  # noqa: E402
from bench_serving import RawHTTPClient, ServerProcess  # noqa: E402  (this directory is on sys.path when run as a script)

MODES = {"continuous": [], "static": ["--llm-static"]}


def LLMServer(impl: str, flags: list[str]):
    """`python -m <impl>.serving --llm tinygpt` on a free loopback port (bench_serving's ServerProcess)."""
    return ServerProcess(impl, None, "--llm", "tinygpt", *flags)


def workload(n: int, seed: int, median: float, sigma: float, cap: int, context: int) -> list[dict]:
    """n request bodies: a 6-15 byte prompt cut from the docs and a long-tailed max_tokens (prompt + max_tokens
    stays within the context, so every request ends "length" with exactly max_tokens tokens)."""
    from pydoc_data.topics import topics
    corpus = " ".join(topics[k] for k in sorted(topics)).encode("ascii", "ignore").decode()
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.rint(rng.lognormal(np.log(median), sigma, n)), 1, cap).astype(int)
    bodies = []
    for max_tokens in lengths:
        start, size = int(rng.integers(0, len(corpus) - 32)), int(rng.integers(6, 16))
        text = corpus[start:start + size]
        assert len(tinygpt.encode(text)) + cap <= context
        bodies.append({"text_input": text, "parameters": {"max_tokens": int(max_tokens)}})
    return bodies


async def one(client: RawHTTPClient, body: dict, out: dict) -> None:
    start = time.perf_counter()
    times, finals = [], []

    def on_event(doc: dict) -> None:  # called as each event's bytes arrive
        if "finish_reason" in doc:
            finals.append(doc)
        else:
            times.append(time.perf_counter())
    try:
        status = await client.post_events("/v2/models/tinygpt/generate_stream", body, on_event)
    except (OSError, asyncio.IncompleteReadError, ValueError) as err:
        out["errors"].append(type(err).__name__)
        return
    if status != 200:
        out["errors"].append(f"status {status}")
        return
    final = finals[0] if len(finals) == 1 else None
    want = body["parameters"]["max_tokens"]
    if final is None or final["finish_reason"] != "length" or final["completion_tokens"] != want or \
            len(times) != want:
        out["errors"].append(f"wrong answer: {final} after {len(times)} events, wanted {want} tokens")
        return
    out["tokens"] += want
    out["ttft"].append(times[0] - start)
    if want >= 2:
        out["tpot"].append((times[-1] - times[0]) / (want - 1))


async def closed_loop(url: str, bodies: list[dict], clients: int) -> dict:
    out = {"tokens": 0, "ttft": [], "tpot": [], "errors": []}
    queue = iter(bodies)
    client = RawHTTPClient(url)  # one keep-alive connection per client, reused

    async def worker():
        for body in queue:
            await one(client, body, out)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    await client.aclose()
    pct = lambda xs, q: 1000 * float(np.percentile(xs, q)) if xs else float("nan")  # noqa: E731
    return {"tokens_per_s": out["tokens"] / elapsed, "ttft_p50": pct(out["ttft"], 50), "ttft_p95": pct(out["ttft"], 95),
            "tpot_p50": pct(out["tpot"], 50), "tpot_p95": pct(out["tpot"], 95), "errors": len(out["errors"]),
            "first_errors": out["errors"][:3], "requests": len(bodies), "elapsed_s": elapsed}


def line(label: str, s: dict) -> str:
    return (f"  {label:<24} {s['tokens_per_s']:8.1f} tok/s   TTFT p50 {s['ttft_p50']:7.1f} p95 {s['ttft_p95']:7.1f} ms"
            f"   TPOT p50 {s['tpot_p50']:6.2f} p95 {s['tpot_p95']:6.2f} ms   errors {s['errors']} "
            f"{s['first_errors'] or ''}")


def engine_alone(impl: str, bodies: list[dict], max_num_seqs: int) -> dict:
    """The same workload through the engine alone, every request queued at once (no HTTP, no threads):
    tokens/s with continuous and with static batching (contiguous cache), the time of a decode-only step
    by batch size, and the mean KV positions reserved per running sequence, paged vs contiguous."""
    import torch
    torch.set_num_threads(1)
    continuous = load("serving.continuous", impl)
    model = tinygpt.load("late")
    out, decode_ms = {}, {}
    for name, options in (("continuous", {}), ("static", {"static": True}), ("paged", {"cache": "paged"})):
        batcher = continuous.ContinuousBatcher(model, max_num_seqs=max_num_seqs, max_waiting=len(bodies),
                                               block_size=8, **options)
        for i, body in enumerate(bodies):
            batcher.add(i, tinygpt.encode(body["text_input"]),
                        continuous.SamplingParams(body["parameters"]["max_tokens"]))
        start, tokens = time.perf_counter(), 0
        while batcher.has_work():
            decoding, t = batcher.num_running, time.perf_counter()
            tokens += len(batcher.step())
            if name == "static" and not batcher.log[-1].admitted:  # a step of decodes only
                decode_ms.setdefault(decoding, []).append(1000 * (time.perf_counter() - t))
        out[name] = tokens / (time.perf_counter() - start)
        out[f"{name} kv"] = sum(r.kv_reserved_tokens for r in batcher.log) / sum(len(r.running) for r in batcher.log)
    out["decode_ms"] = {b: statistics.median(v) for b, v in sorted(decode_ms.items())}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--impl", default="solutions", choices=["solutions", "exercises"])
    p.add_argument("--runs", type=int, default=5, help="alternated continuous/static runs (default 5)")
    p.add_argument("--requests", type=int, default=384,
                   help="requests per closed loop (default 384: the loop's last requests, which run in a "
                        "thinning batch, are a small share)")
    p.add_argument("--clients", default="16,64", help="comma-separated client counts (default 16,64)")
    p.add_argument("--max-num-seqs", type=int, default=16)
    p.add_argument("--median-tokens", type=float, default=8.0, help="median of the lognormal max_tokens")
    p.add_argument("--sigma", type=float, default=1.0, help="sigma of the lognormal max_tokens")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    context = tinygpt.load("late").config.context
    bodies = workload(args.requests, args.seed, args.median_tokens, args.sigma, 48, context)
    lengths = [b["parameters"]["max_tokens"] for b in bodies]
    print(f"tiny GPT 'late', context {context}; {os.cpu_count()} CPUs; {args.requests} streaming requests per loop, "
          f"max_tokens lognormal(median {args.median_tokens:g}, sigma {args.sigma:g}) clipped to 1..48: mean "
          f"{np.mean(lengths):.1f}, p50 {np.median(lengths):.0f}, max {max(lengths)}; max_num_seqs {args.max_num_seqs}")
    flags = ["--llm-max-num-seqs", str(args.max_num_seqs), "--llm-max-waiting", str(max(clients) + 1)]
    results: dict[tuple[str, int], list[dict]] = {(m, c): [] for m in MODES for c in clients}
    for r in range(args.runs):
        order = list(MODES) if r % 2 == 0 else list(MODES)[::-1]  # alternate, so drift hits both modes
        for mode in order:
            with LLMServer(args.impl, flags + MODES[mode]) as server:
                asyncio.run(closed_loop(server.url, bodies[:32], 8))  # warm-up
                for c in clients:
                    results[mode, c].append(asyncio.run(closed_loop(server.url, bodies, c)))
            print(f"run {r + 1} {mode}")
            for c in clients:
                print(line(f"{c} streaming clients", results[mode, c][-1]))
    errors = sum(s["errors"] for runs in results.values() for s in runs)
    med = lambda key, runs: statistics.median(s[key] for s in runs)  # noqa: E731
    print(f"\nmedians over {args.runs} run(s):")
    print(f"  {'mode':<11} {'clients':>7} {'tok/s':>8} {'TTFT p50':>9} {'p95':>7} {'TPOT p50':>9} {'p95':>6} (ms)")
    for (mode, c), runs in results.items():
        print(f"  {mode:<11} {c:>7} {med('tokens_per_s', runs):8.1f} {med('ttft_p50', runs):9.1f} "
              f"{med('ttft_p95', runs):7.1f} {med('tpot_p50', runs):9.2f} {med('tpot_p95', runs):6.2f}")
    for c in clients:
        ratios = [a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(results["continuous", c], results["static", c])]
        ratio = statistics.median(ratios)
        print(f"tokens/s continuous / static at {c} clients: {ratio:.2f}x "
              f"(runs {', '.join(f'{x:.2f}' for x in ratios)}; goal >= 2x: {'met' if ratio >= 2 else 'NOT met'})")
    alone = engine_alone(args.impl, bodies, args.max_num_seqs)
    sizes = sorted({b for b in (1, 2, 4, 8, max(alone["decode_ms"])) if b in alone["decode_ms"]})
    steps = ", ".join(f"{b}: {alone['decode_ms'][b]:.1f}" for b in sizes)
    print(f"engine alone (no HTTP, every request queued at once): continuous {alone['continuous']:.0f} tok/s, "
          f"static {alone['static']:.0f} tok/s: {alone['continuous'] / alone['static']:.2f}x; "
          f"a decode step by batch size (ms): {steps}")
    print(f"KV memory per running sequence, same workload (engine alone): paged (block_size 8) "
          f"{alone['paged kv']:.1f} positions vs contiguous {alone['continuous kv']:.1f} (the context): "
          f"{alone['paged kv'] / alone['continuous kv']:.0%} of it")
    print(f"errors (including wrong answers) across all runs: {errors}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
