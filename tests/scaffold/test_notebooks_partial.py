"""The notebooks in exercises mode run top to bottom while parts are missing, skipping what needs them.

`lab.start("exercises")` skips every cell that opens with `lab.needs(...)` naming a part not attempted
(mlpractice/lab.py). Each notebook is executed with `IMPL = "exercises"` in a throwaway checkout
(tests/scaffold/checkout.py): once on the untouched starter, once with one core requirement filled in
from the reference. Both runs must end without an error; a guarded cell must print its skip line exactly
when a part it names is missing; every other cell must print what the committed (solutions-mode)
notebook shows. That last check is what catches a `needs` that leaves out a part: its cell runs and
fails or prints something else (or, unguarded, does so on the untouched starter).

All notebooks of one checkout run in one process, one after the other: two processes in all.
"""
import ast

import nbformat
import pytest

from mlpractice import lab
from mlpractice.notebooks import NOTEBOOK_DIR, NOTEBOOK_ENV

from .checkout import make_checkout, run_in

pytestmark = pytest.mark.scaffold

# per notebook, a core requirement that at least one section needs alone
FILLED = {
    "01_llm_evaluation.ipynb": "1.1",
    "02_model_serving.ipynb": "2.3",
    "03_distributed_training.ipynb": "3.1",
    "04_feature_pipeline.ipynb": "4.1",
}
NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
SWITCH = ('IMPL = "solutions"', 'IMPL = "exercises"')

# Runs inside the checkout: its own mlpractice, so NOTEBOOK_DIR is the checkout's notebooks/.
EXECUTE = f"""
import sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from mlpractice.notebooks import NOTEBOOK_DIR

for name in sys.argv[2:]:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    switch = next(c for c in nb.cells if c.cell_type == "code")
    assert {SWITCH[0]!r} in switch.source, name
    switch.source = switch.source.replace(*{SWITCH!r}, 1)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={{"metadata": {{"path": str(NOTEBOOK_DIR)}}}}).execute()
    nbformat.write(nb, Path(sys.argv[1]) / name)
"""


def execute_all(tmp_path_factory, label: str, keep: set[str]) -> dict[str, nbformat.NotebookNode]:
    root = tmp_path_factory.mktemp(label)
    checkout = make_checkout(root / "repo", keep=keep)
    out = root / "executed"
    out.mkdir()
    done = run_in(checkout, "-c", EXECUTE, str(out), *NOTEBOOKS, timeout=480, **NOTEBOOK_ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: nbformat.read(out / name, as_version=4) for name in NOTEBOOKS}


@pytest.fixture(scope="module")
def untouched(tmp_path_factory):
    return execute_all(tmp_path_factory, "untouched", set())


@pytest.fixture(scope="module")
def one_part(tmp_path_factory):
    # one checkout serves every notebook: each notebook only needs parts of its own exercise
    return execute_all(tmp_path_factory, "one-part", set(FILLED.values()))


def printed(cell) -> dict[str, str]:
    """What a cell printed and returned, by stream. Figures are left out: their text is only their
    size, and their pixels are not what this test is about."""
    found: dict[str, str] = {}
    for out in cell.outputs:
        if out.output_type == "stream":
            found[out.name] = found.get(out.name, "") + out.text
        elif out.output_type == "execute_result":
            found["result"] = found.get("result", "") + out.data.get("text/plain", "")
        elif out.output_type == "error":
            found["error"] = f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback)
    return found


def check(name: str, executed: nbformat.NotebookNode, filled: set[str]) -> list[int]:
    """Assert the partial run of notebook `name` behaved; return the guarded cells that ran."""
    committed = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    code = [i for i, c in enumerate(committed.cells) if c.cell_type == "code"]
    outputs = {i: printed(executed.cells[i]) for i in code}
    errors = {i: out["error"] for i, out in outputs.items() if "error" in out}
    assert not errors, f"{name}: cells raised:\n" + "\n\n".join(f"cell {i}: {e}" for i, e in errors.items())
    ran = []
    for i in code[1:]:  # the switch cell prints what mode it is in
        source = committed.cells[i].source
        guard = lab.guard_of(ast.parse(source))
        missing = [p for p in guard.parts if p not in filled] if guard else []
        got = outputs[i]
        if missing:
            line = f"section {guard.section} needs " + ", ".join(f"{p} (not attempted)" for p in missing)
            assert got == {"stdout": line + ": skipped\n"}, f"{name} cell {i} should be skipped:\n{source}\n{got}"
        else:
            want = printed(committed.cells[i])
            assert got == want, (f"{name} cell {i} ran (it needs {guard.parts if guard else 'nothing'}, "
                                 f"done: {sorted(filled)}) but printed something else:\n{source}\n"
                                 f"got: {got}\nwant: {want}")
            if guard:
                ran.append(i)
    return ran


@pytest.mark.timeout(600)  # the first test of each run also waits for its fixture
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_untouched_starter_skips_every_guarded_cell(name, untouched):
    assert check(name, untouched[name], set()) == []


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_one_part_done_runs_the_cells_that_need_only_it(name, one_part):
    assert check(name, one_part[name], {FILLED[name]}), f"{name}: no guarded cell needs only {FILLED[name]}"
