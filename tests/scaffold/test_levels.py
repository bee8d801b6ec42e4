"""Two levels from one source (mlpractice/levels.py): the guided level is today's starter with the
component markers dropped; the interview level blanks each component's functions to their specs."""
import pytest

from mlpractice import generate, interview, levels, progress

pytestmark = pytest.mark.scaffold

SOLUTION = '''import math

RATE = 2


# BEGIN INTERVIEW [9.1, 9.2] the scaler (section 4)
class Scaler:
    """Scales numbers."""
    unit = "m"

    def __init__(self, k):
        """k: the factor."""
        self.k = k

    @staticmethod
    def helper(x):
        return math.floor(x)

    def scale(self, x):
        """x times k."""
        # BEGIN SOLUTION [9.2] multiply (section 4)
        # HINT: k * x
        return self.k * x
        # END SOLUTION


def both(s, x):
    """Scale then floor."""
    # BEGIN SOLUTION [9.1] floor it (section 4)
    return s.helper(s.scale(x))
    # END SOLUTION
# END INTERVIEW


def outside(x):
    # BEGIN SOLUTION [9.3] add the rate
    return x + RATE
    # END SOLUTION
'''


def test_the_guided_level_only_drops_the_component_markers():
    guided, regions = generate.rewrite(SOLUTION)
    plain, same = generate.rewrite(levels.strip_markers(SOLUTION))
    assert guided == plain and regions == same and "INTERVIEW" not in guided
    assert [r.requirement for r in regions] == ["9.2", "9.1", "9.3"]


def test_the_interview_level_keeps_every_spec_and_blanks_every_body():
    text, regions = generate.rewrite(SOLUTION, level="interview")
    compile(text, "x.py", "exec")
    assert '"""Scales numbers."""' in text and 'unit = "m"' in text and '"""x times k."""' in text
    assert "@staticmethod" in text and "def helper(x):" in text and "def both(s, x):" in text
    assert "self.k = k" not in text and "math.floor" not in text and "Hint" not in text and "HINT" not in text
    # each body's stub belongs to the guided region it held, else to the component's first requirement
    assert progress.stubs_in(text) == {"9.1": 3, "9.2": 1, "9.3": 1}
    assert [r.requirement for r in regions] == ["9.3"]  # the guided region outside any component stays
    namespace = {}
    exec(compile(text, "x.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"^Exercise 9\.1: the scaler - see EXERCISES\.md"):
        namespace["Scaler"](2)


def test_a_kept_component_is_the_reference_at_either_level():
    text, _ = generate.rewrite(SOLUTION, keep={"9.1", "9.2"}, level="interview")
    assert "return self.k * x" in text and "return s.helper(s.scale(x))" in text
    assert progress.stubs_in(text) == {"9.3": 1}


def test_keeping_one_requirement_keeps_only_the_functions_it_owns():
    # a learner who did 9.2 alone at the interview level has written `scale`, nothing of 9.1's
    text, _ = generate.rewrite(SOLUTION, keep={"9.2"}, level="interview")
    assert "return self.k * x" in text
    assert "self.k = k" not in text and "return s.helper(s.scale(x))" not in text
    assert progress.stubs_in(text) == {"9.1": 3, "9.3": 1}


HELPERS = '''# BEGIN INTERVIEW [9.1] the job (section 1)
def _unused(x):
    return x + 1


def _named_by_a_spec(x):
    return x * 2


def job(x):
    """Twice x plus one (`_named_by_a_spec` doubles)."""
    return _unused(_named_by_a_spec(x))


def _named_outside(x):
    return x
# END INTERVIEW


Y = _named_outside(1)
'''


def test_the_reference_s_own_helpers_are_dropped_unless_something_left_names_them():
    text, _ = generate.rewrite(HELPERS, level="interview")
    compile(text, "x.py", "exec")
    assert "_unused" not in text and "def _named_by_a_spec(x):" in text and "def _named_outside(x):" in text
    assert progress.stubs_in(text) == {"9.1": 3}


def test_components_count_the_reference_lines_they_blank():
    _, [component] = levels.blank_components(SOLUTION)
    assert component.requirements == ("9.1", "9.2") and component.reference_lines == 4


@pytest.mark.parametrize("source, problem", [
    ("# BEGIN INTERVIEW [9.1] x\ndef f():\n    return 1\n", "never closed"),
    ("def f():\n    return 1\n# END INTERVIEW\n", "without a matching BEGIN"),
    ("# BEGIN INTERVIEW x\ndef f():\n    return 1\n# END INTERVIEW\n", "malformed"),
    ("# BEGIN INTERVIEW [9.1] x\nX = 1\n# END INTERVIEW\n", "whole functions or classes"),
    ("# BEGIN INTERVIEW [9.1] x\ndef f(): return 1\n# END INTERVIEW\n", "its own lines"),
])
def test_bad_component_markers_are_errors_naming_the_line(source, problem):
    with pytest.raises(generate.MarkerError, match=problem):
        generate.rewrite(source, "solutions/x/y.py", level="interview")


def test_both_levels_of_every_package_compile_and_list_the_same_requirements():
    guided = generate.starter_stubs()
    interview = generate.starter_stubs(levels_by_package={p: "interview" for p in ("llm_eval", "serving",
                                                                                     "distributed", "features")})
    assert set(interview) == set(guided)  # the same scoreboard at both levels
    for rel, data in generate.generate_tree(level="interview").items():
        if rel.endswith(".py"):
            compile(data, rel, "exec")


@pytest.mark.timeout(600)
def test_the_untouched_interview_starter_reads_not_attempted_for_every_graded_test(tmp_path):
    """The untouched-starter check at the interview level: every exercise marks components, and one
    pytest run (one collection) grades all of them, as `make test-stubs` does at the guided level."""
    from .checkout import make_checkout, run_in
    unmarked = [p for _, (p, _) in sorted(generate.EXERCISES.items()) if not interview.components(p)]
    assert not unmarked, f"exercises without an interview component: {unmarked}"
    checkout = make_checkout(tmp_path / "interview", level="interview")
    assert {progress.level_of(p, checkout / "exercises") for p, _ in generate.EXERCISES.values()} == {"interview"}
    result = run_in(checkout, "-m", "pytest", "tests", "--impl=exercises", "--expect-stubs",
                    "-m", "not scaffold", "-q", "-p", "no:warnings", "-p", "no:nbval", "-p", "no:cacheprovider",
                    "--tb=short", "-rN", timeout=560)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "report 'not attempted'" in result.stdout
