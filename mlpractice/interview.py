"""A timed mock interview on one exercise: the interview-level starter, a clock, a log of every check.

`make interview EX=N` backs up exercises/<package> (as `make reset` does; it asks first when a session
of that exercise already holds work), writes the interview level (levels.py), records the start in
.interview/exN.json and prints the components to build and the budget. While the session runs, every
`make check EX=N` prints the elapsed time and appends one line to .interview/exN.jsonl: the time and
each requirement's status with its first failure. `make interview-report EX=N` turns the log into an
HTML page (interview_report.py). `make reset EX=N` returns to the guided level and ends the session;
the log stays until the next `make interview`. Everything lives in .interview/, which git ignores.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from . import generate, impl, levels, progress

STATE = generate.ROOT / ".interview"
BUDGET_MINUTES = 90


def state_file(exercise: int, root: Path = STATE) -> Path:
    return root / f"ex{exercise}.json"


def log_file(exercise: int, root: Path = STATE) -> Path:
    return root / f"ex{exercise}.jsonl"


def session(exercise: int, root: Path = STATE) -> dict | None:
    """The running session of this exercise ({"exercise", "package", "started", "budget_minutes"}), or None."""
    path = state_file(exercise, root)
    return json.loads(path.read_text()) if path.exists() else None


def components(package: str) -> list[levels.Component]:
    found = []
    for path in sorted((generate.SOLUTIONS / package).rglob("*.py")):
        rel = path.relative_to(generate.SOLUTIONS).as_posix()
        found += levels.blank_components(path.read_text(), rel)[1]
    return found


def summary(exercise: int) -> list[str]:
    """What the interview level leaves to you: each component, its requirements and size."""
    package = impl.package_of(exercise)
    by_task: dict[str, list[levels.Component]] = {}
    for c in sorted(components(package), key=lambda c: progress.requirement_key(c.requirements[0])):
        by_task.setdefault(c.task, []).append(c)
    lines = [f"Exercise {exercise}, interview level: {BUDGET_MINUTES} minutes. Build, from the specs the stubs keep:"]
    for task, parts in by_task.items():
        files = ", ".join(f"exercises/{c.file}" for c in parts)
        size = sum(c.reference_lines for c in parts)
        lines.append(f"  - {', '.join(parts[0].requirements)}: {task} ({files}; about {size} lines in the reference)")
    lines.append(f"The other parts are as in the guided level. `make check EX={exercise}` grades you and logs the time;")
    lines.append(f"`make interview-report EX={exercise}` writes the report; `make reset EX={exercise}` goes back to the guided level.")
    return lines


def start(exercise: int, assume_yes: bool = False, ask=input, now=time.time, root: Path = STATE) -> int:
    package = impl.package_of(exercise)
    if session(exercise, root) and generate.stale_files([package], level="interview") and not assume_yes:
        answer = ask(f"An interview on exercise {exercise} is under way and exercises/{package} holds your work. "
                     "Back it up and start again from blank components? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    saved = generate.backup(package)
    generate.write_tree([package], level="interview")
    root.mkdir(exist_ok=True)
    log_file(exercise, root).unlink(missing_ok=True)
    state_file(exercise, root).write_text(json.dumps({"exercise": exercise, "package": package, "started": now(),
                                                      "budget_minutes": BUDGET_MINUTES}))
    if saved:
        print(f"your previous exercises/{package} was copied to {saved.relative_to(generate.ROOT)}")
    print("\n".join(summary(exercise)))
    print(f"The clock started at {time.strftime('%H:%M', time.localtime(now()))}.")
    return 0


def end(exercise: int, root: Path = STATE):
    """Stop the clock (`make reset`); the log stays for the report."""
    state_file(exercise, root).unlink(missing_ok=True)


def record_check(exercise: int, verdicts: dict[str, tuple[str, str]], now=time.time, root: Path = STATE) -> str | None:
    """Log one `make check` of a running session: {requirement: (status, first failure)}. Returns the
    line to print (elapsed time of the budget), or None when no session runs."""
    running = session(exercise, root)
    if running is None:
        return None
    elapsed = now() - running["started"]
    entry = {"time": now(), "elapsed_s": round(elapsed, 1),
             "parts": {r: {"status": s, "detail": d} for r, (s, d) in sorted(verdicts.items())}}
    with log_file(exercise, root).open("a") as f:
        f.write(json.dumps(entry) + "\n")
    return (f"interview, exercise {exercise}: {elapsed / 60:.0f} of {running['budget_minutes']} minutes "
            f"({sum(s == 'passed' for s, _ in verdicts.values())} of {len(verdicts)} parts pass)")


def read_log(exercise: int, root: Path = STATE) -> list[dict]:
    path = log_file(exercise, root)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
