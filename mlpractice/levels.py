"""Two levels of starter code from one source: guided (today's regions) and interview (whole components).

A solution file may mark a component, a run of whole functions and classes, for the interview level:

    # BEGIN INTERVIEW [2.1, 2.2] the dynamic batcher (section 1)
    class Batcher:
        ...   # guided regions of 2.1 and 2.2 inside, and the code around them
    # END INTERVIEW

At the guided level the two marker lines are dropped and everything else is generated as before.
At the interview level every function inside the component keeps its decorators, signature and
docstring (the spec) and loses its body to one stub, `raise NotImplementedError("Exercise 2.1: the
dynamic batcher - see ...")` (naming the task of the guided region it held, if any), with no hints;
classes keep their headers, docstrings and the statements between their methods (constants, attributes). A function's stub belongs to the
requirement of the guided region it contains (the first, if several), else to the component's first
requirement, so the same graded tests, the same scoreboard and the same "not attempted" rule
serve both levels. A private function (`_name`) inside a component that holds no guided region
and that nothing else left in the file names (code or spec) is the reference's own helper: the
interview level drops it, and the learner designs their own. With `keep` (the grader's tests), the
functions a kept requirement owns stay the reference. `blank_components` is a pure function over source text.
"""
from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Collection
from dataclasses import dataclass

from . import markers

LEVELS = ("guided", "interview")
BEGIN = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN INTERVIEW\s+\[(?P<reqs>\d+\.\d+(?:\s*,\s*\d+\.\d+)*)\]\s+(?P<task>.+?)"
    r"(?:\s+\(section (?P<section>[^)]+)\))?\s*$"
)
BEGIN_LOOSE = re.compile(r"^\s*# BEGIN INTERVIEW\b")
END = re.compile(r"^\s*# END INTERVIEW\s*$")


class LevelError(ValueError):
    """A component marker that cannot be turned into an interview-level stub."""


@dataclass(frozen=True)
class Component:
    requirements: tuple[str, ...]  # e.g. ("2.1", "2.2")
    task: str
    section: str | None
    file: str
    line: int            # of its BEGIN INTERVIEW marker
    reference_lines: int  # lines of reference code it blanks (without blank lines and comments)


def strip_markers(source: str) -> str:
    """The guided level's view of a file: the component markers dropped, nothing else changed."""
    return "".join(line for line in source.splitlines(keepends=True)
                   if not BEGIN_LOOSE.match(line) and not END.match(line))


def _spans(lines: list[str], filename: str):
    """(begin index, end index, match) of every component, checked for nesting and closing."""
    i, spans = 0, []
    while i < len(lines):
        if END.match(lines[i]):
            raise LevelError(f"{filename}:{i + 1}: '# END INTERVIEW' without a matching BEGIN")
        if BEGIN_LOOSE.match(lines[i]):
            m = BEGIN.match(lines[i].rstrip("\n"))
            if not m:
                raise LevelError(f"{filename}:{i + 1}: malformed marker; write "
                                 "'# BEGIN INTERVIEW [<N.M>, ...] <component> (section <n>)'")
            j = i + 1
            while j < len(lines) and not END.match(lines[j]):
                if BEGIN_LOOSE.match(lines[j]):
                    raise LevelError(f"{filename}:{j + 1}: nested BEGIN INTERVIEW (opened at line {i + 1})")
                j += 1
            if j == len(lines):
                raise LevelError(f"{filename}:{i + 1}: BEGIN INTERVIEW is never closed by '# END INTERVIEW'")
            spans.append((i, j, m))
            i = j
        i += 1
    return spans


def _functions(body: list[ast.stmt]):
    """The outermost functions of a run of statements, looking into classes."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node.body)


def _code_lines(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def _blank(span: list[str], m, filename: str, first_line: int, message, keep: Collection[str] = (),
           outside: str = "") -> tuple[list[str], int]:
    """The component's lines with every function body replaced by its stub, except the functions owned
    by a requirement in `keep`, and without the reference's own helpers; and the lines blanked.
    `outside` is the rest of the file: a helper it names stays (as a stub)."""
    code = textwrap.dedent("".join(span))
    first_code = next((line for line in span if line.strip()), "")
    indent = first_code[:len(first_code) - len(first_code.lstrip())]  # what dedent took off
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        raise LevelError(f"{filename}:{first_line}: a component must hold whole functions or classes ({err})") from err
    if not tree.body or not all(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body):
        raise LevelError(f"{filename}:{first_line}: a component must hold whole functions or classes only")
    requirements = [r.strip() for r in m["reqs"].split(",")]
    notebook_ref = m["section"]
    # pieces: (helper name or None, lines as a stub, code lines the stub blanks, code lines dropping it blanks)
    pieces: list[tuple[str | None, list[str], int, int]] = []
    at = 0
    for fn in _functions(tree.body):
        body = fn.body
        has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str)
        if body[0].lineno == fn.lineno:
            raise LevelError(f"{filename}:{first_line + fn.lineno}: write {fn.name}'s body on its own lines")
        if has_doc:
            start = body[0].end_lineno  # 0-based index of the line after the docstring
        else:  # the body starts after the header: walk up from its first statement over comments
            header_end = max([fn.lineno] + [n.end_lineno for n in ast.walk(fn.args) if hasattr(n, "end_lineno")]
                             + ([fn.returns.end_lineno] if fn.returns else []))
            start = body[0].lineno - 1
            while start > header_end and (not span[start - 1].strip() or span[start - 1].lstrip().startswith("#")):
                start -= 1
        end = fn.end_lineno  # exclusive, 0-based; then the body's trailing comments (an END SOLUTION)
        body_indent = len(indent) + body[0].col_offset
        while end < len(span) and span[end].lstrip().startswith("#") \
                and len(span[end]) - len(span[end].lstrip()) >= body_indent:
            end += 1
        owned = [r for line in span[start:end] if (r := markers.BEGIN.match(line.rstrip("\n")))]
        # a function holding a guided region is that region's: its stub names the region's task
        requirement, task, section = (f"{owned[0]['ex']}.{owned[0]['req']}", owned[0]["task"],
                                      owned[0]["section"] or notebook_ref) if owned else (requirements[0], m["task"], notebook_ref)
        if requirement in keep:
            continue  # stays the reference; the guided pass stubs or keeps its regions
        first = min([fn.lineno] + [d.lineno for d in fn.decorator_list]) - 1
        after = end
        while after < len(span) and not span[after].strip():
            after += 1
        # a private function (`_name`, not a dunder) without a guided region: the reference's own helper
        helper = fn.name if fn.name.startswith("_") and not fn.name.startswith("__") and not owned else None
        pad = indent + " " * body[0].col_offset
        stub = [f"{pad}# Exercise {requirement} (interview level): {task}.\n",
                f"{pad}raise NotImplementedError({message(requirement, task, section)!r})\n"]
        pieces.append((None, span[at:first], 0, 0))
        pieces.append((helper, span[first:start] + stub + span[end:after],
                       _code_lines([line for line in span[start:end] if not line.lstrip().startswith("# HINT")]),
                       _code_lines(span[first:end])))
        at = after
    pieces.append((None, span[at:], 0, 0))
    # drop every helper that nothing left names (outside the component, or in what stays of it)
    dropped = {name for name, *_ in pieces if name}
    while True:
        text = outside + "".join("".join(lines) for name, lines, *_ in pieces if name not in dropped)
        named = {name for name in dropped if re.search(rf"\b{re.escape(name)}\b", text)}
        if not named:
            break
        dropped -= named
    out, blanked = [], 0
    for name, lines, as_stub, as_dropped in pieces:
        if name in dropped:
            blanked += as_dropped
        else:
            out += lines
            blanked += as_stub
    return out, blanked


def _default_message(requirement: str, task: str, section: str | None) -> str:
    return f"Exercise {requirement}: {task}"


def blank_components(source: str, filename: str = "<solution>", keep: Collection[str] = (),
                     message=_default_message) -> tuple[str, list[Component]]:
    """(source at the interview level before the guided pass, its components). A function owned by a
    requirement in `keep` keeps its reference code. `message(requirement, task,
    section)` is the text each stub raises; it must start "Exercise N.M: " (stubs.py reads that)."""
    lines = source.splitlines(keepends=True)
    out, at, found = [], 0, []
    for i, j, m in _spans(lines, filename):
        out += lines[at:i]
        requirements = tuple(r.strip() for r in m["reqs"].split(","))
        span = lines[i + 1:j]
        new, blanked = _blank(span, m, filename, i + 2, message, keep, "".join(lines[:i] + lines[j + 1:]))
        out += new
        found.append(Component(requirements, m["task"], m["section"], filename.removeprefix("solutions/"),
                               i + 1, blanked))
        at = j + 1
    out += lines[at:]
    return "".join(out), found
