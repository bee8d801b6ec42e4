"""Dynamic batching: many requests in, few batched model calls out.

One `DynamicBatcher` (batch_worker.py) serves one loaded model version. A caller
`submit`s one item, or `submit_many`s the rows of one request, and awaits the returned
future; one worker task forms batches with the two functions below and hands each batch
to a free model instance. This module is the rule; batch_worker.py is the machinery.

Exact semantics (Triton's rule; each clause is kept true by a test in
tests/ex2_serving/test_firing.py, test_dequeue.py, test_admission.py and
test_deadlines.py, driven by a VirtualClock):

  * Admission is all or nothing per request. The queue is FIFO and bounded:
    `submit_many(rows)` on a queue holding q items raises `QueueFull` at once
    (HTTP 503 + Retry-After) if q + len(rows) > `max_queue_size`, and then queues
    none of the rows; `submit(item)` is a request of one row. After `stop()` both
    raise `Draining` (503). Nothing else is ever refused.
  * The version has `instances` model instances (default 1), each computing one
    batch at a time: one batch fires per free instance, and the firing rule
    applies while an instance is free. While every instance computes, arrivals
    queue up, and the rule is applied again the moment one compute ends (so a
    backlog fires "full" at once). At most `instances` batches compute at once.
  * A batch fires as soon as (a) `max_batch_size` items are queued - reason
    "full", at the instant the filling item arrives - or (b) the oldest queued
    item has waited `max_wait_ms` (now >= oldest.enqueued_at + max_wait) -
    reason "deadline", with whatever is queued. While stopping, anything queued
    fires at once - reason "drain". "full" wins when several hold.
  * The worker is event-driven: it sleeps until the next arrival, the oldest
    item's max_wait, or (every instance busy) the end of a compute. It never polls.
  * A batch takes up to `max_batch_size` items from the front of the queue. An
    item whose request is answered already (timed out, failed, or the caller
    gave up) is dropped; one whose deadline has passed when it leaves the queue
    is answered `DeadlineExceeded`. Neither is computed or counts toward the size.
  * A deadline bounds a request's whole latency: at its deadline a request not
    yet answered is answered `DeadlineExceeded` (HTTP 504) by a timer, wherever
    it is. A queued request is then never computed (its rows are dropped when
    they reach the front); if its batch is computing, the batch completes for
    the other requests in it and this request's outputs are discarded. So a
    model call that never returns holds its instance, never its callers.
  * A request is answered once: `submit`'s future with its item's output,
    `submit_many`'s with the list of its rows' outputs in order, or either with
    the request's first error (a row's model error, or DeadlineExceeded); rows of
    an answered request that are still queued are dropped, never computed.
  * Failure isolation: if the model raises on a batch, each item is re-run
    alone, so a bad item fails only its own request. A model may also return an
    Exception instance in place of one item's output.
  * `stop()`: nothing new is accepted, everything queued fires at once, and it
    returns when every accepted request is answered and no batch computes - but
    a batch whose requests are all answered already (they timed out) is not
    waited for: that model call is abandoned and its result discarded.
  * Every fired batch is logged (`log`, bounded) as a `BatchRecord`: fire time,
    size, reason, the oldest item's wait, compute time, and `expired`: the
    queued rows answered DeadlineExceeded (never computed) since the last record.
"""
from __future__ import annotations

import asyncio
import copy
from collections import deque
from dataclasses import dataclass, field
from typing import Any



@dataclass
class Pending:
    """One queued item: its input, when it arrived, its deadline (absolute clock time or None) and the
    future of its request (every row of a multi-row request shares one)."""

    payload: Any
    enqueued_at: float
    deadline: float | None
    future: asyncio.Future
    request: Any = field(default=None, repr=False)  # the worker's Request (batch_worker.py), None in tests
    index: int = 0  # its row in the request
    taken: bool = field(default=False, repr=False)  # left the queue in a batch


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


# BEGIN INTERVIEW [2.1, 2.2] the dynamic batcher: firing rule, dequeue with deadlines, worker loop (section 1)
def firing_decision(queued: int, oldest_enqueued_at: float | None, now: float,
                    max_batch_size: int, max_wait_s: float, draining: bool) -> Decision:
    """Apply the firing rule to the queue's state at time `now`.

    - empty queue -> Decision(None, None): sleep until an arrival;
    - queued >= max_batch_size -> Decision("full");
    - draining (and not full) -> Decision("drain");
    - now >= oldest_enqueued_at + max_wait_s -> Decision("deadline");
    - otherwise -> Decision(None, wake_at=oldest_enqueued_at + max_wait_s).
    """
    # BEGIN SOLUTION [2.1] decide when a batch fires (section 1)
    # HINT: four cases in the order of the docstring; only the last one sleeps with a wake-up time.
    if queued == 0:
        return Decision(None, None)
    if queued >= max_batch_size:
        return Decision("full")
    if draining:
        return Decision("drain")
    due = oldest_enqueued_at + max_wait_s
    if now >= due:
        return Decision("deadline")
    return Decision(None, wake_at=due)
    # END SOLUTION


def take_batch(queue: deque, now: float, max_batch_size: int) -> tuple[list[Pending], list[Pending]]:
    """Pop the next batch from the front of `queue` (a deque of Pending), in FIFO order.

    Returns (batch, expired). Pop until the batch holds `max_batch_size` items or the queue
    is empty. An item whose `future` is already done (its request was answered: it timed out,
    failed, or the caller gave up) is dropped; an item with `deadline is not None and
    now >= deadline` goes to `expired` (the caller answers it with DeadlineExceeded); neither
    counts toward the batch size. Items left in the queue keep their order.
    """
    # BEGIN SOLUTION [2.2] dequeue a batch, dropping expired requests (section 1)
    # HINT: `queue.popleft()` in a while loop bounded by len(batch) < max_batch_size.
    batch: list[Pending] = []
    expired: list[Pending] = []
    while queue and len(batch) < max_batch_size:
        item = queue.popleft()
        if item.future.done():
            continue
        if item.deadline is not None and now >= item.deadline:
            expired.append(item)
        else:
            batch.append(item)
    return batch, expired
    # END SOLUTION
# END INTERVIEW


def own_copy(err: Exception) -> Exception:
    """A fresh instance per caller: one exception object raised from many futures piles up tracebacks."""
    try:
        fresh = copy.copy(err)
    except Exception:  # noqa: BLE001 - an exception type that cannot be copied is still reported
        return err
    fresh.__traceback__ = None
    return fresh
