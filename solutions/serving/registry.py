"""A file-system model registry: versioned artifacts with a manifest and a checksum.

Layout:
    root/<name>/<version>/manifest.json   flavor, format, artifact file, sha256, input schema, created
    root/<name>/<version>/<artifact>      model.skops | model.safetensors | model.pt | model.pkl
    root/<name>/aliases.json              {"prod": 2, ...}

Formats and trust (artifacts.py). sklearn models are saved with skops and PyTorch
models as a safetensors state dict of an architecture from `models.ARCHITECTURES`
(or a TorchScript file): neither runs code from the artifact when loaded. Pickle can
run arbitrary code, so it is written and read only with `trust=True`, never as a
silent fallback. Every load recomputes the artifact's sha256 and refuses a
mismatch, which catches corruption and an artifact swapped behind the
manifest's back (it does not defend against someone who can rewrite both: sign
the manifest for that). A manifest must name its own model and version and an
artifact file beside it, so one copied from elsewhere is refused too.

Paths. Names and versions are checked on every read, before a path is built
(catalog.py): nothing outside the root is ever read. Lookups (versions, aliases,
manifests) are answered from memory; catalog.py says when the disk is read again.
The predictor of a loaded artifact keeps the output contract of contract.py.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import ARTIFACT, flavor_and_format, input_dim_of, read_artifact, sha256_of, write_artifact
from .catalog import NAME, Catalog, check_name, parse_version, read_aliases, scan_versions, valid_name
from .contract import CheckedPredictor, output_schema
from .errors import ModelNotFound, UntrustedArtifact
from .models import predictor_for


@dataclass
class LoadedArtifact:
    name: str
    version: int
    manifest: dict
    predictor: Any

    @property
    def input_dim(self) -> int:
        return self.manifest["input_schema"]["shape"][1]


class ModelRegistry:
    """Versioned models under `root`; lookups are answered from memory (catalog.py says when the disk is
    read again). `recheck_s`: how often a lookup that misses may look at the disk for something new."""

    def __init__(self, root, *, recheck_s: float = 1.0, clock=time.monotonic):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.root, recheck_s=recheck_s, clock=clock)
        self._manifests: dict[tuple[str, int], dict] = {}

    def _folder(self, name: str, version: int | None = None) -> Path:
        """root/name[/version], for a name that passed check_name; never a path outside the root."""
        folder = self.root / check_name(name)
        if os.path.dirname(os.path.normpath(folder)) != os.path.normpath(self.root):
            raise ModelNotFound(f"invalid model name {name!r}")
        return folder if version is None else folder / str(int(version))

    # -- writing ---------------------------------------------------------------------
    def register(self, name: str, model, *, metadata: dict | None = None, input_dim: int | None = None,
                 format: str | None = None, trust: bool = False) -> int:
        """Save `model` as the next integer version of `name` and return that version.

        The version is written into a temporary folder and renamed into place, so a reader (another
        process, the catalog's scan) sees a whole version or none.
        """
        if not valid_name(name):
            raise ValueError(f"model name {name!r} must match {NAME.pattern}")
        if format is not None and format not in ARTIFACT:
            raise ValueError(f"unknown format {format!r}; choose one of {sorted(ARTIFACT)}")
        if format == "pickle" and not trust:
            raise UntrustedArtifact("pickle artifacts can execute code when loaded: pass trust=True to write one")
        flavor, fmt = flavor_and_format(model, format)
        dim = input_dim_of(model, input_dim)
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
        try:
            artifact = staging / ARTIFACT[fmt]
            extra = write_artifact(model, fmt, artifact)
            manifest = {
                "name": name, "flavor": flavor, "format": fmt,
                "artifact": artifact.name, "sha256": sha256_of(artifact),
                "input_schema": {"name": "input-0", "datatype": "FP32", "shape": [-1, dim]},
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "metadata": metadata or {}, **extra,
            }
            schema = _probe_output_schema(model, dim)
            if schema is not None:
                manifest["output_schema"] = schema
            version = max(scan_versions(folder), default=0) + 1
            for _ in range(100):  # another writer may take a number first: take the next one
                manifest["version"] = version
                (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
                try:
                    os.rename(staging, folder / str(version))
                    break
                except OSError:
                    version += 1
            else:
                raise RuntimeError(f"could not claim a version folder for {name}")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._manifests[(name, version)] = manifest
        self.catalog.reload(name)
        return version

    def set_alias(self, name: str, alias: str, version: int) -> None:
        if not valid_name(alias) or alias.isdigit() or alias == "latest":
            raise ValueError(f"alias {alias!r} must match {NAME.pattern} and not shadow a version number or 'latest'")
        folder = self._folder(name)
        if version not in scan_versions(folder):
            raise ModelNotFound(f"model {name!r} has no version {version}")
        aliases = read_aliases(folder)
        aliases[alias] = int(version)
        fd, tmp = tempfile.mkstemp(prefix=".aliases-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(aliases, indent=2, sort_keys=True))
        os.replace(tmp, folder / "aliases.json")  # atomic: a reader sees the old file or the new one
        self.catalog.reload(name)

    # -- reading (from memory: see catalog.py) ---------------------------------------------
    def refresh(self) -> None:
        """Forget what is cached and read the registry from disk now."""
        self._manifests = {}
        self.catalog.refresh()

    def refresh_if_changed(self) -> bool:
        """Read the registry again if it changed on disk (a few stat calls); True if it did."""
        return self.catalog.refresh_if_changed()

    def models(self) -> list[str]:
        return self.catalog.names()

    def versions(self, name: str) -> list[int]:
        entry = self.catalog.entry(name) if valid_name(name) else None
        return list(entry.versions) if entry else []

    def aliases(self, name: str) -> dict[str, int]:
        entry = self.catalog.entry(name) if valid_name(name) else None
        return dict(entry.aliases) if entry else {}

    def resolve(self, name: str, version_or_alias: int | str | None = None) -> int:
        """Version number for None/'latest' (highest), an int or ASCII-digit string, or an alias."""
        check_name(name)
        wanted = parse_version(version_or_alias)
        entry = self.catalog.entry(name)
        if entry is None:
            raise ModelNotFound(f"unknown model {name!r}")
        if wanted is None:
            return entry.versions[-1]
        found = self._lookup(entry, wanted)
        if found is None and self.catalog.recheck():  # maybe new on disk (another process wrote it)
            entry = self.catalog.entry(name) or entry
            found = self._lookup(entry, wanted)
        if found is not None:
            return found
        if isinstance(wanted, int):
            raise ModelNotFound(f"model {name!r} has no version {wanted} (versions: {list(entry.versions)})")
        raise ModelNotFound(f"model {name!r} has no alias {wanted[:64]!r} (aliases: {sorted(entry.aliases)})")

    @staticmethod
    def _lookup(entry, wanted: int | str) -> int | None:
        if isinstance(wanted, int):
            return wanted if wanted in entry.versions else None
        return entry.aliases.get(wanted)

    def manifest(self, name: str, version_or_alias=None) -> dict:
        """The version's manifest (read once, then from memory; do not modify it)."""
        version = self.resolve(name, version_or_alias)
        cached = self._manifests.get((name, version))
        if cached is None:
            cached = self._read_manifest(name, version)
        return cached

    def _read_manifest(self, name: str, version: int) -> dict:
        """From disk, checked: it describes this name and version, and its artifact is a file beside it."""
        try:
            manifest = json.loads((self._folder(name, version) / "manifest.json").read_text())
        except FileNotFoundError:
            raise ModelNotFound(f"{name} v{version} has no manifest (removed?)") from None
        except ValueError as err:
            raise UntrustedArtifact(f"manifest of {name} v{version} is not valid JSON: {err}") from None
        for key, expected in (("name", name), ("version", version)):
            if manifest.get(key) != expected:
                raise UntrustedArtifact(f"the manifest at {name}/{version} says {key} {manifest.get(key)!r}, "
                                        f"not {expected!r}: refusing a manifest copied from elsewhere")
        if manifest.get("artifact") not in ARTIFACT.values():
            raise UntrustedArtifact(f"the manifest of {name} v{version} names artifact {manifest.get('artifact')!r}; "
                                    f"expected one of {sorted(ARTIFACT.values())} beside it")
        self._manifests[(name, version)] = manifest
        return manifest

    def load(self, name: str, version_or_alias=None, *, trust: bool = False) -> LoadedArtifact:
        """Verify the sha256, then deserialize with the format's safe loader (pickle only if trusted).

        The manifest is read from disk again (a load is rare and must see what is there now).
        """
        version = self.resolve(name, version_or_alias)
        manifest = self._read_manifest(name, version)
        path = self._folder(name, version) / manifest["artifact"]
        if not path.exists():
            raise ModelNotFound(f"artifact {manifest['artifact']} of {name} v{version} is missing")
        actual = sha256_of(path)
        if actual != manifest["sha256"]:
            raise UntrustedArtifact(f"sha256 mismatch for {name} v{version}: manifest says "
                                    f"{manifest['sha256'][:12]}..., artifact is {actual[:12]}...; refusing to load "
                                    "a tampered or corrupted artifact")
        model = read_artifact(manifest, path, trust)
        predictor = CheckedPredictor(predictor_for(model), f"{name} v{version}")
        return LoadedArtifact(name, version, manifest, predictor)

def _probe_output_schema(model, dim: int) -> dict | None:
    """The output tensor's datatype and shape, from the model's answer to two zero rows (None if it fails)."""
    try:
        return output_schema(predictor_for(model).predict(np.zeros((2, dim), dtype=np.float32)), 2)
    except Exception:  # noqa: BLE001 - a model that cannot answer zeros is refused at load, not here
        return None


def zeros_batch(manifest: dict, size: int) -> np.ndarray:
    """A warm-up batch shaped like the model's input schema."""
    return np.zeros((size, manifest["input_schema"]["shape"][1]), dtype=np.float32)
