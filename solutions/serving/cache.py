"""A bounded LRU cache of loaded model versions.

Loaded models cost memory (a few MB to GB each), so the server keeps at most
`capacity` of them. Every request touches its version, so the versions in use
stay; the one untouched longest is evicted when a new one is loaded, and the
server stops its batcher (its queued requests are still answered).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable, Iterator


class LRUCache:
    """Mapping with a capacity; `put` returns what it evicted so the owner can release it."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"cache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """Return the value for `key` and mark it most recently used; `default` if absent (no change)."""
        # BEGIN SOLUTION [2.3] LRU lookup (section 2)
        # HINT: OrderedDict.move_to_end(key) marks a key most recently used.
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key]
        # END SOLUTION

    def put(self, key: Hashable, value: Any) -> list[tuple[Hashable, Any]]:
        """Insert or replace `key` as most recently used; evict least recently used entries beyond capacity.

        Returns the evicted (key, value) pairs, oldest first. Replacing an existing key never evicts
        another entry, and the new key itself is never evicted.
        """
        # BEGIN SOLUTION [2.3] LRU insert with eviction (section 2)
        # HINT: OrderedDict.popitem(last=False) removes the least recently used entry.
        self._items[key] = value
        self._items.move_to_end(key)
        evicted = []
        while len(self._items) > self.capacity:
            evicted.append(self._items.popitem(last=False))
        return evicted
        # END SOLUTION

    def pop(self, key: Hashable, default: Any = None) -> Any:
        return self._items.pop(key, default)

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """Value without touching recency (for health checks and metrics)."""
        return self._items.get(key, default)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[Hashable]:
        """Keys from least to most recently used."""
        return list(self._items)

    def items(self) -> Iterator[tuple[Hashable, Any]]:
        return iter(list(self._items.items()))
