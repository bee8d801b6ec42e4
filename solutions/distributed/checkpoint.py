"""Checkpoints that resume bit-identically, written atomically.

Atomic write: serialize to memory, write a temporary file in the same directory,
flush and fsync it, `os.replace` it over the final name (atomic on POSIX), then
fsync the directory so the rename itself survives a power cut. A crash at any
point leaves either the old file or the new one, never a torn one; temporary
files are ignored by `latest_checkpoint`.

Bit-identical resume needs *all* the state that influences the next step, per rank:
model parameters and buffers, optimizer state (momentum), the position (epoch and
next step within it), the sampler seed, the RNG states (torch for dropout, numpy,
random) and the data loader's own generator (its augmentation noise).
"""
from __future__ import annotations

import copy
import io
import os
import random
import re
from pathlib import Path

import numpy as np
import torch

CHECKPOINT = re.compile(r"^ckpt-(\d+)\.pt$")


def checkpoint_path(directory, global_step: int) -> Path:
    return Path(directory) / f"ckpt-{global_step:06d}.pt"


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see the module docstring)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # same directory: the rename stays atomic
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())  # the bytes are on disk before the name points at them
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def serialize(state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def save_checkpoint(path, state: dict) -> Path:
    """Atomically write `state` (any torch-serializable dict) to `path`; return the path.

    A process killed at any moment of this call, SIGKILL included, leaves `path` either as it
    was or complete, never partial; at worst a temporary file `.NAME.tmp-PID` remains, which
    `latest_checkpoint` never returns.
    """
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, serialize(state))
    return path


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by save_checkpoint (our own files: full unpickling is allowed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, weights_only=False)


def latest_checkpoint(directory) -> Path | None:
    """The complete checkpoint with the highest step in `directory` (temporary files never count)."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := CHECKPOINT.match(p.name))]
    return max(found)[1] if found else None


def capture_state(model, optimizer, loader, epoch: int, step: int) -> dict:
    """Everything this rank needs to continue exactly where it is, as a new dict of copies.

    Keys: "model" (state_dict: parameters and buffers), "optimizer" (state_dict),
    "epoch" and "step" (the next step to run within that epoch), "sampler_seed",
    "rng" = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
    "random": random.getstate()}, and "loader_generator" (loader.generator.get_state()).
    The values must be copies: the caller keeps training while the state is written.
    """
    # BEGIN SOLUTION [3.4] capture the complete training state of one rank (section 4)
    # HINT: copy.deepcopy the two state_dicts; RNG getters already return copies.
    return {
        "model": copy.deepcopy(model.state_dict()),
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "epoch": epoch,
        "step": step,
        "sampler_seed": loader.sampler_seed,
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "random": random.getstate()},
        "loader_generator": loader.generator.get_state(),
    }
    # END SOLUTION


def restore_state(state: dict, model, optimizer, loader) -> tuple[int, int]:
    """Put a state from capture_state back into model, optimizer, loader and the RNGs.

    Returns (epoch, step): where training continues. After this call, the next step
    computes exactly what it computed in the run that wrote the state.
    """
    # BEGIN SOLUTION [3.4] restore the complete training state of one rank (section 4)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    loader.sampler_seed = state["sampler_seed"]
    torch.set_rng_state(state["rng"]["torch"])
    np.random.set_state(state["rng"]["numpy"])
    random.setstate(state["rng"]["random"])
    loader.generator.set_state(state["loader_generator"])
    return state["epoch"], state["step"]
    # END SOLUTION
