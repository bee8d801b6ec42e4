"""The online store: the latest value per (entity, feature) for serving, and its rules.

- a write never replaces a newer value: it lands only if its (feature_ts, created_ts)
  is >= the stored one, so out-of-order or replayed writes are harmless (idempotent);
- TTL is applied on read: a value with `now - feature_ts > ttl` comes back missing, not stale;
- continuous-window features decay on read: the store keeps the events inside the
  window and drops those that left it since the last write, so a quiet user's
  5-minute count falls to 0 instead of staying at its last value. `decayed` is the
  one definition of a window's value at a time; training rows use it too
  (feature_store.py), so what a model is trained on is what it is served.
Backends are selected by URL: "memory://" (default), "sqlite:///path.db" (or
"sqlite://" for an in-memory database), "redis://host:port/db" (optional; needs the
`redis` package and a server).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass

from .aggregates import make_aggregate


@dataclass(frozen=True)
class Record:
    value: object
    feature_ts: int
    created_ts: int


def should_replace(old: Record | None, feature_ts: int, created_ts: int) -> bool:
    """The online write rule: may a write at (feature_ts, created_ts) replace `old`?"""
    # BEGIN SOLUTION [4.4] the online store's write and read rules (section 4)
    # HINT: newer feature time wins; equal feature times: the later (or equal) creation wins.
    return old is None or (feature_ts, created_ts) >= (old.feature_ts, old.created_ts)
    # END SOLUTION


def is_fresh(record: Record, now: int, ttl: int | None) -> bool:
    """The online read rule: is `record` still servable at time `now`? (TTL inclusive)"""
    # BEGIN SOLUTION [4.4] the online store's write and read rules (section 4)
    # HINT: fresh while now - feature_ts <= ttl; no TTL means always fresh.
    return ttl is None or now - record.feature_ts <= ttl
    # END SOLUTION


def decayed(events, size: int, agg: str, now: int):
    """A continuous-window aggregate re-evaluated at `now` over the events in (now - size, now]."""
    # BEGIN SOLUTION [4.4] the online store's write and read rules (section 4)
    # HINT: events are (ts, value) sorted by ts; keep those with ts > now - size and ts <= now.
    times = [t for t, _ in events]
    lo = bisect_right(times, now - size)
    hi = bisect_right(times, now)
    acc = make_aggregate(agg)
    for _, x in events[lo:hi]:
        acc.add(x)
    return acc.result()
    # END SOLUTION


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# ------------------------------------------------------------------ online backends
class MemoryOnlineStore:
    def __init__(self):
        self.data: dict = {}
        self.lock = threading.Lock()

    def write(self, entity, feature: str, value, feature_ts: int, created_ts: int) -> bool:
        with self.lock:
            if not should_replace(self.data.get((entity, feature)), feature_ts, created_ts):
                return False
            self.data[(entity, feature)] = Record(value, feature_ts, created_ts)
            return True

    def read(self, entity, feature: str) -> Record | None:
        return self.data.get((entity, feature))

    def close(self):
        pass


class SQLiteOnlineStore:
    """One row per (entity, feature); value as JSON. Safe across threads of one process."""

    def __init__(self, path: str = ":memory:"):
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.lock = threading.Lock()
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        self.conn.execute("CREATE TABLE IF NOT EXISTS online (entity TEXT, feature TEXT, value TEXT, "
                          "feature_ts INTEGER, created_ts INTEGER, PRIMARY KEY (entity, feature))")

    def write(self, entity, feature: str, value, feature_ts: int, created_ts: int) -> bool:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                old = self._read(entity, feature)
                if not should_replace(old, feature_ts, created_ts):
                    return False
                self.conn.execute("INSERT OR REPLACE INTO online VALUES (?, ?, ?, ?, ?)",
                                  (json.dumps(entity), feature, json.dumps(value), feature_ts, created_ts))
                return True
            finally:
                self.conn.execute("COMMIT")

    def _read(self, entity, feature):
        row = self.conn.execute("SELECT value, feature_ts, created_ts FROM online WHERE entity = ? AND feature = ?",
                                (json.dumps(entity), feature)).fetchone()
        return None if row is None else Record(_untuple(json.loads(row[0])), row[1], row[2])

    def read(self, entity, feature: str) -> Record | None:
        with self.lock:
            return self._read(entity, feature)

    def close(self):
        self.conn.close()


def _untuple(value):
    """JSON turns tuples into lists; window snapshots are stored as {"v": ..., "events": [[ts, x], ...]}."""
    if isinstance(value, dict) and "events" in value:
        return {"v": value["v"], "events": [tuple(e) for e in value["events"]]}
    return value


class RedisOnlineStore:
    """Optional backend: same rules, one hash per (entity, feature). Needs `redis` and a server."""

    def __init__(self, url: str):
        import redis  # optional dependency

        self.client = redis.Redis.from_url(url)
        self.client.ping()

    def _key(self, entity, feature):
        return f"feat:{json.dumps(entity)}:{feature}"

    def write(self, entity, feature: str, value, feature_ts: int, created_ts: int) -> bool:
        import redis

        key = self._key(entity, feature)
        with self.client.pipeline() as pipe:
            while True:  # optimistic transaction: the rule is checked against what we commit over
                try:
                    pipe.watch(key)
                    raw = pipe.hgetall(key)
                    old = None if not raw else Record(None, int(raw[b"feature_ts"]), int(raw[b"created_ts"]))
                    if not should_replace(old, feature_ts, created_ts):
                        pipe.unwatch()
                        return False
                    pipe.multi()
                    pipe.hset(key, mapping={"value": json.dumps(value), "feature_ts": feature_ts,
                                            "created_ts": created_ts})
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def read(self, entity, feature: str) -> Record | None:
        raw = self.client.hgetall(self._key(entity, feature))
        if not raw:
            return None
        return Record(_untuple(json.loads(raw[b"value"])), int(raw[b"feature_ts"]), int(raw[b"created_ts"]))

    def close(self):
        self.client.close()


def open_online_store(url: str = "memory://"):
    if not isinstance(url, str):
        raise TypeError(f"online store URL must be a string, got {type(url).__name__}")
    if url == "memory://":
        return MemoryOnlineStore()
    if url.startswith("sqlite://"):
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ":memory:"
        return SQLiteOnlineStore(path or ":memory:")
    if url.startswith("redis://"):
        return RedisOnlineStore(url)
    raise ValueError(f"unknown online store {url!r}: use memory://, sqlite:///path.db, sqlite:// or redis://host:port")
