# Starter code generated from solutions/serving/catalog.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Which models, versions and aliases a registry holds: read from disk once, then answered from memory.

Every lookup on the request path (resolve an alias, list versions, is this model known?) is a dict
read. The disk is read again only
  * for a model written through the registry that owns this catalog (at once: `reload(name)`),
  * on `refresh()` (everything, now) or `refresh_if_changed()` (only if a cheap stamp moved: the
    modification times of the root, of each model folder, each version folder and each aliases.json),
  * when a lookup misses (unknown model, version or alias): `refresh_if_changed()`, at most once
    every `recheck_s` seconds whatever the traffic, so a version registered by another process is
    found by the first request for it, and a flood of bad names costs one stamp a second.
A retargeted alias is a hit, so a long-running server calls `refresh_if_changed()` periodically
(app.py does, off the event loop, once a second).

Names and versions are checked before any path is built: a name matches NAME (ASCII letters, digits,
'_', '.', '-', starting with a letter or digit, at most 64 characters, so never '..', a slash or a NUL);
a version is a positive integer, ASCII digits, "latest", or an alias.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelNotFound

log = logging.getLogger("serving.registry")

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_VERSION_DIGITS = 18  # fits an int64; more digits is no version of ours (and int() of 5000 digits raises)


def valid_name(name) -> bool:
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def check_name(name, what: str = "model name") -> str:
    if not valid_name(name):
        raise ModelNotFound(f"invalid {what} {name!r}: names are 1-64 ASCII letters, digits, '_', '.' or '-', "
                            "starting with a letter or digit")
    return name


def parse_version(version) -> int | str | None:
    """None for the latest, an int for a version number, a str for an alias; ModelNotFound otherwise."""
    if version is None or version == "latest":
        return None
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise ModelNotFound(f"invalid version {version!r}: expected a number, 'latest' or an alias")
    if isinstance(version, int):
        return version
    if version.isascii() and version.isdigit():  # "²".isdigit() and "١".isdigit() are True too
        if len(version) > MAX_VERSION_DIGITS:
            raise ModelNotFound(f"invalid version {version[:24]}...: more than {MAX_VERSION_DIGITS} digits")
        return int(version)
    return version


@dataclass(frozen=True)
class Entry:
    versions: tuple[int, ...]
    aliases: dict[str, int] = field(default_factory=dict)


def scan_versions(folder: Path) -> tuple[int, ...]:
    try:
        children = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return ()
    return tuple(sorted(int(c.name) for c in children
                        if c.name.isascii() and c.name.isdigit() and len(c.name) <= MAX_VERSION_DIGITS
                        and os.path.exists(os.path.join(c.path, "manifest.json"))))


def read_aliases(folder: Path) -> dict[str, int]:
    path = folder / "aliases.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (ValueError, OSError) as err:
        log.warning("ignoring unreadable %s: %s", path, err)
        return {}
    if not isinstance(doc, dict):
        log.warning("ignoring %s: not a JSON object", path)
        return {}
    return {k: v for k, v in doc.items() if valid_name(k) and isinstance(v, int) and not isinstance(v, bool)}


def scan(root: Path) -> dict[str, Entry]:
    models = {}
    for child in sorted(os.scandir(root), key=lambda c: c.name):
        if valid_name(child.name) and child.is_dir():
            versions = scan_versions(Path(child.path))
            if versions:
                models[child.name] = Entry(versions, read_aliases(Path(child.path)))
    return models


def _mtime(path) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_mtime_ns, st.st_ino, st.st_size)


def stamp(root: Path) -> tuple:
    """Changes whenever a model, version or alias is added, removed or rewritten (a few stat calls)."""
    parts = [_mtime(root)]
    for child in sorted(os.scandir(root), key=lambda c: c.name):
        if valid_name(child.name) and child.is_dir():
            parts.append((child.name, _mtime(child.path), _mtime(os.path.join(child.path, "aliases.json")),
                          tuple(sorted((c.name, _mtime(c.path)) for c in os.scandir(child.path) if c.name.isdigit()))))
    return tuple(parts)


class Catalog:
    """The in-memory view of a registry root (see the module docstring for when it reads the disk)."""

    def __init__(self, root: Path, *, recheck_s: float = 1.0, clock=time.monotonic):
        self.root = root
        self.recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()  # refreshes may run in a thread while the event loop reads
        self._models: dict[str, Entry] | None = None  # swapped whole: readers never see half an update
        self._stamp: tuple | None = None
        self._checked_at: float | None = None

    def _view(self) -> dict[str, Entry]:
        models = self._models
        if models is None:
            self.refresh()
            models = self._models
        return models

    def entry(self, name: str) -> Entry | None:
        """The model's versions and aliases, or None for a model it does not hold (after a recheck)."""
        found = self._view().get(name)
        if found is None and self.recheck():
            found = self._view().get(name)
        return found

    def names(self) -> list[str]:
        return sorted(self._view())

    def recheck(self) -> bool:
        """After a miss: refresh_if_changed(), unless one ran less than recheck_s ago. True if it changed."""
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self.recheck_s:
            return False
        return self.refresh_if_changed()

    def refresh(self) -> None:
        with self._lock:
            self._stamp = stamp(self.root)
            self._models = scan(self.root)
            self._checked_at = self._clock()

    def refresh_if_changed(self) -> bool:
        current = stamp(self.root)
        self._checked_at = self._clock()
        if current == self._stamp:
            return False
        with self._lock:
            self._stamp = current
            self._models = scan(self.root)
        return True

    def reload(self, name: str) -> Entry | None:
        """Re-read one model from disk now (after a write through the registry)."""
        with self._lock:
            folder = self.root / name
            versions = scan_versions(folder)
            models = dict(self._models) if self._models is not None else scan(self.root)
            if versions:
                models[name] = Entry(versions, read_aliases(folder))
            else:
                models.pop(name, None)
            self._models = models
            return models.get(name)
