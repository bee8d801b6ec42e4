"""A throwaway copy of the repository whose exercises/ is a starter with chosen parts filled in.

The grader and the notebooks read the learner's progress from exercises/, so testing them "as a
learner who did only 2.3" needs such a tree. Commands run inside the copy import its own mlpractice,
solutions and exercises: the copy is first on PYTHONPATH, ahead of the editable install.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlpractice import generate

ROOT = generate.ROOT
COPIED = ("mlpractice", "solutions", "tests", "notebooks", "pyproject.toml", "EXERCISES.md")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints")


def make_checkout(dest: Path, keep=(), level: str = "guided") -> Path:
    """Copy the repository to `dest` with exercises/ generated at `level` so that the requirements in
    `keep` (e.g. {"2.3"}) hold the reference code and every other region is its stub."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / name)
    for rel, data in generate.generate_tree(keep=set(keep), level=level).items():
        target = dest / "exercises" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def env_for(checkout: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPRACTICE_", "PYTEST_"))}
    env["PYTHONPATH"] = str(checkout) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_in(checkout: Path, *args: str, timeout: float = 300, input: str | None = None,
           **extra_env) -> subprocess.CompletedProcess:
    """Run `python <args>` in the checkout (`input` on its stdin); output captured as text."""
    return subprocess.run([sys.executable, *args], cwd=checkout, env=env_for(checkout, **extra_env),
                          capture_output=True, text=True, timeout=timeout, input=input)
