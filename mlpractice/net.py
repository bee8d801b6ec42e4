"""Loopback networking shared by tests, benchmarks and the distributed launcher.

Nothing here ever listens beyond 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (for servers that need a number, not a socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def uvicorn_on_loopback(app, timeout_s: float = 20.0):
    """Serve an ASGI `app` with a real uvicorn in a thread; yield its base URL; always shut it down.

    uvicorn gets an already bound socket, so no other process can take the port in between.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start (see the log above: a startup error?)")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not shut down"
