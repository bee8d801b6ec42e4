"""The control plane: admin changes that reach every worker process.

One process (`python -m solutions.serving`) applies admin calls to its own
ModelServer (`LocalControl`). Several uvicorn workers each hold a ModelServer,
and an admin call reaches only the worker that accepted its connection; so with
`--workers N` the desired state lives in a file that every worker reconciles
to, the way Triton's poll mode and KServe's model agent do (`SharedControl`):

  * The desired state is a JSON document in `state_dir/desired.json`: a
    generation number, `draining`, and per model the loaded versions, the
    served version and the traffic split. It is replaced atomically (written
    to a temporary file, then `os.replace`) under an exclusive `flock`, so a
    reader sees a whole document and two admin calls never lose each other's
    change.
  * An admin call is applied to the worker that received it first, so an
    error (a failed load, a full cache) reaches the client and publishes
    nothing; then the change is published with the next generation.
  * Every worker checks the file every `poll_s` seconds (one `os.stat`, off
    the request path) and, when the generation moved, applies the difference
    with `plan()`. So a change is served by every worker within `poll_s` plus
    the time to load the model. A worker that cannot apply a change (its load
    fails) keeps serving what it has and records a `reconcile_failed` event;
    it tries again at the next generation.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import tempfile
from pathlib import Path

from .errors import ServingError

log = logging.getLogger("serving.control")

EMPTY = {"generation": 0, "draining": False, "models": {}}


def entry_of(models: dict, name: str) -> dict:
    """A model's entry in a document's "models", created empty if it is not there yet."""
    return models.setdefault(name, {"loaded": [], "served": None, "split": None})


def current_state(server) -> dict:
    """What a ModelServer holds now, in the shape of a desired-state document (generation aside)."""
    models: dict[str, dict] = {}
    for name, v in server.loaded_versions():
        entry_of(models, name)["loaded"].append(v)
    for name, v in server.health_check()["served"].items():
        entry_of(models, name)["served"] = v
    for name, entry in models.items():
        split = server.traffic_split(name)
        entry["split"] = {str(v): w for v, w in split.items()} if split else None
    return {"draining": server.draining, "models": models}


def plan(desired: dict, current: dict) -> list[tuple]:
    """The actions that take a server from `current` to `desired` (both in the document's shape).

    Order: loads of versions that are not served, then the served version (a load makes its
    version the served one, so the served version is loaded last, again if it was loaded already),
    then unloads, then splits.
    A draining document plans one action, ("drain",): drain() unloads everything itself.
    """
    if desired.get("draining"):
        return [] if current.get("draining") else [("drain",)]
    actions: list[tuple] = []
    have = current["models"]
    want = desired["models"]
    for name, entry in sorted(want.items()):
        loaded = set(have.get(name, {}).get("loaded", []))
        served = entry.get("served")
        others = [("load", name, v) for v in sorted(entry["loaded"]) if v not in loaded and v != served]
        actions += others
        # a load serves what it loaded, so after any other load the served version is loaded again
        if served is not None and (others or served not in loaded or have.get(name, {}).get("served") != served):
            actions.append(("load", name, served))
    for name, entry in sorted(have.items()):
        keep = set(want.get(name, {}).get("loaded", []))
        actions += [("unload", name, v) for v in sorted(entry["loaded"]) if v not in keep]
    for name, entry in sorted(want.items()):
        if entry.get("split") != have.get(name, {}).get("split"):
            actions.append(("split", name, entry.get("split")))
    return actions


async def apply(server, actions: list[tuple]) -> None:
    """Run `plan()`'s actions on a ModelServer, in order."""
    for action in actions:
        kind = action[0]
        if kind == "drain":
            await server.drain()
        elif kind == "load":
            await server.load_model(action[1], action[2])
        elif kind == "unload":
            await server.unload_model(action[1], action[2])
        elif kind == "split":
            name, weights = action[1], action[2]
            if weights:
                server.set_traffic_split(name, {int(v): w for v, w in weights.items()})
            else:
                server.clear_traffic_split(name)


class StateFile:
    """The desired-state document on disk: atomic replace, exclusive lock for read-modify-write."""

    def __init__(self, state_dir):
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "desired.json"
        self._lock_path = self.dir / "desired.lock"

    @contextlib.contextmanager
    def _locked(self):
        with open(self._lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return json.loads(json.dumps(EMPTY))

    def stamp(self) -> tuple[int, int] | None:
        """Changes whenever the document is replaced (inode and mtime), for a cheap poll."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def update(self, change) -> dict:
        """Apply `change(doc)` (edits in place) under the lock, bump the generation, replace atomically."""
        with self._locked():
            doc = self.read()
            change(doc)
            doc["generation"] = doc.get("generation", 0) + 1
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".desired-", suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            return doc

    def initialise(self, models: list[str], resolve) -> dict:
        """Write the startup document once per state directory (the first worker wins)."""
        with self._locked():
            if self.path.exists():
                return self.read()
        def start(doc):
            if doc["generation"] == 0:
                doc["models"] = {n: {"loaded": [resolve(n)], "served": resolve(n), "split": None} for n in models}
        return self.update(start)


class LocalControl:
    """Admin calls applied to the one ModelServer of this process."""

    def __init__(self, server):
        self.server = server

    async def start(self, models: list[str]) -> None:
        for name in models:
            await self.server.load_model(name)

    async def stop(self) -> None:
        return None

    async def load(self, name: str, version=None) -> int:
        return (await self.server.load_model(name, version)).version

    async def unload(self, name: str, version=None) -> list[int]:
        return await self.server.unload_model(name, version)

    async def split(self, name: str, weights: dict[int, float] | None) -> None:
        if weights:
            self.server.set_traffic_split(name, weights)
        else:
            self.server.clear_traffic_split(name)

    async def drain(self) -> None:
        await self.server.drain()


class SharedControl(LocalControl):
    """Admin calls applied here first, then published to every worker through a StateFile."""

    def __init__(self, server, state_dir, *, poll_s: float = 0.2):
        super().__init__(server)
        self.state = StateFile(state_dir)
        self.poll_s = poll_s
        self.generation = 0
        self._lock = asyncio.Lock()  # one reconcile or admin call at a time in this worker
        self._task: asyncio.Task | None = None
        self._stamp = None

    async def start(self, models: list[str]) -> None:
        await asyncio.to_thread(self.state.initialise, models, lambda n: self.server.registry.resolve(n))
        await self.reconcile()
        self._task = asyncio.get_running_loop().create_task(self._poll(), name="control-poll")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            stamp = self.state.stamp()
            if stamp != self._stamp:
                try:
                    await self.reconcile()
                except Exception:  # noqa: BLE001 - a bad reconcile must not stop later ones
                    log.exception("reconcile failed")

    async def reconcile(self) -> None:
        async with self._lock:
            self._stamp = self.state.stamp()
            desired = await asyncio.to_thread(self.state.read)
            if desired["generation"] <= self.generation:
                return
            try:
                await apply(self.server, plan(desired, current_state(self.server)))
            except ServingError as err:
                self.server.events.append({"event": "reconcile_failed", "model": None, "version": None,
                                           "generation": desired["generation"], "reason": err.message})
            self.generation = desired["generation"]

    async def _publish(self, change) -> None:
        doc = await asyncio.to_thread(self.state.update, change)
        self.generation = doc["generation"]  # applied here already
        self._stamp = self.state.stamp()

    async def load(self, name: str, version=None) -> int:
        async with self._lock:
            v = await super().load(name, version)
            def change(doc):
                entry = entry_of(doc["models"], name)
                entry["loaded"] = sorted(set(entry["loaded"]) | {v})
                entry["served"] = v
            await self._publish(change)
            return v

    async def unload(self, name: str, version=None) -> list[int]:
        async with self._lock:
            gone = await super().unload(name, version)
            def change(doc):
                entry = doc["models"].get(name)
                if entry is None:
                    return
                entry["loaded"] = [v for v in entry["loaded"] if v not in gone]
                if entry["served"] in gone:
                    entry["served"] = None
                if not entry["loaded"]:
                    del doc["models"][name]
            await self._publish(change)
            return gone

    async def split(self, name: str, weights: dict[int, float] | None) -> None:
        async with self._lock:
            await super().split(name, weights)
            def change(doc):
                entry = entry_of(doc["models"], name)
                entry["split"] = {str(v): float(w) for v, w in weights.items()} if weights else None
            await self._publish(change)

    async def drain(self) -> None:
        async with self._lock:
            await self._publish(lambda doc: doc.update(draining=True))
        await super().drain()
