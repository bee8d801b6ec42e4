# Starter code generated from solutions/distributed/data_parallel.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=3` restores this file.
"""The synchronous data-parallel step: every rank averages its gradients with all others.

Each rank runs forward and backward on its own shard of the global batch. Before
the optimizer step the gradients are averaged across ranks, so every replica
applies the same update to the same parameters and stays bit-identical, and the
update equals single-process SGD on the concatenation of all ranks' batches
(the mean of equal-size per-rank means is the global mean).
"""
from __future__ import annotations

import torch

from .ring import ring_allreduce


def average_gradients(parameters, *, group=None, bucketed: bool = True) -> int:
    """Replace every `p.grad` by its mean over the ranks of `group`; return the number of all-reduces.

    `bucketed=True` flattens all gradients into one contiguous bucket and runs a single
    ring_allreduce (what DDP's gradient buckets do: one large message instead of one
    per parameter, so per-message latency is paid once). `bucketed=False` all-reduces
    each gradient separately. Parameters whose grad is None are skipped on every rank
    alike (the set is decided by the model, not by the data).
    """
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return 0
    # Exercise 3.3: average the gradients across ranks.
    # Hint: torch.cat the flattened grads, ring_allreduce(bucket, op="mean", group=group), copy slices back.
    raise NotImplementedError('Exercise 3.3: average the gradients across ranks - see notebooks/03_distributed_training.ipynb, section 3')
