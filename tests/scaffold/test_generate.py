"""The starter generator: regions become stubs, everything else is copied byte for byte."""
import pytest

from mlpractice import generate
from mlpractice.generate import MarkerError, stub_source

pytestmark = pytest.mark.scaffold

SOLUTION = '''"""Module docstring."""
import math


def area(r):
    """Area of a circle of radius r."""
    # BEGIN SOLUTION [1.4] compute the area (section 2)
    # HINT: math.pi is there for you.
    return math.pi * r * r
    # END SOLUTION


def untouched():
    return 1
'''


def test_region_becomes_a_stub_that_names_exercise_task_and_notebook_section():
    out, regions = stub_source(SOLUTION)
    assert regions == 1
    assert "math.pi * r * r" not in out
    assert ("raise NotImplementedError('Exercise 1.4: compute the area - see "
            "notebooks/01_llm_evaluation.ipynb, section 2')") in out
    assert "    # Hint: math.pi is there for you.\n" in out
    namespace = {}
    exec(compile(out, "<stub>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"^Exercise 1\.4: compute the area"):
        namespace["area"](2.0)
    assert namespace["untouched"]() == 1


def test_lines_outside_regions_are_copied_unchanged():
    out, _ = stub_source(SOLUTION)
    kept = [line for line in SOLUTION.splitlines() if "SOLUTION" not in line and "math.pi *" not in line
            and "HINT" not in line]
    assert [line for line in out.splitlines() if "Exercise 1.4" not in line and "Hint:" not in line] == kept


def test_section_is_optional():
    src = "def f():\n    # BEGIN SOLUTION [3.2] sum the chunks\n    return 1\n    # END SOLUTION\n"
    out, _ = stub_source(src)
    assert "'Exercise 3.2: sum the chunks - see notebooks/03_distributed_training.ipynb'" in out


@pytest.mark.parametrize("source, problem", [
    ("# BEGIN SOLUTION [1.1] x\nx = 1\n# END SOLUTION\n", "inside a function body"),
    ("def f():\n    # BEGIN SOLUTION [1.1] x\n    return 1\n", "never closed"),
    ("def f():\n    # END SOLUTION\n", "without a matching BEGIN"),
    ("def f():\n    # BEGIN SOLUTION no id here\n    return 1\n    # END SOLUTION\n", "malformed marker"),
    ("def f():\n    # BEGIN SOLUTION [1.1] a\n    # BEGIN SOLUTION [1.2] b\n    # END SOLUTION\n", "nested"),
])
def test_bad_markers_are_refused_with_file_and_line(source, problem):
    with pytest.raises(MarkerError, match=problem) as err:
        stub_source(source, "solutions/x/y.py")
    assert "solutions/x/y.py:" in str(err.value)


def test_tree_round_trip_and_staleness(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    (solutions / "pkg").mkdir(parents=True)
    (solutions / "__init__.py").write_text('"""top"""\n')
    (solutions / "pkg" / "__init__.py").write_text("from .mod import area\n")
    (solutions / "pkg" / "mod.py").write_text(SOLUTION)
    (solutions / "pkg" / "data.json").write_text('{"k": 1}')

    assert generate.stale_files(["pkg"], solutions, exercises)  # nothing generated yet
    generate.write_tree(["pkg"], solutions, exercises)
    assert generate.stale_files(["pkg"], solutions, exercises) == []
    assert (exercises / "pkg" / "data.json").read_text() == '{"k": 1}'
    assert (exercises / "pkg" / "mod.py").read_text().startswith("# Starter code generated from solutions/pkg/mod.py")

    (solutions / "pkg" / "mod.py").write_text(SOLUTION.replace("return 1", "return 2"))
    assert generate.stale_files(["pkg"], solutions, exercises) == ["pkg/mod.py"]
    (exercises / "pkg" / "leftover.py").write_text("")
    assert "pkg/leftover.py" in generate.stale_files(["pkg"], solutions, exercises)
    generate.write_tree(["pkg"], solutions, exercises)
    assert not (exercises / "pkg" / "leftover.py").exists()


def test_committed_exercises_are_current_and_every_package_has_learner_regions():
    assert generate.stale_files() == [], "run `make exercises`"
    for package in (p for p in generate.SOLUTIONS.iterdir() if p.is_dir() and p.name != "__pycache__"):
        regions = sum(stub_source(f.read_text(), str(f))[1] for f in package.rglob("*.py"))
        assert regions > 0, f"solutions/{package.name} has no BEGIN SOLUTION region for the learner"
