"""The life of a loaded model version: load and warm up, swap in, evict, retire, unload.

`VersionLifecycle` is the part of ModelServer that owns the loaded versions; the state it
reads and writes (self._cache, self._states, self._serving, self._splits, self._shadows,
self._draining, ...) is set up in ModelServer.__init__.

States: LOADING -> READY (loaded and warmed up) or UNAVAILABLE (the load failed);
READY -> UNLOADING -> gone. A loaded version owns a batcher and an InstancePool (its
threads); stopping the batcher (retire, unload, drain) or aborting it (close) also ends
the threads.
"""
from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batch_worker import DynamicBatcher
from .errors import CacheFull, Draining, ModelLoadError, ModelNotFound
from .instances import InstancePool
from .registry import zeros_batch
from .stats import VersionStats
from .validation import validate_rows

LOADING, READY, UNAVAILABLE, UNLOADING = "LOADING", "READY", "UNAVAILABLE", "UNLOADING"


@dataclass
class LoadedModel:
    name: str
    version: int
    manifest: dict
    predictor: Any
    batcher: DynamicBatcher
    pool: InstancePool | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    @property
    def input_dim(self) -> int:
        return self.manifest["input_schema"]["shape"][1]

    def validate(self, rows) -> np.ndarray:
        """The examples of one request as a float32 matrix [n, input_dim], or InvalidInput naming the bad
        one (also for more examples than this version's queue can hold)."""
        return validate_rows(rows, self.input_dim, max_rows=self.batcher.max_queue_size)


def instances_for(instances: int | dict[str, int], name: str) -> int:
    """Model instances (threads) for `name`: an int applies to every model; a dict names some (others: 1)."""
    count = instances.get(name, 1) if isinstance(instances, dict) else instances
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"instances for {name!r} must be an integer >= 1, got {count!r}")
    return count


def runner(pool: InstancePool, predictor):
    """The batcher's run_batch: one batched model call on one of the version's own threads."""
    async def run_batch(payloads: list) -> list:
        return await asyncio.get_running_loop().run_in_executor(pool, predictor.predict, np.stack(payloads))
    return run_batch


class VersionLifecycle:
    async def load_model(self, name: str, version: int | str | None = None) -> LoadedModel:
        """Load (or re-serve) a version off the event loop, warm it up, then swap it in atomically.

        Refused with Draining (503) once drain() or close() has begun, also when that happens while
        this load is in flight: a version is published (READY, batcher running) only by a load that
        finds the server not draining, with no await between that check and the publication.
        """
        if self._draining:
            raise Draining("server is draining; not loading models")
        v = self.registry.resolve(name, version)
        lock = self._load_locks.setdefault(name, asyncio.Lock())
        async with lock:  # one load per model at a time; loads of other models proceed
            if self._draining:  # began while this load waited for the lock
                raise Draining("server is draining; not loading models")
            key = (name, v)
            loaded = self._cache.get(key)
            if loaded is None:
                loaded = await self._load_version(name, v)  # checks draining again after its awaits
            self._serving[name] = v  # the swap: from the next routing decision on, v serves
            self._loaded_names.add(name)
            self._event("served", name, v)
            return loaded

    def _evictable(self, swapping: str) -> list[tuple[str, int]]:
        """Cached versions a load may evict, least recently used first: none that is served (except
        `swapping`'s current default, which the load replaces), in a traffic split, shadowed, or holding
        queued or in-flight requests. (An alias names a version in the registry; a request by alias
        reaches it while it is loaded, exactly as a request by number.)"""
        keep = {(n, v) for n, v in self._serving.items() if n != swapping}
        keep |= {(n, v) for n, split in self._splits.items() for v in split.weights}
        keep |= {(n, s.version) for n, s in self._shadows.items()}
        return [k for k, m in self._cache.items()
                if k not in keep and m.batcher.depth == 0 and m.batcher.in_flight == 0]

    def _victim(self, key: tuple[str, int]) -> tuple[str, int] | None:
        """The version to evict so that `key` fits (None: it fits already), or CacheFull."""
        if key in self._cache or len(self._cache) < self._cache.capacity:
            return None
        victims = self._evictable(swapping=key[0])
        if not victims:
            raise CacheFull(f"cannot load {key[0]} v{key[1]}: all {self._cache.capacity} cached versions are in "
                            f"use ({', '.join(f'{n} v{v}' for n, v in self._cache.keys())}); unload one or raise "
                            f"cache_size")
        return victims[0]

    async def _load_version(self, name: str, v: int) -> LoadedModel:
        key = (name, v)
        self._victim(key)  # a full cache of versions in use refuses before the expensive load
        self._states[key] = LOADING
        pool = InstancePool(instances_for(self.instances, name), f"{name}-v{v}")
        published = False
        try:
            try:
                artifact = await asyncio.to_thread(self.registry.load, name, v, trust=self.trust)
                warm = zeros_batch(artifact.manifest, min(self.max_batch_size, 8))
                outputs = await asyncio.get_running_loop().run_in_executor(pool, artifact.predictor.predict, warm)
                if len(outputs) != len(warm):
                    raise RuntimeError(f"warm-up returned {len(outputs)} outputs for {len(warm)} inputs")
            except Exception as err:
                self._states[key] = UNAVAILABLE
                old = self._serving.get(name)
                still = f"; v{old} keeps serving" if old is not None else ""
                self._event("load_failed", name, v, reason=f"{type(err).__name__}: {err}")
                raise ModelLoadError(f"loading {name} v{v} failed: {type(err).__name__}: {err}{still}") from err
            # From here to the publication there is no await: drain() cannot begin in between.
            if self._draining:  # drain() (or close()) began while this version loaded; it will not stop it
                self._states.pop(key, None)
                self._event("load_refused", name, v, reason="draining")
                raise Draining(f"server began draining while {name} v{v} loaded; it is not served")
            try:
                victim = self._victim(key)  # again: what is in use may have changed while loading
            except CacheFull:
                self._states.pop(key, None)
                raise
            batcher = DynamicBatcher(runner(pool, artifact.predictor), max_batch_size=self.max_batch_size,
                                     max_wait_ms=self.max_wait_ms, max_queue_size=self.max_queue_size,
                                     clock=self.clock, name=f"{name}:v{v}", instances=pool.threads).start()
            batcher.on_batch.append(lambda record: self._on_batch(name, v, record))
            batcher.on_stopped.append(functools.partial(pool.shutdown, wait=False))
            loaded = LoadedModel(name, v, artifact.manifest, artifact.predictor, batcher, pool)
            self._stats.setdefault(key, VersionStats(self.stats_window))
            retired = [self._cache.pop(victim)] if victim is not None else []
            # a slot is free, so the LRU evicts nothing; whatever it does evict is still retired
            retired += [old for _, old in self._cache.put(key, loaded)]
            for old in retired:
                self._spawn(self._retire(old))
            self._states[key] = READY
            published = True
            self._event("loaded", name, v)
            return loaded
        finally:
            if not published:
                pool.shutdown(wait=False)

    async def _retire(self, loaded: LoadedModel) -> None:
        """Unload a version: stop its batcher (queued requests still computed), forget its state."""
        self._states[loaded.key] = UNLOADING
        await loaded.batcher.stop()
        if self._cache.peek(loaded.key) is loaded:  # not if the same version was loaded again meanwhile
            self._cache.pop(loaded.key)
        if self._cache.peek(loaded.key) is None:
            self._states.pop(loaded.key, None)
            if self._serving.get(loaded.name) == loaded.version:
                del self._serving[loaded.name]
        self._event("unloaded", loaded.name, loaded.version)

    async def unload_model(self, name: str, version: int | str | None = None) -> list[int]:
        """Unload one version (or every version of `name`); queued requests are still answered."""
        versions = [self.registry.resolve(name, version)] if version is not None else \
            [v for (n, v) in self._cache.keys() if n == name]
        targets = [self._cache.peek((name, v)) for v in versions if (name, v) in self._cache]
        if not targets:
            raise ModelNotFound(f"model {name!r} has no loaded version {version if version is not None else ''}")
        if version is None:
            self._loaded_names.discard(name)
            self._splits.pop(name, None)
            self._shadows.pop(name, None)
        await asyncio.gather(*(self._retire(m) for m in targets))
        return [m.version for m in targets]
