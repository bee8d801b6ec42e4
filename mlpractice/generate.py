"""Write the learner's starter code (`exercises/`) from the reference (`solutions/`).

A solution file marks each part the learner writes, inside a function body:

        # BEGIN SOLUTION [2.3] implement the dynamic batcher (section 3)
        # HINT: one optional line or more, kept in the stub as comments
        ... reference code ...
        # END SOLUTION

`[2.3]` is exercise 2, requirement 3; the text is the task; `(section 3)` is the
notebook section to read (optional). The generator replaces the region with

        # Exercise 2.3: implement the dynamic batcher.
        # Hint: one optional line or more, kept in the stub as comments
        raise NotImplementedError("Exercise 2.3: implement the dynamic batcher - see notebooks/02_model_serving.ipynb, section 3")

and copies every other line, and every non-Python file, unchanged, so the
learner works inside the same codebase the reference runs in. The pure
function `rewrite` does the rewriting and lists the regions (`regions` gives
them all: the grader uses them to know which parts a learner has started);
`generate_tree` / `write_tree` / `stale_files` are the thin file-system shell around it.
"""
from __future__ import annotations

import ast
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from . import levels
from .markers import BEGIN, BEGIN_LOOSE, END, HINT
from .impl import EXERCISES
from .stubs import requirement_of, stub_messages  # stubs.py is the one reader of stub statements

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES_DIR = ROOT / "exercises"
BACKUPS = ROOT / ".exercise-backups"

SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}

# Appended to exercises/__init__.py: while `make check` runs, every stub your code reaches is
# written down, so the scoreboard can say "blocked by 2.3" instead of blaming your own part.
RECORD_STUB_HITS = (
    "\n# `make check` notes which stubs your code reaches (mlpractice/stubs.py); otherwise this does nothing.\n"
    "from mlpractice import stubs as _stubs\n\n"
    "_stubs.record_if_grading()\n"
)


class MarkerError(ValueError):
    """A solution file whose BEGIN/END SOLUTION markers cannot be turned into a stub."""


INTERVIEW_HEADER = "at the interview level"  # how a file says which level it was generated at


def header(relpath: str, exercise: int | None, level: str = "guided") -> str:
    reset = f"`make reset EX={exercise}`" if exercise else "`make exercises`"
    if level == "interview":
        return (
            f"# Starter code generated from solutions/{relpath} {INTERVIEW_HEADER} by `make interview EX={exercise}`.\n"
            f"# Write each component the stubs leave blank; {reset} returns to the guided level.\n"
        )
    return (
        f"# Starter code generated from solutions/{relpath} by `make exercises`.\n"
        f"# Replace each `raise NotImplementedError(...)` with your code; {reset} restores this file.\n"
    )


def level_of(text: str) -> str:
    """The level a generated starter file was written at, from its header."""
    return "interview" if INTERVIEW_HEADER in text.split("\n", 1)[0] else "guided"


@dataclass(frozen=True)
class Region:
    """One marked learner region: requirement `ex.req`, where it sits, and the stub's message."""
    ex: str
    req: str
    task: str
    section: str | None
    file: str   # path under solutions/ (and exercises/), e.g. "serving/cache.py"
    line: int   # line of its BEGIN marker in the solution file

    @property
    def requirement(self) -> str:
        return f"{self.ex}.{self.req}"

    @property
    def message(self) -> str:
        """The text the stub raises: 'Exercise N.M: <task> - see notebooks/<nb>, section <k>'."""
        notebook = EXERCISES.get(int(self.ex), (None, None))[1]
        where = (f"notebooks/{notebook}" + (f", section {self.section}" if self.section else "")
                 if notebook else "EXERCISES.md")
        return f"Exercise {self.ex}.{self.req}: {self.task} - see {where}"


def stub_lines(indent: str, region: Region, hints: list[str]) -> list[str]:
    lines = [f"{indent}# Exercise {region.requirement}: {region.task}.\n"]
    lines += [f"{indent}# Hint: {h}\n" for h in hints]
    lines.append(f"{indent}raise NotImplementedError({region.message!r})\n")
    return lines


def _component_message(requirement: str, task: str, section: str | None) -> str:
    """An interview-level stub raises what a guided one would, so stubs.py attributes it alike."""
    ex, req = requirement.split(".")
    return Region(ex, req, task, section, "", 0).message


def rewrite(source: str, filename: str = "<solution>",
            keep: Collection[str] = (), level: str = "guided") -> tuple[str, list[Region]]:
    """Return (starter source, every region found). Regions of the requirements in `keep`
    (e.g. {"2.3"}) keep their reference code, without markers or hints; the rest become stubs.
    At the interview level whole components are blanked first (levels.py): the regions found are
    those left outside them. Raises MarkerError on bad markers."""
    try:
        source = levels.blank_components(source, filename, keep, _component_message)[0] if level == "interview" \
            else levels.strip_markers(source)
    except levels.LevelError as err:
        raise MarkerError(str(err)) from err
    out: list[str] = []
    found: list[Region] = []
    lines = source.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        if END.match(line):
            raise MarkerError(f"{filename}:{i + 1}: '# END SOLUTION' without a matching BEGIN")
        if not BEGIN_LOOSE.match(line):
            out.append(line)
            i += 1
            continue
        m = BEGIN.match(line.rstrip("\n"))
        if not m:
            raise MarkerError(
                f"{filename}:{i + 1}: malformed marker; write "
                "'# BEGIN SOLUTION [<exercise>.<requirement>] <task> (section <n>)'"
            )
        if not m["indent"]:
            raise MarkerError(
                f"{filename}:{i + 1}: solution regions must sit inside a function body "
                "(a module-level stub would break every import of this file)"
            )
        start = i
        region = Region(m["ex"], m["req"], m["task"], m["section"], filename.removeprefix("solutions/"), i + 1)
        i += 1
        hints = []
        while i < len(lines) and HINT.match(lines[i]):
            hints.append(HINT.match(lines[i])["text"])
            i += 1
        body_start = i
        while i < len(lines) and not END.match(lines[i]):
            if BEGIN_LOOSE.match(lines[i]):
                raise MarkerError(f"{filename}:{i + 1}: nested BEGIN SOLUTION (region opened at line {start + 1})")
            i += 1
        if i == len(lines):
            raise MarkerError(f"{filename}:{start + 1}: BEGIN SOLUTION is never closed by '# END SOLUTION'")
        if region.requirement in keep:
            out += lines[body_start:i]
        else:
            out += stub_lines(m["indent"], region, hints)
        found.append(region)
        i += 1  # skip END
    result = "".join(out)
    try:
        compile(result, filename, "exec")
    except SyntaxError as err:
        raise MarkerError(f"{filename}: the generated stub does not compile: {err}") from err
    return result, found


def stub_source(source: str, filename: str = "<solution>") -> tuple[str, int]:
    """Return (starter source, number of regions replaced). Raises MarkerError on bad markers."""
    text, found = rewrite(source, filename)
    return text, len(found)


def _exercise_of(package: str) -> int | None:
    return next((n for n, (pkg, _) in EXERCISES.items() if pkg == package), None)


def _solution_files(packages: list[str] | None, solutions: Path):
    """(package, path) for every file of the chosen packages (default: all), sorted."""
    chosen = packages or sorted(p.name for p in solutions.iterdir() if p.is_dir() and p.name not in SKIP_DIRS)
    for package in chosen:
        src = solutions / package
        if not src.is_dir():
            raise FileNotFoundError(f"no package solutions/{package}")
        for path in sorted(src.rglob("*")):
            if path.is_dir() or SKIP_DIRS & set(path.relative_to(solutions).parts) or path.suffix == ".pyc":
                continue
            yield package, path


def generate_tree(packages: list[str] | None = None, solutions: Path = SOLUTIONS,
                  keep: Collection[str] = (), level: str = "guided") -> dict[str, bytes]:
    """Map relative path under exercises/ -> content, for the given packages (default: all), at a level
    of levels.LEVELS. `keep` names requirements whose regions stay as the reference (tests of the grader
    use it)."""
    files: dict[str, bytes] = {}
    top = solutions / "__init__.py"
    if top.exists():
        files["__init__.py"] = (header("__init__.py", None) + top.read_text() + RECORD_STUB_HITS).encode()
    for package, path in _solution_files(packages, solutions):
        rel = path.relative_to(solutions).as_posix()
        if path.suffix == ".py":
            text, _ = rewrite(path.read_text(), f"solutions/{rel}", keep, level)
            files[rel] = (header(rel, _exercise_of(package), level) + text).encode()
        else:
            files[rel] = path.read_bytes()
    return files


def starter_stubs(packages: list[str] | None = None, solutions: Path = SOLUTIONS,
                  levels_by_package: dict[str, str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """requirement -> [(file, message)], one entry per stub a fresh starter holds, at each package's
    level (default guided), in file order: what "not attempted" means at that level."""
    found: dict[str, list[tuple[str, str]]] = {}
    for package, path in _solution_files(packages, solutions):
        if path.suffix != ".py":
            continue
        source = path.read_text()
        if "# BEGIN " not in source:  # most files hold no region: skip the parse (every grading runs this)
            continue
        rel = path.relative_to(solutions).as_posix()
        text, _ = rewrite(source, f"solutions/{rel}", level=(levels_by_package or {}).get(package, "guided"))
        for message in stub_messages(ast.parse(text)):
            found.setdefault(requirement_of(message), []).append((rel, message))
    return found


def regions(packages: list[str] | None = None, solutions: Path = SOLUTIONS) -> list[Region]:
    """Every learner region of the chosen packages (default: all), in file order."""
    found: list[Region] = []
    for _, path in _solution_files(packages, solutions):
        if path.suffix == ".py":
            found += rewrite(path.read_text(), f"solutions/{path.relative_to(solutions).as_posix()}")[1]
    return found


def _on_disk(packages: list[str] | None, exercises: Path) -> dict[str, Path]:
    found = {}
    roots = [exercises / p for p in packages] if packages else [exercises]
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            rel = path.relative_to(exercises)
            if path.is_file() and not SKIP_DIRS & set(rel.parts) and path.suffix != ".pyc":
                found[rel.as_posix()] = path
    if packages and (exercises / "__init__.py").exists():
        found["__init__.py"] = exercises / "__init__.py"
    return found


def stale_files(packages: list[str] | None = None, solutions: Path = SOLUTIONS,
                exercises: Path = EXERCISES_DIR, level: str = "guided") -> list[str]:
    """Paths under exercises/ that differ from what solutions/ generates (missing, changed or extra)."""
    wanted = generate_tree(packages, solutions, level=level)
    have = _on_disk(packages, exercises)
    stale = [rel for rel, data in wanted.items() if rel not in have or have[rel].read_bytes() != data]
    stale += [rel for rel in have if rel not in wanted]
    return sorted(stale)


def write_tree(packages: list[str] | None = None, solutions: Path = SOLUTIONS,
               exercises: Path = EXERCISES_DIR, level: str = "guided") -> list[str]:
    """Regenerate exercises/ for the packages at `level`; return the paths that changed."""
    wanted = generate_tree(packages, solutions, level=level)
    changed = stale_files(packages, solutions, exercises, level)
    for rel in changed:
        target = exercises / rel
        if rel in wanted:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wanted[rel])
        else:
            target.unlink()
    return changed


def backup(package: str) -> Path | None:
    """Copy the learner's exercises/<package> aside before a reset; return where it went."""
    src = EXERCISES_DIR / package
    if not src.exists():
        return None
    dest = BACKUPS / f"{package}-{time.strftime('%Y%m%d-%H%M%S')}"
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*SKIP_DIRS, "*.pyc"))
    return dest
