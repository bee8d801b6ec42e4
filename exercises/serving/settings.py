# Starter code generated from solutions/serving/settings.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""Server settings: one dataclass read from the command line or from MLSERVE_* environment variables.

`uvicorn --workers N` starts each worker by importing a factory, so a worker
cannot be handed Python objects: it builds its server from the environment
(`create_app_from_env` in asgi.py). The CLI writes the same settings to the
environment before it starts the workers, so both ways of starting build the
same server.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

PREFIX = "MLSERVE_"


@dataclass(frozen=True)
class Settings:
    registry: str
    models: tuple[str, ...] = ()  # loaded at startup; empty: every model in the registry
    max_batch_size: int = 32
    max_wait_ms: float = 2.0
    max_queue_size: int = 1024
    timeout_s: float = 10.0
    cache_size: int = 0  # 0: max(4, number of startup models)
    torch_threads: int = 1
    gil_switch_ms: float = 0.25  # sys.setswitchinterval of a server process (asgi.create_app_from_env)
    trust: bool = False
    state_dir: str = ""  # set: admin changes are shared with every worker through this directory
    poll_s: float = 0.2
    drain_linger_s: float = 1.0  # after a signal's drain: still answering 503 this long, then exit
    max_body_bytes: int = 1 << 20
    llm: str = ""  # "tinygpt": also serve tinygpt.load("late") on the generate routes (llm_http.py)
    llm_max_num_seqs: int = 16
    llm_max_waiting: int = 64
    llm_cache: str = "contiguous"  # or "paged"
    llm_static: bool = False  # request-level batching instead of continuous (for comparison)

    def to_env(self) -> dict[str, str]:
        env = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            env[PREFIX + f.name.upper()] = ",".join(value) if isinstance(value, tuple) else \
                ("1" if value else "0") if isinstance(value, bool) else str(value)
        return env

    @classmethod
    def from_env(cls, environ=None) -> "Settings":
        """Settings from MLSERVE_* variables; a missing registry or a malformed value is a ValueError naming it."""
        environ = os.environ if environ is None else environ
        if not environ.get(PREFIX + "REGISTRY"):
            raise ValueError(f"{PREFIX}REGISTRY is not set: the model registry directory to serve")
        values = {}
        for f in dataclasses.fields(cls):
            key = PREFIX + f.name.upper()
            if key not in environ:
                continue
            raw = environ[key]
            kind = str if f.default is dataclasses.MISSING else type(f.default)
            try:
                if kind is tuple:
                    values[f.name] = tuple(m for m in raw.split(",") if m)
                elif kind is bool:
                    if raw not in ("0", "1", "true", "false"):
                        raise ValueError(raw)
                    values[f.name] = raw in ("1", "true")
                else:
                    values[f.name] = kind(raw)
            except ValueError:
                raise ValueError(f"{key}={raw!r} is not a valid {kind.__name__}") from None
        return cls(**values)
