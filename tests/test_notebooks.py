"""The exercise (student) notebooks: everything runs except the stubs, and each stub raises.

The solution notebooks themselves are executed by nbval (``make test`` passes
``--nbval-lax notebooks/[0-9]*.ipynb``), which also runs their in-notebook checks.

For an exercise notebook, every cell is executed in order on one kernel. A cell with a stub
must raise ``NotImplementedError("Exercise N.M: ...")`` and nothing else; the test then runs the
solution version of that cell, so the cells after it see the state a student who solved the
exercise would have. Every other cell must run without error.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from jetad_utils.exercises import stub_cells
from jetad_utils.nbtools import write_kernelspec

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXERCISES = sorted((NOTEBOOKS / "exercises").glob("[0-9][0-9]_*.ipynb"))


def test_every_solution_notebook_has_an_exercise_copy():
    solutions = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert solutions, "no solution notebooks found in notebooks/"
    assert [p.name for p in EXERCISES] == solutions


@pytest.fixture
def current_env_kernel(tmp_path, monkeypatch):
    """Make the kernel named python3 the interpreter running the tests (not a user-level one)."""
    write_kernelspec(tmp_path, "Python 3 (test environment)")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return "python3"


@pytest.mark.notebook
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercise_notebook_runs_up_to_each_stub(path, current_env_kernel):
    exercise = nbformat.read(path, as_version=4)
    solution = nbformat.read(NOTEBOOKS / path.name, as_version=4)
    stubs = stub_cells(exercise)
    assert stubs, f"{path.name} has no exercise stub"
    # the generated copy has one banner cell in front; otherwise cells correspond one to one
    assert len(exercise.cells) == len(solution.cells) + 1

    client = NotebookClient(exercise, kernel_name=current_env_kernel, timeout=900,
                            resources={"metadata": {"path": str(path.parent)}})
    raised = []
    with client.setup_kernel():
        for i, cell in enumerate(exercise.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, i)
            except CellExecutionError as err:
                if i not in stubs:
                    pytest.fail(f"{path.name} cell {i} is not an exercise but failed: "
                                f"{err.ename}: {err.evalue}")
                assert err.ename == "NotImplementedError", (
                    f"{path.name} cell {i} (exercise {stubs[i]}) raised {err.ename}: {err.evalue} "
                    "instead of NotImplementedError")
                assert f"Exercise {stubs[i].split(',')[0]}:" in err.evalue
                raised.append(stubs[i])
                # continue as a student who solved it would: run the solution of this cell
                solved = nbformat.v4.new_code_cell(solution.cells[i - 1].source)
                client.execute_cell(solved, i)
            else:
                if i in stubs:
                    pytest.fail(f"{path.name} cell {i} holds exercise {stubs[i]} but ran without "
                                "raising NotImplementedError (does the cell call its function?)")
    assert raised == list(stubs.values())
    # and the solutions themselves really are hidden from the student copy
    assert "### BEGIN SOLUTION" not in path.read_text()
