"""ModelServer: several models and versions behind per-version dynamic batchers.

Request path: route (explicit version, alias, traffic split or the served
default) -> validate -> enqueue with a deadline -> await the batch -> record.

Semantics (stated here, kept true by tests/ex2_serving):
  * health_check(): liveness never depends on models. Readiness = not draining
    and every required model (default: every model loaded and not unloaded)
    has its served version READY, i.e. loaded *and* warmed up. Each version is
    LOADING, READY, UNAVAILABLE (its load failed) or UNLOADING.
  * load_model() deserializes and warms up (one batch) off the event loop,
    then swaps the served version in one step: a request is routed either to
    the old or to the new version, never to a half-loaded one. A failed load
    leaves the old version serving and raises ModelLoadError.
  * Errors: unknown model/version/alias or a version not loaded -> ModelNotFound
    (404); bad input -> InvalidInput naming the field (422); full queue ->
    QueueFull (503 + Retry-After); draining -> Draining (503); deadline passed
    in the queue -> DeadlineExceeded (504); the model raised -> that error
    (500), for that request only.
  * Every answered request is counted once per (model, version) with status
    ok / error / timeout / rejected / invalid.
  * A/B: with a traffic split set, a request without an explicit version is
    routed when it is enqueued (sticky by routing key); the chosen version is
    in the returned Prediction. A canary whose error rate or p95 breaks its
    policy after min_requests is set to weight 0 and an event is logged.
  * Shadow traffic: after a primary prediction, the same input is sent to the
    shadow version in the background (at most max_in_flight at once; beyond
    that it is dropped and counted); its answer is only compared, never returned.
  * drain(): readiness turns false and new predictions get Draining at once;
    every queued request is computed (batches fire with reason "drain");
    in-flight requests complete; then every version is unloaded. close() is the
    abrupt variant: queued requests are answered with Draining, not computed.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batcher import BatchRecord, DynamicBatcher
from .cache import LRUCache
from .clock import MonotonicClock
from .errors import (CacheFull, DeadlineExceeded, Draining, InvalidInput, ModelLoadError, ModelNotFound,
                     ModelUnavailable, QueueFull)
from .registry import ModelRegistry, zeros_batch
from .routing import CanaryPolicy, TrafficSplit, canary_verdict
from .stats import VersionStats, percentile

log = logging.getLogger("serving")

LOADING, READY, UNAVAILABLE, UNLOADING = "LOADING", "READY", "UNAVAILABLE", "UNLOADING"


@dataclass
class Prediction:
    output: Any
    model: str
    version: int


@dataclass
class LoadedModel:
    name: str
    version: int
    manifest: dict
    predictor: Any
    batcher: DynamicBatcher

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    @property
    def input_dim(self) -> int:
        return self.manifest["input_schema"]["shape"][1]


@dataclass
class Shadow:
    version: int
    max_in_flight: int = 16
    in_flight: int = 0
    sent: int = 0
    dropped: int = 0
    compared: int = 0
    agreed: int = 0
    errors: int = 0

    def report(self) -> dict:
        return {"version": self.version, "sent": self.sent, "dropped": self.dropped, "errors": self.errors,
                "compared": self.compared, "agreement": self.agreed / self.compared if self.compared else None}


def validate_features(inputs, dim: int, field_name: str = "inputs") -> np.ndarray:
    """One example as a float32 vector of length `dim`, or InvalidInput naming what is wrong."""
    if isinstance(inputs, (str, bytes, dict)) or not hasattr(inputs, "__len__"):
        raise InvalidInput(field_name, f"expected a list of {dim} numbers, got {type(inputs).__name__}")
    try:
        x = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(field_name, f"expected {dim} numbers; found a value that is not a number") from None
    if x.ndim != 1 or x.shape[0] != dim:
        raise InvalidInput(field_name, f"expected {dim} numbers, got shape {list(x.shape)}")
    if not np.isfinite(x).all():
        raise InvalidInput(field_name, "contains NaN or infinity")
    return x.astype(np.float32)


def outputs_agree(a, b) -> bool:
    """Same class for vector outputs (argmax), same value (to 1e-5) for scalars."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.ndim >= 1 and a.size > 1:
        return int(a.argmax()) == int(b.argmax())
    return bool(np.allclose(a, b, atol=1e-5))


class ModelServer:
    def __init__(self, registry: ModelRegistry, *, max_batch_size: int = 32, max_wait_ms: float = 2.0,
                 max_queue_size: int = 1024, cache_size: int = 4, default_timeout_s: float = 10.0,
                 clock=None, trust: bool = False, required_models: list[str] | None = None,
                 stats_window: int = 2048, compute_threads: int = 1, seed: int = 0):
        if not isinstance(registry, ModelRegistry):
            registry = ModelRegistry(registry)
        if default_timeout_s <= 0:
            raise ValueError(f"default_timeout_s must be > 0, got {default_timeout_s}")
        self.registry = registry
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms
        self.max_queue_size = max_queue_size
        self.default_timeout_s = default_timeout_s
        self.clock = clock or MonotonicClock()
        self.trust = trust
        self.stats_window = stats_window
        self.observers: list = []  # objects with on_request(...) and on_batch(...), e.g. Prometheus
        self.events: deque = deque(maxlen=1000)
        self._cache = LRUCache(cache_size)
        self._serving: dict[str, int] = {}
        self._states: dict[tuple[str, int], str] = {}
        self._splits: dict[str, TrafficSplit] = {}
        self._shadows: dict[str, Shadow] = {}
        self._stats: dict[tuple[str, int], VersionStats] = {}
        self._required: set[str] | None = set(required_models) if required_models is not None else None
        self._loaded_names: set[str] = set()
        self._unknown = Counter()
        self._background: set[asyncio.Task] = set()
        self._load_locks: dict[str, asyncio.Lock] = {}
        self._executor = ThreadPoolExecutor(max_workers=compute_threads, thread_name_prefix="model-compute")
        self._rng = random.Random(seed)
        self._draining = False

    # -- loading -------------------------------------------------------------------------
    async def load_model(self, name: str, version: int | str | None = None) -> LoadedModel:
        """Load (or re-serve) a version off the event loop, warm it up, then swap it in atomically."""
        if self._draining:
            raise Draining("server is draining; not loading models")
        v = self.registry.resolve(name, version)
        lock = self._load_locks.setdefault(name, asyncio.Lock())
        async with lock:  # one load per model at a time; loads of other models proceed
            key = (name, v)
            loaded = self._cache.get(key)
            if loaded is None:
                loaded = await self._load_version(name, v)
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
        try:
            artifact = await asyncio.to_thread(self.registry.load, name, v, trust=self.trust)
            warm = zeros_batch(artifact.manifest, min(self.max_batch_size, 8))
            outputs = await asyncio.to_thread(artifact.predictor.predict, warm)
            if len(outputs) != len(warm):
                raise RuntimeError(f"warm-up returned {len(outputs)} outputs for {len(warm)} inputs")
        except Exception as err:
            self._states[key] = UNAVAILABLE
            old = self._serving.get(name)
            still = f"; v{old} keeps serving" if old is not None else ""
            self._event("load_failed", name, v, reason=f"{type(err).__name__}: {err}")
            raise ModelLoadError(f"loading {name} v{v} failed: {type(err).__name__}: {err}{still}") from err
        batcher = DynamicBatcher(self._runner(artifact.predictor), max_batch_size=self.max_batch_size,
                                 max_wait_ms=self.max_wait_ms, max_queue_size=self.max_queue_size,
                                 clock=self.clock, name=f"{name}:v{v}").start()
        batcher.on_batch.append(lambda record: self._on_batch(name, v, record))
        loaded = LoadedModel(name, v, artifact.manifest, artifact.predictor, batcher)
        self._stats.setdefault(key, VersionStats(self.stats_window))
        try:
            victim = self._victim(key)  # again: what is in use may have changed while loading
        except CacheFull:
            self._states.pop(key, None)
            await batcher.stop()
            raise
        retired = [self._cache.pop(victim)] if victim is not None else []
        # a slot is free, so the LRU evicts nothing; whatever it does evict is still retired
        retired += [old for _, old in self._cache.put(key, loaded)]
        for old in retired:
            self._spawn(self._retire(old))
        self._states[key] = READY
        self._event("loaded", name, v)
        return loaded

    def _runner(self, predictor):
        async def run_batch(payloads: list) -> list:
            X = np.stack(payloads)
            return await asyncio.get_running_loop().run_in_executor(self._executor, predictor.predict, X)
        return run_batch

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

    # -- routing -------------------------------------------------------------------------
    def set_traffic_split(self, name: str, weights: dict[int, float], *, sticky: bool = True,
                          experiment: str | None = None, canary: CanaryPolicy | None = None) -> None:
        """Route requests without an explicit version by `weights` ({version: weight}, loaded versions)."""
        if not weights:
            raise ValueError("weights must name at least one version")
        for v, w in weights.items():
            if (name, v) not in self._cache:
                raise ModelNotFound(f"{name} v{v} is not loaded; load it before routing traffic to it")
            if not w >= 0:
                raise ValueError(f"weight of v{v} must be >= 0, got {w}")
        if sum(weights.values()) <= 0:
            raise ValueError(f"weights must sum to more than 0, got {weights}")
        if canary is not None and canary.version not in weights:
            raise ValueError(f"canary v{canary.version} is not in the split {weights}")
        self._splits[name] = TrafficSplit({int(v): float(w) for v, w in weights.items()}, sticky,
                                          experiment if experiment is not None else name, canary)
        self._event("traffic_split", name, None, weights=dict(weights))

    def clear_traffic_split(self, name: str) -> None:
        self._splits.pop(name, None)

    def traffic_split(self, name: str) -> dict[int, float] | None:
        split = self._splits.get(name)
        return dict(split.weights) if split else None

    def set_shadow(self, name: str, version: int, *, max_in_flight: int = 16) -> None:
        if (name, version) not in self._cache:
            raise ModelNotFound(f"{name} v{version} is not loaded; load it before shadowing to it")
        self._shadows[name] = Shadow(version, max_in_flight)

    def shadow_report(self, name: str) -> dict | None:
        shadow = self._shadows.get(name)
        return shadow.report() if shadow else None

    def _resolve_target(self, name: str, version, routing_key: str | None) -> LoadedModel:
        """The loaded version a request goes to, or ModelNotFound (404) / ModelUnavailable (503)."""
        if version is None:
            split = self._splits.get(name)
            if split is not None:
                v = split.pick(routing_key, self._rng)
            elif name in self._serving:
                v = self._serving[name]
            else:
                self._unknown[name] += 1
                known = bool(self.registry.versions(name))
                raise ModelNotFound(f"model {name!r} is not loaded" if known else f"unknown model {name!r}")
        elif isinstance(version, int) and (name, version) in self._cache:
            v = version
        else:
            try:
                v = self.registry.resolve(name, version)
            except ModelNotFound:
                self._unknown[name] += 1
                raise
        loaded = self._cache.get((name, v))
        if loaded is None:
            state = self._states.get((name, v))
            if state in (LOADING, UNLOADING):
                raise ModelUnavailable(f"{name} v{v} is {state}")
            raise ModelNotFound(f"{name} v{v} is not loaded")
        return loaded

    # -- predicting ----------------------------------------------------------------------
    async def predict(self, name: str, inputs, *, version=None, routing_key: str | None = None,
                      timeout_s: float | None = None) -> Prediction:
        """Answer one example (a list of numbers); see the module docstring for every outcome."""
        prediction = await self._predict_once(name, inputs, version, routing_key, timeout_s)
        shadow = self._shadows.get(name)
        if shadow is not None and shadow.version != prediction.version:
            self._mirror(name, shadow, inputs, prediction)
        return prediction

    async def predict_batch(self, name: str, list_of_inputs, *, version=None, routing_key: str | None = None,
                            timeout_s: float | None = None) -> list[Prediction]:
        """Several examples of one request: one routing decision, each item queued on its own.

        Every item is answered before this returns; if any failed, the first failure is raised.
        """
        if not isinstance(list_of_inputs, (list, tuple, np.ndarray)) or len(list_of_inputs) == 0:
            raise InvalidInput("inputs", "expected a non-empty list of examples")
        if version is None:
            version = self._resolve_target(name, None, routing_key).version
        results = await asyncio.gather(*(self.predict(name, x, version=version, timeout_s=timeout_s)
                                         for x in list_of_inputs), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return results

    async def _predict_once(self, name: str, inputs, version, routing_key, timeout_s) -> Prediction:
        """Route, validate, enqueue with a deadline, await the batch result, and record the outcome.

        1. Start time = self.clock.now(). If the server is draining, raise Draining (nothing recorded).
        2. loaded = self._resolve_target(name, version, routing_key)  (raises 404/503 itself).
        3. x = validate_features(inputs, loaded.input_dim); on InvalidInput record "invalid" and re-raise.
        4. Submit x to loaded.batcher with deadline = start + timeout, where timeout is timeout_s if it is
           not None, else self.default_timeout_s;
           on QueueFull or Draining record "rejected" and re-raise.
        5. Await the future: DeadlineExceeded -> record "timeout"; any other Exception -> "error";
           re-raise either. On success record "ok" and return Prediction(output, name, loaded.version).
        Record with self._record(loaded, status, start).
        """
        # BEGIN SOLUTION [2.4] the request path: route, validate, enqueue, await, record (section 3)
        # HINT: `future = loaded.batcher.submit(x, deadline=...)` returns at once; `await future` is the wait.
        start = self.clock.now()
        if self._draining:
            raise Draining("server is draining; send new requests elsewhere")
        loaded = self._resolve_target(name, version, routing_key)
        try:
            x = validate_features(inputs, loaded.input_dim)
        except InvalidInput:
            self._record(loaded, "invalid", start)
            raise
        timeout = self.default_timeout_s if timeout_s is None else timeout_s
        try:
            future = loaded.batcher.submit(x, deadline=start + timeout)
        except (QueueFull, Draining):
            self._record(loaded, "rejected", start)
            raise
        try:
            output = await future
        except DeadlineExceeded:
            self._record(loaded, "timeout", start)
            raise
        except Exception:
            self._record(loaded, "error", start)
            raise
        self._record(loaded, "ok", start)
        return Prediction(output, name, loaded.version)
        # END SOLUTION

    def _record(self, loaded: LoadedModel, status: str, start: float) -> None:
        now = self.clock.now()
        stats = self._stats.setdefault(loaded.key, VersionStats(self.stats_window))
        stats.record(status, now - start, now)
        for observer in self.observers:
            observer.on_request(loaded.name, loaded.version, status, now - start)
        self._check_canary(loaded.name, loaded.version, stats)

    def _on_batch(self, name: str, version: int, record: BatchRecord) -> None:
        if record.size:
            self._stats.setdefault((name, version), VersionStats(self.stats_window)).record_batch(record.size)
        for observer in self.observers:
            observer.on_batch(name, version, record)

    def _check_canary(self, name: str, version: int, stats: VersionStats) -> None:
        split = self._splits.get(name)
        policy = split.canary if split else None
        if policy is None or policy.version != version or split.weights.get(version, 0) == 0:
            return
        answered = stats.by_status["ok"] + stats.errors
        if answered < policy.min_requests:
            return
        p95 = 1000 * percentile(sorted(stats.latencies), 95) if stats.latencies else 0.0
        reason = canary_verdict(policy, answered, stats.errors, p95)
        if reason:
            split.weights[version] = 0.0
            self._event("canary_rollback", name, version, reason=reason)
            log.warning("canary %s v%s rolled back: %s", name, version, reason)

    def _mirror(self, name: str, shadow: Shadow, inputs, primary: Prediction) -> None:
        if shadow.in_flight >= shadow.max_in_flight:
            shadow.dropped += 1
            return
        shadow.in_flight += 1
        shadow.sent += 1
        self._spawn(self._shadow_call(name, shadow, inputs, primary))

    async def _shadow_call(self, name: str, shadow: Shadow, inputs, primary: Prediction) -> None:
        try:
            answer = await self._predict_once(name, inputs, shadow.version, None, None)
            shadow.compared += 1
            shadow.agreed += outputs_agree(answer.output, primary.output)
        except Exception:
            shadow.errors += 1
        finally:
            shadow.in_flight -= 1

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- health and metrics ----------------------------------------------------------------
    def model_state(self, name: str, version=None) -> str:
        v = self._serving.get(name) if version is None else self.registry.resolve(name, version)
        if v is None:
            raise ModelNotFound(f"model {name!r} is not loaded")
        return self._states.get((name, v), UNAVAILABLE)

    def health_check(self) -> dict:
        models: dict[str, dict[int, str]] = {}
        for (name, v), state in sorted(self._states.items()):
            models.setdefault(name, {})[v] = state
        required = self._required if self._required is not None else self._loaded_names
        missing = sorted(n for n in required if self._states.get((n, self._serving.get(n))) != READY)
        return {"live": True, "ready": not self._draining and not missing, "draining": self._draining,
                "not_ready": missing, "served": dict(self._serving), "models": models}

    def input_dim(self, name: str, version=None) -> int:
        """Features per example the model expects (the served version's, or a split's first version)."""
        if version is not None:
            return self._resolve_target(name, version, None).input_dim
        split = self._splits.get(name)
        v = self._serving.get(name, min(split.weights) if split else None)
        loaded = self._cache.peek((name, v)) if v is not None else None
        return loaded.input_dim if loaded else self._resolve_target(name, None, None).input_dim

    def queue_depths(self) -> dict[tuple[str, int], int]:
        return {key: m.batcher.depth for key, m in self._cache.items()}

    def loaded_versions(self) -> list[tuple[str, int]]:
        return sorted(self._cache.keys())

    def metadata(self, name: str, version=None) -> dict:
        v = self._serving.get(name) if version is None else self.registry.resolve(name, version)
        if v is None:
            v = self.registry.resolve(name, None)
        manifest = self.registry.manifest(name, v)
        return {"name": name, "versions": [str(x) for x in self.registry.versions(name)],
                "version": str(v), "platform": manifest["flavor"], "state": self._states.get((name, v), "UNLOADED"),
                "inputs": [manifest["input_schema"]], "outputs": [{"name": "output-0", "datatype": "FP32"}],
                "aliases": self.registry.aliases(name)}

    def get_metrics(self) -> dict:
        """Per model and version: counts, error rate, exact p50/p95/p99 (ms) over the recent window,
        throughput, queue depth, batch sizes; plus server-wide state, shadow reports and events."""
        now = self.clock.now()
        depths = self.queue_depths()
        models: dict[str, dict[int, dict]] = {}
        for (name, v), stats in sorted(self._stats.items()):
            models.setdefault(name, {})[v] = stats.summary(now, depths.get((name, v), 0))
        return {"models": models, "loaded": len(self._cache), "draining": self._draining,
                "unknown_model_requests": sum(self._unknown.values()),
                "traffic": {n: dict(s.weights) for n, s in self._splits.items()},
                "shadow": {n: s.report() for n, s in self._shadows.items()},
                "events": list(self.events)}

    def _event(self, kind: str, name: str, version, **extra) -> None:
        self.events.append({"event": kind, "model": name, "version": version, **extra})

    # -- shutting down -------------------------------------------------------------------
    @property
    def draining(self) -> bool:
        return self._draining

    async def drain(self) -> None:
        """Graceful shutdown; afterwards nothing is loaded and no accepted request went unanswered.

        In this order: set self._draining = True (readiness turns false and _predict_once refuses
        new requests with Draining from now on); mark every cached version UNLOADING; stop every
        batcher with `await batcher.stop()` - concurrently, since each fires its queue at once with
        reason "drain" and waits for its in-flight batch; wait for background shadow calls
        (self._background); finally remove each version from self._cache and self._states.
        """
        # BEGIN SOLUTION [2.8] graceful drain (section 6)
        self._draining = True
        loaded = [m for _, m in self._cache.items()]
        for m in loaded:
            self._states[m.key] = UNLOADING
        await asyncio.gather(*(m.batcher.stop() for m in loaded))
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        for m in loaded:
            self._cache.pop(m.key)
            self._states.pop(m.key, None)
            self._event("unloaded", m.name, m.version)
        # END SOLUTION

    async def close(self) -> None:
        """Abrupt stop (idempotent): queued and in-flight requests are answered with Draining."""
        self._draining = True
        for task in list(self._background):
            task.cancel()
        for key, m in self._cache.items():
            await m.batcher.abort(Draining(f"{m.name} v{m.version} closed"))
            self._cache.pop(key)
            self._states.pop(key, None)
        self._executor.shutdown(wait=False, cancel_futures=True)
