"""pytest plugin: grade the reference solutions or the learner's starter code.

Options
  --impl=solutions|exercises  which implementation `mlpractice.impl.load` returns
                              (also exported to worker processes via MLPRACTICE_IMPL)
  --scoreboard                the learner's run (`make check`): one line per requirement
                              (mlpractice/scoreboard.py), tests of untouched requirements not run,
                              hypothesis bounded so that a wrong answer is reported within seconds
  --req=2.3[,2.5]             run only the tests of these requirements
  --expect-stubs              the untouched-starter check (`make test`): fail the run unless every
                              graded test fails because it reached a stub (a graded test that passes,
                              or fails for another reason, against stubs is a defect)

What the learner has started comes from mlpractice/progress.py (which stubs are left in exercises/);
which stubs a test reached comes from mlpractice/stubs.py (recorded by every process, whatever the
code under test did with the exception), with the stub's text in the exception itself, relayed from a
worker process or an HTTP body, as a second source. A failing test of an attempted requirement is then

- "blocked" when it reached the stub of another requirement,
- "own stub" when it reached only a stub of its own requirement (work in progress),
- "failed" otherwise: a wrong answer, shown with its assertion message.

Tests say which requirement they grade with `pytestmark = pytest.mark.exercise("1.2", "ROUGE")`;
tests of shared scaffolding are marked `scaffold` and excluded from the exercises run.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

from . import impl, interview, progress, stubs
from .scoreboard import Outcome, render, verdicts

NOT_ATTEMPTED = "not attempted yet: "
BLOCKED = "blocked by "
EXAMPLE = re.compile(r"^(Falsifying example|Failing test case|Falsifying explicit example)\b", re.M)
# Learner runs: a wrong answer is reported in seconds, never after minutes of shrinking or waiting.
LEARNER_SHRINK_SECONDS = 8
LEARNER_TIMEOUT_S = 30.0


def pytest_addoption(parser):
    group = parser.getgroup("mlpractice", "exercise grading")
    group.addoption("--impl", choices=impl.IMPLEMENTATIONS, default=None,
                    help="grade the reference 'solutions' (default) or your 'exercises'")
    group.addoption("--scoreboard", action="store_true", help="print a per-requirement scoreboard")
    group.addoption("--req", default="", help="only the tests of these requirements, e.g. 2.3 or 2.3,2.5")
    group.addoption("--mutant-run", action="store_true",
                    help="one mutant's run (python -m mlpractice mutants): learner-bounded shrinking, hypothesis "
                         "derandomized and without its example database, so no run depends on an earlier one")
    group.addoption("--expect-stubs", action="store_true",
                    help="fail unless every graded test is 'not attempted' (untouched starter check)")


def pytest_configure(config):
    chosen = config.getoption("--impl") or impl.current()
    impl.use(chosen)  # before test modules are imported, and inherited by child processes
    board = Board(chosen, config)
    config._mlpractice = board
    config.pluginmanager.register(board, "mlpractice-board")
    config.addinivalue_line("markers", "exercise(id, title): the exercise requirement a graded test belongs to")
    config.addinivalue_line("markers", "scaffold: a test of shared infrastructure, not graded")
    if config.getoption("--scoreboard"):
        learner_hypothesis()
    if config.getoption("--mutant-run"):
        learner_hypothesis(derandomize=True, database=None)
    if config.getoption("--expect-stubs"):
        # every graded test must fail by reaching a stub: the first failing example says so, and
        # shrinking it (seconds per property test) would tell nothing more
        learner_hypothesis(database=None, phases=NO_SHRINK)


def pytest_unconfigure(config):
    board = getattr(config, "_mlpractice", None)
    if board is not None:
        board.close()


def learner_hypothesis(**options):
    """Bound hypothesis's shrinking (the minimal example found in a few seconds is kept and shown),
    and report one failure per test: the learner fixes one thing at a time. `options`: more settings."""
    try:
        import hypothesis
        from hypothesis.internal.conjecture import engine
    except ImportError:
        return
    engine.MAX_SHRINKING_SECONDS = min(getattr(engine, "MAX_SHRINKING_SECONDS", 300), LEARNER_SHRINK_SECONDS)
    if "phases" in options:
        options["phases"] = [getattr(hypothesis.Phase, name) for name in options["phases"]]
    hypothesis.settings.register_profile("mlpractice-learner", report_multiple_bugs=False, **options)
    hypothesis.settings.load_profile("mlpractice-learner")


NO_SHRINK = ("explicit", "reuse", "generate")  # hypothesis.Phase names, resolved in learner_hypothesis
MAX_EXAMPLES_VAR = "MLPRACTICE_MAX_EXAMPLES"  # the isolation check's gradings set it: they test statuses


def cap_examples(items, cap: str | None):
    """At most `cap` examples per hypothesis test (explicit settings included) and no shrinking, when
    `cap` is set: runs that check statuses, not answers (the isolation check's gradings)."""
    if not cap:
        return
    try:
        import hypothesis
    except ImportError:
        return
    for item in items:
        test = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is not None:
            phases = [p for p in current.phases if p.name in NO_SHRINK]
            test._hypothesis_internal_use_settings = hypothesis.settings(
                current, max_examples=min(current.max_examples, int(cap)), phases=phases)


def requirement_of(item) -> tuple[str, str]:
    marker = item.get_closest_marker("exercise")
    if marker and marker.args:
        title = marker.args[1] if len(marker.args) > 1 else ""
        return str(marker.args[0]), title
    module = getattr(item, "module", None)  # nbval's notebook cells have no module
    name = module.__name__ if module else item.path.stem
    return name.rsplit(".", 1)[-1], ""


def failure_text(excinfo) -> tuple[str, str]:
    """(the whole assertion message, hypothesis's minimal failing example or '')."""
    text = excinfo.exconly(tryshort=True)
    members = getattr(excinfo.value, "exceptions", None)  # an exception group (3.11, or the backport)
    if isinstance(members, tuple) and members:  # several distinct failures: show the first
        text = "".join(traceback.format_exception_only(type(members[0]), members[0])).strip()
        text += f"\n(and {len(members) - 1} other distinct failure(s): rerun to see them)"
    if "Timeout" in text and "pytest-timeout" in text:
        text += (f"\n`make check` stops a test after {LEARNER_TIMEOUT_S:.0f} s (the reference takes a few): "
                 "is your code waiting for something that never happens, or much slower than it needs to be?")
    match = EXAMPLE.search(text)
    if not match:
        return text.strip(), ""
    return text[: match.start()].strip(), text[match.start():].strip()


class Board:
    """Collects one Outcome per graded test and prints the scoreboard or the untouched-starter check."""

    def __init__(self, impl_name: str, config):
        self.impl = impl_name
        self.config = config
        self.outcomes: dict[str, Outcome] = {}
        self.parts: dict[str, progress.Part] = {}
        self.log = None
        if impl_name == "exercises":
            # progress of the tree under test: the repository's, or a copy a test of the grader made
            root = Path(str(config.rootpath))
            if (root / "solutions").is_dir() and (root / "exercises").is_dir():
                self.parts = progress.parts(None, root / "solutions", root / "exercises")
            else:
                self.parts = progress.parts()
            fd, self.log = tempfile.mkstemp(prefix="mlpractice-stub-hits-")
            os.close(fd)
            os.environ[stubs.ENV_VAR] = self.log  # inherited by every worker process

    __hash__ = object.__hash__  # pluggy keeps plugins in sets

    def close(self):
        if self.log:
            os.environ.pop(stubs.ENV_VAR, None)
            Path(self.log).unlink(missing_ok=True)
            self.log = None

    # -- selection --------------------------------------------------------------------------------
    def pytest_collection_modifyitems(self, config, items):
        wanted = {r.strip() for r in config.getoption("--req").split(",") if r.strip()}
        if wanted:
            keep = [i for i in items if requirement_of(i)[0] in wanted]
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
        cap_examples(items, os.environ.get(MAX_EXAMPLES_VAR))
        if not config.getoption("--scoreboard") or config.getoption("--expect-stubs"):
            return
        for item in items:  # a stuck answer fails in seconds, not after the maintainers' 120 s
            marker = item.get_closest_marker("timeout")
            limit = float(marker.args[0]) if marker and marker.args else float(config.getini("timeout") or 0)
            if not limit or limit > LEARNER_TIMEOUT_S:
                item.add_marker(pytest.mark.timeout(LEARNER_TIMEOUT_S), append=False)
        for item in items:  # a part you have not touched cannot fail: its tests are not run
            part = self.parts.get(requirement_of(item)[0])
            if part and part.state == "not attempted" and not item.get_closest_marker("scaffold"):
                item.add_marker(pytest.mark.skip(reason=NOT_ATTEMPTED + part.message))

    # -- per test ---------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        item._mlpractice_hits_from = os.path.getsize(self.log) if self.log else 0
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = (yield).get_result()
        outcome = self.classify(item, call, report)
        if outcome is not None and not item.get_closest_marker("scaffold"):
            previous = self.outcomes.get(item.nodeid)
            if previous is None or previous.status == "passed":  # the first problem wins
                self.outcomes[item.nodeid] = outcome

    def classify(self, item, call, report) -> Outcome | None:
        requirement = requirement_of(item)
        if report.passed:
            return Outcome(item.nodeid, requirement, "passed") if report.when == "call" else None
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            if reason.startswith(NOT_ATTEMPTED):
                return Outcome(item.nodeid, requirement, "not attempted", reason.removeprefix(NOT_ATTEMPTED))
            return Outcome(item.nodeid, requirement, "skipped", reason)
        if self.impl != "exercises" or call.excinfo is None:
            return Outcome(item.nodeid, requirement, "failed", _crash_line(report))
        reached, _ = stubs.read_hits(self.log, getattr(item, "_mlpractice_hits_from", 0))
        relayed = stubs.stub_message(call.excinfo.value)
        by_requirement: dict[str, str] = {}  # first reached first
        for m in [*reached, *([relayed] if relayed else [])]:
            by_requirement.setdefault(stubs.requirement_of(m), m)
        by_requirement.pop(None, None)
        own = requirement[0]
        message, example = failure_text(call.excinfo)
        if not by_requirement:
            return Outcome(item.nodeid, requirement, "failed", message, example)
        # a stub was reached: show it as such, not as a traceback
        others = [r for r in by_requirement if r != own]
        part = self.parts.get(own)
        if self.config.getoption("--expect-stubs") or part is None or part.state == "not attempted":
            status, text = "not attempted", by_requirement.get(own) or by_requirement[others[0]]
        elif others:
            # the first stub reached is what stopped the test; once it is written the next one shows
            status, text, others = "blocked", others[0], others[:1]
        else:
            status, text = "own stub", by_requirement[own]
        if status != "own stub":
            report.outcome = "skipped"
            prefix = BLOCKED if status == "blocked" else NOT_ATTEMPTED
            report.longrepr = (str(item.path), item.location[1] or 0, prefix + text)
        return Outcome(item.nodeid, requirement, status, text, blockers=tuple(others) if status == "blocked" else ())

    # -- summary ----------------------------------------------------------------------------------
    def unexpected_for_stubs(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status in ("passed", "failed")]

    def pytest_sessionfinish(self, session, exitstatus):
        config = session.config
        if config.getoption("--expect-stubs"):
            if self.impl != "exercises":
                raise pytest.UsageError("--expect-stubs only makes sense with --impl=exercises")
            if not self.outcomes:
                session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
            elif self.unexpected_for_stubs():
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            else:
                session.exitstatus = pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        tr = terminalreporter
        if config.getoption("--expect-stubs"):
            bad = self.unexpected_for_stubs()
            attempted = sum(o.status == "not attempted" for o in self.outcomes.values())
            tr.section("untouched-starter check")
            skipped = sum(o.status == "skipped" for o in self.outcomes.values())
            note = f" ({skipped} skipped for another reason, e.g. a service not running here)" if skipped else ""
            tr.write_line(f"{attempted} of {len(self.outcomes)} graded tests report 'not attempted' "
                          f"against exercises/{note}")
            for o in bad:
                tr.write_line(f"  DEFECT {o.status}: {o.nodeid}  {o.message.splitlines()[0] if o.message else ''}",
                              red=True)
            if bad:
                tr.write_line("A graded test must fail against the untouched starter, by reaching a stub: fix the "
                              "test or mark scaffolding tests with @pytest.mark.scaffold.", red=True)
        if config.getoption("--scoreboard"):
            tr.section(f"scoreboard ({self.impl})")
            states = {r: p.state for r, p in self.parts.items()}
            messages = {r: p.message for r, p in self.parts.items()}
            for text, colour in render(list(self.outcomes.values()), states, messages, self.rerun_command):
                tr.write_line(text, **({colour: True} if colour else {}))
            if self.impl == "exercises":  # a mock interview under way logs every check (interview.py)
                found = verdicts(list(self.outcomes.values()), states)
                for exercise in sorted({int(r.split(".")[0]) for r in found}):
                    line = interview.record_check(exercise, {r: v for r, v in found.items()
                                                             if r.startswith(f"{exercise}.")})
                    if line:
                        tr.write_line(line, bold=True)

    def rerun_command(self, requirement: str, outcomes: list[Outcome]) -> str:
        root = Path(str(self.config.rootpath))
        folders = sorted({o.nodeid.split("::")[0].rsplit("/", 1)[0] for o in outcomes})
        python = Path(sys.executable)
        shown = python.relative_to(root) if python.is_relative_to(root) else Path("python")
        return shlex.join([str(shown), "-m", "pytest", *folders, f"--impl={self.impl}", f"--req={requirement}"])


def _crash_line(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return (crash.message if crash else str(report.longrepr)).strip()
