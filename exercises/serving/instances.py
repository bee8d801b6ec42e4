# Starter code generated from solutions/serving/instances.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""The execution resources of one loaded model version: its own threads (Triton's instance group).

Every loaded version computes on an `InstancePool` of its own, `threads` threads (the server's
`instances` setting for that model), so a slow model never delays another, and a shadow version
computes on its own threads, never on the primary's. The threads are daemons: a model call that
never returns holds its thread, but neither the event loop nor the exit of the process waits for it.
"""
from __future__ import annotations

import concurrent.futures
import queue
import threading


class InstancePool(concurrent.futures.Executor):
    """A fixed set of daemon threads running submitted calls in FIFO order (an Executor for run_in_executor)."""

    def __init__(self, threads: int, name: str = "model"):
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"an instance pool needs an integer >= 1 of threads, got {threads!r}")
        self.threads = threads
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._workers = [threading.Thread(target=self._serve, name=f"{name}-instance-{i}", daemon=True)
                         for i in range(threads)]
        for worker in self._workers:
            worker.start()

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new calls after shutdown")
            future = concurrent.futures.Future()
            self._jobs.put((future, fn, args, kwargs))
        return future

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as err:  # noqa: BLE001 - delivered to the caller, as concurrent.futures does
                future.set_exception(err)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Idempotent: calls already queued still run (unless cancel_futures); each thread then ends."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if cancel_futures:
                pending = []
                while True:
                    try:
                        pending.append(self._jobs.get_nowait())
                    except queue.Empty:
                        break
                for job in pending:
                    job[0].cancel()
            for _ in self._workers:
                self._jobs.put(None)
        if wait:
            for worker in self._workers:
                worker.join()
