# Starter code generated from solutions/serving/llm_service.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""LLMService: the asyncio driver of one ContinuousBatcher, for an HTTP server's event loop.

Exact semantics (one service on one event loop):

  * Ownership: only the worker thread touches the batcher (synchronous, not thread-safe). The loop task
    runs `_drive` in a worker thread (asyncio.to_thread, so the event loop stays free) whenever there is
    something to do. Before each step `_drive` applies the inbox (the adds and aborts the event loop
    queued, under `_inbox_lock`) in order, resolving each add's future, then runs one `batcher.step()` and
    posts its events to the event loop (call_soon_threadsafe: they arrive after the adds' outcomes). Steps
    run back to back, so writing tokens overlaps the next step (a to_thread per step put a thread hop and
    the loop's backlog between every two: request-level batching, ~3x the steps, ran ~15% slower). With
    an empty inbox and no work `_drive` returns; the loop task sleeps on an asyncio.Event: it never polls.
  * `submit` queues the add and awaits its outcome: it raises what `batcher.add` raises at the step
    boundary where it is applied (ValueError naming the field; QueueFull, HTTP 503 + Retry-After), at no
    cost to time to first token (only a step admits); cancelled before then, it is never added. After
    `close()`: Draining.
  * A Stream yields the sampled tokens (ints, an EOT or a stop string's bytes included) in order, then
    one Finished: finish_reason ("eos", "stop", "length": the engine's; "deadline"; "abort": the
    consumer closed the stream, or the service closed; "error": the model raised), the output ids (the
    engine's; else the tokens delivered so far: the partial output), prompt_tokens, completion_tokens.
  * `Stream.ready()` takes the items already queued without waiting, up to and including the Finished
    (the HTTP layer writes every token a consumer fell behind on in one write).
  * Ending early: at the deadline (`deadline_s` after submit), or on `Stream.close()` before the end,
    the stream ends at once, on the event loop, and the abort is queued: the batcher drops the sequence
    and frees its cache before its next step (a token sampled for it in the step in flight is dropped).
    A step that raises ends every live request "error"; the service goes on.
  * Metrics, on the event loop, timed at each step's end: time to first token (from submit), time per
    output token ((last - first) / (n - 1) over n >= 2 tokens, whatever the ending), tokens generated,
    tokens/s over `rate_window_s`; gauges (running, waiting, KV blocks) as of the last step. `observers`
    get on_first_token(name, s), on_tokens(name, n), on_finished(name, tpot_s | None, reason).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import itertools
import logging
import threading
from collections import Counter, deque
from dataclasses import dataclass

from .clock import MonotonicClock
from .errors import Draining
from .stats import percentile

log = logging.getLogger("serving.llm")
WINDOW = 2048  # recent requests whose latencies the percentiles cover


@dataclass(frozen=True)
class Finished:
    """The last item of a Stream."""

    finish_reason: str
    output: tuple[int, ...]
    prompt_tokens: int
    completion_tokens: int


class Stream:
    """One request's tokens as they are sampled; `async for` yields ints, then a Finished. Its other
    attributes are the service's record of the request, kept on the event loop."""

    def __init__(self, service: "LLMService", request_id: int, prompt_tokens: int, submitted: float):
        self.service, self.request_id, self.prompt_tokens = service, request_id, prompt_tokens
        self.queue: asyncio.Queue = asyncio.Queue()
        self.tokens: list[int] = []  # delivered so far
        self.submitted, self.first, self.last, self.timer = submitted, None, None, None
        self.finished: Finished | None = None  # set when the Finished is queued
        self._ended = False  # the consumer has taken the Finished

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._ended:
            raise StopAsyncIteration
        item = await self.queue.get()
        self._ended = isinstance(item, Finished)
        return item

    def ready(self) -> list:
        """The items already queued, taken without waiting (a consumer behind the engine writes them at once)."""
        items = []
        while not self._ended and not self.queue.empty():
            items.append(self.queue.get_nowait())
            self._ended = isinstance(items[-1], Finished)
        return items

    def close(self) -> None:
        """The consumer is done: a request still live is aborted."""
        self.service._end(self.request_id, "abort")

    async def aclose(self) -> None:  # for contextlib.aclosing(stream)
        self.close()


class LLMService:
    def __init__(self, name: str, batcher, *, clock=None, rate_window_s: float = 10.0):
        self.name, self.batcher, self.context = name, batcher, batcher.context
        self.clock = clock if clock is not None else MonotonicClock()
        self.rate_window_s, self.observers = rate_window_s, []
        self._ids = itertools.count()
        self._live: dict[int, Stream] = {}
        self._inbox: list = []  # callables(batcher): the adds and aborts for the worker, in order
        self._inbox_lock = threading.Lock()
        self._loop, self._wake, self._task, self._closed = None, None, None, False  # _closed: read by the worker
        self.submitted, self.generated_tokens, self.steps, self.finished = 0, 0, 0, Counter()
        self._ttft, self._tpot = deque(maxlen=WINDOW), deque(maxlen=WINDOW)
        self._recent, self._first_step = deque(), None  # (step end, tokens) within rate_window_s; the first
        self.gauges = {"running": 0, "waiting": 0, "kv_blocks_in_use": 0}

    def start(self) -> None:  # on the running event loop; idempotent, and `submit` calls it too
        if self._task is None:
            self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
            self._task = self._loop.create_task(self._run(), name=f"llm-{self.name}")

    async def submit(self, prompt_ids, params, *, deadline_s: float | None = None) -> Stream:
        if self._closed:
            raise Draining(f"{self.name} is shut down; it takes no new requests")
        if deadline_s is not None and not (isinstance(deadline_s, (int, float)) and 0 < deadline_s < float("inf")):
            raise ValueError(f"deadline_s must be a positive number of seconds, got {deadline_s!r}")
        self.start()
        now, request_id = self.clock.now(), next(self._ids)
        stream = self._live[request_id] = Stream(self, request_id, len(prompt_ids), now)
        added = concurrent.futures.Future()  # the worker sets it: thread-safe, and cancellable until then
        self._post(functools.partial(self._add, request_id, list(prompt_ids), params, added))
        try:
            await asyncio.wrap_future(added)
        except asyncio.CancelledError:  # the caller went away while the add was queued
            self._end(request_id, "abort")
            raise
        except Exception:
            self._live.pop(request_id, None)
            raise
        if deadline_s is not None:  # from submit: a time already past fires at once
            stream.timer = self.clock.call_at(now + deadline_s, self._end, request_id, "deadline")
        self.submitted += 1
        return stream

    def _post(self, item) -> None:
        with self._inbox_lock:
            self._inbox.append(item)
        self._wake.set()

    def _end(self, request_id: int, reason: str) -> None:
        """End a live request early, on the event loop: its stream now, its sequence before the next step."""
        stream = self._live.pop(request_id, None)
        if stream is not None:
            self._finish(stream, reason, stream.tokens)
            self._post(lambda batcher: batcher.abort(request_id))

    # -- the worker thread -----------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()  # before the drive: a submit during it sets it again
            await asyncio.to_thread(self._drive)

    def _drive(self) -> None:
        """Steps back to back while there is work; with what it calls, the only code touching the batcher."""
        b = self.batcher
        while not self._closed:
            applied = self._apply_inbox()
            if not b.has_work():
                if applied:
                    continue  # what was applied may have queued more
                return
            try:
                events = b.step()
            except Exception:  # noqa: BLE001 - a model error ends its requests, not the service
                log.exception("%s: a step raised; its requests end with finish_reason 'error'", self.name)
                self._loop.call_soon_threadsafe(self._fail_all)  # which queues their aborts for the next drive
                return
            gauges = {"running": b.num_running, "waiting": b.num_waiting, "kv_blocks_in_use": b.kv_blocks_in_use}
            self._loop.call_soon_threadsafe(self._deliver, events, self.clock.now(), gauges)

    def _apply_inbox(self) -> bool:
        """In the worker: the queued adds and aborts, in order; whether there were any."""
        with self._inbox_lock:
            inbox, self._inbox = self._inbox, []
        for apply in inbox:
            apply(self.batcher)
        return bool(inbox)

    def _add(self, request_id: int, prompt: list, params, added: concurrent.futures.Future, batcher) -> None:
        """In the worker: one add (none if its submit was cancelled), and its outcome for `submit`."""
        if not added.set_running_or_notify_cancel():
            return
        try:
            batcher.add(request_id, prompt, params)
        except Exception as err:  # noqa: BLE001 - ValueError or QueueFull: submit raises it
            added.set_exception(err)
        else:
            added.set_result(None)

    # -- the event loop ----------------------------------------------------------------------------
    def _deliver(self, events, now: float, gauges: dict) -> None:
        for event in events:
            stream = self._live.get(event.request_id)
            if stream is None:  # ended on this side (deadline, abort) while its step ran
                continue
            if stream.first is None:
                stream.first = now
                self._ttft.append(now - stream.submitted)
                for observer in self.observers:
                    observer.on_first_token(self.name, now - stream.submitted)
            stream.last = now
            stream.tokens.append(event.token)
            stream.queue.put_nowait(event.token)
            if event.finished:
                del self._live[event.request_id]
                self._finish(stream, event.finish_reason, event.output)
        self.steps, self.generated_tokens, self.gauges = self.steps + 1, self.generated_tokens + len(events), gauges
        self._first_step = now if self._first_step is None else self._first_step
        self._recent.append((now, len(events)))
        while self._recent[0][0] < now - self.rate_window_s:
            self._recent.popleft()
        for observer in self.observers:
            observer.on_tokens(self.name, len(events))

    def _finish(self, stream: Stream, reason: str, output) -> None:
        if stream.timer is not None:
            stream.timer.cancel()
        n = len(stream.tokens)
        tpot = (stream.last - stream.first) / (n - 1) if n >= 2 else None
        if tpot is not None:
            self._tpot.append(tpot)
        self.finished[reason] += 1
        for observer in self.observers:
            observer.on_finished(self.name, tpot, reason)
        stream.finished = Finished(reason, tuple(output), stream.prompt_tokens, n)
        stream.queue.put_nowait(stream.finished)

    def _fail_all(self, reason: str = "error") -> None:
        for request_id in list(self._live):
            self._end(request_id, reason)

    async def close(self) -> None:
        """Stop after the step in flight; live streams end "abort"; later submits raise Draining."""
        self._closed = True
        if self._task is not None:
            self._wake.set()
            await self._task
            await asyncio.to_thread(self._apply_inbox)  # adds still queued get their outcome
        self._fail_all("abort")

    @property
    def state(self) -> str:
        """READY while it takes requests; UNAVAILABLE once closed (the server's model states)."""
        return "UNAVAILABLE" if self._closed else "READY"

    def metadata(self) -> dict:
        """Model metadata as the server reports it (/v2/models/{name}): text in, text out, and the engine."""
        b = self.batcher
        text = lambda name: {"name": name, "datatype": "BYTES", "shape": [1]}  # noqa: E731
        return {"name": self.name, "versions": ["1"], "version": "1", "platform": "pytorch", "state": self.state,
                "inputs": [text("text_input")], "outputs": [text("text_output")],
                "parameters": {"context": self.context, "max_num_seqs": b.max_num_seqs,
                               "max_tokens_per_step": b.max_tokens_per_step, "max_waiting": b.max_waiting,
                               "cache": "contiguous" if b.pool is None else "paged",
                               "batching": "static" if b.static else "continuous"}}

    def stats(self) -> dict:
        """Exact counts; percentiles over the last WINDOW requests; tokens/s over the last rate_window_s."""
        now = self.clock.now()
        recent = sum(n for t, n in self._recent if t >= now - self.rate_window_s)
        elapsed = 0.0 if self._first_step is None else min(self.rate_window_s, now - self._first_step)
        rate = recent / elapsed if elapsed > 0 else 0.0
        pct = lambda values: {f"p{q}": percentile(sorted(values), q) for q in (50, 95, 99)}  # noqa: E731
        return {"model": self.name, "submitted": self.submitted, "live": len(self._live),
                "finished": dict(self.finished), "steps": self.steps, "generated_tokens": self.generated_tokens,
                "tokens_per_s": rate, **self.gauges, "time_to_first_token_s": pct(self._ttft),
                "time_per_output_token_s": pct(self._tpot), "latency_window": WINDOW}
