"""The small model every strategy trains: an MLP with dropout and one buffer.

Module-level factories (not lambdas) so a config that names one pickles into the
worker processes. float64 by default: the equality tests compare to 1e-12.
"""
from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """Linear -> tanh -> dropout -> Linear -> tanh -> Linear, plus a `batches_seen` buffer.

    The buffer counts training forward passes; it does not change the output, but it is
    model state a checkpoint must carry (`state_dict()` includes buffers, `parameters()` does not).
    """

    def __init__(self, d_in: int = 8, hidden: int = 16, d_out: int = 1, dropout: float = 0.1,
                 dtype: torch.dtype = torch.float64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, hidden, dtype=dtype), nn.Tanh(), nn.Dropout(dropout),
                                 nn.Linear(hidden, hidden, dtype=dtype), nn.Tanh(),
                                 nn.Linear(hidden, d_out, dtype=dtype))
        self.register_buffer("batches_seen", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        if self.training:
            self.batches_seen += 1
        return self.net(x)


def mlp(d_in: int = 8, hidden: int = 16, d_out: int = 1, dropout: float = 0.1) -> MLP:
    return MLP(d_in, hidden, d_out, dropout)


def flat_params(model: nn.Module):
    """All parameters as one float64 numpy vector (for comparisons and results)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()
