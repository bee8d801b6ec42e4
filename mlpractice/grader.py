"""pytest plugin: grade the reference solutions or the learner's starter code.

Options
  --impl=solutions|exercises  which implementation `mlpractice.impl.load` returns
                              (also exported to worker processes via MLPRACTICE_IMPL)
  --scoreboard                print one line per requirement: passed / failed with the
                              first assertion message / not attempted
  --expect-stubs              the untouched-starter check: fail the run unless every
                              graded test is "not attempted" (a graded test that passes,
                              or fails for another reason, against stubs is a defect)

With --impl=exercises, a test whose failure comes from a stub (a NotImplementedError
whose message starts "Exercise N.M", raised here or relayed from a worker process or
an HTTP response) is reported as skipped with "not attempted yet: Exercise N.M ..."
instead of a traceback.

Tests say which requirement they grade with `pytestmark = pytest.mark.exercise("1.2", "ROUGE")`;
tests of shared scaffolding are marked `scaffold` and excluded from the exercises run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from . import impl

STUB = re.compile(r"Exercise (\d+)\.(\d+): [^\n\"']*")
NOT_ATTEMPTED = "not attempted yet: "


def pytest_addoption(parser):
    group = parser.getgroup("mlpractice", "exercise grading")
    group.addoption("--impl", choices=impl.IMPLEMENTATIONS, default=None,
                    help="grade the reference 'solutions' (default) or your 'exercises'")
    group.addoption("--scoreboard", action="store_true", help="print a per-requirement scoreboard")
    group.addoption("--expect-stubs", action="store_true",
                    help="fail unless every graded test is 'not attempted' (untouched starter check)")


def pytest_configure(config):
    chosen = config.getoption("--impl") or impl.current()
    impl.use(chosen)  # before test modules are imported, and inherited by child processes
    config._mlpractice = Board(chosen)
    config.pluginmanager.register(config._mlpractice, "mlpractice-board")


def stub_message(exc: BaseException | None) -> str | None:
    """The 'Exercise N.M: ...' message if `exc` (or its cause/context/group members) comes from a stub."""
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        text = str(e)
        match = STUB.search(text)
        if match and (isinstance(e, NotImplementedError) or "NotImplementedError" in text):
            return match.group(0).strip()
        todo += [e.__cause__, e.__context__, *getattr(e, "exceptions", ())]
    return None


def requirement_of(item) -> tuple[str, str]:
    marker = item.get_closest_marker("exercise")
    if marker and marker.args:
        title = marker.args[1] if len(marker.args) > 1 else ""
        return str(marker.args[0]), title
    module = getattr(item, "module", None)  # nbval's notebook cells have no module
    name = module.__name__ if module else item.path.stem
    return name.rsplit(".", 1)[-1], ""


@dataclass
class Outcome:
    requirement: tuple[str, str]
    status: str  # passed | failed | not attempted | skipped
    message: str = ""
    nodeid: str = ""


def _first_line(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash else str(report.longrepr)
    return text.strip().splitlines()[0][:160] if text.strip() else ""


@dataclass(eq=False)  # pluggy keeps plugins in sets, so a plugin must hash by identity
class Board:
    impl: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = (yield).get_result()
        if self.impl == "exercises" and report.failed and call.excinfo is not None:
            message = stub_message(call.excinfo.value)
            if message:
                report.outcome = "skipped"
                report.longrepr = (str(item.path), item.location[1] or 0, NOT_ATTEMPTED + message)
        self._record(item, report)

    def _record(self, item, report):
        if item.get_closest_marker("scaffold"):
            return
        previous = self.outcomes.get(item.nodeid)
        if previous and previous.status in ("failed", "not attempted"):
            return  # keep the first problem (a teardown pass must not hide a call failure)
        if report.passed:
            if report.when == "call":
                self.outcomes[item.nodeid] = Outcome(requirement_of(item), "passed", nodeid=item.nodeid)
            return
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            status = "not attempted" if reason.startswith(NOT_ATTEMPTED) else "skipped"
            self.outcomes[item.nodeid] = Outcome(requirement_of(item), status,
                                                 reason.removeprefix(NOT_ATTEMPTED), item.nodeid)
            return
        self.outcomes[item.nodeid] = Outcome(requirement_of(item), "failed", _first_line(report), item.nodeid)

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
                tr.write_line(f"  DEFECT {o.status}: {o.nodeid}  {o.message}", red=True)
            if bad:
                tr.write_line("A graded test must fail against the untouched starter: fix the test or "
                              "mark scaffolding tests with @pytest.mark.scaffold.", red=True)
        if config.getoption("--scoreboard"):
            self.print_scoreboard(tr)

    def print_scoreboard(self, tr):
        rows: dict[tuple[str, str], list[Outcome]] = {}
        for o in self.outcomes.values():
            rows.setdefault(o.requirement, []).append(o)
        tr.section(f"scoreboard ({self.impl})")
        width = max((len(f"{r[0]}  {r[1]}") for r in rows), default=10) + 2
        total_done = 0
        for req in sorted(rows, key=_req_key):
            outs = rows[req]
            label = f"{req[0]}  {req[1]}".ljust(width, ".")
            passed = sum(o.status == "passed" for o in outs)
            failed = [o for o in outs if o.status == "failed"]
            todo = [o for o in outs if o.status == "not attempted"]
            if passed == len(outs):
                tr.write_line(f"{label} passed ({passed}/{len(outs)})", green=True)
                total_done += 1
            elif failed:
                tr.write_line(f"{label} FAILED ({passed}/{len(outs)} pass): {failed[0].message}", red=True)
            elif todo and not passed:
                tr.write_line(f"{label} not attempted: {todo[0].message}", yellow=True)
            else:
                rest = ", ".join(sorted({o.status for o in outs if o.status != 'passed'}))
                tr.write_line(f"{label} partial ({passed}/{len(outs)} pass; others {rest})", yellow=True)
        tr.write_line(f"{total_done} of {len(rows)} requirements complete")


def _req_key(req):
    parts = req[0].split(".")
    return [int(p) if p.isdigit() else p for p in parts]
