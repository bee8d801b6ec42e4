# Starter code generated from solutions/distributed/overlap.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""DDP's overlap: all-reduce gradient buckets while backward is still computing earlier layers.

Backward produces gradients from the last layer to the first. `average_gradients` (3.3) waits
for all of them and then sends one message; DDP instead groups the parameters into buckets of
at most `bucket_cap_bytes`, in reverse registration order (roughly the order backward finishes
them), and starts a bucket's all-reduce the moment its last gradient is accumulated, from an
autograd hook. Communication of the late layers then runs while the early layers' gradients
are still being computed, and after backward the step only waits for what is still in flight.

Buckets are launched strictly in bucket order, as DDP's reducer does: every rank must issue
its collectives in the same order (gloo and NCCL pair them by sequence), and the order in which
hooks fire can differ between ranks, so a ready bucket waits for the buckets before it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .models import flat_params
from .pipeline import deep_mlp

DEFAULT_BUCKET_CAP_BYTES = 25 << 20  # DDP's bucket_cap_mb=25


def bucket_parameters(parameters, cap_bytes: int) -> list[list[int]]:
    """Group parameter indices into buckets: reverse registration order, greedily, each bucket at
    most `cap_bytes` (numel x element size) unless one parameter alone is larger (it gets its own).

    A bucket is closed when the next parameter would push it over the cap, so concatenating the
    buckets gives n-1, n-2, ..., 0 and no bucket could have taken the next bucket's first parameter.
    """
    parameters = list(parameters)
    if not isinstance(cap_bytes, int) or isinstance(cap_bytes, bool) or cap_bytes < 1:
        raise ValueError(f"cap_bytes must be a positive int, got {cap_bytes!r}")
    # Exercise 3.9: group the parameters into buckets, last parameter first.
    # Hint: walk `reversed(range(len(parameters)))`; start a new bucket when the current one is not
    # Hint: empty and adding p.numel() * p.element_size() would exceed cap_bytes.
    raise NotImplementedError('Exercise 3.9: group the parameters into buckets, last parameter first - see notebooks/03_distributed_training.ipynb, section 8')


@dataclass(frozen=True)
class BucketTiming:
    """One bucket of one step. Times are seconds since the step's backward started."""
    bucket: int
    params: tuple[int, ...]  # indices into the reducer's parameter list
    nbytes: int
    launched: float          # its asynchronous all-reduce was started
    finished: float          # its all-reduce completed (seen by the work's future, or by wait())


@dataclass(frozen=True)
class OverlapTimeline:
    """What one step did and when. `events` is the exact order of what happened on this rank:
    ("ready", param), ("launch", bucket), ("backward end", -1), ("waited", bucket)."""
    backward_end: float  # finish() was called: backward had returned
    step_end: float      # finish() returned: every bucket averaged into the gradients
    buckets: tuple[BucketTiming, ...]
    events: tuple[tuple[str, int], ...]

    def launched_during_backward(self) -> list[int]:
        """Buckets whose all-reduce started before backward returned (an ordering fact, not a timing)."""
        end = self.events.index(("backward end", -1))
        return [b for kind, b in self.events[:end] if kind == "launch"]


class OverlappedAllReduce:
    """Average the gradients of `parameters` over the ranks of `group`, overlapped with backward.

    Per step: `start()` just before `loss.backward()`, `finish()` after it (returns the step's
    OverlapTimeline), then the optimizer step. Every parameter's gradient is then its mean over
    the ranks, equal to a synchronous all-reduce after backward. Parameters that do not require a
    gradient are left out; the others must share one dtype.

    A parameter that gets no gradient in a backward (unused in this rank's forward) holds back its
    bucket and every later one until `finish()`, which then raises ValueError naming it, as DDP
    does without find_unused_parameters. With `allow_unused=True` it counts as a zero gradient:
    finish() launches the held-back buckets in order and the parameter's .grad becomes the mean
    of the other ranks' gradients (zeros if no rank used it), which is exactly the gradient of the
    full batch. One backward per start/finish: a gradient that becomes ready twice is a ValueError.
    """

    def __init__(self, parameters, *, bucket_cap_bytes: int = DEFAULT_BUCKET_CAP_BYTES, group=None,
                 allow_unused: bool = False, clock=time.perf_counter):
        self.params = [p for p in parameters if p.requires_grad]
        if not self.params:
            raise ValueError("parameters: none of them requires a gradient")
        dtypes = {p.dtype for p in self.params}
        if len(dtypes) > 1:
            raise ValueError(f"parameters: one dtype per reducer, got {sorted(map(str, dtypes))}")
        self.buckets = bucket_parameters(self.params, bucket_cap_bytes)
        self.bucket_of = {i: b for b, members in enumerate(self.buckets) for i in members}
        self.group, self.allow_unused, self.clock = group, allow_unused, clock
        self.world_size = dist.get_world_size(group)
        self._handles = [p.register_post_accumulate_grad_hook(self._hook(i)) for i, p in enumerate(self.params)]
        self._reset()

    def _hook(self, i):
        def on_accumulated(param):
            if i in self._ready:
                raise ValueError(f"parameter {i}'s gradient became ready twice before finish(): call start() "
                                 "before and finish() after every backward")
            if self._origin is None:  # start() was not called: the step starts at its first gradient
                self._origin = self.clock()
            self._ready.add(i)
            self._events.append(("ready", i))
            self._on_ready(i)
        return on_accumulated

    def _reset(self):
        self._ready: set[int] = set()
        self._pending = [len(members) for members in self.buckets]  # gradients each bucket still waits for
        self._next = 0                                               # the next bucket to launch, in order
        self._in_flight: list[tuple[int, torch.Tensor, object]] = []  # (bucket, flat buffer, work handle)
        self._events: list[tuple[str, int]] = []
        self._launched: dict[int, float] = {}
        self._finished: dict[int, float] = {}
        self._origin = None

    def start(self) -> None:
        """Begin a step: the timeline's zero is now (call it just before backward)."""
        self._reset()
        self._origin = self.clock()

    def _grad(self, i) -> torch.Tensor:
        """Parameter i's gradient, or zeros for one that got none (only reached with allow_unused)."""
        p = self.params[i]
        return p.grad if p.grad is not None else torch.zeros_like(p)

    def _on_ready(self, i: int) -> None:
        """Parameter i's gradient is accumulated: count it, and launch every bucket that is now
        complete, in bucket order (a complete bucket waits for an incomplete earlier one)."""
        # Exercise 3.9: track readiness and launch the complete buckets in order.
        # Hint: decrement self._pending[self.bucket_of[i]]; then, while self._next < len(self.buckets)
        # Hint: and self._pending[self._next] == 0: self._launch(self._next) and advance self._next.
        raise NotImplementedError('Exercise 3.9: track readiness and launch the complete buckets in order - see notebooks/03_distributed_training.ipynb, section 8')

    def _launch(self, b: int) -> None:
        """Start bucket b's all-reduce without waiting for it (and note when, for the timeline)."""
        self._events.append(("launch", b))
        self._launched[b] = self.clock()  # before the call: handing the work to gloo can itself take a while
        work = self._all_reduce_bucket(b)
        # the future completes on gloo's thread: the moment the data is there, not when we look. It may
        # run after wait() returned and the next step began, so it writes into this step's dict.
        finished = self._finished
        work.get_future().add_done_callback(lambda _: finished.setdefault(b, self.clock()))

    def _all_reduce_bucket(self, b: int):
        """Flatten bucket b's gradients into a new buffer, start its asynchronous all-reduce (sum), keep
        (b, buffer, work) in self._in_flight and return the work handle."""
        # Exercise 3.9: flatten bucket b and start its asynchronous all-reduce.
        # Hint: flat = torch.cat([self._grad(i).reshape(-1) for i in self.buckets[b]]);
        # Hint: work = dist.all_reduce(flat, group=self.group, async_op=True); keep (b, flat, work) in self._in_flight.
        raise NotImplementedError('Exercise 3.9: flatten bucket b and start its asynchronous all-reduce - see notebooks/03_distributed_training.ipynb, section 8')

    def _waited(self, b: int) -> None:
        self._events.append(("waited", b))
        self._finished.setdefault(b, self.clock())

    def finish(self) -> OverlapTimeline:
        """After backward: launch what is held back, wait for every bucket, store the averaged gradients."""
        if self._origin is None:
            self._origin = self.clock()
        self._events.append(("backward end", -1))
        backward_end = self.clock()
        unused = [i for i in range(len(self.params)) if i not in self._ready]
        if unused and not self.allow_unused:
            shapes = ", ".join(f"{i} {tuple(self.params[i].shape)}" for i in unused)
            self._reset()
            raise ValueError(f"parameters got no gradient in this backward (index, shape): {shapes}; every "
                             "parameter must be used in every rank's forward, or pass allow_unused=True to count "
                             "it as a zero gradient (DDP: find_unused_parameters=True)")
        # Exercise 3.9: launch the held-back buckets, wait for each, average into .grad.
        # Hint: self._launch(b) for b from self._next on (in order); then for (b, flat, work) in self._in_flight:
        # Hint: work.wait(); self._waited(b); divide by self.world_size and copy the slices into each p.grad
        # Hint: (a parameter whose .grad is None gets a new tensor).
        raise NotImplementedError('Exercise 3.9: launch the held-back buckets, wait for each, average into .grad - see notebooks/03_distributed_training.ipynb, section 8')
        return self._timeline(backward_end)

    def _timeline(self, backward_end: float) -> OverlapTimeline:
        origin, end = self._origin, self.clock()
        buckets = tuple(BucketTiming(b, tuple(m), sum(self.params[i].numel() * self.params[i].element_size()
                                                      for i in m),
                                     self._launched[b] - origin, self._finished[b] - origin)
                        for b, m in enumerate(self.buckets))
        timeline = OverlapTimeline(backward_end - origin, end - origin, buckets, tuple(self._events))
        self._reset()
        return timeline

    def remove(self) -> None:
        """Unregister the autograd hooks (the parameters then train without this reducer)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


def demo_data(world_size: int, width: int, batch: int, seed: int = 0):
    """(X, y) of the demo: `batch` rows per rank, float64; rank r's rows are [r * batch, (r + 1) * batch)."""
    g = torch.Generator().manual_seed(seed + 1)
    return (torch.randn(world_size * batch, width, dtype=torch.float64, generator=g),
            torch.randn(world_size * batch, 1, dtype=torch.float64, generator=g))


def overlap_demo(rank, world_size, width=256, layers=6, steps=3, bucket_cap_bytes=1 << 20, batch=16, seed=0):
    """A worker for the notebook and the benchmark: `steps` SGD steps (lr 0.01, momentum 0.9) of
    `deep_mlp(width, width, layers, 1)` seeded with `seed`, whose gradients OverlappedAllReduce averages;
    rank r trains on its rows of `demo_data`. Returns the parameters after each step and each step's timeline."""
    torch.manual_seed(seed)
    model = deep_mlp(width, width, layers, 1)
    X, y = demo_data(world_size, width, batch, seed)
    mine = slice(rank * batch, (rank + 1) * batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    reducer = OverlappedAllReduce(model.parameters(), bucket_cap_bytes=bucket_cap_bytes)
    history, timelines = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X[mine]), y[mine])
        dist.barrier()  # the ranks start backward together, so the timeline shows overlap, not skew
        reducer.start()
        loss.backward()
        timelines.append(reducer.finish())
        opt.step()
        history.append(flat_params(model))
    return dict(history=history, timelines=timelines)
