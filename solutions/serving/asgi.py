"""ASGI factories for uvicorn, including `--workers N`.

    MLSERVE_REGISTRY=DIR MLSERVE_STATE_DIR=$(mktemp -d) PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) \\
        uvicorn solutions.serving.asgi:create_app_from_env --factory --workers 2

or, equivalently, `python -m solutions.serving --registry DIR --workers 2`, which
makes both directories itself. Each worker builds its own ModelServer from the
MLSERVE_* settings (settings.py). With MLSERVE_STATE_DIR set, admin calls are
shared through it (control.py) and every worker serves the same versions; with
PROMETHEUS_MULTIPROC_DIR set, /metrics sums every worker's counters.
"""
from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading

from .settings import Settings

# the servers built in this process, so a signal handler can drain them (see __main__.py)
SERVERS: list = []


def build(settings: Settings):
    """(app, server) for `settings`: a ModelServer behind the HTTP app, with its control plane."""
    import torch

    from .app import create_app
    from .control import LocalControl, SharedControl
    from .registry import ModelRegistry
    from .server import ModelServer

    # one intra-op thread per server process: on shared CPUs, more threads than free cores make
    # every batch wait on spinning workers (measured: batch 8 went from 9 ms to 45 ms)
    torch.set_num_threads(settings.torch_threads)
    registry = ModelRegistry(settings.registry)
    models = list(settings.models) or registry.models()
    server = ModelServer(registry, max_batch_size=settings.max_batch_size, max_wait_ms=settings.max_wait_ms,
                         max_queue_size=settings.max_queue_size, default_timeout_s=settings.timeout_s,
                         cache_size=settings.cache_size or max(4, len(models)), trust=settings.trust)
    control = SharedControl(server, settings.state_dir, poll_s=settings.poll_s) if settings.state_dir \
        else LocalControl(server)
    SERVERS.append(server)
    app = create_app(server, load_models=models, control=control, max_body_bytes=settings.max_body_bytes,
                     llm=build_llm(settings))
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a):
        async with inner(a) as state:
            with drain_on_signal(server, settings.drain_linger_s):
                yield state
    app.router.lifespan_context = lifespan
    return app, server


def build_llm(settings: Settings) -> dict:
    """{name: LLMService} for `settings.llm` ("" for none, "tinygpt": the "late" checkpoint)."""
    if not settings.llm:
        return {}
    if settings.llm != "tinygpt":
        raise ValueError(f"llm: {settings.llm!r} is not a model this server can generate with; use 'tinygpt'")
    from mlpractice import tinygpt

    from .continuous import ContinuousBatcher
    from .llm_service import LLMService
    batcher = ContinuousBatcher(tinygpt.load("late"), max_num_seqs=settings.llm_max_num_seqs,
                                max_waiting=settings.llm_max_waiting, cache=settings.llm_cache,
                                static=settings.llm_static)
    return {"tinygpt": LLMService("tinygpt", batcher)}


@contextlib.contextmanager
def drain_on_signal(server, linger_s: float = 1.0):
    """While serving, SIGTERM/SIGINT drain the server first, then reach uvicorn's own handler.

    So readiness falls and new requests get 503 Draining while queued ones are answered; then for
    `linger_s` more seconds every request is still answered 503 + Retry-After, so clients and load
    balancers stop sending before uvicorn closes the socket (a request that arrives as the socket
    closes would get no answer at all). A second signal goes to uvicorn at once. Signals can only
    be caught on the main thread; elsewhere (a server in a test thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    tasks: set = set()  # a reference, so the drain task is not collected mid-drain

    def forward(sig, frame):
        handler = previous[sig]
        if callable(handler):
            handler(sig, frame)

    async def drain_then_forward(sig, frame):
        try:
            await server.drain()
            await asyncio.sleep(linger_s)
        finally:
            forward(sig, frame)

    def on_signal(sig, frame):
        if server.draining:
            loop.call_soon_threadsafe(forward, sig, frame)
        else:
            loop.call_soon_threadsafe(lambda: tasks.add(loop.create_task(drain_then_forward(sig, frame))))

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def create_app_from_env():
    """The uvicorn factory: settings from the MLSERVE_* environment variables.

    It owns its process, so it also sets the interpreter's GIL switch interval: a model thread
    takes the GIL back after every torch operation, and while the event loop is busy it waits up
    to the interval each time (at CPython's default 5 ms a batch that computes in 8-11 ms alone took
    24-34 ms under load). A shorter interval hands the GIL over sooner, at a small cost to the loop:
    with 64 clients on the benchmark's MLP, batching reached 3.8x the unbatched throughput at 1 ms,
    4.3x at 0.5 ms and 5.5x at 0.25 ms (the default) in the same conditions.
    """
    settings = Settings.from_env()
    if not settings.gil_switch_ms > 0:
        raise ValueError(f"MLSERVE_GIL_SWITCH_MS must be a positive number of ms, got {settings.gil_switch_ms}")
    sys.setswitchinterval(settings.gil_switch_ms / 1000)
    return build(settings)[0]
