"""Opening a committed notebook in JupyterLab, which starts its kernel, and saving it changes nothing.

The same round trip as JupyterLab 4, without a browser. Once the kernel is up JupyterLab sets two
notebook metadata keys (NotebookPanel._updateLanguage and _updateSpec in @jupyterlab/notebook) and
marks the notebook modified unless each deep-equals what the file has; saving sends the model to
the Jupyter server, which writes it with nbformat. If the result is byte-identical to the file,
there is neither an unsaved-changes dot on open nor a git diff after saving.
"""
import difflib
import io

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from mlpractice.notebooks import NOTEBOOK_DIR

pytestmark = pytest.mark.scaffold
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


@pytest.fixture(scope="module")
def kernel():
    """The notebooks' kernel, as JupyterLab starts it: (kernel_info reply, kernel name, kernel spec)."""
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client.kernel_info(reply=True, timeout=30)["content"], manager.kernel_name, manager.kernel_spec
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def open_and_save_in_jupyterlab(text: str, kernel) -> str:
    reply, name, spec = kernel
    nb = nbformat.reads(text, as_version=4)  # as the server reads it for the browser
    nb.nbformat_minor = max(nb.nbformat_minor, 4)  # NotebookModel.fromJSON: at least nbformat 4.4
    language_info = dict(reply["language_info"])
    # The Python version differs per machine (see mlpractice.notebooks.clean): accept the one the
    # notebook was made with; on another Python JupyterLab does show it modified, unavoidably.
    if "version" in nb.metadata.get("language_info", {}):
        language_info["version"] = nb.metadata.language_info.version
    nb.metadata.language_info = language_info
    nb.metadata.kernelspec = {"name": name, "display_name": spec.display_name, "language": spec.language}
    saved = io.StringIO()
    nbformat.write(nb, saved, version=nbformat.NO_CONVERT)  # as the server's contents manager saves
    return saved.getvalue()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_jupyterlab_open_and_save_leaves_the_committed_notebook_unchanged(path, kernel):
    committed = path.read_bytes().decode("utf-8")
    saved = open_and_save_in_jupyterlab(committed, kernel)
    if saved != committed:
        diff = "".join(difflib.unified_diff(committed.splitlines(True), saved.splitlines(True),
                                            "committed", "after open and save in JupyterLab", n=1))
        pytest.fail(f"{path.name}: JupyterLab would mark it modified and saving would change it; "
                    f"re-execute it with `make notebooks NB={path.name}`\n{diff}", pytrace=False)
