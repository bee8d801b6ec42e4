"""Exercise 2: a multi-model server with dynamic batching, backpressure, versioning and A/B routing.

    registry.py  versioned artifacts (skops / safetensors / TorchScript; pickle only if trusted) + sha256
    batcher.py   DynamicBatcher: Triton's firing rule, deadlines at dequeue, failure isolation
    cache.py     bounded LRU of loaded versions
    stats.py     per-version counters and exact percentiles over a recent window
    routing.py   sticky A/B splits and the canary rollback rule
    server.py    ModelServer: load/predict/health/metrics/drain
    app.py       create_app: KServe v2 REST paths + Prometheus /metrics
    demo.py      builds a demo registry; __main__.py runs uvicorn
"""
from .batcher import BatchRecord, Decision, DynamicBatcher, Pending, firing_decision, take_batch
from .cache import LRUCache
from .clock import MonotonicClock, VirtualClock, settle
from .errors import (CacheFull, DeadlineExceeded, Draining, InvalidInput, ModelLoadError, ModelNotFound,
                     ModelUnavailable, PayloadTooLarge, QueueFull, ServingError, UntrustedArtifact)
from .models import MLP
from .registry import ModelRegistry
from .routing import CanaryPolicy, bucket, canary_verdict, choose_variant
from .server import ModelServer, Prediction
from .stats import percentile


def create_app(server, **kwargs):
    """The FastAPI app over `server` (imported lazily: FastAPI is only needed for HTTP)."""
    from .app import create_app as _create_app
    return _create_app(server, **kwargs)


__all__ = ["BatchRecord", "CacheFull", "CanaryPolicy", "DeadlineExceeded", "Decision", "Draining", "DynamicBatcher",
           "InvalidInput", "LRUCache", "MLP", "ModelLoadError", "ModelNotFound", "ModelRegistry", "ModelServer",
           "ModelUnavailable", "MonotonicClock", "PayloadTooLarge", "Pending", "Prediction", "QueueFull",
           "ServingError", "UntrustedArtifact", "VirtualClock", "bucket", "canary_verdict", "choose_variant",
           "create_app", "firing_decision", "percentile", "settle", "take_batch"]
