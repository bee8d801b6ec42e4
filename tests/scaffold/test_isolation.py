"""A learner who implements parts in any order never sees FAILED for a part they did not touch.

For every requirement R of every exercise, at both levels: a starter in which only R's code is the
reference (its regions at the guided level; the components it belongs to, else its regions, at the
interview level), graded by `make check` (python -m mlpractice check N). R must read "passed", or
"blocked by" requirements that R's tests really need (PREREQUISITES, and at the interview level also
INTERVIEW_PREREQUISITES), and every other requirement "not attempted".

Each grading runs `make check`'s pytest arguments in a child forked from a server that imported the
heavy libraries once (forkserver.py): the same run as `python -m mlpractice check N` in the checkout,
without re-importing torch and scikit-learn fifty times.
"""
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mlpractice import progress
from mlpractice.__main__ import check_arguments

from .checkout import env_for, make_checkout
from .forkserver import ForkServer

pytestmark = pytest.mark.scaffold

# What each requirement's tests need besides its own code: its tests may read "blocked by" these,
# and only these, while they are stubs. The 2.x server parts need the batcher and the model cache.
SERVER = {"2.1", "2.2", "2.3"}
PREREQUISITES = {
    "2.1": {"2.2"}, "2.2": {"2.1"},  # the batcher needs its firing rule and its dequeue
    "1.3": {"1.1", "1.2", "1.4"},  # the protocol's tests stream and shard the built-in metrics
    "1.5": {"1.3"}, "1.6": {"1.3"}, "1.12": {"1.1", "1.3"}, "1.7": {"1.1", "1.2", "1.3", "1.4"}, "1.8": {"1.1", "1.2", "1.3", "1.4", "1.7"},
    "2.4": SERVER, "2.5": SERVER | {"2.4"}, "2.6": SERVER | {"2.4"}, "2.7": SERVER | {"2.4", "2.5", "2.6"},
    "2.8": SERVER | {"2.4"}, "2.10": {"2.9"},  # the paged cache is tested through the scheduler
    "3.3": {"3.1", "3.2"}, "3.4": {"3.1", "3.2", "3.3"}, "3.5": {"3.1", "3.2", "3.3"},
    "3.6": {"3.1", "3.2", "3.3", "3.4"}, "3.10": {"3.2"},
    "4.2": {"4.1"}, "4.3": {"4.1"}, "4.4": {"4.1", "4.2"}, "4.5": {"4.1", "4.2", "4.3"}, "4.6": {"4.1", "4.5"},
    "4.7": {"4.1", "4.2", "4.4", "4.5"}, "4.8": {"4.1", "4.2", "4.3", "4.5"},
    "4.9": {"4.1", "4.2", "4.3", "4.5", "4.8"},
}
# At the interview level whole components are blank: a part whose tests run through one is blocked by it
# until it is written: the event-time core (4.5) carries every feature of exercise 4 through the pipeline.
INTERVIEW_PREREQUISITES = {"4.2": {"4.5"}, "4.3": {"4.5"}, "4.4": {"4.5"}}
ROW = re.compile(r"^(\d+\.\d+)  .*?\.* (not attempted|passed|FAILED|blocked by|partial)\b(.*)$")
REQUIREMENTS = list(progress.parts())


def scoreboard(stdout: str) -> dict[str, str]:
    rows = {}
    for line in stdout.splitlines():
        match = ROW.match(line)
        if match:
            rows[match[1]] = match[2] + match[3]
    return rows


# Writing a checkout parses every solution file, and CPython 3.11's ast.parse is not thread-safe (one CI run
# died of "SystemError: AST constructor recursion depth mismatch"): the pool's threads take turns there,
# which costs nothing, since parsing holds the GIL anyway; only the gradings run side by side.
CHECKOUT = threading.Lock()


def problem(requirement: str, root, level: str, server: ForkServer) -> str | None:
    """Grade a starter with only `requirement` filled in; what is wrong with its scoreboard, or None."""
    exercise = int(requirement.split(".")[0])
    with CHECKOUT:
        checkout = make_checkout(root / requirement, keep={requirement}, level=level)
    # statuses are what is checked here, not the reference's answers (the suite checks those): a few
    # examples per property test say "passed" or "blocked by" as well as the full search does
    result = server.run(checkout, check_arguments(exercise), env_for(checkout, MLPRACTICE_MAX_EXAMPLES="5"),
                        timeout=280)
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
        allowed = PREREQUISITES.get(requirement, set()) | (
            INTERVIEW_PREREQUISITES.get(requirement, set()) if level == "interview" else set())
        if not blockers or not blockers <= allowed:
            return (f"blocked by {sorted(blockers - allowed)}, which its tests should not need:\n"
                    f"{result.stdout[-4000:]}")
    elif not status.startswith("passed"):
        return f"{status}\n{result.stdout[-4000:]}"
    return None


@pytest.fixture(scope="module", params=["guided", "interview"])
def problems(request, tmp_path_factory) -> tuple[str, dict[str, str | None]]:
    """Every requirement graded alone at one level, three at a time in one pool (each grading is mostly
    interpreter start, collection and its own tests, and waits on its worker processes: on 2 cores three
    gradings took 170 s where two took 185 s; one pool for all exercises leaves no thread idle at the end
    of an exercise). Distributed training first: its gradings take longest."""
    level = request.param
    root = tmp_path_factory.mktemp(f"isolation-{level}")
    # only the exercises whose tests at this level were selected (`make test` grades the interview level
    # of one exercise per commit, in turn; `make test-isolation` grades all)
    chosen = {item.callspec.params["exercise"] for item in request.session.items
              if item.originalname == "test_each_part_done_alone_reads_passed_or_blocked_and_nothing_else_moves"
              and item.callspec.params.get("problems") == level}
    order = sorted((r for r in REQUIREMENTS if r.split(".")[0] in chosen),
                   key=lambda r: (r.split(".")[0] != "3", progress.requirement_key(r)))
    servers, mine = [], threading.local()

    def grade(requirement: str) -> str | None:
        if not hasattr(mine, "server"):
            mine.server = ForkServer(root / f"server-{threading.get_ident()}")
            servers.append(mine.server)
        return problem(requirement, root, level, mine.server)

    try:
        with ThreadPoolExecutor(3) as pool:
            return level, dict(zip(order, pool.map(grade, order)))
    finally:
        for server in servers:
            server.close()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("exercise", sorted({r.split(".")[0] for r in REQUIREMENTS}))
def test_each_part_done_alone_reads_passed_or_blocked_and_nothing_else_moves(exercise, problems):
    level, problems = problems
    mine = [r for r in REQUIREMENTS if r.split(".")[0] == exercise]
    found = {r: problems[r] for r in mine}
    bad = {r: p for r, p in found.items() if p}
    assert not bad, f"{len(bad)} of {len(mine)} requirements at the {level} level:\n" + "\n\n".join(f"== {r}: {p}" for r, p in bad.items())
