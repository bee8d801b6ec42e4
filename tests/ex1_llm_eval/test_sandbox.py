"""The sandbox for generated code: hostile programs end as failed samples, never as a hung or crashed
evaluator; the limits and the verdict follow their specs exactly."""
import resource

import pytest

from mlpractice.data import code_tasks
from mlpractice.impl import load

llm_eval = load("llm_eval")
sandbox = load("llm_eval").sandbox
pytestmark = pytest.mark.exercise("1.10", "pass@k with sandboxed execution")

FAST = llm_eval.Limits(wall_seconds=2, cpu_seconds=1)
TESTS = "assert add(2, 3) == 5\n"
# how each hostile program may end (a limit, the policy, or its own error), never "passed". An infinite loop
# is killed at the CPU limit, or, when CPU-hungry neighbours leave it less than a CPU-limit's worth of CPU
# before the wall-clock limit, timed out: either way a failed sample, in bounded time.
ENDINGS = {
    "infinite loop": {"killed", "timeout"}, "sleeps forever": {"timeout"}, "fork bomb": {"refused"},
    "10 GB allocation": {"failed"}, "write outside its directory": {"refused"}, "network": {"refused"},
    "subprocess": {"refused"}, "exits 0 before the tests": {"failed"}, "output flood": {"failed", "killed"},
}


@pytest.mark.timeout(60)
def test_every_task_s_correct_program_passes_and_its_wrong_ones_fail():
    for task in code_tasks.TASKS:
        assert llm_eval.run_sample(task.correct, task.tests, FAST).passed, task.name
        for wrong in task.wrong:
            result = llm_eval.run_sample(wrong, task.tests, FAST)
            assert not result.passed and result.status == "failed", (task.name, result)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(code_tasks.HOSTILE))
def test_a_hostile_program_ends_as_a_failed_sample(name):
    result = llm_eval.run_sample(code_tasks.HOSTILE[name] + "def add(a, b):\n    return a + b\n", TESTS, FAST)
    assert not result.passed and result.status in ENDINGS[name], result
    assert result.seconds < FAST.wall_seconds + 5  # it returned: the parent never waits past the timeout


@pytest.mark.timeout(30)
def test_nothing_is_written_outside_the_working_directory(tmp_path):
    target = tmp_path / "escaped.txt"
    for program in [f"open({str(target)!r}, 'w').write('x')\n",
                    f"import os\nos.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)\n",
                    f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')\n",
                    f"import os\nos.symlink('/etc', 'etc')\nopen('etc/../{target.name}', 'w')\n",
                    f"import shutil\nshutil.copyfile('tests.py', {str(target)!r})\n"]:
        result = llm_eval.run_sample(program, "assert True\n", FAST)
        assert not result.passed and not target.exists(), (program, result)
    inside = llm_eval.run_sample("open('notes.txt', 'w').write('x')\nassert open('notes.txt').read() == 'x'\n",
                                 "assert True\n", FAST)
    assert inside.passed, inside  # its own directory is writable


@pytest.mark.timeout(30)
def test_the_child_sees_a_stripped_environment():
    program = "import os, sys\nenv = dict(os.environ)\npaths = list(sys.path)\n"
    tests = ("assert set(env) <= {'PATH', 'LC_CTYPE'}, env\n"
             "assert not any('site-packages' in p for p in paths), paths\n")
    assert llm_eval.run_sample(program, tests, FAST).passed


def test_rlimits_follow_the_spec():
    limits = llm_eval.Limits(cpu_seconds=3, memory_bytes=256 << 20, file_bytes=4096, open_files=16)
    assert dict(sandbox.rlimits(limits)) == {
        resource.RLIMIT_CPU: (3, 4), resource.RLIMIT_AS: (256 << 20, 256 << 20),
        resource.RLIMIT_FSIZE: (4096, 4096), resource.RLIMIT_NOFILE: (16, 16),
        resource.RLIMIT_NPROC: (0, 0), resource.RLIMIT_CORE: (0, 0)}
    assert len(sandbox.rlimits(limits)) == 6


@pytest.mark.parametrize("code, stdout, stderr, status, detail", [
    (0, "log\nN0NCE\n", "", "passed", ""),
    (0, "N0NCE\nmore\n", "", "failed", "exited without passing the tests"),   # the nonce must come last
    (0, "", "", "failed", "exited without passing the tests"),                # exit 0 alone is not a pass
    (0, "n0nce\n", "", "failed", "exited without passing the tests"),         # exactly the nonce
    (1, "N0NCE\n", "Traceback\nAssertionError: add(2, 3) != 5\n", "failed", "AssertionError: add(2, 3) != 5"),
    (1, "", "x\nAssertionError\n\n  \n", "failed", "AssertionError"),          # the last non-empty line
    (3, "", "SandboxRefused: os.fork\n", "refused", "os.fork"),
    (-9, "N0NCE\n", "", "killed", "SIGKILL"),
    (-24, "", "", "killed", "SIGXCPU"),
    (None, "N0NCE\n", "", "timeout", "wall-clock timeout"),
])
def test_the_verdict_follows_the_spec(code, stdout, stderr, status, detail):
    result = sandbox.verdict(code, stdout, stderr, "N0NCE", 0.25)
    assert (result.passed, result.status, result.detail, result.seconds) == (status == "passed", status, detail, 0.25)


@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="strings of Python source"):
        llm_eval.run_sample(b"print(1)", TESTS)
    with pytest.raises(ValueError, match="no tests for the tasks"):
        llm_eval.evaluate_code({"a": ["x = 1"]}, {})
