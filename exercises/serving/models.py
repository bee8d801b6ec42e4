# Starter code generated from solutions/serving/models.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""What the server calls: one `predict(X) -> rows` interface over sklearn and PyTorch models.

`MLP` is the PyTorch architecture the registry can rebuild from a safetensors
state dict (weights only, no code in the artifact); `ARCHITECTURES` lists the
classes it may instantiate, which is what keeps loading free of arbitrary code.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class MLP(nn.Module):
    """A plain multi-layer perceptron: in_features -> hidden x depth -> out_features."""

    def __init__(self, in_features: int, hidden: int, out_features: int, depth: int = 2):
        super().__init__()
        self.config = {"in_features": in_features, "hidden": hidden, "out_features": out_features, "depth": depth}
        layers, width = [], in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


ARCHITECTURES = {"MLP": MLP}


class SklearnPredictor:
    """Class probabilities for classifiers (predict_proba), predictions for everything else."""

    flavor = "sklearn"

    def __init__(self, estimator):
        self.estimator = estimator
        self.method = getattr(estimator, "predict_proba", None) or estimator.predict

    def predict(self, X: np.ndarray) -> list:
        return list(np.asarray(self.method(X)))


class TorchPredictor:
    """Rows of the module's output, computed in eval mode without autograd."""

    flavor = "pytorch"

    def __init__(self, module: nn.Module):
        self.module = module.eval()

    def predict(self, X: np.ndarray) -> list:
        with torch.inference_mode():
            out = self.module(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))
        return list(out.numpy())


class PythonPredictor:
    """Any object with `predict(X)` (only reachable through trusted pickle artifacts)."""

    flavor = "python"

    def __init__(self, obj):
        self.obj = obj

    def predict(self, X: np.ndarray) -> list:
        return list(self.obj.predict(X))


def predictor_for(obj):
    if isinstance(obj, nn.Module):
        return TorchPredictor(obj)
    if hasattr(obj, "fit") and hasattr(obj, "predict"):
        return SklearnPredictor(obj)
    return PythonPredictor(obj)
