"""Benchmark exercise 4: the micro-batch path against pandas and polars, the per-event path against River.

Workload: N synthetic card transactions (default 1M) in arrival order, 10k users, uniform and
Zipf(1.1) keys, event times at 1000 events/s with up to 3 s of disorder (the watermark's bound,
so no event is late). Features: count, mean and max of the amount per user over the continuous
5-minute window `(t - 5min, t]`, one row per event.

Columns in, columns out, every contender on the whole stream:
- micro-batch  `process_columns` on consecutive batches of 1k, 10k and 100k rows (validation,
               de-duplication, the 3 s watermark buffer, state carried between batches), then
               `flush_columns`; output columns in (ts, arrival) order;
- pandas       sort by ts (stable), `groupby(user).rolling("5min", on=ts)` count/mean/max over the
               whole stream at once; its output is left in group order (no realignment);
- polars       sort by ts, `rolling_{count,mean,max}_by(ts, "300000i").over(user)` (skipped with a
               message when polars is not installed: `pip install polars`, a benchmark-only
               dependency). Polars' window includes later rows with the same timestamp, so its
               check skips the rows of a (user, ts) tie and says how many.
Per event (dicts in, dicts out), on the whole stream:
- pipeline     `FeaturePipeline.process_batch` + `flush`;
- River        `utils.TimeRolling(stats.Mean)` per user (mean and count; River has no time-based max).

Fairness: one warm-up run of every contender on a prefix; then R rounds in which the contenders
run one after another in an order rotated each round; each reports the median and the range of
its rounds; a ratio is the median of the per-round ratios, with their range. Each contender's
output of its first timed round is checked against pandas' (the oracle) in the same run: counts
and max exactly, means to 1e-9 relative (River's running mean to 1e-6). Then checkpoint bytes
(`len(pipeline.checkpoint())`) and the time of one `recovery.commit` after 100k, 300k and 1M
events, and online lookup latencies.

Usage: python benchmarks/bench_features.py [--events N] [--rounds R] [--quick] [--skip-per-event]
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlpractice.data.features import transactions
from mlpractice.impl import load

features = load("features")
recovery = importlib.import_module(features.__name__ + ".recovery")
sinks = importlib.import_module(features.__name__ + ".sinks")
WINDOW = 5 * 60_000
EPOCH = dt.datetime(1970, 1, 1)  # naive UTC datetimes, as River compares them
BATCHES = (1_000, 10_000, 100_000)


def user_features():
    w = features.ContinuousWindow(WINDOW)
    return [features.Feature("n", "user", None, "count", w), features.Feature("mean", "user", "amount", "mean", w),
            features.Feature("max", "user", "amount", "max", w)]


# ------------------------------------------------------------------------------------ contenders
def run_microbatch(columns, batch):
    pipeline = features.FeaturePipeline(user_features(), max_out_of_orderness="3s")
    n = len(columns["ts"])
    outs = [features.process_columns(pipeline, {k: v[i:i + batch] for k, v in columns.items()})
            for i in range(0, n, batch)]
    outs.append(features.flush_columns(pipeline))
    return {k: np.concatenate([o[k] for o in outs]) for k in ("event_id", "n", "mean", "max")}


def run_pandas(columns):
    df = pd.DataFrame(columns).sort_values("ts", kind="stable")
    df["dt"] = pd.to_datetime(df["ts"], unit="ms")
    roll = df.groupby("user").rolling("5min", on="dt")["amount"]
    # in group order (users sorted, time order within each): see `oracle` for the rows they belong to
    return {"n": roll.count().to_numpy(), "mean": roll.mean().to_numpy(), "max": roll.max().to_numpy()}


def run_polars(columns):
    import polars as pl

    df = pl.DataFrame({k: columns[k] for k in ("user", "amount", "ts")}).with_row_index("row")
    w = f"{WINDOW}i"  # an integer window over the integer ms column; closed="right": (t - w, t]
    out = df.sort("ts", maintain_order=True).with_columns(pl.lit(1).alias("one")).select(
        "row", pl.col("one").rolling_sum_by("ts", w).over("user").alias("n"),
        pl.col("amount").rolling_mean_by("ts", w).over("user").alias("mean"),
        pl.col("amount").rolling_max_by("ts", w).over("user").alias("max"))
    return {k: out[k].to_numpy() for k in ("row", "n", "mean", "max")}


def run_pipeline(records):
    pipeline = features.FeaturePipeline(user_features(), max_out_of_orderness="3s")
    return pipeline.process_batch(records) + pipeline.flush()


def run_river(ordered):
    from river import stats, utils

    period = dt.timedelta(minutes=5)
    rolling, out = {}, []
    for user, ts, amount in ordered:
        r = rolling.get(user)
        if r is None:
            r = rolling[user] = utils.TimeRolling(stats.Mean, period=period)
        r.update(amount, t=EPOCH + dt.timedelta(milliseconds=ts))
        out.append((r.obj.n, r.get()))
    return out


# ---------------------------------------------------------------------------------------- checks
def oracle(columns, got=None):
    """pandas' results (`run_pandas`'s output) per row of the arrival-order input: {n, mean, max} by row."""
    got = run_pandas(columns) if got is None else got
    order = np.argsort(columns["ts"], kind="stable")  # the rows in the order pandas sorted them
    rows = order[np.argsort(columns["user"][order], kind="stable")]  # ... then grouped by sorted user
    want = {k: np.empty(len(rows)) for k in ("n", "mean", "max")}
    for k in want:
        want[k][rows] = got[k]
    return want


def mismatches(got_rows, got, want, rel=1e-9, skip=None) -> int:
    """Rows whose count or max differ or whose mean is off by more than `rel` relative."""
    bad = (got["n"] != want["n"][got_rows]) | (got["max"] != want["max"][got_rows])
    bad |= np.abs(got["mean"] - want["mean"][got_rows]) > rel * np.maximum(1.0, np.abs(want["mean"][got_rows]))
    if skip is not None:
        bad &= ~skip
    return int(bad.sum())


def check(name, got_rows, got, want, rel=1e-9, skip=None, note=""):
    bad = mismatches(got_rows, got, want, rel, skip)
    status = "equal to pandas" if bad == 0 else f"{bad:,} ROWS DIFFER FROM PANDAS"
    print(f"  check {name:<22} {len(got_rows):,} rows {status}{note}")
    return bad == 0


# ----------------------------------------------------------------------------------------- timing
def alternate(contenders: dict, rounds: int) -> tuple[dict[str, list[float]], dict]:
    """Each contender once per round, in an order rotated every round. Returns its seconds per run
    and the output of its first run (to check: every timed result is one that was checked)."""
    names = list(contenders)
    times, first = {name: [] for name in names}, {}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            out = contenders[name]()
            times[name].append(time.perf_counter() - start)
            first.setdefault(name, out)
            del out
    return times, first


def summary(n, seconds):
    rates = [n / s for s in seconds]
    return f"{statistics.median(rates):>12,.0f} events/s  [{min(rates):,.0f} - {max(rates):,.0f}]"


def ratio(times, a, b):
    per_round = [tb / ta for ta, tb in zip(times[a], times[b])]  # a's speed over b's
    return statistics.median(per_round), min(per_round), max(per_round)


def print_ratio(label, r, goal=None):
    met = "" if goal is None else f"  (goal >= {goal:.1f}x: {'met' if r[0] >= goal else 'NOT met'})"
    print(f"  {label:<34} {r[0]:6.2f}x  [{r[1]:.2f} - {r[2]:.2f}]{met}")


def columnar_round(records, rounds, warmup):
    frame = pd.DataFrame(records)
    columns = {"event_id": frame["event_id"].to_numpy(), "user": frame["user"].to_numpy(),
               "amount": frame["amount"].to_numpy(), "ts": frame["ts"].to_numpy()}
    n = len(records)
    have_polars = importlib.util.find_spec("polars") is not None
    if not have_polars:
        print("  polars is not installed: skipping it (pip install polars; a benchmark-only dependency)")
    runs = {"pandas": run_pandas}
    if have_polars:
        runs["polars"] = run_polars
    for b in BATCHES:
        runs[f"micro-batch {b // 1000}k"] = functools.partial(run_microbatch, batch=b)
    prefix = {k: v[:warmup] for k, v in columns.items()}
    for run in runs.values():  # warm-up: imports, caches, the allocator
        run(prefix)
    times, first = alternate({name: functools.partial(run, columns) for name, run in runs.items()}, rounds)
    # checks, in this run, against pandas (its own timed output is the oracle)
    want = oracle(columns, first["pandas"])
    row_of = {eid: i for i, eid in enumerate(columns["event_id"].tolist())}
    for b in BATCHES:
        got = first[f"micro-batch {b // 1000}k"]
        rows = np.fromiter((row_of[e] for e in got["event_id"].tolist()), dtype=np.int64, count=len(got["event_id"]))
        check(f"micro-batch {b // 1000}k", rows, got, want)
    if have_polars:
        got = first["polars"]
        key = pd.DataFrame({"user": columns["user"], "ts": columns["ts"]})
        tie = key.duplicated(["user", "ts"], keep=False).to_numpy()[got["row"]]
        check("polars", got["row"], got, want, skip=tie,
              note=f" outside (user, ts) ties ({int(tie.sum()):,} tie rows not compared: polars counts later ties)")
    for name, t in times.items():
        print(f"  {name:<22} {summary(n, t)}")
    for b in BATCHES:
        name = f"micro-batch {b // 1000}k"
        print_ratio(f"{name} / pandas", ratio(times, name, "pandas"), 1.0 if b == 10_000 else None)
        if have_polars:
            print_ratio(f"{name} / polars", ratio(times, name, "polars"), 0.5 if b == 100_000 else None)
    if have_polars:
        print_ratio("polars / pandas", ratio(times, "polars", "pandas"))


def per_event_round(records, rounds):
    ordered_recs = sorted(records, key=lambda r: r["ts"])
    ordered = [(r["user"], r["ts"], r["amount"]) for r in ordered_recs]
    n = len(records)
    columns = {k: np.array([r[k] for r in records], dtype=object if k in ("event_id", "user") else None)
               for k in ("event_id", "user", "amount", "ts")}
    times, first = alternate({"pipeline": lambda: run_pipeline(records), "River": lambda: run_river(ordered)}, rounds)
    want = oracle(columns)
    row_of = {r["event_id"]: i for i, r in enumerate(records)}
    rows = first["pipeline"]
    got_rows = np.array([row_of[r["event_id"]] for r in rows])
    check("pipeline", got_rows, {k: np.array([r[k] for r in rows]) for k in ("n", "mean", "max")}, want)
    river = first["River"]
    river_rows = np.array([row_of[r["event_id"]] for r in ordered_recs])
    got = {"n": np.array([c for c, _ in river]), "mean": np.array([m for _, m in river]),
           "max": want["max"][river_rows]}  # River has no time-based max: nothing to compare there
    check("River (count, mean)", river_rows, got, want, rel=1e-6)
    for name, t in times.items():
        print(f"  {name:<22} {summary(n, t)}")
    print_ratio("pipeline / River", ratio(times, "pipeline", "River"))


def checkpoints(records, marks):
    print("\ncheckpoint bytes and commit time (one recovery.commit, median of 3), the same 10k users and window:")
    print(f"  {'events':>10}  {'per-event pipeline':>30}  {'micro-batch pipeline (10k)':>32}")
    frame = pd.DataFrame(records)
    columns = {k: frame[k].to_numpy() for k in ("event_id", "user", "amount", "ts")}
    per_event = features.FeaturePipeline(user_features(), max_out_of_orderness="3s")
    batched = features.FeaturePipeline(user_features(), max_out_of_orderness="3s")
    outputs = {name: [] for name in sinks.SIDE_OUTPUTS}
    with tempfile.TemporaryDirectory() as tmp:
        for mark in marks:
            per_event.process_batch(records[per_event.offset:mark])
            while batched.offset < mark:
                end = min(batched.offset + 10_000, mark)
                features.process_columns(batched, {k: v[batched.offset:end] for k, v in columns.items()})
            cells = []
            for p in (per_event, batched):
                size = len(p.checkpoint())
                seconds = []
                for i in range(3):
                    start = time.perf_counter()
                    recovery.commit(Path(tmp), i, p, [], outputs)
                    seconds.append(time.perf_counter() - start)
                cells.append(f"{size / 1e6:8.2f} MB {statistics.median(seconds) * 1e3:8.1f} ms")
            print(f"  {mark:>10,}  {cells[0]:>30}  {cells[1]:>32}")


def lookup_latencies(url, users, n=20_000):
    w = features.ContinuousWindow(WINDOW)
    store = features.FeatureStore([features.Feature("mean", "user", "amount", "mean", w)], online=url, ttl="1h")
    now = 10**12
    for u in users:
        store.online.write(u, "mean", 1.0, now, 0)
    picks = np.random.default_rng(0).choice(users, n)
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
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of the columnar contenders")
    parser.add_argument("--per-event-rounds", type=int, default=2, help="rounds of the per-event path and River")
    parser.add_argument("--quick", action="store_true", help="a sanity run: 100k events, 2 rounds")
    parser.add_argument("--skip-per-event", action="store_true", help="only the columnar contenders and checkpoints")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds, args.per_event_rounds = min(args.events, 100_000), 2, 2
    marks = [m for m in (100_000, 300_000, 1_000_000) if m <= args.events] or [args.events]
    print(f"{args.events:,} events, {args.users:,} users, 5-minute window, disorder <= 3 s (= the watermark's bound)")
    for name, zipf in [("uniform", None), ("zipf 1.1", 1.1)]:
        records = transactions(args.events, args.users, zipf=zipf, seed=0, rate=1_000.0, max_disorder_ms=3_000)
        hot = pd.Series([r["user"] for r in records]).value_counts().iloc[0]
        print(f"\n== {name} keys (hottest user: {hot:,} events), columns in and out, {args.rounds} rounds")
        columnar_round(records, args.rounds, warmup=min(20_000, args.events))
        if not args.skip_per_event:
            print(f"-- per event, dicts in and out, {args.per_event_rounds} rounds")
            per_event_round(records, args.per_event_rounds)
        if zipf is None:
            checkpoints(records, marks)
    users = [f"u{i:05d}" for i in range(args.users)]
    print("\nonline lookup latency (one user, one feature):")
    for label, url in [("in-memory", "memory://"), ("SQLite", "sqlite://")]:
        p50, p99 = lookup_latencies(url, users)
        print(f"  {label:<10} p50 {p50:7.1f} us   p99 {p99:7.1f} us")


if __name__ == "__main__":
    main()
