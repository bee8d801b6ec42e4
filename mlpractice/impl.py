"""The one switch that selects the implementation under test.

Every test, notebook and benchmark gets its exercise package from `load`, never
by importing `solutions.*` directly, so the same code checks the reference
answer (`solutions`, the default) or the learner's starter code (`exercises`).

The choice comes, in order, from the `impl` argument, then the environment
variable MLPRACTICE_IMPL (set by `pytest --impl=...` and inherited by worker
processes), then the default "solutions".
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

ENV_VAR = "MLPRACTICE_IMPL"
IMPLEMENTATIONS = ("solutions", "exercises")
DEFAULT = "solutions"

# exercise number -> (package name, notebook file)
EXERCISES = {
    1: ("llm_eval", "01_llm_evaluation.ipynb"),
    2: ("serving", "02_model_serving.ipynb"),
    3: ("distributed", "03_distributed_training.ipynb"),
    4: ("features", "04_feature_pipeline.ipynb"),
}


def current(impl: str | None = None) -> str:
    """Name of the implementation in use: 'solutions' or 'exercises'."""
    name = impl or os.environ.get(ENV_VAR) or DEFAULT
    if name not in IMPLEMENTATIONS:
        raise ValueError(
            f"unknown implementation {name!r}: choose one of {IMPLEMENTATIONS} "
            f"(from the impl argument or ${ENV_VAR})"
        )
    return name


def use(impl: str) -> str:
    """Select the implementation for this process and the processes it starts."""
    os.environ[ENV_VAR] = current(impl)
    return os.environ[ENV_VAR]


def load(module: str, impl: str | None = None) -> ModuleType:
    """Import `module` ('llm_eval' or a submodule like 'serving.batcher') from the chosen implementation."""
    return importlib.import_module(f"{current(impl)}.{module}")


def package_of(exercise: int) -> str:
    if exercise not in EXERCISES:
        raise ValueError(f"no exercise {exercise!r}: choose one of {sorted(EXERCISES)}")
    return EXERCISES[exercise][0]


def notebook_of(exercise: int) -> str:
    package_of(exercise)
    return EXERCISES[exercise][1]
