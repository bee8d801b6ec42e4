"""Which loaded version a request goes to: explicit versions, traffic splits, canaries, shadows.

`TrafficControl` is the part of ModelServer that routes; the state it reads and writes
(self._splits, self._shadows, self._serving, self._cache, self._rng, ...) is set up in
ModelServer.__init__. The pure rules (sticky buckets, the canary verdict) are in routing.py.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .errors import ModelNotFound, ModelUnavailable
from .routing import CanaryPolicy, TrafficSplit, canary_verdict
from .stats import VersionStats, percentile
from .versions import LOADING, UNLOADING, LoadedModel

log = logging.getLogger("serving")


@dataclass
class Shadow:
    """Mirroring to `version`; every count is per request (a request agrees when each of its rows does)."""

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


def outputs_agree(a, b) -> bool:
    """Same class for vector outputs (argmax), same value (to 1e-5) for scalars."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.ndim >= 1 and a.size > 1:
        return int(a.argmax()) == int(b.argmax())
    return bool(np.allclose(a, b, atol=1e-5))


class TrafficControl:
    # -- splits and shadows ------------------------------------------------------------
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

    # -- the routing decision ----------------------------------------------------------
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

    # -- shadow traffic ----------------------------------------------------------------
    def _mirror(self, name: str, rows, primary: list) -> None:
        """After a primary answer: the same rows to the shadow version, in the background, if one is set."""
        shadow = self._shadows.get(name)
        if shadow is None or shadow.version == primary[0].version:
            return
        if shadow.in_flight >= shadow.max_in_flight:
            shadow.dropped += 1
            return
        shadow.in_flight += 1
        shadow.sent += 1
        self._spawn(self._shadow_call(name, shadow, rows, primary))

    async def _shadow_call(self, name: str, shadow: Shadow, rows, primary: list) -> None:
        try:
            answers = await self._predict_once(name, rows, shadow.version, None, None)
            shadow.compared += 1
            shadow.agreed += all(outputs_agree(a.output, p.output) for a, p in zip(answers, primary))
        except Exception:  # noqa: BLE001 - a failing shadow is counted, never seen by the client
            shadow.errors += 1
        finally:
            shadow.in_flight -= 1
