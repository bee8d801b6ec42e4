"""Execute the committed notebooks and strip what changes between runs.

`make notebooks` runs this with the same environment nbval uses in `make test`
(NOTEBOOK_ENV), so committed outputs are exactly what validation expects.
Cleaning renumbers execution counts, drops timing metadata and merges consecutive stream
outputs; the notebook metadata is left exactly as JupyterLab writes it when it opens a
notebook, so opening and saving a committed notebook changes nothing
(tests/scaffold/test_notebook_metadata.py).
The outputs themselves must already be free of timings, addresses, paths,
ports and PIDs (the notebooks print checks and rounded values instead).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"

# Mirrored by the Makefile's exports (tests/test_scaffold.py checks they agree).
NOTEBOOK_ENV = {
    "TQDM_DISABLE": "1",
    "PYTHONHASHSEED": "0",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "1",
}


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Make volatile fields stable, in place: per-cell timing is dropped, execution counts are
    renumbered 1, 2, 3... (nbval treats a cell without a count as unrun), and consecutive stream
    outputs are merged, as JupyterLab does when it runs a cell: how ipykernel splits a stream into
    messages depends on timing.

    The notebook metadata is left as JupyterLab sets it once the kernel is up, or JupyterLab marks
    the notebook modified on open: `kernelspec` from the kernel spec, and `language_info` verbatim
    from the kernel_info reply, which nbclient stored. That includes the Python version of the
    `make notebooks` run: it differs per machine, but no committed value can match every machine,
    and the real one keeps the notebooks clean at least on the Python they were made with."""
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            outputs = []
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = count
                last = outputs[-1] if outputs else None
                if out.output_type == "stream" and last and last.output_type == "stream" and last.name == out.name:
                    last.text += out.text
                else:
                    outputs.append(out)
            cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return nb


def execute(path: Path, timeout: int = 300) -> float:
    from nbclient import NotebookClient

    for key, value in NOTEBOOK_ENV.items():
        os.environ.setdefault(key, value)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    nbformat.write(clean(nb), path)
    return elapsed


def main(names: list[str] | None = None) -> int:
    paths = [Path(n) if Path(n).exists() else NOTEBOOK_DIR / n for n in names] if names else \
        sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    for path in paths:
        if not path.exists():
            print(f"no notebook {path}", file=sys.stderr)
            return 1
        elapsed = execute(path)
        print(f"{path.name}: executed and cleaned in {elapsed:.0f} s")
    return 0
