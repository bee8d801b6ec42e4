"""The mutant catalogue (mlpractice/mutants.py) applies to the reference, and a stale or misplaced mutant
is an error, never a silent survivor."""
import pytest

from mlpractice import mutants

pytestmark = pytest.mark.scaffold

SOURCE = '''def f(x):
    # BEGIN SOLUTION [9.1] the part (section 1)
    return x + 1
    # END SOLUTION


def g(x):
    return x + 1 if x else 0
'''


def test_every_mutant_in_the_catalogue_applies_inside_its_requirements_region():
    found = mutants.catalogue()
    assert found, "no mutants found"
    for m in found:
        source = (mutants.generate.SOLUTIONS / m.file).read_text()
        assert mutants.apply(m, source) != source


def test_each_requirement_in_a_catalogue_has_at_least_five_mutants():
    counts = {}
    for m in mutants.catalogue():
        counts[m.requirement] = counts.get(m.requirement, 0) + 1
    assert {r: n for r, n in counts.items() if n < 5} == {}


@pytest.mark.parametrize("old, new, requirement, problem", [
    ("    return x + 1\n", "    return x - 1\n", "9.1", None),
    ("return x + 2", "return x - 1", "9.1", "occurs 0 times"),
    ("x + 1", "x - 1", "9.1", "occurs 2 times"),  # also outside the region: ambiguous
    ("return x + 1 if x", "return x - 1 if x", "9.1", "not inside a region of 9.1"),
    ("    return x + 1\n", "    return x - 1\n", "9.2", "not inside a region of 9.2"),
    ("    return x + 1\n    # END", "    return x - 1\n    # END", "9.1", "not inside a region of 9.1"),  # crosses END
    ("    return x + 1\n", "    return x + 1\n", "9.1", "the same"),
])
def test_a_mutant_applies_once_inside_its_region_or_is_a_catalogue_error(old, new, requirement, problem):
    m = mutants.Mutant(requirement, "x.py", old, new, "why")
    if problem is None:
        assert "return x - 1" in mutants.apply(m, SOURCE)
    else:
        with pytest.raises(mutants.CatalogueError, match=problem):
            mutants.apply(m, SOURCE)


def test_ci_takes_the_changed_files_mutants_then_a_sample_by_seed_within_the_limit():
    cat = [mutants.Mutant("9.1", f"f{i % 3}.py", f"old{i}", f"new{i}", f"why{i}") for i in range(12)]
    changed = mutants.choose(cat, {"f1.py"}, sample=0, seed="abc", limit=0)
    assert changed == [m for m in cat if m.file == "f1.py"]
    picked = mutants.choose(cat, {"f1.py"}, sample=2, seed="abc", limit=0)
    assert set(changed) <= set(picked) and len(picked) == len(changed) + 2
    assert picked == sorted(picked, key=cat.index)  # catalogue order
    assert mutants.choose(cat, {"f1.py"}, sample=2, seed="abc", limit=0) == picked  # the same seed, the same
    assert len({tuple(mutants.choose(cat, set(), 3, seed, 0)) for seed in "abcdefgh"}) > 1  # it rotates
    assert len(mutants.choose(cat, {"f1.py"}, sample=2, seed="abc", limit=3)) == 3
    assert mutants.choose(cat, None, 0, "0", 0) == cat  # no selection asked for: all of them
