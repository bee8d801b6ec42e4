"""Which parts the learner has started: the stubs a fresh starter holds against the stubs left in exercises/.

A stub counts as done once its `raise NotImplementedError("Exercise N.M: ...")` statement is gone
from its file in exercises/ (edited, replaced or deleted), which is exactly what the header of every
starter file asks for. A fresh starter holds one stub per region at the guided level and one per
function of a component at the interview level (levels.py); each package is read at the level its
files' headers name. A requirement is

- "not attempted" while every one of its stubs is still there,
- "in progress" while some do,
- "done" when none does (whether the code is right is for the tests to say).

The scoreboard (`mlpractice/grader.py`) and the notebooks (`mlpractice/lab.py`) both read this, so
they never disagree about what you have touched. Pure functions over source text; `parts` reads files.
"""
from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import generate
from .stubs import requirement_of, stub_messages

# Fallback for a file that does not parse yet: a stub line that is not commented out.
STUB_LINE = re.compile(r"^[ \t]*raise NotImplementedError\(\s*['\"](Exercise (\d+\.\d+): )", re.M)


def stubs_in(source: str) -> Counter:
    """How many stub statements of each requirement a source text still holds."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return Counter(m[2] for m in STUB_LINE.finditer(source))
    return Counter(requirement_of(message) for message in stub_messages(tree))


@dataclass(frozen=True)
class Part:
    requirement: str  # "2.3"
    regions: int      # regions the reference marks for it
    left: int         # of those, still a stub in exercises/
    message: str      # its first stub's message: the task and where to read about it

    @property
    def state(self) -> str:
        if self.left == self.regions:
            return "not attempted"
        return "done" if self.left == 0 else "in progress"

    @property
    def attempted(self) -> bool:
        return self.left < self.regions


def requirement_key(requirement: str) -> list:
    """Sort key: "2.10" after "2.9" (names that are not numbers sort as text)."""
    return [int(p) if p.isdigit() else p for p in requirement.split(".")]


def level_of(package: str, exercises: Path = generate.EXERCISES_DIR) -> str:
    """The level (guided or interview) exercises/<package> was generated at, from its files' headers."""
    for path in sorted((exercises / package).glob("*.py")):
        with path.open() as f:
            return generate.level_of(f.readline())
    return "guided"


def parts(packages: list[str] | None = None, solutions: Path = generate.SOLUTIONS,
          exercises: Path = generate.EXERCISES_DIR) -> dict[str, Part]:
    """Every requirement of the chosen packages (default: all) with how many of its stubs are left,
    against the stubs a fresh starter holds at the level each package is at."""
    chosen = packages or sorted(p.name for p in solutions.iterdir() if p.is_dir() and p.name not in generate.SKIP_DIRS)
    marked = generate.starter_stubs(packages, solutions, {p: level_of(p, exercises) for p in chosen})
    cache: dict[str, Counter] = {}

    def left_in(file: str) -> Counter:
        if file not in cache:
            path = exercises / file
            cache[file] = stubs_in(path.read_text()) if path.exists() else Counter()
        return cache[file]

    result = {}
    for requirement in sorted(marked, key=requirement_key):
        found = marked[requirement]
        per_file = Counter(file for file, _ in found)
        left = sum(min(n, left_in(file)[requirement]) for file, n in per_file.items())
        result[requirement] = Part(requirement, len(found), left, found[0][1])
    return result
