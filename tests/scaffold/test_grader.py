"""The grader plugin, driven through pytester as `make check` and `make test` use it, on a small
exercise of its own (requirements 9.1-9.3) whose starter is generated like the real ones."""
import textwrap

import pytest

from mlpractice import generate

pytestmark = pytest.mark.scaffold

PARTS = '''
def widget(x):
    """Twice x."""
    # BEGIN SOLUTION [9.1] double it (section 1)
    return 2 * x
    # END SOLUTION


def gadget(x):
    """widget(x) + 1, or -1 when widget fails: code under test that swallows a stub's exception."""
    # BEGIN SOLUTION [9.2] add one to the widget's output (section 2)
    try:
        return widget(x) + 1
    except Exception:
        return -1
    # END SOLUTION


def gizmo_left(x):
    # BEGIN SOLUTION [9.3] the gizmo's left half
    return x
    # END SOLUTION


def gizmo_right(x):
    # BEGIN SOLUTION [9.3] the gizmo's right half
    return -x
    # END SOLUTION
'''

TESTS = '''
import subprocess, sys
import pytest
from hypothesis import given, strategies as st
from mlpractice.impl import load

w = load("widget")


@pytest.mark.exercise("9.1", "the widget")
def test_widget_value():
    assert w.widget(3) == 6


@pytest.mark.exercise("9.1", "the widget")
@given(st.integers(0, 1000))
def test_widget_doubles(x):
    assert w.widget(x) == 2 * x, f"widget({x}) is not 2 * {x}"


@pytest.mark.exercise("9.2", "the gadget")
def test_gadget():
    assert w.gadget(3) == 7


@pytest.mark.exercise("9.2", "the gadget")
def test_gadget_in_a_worker_process():
    out = subprocess.run([sys.executable, "-c", "from mlpractice.impl import load; print(load('widget').gadget(3))"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "7"


@pytest.mark.exercise("9.3", "the gizmo")
def test_gizmo():
    assert w.gizmo_left(2) + w.gizmo_right(2) == 0
'''


def make_tree(pytester, keep=(), edit=None):
    """solutions/widget + its generated exercises/widget (with `keep` filled in) + the tests."""
    solutions = pytester.path / "solutions"
    (solutions / "widget").mkdir(parents=True)
    (solutions / "__init__.py").write_text('"""Reference."""\n')
    (solutions / "widget" / "__init__.py").write_text("from .parts import gadget, gizmo_left, gizmo_right, widget\n")
    (solutions / "widget" / "parts.py").write_text(PARTS)
    for rel, data in generate.generate_tree(solutions=solutions, keep=set(keep)).items():
        target = pytester.path / "exercises" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if edit:
        parts = pytester.path / "exercises" / "widget" / "parts.py"
        parts.write_text(edit(parts.read_text()))
    pytester.makepyfile(test_widget=TESTS)


def check(pytester, *extra):
    """`make check` on the tree: the scoreboard, in a fresh process (worker processes need one)."""
    return pytester.runpytest_subprocess("-p", "mlpractice.grader", "-p", "no:nbval", "--impl=exercises", "--scoreboard",
                                         "-p", "no:cacheprovider", "--tb=no", *extra)


def board(result) -> str:
    out = result.stdout.str()
    return out[out.index("scoreboard (exercises)"):]


def test_untouched_parts_are_not_attempted_and_their_tests_are_not_run(pytester):
    make_tree(pytester)
    result = check(pytester)
    result.assert_outcomes(skipped=5)
    text = board(result)
    assert "9.1  the widget.. not attempted: double it (EXERCISES.md)" in text, text
    assert "9.2  the gadget.. not attempted" in text and "9.3  the gizmo... not attempted" in text
    assert "FAILED" not in text and "0 of 3 requirements complete" in text


def test_a_part_whose_tests_reach_an_untouched_part_is_blocked_by_it_even_when_the_stub_is_swallowed(pytester):
    make_tree(pytester, keep={"9.2"})  # gadget catches widget's NotImplementedError, here and in a worker
    text = board(check(pytester))
    assert "9.2  the gadget.. blocked by 9.1 (not attempted) (0/2 pass): implement that first" in text, text
    assert "FAILED" not in text and "partial" not in text


def test_a_wrong_answer_fails_with_its_whole_message_the_minimal_example_and_a_rerun_command(pytester):
    make_tree(pytester, keep={"9.1", "9.2"},
              edit=lambda src: src.replace("return 2 * x", "return 2 * x + (x > 5)"))
    text = board(check(pytester))
    assert "9.1  the widget.. FAILED (1/2 pass)" in text, text
    assert "test_widget.py::test_widget_doubles" in text
    assert "AssertionError: widget(6) is not 2 * 6" in text  # hypothesis shrank to the boundary
    assert "x=6" in text  # the minimal failing example
    assert "rerun with tracebacks: " in text and "--impl=exercises --req=9.1" in text
    assert "9.2  the gadget.. passed (2/2)" in text


def test_a_part_in_progress_reads_partial_and_names_its_remaining_stub(pytester):
    make_tree(pytester, edit=lambda src: _fill_first_stub(src, "9.3", "return x"))
    text = board(check(pytester))
    assert "9.3  the gizmo... partial (0/1 pass): 1 test still reaches your stub: Exercise 9.3: " \
           "the gizmo's right half - see EXERCISES.md" in text, text


def _fill_first_stub(source: str, requirement: str, code: str) -> str:
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if f"raise NotImplementedError(\"Exercise {requirement}:" in line or \
                f"raise NotImplementedError('Exercise {requirement}:" in line:
            lines[i] = line[: len(line) - len(line.lstrip())] + code + "\n"
            break
    return "".join(lines)


def test_only_the_chosen_requirement_runs_with_req(pytester):
    make_tree(pytester, keep={"9.1"})
    result = check(pytester, "--req=9.1")
    result.assert_outcomes(passed=2)
    assert "9.2" not in board(result)


def test_long_messages_are_wrapped_whole_never_cut(pytester):
    make_tree(pytester, keep={"9.1"})
    long_list = list(range(60))
    pytester.makepyfile(test_long=textwrap.dedent(f'''
        import pytest
        @pytest.mark.exercise("9.1", "the widget")
        def test_long():
            assert {long_list!r} == {long_list[::-1]!r}, "the online store's answer, in full"
    '''))
    text = board(check(pytester))
    block = text[text.index("FAILED"): text.index("rerun with tracebacks")]
    assert "AssertionError: the online store's answer, in full" in block, text  # an apostrophe ends nothing
    assert "assert [0, 1, 2, 3, 4, 5, ...] == [59, 58, 57, 56, 55, 54, ...]" in block  # whole, balanced
    assert all(len(line) <= 100 for line in block.splitlines()), block


def test_expect_stubs_accepts_the_untouched_starter(pytester):
    make_tree(pytester)
    result = pytester.runpytest_subprocess("-p", "mlpractice.grader", "-p", "no:nbval", "--impl=exercises", "--expect-stubs")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*5 of 5 graded tests report 'not attempted'*"])


def test_expect_stubs_fails_on_a_test_that_passes_or_fails_without_reaching_a_stub(pytester):
    make_tree(pytester)
    pytester.makepyfile(test_weak='''
        import pytest
        @pytest.mark.exercise("9.1", "the widget")
        def test_asserts_nothing():
            pass
        @pytest.mark.exercise("9.1", "the widget")
        def test_fails_on_its_own():
            assert 1 == 2
    ''')
    result = pytester.runpytest_subprocess("-p", "mlpractice.grader", "-p", "no:nbval", "--impl=exercises", "--expect-stubs")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*DEFECT passed: test_weak.py::test_asserts_nothing*",
                                 "*DEFECT failed: test_weak.py::test_fails_on_its_own*"])


def test_scaffold_tests_are_not_graded(pytester):
    make_tree(pytester)
    pytester.makepyfile(test_infra="import pytest\n@pytest.mark.scaffold\ndef test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "mlpractice.grader", "-p", "no:nbval", "--impl=exercises", "--expect-stubs")
    assert result.ret == 0, result.stdout.str()


def test_solutions_pass(pytester):
    make_tree(pytester)
    result = pytester.runpytest_subprocess("-p", "mlpractice.grader", "-p", "no:nbval", "--impl=solutions")
    result.assert_outcomes(passed=5)


RELAYED = '''
import pytest
pytestmark = pytest.mark.exercise("8.1", "relayed")

def test_error_relayed_from_a_worker():
    raise RuntimeError("rank 1 failed: NotImplementedError: Exercise 8.1: the online store's rule - see x.ipynb")
'''


def test_a_stub_named_only_in_a_relayed_message_still_counts(pytester):
    # a requirement without marked regions here (the worker's code is elsewhere): its stub text decides
    make_tree(pytester)
    pytester.makepyfile(test_relayed=RELAYED)
    result = check(pytester, "-rs")
    assert "8.1  relayed" in board(result) and "not attempted: the online store's rule (x.ipynb)" in board(result)


def test_grader_works_beside_a_subfolder_conftest(pytester):
    # a conftest in a sibling folder makes pytest filter plugins through sets for the other
    # folder's tests, so the grader's plugin object must be hashable
    make_tree(pytester)
    for name in ("a", "b"):
        pytester.mkpydir(name)
    (pytester.path / "b" / "conftest.py").write_text("import pytest\n@pytest.fixture\ndef answer():\n    return 42\n")
    (pytester.path / "a" / "test_a.py").write_text(TESTS)
    result = pytester.runpytest_subprocess("-p", "mlpractice.grader", "-p", "no:nbval", "--impl=exercises", "--expect-stubs", "a", "b")
    assert result.ret == 0, result.stdout.str()
