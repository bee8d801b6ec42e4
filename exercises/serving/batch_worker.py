# Starter code generated from solutions/serving/batch_worker.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""DynamicBatcher: the worker that keeps the semantics stated in batcher.py.

A FIFO queue of Pending rows, one worker task that applies `firing_decision` and `take_batch`
(batcher.py) whenever a model instance is free, one task per computing batch, and one timer for
the earliest deadline of the requests still unanswered (deadlines.py). Everything here runs on the event
loop; the model call itself runs wherever `run_batch` sends it (the server: the version's own threads).
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Awaitable, Callable

from .batcher import BatchRecord, Pending, firing_decision, own_copy, take_batch
from .clock import MonotonicClock
from .deadlines import Deadlines
from .errors import DeadlineExceeded, Draining, QueueFull

RunBatch = Callable[[list[Any]], Awaitable[list[Any]]]


class Request:
    """What the batcher keeps per request: its future, its rows and their outputs so far."""

    __slots__ = ("future", "items", "outputs", "missing", "single")

    def __init__(self, future: asyncio.Future, rows: int, single: bool):
        self.future, self.items, self.single = future, [], single
        self.outputs, self.missing = [None] * rows, rows


class DynamicBatcher:
    """FIFO request queue, one worker task firing batches, up to `instances` computing (batcher.py)."""

    def __init__(self, run_batch: RunBatch, *, max_batch_size: int = 32, max_wait_ms: float = 2.0,
                 max_queue_size: int = 1024, clock=None, log_size: int = 10_000, name: str = "batcher",
                 instances: int = 1):
        """`await run_batch(payloads)` computes one batch: a list of one output per payload (an
        exception in it is that item's error); when the call itself raises, each item is computed alone
        so that only the bad one fails. `max_batch_size`, `max_wait_ms`: the firing rule's bounds (batcher.py); `max_queue_size`: rows
        queued at most (more: QueueFull, 503); `instances`: batches computing at once; `clock`: now()
        and the timers (default: the monotonic clock). A bad setting is a ValueError naming it.
        Public state the server reads: `queue` (Pending rows, FIFO), `log` (the last `log_size`
        BatchRecords), `on_batch` (callbacks given each BatchRecord), `on_stopped` (called once the
        worker has ended), `abandoned` (batches stop() did not wait for)."""
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if max_queue_size < 1:
            raise ValueError(f"max_queue_size must be >= 1, got {max_queue_size}")
        if not isinstance(instances, int) or instances < 1:
            raise ValueError(f"instances must be an integer >= 1, got {instances!r}")
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_queue_size = max_queue_size
        self.instances = instances
        self.clock = clock or MonotonicClock()
        self.name = name
        self.queue: deque[Pending] = deque()
        self.log: deque[BatchRecord] = deque(maxlen=log_size)
        self.on_batch: list[Callable[[BatchRecord], None]] = []
        self.on_stopped: list[Callable[[], None]] = []  # called once the worker has ended (e.g. free threads)
        self.abandoned = 0  # batches stop() did not wait for: every request in them had timed out
        self._running: dict[asyncio.Task, list[Pending]] = {}  # compute task -> its batch
        self._arrived = asyncio.Event()  # the queue changed (an arrival, an expiry) or stop()
        self._freed = asyncio.Event()    # a compute ended (or, while stopping, a request was answered)
        self._expired_rows = 0           # queued rows answered DeadlineExceeded since the last record
        self._stopping = False
        # unanswered requests are at most the queue plus what the instances compute
        self._deadlines = Deadlines(self.clock, self._expire, lambda request: request.future.done(),
                                    lambda: len(self.queue) + self.max_batch_size * self.instances)
        self._worker: asyncio.Task | None = None
        self._crashed: Exception | None = None

    # -- caller side -------------------------------------------------------------------
    def start(self) -> "DynamicBatcher":
        """Start the worker task on the running event loop (once; later calls do nothing); returns self."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"{self.name}-worker")
        return self

    def submit(self, payload: Any, *, deadline: float | None = None) -> asyncio.Future:
        """Queue one item; the returned future resolves to its output or raises its error."""
        return self._admit([payload], deadline, single=True)

    def submit_many(self, payloads, *, deadline: float | None = None) -> asyncio.Future:
        """Queue the rows of one request, all of them or none (QueueFull); the returned future resolves
        to the list of their outputs in order, or raises the request's first error."""
        return self._admit(list(payloads), deadline, single=False)

    def _admit(self, payloads: list, deadline: float | None, single: bool) -> asyncio.Future:
        if self._crashed is not None:
            err = self._crashed
            raise RuntimeError(f"{self.name} worker crashed: {type(err).__name__}: {err}") from err
        if self._stopping:
            raise Draining(f"{self.name} is draining and accepts no new requests")
        rows = len(payloads)
        if rows == 0:
            raise ValueError("a request needs at least one item")
        if len(self.queue) + rows > self.max_queue_size:
            room = self.max_queue_size - len(self.queue)
            raise QueueFull(f"{self.name} queue is full ({self.max_queue_size} requests waiting)" if single else
                            f"{self.name} queue has room for {room} of this request's {rows} rows "
                            f"(max_queue_size={self.max_queue_size}); none was queued", retry_after_s=1)
        now = self.clock.now()
        future = asyncio.get_running_loop().create_future()
        request = Request(future, rows, single)
        request.items = [Pending(p, now, deadline, future, request, i) for i, p in enumerate(payloads)]
        if deadline is not None:
            self._deadlines.watch(deadline, request)
        self.queue.extend(request.items)
        self._arrived.set()
        return future

    @property
    def depth(self) -> int:
        """Rows waiting in the queue."""
        return len(self.queue)

    @property
    def in_flight(self) -> int:
        """Rows in the batches computing now."""
        return sum(len(batch) for batch in self._running.values())

    async def stop(self) -> None:
        """Stop accepting, fire everything queued at once (reason "drain"), return once every accepted
        request is answered and no batch computes (a batch of timed-out requests only is abandoned)."""
        self._stopping = True
        self._arrived.set()
        self._freed.set()
        if self._worker is not None:
            await asyncio.shield(self._worker)
        else:  # never started: answer what is queued so nothing is lost
            self._fail_all(Draining(f"{self.name} stopped before it started"))
            self._stopped()

    async def abort(self, err: Exception) -> None:
        """Stop now: queued and in-flight requests are answered with `err`, not computed."""
        self._stopping = True
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        running, self._running = self._running, {}
        for task, batch in running.items():
            task.cancel()
            for item in batch:
                self._answer_error(item.request, own_copy(err))
        self._fail_all(err)
        self._stopped()  # also when the worker was cancelled before it ever ran (its finally never ran)

    # -- answering -----------------------------------------------------------------------
    def _deliver(self, item: Pending, out: Any) -> None:
        """One row's output (or Exception) into its request; the request is answered when complete."""
        request = item.request
        if request.future.done():
            return
        if isinstance(out, BaseException):
            self._answer_error(request, out)
            return
        if request.single:
            self._answer(request, out)
            return
        request.outputs[item.index] = out
        request.missing -= 1
        if request.missing == 0:
            self._answer(request, request.outputs)

    def _answer(self, request: Request, result: Any) -> None:
        request.future.set_result(result)

    def _answer_error(self, request: Request, err: BaseException) -> None:
        if request.future.done():
            return
        request.future.set_exception(err)
        request.future.exception()  # answered; asyncio need not warn if the caller has gone

    def _expire(self, request: Request) -> None:
        """The request's deadline has come (its timer, or take_batch): answer DeadlineExceeded now."""
        if request.future.done():
            return
        queued = sum(not item.taken for item in request.items)
        self._expired_rows += queued
        waited = 1000 * (self.clock.now() - request.items[0].enqueued_at)
        where = "in the queue" if queued == len(request.items) else "while its batch computed"
        self._answer_error(request, DeadlineExceeded(f"deadline passed after {waited:.1f} ms {where} of {self.name}"))
        self._arrived.set()  # the queue's front may have changed
        if self._stopping:
            self._freed.set()  # stop() may now be done

    def _fail_all(self, err: Exception) -> None:
        while self.queue:
            item = self.queue.popleft()
            if item.request is not None:
                self._answer_error(item.request, own_copy(err))

    # -- worker side -------------------------------------------------------------------
    async def _work(self) -> None:
        try:
            await self._loop()
        except Exception as err:  # a bug in the worker must answer every caller, not hang them
            self._crash(err)
        finally:
            self._stopped()

    async def _loop(self) -> None:
        while self._crashed is None:
            while self.queue and self.queue[0].future.done():  # answered already: not waiting any more
                self.queue.popleft()
            now = self.clock.now()
            if len(self._running) < self.instances:
                oldest = self.queue[0].enqueued_at if self.queue else None
                decision = firing_decision(len(self.queue), oldest, now, self.max_batch_size,
                                           self.max_wait_s, self._stopping)
                if decision.reason is not None:
                    self._fire(decision.reason, now)
                    continue
                if not self._stopping:
                    await self._sleep(decision.wake_at)
                    continue
            elif not self._stopping:
                self._freed.clear()
                await self._freed.wait()  # every instance computes: only the end of one matters
                continue
            # stopping: the queue fires as instances free up; done once nothing is left to answer
            if not self.queue and all(i.future.done() for b in self._running.values() for i in b):
                self._abandon()
                return
            self._freed.clear()
            await self._freed.wait()

    async def _sleep(self, wake_at: float | None) -> None:
        """Sleep until an arrival or `wake_at`, whichever comes first (event-driven, no polling)."""
        self._arrived.clear()
        timer = self.clock.call_at(wake_at, self._arrived.set) if wake_at is not None else None
        try:
            await self._arrived.wait()
        finally:
            if timer is not None:
                timer.cancel()

    def _fire(self, reason: str, now: float) -> None:
        batch, expired = take_batch(self.queue, now, self.max_batch_size)
        for item in expired:
            self._expire(item.request)
        if not batch:
            if expired:
                self._record(BatchRecord(now, 0, reason, now - expired[0].enqueued_at, 0.0, self._take_expired()))
            return
        for item in batch:
            item.taken = True
        task = asyncio.get_running_loop().create_task(self._run(batch, reason, now, self._take_expired()),
                                                      name=f"{self.name}-batch")
        self._running[task] = batch

    def _take_expired(self) -> int:
        expired, self._expired_rows = self._expired_rows, 0
        return expired

    async def _run(self, batch: list[Pending], reason: str, fired_at: float, expired: int) -> None:
        try:
            await self._compute(batch)
            done = self.clock.now()
            self._record(BatchRecord(fired_at, len(batch), reason, fired_at - batch[0].enqueued_at,
                                     done - fired_at, expired))
        except Exception as err:  # a bug (or an observer raising) must answer every caller, not hang them
            self._crash(err)
        finally:
            self._running.pop(asyncio.current_task(), None)
            self._freed.set()

    async def _compute(self, batch: list[Pending]) -> None:
        try:
            outputs = await self.run_batch([item.payload for item in batch])
            if len(outputs) != len(batch):
                raise RuntimeError(f"model returned {len(outputs)} outputs for a batch of {len(batch)}")
        except Exception as err:
            if len(batch) == 1:
                outputs = [err]
            else:  # isolate the bad item: every item alone, so only it fails (skip requests answered meanwhile)
                for item in batch:
                    if not item.future.done():
                        self._deliver(item, await self._compute_one(item))
                return
        for item, out in zip(batch, outputs):
            self._deliver(item, out)

    async def _compute_one(self, item: Pending) -> Any:
        try:
            return (await self.run_batch([item.payload]))[0]
        except Exception as err:
            return err

    def _abandon(self) -> None:
        """Stop waiting for model calls whose requests are all answered (timed out); discard their results."""
        running, self._running = self._running, {}
        self.abandoned += len(running)
        for task in running:
            task.cancel()

    def _crash(self, err: Exception) -> None:
        self._crashed = err
        for batch in self._running.values():
            for item in batch:
                self._answer_error(item.request, own_copy(err))
        self._fail_all(err)
        self._arrived.set()
        self._freed.set()

    def _record(self, record: BatchRecord) -> None:
        self.log.append(record)
        for callback in self.on_batch:
            callback(record)

    def _stopped(self) -> None:
        self._deadlines.close()  # every request is answered by now: nothing left to time
        callbacks, self.on_stopped = self.on_stopped, []
        for callback in callbacks:
            callback()
