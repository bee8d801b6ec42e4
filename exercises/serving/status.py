# Starter code generated from solutions/serving/status.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""What the server reports about itself: health, model states and metadata, metrics.

`StatusReports` is the read-only part of ModelServer; the state it reads is set up in
ModelServer.__init__. Nothing here changes what is loaded or served.
"""
from __future__ import annotations

from .errors import ModelNotFound
from .versions import READY, UNAVAILABLE


class StatusReports:
    def _generator(self, name: str, version):
        """The LLMService that serves `name`, if one does (its only version is 1); else None."""
        return self.generators.get(name) if version in (None, 1) else None

    def model_state(self, name: str, version=None) -> str:
        if (generator := self._generator(name, version)) is not None:
            return generator.state
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
        if (generator := self._generator(name, version)) is not None:
            return generator.metadata()
        v = self._serving.get(name) if version is None else self.registry.resolve(name, version)
        if v is None:
            v = self.registry.resolve(name, None)
        manifest = self.registry.manifest(name, v)
        return {"name": name, "versions": [str(x) for x in self.registry.versions(name)],
                "version": str(v), "platform": manifest["flavor"], "state": self._states.get((name, v), "UNLOADED"),
                "inputs": [manifest["input_schema"]], "outputs": [{"name": "output-0", "datatype": "FP32"}],
                "aliases": self.registry.aliases(name)}

    def get_metrics(self) -> dict:
        """Per model and version: counts (per request, whatever its number of rows), error rate, exact
        p50/p95/p99 (ms) over the recent window, throughput, queue depth (rows), batch sizes (rows); plus
        server-wide state, shadow reports and events; per generative model, its LLMService.stats()."""
        now = self.clock.now()
        depths = self.queue_depths()
        models: dict[str, dict[int, dict]] = {}
        for (name, v), stats in sorted(self._stats.items()):
            models.setdefault(name, {})[v] = stats.summary(now, depths.get((name, v), 0))
        return {"models": models, "loaded": len(self._cache), "draining": self._draining,
                "unknown_model_requests": sum(self._unknown.values()),
                "traffic": {n: dict(s.weights) for n, s in self._splits.items()},
                "shadow": {n: s.report() for n, s in self._shadows.items()},
                "events": list(self.events),
                "generation": {n: g.stats() for n, g in sorted(self.generators.items())}}
