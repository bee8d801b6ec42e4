"""Independent oracles and hypothesis strategies for the exercise-4 tests (pandas is the oracle)."""
import math

import numpy as np
import pandas as pd
from hypothesis import strategies as st

MINUTE = 60_000
AGGS = ["count", "sum", "mean", "min", "max", "std"]
GAPS = [0, 0, 1, 999, 1_000, 30_000, MINUTE, 4 * MINUTE, 5 * MINUTE - 1, 5 * MINUTE, 5 * MINUTE + 1, 7 * MINUTE]
amounts = st.integers(-50_000, 500_000).map(lambda cents: cents / 100)


@st.composite
def ordered_events(draw, min_size=1, max_size=40, users=("a", "b", "c")):
    """Events in event-time order with many ties and window-boundary gaps; event_id = position."""
    n = draw(st.integers(min_size, max_size))
    gaps = draw(st.lists(st.sampled_from(GAPS), min_size=n, max_size=n))
    ts = np.cumsum(gaps).tolist()
    return [{"event_id": i, "user": draw(st.sampled_from(users)), "amount": draw(amounts), "ts": 1_000_000 + t}
            for i, t in enumerate(ts)]


@st.composite
def disordered(draw, events, max_delay):
    """`events` (in event-time order) shuffled into arrival order with delays in [0, max_delay]."""
    delays = draw(st.lists(st.integers(0, max_delay), min_size=len(events), max_size=len(events)))
    arrival = sorted(range(len(events)), key=lambda i: (events[i]["ts"] + delays[i], i))
    return [events[i] for i in arrival]


def rolling_oracle(events, window_ms, key="user", value="amount"):
    """pandas groupby(key).rolling(W, on=ts) over events in (ts, arrival) order.

    Returns {event_id: {count, sum, mean, min, max, std, var}}. `events` must be in arrival order;
    a stable sort by ts gives the (ts, arrival) tie order of the pinned contract.
    """
    if not events:
        return {}
    df = pd.DataFrame(events).reset_index(drop=True)
    df = df.sort_values("ts", kind="stable").reset_index(drop=True)
    df["dt"] = pd.to_datetime(df["ts"], unit="ms")
    rolled = df.groupby(key, sort=True).rolling(f"{window_ms}ms", on="dt")[value]
    # the result is grouped by sorted key, original order inside each group
    positions = np.argsort(df[key].to_numpy(), kind="stable")
    stats = {name: getattr(rolled, name)().to_numpy() for name in ("count", "sum", "mean", "min", "max", "std", "var")}
    ids = df["event_id"].to_numpy()
    return {ids[p]: {name: float(values[j]) for name, values in stats.items()} for j, p in enumerate(positions)}


def close(a, b, scale=1.0, tol=1e-9) -> bool:
    """Equal within tol relative to max(1, |b|, scale); NaN equals NaN."""
    if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(1.0, abs(b), scale)


def window_values(events, eid, window_ms, key="user", value="amount"):
    """The values inside the pinned window of event `eid` (by brute force, for error scales)."""
    order = sorted(range(len(events)), key=lambda i: (events[i]["ts"], i))
    pos = {events[i]["event_id"]: p for p, i in enumerate(order)}
    me = events[[e["event_id"] for e in events].index(eid)]
    return [events[i][value] for p, i in enumerate(order)
            if p <= pos[eid] and events[i][key] == me[key] and events[i]["ts"] > me["ts"] - window_ms]


def assert_rows_match(rows, arrival_events, window_ms):
    oracle = rolling_oracle(arrival_events, window_ms)
    assert sorted(r["event_id"] for r in rows) == sorted(oracle)
    for row in rows:
        want = oracle[row["event_id"]]
        inside = window_values(arrival_events, row["event_id"], window_ms)
        scale = max(abs(v) for v in inside)
        for a in AGGS[:-1]:
            assert close(row[a], want[a], scale), (a, row, want)
        # std: sqrt amplifies rounding near 0 (pandas' as much as ours), so compare variances at data scale
        if want["std"] != want["std"]:
            assert row["std"] != row["std"], (row, want)
        else:
            assert abs(row["std"] ** 2 - want["var"]) <= 1e-9 * max(1.0, scale * scale), (row, want)
