"""Seeded card-transaction streams for exercise 4 (real-time feature pipeline).

`transactions` returns records in *arrival* order (the order a consumer reads
them from a log), each with its *event time* `ts` (integer milliseconds):

- event times follow a Poisson process at `rate` events per second;
- each record arrives after a delay drawn uniformly from [0, max_disorder_ms],
  so the disorder is bounded: a watermark with out-of-orderness
  `max_disorder_ms` sees none of these records late;
- `late_fraction` of records are held back by `late_by_ms` (a range) instead:
  the very late events a pipeline must count, not drop silently;
- `duplicate_fraction` of records are delivered a second time (same event_id,
  a little later), as an at-least-once source does;
- `malformed_fraction` of records are corrupted (missing field, amount that is
  not a number, NaN amount, missing user), for the dead-letter output;
- users are Zipf-distributed (`zipf` = exponent, hot keys) or uniform (`zipf=None`).

Every record also carries `arrival_ms`, the processing time at which it was read.
Nothing here is random at import time; the same arguments give the same stream.
"""
from __future__ import annotations

import numpy as np

START_MS = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
CATEGORIES = ("grocery", "travel", "electronics", "restaurants", "fuel", "online")


def user_ids(n_users: int) -> list[str]:
    width = len(str(max(n_users - 1, 0)))
    return [f"u{i:0{width}d}" for i in range(n_users)]


def _user_draws(rng, n, n_users, zipf):
    if zipf is None:
        return rng.integers(0, n_users, size=n)
    ranks = np.arange(1, n_users + 1, dtype=float)
    p = ranks ** -float(zipf)
    return rng.choice(n_users, size=n, p=p / p.sum())


def transactions(n: int = 10_000, n_users: int = 1_000, n_merchants: int = 200, *, zipf: float | None = 1.1,
                 seed: int = 0, rate: float = 100.0, start_ms: int = START_MS, max_disorder_ms: int = 3_000,
                 late_fraction: float = 0.0, late_by_ms: tuple[int, int] = (60_000, 600_000),
                 duplicate_fraction: float = 0.0, malformed_fraction: float = 0.0) -> list[dict]:
    """`n` transactions (plus duplicates) in arrival order; see the module docstring."""
    if n < 0 or n_users < 1 or n_merchants < 1:
        raise ValueError(f"need n >= 0, n_users >= 1, n_merchants >= 1; got {n}, {n_users}, {n_merchants}")
    rng = np.random.default_rng(seed)
    user_index = _user_draws(rng, n, n_users, zipf)
    users = np.array(user_ids(n_users))[user_index]
    merchants = rng.integers(0, n_merchants, size=n)
    # each user has a typical spend; amounts are lognormal around it, in cents
    user_scale = np.exp(rng.normal(3.0, 0.8, size=n_users))
    amounts = np.round(user_scale[user_index] * rng.lognormal(0.0, 0.6, size=n), 2)
    ts = start_ms + np.floor(np.cumsum(rng.exponential(1000.0 / rate, size=n))).astype(np.int64)
    delay = rng.integers(0, max_disorder_ms + 1, size=n)
    late = rng.random(n) < late_fraction
    delay[late] = rng.integers(late_by_ms[0], late_by_ms[1] + 1, size=int(late.sum()))
    records = [
        {"event_id": f"e{i:08d}", "user": str(users[i]), "merchant": f"m{int(merchants[i]):04d}",
         "amount": float(amounts[i]), "ts": int(ts[i]), "arrival_ms": int(ts[i] + delay[i])}
        for i in range(n)
    ]
    dup_rows = np.flatnonzero(rng.random(n) < duplicate_fraction)
    for i in dup_rows:
        copy = dict(records[i])
        copy["arrival_ms"] += int(rng.integers(1, 5_000))
        records.append(copy)
    bad_rows = np.flatnonzero(rng.random(n) < malformed_fraction)
    for i, kind in zip(bad_rows, rng.integers(0, 4, size=len(bad_rows))):
        rec = records[i]
        if kind == 0:
            del rec["ts"]
        elif kind == 1:
            rec["amount"] = "12,50"
        elif kind == 2:
            rec["amount"] = float("nan")
        else:
            rec["user"] = None
    records.sort(key=lambda r: r["arrival_ms"])  # stable: ties keep generation order
    return records


def merchant_table(n_merchants: int = 200, *, seed: int = 0, versions: int = 2,
                   start_ms: int = START_MS, span_ms: int = 3_600_000) -> list[dict]:
    """Versioned merchant attributes (a slowly changing dimension) for the stream-table join.

    Each merchant has `versions` rows {"merchant", "valid_from", "category", "risk"};
    the first is valid from well before `start_ms`, later ones from random times in the span.
    """
    rng = np.random.default_rng(seed + 1)
    rows = []
    for m in range(n_merchants):
        times = [start_ms - 86_400_000] + sorted(int(t) for t in start_ms + rng.integers(0, span_ms, versions - 1))
        for t in times:
            rows.append({"merchant": f"m{m:04d}", "valid_from": t,
                         "category": CATEGORIES[int(rng.integers(len(CATEGORIES)))],
                         "risk": round(float(rng.beta(2, 8)), 3)})
    return rows
