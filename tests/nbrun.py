"""Running a notebook's code cells one by one on a kernel, for the tests and the mutation check.

``kernel`` starts a kernel for a notebook, ``code_cells`` executes its code cells in order and
hands each one back with the error it raised (the caller decides: stop, re-run, solve and go
on), ``first_error`` runs a notebook up to its first failing cell. ``use_test_kernel`` makes the
kernel named ``python3`` the interpreter running the tests.

Imported as ``nbrun``: ``tests/`` is on ``sys.path`` under pytest (like ``conftest``) and when a
script of this folder runs (``python tests/mutation_check.py``).
"""

from __future__ import annotations

from contextlib import contextmanager

from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

__all__ = ["use_test_kernel", "kernel", "code_cells", "first_error"]


def use_test_kernel(directory, monkeypatch) -> str:
    """Make the kernel named ``python3`` this interpreter (not a user-level one); return its name.

    Writes the kernel spec into ``directory`` and points ``JUPYTER_PATH`` there for the test
    (``monkeypatch`` undoes it).
    """
    from jetad_utils.nbtools import write_kernelspec

    write_kernelspec(directory, "Python 3 (test environment)")
    monkeypatch.setenv("JUPYTER_PATH", str(directory))
    return "python3"


@contextmanager
def kernel(nb, directory, *, timeout: int, kernel_name: str = "python3", env: dict | None = None):
    """Start a kernel for ``nb`` and yield its ``NotebookClient``; the kernel stops on leaving.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook (its cells receive their outputs).
    directory : path-like
        The kernel's working directory (the notebook's folder).
    timeout : int
        Seconds a cell may run.
    kernel_name : str
        The kernel spec to start.
    env : dict, optional
        The kernel's environment (default: this process's).
    """
    client = NotebookClient(nb, kernel_name=kernel_name, timeout=timeout,
                            resources={"metadata": {"path": str(directory)}})
    with client.setup_kernel(**({} if env is None else {"env": env})):
        yield client


def code_cells(client: NotebookClient, *, catch=(CellExecutionError,)):
    """Execute the code cells of ``client``'s notebook in order; yield ``(index, cell, error)`` for each.

    ``error`` is the exception of one of the types ``catch`` the cell raised, or None. The next
    cell runs when the caller asks for it, so the caller may execute other cells on ``client``
    first (a solution, the same cell again) or stop.
    """
    for i, cell in enumerate(client.nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            client.execute_cell(cell, i)
            error = None
        except catch as err:
            error = err
        yield i, cell, error


def first_error(nb, directory, *, timeout: int, kernel_name: str = "python3", env: dict | None = None):
    """Execute ``nb``'s code cells in order up to the first that raises.

    Returns
    -------
    tuple or None
        ``(index, cell, CellExecutionError)`` of the first failing cell; None if every cell ran.
    """
    with kernel(nb, directory, timeout=timeout, kernel_name=kernel_name, env=env) as client:
        for i, cell, error in code_cells(client):
            if error is not None:
                return i, cell, error
    return None
