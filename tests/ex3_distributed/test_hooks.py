"""Test hooks come from outside the worker loop, and the package has no import cycle."""
import ast
import inspect
from pathlib import Path

import pytest

from mlpractice.impl import load

distributed = load("distributed")
PACKAGE = Path(distributed.__file__).parent


def package_imports() -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere (top level or inside functions)."""
    graph = {}
    for path in sorted(PACKAGE.glob("*.py")):
        name, found = path.stem, set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(distributed.__name__ + "."):
                found.add(node.module.split(".")[2])
        graph[name] = {m for m in found if (PACKAGE / f"{m}.py").exists()} - {name}
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.scaffold
def test_find_cycle_finds_a_cycle_through_function_level_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.scaffold
def test_the_package_has_no_import_cycle():
    graph = package_imports()
    assert "trainer" in graph and "parameter_server" in graph
    assert find_cycle({k: v - {"__init__"} for k, v in graph.items() if k not in ("__init__", "__main__")}) is None


@pytest.mark.scaffold
def test_worker_loops_hold_no_test_hooks():
    """The per-rank loops read as what a user runs: injection, ablations, delays and recording come from hooks."""
    for module, fn in (("distributed.worker", "train_worker"), ("distributed.parameter_server", "ps_train_worker")):
        source = inspect.getsource(getattr(load(module), fn))
        for word in ("failure", "ablate", "worker_delays", "record_params", "_exit", "sleep"):
            assert word not in source, f"{fn} mentions {word!r}"


@pytest.mark.exercise("3.4", "checkpoint state capture and restore")
@pytest.mark.timeout(60)
def test_hooks_passed_in_from_outside_see_every_step_and_inject_a_crash(tmp_path):
    from . import hooks

    common = dict(workers=2, epochs=1, checkpoint_every=3)
    clean = distributed.train(distributed.TrainConfig(**common))
    result = distributed.train(distributed.TrainConfig(**common, checkpoint_dir=str(tmp_path), max_restarts=1,
                                                       hooks=(hooks.CrashAt(rank=1, step=4), hooks.StepLog())))
    failure = next(e for e in result.timeline if e.kind == "failure detected")
    assert failure.rank == 1 and "exit code 7" in failure.detail
    assert result.restarts == 1 and result.final_params.tobytes() == clean.final_params.tobytes()
    steps = range(3, 12)  # the restart resumed from the step-3 checkpoint; 12 steps per epoch
    for rank, extras in enumerate(result.hook_results):
        expected = [("start", rank, 1)]
        for s in steps:
            expected += [("before", s), ("after", s + 1)]
            if rank == 0 and (s + 1) % 3 == 0:
                expected.append(("checkpoint", s + 1))
        assert extras["step_log"] == expected
