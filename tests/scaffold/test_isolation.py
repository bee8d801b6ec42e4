"""A learner who implements parts in any order never sees FAILED for a part they did not touch.

For every requirement R of every exercise: a starter in which only R's regions hold the reference
code, graded by `make check` (python -m mlpractice check N). R must read "passed", or "blocked by"
requirements that R's tests really need (PREREQUISITES), and every other requirement "not attempted".
"""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from mlpractice import progress

from .checkout import make_checkout, run_in

pytestmark = pytest.mark.scaffold

# What each requirement's tests need besides its own code: its tests may read "blocked by" these,
# and only these, while they are stubs. The 2.x server parts need the batcher and the model cache.
SERVER = {"2.1", "2.2", "2.3"}
PREREQUISITES = {
    "2.1": {"2.2"}, "2.2": {"2.1"},  # the batcher needs its firing rule and its dequeue
    "1.3": {"1.1", "1.2", "1.4"},  # the protocol's tests stream and shard the built-in metrics
    "1.5": {"1.3"}, "1.6": {"1.3"}, "1.7": {"1.1", "1.2", "1.3", "1.4"}, "1.8": {"1.1", "1.2", "1.3", "1.4", "1.7"},
    "2.4": SERVER, "2.5": SERVER | {"2.4"}, "2.6": SERVER | {"2.4"}, "2.7": SERVER | {"2.4", "2.5", "2.6"},
    "2.8": SERVER | {"2.4"},
    "3.3": {"3.1", "3.2"}, "3.4": {"3.1", "3.2", "3.3"}, "3.5": {"3.1", "3.2", "3.3"},
    "3.6": {"3.1", "3.2", "3.3", "3.4"}, "3.10": {"3.2"},
    "4.2": {"4.1"}, "4.3": {"4.1"}, "4.4": {"4.1", "4.2"}, "4.5": {"4.1", "4.2", "4.3"}, "4.6": {"4.1", "4.5"},
    "4.7": {"4.1", "4.2", "4.4", "4.5"}, "4.8": {"4.1", "4.2", "4.3", "4.5"},
    "4.9": {"4.1", "4.2", "4.3", "4.5", "4.8"},
}
ROW = re.compile(r"^(\d+\.\d+)  .*?\.* (not attempted|passed|FAILED|blocked by|partial)\b(.*)$")
REQUIREMENTS = list(progress.parts())


def scoreboard(stdout: str) -> dict[str, str]:
    rows = {}
    for line in stdout.splitlines():
        match = ROW.match(line)
        if match:
            rows[match[1]] = match[2] + match[3]
    return rows


def problem(requirement: str, root) -> str | None:
    """Grade a starter with only `requirement` filled in; what is wrong with its scoreboard, or None."""
    exercise = int(requirement.split(".")[0])
    checkout = make_checkout(root / requirement, keep={requirement})
    # statuses are what is checked here, not the reference's answers (the suite checks those): a few
    # examples per property test say "passed" or "blocked by" as well as the full search does
    result = run_in(checkout, "-m", "mlpractice", "check", str(exercise), timeout=280,
                    MLPRACTICE_MAX_EXAMPLES="5")
    rows = scoreboard(result.stdout)
    expected = {r for r in REQUIREMENTS if r.startswith(f"{exercise}.")}
    if set(rows) != expected:
        return f"rows {sorted(rows)} instead of {sorted(expected)}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    others = {r: s for r, s in rows.items() if r != requirement and not s.startswith("not attempted")}
    if others:
        return f"untouched parts must read 'not attempted', not {others}:\n{result.stdout[-4000:]}"
    status = rows[requirement]
    if status.startswith("blocked by"):
        blockers = set(re.findall(r"(\d+\.\d+) \(", status))
        allowed = PREREQUISITES.get(requirement, set())
        if not blockers or not blockers <= allowed:
            return (f"blocked by {sorted(blockers - allowed)}, which its tests should not need:\n"
                    f"{result.stdout[-4000:]}")
    elif not status.startswith("passed"):
        return f"{status}\n{result.stdout[-4000:]}"
    return None


@pytest.fixture(scope="module")
def problems(tmp_path_factory) -> dict[str, str | None]:
    """Every requirement graded alone, two at a time in one pool (each grading is mostly interpreter
    start, collection and its own tests; one pool for all exercises leaves no thread idle at the end of
    an exercise). Distributed training first: its gradings take longest."""
    root = tmp_path_factory.mktemp("isolation")
    order = sorted(REQUIREMENTS, key=lambda r: (r.split(".")[0] != "3", progress.requirement_key(r)))
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(order, pool.map(lambda r: problem(r, root), order)))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("exercise", sorted({r.split(".")[0] for r in REQUIREMENTS}))
def test_each_part_done_alone_reads_passed_or_blocked_and_nothing_else_moves(exercise, problems):
    mine = [r for r in REQUIREMENTS if r.split(".")[0] == exercise]
    found = {r: problems[r] for r in mine}
    bad = {r: p for r, p in found.items() if p}
    assert not bad, f"{len(bad)} of {len(mine)} requirements:\n" + "\n\n".join(f"== {r}: {p}" for r, p in bad.items())
