"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny networks on one torch thread, restoring the count afterwards.

    Small models gain nothing from intra-op threads, and on a busy machine OpenMP's spinning
    threads make them 10-100x slower; results do not depend on it. Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def run_full_mode(tmp_path, monkeypatch):
    """Execute a notebook top to bottom in full mode (``JETAD_FAST=0``) with this interpreter.

    Returns a function ``run(path, timeout_hours) -> notebook`` (executed, outputs included).
    """
    import nbformat
    from nbclient import NotebookClient

    from jetad_utils.nbtools import write_kernelspec

    write_kernelspec(tmp_path, "Python 3 (test environment)")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("JETAD_FAST", "0")

    def run(path, timeout_hours: float = 4.0):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=int(timeout_hours * 3600),
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        return nb

    return run


def check_cell_lines(nb) -> list[str]:
    """The printed lines of a notebook's single ``# NBVAL_CHECK_OUTPUT`` cell."""
    checked = [c for c in nb.cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source]
    assert len(checked) == 1
    text = "".join(o.get("text", "") for o in checked[0].outputs)
    return [line for line in text.splitlines() if line.strip()]


def cell_stdout(nb, marker: str) -> str:
    """The printed text of the first code cell of an executed notebook whose source contains ``marker``."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and marker in c.source)
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
