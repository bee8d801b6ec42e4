"""Every way a request can be refused, each with the HTTP status it maps to.

The server raises these; `app.py` turns them into responses. Keeping the status
on the exception means the mapping is stated once, here, and a new failure mode
cannot silently become a 500.
"""
from __future__ import annotations


class ServingError(Exception):
    """A request the server answers with a non-200 status (never a crash)."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ModelNotFound(ServingError):
    """Unknown model, version or alias, or a version that is not loaded."""

    status = 404


class InvalidInput(ServingError):
    """Malformed request; `field` names the offending part, e.g. 'inputs[0].shape'."""

    status = 422

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field


class PayloadTooLarge(ServingError):
    """The body is longer than max_body_bytes; it is refused as soon as that many bytes have arrived."""

    status = 413


class UnsupportedMediaType(ServingError):
    """A Content-Encoding the server cannot decode (bodies are plain JSON)."""

    status = 415


class QueueFull(ServingError):
    """Backpressure: the model's queue holds max_queue_size requests. Retry after `retry_after_s`."""

    status = 503

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Draining(ServingError):
    """The server is draining (shutting down gracefully): no new work is accepted."""

    status = 503
    retry_after_s = 1


class ModelUnavailable(ServingError):
    """The model exists but is not READY (loading, failed or unloading)."""

    status = 503
    retry_after_s = 1


class DeadlineExceeded(ServingError):
    """The request's deadline passed while it waited in the queue; it was never computed."""

    status = 504


class CacheFull(ServingError):
    """A load needs a cache slot, but every slot holds a version in use (served, in a traffic split
    or an alias's target, shadowed, or with queued requests): unload one or raise cache_size.
    507 Insufficient Storage: the server cannot hold one more model; nothing was changed."""

    status = 507


class ModelLoadError(ServingError):
    """Loading or warming up a version failed; the previously served version keeps serving."""

    status = 500


class UntrustedArtifact(ServingError):
    """An artifact whose format can execute code (pickle) loaded without trust=True, or tampered."""

    status = 500
