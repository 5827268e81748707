"""Keep notebooks clean: no stored outputs except the cells nbval compares.

A cell whose source contains ``# NBVAL_CHECK_OUTPUT`` keeps its output in git; nbval compares
it on every test run, so it must print a deterministic, rounded, mode-independent summary.

Command line::

    python -m jetad_utils.nbtools strip  notebooks/01_gaussian_outliers.ipynb   # drop outputs
    python -m jetad_utils.nbtools record notebooks/01_gaussian_outliers.ipynb   # run (fast mode),
                                                                                # keep check outputs
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"

__all__ = ["strip_outputs", "record_check_outputs", "write_kernelspec", "CHECK_MARK"]


def write_kernelspec(directory, display_name: str = "Python 3 (jetad)") -> Path:
    """Write a kernel spec named ``python3`` that runs this interpreter, under ``directory``.

    Put ``directory`` on ``JUPYTER_PATH`` and a notebook client asking for ``python3`` gets
    the environment running this code, not a user-level kernel of another Python.

    Examples
    --------
    >>> import json, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     spec = write_kernelspec(d)
    ...     json.loads(spec.read_text())["argv"][0] == sys.executable
    True
    """
    import json

    spec = Path(directory) / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    path = spec / "kernel.json"
    path.write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name, "language": "python"}))
    return path


def strip_outputs(nb, keep_checks: bool = True):
    """Remove outputs and execution counts in place (except check cells if ``keep_checks``),
    and the saved state of widgets (progress bars) that the kernel left in the metadata.

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    >>> nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    >>> nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    >>> stripped = strip_outputs(nb)
    >>> stripped.cells[0].outputs, "widgets" in stripped.metadata
    ([], False)
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if keep_checks and CHECK_MARK in cell.source:
            # nbval ignores stored outputs of cells that look unrun: give a fixed count
            cell.execution_count = 1 if cell.outputs else None
            continue
        cell.outputs = []
        cell.execution_count = None
    return nb


def record_check_outputs(path, timeout: int = 1800):
    """Execute the notebook in fast mode and store only the outputs of its check cells."""
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    os.environ["JETAD_FAST"] = "1"
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code" and CHECK_MARK in cell.source:
            # keep printed text only: images and widgets are not compared
            cell.outputs = [o for o in cell.outputs if o.output_type == "stream"]
    strip_outputs(nb, keep_checks=True)
    nbformat.write(nb, path)
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jetad_utils.nbtools")
    parser.add_argument("command", choices=["strip", "record"])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if not path.is_file():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
        if args.command == "strip":
            nb = strip_outputs(nbformat.read(path, as_version=4))
            nbformat.write(nb, path)
        else:
            record_check_outputs(path)
        print(f"{args.command}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
