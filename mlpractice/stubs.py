"""Which stubs the learner's code reaches during a grading run, recorded from every process.

A test of requirement 2.4 may fail only because the code it drives reaches the stub of 2.3; the
scoreboard should then say "blocked by 2.3", not FAILED. The stub's exception cannot be trusted to
reach the test: code under test catches it (`except Exception`, `gather(..., return_exceptions=True)`),
turns it into an HTTP 500, or raises it in a worker process. So while MLPRACTICE_STUB_LOG names a file,
every stub of `exercises/` appends its message ("Exercise 2.3: ...") to that file just before it raises.

How: `record_if_grading()`, called by the generated `exercises/__init__.py` (so worker processes do it
too), installs an import hook for `exercises.*` that compiles each module with its stub statements
`raise NotImplementedError("Exercise N.M: ...")` routed through `hit`. Only the compiled code differs:
the file on disk, its line numbers and its tracebacks stay the learner's, and nothing is cached to
`__pycache__`. Without the variable (notebooks, your own scripts) nothing is installed.
"""
from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import os
import re
import sys

ENV_VAR = "MLPRACTICE_STUB_LOG"
PACKAGE = "exercises"
STUB_TEXT = re.compile(r"^Exercise (\d+\.\d+): ")
_HOOK = "__mlpractice_stub_hit__"


def stub_raise_message(node: ast.AST) -> str | None:
    """The message of a stub statement `raise NotImplementedError("Exercise N.M: ...")`, else None."""
    if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
        return None
    call = node.exc
    if not (isinstance(call.func, ast.Name) and call.func.id == "NotImplementedError"
            and len(call.args) == 1 and not call.keywords):
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and STUB_TEXT.match(arg.value):
        return arg.value
    return None


def stub_messages(tree: ast.AST) -> list[str]:
    """The messages of every stub statement in a parsed module, in source order."""
    found = sorted((node.lineno, message) for node in ast.walk(tree)
                   if (message := stub_raise_message(node)) is not None)
    return [message for _, message in found]


def requirement_of(message: str) -> str | None:
    match = STUB_TEXT.match(message)
    return match[1] if match else None


# A stub's text inside any message: up to the end of the line or a double quote (tasks may hold apostrophes).
STUB_IN_TEXT = re.compile(r"Exercise \d+\.\d+: [^\n\"]*")


def stub_message(exc: BaseException | None) -> str | None:
    """The 'Exercise N.M: ...' message if `exc` (or its cause, context or group members) comes from a
    stub: raised here, or relayed in the text of a worker's error or an HTTP body."""
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        text = str(e)
        match = STUB_IN_TEXT.search(text)
        if match and (isinstance(e, NotImplementedError) or "NotImplementedError" in text):
            return match.group(0).strip().removesuffix(")").strip("'")
        todo += [e.__cause__, e.__context__, *getattr(e, "exceptions", ())]
    return None


def hit(message: str) -> NotImplementedError:
    """Record that a stub was reached (when grading), and return the exception it raises."""
    path = os.environ.get(ENV_VAR)
    if path and requirement_of(message):
        # one short O_APPEND write per hit: lines from several processes never interleave
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (" ".join(message.split()) + "\n").encode())
        finally:
            os.close(fd)
    return NotImplementedError(message)


def read_hits(path: str, offset: int = 0) -> tuple[list[str], int]:
    """Stub messages recorded in `path` after byte `offset`, first reached first, each once; and
    the new offset."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
    return list(dict.fromkeys(complete.decode().splitlines())), offset + len(complete)


class StubWatch:
    """Stubs reached from now on by any process of this grading run (nothing, outside one).

    For tests that wait on other processes (a server, workers): `check()` raises the first stub's
    NotImplementedError at once, so an untouched part is reported in seconds, not after a timeout.
    """

    def __init__(self):
        self.path = os.environ.get(ENV_VAR)
        self.offset = os.path.getsize(self.path) if self.path and os.path.exists(self.path) else 0

    def check(self) -> None:
        if self.path:
            hits, _ = read_hits(self.path, self.offset)
            if hits:
                raise NotImplementedError(hits[0])


class _RouteStubs(ast.NodeTransformer):
    def visit_Raise(self, node: ast.Raise) -> ast.Raise:
        if stub_raise_message(node) is not None:
            node.exc.func = ast.copy_location(ast.Name(_HOOK, ast.Load()), node.exc.func)
        return node


class _RecordingLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname):
        source = self.get_data(self.path)  # never the bytecode cache: it holds the unrouted code
        tree = _RouteStubs().visit(ast.parse(source, self.path))
        return compile(tree, self.path, "exec", dont_inherit=True)

    def exec_module(self, module):
        module.__dict__[_HOOK] = hit
        super().exec_module(module)


class _RecordingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith(PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _RecordingLoader(fullname, spec.origin)
        return spec


def record_if_grading() -> bool:
    """Install the recording import hook if this process is part of a grading run."""
    if not os.environ.get(ENV_VAR):
        return False
    if not any(isinstance(f, _RecordingFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _RecordingFinder())
    return True
