"""What counts as started (mlpractice/progress.py) and how stub hits are read (mlpractice/stubs.py)."""
import pytest

from mlpractice import generate, progress, stubs

pytestmark = pytest.mark.scaffold

SOLUTION = '''
def f(x):
    # BEGIN SOLUTION [9.1] first half (section 1)
    return x
    # END SOLUTION


def g(x):
    # BEGIN SOLUTION [9.1] second half (section 1)
    return -x
    # END SOLUTION
'''


def test_a_stub_counts_until_its_raise_statement_is_gone():
    starter, regions = generate.rewrite(SOLUTION)
    assert [r.requirement for r in regions] == ["9.1", "9.1"]
    assert progress.stubs_in(starter)["9.1"] == 2
    commented = starter.replace("    raise NotImplementedError", "    # raise NotImplementedError", 1)
    assert progress.stubs_in(commented)["9.1"] == 1  # commented out: that region is started
    broken = commented + "\ndef h(:\n"  # work in progress that does not parse yet
    assert progress.stubs_in(broken)["9.1"] == 1


def test_states_over_a_tree(tmp_path):
    (tmp_path / "solutions" / "pkg").mkdir(parents=True)
    (tmp_path / "solutions" / "pkg" / "m.py").write_text(SOLUTION)
    starter = generate.generate_tree(["pkg"], tmp_path / "solutions")["pkg/m.py"].decode()
    exercises = tmp_path / "exercises" / "pkg"
    exercises.mkdir(parents=True)

    def state(text):
        (exercises / "m.py").write_text(text)
        return progress.parts(["pkg"], tmp_path / "solutions", tmp_path / "exercises")["9.1"].state

    assert state(starter) == "not attempted"
    assert state(starter.replace("    raise NotImplementedError", "    return 0  #", 1)) == "in progress"
    assert state(generate.rewrite(SOLUTION, keep={"9.1"})[0]) == "done"


def test_hits_are_read_in_order_once_each_and_a_partial_line_waits(tmp_path):
    log = tmp_path / "hits"
    log.write_bytes(b"Exercise 2.3: LRU lookup\nExercise 2.1: fire\nExercise 2.3: LRU lookup\nExercise 2.")
    hits, offset = stubs.read_hits(str(log))
    assert hits == ["Exercise 2.3: LRU lookup", "Exercise 2.1: fire"]
    with log.open("ab") as f:
        f.write(b"2: dequeue\n")
    assert stubs.read_hits(str(log), offset) == (["Exercise 2.2: dequeue"], log.stat().st_size)
