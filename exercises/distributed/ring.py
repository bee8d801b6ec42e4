# Starter code generated from solutions/distributed/ring.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""Ring all-reduce over point-to-point messages: reduce-scatter, then all-gather.

Each of N ranks cuts the flattened tensor into N chunks. In N - 1 reduce-scatter
steps every rank sends one chunk to its right neighbour and adds the chunk it gets
from its left one; afterwards rank r holds the complete sum of chunk (r + 1) % N.
In N - 1 all-gather steps those finished chunks travel once more around the ring
and overwrite the stale copies. Every rank therefore sends 2 (N - 1) / N of the
tensor whatever N is (bandwidth-optimal), and because each finished chunk is
computed on one rank and copied everywhere, every rank ends with identical bits.
Both phases are public (`ring_reduce_scatter`, `ring_all_gather`): ZeRO (zero.py) runs
them with an optimizer step on each rank's finished chunk in between.

Sends and receives are posted together with isend/irecv: with blocking sends all N
ranks would send first and, for messages larger than the transport's buffers, wait
forever for a receiver. Each chunk goes out in segments so the adds of one segment
overlap the transfer of the next (pipelining), as NCCL and gloo do.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

SEGMENT_BYTES = 4 << 20  # 4 MiB pieces: large enough to amortize a message, small enough to pipeline


@dataclass(frozen=True)
class RingStep:
    """One step of one rank: in `phase` it sent chunk `sent` and received chunk `received`."""
    phase: str  # "reduce-scatter" | "all-gather"
    step: int
    sent: int
    received: int
    bytes_sent: int


def scratch(numel: int, dtype: torch.dtype) -> torch.Tensor:
    """A reusable receive buffer: fresh large allocations cost a page fault per 4 KiB on first touch,
    which at 64 MB is slower than the transfer itself (gloo keeps its buffers for the same reason)."""
    buf = _SCRATCH.get(dtype)
    if buf is None or buf.numel() < numel:
        buf = _SCRATCH[dtype] = torch.empty(numel, dtype=dtype)
    return buf[:numel]


_SCRATCH: dict = {}


def _check_flat(flat, name: str) -> None:
    if not isinstance(flat, torch.Tensor):
        raise TypeError(f"{name} needs a torch.Tensor, got {type(flat).__name__}")
    if flat.dim() != 1 or not flat.is_contiguous():
        raise ValueError(f"{name} needs a contiguous 1-D tensor, got shape {tuple(flat.shape)}"
                         f"{'' if flat.is_contiguous() else ' (not contiguous)'}")


def chunk_bounds(numel: int, world_size: int) -> list[tuple[int, int]]:
    """[start, stop) of each of `world_size` chunks: sizes differ by at most one, empty chunks allowed."""
    base, extra = divmod(numel, world_size)
    bounds, start = [], 0
    for i in range(world_size):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def _exchange(send: torch.Tensor, recv_into: torch.Tensor, right: int, left: int, group, combine) -> None:
    """Send `send` to `right` while receiving a tensor of recv_into's size from `left`.

    Both go out in SEGMENT_BYTES pieces; `combine(dst, src)` applies each received piece
    to its slice of `recv_into` as soon as that piece arrives (`_copy` receives straight into
    `recv_into`, saving a memory copy). Empty tensors send nothing
    (both neighbours know the chunk sizes, so they agree on that).
    """
    step = max(1, SEGMENT_BYTES // max(1, send.element_size()))
    in_place = combine is _copy  # a plain copy can land directly in its destination
    incoming = recv_into if in_place else scratch(recv_into.numel(), recv_into.dtype)
    # sends first (isend never blocks), so our data is on its way before we start waiting
    sends = [dist.isend(send[i:i + step], dst=right, group=group)
             for i in range(0, send.numel(), step)]
    recvs = [(dist.irecv(incoming[i:i + step], src=left, group=group), i)
             for i in range(0, recv_into.numel(), step)]
    for work, i in recvs:
        work.wait()
        if not in_place:
            combine(recv_into[i:i + step], incoming[i:i + step])
    for work in sends:
        work.wait()


def _add(dst, src):
    dst.add_(src)


def _copy(dst, src):
    dst.copy_(src)


def _ring(flat: torch.Tensor, group, log: list | None):
    """(rank, world size, step) for one pass over the ring; `step(phase, s, send_i, recv_i, combine)`
    exchanges chunk send_i with the neighbours (see `_exchange`) and logs a RingStep."""
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    right = dist.get_global_rank(group, (rank + 1) % world) if group is not None else (rank + 1) % world
    left = dist.get_global_rank(group, (rank - 1) % world) if group is not None else (rank - 1) % world
    chunks = [flat[a:b] for a, b in chunk_bounds(flat.numel(), world)]
    nbytes = flat.element_size()

    def step(phase, s, send_i, recv_i, combine):
        _exchange(chunks[send_i], chunks[recv_i], right, left, group, combine)
        if log is not None:
            log.append(RingStep(phase, s, send_i, recv_i, chunks[send_i].numel() * nbytes))

    return rank, world, step


def ring_reduce_scatter(flat: torch.Tensor, *, group=None, log: list | None = None) -> int:
    """The ring's first phase, in place on the 1-D contiguous `flat`: N - 1 steps, each sending one
    chunk (`chunk_bounds`) right and adding the chunk received from the left into the local copy.

    Afterwards this rank holds the complete sum over all ranks of chunk (rank + 1) % N, whose index it
    returns; the other chunks hold partial sums. If `log` is a list, one RingStep per step is appended.
    Rank r sends only to (r + 1) % N and receives only from (r - 1) % N, sends and receives posted
    together (isend/irecv), in SEGMENT_BYTES pieces; empty chunks send nothing. A non-tensor is a
    TypeError, a tensor that is not 1-D and contiguous a ValueError (`_check_flat` checks both).
    """
    _check_flat(flat, "ring_reduce_scatter")
    rank, world, step = _ring(flat.detach(), group, log)
    # Exercise 3.2: reduce-scatter: N - 1 steps that add.
    # Hint: step("reduce-scatter", s, send_index, recv_index, _add) for s in 0..N-2;
    # Hint: afterwards rank r owns the finished chunk (r + 1) % N.
    raise NotImplementedError('Exercise 3.2: reduce-scatter: N - 1 steps that add - see notebooks/03_distributed_training.ipynb, section 2')
    return (rank + 1) % world


def ring_all_gather(flat: torch.Tensor, *, group=None, log: list | None = None) -> torch.Tensor:
    """The ring's second phase, in place on the 1-D contiguous `flat`: rank r's chunk (r + 1) % N (what
    `ring_reduce_scatter` finished there) travels once around the ring in N - 1 steps and overwrites the
    other ranks' copies, so every rank ends with the same bits in every chunk. Returns `flat`.
    Neighbours, messages, `log` and errors as in `ring_reduce_scatter`.
    """
    _check_flat(flat, "ring_all_gather")
    rank, world, step = _ring(flat.detach(), group, log)
    # Exercise 3.2: all-gather: N - 1 steps that copy.
    # Hint: step("all-gather", s, send_index, recv_index, _copy) for s in 0..N-2; rank r starts by
    # Hint: sending the chunk it owns, (r + 1) % N.
    raise NotImplementedError('Exercise 3.2: all-gather: N - 1 steps that copy - see notebooks/03_distributed_training.ipynb, section 2')
    return flat


def ring_allreduce(tensor: torch.Tensor, *, op: str = "sum", group=None, log: list | None = None) -> torch.Tensor:
    """All-reduce `tensor` in place over the ring of ranks in `group`; return it.

    `op` is "sum" or "mean" (mean divides the finished sum by the world size, floating
    dtypes only). Any shape and size works, including fewer elements than ranks (some
    chunks are then empty and skipped). Rank r sends only to (r + 1) % N and receives only
    from (r - 1) % N, one chunk per step: N - 1 reduce-scatter steps (`ring_reduce_scatter`: add
    the received chunk into the local one) after which rank r holds the complete sum of chunk
    (r + 1) % N, then N - 1 all-gather steps (`ring_all_gather`: overwrite the local chunk with the
    received one). Contiguous tensors are reduced in place. If `log` is a list, one RingStep per step
    is appended.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"ring_allreduce needs a torch.Tensor, got {type(tensor).__name__}")
    if op not in ("sum", "mean"):
        raise ValueError(f"op must be 'sum' or 'mean', got {op!r}")
    if op == "mean" and not tensor.is_floating_point():
        raise TypeError(f"op='mean' needs a floating dtype, got {tensor.dtype}")
    world = dist.get_world_size(group)
    # work in place when we can: a 64 MB clone costs as much as the whole transfer
    flat = tensor.detach().view(-1) if tensor.is_contiguous() else tensor.detach().reshape(-1).clone()
    ring_reduce_scatter(flat, group=group, log=log)
    ring_all_gather(flat, group=group, log=log)
    if op == "mean":
        flat /= world
    if flat.data_ptr() != tensor.data_ptr():
        with torch.no_grad():
            tensor.copy_(flat.view_as(tensor))
    return tensor
