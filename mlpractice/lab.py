"""Notebook helpers: run your own code (`IMPL = "exercises"`) while some parts are still stubs.

A notebook's first cell calls `lab.start(IMPL)`.

With "solutions", `start` prints nothing and changes nothing: every cell runs as usual.

With "exercises", `start` prints one line and, for the rest of the kernel session, IPython

- **skips the cells whose parts you have not attempted.** A cell whose first statement is
  `lab.needs("2.1", "2.2", section=1)` runs only if each part it names is attempted: at least one of its
  stubs is gone from exercises/ (`mlpractice.progress`, read from disk each time the cell runs, so
  your latest edits count). Otherwise the whole cell is replaced, before it runs, by a print of one line
  naming only the parts not attempted, and the notebook goes on without an error:

      section 1 needs 2.1 (not attempted), 2.2 (not attempted): skipped

  A cell names every part it uses, including the parts of the earlier cells it builds on (a skipped
  cell defines no variables). `needs` itself does nothing when it runs; it is only read.
- **names the part behind an error.** When a guarded cell raises, its traceback starts with

      section 3 (your code for 2.4): ValueError: ...

  naming the part whose function raised, found by walking the traceback (or every attempted part the
  cell needs, when no frame is in one of your functions, e.g. the error came from a worker process), or,
  when the error is a stub (also one relayed from a worker process or an HTTP answer),

      section 3 reached the stub of 2.2 (in progress): Exercise 2.2: ... - see notebooks/...

  A NameError raised by the cell itself means an earlier cell has not run: the line says so.

Why rewrite the cell: a function called in a cell cannot stop the rest of that cell without raising,
and an exception stops the notebook. IPython hands each cell's syntax tree to `ast_transformers`
before it runs it, top-level `await` included. Running the first cell again with "solutions" removes both.
"""
from __future__ import annotations

import ast
import traceback
from dataclasses import dataclass
from pathlib import Path

from IPython import get_ipython

from . import generate, impl, progress, stubs

def needs(*parts: str, section: int | str) -> None:
    """Mark a cell as needing `parts` (e.g. "2.1", "2.2") of the notebook's `section`. Must be the
    cell's first statement, with literal arguments: the guard installed by `start` reads it there."""


@dataclass(frozen=True)
class Guard:
    section: int | str
    parts: tuple[str, ...]


def start(implementation: str) -> None:
    """Install (for "exercises") or remove (for "solutions", silently) the guard and the error explanation.
    Idempotent: running the switch cell again replaces what it installed before."""
    mode = impl.current(implementation)
    shell = get_ipython()
    if shell is None:  # a plain Python process: nothing to guard
        return
    shell.ast_transformers[:] = [t for t in shell.ast_transformers if not isinstance(t, _Skipper)]
    shell.set_custom_exc((), None)
    if mode == "exercises":
        skipper = _Skipper()
        shell.ast_transformers.append(skipper)
        shell.set_custom_exc((Exception,), lambda shell, etype, value, tb, tb_offset=None:
                             _show_with_headline(shell, skipper.guard, etype, value, tb, tb_offset))
        print("Running your code from exercises/: a cell that needs a part you have not attempted says so "
              "and is skipped.")


def _states(parts) -> dict[str, progress.Part]:
    packages = sorted({impl.package_of(int(p.split(".")[0])) for p in parts})
    return progress.parts(packages)


def skip_line(guard: Guard) -> str | None:
    """The line a guarded cell prints instead of running, or None if it may run."""
    states = _states(guard.parts)
    missing = [p for p in guard.parts if not states[p].attempted]
    if not missing:
        return None
    return f"section {guard.section} needs " + ", ".join(f"{p} (not attempted)" for p in missing) + ": skipped"


def guard_of(tree: ast.Module) -> Guard | None:
    """The `lab.needs(...)` call that opens a cell, if any."""
    first = tree.body[0] if tree.body else None
    call = first.value if isinstance(first, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "needs"
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "lab"):
        return None
    section = {k.arg: ast.literal_eval(k.value) for k in call.keywords}["section"]
    return Guard(section, tuple(ast.literal_eval(a) for a in call.args))


class _Skipper(ast.NodeTransformer):
    """Replaces a guarded cell whose parts are not all attempted by a print of its skip line.
    Remembers the guard of the cell it last saw: that is the cell whose error gets explained."""

    guard: Guard | None = None

    def visit_Module(self, tree: ast.Module) -> ast.Module:
        self.guard = guard_of(tree)
        line = skip_line(self.guard) if self.guard else None
        if line is not None:
            tree.body = ast.parse(f"print({line!r})").body
        return tree


def _show_with_headline(shell, guard, etype, value, tb, tb_offset):
    stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    line = headline(guard, value)
    # `_showtraceback` is where IPython (and ipykernel) display a structured traceback
    shell._showtraceback(etype, value, [line, *stb] if line else stb)


def headline(guard: Guard | None, error: BaseException) -> str | None:
    """The line that names the part behind `error`, raised in a cell with `guard` (None: unguarded)."""
    where = f"section {guard.section}" if guard else "this cell"
    stub = stubs.stub_message(error)
    if stub:
        part = stubs.requirement_of(stub)
        return f"{where} reached the stub of {part} ({_states([part])[part].state}): {stub}"
    if guard is None:
        return None
    summary = type(error).__name__ + "".join(f": {line}" for line in str(error).strip().splitlines()[:1])
    mine = _parts_in_traceback(error)
    if not mine and isinstance(error, NameError):  # the cell that defines it was skipped or not run yet
        return f"{where}: {summary}; a cell above defines it: run the notebook from the top"
    states = _states(guard.parts)
    mine = mine or [p for p in guard.parts if states[p].attempted]
    return f"{where} (your code for {', '.join(mine)}): {summary}"


def _chain(error: BaseException):
    """`error`, then the exceptions it was raised from or while handling, innermost last."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def _parts_in_traceback(error: BaseException) -> list[str]:
    """The parts whose functions raised `error`: the innermost frame, anywhere in the exception chain,
    that lies in a function of exercises/ holding a marked region of the reference."""
    owners = _region_functions()
    for exc in reversed(_chain(error)):
        for frame, line in reversed(list(traceback.walk_tb(exc.__traceback__))):
            path = Path(frame.f_code.co_filename)
            if not path.is_relative_to(generate.EXERCISES_DIR) or not path.exists():
                continue
            file = path.relative_to(generate.EXERCISES_DIR).as_posix()
            found = owners.get((file, _function_at(path.read_text(), line)))
            if found:
                return sorted(found)
    return []


def _region_functions() -> dict[tuple[str, str], set[str]]:
    """(file under solutions/, qualified function name) -> requirements with a region in that function."""
    regions = generate.regions()
    sources = {file: (generate.SOLUTIONS / file).read_text() for file in {r.file for r in regions}}
    owners: dict[tuple[str, str], set[str]] = {}
    for region in regions:
        owners.setdefault((region.file, _function_at(sources[region.file], region.line)), set()).add(region.requirement)
    return owners


def _function_at(source: str, line: int) -> str | None:
    """Qualified name ("ModelServer._predict_once") of the innermost function containing `line`."""
    try:
        node = ast.parse(source)
    except SyntaxError:
        return None
    names, found = [], None
    while True:
        inner = next((n for n in ast.iter_child_nodes(node)
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      and n.lineno <= line <= n.end_lineno), None)
        if inner is None:
            return found
        names.append(inner.name)
        if not isinstance(inner, ast.ClassDef):
            found = ".".join(names)
        node = inner
