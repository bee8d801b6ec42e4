"""Benchmark exercise 4: per-event windowed features vs naive recompute, pandas and River (same run).

Workload: N synthetic card transactions (default 1M), 10k users, uniform and Zipf(1.1) keys,
event times at 1000 events/s with up to 3 s of disorder. Features: count, mean and max of the
amount per user over the continuous 5-minute window `(t - 5min, t]`, one result per event.

Contenders, timed in this process on the same events:
- pipeline      FeaturePipeline: validation, de-duplication, watermark buffer (3 s), windows;
- operator      the per-key continuous window alone (events already in time order);
- naive         recompute count/mean/max over the key's window at every event (on a prefix: it is O(window));
- pandas        groupby(user).rolling("5min", on=ts) count/mean/max on the whole batch (not per event);
- River         utils.TimeRolling(stats.Mean) per user (mean and count; River has no time-based max), on a prefix.
Online lookups: p50/p99 latency of get_online_features for one user and one feature, in-memory and SQLite.

Prints events/s and the ratios. Usage: python benchmarks/bench_features.py [--events N] [--prefix M]
"""
from __future__ import annotations

import argparse
import datetime as dt
import time
import warnings
from collections import deque

import numpy as np
import pandas as pd

from mlpractice.data.features import transactions
from mlpractice.impl import load

features = load("features")
WINDOW = 5 * 60_000
EPOCH = dt.datetime(1970, 1, 1)  # naive UTC datetimes, as River compares them


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def run_pipeline(records):
    w = features.ContinuousWindow(WINDOW)
    feats = [features.Feature("n", "user", None, "count", w), features.Feature("mean", "user", "amount", "mean", w),
             features.Feature("max", "user", "amount", "max", w)]
    pipeline = features.FeaturePipeline(feats, max_out_of_orderness="3s")
    rows = pipeline.process_batch(records)
    return rows + pipeline.flush()


def run_operator(ordered):
    states = {}
    out = []
    for user, ts, amount in ordered:
        state = states.get(user)
        if state is None:
            state = states[user] = features.ContinuousWindowState(WINDOW, ["count", "mean", "max"])
        out.append(state.add(ts, amount))
    return out


def run_naive(ordered):
    windows = {}
    out = []
    for user, ts, amount in ordered:
        q = windows.setdefault(user, deque())
        q.append((ts, amount))
        values = [a for t, a in q if t > ts - WINDOW]
        while q and q[0][0] <= ts - WINDOW:
            q.popleft()
        out.append((len(values), sum(values) / len(values), max(values)))
    return out


def run_pandas(df):
    roll = df.groupby("user", sort=False).rolling("5min", on="dt")["amount"]
    return roll.count(), roll.mean(), roll.max()


def run_river(ordered):
    from river import stats, utils

    period = dt.timedelta(minutes=5)
    rolling = {}
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for user, ts, amount in ordered:
            r = rolling.get(user)
            if r is None:
                r = rolling[user] = utils.TimeRolling(stats.Mean(), period=period)
            r.update(amount, t=EPOCH + dt.timedelta(milliseconds=ts))
            out.append((r.obj.n, r.get()))
    return out


def lookup_latencies(url, users, n=20_000):
    w = features.ContinuousWindow(WINDOW)
    store = features.FeatureStore([features.Feature("mean", "user", "amount", "mean", w)], online=url, ttl="1h")
    now = 10**12
    for u in users:
        store.online.write(u, "mean", 1.0, now, 0)
    rng = np.random.default_rng(0)
    picks = rng.choice(users, n)
    lat = np.empty(n)
    for i, u in enumerate(picks):
        t = time.perf_counter_ns()
        store.get_online_features([u], ["mean"], now=now)
        lat[i] = time.perf_counter_ns() - t
    store.close()
    return np.percentile(lat, 50) / 1e3, np.percentile(lat, 99) / 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--prefix", type=int, default=100_000, help="events for the slow contenders (naive, River)")
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    print(f"{args.events:,} events, {args.users:,} users, 5-minute window, disorder <= 3 s; "
          f"naive and River on the first {args.prefix:,} events")
    for name, zipf in [("uniform", None), ("zipf 1.1", 1.1)]:
        records = transactions(args.events, args.users, zipf=zipf, seed=0, rate=1_000.0, max_disorder_ms=3_000)
        ordered_recs = sorted(records, key=lambda r: r["ts"])
        ordered = [(r["user"], r["ts"], r["amount"]) for r in ordered_recs]
        df = pd.DataFrame(ordered, columns=["user", "ts", "amount"])
        df["dt"] = pd.to_datetime(df["ts"], unit="ms")
        n, m = len(records), min(args.prefix, len(records))
        t_pipe, rows = timed(run_pipeline, records)
        t_op, _ = timed(run_operator, ordered)
        t_pandas, _ = timed(run_pandas, df)
        t_naive, _ = timed(run_naive, ordered[:m])
        t_river, _ = timed(run_river, ordered[:m])
        rate = {"pipeline": n / t_pipe, "operator": n / t_op, "pandas (batch)": n / t_pandas,
                "naive recompute": m / t_naive, "River TimeRolling": m / t_river}
        hot = df["user"].value_counts().iloc[0]
        print(f"\n== {name} keys (hottest user: {hot:,} events; {len(rows):,} feature rows)")
        for k, v in rate.items():
            print(f"  {k:<18} {v:>12,.0f} events/s")
        print(f"  pipeline / River  {rate['pipeline'] / rate['River TimeRolling']:6.1f}x   "
              f"pipeline / pandas {rate['pipeline'] / rate['pandas (batch)']:5.2f}x   "
              f"pipeline / naive {rate['pipeline'] / rate['naive recompute']:6.1f}x   "
              f"operator / pandas {rate['operator'] / rate['pandas (batch)']:5.2f}x")
    users = [f"u{i:05d}" for i in range(args.users)]
    print("\nonline lookup latency (one user, one feature):")
    for label, url in [("in-memory", "memory://"), ("SQLite", "sqlite://")]:
        p50, p99 = lookup_latencies(url, users)
        print(f"  {label:<10} p50 {p50:7.1f} us   p99 {p99:7.1f} us")


if __name__ == "__main__":
    main()
