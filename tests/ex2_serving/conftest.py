"""Shared fixtures for exercise 2: a demo registry built once, and an asyncio runner."""
import asyncio
import os
import types

import pytest

from mlpractice.impl import load

from . import poison, timing_models

ASYNCIO_DIR = os.path.dirname(asyncio.__file__)


@pytest.fixture(scope="session")
def serving():
    return load("serving")


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    load("serving.demo").build_demo_registry(root)
    registry = load("serving").ModelRegistry(root)
    registry.register("poison", poison.PoisonOnNegative(), input_dim=3, format="pickle", trust=True)
    registry.register("slow", poison.Slow(0.05), input_dim=3, format="pickle", trust=True)
    registry.register("broken", poison.AlwaysFails(), input_dim=8, format="pickle", trust=True)
    return root


@pytest.fixture(scope="module")
def timing_root(serving, tmp_path_factory):
    """A registry of models whose compute time is known (timing_models.py): deadlines, instances, admission."""
    root = tmp_path_factory.mktemp("timing")
    timing_models.build(serving.ModelRegistry(root))
    return root


@pytest.fixture
def registry(serving, demo_root):
    return serving.ModelRegistry(demo_root)


def run(coro, timeout: float = 60):
    """Run a coroutine to completion on a fresh event loop, bounded in time."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    try:
        return asyncio.run(bounded())
    except Exception as err:
        raise err.with_traceback(without_asyncio_frames(err.__traceback__))


def without_asyncio_frames(tb):
    """The traceback minus the event loop's own frames: shorter reports that point at the code under
    test (and CPython 3.11.7's parser, which pytest uses to show source, can choke on asyncio/runners.py)."""
    frames = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(ASYNCIO_DIR):
            frames.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for entry in reversed(frames):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt
