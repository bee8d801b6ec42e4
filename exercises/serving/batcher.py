# Starter code generated from solutions/serving/batcher.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Dynamic batching: many single requests in, few batched model calls out.

One `DynamicBatcher` serves one loaded model version. Callers `submit` one item
and await its future; a single worker task forms batches and runs them.

Exact semantics (Triton's rule; each clause is kept true by a test in
tests/ex2_serving/test_firing.py and test_dequeue.py, driven by a VirtualClock):

  * The queue is FIFO and bounded: `submit` on a queue already holding
    `max_queue_size` items raises `QueueFull` at once (HTTP 503 + Retry-After);
    after `stop()` it raises `Draining` (503). Nothing else is ever refused.
  * A batch fires as soon as (a) `max_batch_size` items are queued - reason
    "full", at the instant the filling item arrives - or (b) the oldest queued
    item has waited `max_wait_ms` (now >= oldest.enqueued_at + max_wait) -
    reason "deadline", with whatever is queued. While stopping, anything queued
    fires at once - reason "drain". "full" wins when several hold.
  * The worker is event-driven: it sleeps until the next arrival or until the
    oldest item's max_wait expires, whichever comes first. It never polls.
  * A batch takes up to `max_batch_size` items from the front of the queue.
    An item whose own deadline has passed when it leaves the queue is answered
    with `DeadlineExceeded` (HTTP 504) and never computed; a cancelled item is
    dropped. Neither counts toward the batch size.
  * One batch computes at a time; arrivals meanwhile queue up, and the rule is
    applied again the moment compute ends (so a backlog fires "full" at once).
  * Failure isolation: if the model raises on a batch, each item is re-run
    alone, so a bad item fails only its own request. A model may also return an
    Exception instance in place of one item's output.
  * Every fired batch is logged (`log`, bounded) as a `BatchRecord`: fire time,
    size, reason, the oldest item's wait, compute time and expired count.
"""
from __future__ import annotations

import asyncio
import copy
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from .clock import MonotonicClock
from .errors import DeadlineExceeded, Draining, QueueFull

RunBatch = Callable[[list[Any]], Awaitable[list[Any]]]


@dataclass
class Pending:
    """One queued request: its input, when it arrived, its deadline (absolute clock time or None)."""

    payload: Any
    enqueued_at: float
    deadline: float | None
    future: asyncio.Future


@dataclass(frozen=True)
class Decision:
    """What the worker does now: fire for `reason`, or (reason None) sleep until `wake_at` or an arrival."""

    reason: str | None
    wake_at: float | None = None


@dataclass(frozen=True)
class BatchRecord:
    fired_at: float
    size: int
    reason: str
    oldest_wait_s: float
    compute_s: float
    expired: int


def firing_decision(queued: int, oldest_enqueued_at: float | None, now: float,
                    max_batch_size: int, max_wait_s: float, draining: bool) -> Decision:
    """Apply the firing rule to the queue's state at time `now`.

    - empty queue -> Decision(None, None): sleep until an arrival;
    - queued >= max_batch_size -> Decision("full");
    - draining (and not full) -> Decision("drain");
    - now >= oldest_enqueued_at + max_wait_s -> Decision("deadline");
    - otherwise -> Decision(None, wake_at=oldest_enqueued_at + max_wait_s).
    """
    # Exercise 2.1: decide when a batch fires.
    # Hint: four cases in the order of the docstring; only the last one sleeps with a wake-up time.
    raise NotImplementedError('Exercise 2.1: decide when a batch fires - see notebooks/02_model_serving.ipynb, section 1')


def take_batch(queue: deque, now: float, max_batch_size: int) -> tuple[list[Pending], list[Pending]]:
    """Pop the next batch from the front of `queue` (a deque of Pending), in FIFO order.

    Returns (batch, expired). Pop until the batch holds `max_batch_size` items or the queue
    is empty. An item whose `future` is already done (the caller gave up) is dropped; an item
    with `deadline is not None and now >= deadline` goes to `expired` (the caller answers it
    with DeadlineExceeded); neither counts toward the batch size. Items left in the queue keep
    their order.
    """
    # Exercise 2.2: dequeue a batch, dropping expired requests.
    # Hint: `queue.popleft()` in a while loop bounded by len(batch) < max_batch_size.
    raise NotImplementedError('Exercise 2.2: dequeue a batch, dropping expired requests - see notebooks/02_model_serving.ipynb, section 1')


def own_copy(err: Exception) -> Exception:
    """A fresh instance per caller: one exception object raised from many futures piles up tracebacks."""
    try:
        fresh = copy.copy(err)
    except Exception:  # noqa: BLE001 - an exception type that cannot be copied is still reported
        return err
    fresh.__traceback__ = None
    return fresh


class DynamicBatcher:
    """FIFO request queue plus one worker task that fires batches (see the module docstring)."""

    def __init__(self, run_batch: RunBatch, *, max_batch_size: int = 32, max_wait_ms: float = 2.0,
                 max_queue_size: int = 1024, clock=None, log_size: int = 10_000, name: str = "batcher"):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if max_queue_size < 1:
            raise ValueError(f"max_queue_size must be >= 1, got {max_queue_size}")
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_queue_size = max_queue_size
        self.clock = clock or MonotonicClock()
        self.name = name
        self.queue: deque[Pending] = deque()
        self.log: deque[BatchRecord] = deque(maxlen=log_size)
        self.on_batch: list[Callable[[BatchRecord], None]] = []
        self._current: list[Pending] = []  # the batch being computed
        self._arrived = asyncio.Event()
        self._stopping = False
        self._worker: asyncio.Task | None = None
        self._crashed: Exception | None = None

    # -- caller side -------------------------------------------------------------------
    def start(self) -> "DynamicBatcher":
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"{self.name}-worker")
        return self

    def submit(self, payload: Any, *, deadline: float | None = None) -> asyncio.Future:
        """Queue one item; the returned future resolves to its output or raises its error."""
        if self._crashed is not None:
            err = self._crashed
            raise RuntimeError(f"{self.name} worker crashed: {type(err).__name__}: {err}") from err
        if self._stopping:
            raise Draining(f"{self.name} is draining and accepts no new requests")
        if len(self.queue) >= self.max_queue_size:
            raise QueueFull(f"{self.name} queue is full ({self.max_queue_size} requests waiting)",
                            retry_after_s=1)
        future = asyncio.get_running_loop().create_future()
        self.queue.append(Pending(payload, self.clock.now(), deadline, future))
        self._arrived.set()
        return future

    @property
    def depth(self) -> int:
        return len(self.queue)

    @property
    def in_flight(self) -> int:
        return len(self._current)

    async def stop(self) -> None:
        """Stop accepting, fire everything queued at once (reason "drain"), wait for the worker to finish."""
        self._stopping = True
        self._arrived.set()
        if self._worker is not None:
            await asyncio.shield(self._worker)
        else:  # never started: answer what is queued so nothing is lost
            self._fail_all(Draining(f"{self.name} stopped before it started"))

    async def abort(self, err: Exception) -> None:
        """Stop now: queued and in-flight requests are answered with `err`, not computed."""
        self._stopping = True
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        for item in self._current:
            if not item.future.done():
                item.future.set_exception(own_copy(err))
                item.future.exception()  # answered; asyncio need not warn if the caller has gone
        self._fail_all(err)

    # -- worker side -------------------------------------------------------------------
    async def _work(self) -> None:
        try:
            await self._loop()
        except Exception as err:  # a bug in the worker must answer every caller, not hang them
            self._crashed = err
            self._fail_all(err)

    async def _loop(self) -> None:
        while True:
            now = self.clock.now()
            oldest = self.queue[0].enqueued_at if self.queue else None
            decision = firing_decision(len(self.queue), oldest, now, self.max_batch_size,
                                       self.max_wait_s, self._stopping)
            if decision.reason is not None:
                await self._fire(decision.reason, now)
                continue
            if self._stopping and not self.queue:
                return
            await self._sleep(decision.wake_at)

    async def _sleep(self, wake_at: float | None) -> None:
        """Sleep until an arrival or `wake_at`, whichever comes first (event-driven, no polling)."""
        self._arrived.clear()
        arrival = asyncio.ensure_future(self._arrived.wait())
        waiters = {arrival}
        if wake_at is not None:
            waiters.add(asyncio.ensure_future(self.clock.sleep_until(wake_at)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _fire(self, reason: str, now: float) -> None:
        batch, expired = take_batch(self.queue, now, self.max_batch_size)
        for item in expired:
            item.future.set_exception(DeadlineExceeded(
                f"deadline passed after {1000 * (now - item.enqueued_at):.1f} ms in the queue of {self.name}"))
        if not batch:
            if expired:
                self._record(BatchRecord(now, 0, reason, now - expired[0].enqueued_at, 0.0, len(expired)))
            return
        self._current = batch
        try:
            await self._compute(batch)
        finally:
            self._current = []
        done = self.clock.now()
        self._record(BatchRecord(now, len(batch), reason, now - batch[0].enqueued_at, done - now, len(expired)))

    async def _compute(self, batch: list[Pending]) -> None:
        try:
            outputs = await self.run_batch([item.payload for item in batch])
            if len(outputs) != len(batch):
                raise RuntimeError(f"model returned {len(outputs)} outputs for a batch of {len(batch)}")
        except Exception as err:
            if len(batch) == 1:
                outputs = [err]
            else:  # isolate the bad item: every item alone, so only it fails
                outputs = [await self._compute_one(item) for item in batch]
        for item, out in zip(batch, outputs):
            if item.future.done():
                continue
            if isinstance(out, BaseException):
                item.future.set_exception(out)
            else:
                item.future.set_result(out)

    async def _compute_one(self, item: Pending) -> Any:
        try:
            return (await self.run_batch([item.payload]))[0]
        except Exception as err:
            return err

    def _record(self, record: BatchRecord) -> None:
        self.log.append(record)
        for callback in self.on_batch:
            callback(record)

    def _fail_all(self, err: Exception) -> None:
        while self.queue:
            item = self.queue.popleft()
            if not item.future.done():
                item.future.set_exception(own_copy(err))
                item.future.exception()  # answered; asyncio need not warn if the caller has gone
