# Starter code generated from solutions/llm_eval/sandbox.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""Run generated programs against their tests in a sandboxed subprocess; one verdict per sample.

Layers, none enough alone (tests/ex1_llm_eval/test_sandbox.py runs the hostile programs against all):
- a fresh interpreter in isolated mode (`-I -S`: no site-packages, no user paths, no PYTHON*
  variables), an environment of nothing but PATH, and a temporary working directory, removed after;
- resource limits set in the child before anything runs (`rlimits`): CPU seconds, address space,
  file size, open files, no new processes, no core files; as root, privileges dropped to `nobody` as
  well when nobody can run the interpreter, so the kernel's own permissions and process limits apply;
- an audit hook (PEP 578) the harness installs before the candidate's code runs, refusing sockets,
  new processes (fork, exec, spawn, os.system, signals to others), ctypes, and writes, renames and
  removals outside the working directory;
- a wall-clock timeout in the parent that kills the child's whole process group;
- a verdict (`verdict`) that needs a nonce the harness prints only after every test passed, so a
  program that exits early with status 0 (`os._exit(0)`, `sys.exit(0)`) fails.
This is a practice sandbox: it stops accidents (a program that runs its own `main` and exits, loops,
or fills memory) and the hostile programs the tests list. A program written to defeat it (reading the
harness's frames for the nonce, say) is beyond it: untrusted code from the internet belongs in a
container or a VM (gVisor, Firecracker), as the HumanEval harness advises.
"""
from __future__ import annotations

import os
import resource
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

NOBODY = 65534  # uid and gid of `nobody` on Debian and most Linux distributions


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 5.0   # the parent kills the process group after this
    cpu_seconds: int = 2        # SIGXCPU at the soft limit, SIGKILL one second later
    memory_bytes: int = 512 << 20  # address space: a larger allocation raises MemoryError
    file_bytes: int = 1 << 20   # the largest file it may write, stdout and stderr included (SIGXFSZ beyond)
    open_files: int = 32
    output_bytes: int = 64 << 10  # of stdout and stderr, the tail the verdict reads


@dataclass(frozen=True)
class SampleResult:
    passed: bool
    status: str    # passed | failed (a test or the program raised) | timeout | killed (a limit) | refused (policy)
    detail: str    # the last line of the error, the signal, or what the policy refused
    seconds: float


# ---------------------------------------------------------------- the learner's parts
def rlimits(limits: Limits) -> list[tuple[int, tuple[int, int]]]:
    """The resource limits the child sets on itself, as (resource.RLIMIT_*, (soft, hard)) pairs:
    CPU time (soft cpu_seconds, hard one second more, so SIGXCPU comes first and SIGKILL after),
    address space, file size (its stdout and stderr are files too) and open files (soft = hard = the
    limit), no new processes or threads (RLIMIT_NPROC (0, 0)) and no core files (0, 0)."""
    # Exercise 1.10: the child's resource limits.
    # Hint: resource.RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_CORE.
    raise NotImplementedError("Exercise 1.10: the child's resource limits - see notebooks/01_llm_evaluation.ipynb, section 10")


def verdict(returncode: int | None, stdout: str, stderr: str, nonce: str, seconds: float) -> SampleResult:
    """One sample's result from how its process ended (`returncode` None: killed at the wall-clock
    timeout; negative: killed by that signal).

    - passed only if the return code is 0 and the last line of stdout is exactly the nonce;
    - None: "timeout"; a negative code: "killed", detail the signal's name (`signal.Signals(-code).name`,
      e.g. SIGXCPU, SIGKILL);
    - a last stderr line starting "SandboxRefused:": "refused", detail the rest of that line;
    - anything else (an assertion, an exception, exit 0 without the nonce): "failed", detail the last
      non-empty line of stderr, or "exited without passing the tests" if there is none.
    """
    # Exercise 1.10: the verdict from how the child ended.
    # Hint: check the nonce first: a program can exit 0 on its own, but cannot know the nonce.
    raise NotImplementedError('Exercise 1.10: the verdict from how the child ended - see notebooks/01_llm_evaluation.ipynb, section 10')


# ---------------------------------------------------------------- the child (scaffolding)
HARNESS = r'''
def main():
    import os, sys
    fd = int(sys.argv[1])
    nonce = os.read(fd, 256).decode().strip()
    os.close(fd)
    workdir = os.path.realpath(os.getcwd())
    process = frozenset(["os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
                         "os.kill", "os.killpg", "subprocess.Popen", "pty.spawn"])
    changes = frozenset(["os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod",
                         "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile"])
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    realpath, fsdecode, sep = os.path.realpath, os.fsdecode, os.sep

    class SandboxRefused(Exception):
        pass

    def inside(path):
        try:
            real = realpath(fsdecode(path))
        except (TypeError, ValueError, OSError):
            return False
        return real == workdir or real.startswith(workdir + sep)

    def audit(event, args):
        if event.startswith(("socket.", "ctypes.")) or event in process:
            raise SandboxRefused(event)
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1] or "", args[2] or 0
            if (any(m in mode for m in "wax+") or flags & writing) and not inside(args[0]):
                raise SandboxRefused(f"write outside the working directory: {args[0]!r}")
        elif event in changes:
            paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
            if not all(inside(p) for p in paths):
                raise SandboxRefused(f"{event} outside the working directory: {paths!r}")

    sources = {}
    for name in ("candidate.py", "tests.py"):
        with open(name) as f:
            sources[name] = f.read()
    sys.addaudithook(audit)  # from here on, for good: an audit hook cannot be removed
    namespace = {"__name__": "candidate"}
    try:
        for name, text in sources.items():
            exec(compile(text, name, "exec"), namespace)
    except SandboxRefused as err:
        print(f"SandboxRefused: {err}", file=sys.stderr, flush=True)
        os._exit(3)
    except BaseException as err:  # an assertion, an exception, sys.exit() in the program or its tests
        text = str(err).splitlines()[0] if str(err) else ""
        print(f"{type(err).__name__}: {text}" if text else type(err).__name__, file=sys.stderr, flush=True)
        os._exit(1)
    print(nonce, flush=True)
    os._exit(0)


main()
'''


def _limits_setter(limits: list[tuple[int, tuple[int, int]]]):
    """What the child runs between fork and exec, after Popen gave it its own session and (as root)
    dropped it to nobody: the limits (a lowered limit cannot be raised again)."""
    def set_limits():
        for which, (soft, hard) in limits:
            resource.setrlimit(which, (soft, hard))
    return set_limits


def _nobody_can_run(path: str) -> bool:
    """Whether `nobody` can execute the interpreter: every directory on its real path searchable and the
    file executable by others (a pyenv under /root is not, and then the child stays root)."""
    real = os.path.realpath(path)
    parts = [real] + [os.path.dirname(real)]
    while parts[-1] != os.path.dirname(parts[-1]):
        parts.append(os.path.dirname(parts[-1]))
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in parts)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(f, cap: int) -> str:
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - cap))
    return f.read().decode(errors="replace")


def run_sample(program: str, tests: str, limits: Limits = Limits()) -> SampleResult:
    """Run `program` then `tests` (plain asserts against its names) in a sandboxed child; never raises
    for anything the program does, and returns within about limits.wall_seconds. Its stdout and stderr
    go to files (bounded by the file-size limit), so a flood of output cannot fill the parent's memory."""
    if not isinstance(program, str) or not isinstance(tests, str):
        raise ValueError("run_sample needs the program and its tests as strings of Python source")
    nonce = secrets.token_hex(16)
    child_limits = rlimits(limits)
    drop = os.geteuid() == 0 and _nobody_can_run(sys.executable)
    with tempfile.TemporaryDirectory(prefix="sandbox-") as workdir, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        for name, text in (("candidate.py", program), ("tests.py", tests), ("harness.py", HARNESS)):
            with open(os.path.join(workdir, name), "w") as f:
                f.write(text)
        if drop:  # the child runs as nobody: it may write in its own directory only
            os.chown(workdir, NOBODY, NOBODY)
        read_nonce, write_nonce = os.pipe()
        os.write(write_nonce, nonce.encode())
        os.close(write_nonce)
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "harness.py", str(read_nonce)], cwd=workdir,
            env={"PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            pass_fds=(read_nonce,), start_new_session=True, preexec_fn=_limits_setter(child_limits),
            **({"user": NOBODY, "group": NOBODY, "extra_groups": []} if drop else {}))
        os.close(read_nonce)
        try:
            code = proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            code = None
        _kill_group(proc)  # at the timeout, and whatever else it left in its group
        proc.wait()
        seconds = time.monotonic() - start
        stdout, stderr = _tail(out, limits.output_bytes), _tail(err, limits.output_bytes)
    return verdict(code, stdout, stderr, nonce, seconds)
