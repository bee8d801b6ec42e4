"""Exercise 2: a multi-model server with dynamic batching, backpressure, versioning and A/B routing.

    registry.py  versioned artifacts (skops / safetensors / TorchScript; pickle only if trusted) + sha256
    batcher.py   the batcher's semantics (Triton's firing rule, all-or-nothing admission, end-to-end
                 deadlines, up to `instances` batches at once) and its pure rules
    batch_worker.py  DynamicBatcher: the event-driven worker that applies them, failure isolation
    clock.py     the real clock and a VirtualClock (time moved by hand), both with timers
    cache.py     bounded LRU of loaded versions
    stats.py     per-version counters and exact percentiles over a recent window
    routing.py   sticky A/B splits and the canary rollback rule
    server.py    ModelServer: the request path, drain and close (the semantics, in its docstring)
    versions.py  loading, hot swap, eviction and unloading of versions
    instances.py each loaded version's own threads (model instances)
    traffic.py   which version a request goes to: splits, canaries, shadows
    status.py    health, model states, metadata, metrics
    validation.py  what a valid example and request are
    catalog.py, artifacts.py  the registry's in-memory index and artifact formats
    app.py       create_app: KServe v2 REST paths + Prometheus /metrics
    fast_path.py ServingApp: infer and generate requests straight to their handlers (the hot paths)
    http_io.py, protocol.py, prom.py  bodies and errors, the protocol's documents, Prometheus
    contract.py  what a model's answer must be (numbers, one per row)
    control.py   admin changes shared by every worker process (desired state + reconcile)
    settings.py, asgi.py  settings from the CLI or MLSERVE_*; the uvicorn factory (--workers N)
    demo.py      builds a demo registry; __main__.py runs uvicorn
  LLM generation (2.9, 2.10), on the repository's tiny GPT:
    continuous.py  ContinuousBatcher: iteration-level scheduling (its rule in the docstring)
    kv_cache.py    the contiguous and the paged KV cache
    llm_step.py    one step's prefills and decodes in one forward pass (selective batching)
    llm_service.py LLMService: drives one ContinuousBatcher from the event loop (streams, deadlines, aborts)
    llm_http.py    POST /v2/models/{name}/generate and /generate_stream (Triton's generate extension, SSE)
"""
from .batch_worker import DynamicBatcher
from .batcher import BatchRecord, Decision, Pending, firing_decision, take_batch
from .cache import LRUCache
from .clock import MonotonicClock, VirtualClock, settle
from .continuous import ContinuousBatcher, SamplingParams
from .errors import (CacheFull, DeadlineExceeded, Draining, InvalidInput, ModelLoadError, ModelNotFound,
                     ModelUnavailable, PayloadTooLarge, QueueFull, ServingError, UnsupportedMediaType,
                     UntrustedArtifact)
from .models import MLP
from .registry import ModelRegistry
from .routing import CanaryPolicy, bucket, canary_verdict, choose_variant, variant_points
from .server import ModelServer, Prediction
from .stats import percentile


def create_app(server, **kwargs):
    """The FastAPI app over `server` (imported lazily: FastAPI is only needed for HTTP)."""
    from .app import create_app as _create_app
    return _create_app(server, **kwargs)


__all__ = ["BatchRecord", "CacheFull", "CanaryPolicy", "ContinuousBatcher", "SamplingParams", "DeadlineExceeded", "Decision", "Draining", "DynamicBatcher",
           "InvalidInput", "LRUCache", "MLP", "ModelLoadError", "ModelNotFound", "ModelRegistry", "ModelServer",
           "ModelUnavailable", "MonotonicClock", "PayloadTooLarge", "Pending", "Prediction", "QueueFull",
           "ServingError", "UnsupportedMediaType", "UntrustedArtifact", "VirtualClock", "bucket", "canary_verdict",
           "choose_variant", "create_app", "firing_decision", "percentile", "settle", "take_batch", "variant_points"]
