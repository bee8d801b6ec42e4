# Starter code generated from solutions/serving/artifacts.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Artifact formats: how a model is written to and read from one file, and which formats need trust.

skops (scikit-learn) and safetensors (a PyTorch state dict of an architecture in
`models.ARCHITECTURES`) run no code from the artifact when read; TorchScript is code
and weights in one file; pickle can run arbitrary code, so it is written and read only
with trust=True. Pure of the registry's layout: registry.py decides where files go.
"""
from __future__ import annotations

import hashlib
import pickle
import warnings
from pathlib import Path

from .errors import UntrustedArtifact
from .models import ARCHITECTURES

ARTIFACT = {"skops": "model.skops", "safetensors": "model.safetensors", "torchscript": "model.pt",
            "pickle": "model.pkl"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def flavor_and_format(model, fmt: str | None) -> tuple[str, str]:
    import torch

    if isinstance(model, torch.jit.ScriptModule):
        return "pytorch", "torchscript"
    if isinstance(model, torch.nn.Module):
        if fmt == "pickle":
            return "pytorch", "pickle"
        if type(model).__name__ not in ARCHITECTURES:
            raise TypeError(f"{type(model).__name__} is not in models.ARCHITECTURES: register a TorchScript "
                            "module, add the class there, or pass format='pickle' with trust=True")
        return "pytorch", "safetensors"
    if hasattr(model, "fit") and hasattr(model, "predict"):
        return "sklearn", fmt or "skops"
    if fmt == "pickle":
        return "python", "pickle"
    raise TypeError(f"cannot register a {type(model).__name__}: expected a scikit-learn estimator or a "
                    "torch.nn.Module (or format='pickle' with trust=True for other objects)")


def input_dim_of(model, given: int | None) -> int:
    if given is not None:
        return int(given)
    for attr in ("n_features_in_",):
        if hasattr(model, attr):
            return int(getattr(model, attr))
    config = getattr(model, "config", None)
    if isinstance(config, dict) and "in_features" in config:
        return int(config["in_features"])
    raise ValueError(f"cannot infer the input size of a {type(model).__name__}: pass input_dim=")


def write_artifact(model, fmt: str, path: Path) -> dict:
    """Save `model` in format `fmt` at `path`; returns what the manifest must add to rebuild it."""
    if fmt == "skops":
        import skops.io as sio
        sio.dump(model, path)
        # the types this artifact needs beyond skops' safe defaults, vouched for by whoever registered it
        return {"trusted_types": sorted(sio.get_untrusted_types(file=path))}
    if fmt == "safetensors":
        from safetensors.torch import save_file
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(path))
        return {"architecture": type(model).__name__, "config": model.config}
    if fmt == "torchscript":
        import torch
        with warnings.catch_warnings():  # deprecated in torch 2.9+, still the self-contained code+weights format
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(model, str(path))
        return {}
    with open(path, "wb") as f:
        pickle.dump(model, f)
    return {}



def read_artifact(manifest: dict, path: Path, trust: bool):
    """The model object saved at `path`, with the format's safe loader (pickle only if trusted)."""
    fmt = manifest["format"]
    if fmt == "skops":
        import skops.io as sio
        needed = set(sio.get_untrusted_types(file=path))
        vouched = set(manifest.get("trusted_types", []))
        if not needed <= vouched:
            raise UntrustedArtifact(f"skops artifact needs types nobody vouched for: {sorted(needed - vouched)}")
        return sio.load(path, trusted=sorted(needed))
    if fmt == "safetensors":
        from safetensors.torch import load_file
        arch = manifest.get("architecture")
        if arch not in ARCHITECTURES:
            raise UntrustedArtifact(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
        module = ARCHITECTURES[arch](**manifest["config"])
        module.load_state_dict(load_file(str(path)))
        return module
    if fmt == "torchscript":
        import torch
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    if fmt == "pickle":
        if not trust:
            raise UntrustedArtifact(f"{manifest['name']} v{manifest['version']} is a pickle, which can execute "
                                    "arbitrary code when loaded: pass trust=True if you trust its source")
        with open(path, "rb") as f:
            return pickle.load(f)
    raise UntrustedArtifact(f"unknown artifact format {fmt!r}")
