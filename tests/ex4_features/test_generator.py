"""The seeded transaction generator (scaffolding: passes against both implementations)."""
import math

import pytest

from mlpractice.data.features import merchant_table, transactions

pytestmark = pytest.mark.scaffold


def test_same_seed_same_stream_and_bounded_disorder():
    a = transactions(2_000, 100, seed=4, max_disorder_ms=3_000)
    assert a == transactions(2_000, 100, seed=4, max_disorder_ms=3_000)
    top = -math.inf
    for r in a:
        assert r["ts"] >= top - 3_000  # bounded disorder: never later than the bound behind the max
        top = max(top, r["ts"])
    assert [r["arrival_ms"] for r in a] == sorted(r["arrival_ms"] for r in a)


def test_injections_and_hot_keys():
    rs = transactions(5_000, 1_000, seed=1, zipf=1.1, late_fraction=0.01, duplicate_fraction=0.02,
                      malformed_fraction=0.01)
    ids = [r["event_id"] for r in rs]
    assert len(ids) - len(set(ids)) > 50
    assert any("ts" not in r or r.get("user") is None or not isinstance(r["amount"], float)
               or r["amount"] != r["amount"] for r in rs)
    users = [r["user"] for r in rs if r.get("user")]
    assert users.count("u000") > 10 * len(users) / 1_000  # hot key
    uniform = transactions(5_000, 1_000, seed=1, zipf=None)
    assert max(map([r["user"] for r in uniform].count, set(r["user"] for r in uniform))) < 30
    table = merchant_table(10, versions=2)
    assert len(table) == 20 and {r["merchant"] for r in table} == {f"m{i:04d}" for i in range(10)}
