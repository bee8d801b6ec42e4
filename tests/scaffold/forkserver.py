"""Many pytest runs from one interpreter that imported the heavy libraries once.

The isolation check grades about fifty starters, each a `make check` run: an interpreter start, then
torch, scikit-learn, scipy, pandas and FastAPI imported again (4-8 s of CPU a run on these machines)
before the few tests that matter. This server imports those libraries once and forks a child per
run. The child is what `python -m pytest ARGS` would be in the checkout: its own session (killed as a
group at the timeout), stdin from /dev/null, stdout and stderr to files, the checkout's directory,
environment and sys.path (first, as PYTHONPATH puts it), then `pytest.main(ARGS)`. Nothing of the
repository is imported before the fork, so each child imports the checkout's own mlpractice, tests,
solutions and exercises. The parent never runs a torch operation, so no thread pool exists to be
forked mid-state.

Run as a script; one JSON request per line on stdin, one JSON reply per line on stdout.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PRELOAD = ("numpy", "pandas", "scipy.stats", "sklearn.ensemble", "sklearn.linear_model", "sklearn.metrics",
           "torch", "torch.nn", "torch.distributed", "fastapi", "httpx", "uvicorn", "hypothesis", "pytest",
           "safetensors.torch")


def _child(request: dict) -> None:
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, fd)
    code = 70
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        here = str(Path(__file__).resolve().parent)
        sys.path[:] = [request["cwd"], *(p for p in sys.path if p != here)]
        sys.argv = ["pytest", *request["args"]]
        import pytest

        code = int(pytest.main(request["args"]))
    except BaseException:  # noqa: BLE001 - whatever happens, the child reports and exits
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -signal.SIGKILL
        time.sleep(0.02)


def serve() -> None:
    for name in PRELOAD:
        __import__(name)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"code": _wait(pid, request["timeout"])}), flush=True)


class ForkServer:
    """A client: `run(cwd, args, env, timeout)` -> CompletedProcess with the child's output as text."""

    def __init__(self, scratch: Path):
        self.scratch = Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=self.scratch)
        ready = self.proc.stdout.readline()
        if not ready:
            raise RuntimeError("the fork server died while importing its libraries")

    def run(self, cwd: Path, args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
        self.count += 1
        out, err = self.scratch / f"{self.count}.out", self.scratch / f"{self.count}.err"
        request = {"cwd": str(cwd), "args": list(args), "env": env, "timeout": timeout,
                   "stdout": str(out), "stderr": str(err)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        return subprocess.CompletedProcess(args, reply["code"], out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


if __name__ == "__main__":
    serve()
