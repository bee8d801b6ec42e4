"""The grader plugin, driven through pytester exactly as `make check` and `make test` use it."""
import pytest

pytestmark = pytest.mark.scaffold

GRADED = '''
import pytest
from mlpractice import impl

pytestmark = pytest.mark.exercise("9.1", "the widget")

def widget():
    if impl.current() == "exercises":
        raise NotImplementedError("Exercise 9.1: build the widget - see notebooks/x.ipynb, section 1")
    return 42

def test_widget_value():
    assert widget() == 42

def test_widget_type():
    assert isinstance(widget(), int)
'''

RELAYED = '''
import pytest
pytestmark = pytest.mark.exercise("9.2", "relayed")

def test_error_relayed_from_a_worker():
    raise RuntimeError("rank 1 failed: NotImplementedError: Exercise 9.2: reduce - see notebooks/x.ipynb")
'''


def run(pytester, *args):
    pytester.makepyfile(test_graded=GRADED, test_relayed=RELAYED)
    return pytester.runpytest("-p", "mlpractice.grader", *args)


def test_stubs_are_reported_as_not_attempted(pytester):
    result = run(pytester, "--impl=exercises", "-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*not attempted yet: Exercise 9.1: build the widget*"])
    assert "Traceback" not in result.stdout.str()


def test_solutions_pass(pytester):
    pytester.makepyfile(test_graded=GRADED)
    pytester.runpytest("-p", "mlpractice.grader", "--impl=solutions").assert_outcomes(passed=2)


def test_expect_stubs_accepts_untouched_starter(pytester):
    pytester.makepyfile(test_graded=GRADED)
    result = pytester.runpytest("-p", "mlpractice.grader", "--impl=exercises", "--expect-stubs")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*2 of 2 graded tests report 'not attempted'*"])


def test_expect_stubs_fails_when_a_graded_test_passes_against_stubs(pytester):
    pytester.makepyfile(test_graded=GRADED, test_weak="def test_asserts_nothing():\n    pass\n")
    result = pytester.runpytest("-p", "mlpractice.grader", "--impl=exercises", "--expect-stubs")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*DEFECT passed: test_weak.py::test_asserts_nothing*"])


def test_scaffold_tests_are_not_graded(pytester):
    pytester.makepyfile(test_graded=GRADED, test_infra="import pytest\n@pytest.mark.scaffold\ndef test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "mlpractice.grader", "--impl=exercises", "--expect-stubs")
    assert result.ret == 0


def test_scoreboard_lists_each_requirement(pytester):
    pytester.makepyfile(test_graded=GRADED, test_relayed=RELAYED,
                        test_broken='import pytest\npytestmark = pytest.mark.exercise("9.3", "broken")\n'
                                    'def test_b():\n    assert 1 == 2, "one is not two"\n')
    result = pytester.runpytest("-p", "mlpractice.grader", "--impl=exercises", "--scoreboard")
    result.stdout.fnmatch_lines([
        "*9.1  the widget*not attempted: Exercise 9.1: build the widget*",
        "*9.2  relayed*not attempted*",
        "*9.3  broken*FAILED (0/1 pass): AssertionError: one is not two*",
        "*0 of 3 requirements complete*",
    ])


def test_grader_works_beside_a_subfolder_conftest(pytester):
    # a conftest in a sibling folder makes pytest filter plugins through sets for the other
    # folder's tests, so the grader's plugin object must be hashable
    for name in ("a", "b"):
        pytester.mkpydir(name)
    (pytester.path / "b" / "conftest.py").write_text("import pytest\n@pytest.fixture\ndef answer():\n    return 42\n")
    (pytester.path / "a" / "test_a.py").write_text(GRADED)
    (pytester.path / "b" / "test_b.py").write_text(GRADED + "\ndef test_fixture(answer):\n    assert widget() == answer\n")
    result = pytester.runpytest("-p", "mlpractice.grader", "--impl=exercises", "--expect-stubs")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*5 of 5 graded tests report 'not attempted'*"])
