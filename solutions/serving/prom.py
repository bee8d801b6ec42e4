"""The Prometheus observer: the server's outcomes as prometheus_client metrics, for GET /metrics.

One CollectorRegistry per app (no global state), fed by the server (`on_request`, `on_batch`: it is
one of `server.observers`) and by the HTTP layer for requests refused before they reach the server
(`invalid`). Label values come from the server's own names (loaded models, their versions), never
from raw client input, so a client sending random model names cannot grow the label set.

With PROMETHEUS_MULTIPROC_DIR set (uvicorn --workers N), prometheus_client writes every worker's
counters and histograms to files there and /metrics reports their sum over the workers; the gauges
(queue depth, loaded models) are then the answering worker's.
"""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
__all__ = ["CONTENT_TYPE_LATEST", "PrometheusMetrics"]


class ServerGauges:
    """Gauges read from the server at scrape time."""

    def __init__(self, server):
        self.server = server

    def collect(self):
        depth = GaugeMetricFamily("mlserve_queue_depth", "Requests waiting in a model's queue",
                                  labels=["model", "version"])
        for (name, version), n in sorted(self.server.queue_depths().items()):
            depth.add_metric([name, str(version)], n)
        yield depth
        yield GaugeMetricFamily("mlserve_loaded_models", "Model versions loaded",
                                value=len(self.server.loaded_versions()))


class PrometheusMetrics:
    def __init__(self, server, *, multiprocess_dir: str | None = None):
        self.server = server
        self.multiprocess_dir = multiprocess_dir if multiprocess_dir is not None else \
            os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.registry = CollectorRegistry()
        self.latency = Histogram("mlserve_request_duration_seconds", "Request latency inside the server",
                                 ["model", "version"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.requests = Counter("mlserve_requests", "Answered requests by outcome",
                                ["model", "version", "status"], registry=self.registry)
        self.batch_size = Histogram("mlserve_batch_size", "Items per fired batch", ["model", "version"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.gauges = ServerGauges(server)
        self.registry.register(self.gauges)
        self.collectors = [self.gauges]  # read at scrape time: also reported in multiprocess mode
        # labelled children by label values: labels() validates and hashes its arguments on every
        # call, a cost per request; the children themselves live as long as their metric
        self._children: dict[tuple, object] = {}

    def _child(self, metric, *values: str):
        key = (metric, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def on_request(self, model: str, version: int, status: str, latency_s: float) -> None:
        self._child(self.requests, model, str(version), status).inc()
        if status == "ok":
            self._child(self.latency, model, str(version)).observe(latency_s)

    def on_batch(self, model: str, version: int, record) -> None:
        if record.size:
            self._child(self.batch_size, model, str(version)).observe(record.size)

    def invalid(self, model: str) -> None:
        """A malformed request refused before the server saw it; `model` only if it is a loaded one."""
        loaded = {name for name, _ in self.server.loaded_versions()}
        self.requests.labels(model if model in loaded else "", "", "invalid").inc()

    def add_collector(self, collector) -> None:
        """Another collector read at scrape time (e.g. the LLM services' gauges, llm_http.py)."""
        self.registry.register(collector)
        self.collectors.append(collector)

    def exposition(self) -> bytes:
        if not self.multiprocess_dir:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed, path=self.multiprocess_dir)
        for collector in self.collectors:
            summed.register(collector)
        return generate_latest(summed)
