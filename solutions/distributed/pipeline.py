"""Pipeline parallelism: P stages in P processes, M micro-batches, GPipe or 1F1B.

A model (an nn.Sequential) is cut into P contiguous stages; rank s holds stage s.
The global batch is cut into M micro-batches. A schedule says, per stage, the order
of its steps: ("F", m) runs micro-batch m forward (receiving the activation from
stage s - 1, sending its output to s + 1), ("B", m) runs it backward (receiving the
output gradient from s + 1, sending the input gradient to s - 1). The last stage
computes the loss: the mean over the whole batch, so each micro-batch's loss is
scaled by 1/M and the accumulated gradients equal the unsplit model's.

- GPipe: all M forwards, then all M backwards. Simple; every stage holds M
  micro-batches of activations at its peak.
- 1F1B (PipeDream-flush): stage s runs min(P - s - 1, M) warm-up forwards, then
  alternates one forward and one backward, then drains the remaining backwards.
  Same bubble, but at most P - s activations in flight on stage s.
With a forward costing t_f and a backward t_b on every stage, both take
(M + P - 1)(t_f + t_b) and each stage idles a fraction (P - 1) / (M + P - 1): the bubble.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

SCHEDULES = ("gpipe", "1f1b")


def gpipe_schedule(stages: int, micro_batches: int) -> list[list[tuple[str, int]]]:
    """Per stage: F0 .. F(M-1), then B0 .. B(M-1)."""
    _check(stages, micro_batches)
    # BEGIN SOLUTION [3.7] the GPipe schedule (section 6)
    return [[("F", m) for m in range(micro_batches)] + [("B", m) for m in range(micro_batches)]
            for _ in range(stages)]
    # END SOLUTION


def one_f_one_b_schedule(stages: int, micro_batches: int) -> list[list[tuple[str, int]]]:
    """Per stage s: warm-up forwards F0 .. F(w-1) with w = min(P - s - 1, M); then while
    forwards remain, one forward then the oldest pending backward; then the remaining backwards."""
    _check(stages, micro_batches)
    # BEGIN SOLUTION [3.7] the 1F1B schedule (section 6)
    out = []
    for s in range(stages):
        warmup = min(stages - s - 1, micro_batches)
        ops = [("F", m) for m in range(warmup)]
        next_f, next_b = warmup, 0
        while next_f < micro_batches:
            ops += [("F", next_f), ("B", next_b)]
            next_f, next_b = next_f + 1, next_b + 1
        ops += [("B", m) for m in range(next_b, micro_batches)]
        out.append(ops)
    return out
    # END SOLUTION


def schedule(kind: str, stages: int, micro_batches: int) -> list[list[tuple[str, int]]]:
    if kind not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {kind!r}")
    return (gpipe_schedule if kind == "gpipe" else one_f_one_b_schedule)(stages, micro_batches)


def _check(stages, micro_batches):
    if stages < 1 or micro_batches < 1:
        raise ValueError(f"need at least one stage and one micro-batch, got {stages}, {micro_batches}")


@dataclass(frozen=True)
class Slot:
    stage: int
    op: str
    micro_batch: int
    start: float
    end: float


def simulate(per_stage, t_forward: float = 1.0, t_backward: float = 2.0) -> tuple[list[Slot], float]:
    """Time every step on an idealized clock: each stage runs its list in order, a step starts when its
    stage is free and its inputs exist (F(s,m) after F(s-1,m); B(s,m) after B(s+1,m) and F(s,m)).
    Returns the slots and the bubble (idle fraction of stage-time). Raises ValueError on a deadlock."""
    P = len(per_stage)
    done: dict[tuple[str, int, int], float] = {}
    pos, free, slots = [0] * P, [0.0] * P, []
    while any(pos[s] < len(per_stage[s]) for s in range(P)):
        progressed = False
        for s in range(P):
            if pos[s] == len(per_stage[s]):
                continue
            op, m = per_stage[s][pos[s]]
            deps = [("F", s - 1, m)] if op == "F" and s > 0 else []
            if op == "B":
                deps = [("F", s, m)] + ([("B", s + 1, m)] if s < P - 1 else [("F", P - 1, m)])
            if all(d in done for d in deps):
                start = max([free[s]] + [done[d] for d in deps])
                end = start + (t_forward if op == "F" else t_backward)
                done[(op, s, m)], free[s], pos[s] = end, end, pos[s] + 1
                slots.append(Slot(s, op, m, start, end))
                progressed = True
        if not progressed:
            raise ValueError("the schedule deadlocks: every stage waits for a step that never runs")
    makespan = max(s.end for s in slots)
    busy = sum(s.end - s.start for s in slots)
    return slots, 1 - busy / (P * makespan)


def split_stages(model: nn.Sequential, stages: int) -> list[nn.Sequential]:
    """Cut a Sequential into `stages` contiguous parts with as equal module counts as possible."""
    layers = list(model)
    if stages > len(layers):
        raise ValueError(f"cannot cut {len(layers)} modules into {stages} stages")
    base, extra = divmod(len(layers), stages)
    parts, start = [], 0
    for s in range(stages):
        stop = start + base + (s < extra)
        parts.append(nn.Sequential(*layers[start:stop]))
        start = stop
    return parts


def deep_mlp(d_in: int = 8, hidden: int = 16, layers: int = 4, d_out: int = 1) -> nn.Sequential:
    """(Linear, Tanh) x layers then a Linear head, float64: easy to cut into stages."""
    mods, d = [], d_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden, dtype=torch.float64), nn.Tanh()]
        d = hidden
    return nn.Sequential(*mods, nn.Linear(d, d_out, dtype=torch.float64))


@dataclass
class PipelineResult:
    stage: int
    grads: list            # numpy gradient of each parameter of this stage, in order
    log: list              # executed steps in order: (op, micro_batch, perf_counter at its end)
    peak_activations: int  # most micro-batches whose activations this stage held at once
    loss: float | None     # the batch loss (last stage only)


def pipeline_parallel(model: nn.Sequential, X: torch.Tensor, y: torch.Tensor, *, micro_batches: int,
                      kind: str = "1f1b", group=None) -> PipelineResult:
    """Run one training step's forward and backward of `model` pipelined over the ranks of `group`.

    Every rank passes the same full model, batch and arguments; rank s keeps stage s. Returns this
    stage's parameter gradients (mean-squared-error loss over the whole batch), the executed log and
    the peak number of micro-batches held. The batch must split into `micro_batches` equal parts.
    """
    P, s = dist.get_world_size(group), dist.get_rank(group)
    if len(X) % micro_batches:
        raise ValueError(f"batch of {len(X)} does not split into {micro_batches} equal micro-batches")
    stage = split_stages(model, P)[s]
    xs, ys = X.chunk(micro_batches), y.chunk(micro_batches)
    with torch.no_grad():  # boundary shapes: every rank can compute them, so no shape messages
        shapes, h = [], xs[0]
        for part in split_stages(model, P):
            shapes.append(h.shape)
            h = part(h)
    prev = dist.get_global_rank(group, s - 1) if group is not None and s > 0 else s - 1
    nxt = dist.get_global_rank(group, s + 1) if group is not None and s < P - 1 else s + 1
    held, log, peak, sends, loss_total = {}, [], 0, [], 0.0
    stage.zero_grad()
    for op, m in schedule(kind, P, micro_batches)[s]:
        if op == "F":
            if s == 0:
                inp = xs[m]
            else:
                inp = torch.empty(shapes[s], dtype=X.dtype)
                dist.recv(inp, src=prev, group=group)
                inp.requires_grad_(True)
            out = stage(inp)
            if s == P - 1:
                out = nn.functional.mse_loss(out, ys[m]) / micro_batches
                loss_total += float(out.detach())
            else:
                sends.append(dist.isend(out.detach(), dst=nxt, group=group))
            held[m] = (inp, out)
            peak = max(peak, len(held))
        else:
            inp, out = held.pop(m)
            if s == P - 1:
                out.backward()
            else:
                grad = torch.empty_like(out)
                dist.recv(grad, src=nxt, group=group)
                out.backward(grad)
            if s > 0:
                sends.append(dist.isend(inp.grad, dst=prev, group=group))
        log.append((op, m, time.perf_counter()))
    for work in sends:
        work.wait()
    return PipelineResult(s, [p.grad.numpy().copy() for p in stage.parameters()], log, peak,
                          loss_total if s == P - 1 else None)
