"""Command line: `python -m solutions.features replay --events N --rate R`.

Replays the seeded transaction generator through a FeaturePipeline (count, mean
and max spend per user over 5 minutes, plus 1-minute tumbling spend) and prints
throughput, per-event latency percentiles, watermark lag, late and dead-letter counts.
`--rate 0` replays as fast as possible; otherwise records are paced at R per second
(R also sets the generator's event-time rate, at least 100 events/s).
"""
from __future__ import annotations

import argparse
import sys
import time

from mlpractice.data.features import transactions

from .pipeline import Feature, FeaturePipeline
from .windows import ContinuousWindow, TumblingWindow


def default_features() -> list[Feature]:
    five = ContinuousWindow("5min")
    return [
        Feature("user_txn_5m", "user", None, "count", five),
        Feature("user_mean_5m", "user", "amount", "mean", five),
        Feature("user_max_5m", "user", "amount", "max", five),
        Feature("user_spend_1m", "user", "amount", "sum", TumblingWindow("1min")),
    ]


def percentile(sorted_values, q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def replay(n: int, rate: float, users: int, zipf: float | None, seed: int, out=sys.stdout) -> dict:
    records = transactions(n, users, zipf=zipf, seed=seed, rate=max(rate, 100.0), late_fraction=0.001,
                           late_by_ms=(20_000, 120_000), duplicate_fraction=0.001, malformed_fraction=0.001)
    pipeline = FeaturePipeline(default_features(), max_out_of_orderness="3s", allowed_lateness="1min")
    latencies, lags = [], []
    start = time.perf_counter()
    for i, record in enumerate(records):
        if rate > 0:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        t0 = time.perf_counter_ns()
        pipeline.process(record)
        latencies.append(time.perf_counter_ns() - t0)
        if pipeline.max_ts is not None and "arrival_ms" in record:
            # processing time (when the record was read) minus the watermark: how stale "complete" is
            lags.append(record["arrival_ms"] - pipeline.clock)
    pipeline.flush()
    elapsed = time.perf_counter() - start
    latencies.sort()
    lags.sort()
    report = {
        "records": len(records), "seconds": elapsed, "events_per_s": len(records) / elapsed,
        "p50_us": percentile(latencies, 0.5) / 1e3, "p99_us": percentile(latencies, 0.99) / 1e3,
        "watermark_lag_p50_ms": percentile(lags, 0.5), "watermark_lag_max_ms": lags[-1] if lags else 0,
        "late_dropped": pipeline.stats["late_dropped"], "late_allowed": pipeline.stats["late_allowed"],
        "duplicates": pipeline.stats["duplicates"], "dead_letter": len(pipeline.dead_letters),
        "windows_fired": len(pipeline.fired),
    }
    print(f"replayed {report['records']} records in {elapsed:.2f} s: {report['events_per_s']:,.0f} events/s", file=out)
    print(f"latency per record: p50 {report['p50_us']:.1f} us, p99 {report['p99_us']:.1f} us", file=out)
    print(f"watermark lag behind processing time: p50 {report['watermark_lag_p50_ms']:.0f} ms, "
          f"max {report['watermark_lag_max_ms']:.0f} ms", file=out)
    print(f"late: {report['late_allowed']} within allowed lateness, {report['late_dropped']} to the side output; "
          f"duplicates: {report['duplicates']}; dead letters: {report['dead_letter']}; "
          f"windows fired: {report['windows_fired']}", file=out)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.features", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("replay", help="replay generated transactions through the pipeline")
    p.add_argument("--events", type=int, default=100_000, help="number of transactions (default 100000)")
    p.add_argument("--rate", type=float, default=0.0, help="records per second; 0 = as fast as possible")
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of users; 0 for uniform")
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.events < 0 or args.rate < 0:
        parser.error("--events and --rate must be >= 0")
    replay(args.events, args.rate, args.users, args.zipf or None, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
