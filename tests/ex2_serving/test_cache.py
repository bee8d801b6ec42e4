"""2.3: the bounded LRU cache of loaded versions, against a list-based reference."""
import pytest
from hypothesis import given, settings, strategies as st

pytestmark = pytest.mark.exercise("2.3", "LRU cache")

ops = st.lists(st.tuples(st.sampled_from(["get", "put"]), st.integers(0, 6), st.integers()), max_size=60)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 4), operations=ops)
def test_matches_reference(serving, capacity, operations):
    cache = serving.LRUCache(capacity)
    order, values = [], {}  # order: least -> most recently used
    for op, key, value in operations:
        if op == "get":
            expected = values.get(key, "missing")
            if key in values:
                order.remove(key)
                order.append(key)
            assert cache.get(key, "missing") == expected
        else:
            if key in values:
                order.remove(key)
            order.append(key)
            values[key] = value
            evicted = []
            while len(order) > capacity:
                old = order.pop(0)
                evicted.append((old, values.pop(old)))
            assert cache.put(key, value) == evicted
        assert cache.keys() == order and len(cache) == len(order) <= capacity


def test_get_refreshes_recency(serving):
    cache = serving.LRUCache(2)
    assert cache.put("a", 1) == [] and cache.put("b", 2) == []
    assert cache.get("a") == 1
    assert cache.put("c", 3) == [("b", 2)]
    assert cache.get("b") is None and cache.peek("a") == 1
