"""A file-system model registry: versioned artifacts with a manifest and a checksum.

Layout:
    root/<name>/<version>/manifest.json   flavor, format, artifact file, sha256, input schema, created
    root/<name>/<version>/<artifact>      model.skops | model.safetensors | model.pt | model.pkl
    root/<name>/aliases.json              {"prod": 2, ...}

Formats and trust. sklearn models are saved with skops and PyTorch models as a
safetensors state dict of an architecture from `models.ARCHITECTURES` (or a
TorchScript file): neither runs code from the artifact when loaded. Pickle can
run arbitrary code, so it is written and read only with `trust=True`, never as a
silent fallback. Every load recomputes the artifact's sha256 and refuses a
mismatch, which catches corruption and an artifact swapped behind the
manifest's back (it does not defend against someone who can rewrite both: sign
the manifest for that).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelNotFound, UntrustedArtifact
from .models import ARCHITECTURES, predictor_for

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ARTIFACT = {"skops": "model.skops", "safetensors": "model.safetensors", "torchscript": "model.pt",
            "pickle": "model.pkl"}


@dataclass
class LoadedArtifact:
    name: str
    version: int
    manifest: dict
    predictor: Any

    @property
    def input_dim(self) -> int:
        return self.manifest["input_schema"]["shape"][1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _flavor_and_format(model, fmt: str | None) -> tuple[str, str]:
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


def _input_dim(model, given: int | None) -> int:
    if given is not None:
        return int(given)
    for attr in ("n_features_in_",):
        if hasattr(model, attr):
            return int(getattr(model, attr))
    config = getattr(model, "config", None)
    if isinstance(config, dict) and "in_features" in config:
        return int(config["in_features"])
    raise ValueError(f"cannot infer the input size of a {type(model).__name__}: pass input_dim=")


class ModelRegistry:
    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- writing ---------------------------------------------------------------------
    def register(self, name: str, model, *, metadata: dict | None = None, input_dim: int | None = None,
                 format: str | None = None, trust: bool = False) -> int:
        """Save `model` as the next integer version of `name` and return that version."""
        if not NAME.match(name or ""):
            raise ValueError(f"model name {name!r} must match {NAME.pattern}")
        if format is not None and format not in ARTIFACT:
            raise ValueError(f"unknown format {format!r}; choose one of {sorted(ARTIFACT)}")
        if format == "pickle" and not trust:
            raise UntrustedArtifact("pickle artifacts can execute code when loaded: pass trust=True to write one")
        flavor, fmt = _flavor_and_format(model, format)
        dim = _input_dim(model, input_dim)
        version = max(self.versions(name), default=0) + 1
        folder = self.root / name / str(version)
        folder.mkdir(parents=True)
        artifact = folder / ARTIFACT[fmt]
        extra = self._write(model, fmt, artifact)
        manifest = {
            "name": name, "version": version, "flavor": flavor, "format": fmt,
            "artifact": artifact.name, "sha256": sha256_of(artifact),
            "input_schema": {"name": "input-0", "datatype": "FP32", "shape": [-1, dim]},
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "metadata": metadata or {}, **extra,
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return version

    def _write(self, model, fmt: str, path: Path) -> dict:
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

    def set_alias(self, name: str, alias: str, version: int) -> None:
        if alias.isdigit() or alias == "latest":
            raise ValueError(f"alias {alias!r} would shadow a version number or 'latest'")
        if version not in self.versions(name):
            raise ModelNotFound(f"model {name!r} has no version {version}")
        aliases = self.aliases(name)
        aliases[alias] = int(version)
        (self.root / name / "aliases.json").write_text(json.dumps(aliases, indent=2, sort_keys=True))

    # -- reading ---------------------------------------------------------------------
    def models(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def versions(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / "manifest.json").exists())

    def aliases(self, name: str) -> dict[str, int]:
        path = self.root / name / "aliases.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def resolve(self, name: str, version_or_alias: int | str | None = None) -> int:
        """Version number for None/'latest' (highest), an int or digit string, or an alias."""
        versions = self.versions(name)
        if not versions:
            raise ModelNotFound(f"unknown model {name!r}")
        if version_or_alias is None or version_or_alias == "latest":
            return versions[-1]
        if isinstance(version_or_alias, int) or str(version_or_alias).isdigit():
            version = int(version_or_alias)
            if version not in versions:
                raise ModelNotFound(f"model {name!r} has no version {version} (versions: {versions})")
            return version
        aliases = self.aliases(name)
        if version_or_alias not in aliases:
            raise ModelNotFound(f"model {name!r} has no alias {version_or_alias!r} (aliases: {sorted(aliases)})")
        return aliases[version_or_alias]

    def manifest(self, name: str, version_or_alias=None) -> dict:
        version = self.resolve(name, version_or_alias)
        return json.loads((self.root / name / str(version) / "manifest.json").read_text())

    def load(self, name: str, version_or_alias=None, *, trust: bool = False) -> LoadedArtifact:
        """Verify the sha256, then deserialize with the format's safe loader (pickle only if trusted)."""
        manifest = self.manifest(name, version_or_alias)
        path = self.root / name / str(manifest["version"]) / manifest["artifact"]
        if not path.exists():
            raise ModelNotFound(f"artifact {manifest['artifact']} of {name} v{manifest['version']} is missing")
        actual = sha256_of(path)
        if actual != manifest["sha256"]:
            raise UntrustedArtifact(f"sha256 mismatch for {name} v{manifest['version']}: manifest says "
                                    f"{manifest['sha256'][:12]}..., artifact is {actual[:12]}...; refusing to load "
                                    "a tampered or corrupted artifact")
        model = self._read(manifest, path, trust)
        return LoadedArtifact(name, manifest["version"], manifest, predictor_for(model))

    def _read(self, manifest: dict, path: Path, trust: bool):
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


def zeros_batch(manifest: dict, size: int) -> np.ndarray:
    """A warm-up batch shaped like the model's input schema."""
    return np.zeros((size, manifest["input_schema"]["shape"][1]), dtype=np.float32)
