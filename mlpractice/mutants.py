"""Mutation testing of the graded tests: how many plausible wrong answers each requirement's tests catch.

A mutant is one small wrong answer a learner could write, stated as an exact edit of a reference
region: requirement, file under solutions/, the old text and the new, and why it is wrong. A few
(`provided=True`) edit the code around a part instead: a server that drops a header, say, which
the tests graded under that part must still notice. The
catalogue of exercise N lives beside its tests, in tests/exN_<package>/mutants.py (`MUTANTS`).

`python -m mlpractice mutants [N ...]` (`make mutants EX=N`) copies the repository once to a
scratch directory, then for each mutant writes the edited file there, runs only the tests graded
under its requirement (stopping at the first failure, hypothesis derandomized and without its
example database, so a result never depends on the mutants run before it), and restores the file.
A mutant is caught when a test fails, survives when every test passes; a mutant whose old text
does not occur exactly once inside a region of its requirement is a catalogue error, so the
catalogue cannot rot silently when the reference changes.

CI (`make test`) runs a bounded part of the catalogue: `--changed-since REV` picks the mutants of
the solution files changed since REV, `--sample K --seed S` adds K others chosen by S (CI seeds it
with the commit, so the sample rotates), and `--limit N` caps the total.
"""
from __future__ import annotations

import argparse
import importlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from . import generate, impl

ROOT = generate.ROOT
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".hypothesis", ".pytest_cache",
                                     ".exercise-backups", ".interview", ".ipynb_checkpoints", "node_modules")
TIMEOUT_S = 600  # per mutant: a hung test is an error, not a survivor


@dataclass(frozen=True)
class Mutant:
    requirement: str  # e.g. "2.3"
    file: str         # under solutions/, e.g. "serving/cache.py"
    old: str          # exact text of the reference, inside a region of `requirement`
    new: str
    why: str          # the wrong idea it stands for
    provided: bool = False  # a mistake in the code around the learner's part that its tests must still see

    @property
    def exercise(self) -> int:
        return int(self.requirement.split(".")[0])


class CatalogueError(ValueError):
    """A mutant that no longer applies to the reference (or never did)."""


def catalogue(exercises: list[int] | None = None) -> list[Mutant]:
    """Every mutant of the chosen exercises (default: all), in catalogue order."""
    found = []
    for number in exercises or sorted(impl.EXERCISES):
        package = impl.package_of(number)
        if not (ROOT / "tests" / f"ex{number}_{package}" / "mutants.py").exists():
            continue
        module = importlib.import_module(f"tests.ex{number}_{package}.mutants")
        found += module.MUTANTS
    return found


def region_spans(source: str, requirement: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of the BEGIN/END SOLUTION regions of `requirement` in `source`."""
    spans, start, offset, current = [], None, 0, None
    for line in source.splitlines(keepends=True):
        begin = generate.BEGIN.match(line.rstrip("\n"))
        if begin:
            current, start = f"{begin['ex']}.{begin['req']}", offset + len(line)
        elif generate.END.match(line) and start is not None:
            if current == requirement:
                spans.append((start, offset))
            start = current = None
        offset += len(line)
    return spans


def apply(mutant: Mutant, source: str) -> str:
    """`source` with the mutant's edit, or CatalogueError saying why it does not apply."""
    where = f"{mutant.requirement} {mutant.file}: {mutant.why!r}"
    if mutant.old == mutant.new:
        raise CatalogueError(f"{where}: old and new text are the same")
    count = source.count(mutant.old)
    if count != 1:
        raise CatalogueError(f"{where}: the old text occurs {count} times in the reference (must be once)")
    at = source.index(mutant.old)
    inside = any(a <= at and at + len(mutant.old) <= b for a, b in region_spans(source, mutant.requirement))
    if not inside and not mutant.provided:
        raise CatalogueError(f"{where}: the old text is not inside a region of {mutant.requirement}")
    return source.replace(mutant.old, mutant.new)


@dataclass(frozen=True)
class Result:
    mutant: Mutant
    status: str      # "caught" | "survived" | "error"
    seconds: float
    detail: str = ""


def run_one(mutant: Mutant, scratch: Path) -> Result:
    path = scratch / "solutions" / mutant.file
    original = path.read_text()
    try:
        path.write_text(apply(mutant, original))
    except (CatalogueError, FileNotFoundError) as err:
        return Result(mutant, "error", 0.0, str(err))
    tests = f"tests/ex{mutant.exercise}_{impl.package_of(mutant.exercise)}"
    cmd = [sys.executable, "-m", "pytest", tests, "--impl=solutions", f"--req={mutant.requirement}",
           "--mutant-run", "-m", "not scaffold", "-x", "-q", "--no-header", "--tb=line", "-p", "no:nbval",
           "-p", "no:cacheprovider", "-p", "no:warnings"]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=scratch, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Result(mutant, "error", time.monotonic() - start, f"no answer within {TIMEOUT_S} s")
    finally:
        path.write_text(original)
    seconds = time.monotonic() - start
    if proc.returncode == 0:
        return Result(mutant, "survived", seconds)
    if proc.returncode == 1:  # a test failed: the first failing test's line
        failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
        return Result(mutant, "caught", seconds, failed[0] if failed else "")
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
    return Result(mutant, "error", seconds, f"pytest exited {proc.returncode}: {tail}")


def report(results: list[Result]) -> str:
    by_req: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_req[r.mutant.requirement].append(r)
    lines = [f"{'part':<6} {'mutants':>7} {'caught':>7} {'slowest catch':>14}"]
    for req in sorted(by_req, key=lambda r: tuple(map(int, r.split(".")))):
        rs = by_req[req]
        caught = [r for r in rs if r.status == "caught"]
        slowest = f"{max(r.seconds for r in caught):.1f} s" if caught else "-"
        lines.append(f"{req:<6} {len(rs):>7} {len(caught):>7} {slowest:>14}")
    total = sum(r.status == "caught" for r in results)
    lines.append(f"caught {total} of {len(results)}")
    for r in results:
        if r.status != "caught":
            lines.append(f"{r.status.upper()} {r.mutant.requirement} {r.mutant.file}: {r.mutant.why}"
                         + (f"\n    {r.detail}" if r.detail else ""))
    return "\n".join(lines)


def changed_files(rev: str) -> set[str]:
    """Files under solutions/ (as Mutant.file names them) that differ between `rev` and the work tree."""
    out = subprocess.run(["git", "diff", "--name-only", rev, "--", "solutions"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:  # e.g. a shallow clone without `rev`: nothing counts as changed
        print(f"git diff {rev}: {out.stderr.strip()} (no changed-file mutants)", file=sys.stderr)
        return set()
    return {line.removeprefix("solutions/") for line in out.stdout.split()}


def choose(mutants: list[Mutant], changed: set[str] | None, sample: int, seed, limit: int) -> list[Mutant]:
    """The changed files' mutants (all, when `changed` is None and no sample is asked for), then
    `sample` of the others chosen by `seed`, at most `limit` in all; in catalogue order."""
    if changed is None and not sample:
        picked = list(mutants)
    else:
        picked = [m for m in mutants if changed and m.file in changed]
        rest = [m for m in mutants if m not in picked]
        picked += random.Random(seed).sample(rest, min(sample, len(rest)))
    if limit:
        picked = random.Random(seed).sample(picked, limit) if len(picked) > limit else picked
    return sorted(picked, key=mutants.index)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlpractice mutants", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exercises", nargs="*", type=int, help="exercise numbers (default: all)")
    p.add_argument("--req", default="", help="only these requirements, e.g. 2.3 or 2.3,2.5")
    p.add_argument("--only", default="", help="only mutants whose `why` contains this text")
    p.add_argument("--sample", type=int, default=0, help="run this many mutants, chosen with --seed (0: all)")
    p.add_argument("--seed", default="0", help="any text, e.g. a commit hash")
    p.add_argument("--changed-since", default="", metavar="REV",
                   help="the mutants of solution files changed since this git revision (plus any --sample)")
    p.add_argument("--limit", type=int, default=0, help="run at most this many mutants in all (0: no limit)")
    p.add_argument("--check", action="store_true", help="only check that every mutant applies (no tests run)")
    args = p.parse_args(argv)
    mutants = catalogue(args.exercises or None)
    if args.req:
        wanted = set(args.req.split(","))
        mutants = [m for m in mutants if m.requirement in wanted]
    if args.only:
        mutants = [m for m in mutants if args.only in m.why]
    errors = []
    for m in mutants:  # every mutant must apply, also those a sample leaves out
        try:
            apply(m, (generate.SOLUTIONS / m.file).read_text())
        except (CatalogueError, FileNotFoundError) as err:
            errors.append(str(err))
    if errors:
        print("catalogue errors:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 2
    if args.check:
        print(f"{len(mutants)} mutants, each applies to the reference")
        return 0
    mutants = choose(mutants, changed_files(args.changed_since) if args.changed_since else None,
                     args.sample, args.seed, args.limit)
    if not mutants:
        print("no mutants chosen")
        return 0
    with tempfile.TemporaryDirectory(prefix="mlpractice-mutants-") as tmp:
        scratch = Path(tmp) / "repo"
        shutil.copytree(ROOT, scratch, ignore=COPY_IGNORE, symlinks=True)
        results = []
        for i, m in enumerate(mutants, 1):
            results.append(run_one(m, scratch))
            r = results[-1]
            caught_by = f"\n      {r.detail}" if r.status == "caught" and r.detail else ""
            print(f"[{i}/{len(mutants)}] {r.status:<8} {r.seconds:5.1f} s  {m.requirement} {m.why}{caught_by}",
                  flush=True)
    print(report(results))
    return 0 if all(r.status == "caught" for r in results) else 1
