"""The scoreboard `make check` prints: one line per requirement, from test outcomes and progress.

A requirement reads

- `not attempted: <what to do and where to read>` while all its regions still hold their stubs
  (mlpractice/progress.py). Its tests are not even run, so nothing it did not touch can fail.
- `passed (n/n)` when every test of it passed.
- `FAILED (k/n pass)` when a test failed in the learner's own code, followed by the test, the whole
  first assertion message, hypothesis's minimal failing example if any, and the command that reruns
  just this requirement's tests with tracebacks.
- `blocked by 2.3 (not attempted) (k/n pass)` when its own tests failed only after reaching the stub
  of another requirement: implement that one first.
- `partial (k/n pass): ...` when it is in progress (some of its regions are still stubs and its tests
  reach them), or when some tests were skipped for another reason (e.g. no Redis server here).

Pure functions: the grader (mlpractice/grader.py) collects the outcomes and writes the lines.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from .progress import requirement_key

WIDTH = 100
MAX_MESSAGE_LINES = 14
INDENT = " " * 8


@dataclass
class Outcome:
    nodeid: str
    requirement: tuple[str, str]   # ("2.3", "LRU cache")
    status: str                    # passed | failed | own stub | blocked | not attempted | skipped
    message: str = ""              # assertion message, or the reason for the status
    example: str = ""              # hypothesis's minimal failing example
    blockers: tuple[str, ...] = ()  # other requirements whose stubs the test reached


def wrapped(text: str, indent: str = INDENT, limit: int = MAX_MESSAGE_LINES) -> list[str]:
    """`text` wrapped at word boundaries (never inside a token), at most `limit` lines."""
    lines: list[str] = []
    for raw in text.strip().splitlines():
        pieces = textwrap.wrap(raw, WIDTH - len(indent), break_long_words=False, break_on_hyphens=False,
                               subsequent_indent="  ", drop_whitespace=True) or [""]
        lines += [(indent + p).rstrip() for p in pieces]
    if len(lines) > limit:
        hidden = len(lines) - limit + 1
        lines = lines[: limit - 1] + [f"{indent}... ({hidden} more lines: rerun the command below to see them)"]
    return lines


def _task(message: str) -> str:
    """'Exercise 2.3: LRU lookup - see notebooks/x.ipynb, section 2' -> 'LRU lookup (notebooks/x.ipynb, section 2)'."""
    match = re.match(r"^Exercise \d+\.\d+: (.*?)(?: - see (.*))?$", message)
    if not match:
        return message
    return match[1] + (f" ({match[2]})" if match[2] else "")


def _not_attempted(outcomes: list[Outcome], state: str | None) -> bool:
    return state == "not attempted" or bool(outcomes) and all(o.status == "not attempted" for o in outcomes)


def status_of(outcomes: list[Outcome], state: str | None) -> str:
    """What the scoreboard calls a requirement: "not attempted", "passed", "FAILED", "partial" (its
    own stubs reached, or tests skipped) or "blocked" (another part's stub reached)."""
    if _not_attempted(outcomes, state):
        return "not attempted"
    if all(o.status == "passed" for o in outcomes):
        return "passed"
    if any(o.status == "failed" for o in outcomes):
        return "FAILED"
    if any(o.status == "own stub" for o in outcomes):
        return "partial"
    return "blocked" if any(o.status == "blocked" for o in outcomes) else "partial"


def row(label: str, requirement: str, outcomes: list[Outcome], state: str | None,
        states: dict[str, str], rerun: str, first_message: str = "") -> list[tuple[str, str]]:
    """The (text, colour) lines for one requirement, headed by `label`. `state` is its progress
    ("not attempted", "in progress", "done", or None when the requirement has no marked regions)."""
    status = status_of(outcomes, state)
    if status == "not attempted":
        message = first_message or next((o.message for o in outcomes if o.message), "")
        return [(f"{label} not attempted: {_task(message)}", "yellow")]
    n = len(outcomes)
    passed = sum(o.status == "passed" for o in outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    own = [o for o in outcomes if o.status == "own stub"]
    blocked = [o for o in outcomes if o.status == "blocked"]
    skipped = [o for o in outcomes if o.status in ("skipped", "not attempted")]
    if status == "passed":
        return [(f"{label} passed ({passed}/{n})", "green")]
    if status == "FAILED":
        first = failed[0]
        lines = [(f"{label} FAILED ({passed}/{n} pass)", "red"),
                 (f"{INDENT}{first.nodeid}", "red")]
        lines += [(line, "red") for line in wrapped(first.message)]
        if first.example:
            lines += [(line, "red") for line in wrapped(first.example)]
        if len(failed) > 1:
            lines.append((f"{INDENT}({len(failed) - 1} more failing test{'s' * (len(failed) > 2)} of {requirement})", "red"))
        lines.append((f"{INDENT}rerun with tracebacks: {rerun}", "red"))
        return lines
    if own:  # partial: its own stubs
        tests = "1 test still reaches" if len(own) == 1 else f"{len(own)} tests still reach"
        return [(f"{label} partial ({passed}/{n} pass): {tests} your stub: {own[0].message}", "yellow"),
                (f"{INDENT}rerun with tracebacks: {rerun}", "yellow")]
    if status == "blocked":
        blockers = sorted({b for o in blocked for b in o.blockers}, key=requirement_key)
        named = ", ".join(f"{b} ({states.get(b, 'not attempted')})" for b in blockers)
        return [(f"{label} blocked by {named} ({passed}/{n} pass): "
                 f"implement {'that' if len(blockers) == 1 else 'those'} first", "yellow")]
    reasons = "; ".join(sorted({o.message for o in skipped if o.message}))
    return [(f"{label} partial ({passed}/{n} pass; {len(skipped)} skipped: {reasons})", "yellow")]


def render(outcomes: list[Outcome], states: dict[str, str], messages: dict[str, str],
           rerun_command) -> list[tuple[str, str]]:
    """Every requirement's lines, in requirement order, then the total. `states` and `messages` come
    from mlpractice/progress.py; `rerun_command(requirement, outcomes)` gives the command to print."""
    rows: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        rows.setdefault(o.requirement, []).append(o)
    width = max((len(f"{r}  {t}") for r, t in rows), default=10) + 2
    lines: list[tuple[str, str]] = []
    complete = 0
    for (requirement, title), outs in sorted(rows.items(), key=lambda kv: requirement_key(kv[0][0])):
        label = f"{requirement}  {title}".ljust(width, ".")
        block = row(label, requirement, outs, states.get(requirement), states,
                    rerun_command(requirement, outs), messages.get(requirement, ""))
        complete += not _not_attempted(outs, states.get(requirement)) and all(o.status == "passed" for o in outs)
        lines += block
    lines.append((f"{complete} of {len(rows)} requirements complete", ""))
    return lines


def verdicts(outcomes: list[Outcome], states: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{requirement: (status, detail)} as the scoreboard states them: status is "passed", "FAILED",
    "partial", "blocked" or "not attempted"; detail is a FAILED part's first test and assertion line."""
    rows: dict[str, list[Outcome]] = {}
    for o in outcomes:
        rows.setdefault(o.requirement[0], []).append(o)
    out = {}
    for requirement, outs in rows.items():
        status = status_of(outs, states.get(requirement))
        failed = [o for o in outs if o.status == "failed"]
        detail = f"{failed[0].nodeid}: {failed[0].message.splitlines()[0] if failed[0].message else ''}" \
            if status == "FAILED" else ""
        out[requirement] = (status, detail)
    return out
