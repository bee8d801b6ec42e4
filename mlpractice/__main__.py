"""Command line for maintainers and learners: `python -m mlpractice <command>`.

  make-exercises [PKG...] [--check]   write exercises/ from solutions/ (or only check it is current)
  reset N                             restore exercise N's starter code (your version is backed up first)
  check N [--req N.M]                 scoreboard of exercise N against your exercises/ code
  interview N [--yes]                 a timed mock interview: exercise N's components blank, the clock on
  interview-report N                  the mock interview's log as an HTML report
  notebooks [NOTEBOOK...]             execute and clean the committed notebooks
  mutants [N...] [--req N.M] [--check] how many plausible wrong answers the graded tests catch
  doctor                              OK/FAIL table of the environment
"""
from __future__ import annotations

import argparse
import subprocess
import sys

from . import generate, impl


def cmd_make_exercises(args) -> int:
    if args.check:
        stale = generate.stale_files(args.packages or None)
        if stale:
            print("exercises/ is stale: it differs from what solutions/ generates in", file=sys.stderr)
            for rel in stale:
                print(f"  exercises/{rel}", file=sys.stderr)
            print("Run `make exercises` (python -m mlpractice make-exercises) and commit the result.\n"
                  "Learners: this check is for maintainers; grade your own work with `make check EX=N`.",
                  file=sys.stderr)
            return 1
        print("exercises/ is up to date with solutions/")
        return 0
    changed = generate.write_tree(args.packages or None)
    print(f"exercises/: {len(changed)} file(s) written" + "".join(f"\n  {c}" for c in changed))
    return 0


def cmd_reset(args) -> int:
    from . import interview
    package = impl.package_of(args.exercise)
    saved = generate.backup(package)
    generate.write_tree([package])
    interview.end(args.exercise)
    if saved:
        print(f"your previous exercises/{package} was copied to {saved.relative_to(generate.ROOT)}")
    print(f"exercises/{package} is back to its starter state")
    return 0


def check_arguments(exercise: int, req: str | None = None, extra=()) -> list[str]:
    """pytest's arguments for `check N`, run from the repository's root."""
    tests = f"tests/ex{exercise}_{impl.package_of(exercise)}"
    # -p no:nbval: its import costs seconds and a learner's run has no notebook to validate
    return [tests, "--impl=exercises", "--scoreboard", "-p", "no:nbval", "-m", "not scaffold", "-q", "--no-header",
            "-p", "no:warnings", "--tb=no", "-rN", *([f"--req={req}"] if req else []), *extra]


def cmd_check(args) -> int:
    cmd = [sys.executable, "-m", "pytest", *check_arguments(args.exercise, args.req, args.pytest_args)]
    return subprocess.call(cmd, cwd=generate.ROOT)


def cmd_interview(args) -> int:
    from . import interview
    return interview.start(args.exercise, assume_yes=args.yes)


def cmd_interview_report(args) -> int:
    from . import interview_report
    return 0 if interview_report.write(args.exercise) else 1


def cmd_notebooks(args) -> int:
    from . import notebooks
    return notebooks.main(args.notebooks)


def cmd_doctor(args) -> int:
    from . import doctor
    return doctor.main()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpractice", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-exercises", help="write exercises/ from solutions/")
    p.add_argument("packages", nargs="*")
    p.add_argument("--check", action="store_true", help="only check; exit 1 if exercises/ is stale")
    p.set_defaults(run=cmd_make_exercises)
    p = sub.add_parser("reset", help="restore an exercise's starter code")
    p.add_argument("exercise", type=int)
    p.set_defaults(run=cmd_reset)
    p = sub.add_parser("check", help="scoreboard for your implementation of one exercise")
    p.add_argument("exercise", type=int)
    p.add_argument("--req", default="", help="only these requirements, e.g. 2.3 or 2.3,2.5")
    p.add_argument("pytest_args", nargs="*")
    p.set_defaults(run=cmd_check)
    p = sub.add_parser("interview", help="start a timed mock interview on one exercise")
    p.add_argument("exercise", type=int, choices=sorted(impl.EXERCISES))
    p.add_argument("--yes", action="store_true", help="do not ask before replacing a session's work")
    p.set_defaults(run=cmd_interview)
    p = sub.add_parser("interview-report", help="the mock interview's log as an HTML report")
    p.add_argument("exercise", type=int, choices=sorted(impl.EXERCISES))
    p.set_defaults(run=cmd_interview_report)
    p = sub.add_parser("notebooks", help="execute and clean notebooks")
    p.add_argument("notebooks", nargs="*")
    p.set_defaults(run=cmd_notebooks)
    # listed for --help only: main() hands `mutants` all its arguments before this parser runs
    sub.add_parser("mutants", help="how many plausible wrong answers the graded tests catch", add_help=False)
    p = sub.add_parser("doctor", help="check the environment")
    p.set_defaults(run=cmd_doctor)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["mutants"]:  # its own parser takes every argument (REMAINDER misses a leading --flag)
        from . import mutants
        return mutants.main(argv[1:])
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
