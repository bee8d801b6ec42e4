"""Build a demo registry: an sklearn classifier and two versions of a PyTorch MLP (for A/B).

Data comes from `mlpractice.data.serving` (seeded, generated in code), so the
registry is the same on every machine and nothing is downloaded.
"""
from __future__ import annotations

import torch
from sklearn.linear_model import LogisticRegression

from mlpractice.data.serving import classification_data

from .models import MLP
from .registry import ModelRegistry


def train_mlp(X, y, *, hidden: int, depth: int = 2, epochs: int = 100, lr: float = 0.1, seed: int = 0) -> MLP:
    """Full-batch gradient descent (plain updates: torch.optim's first import costs seconds)."""
    torch.manual_seed(seed)
    model = MLP(X.shape[1], hidden, int(y.max()) + 1, depth)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(epochs):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(Xt), yt).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return model.eval()


def build_demo_registry(root, *, seed: int = 0) -> ModelRegistry:
    """`tabular` (sklearn, v1) and `mlp` (PyTorch, v1 small, v2 wider; alias prod -> 1, canary -> 2)."""
    registry = ModelRegistry(root)
    X, y = classification_data(n=600, n_features=8, n_classes=3, seed=seed)
    registry.register("tabular", LogisticRegression(max_iter=500).fit(X, y),
                      metadata={"description": "logistic regression, 8 features, 3 classes"})
    v1 = registry.register("mlp", train_mlp(X, y, hidden=16, seed=seed), metadata={"hidden": 16})
    v2 = registry.register("mlp", train_mlp(X, y, hidden=64, seed=seed + 1), metadata={"hidden": 64})
    registry.set_alias("mlp", "prod", v1)
    registry.set_alias("mlp", "canary", v2)
    return registry


def build_bench_registry(root, *, in_features: int = 256, hidden: int = 2048, depth: int = 2,
                         seed: int = 0) -> ModelRegistry:
    """One untrained MLP of a few million parameters whose per-call cost dominates at batch size 1."""
    torch.manual_seed(seed)
    registry = ModelRegistry(root)
    model = MLP(in_features, hidden, 10, depth)
    params = sum(p.numel() for p in model.parameters())
    registry.register("mlp", model, metadata={"parameters": params})
    return registry
