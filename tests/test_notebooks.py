"""The exercise (student) notebooks: everything runs except the stubs, and each stub raises.

A copy is executed up to the cell where its last exercise has raised and been solved; the cells
after it are checked to be the solution notebook's own, which nbval executes in the same
``make test`` run, so those are not executed a second time.

The solution notebooks themselves are executed by nbval (``make test`` passes
``--nbval-lax notebooks/[0-9]*.ipynb``), which also runs their in-notebook checks.

For an exercise notebook, the cells are executed in order on one kernel. A cell with a stub
must raise ``NotImplementedError("Exercise N.M: ...")``, or the exercise's check
(``jetad_utils.exercise_checks``) must raise ``ExerciseError("Exercise N.M is not answered
yet ...")`` in that cell or in a later one, before anything else fails; the test then runs the
solution version of the stub's cell (and the check's cell again), so the cells after it see the
state a student who solved the exercise would have. Every other cell must run without error.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbrun import code_cells, kernel, use_test_kernel

from jetad_utils.exercises import stub_cells

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
    return use_test_kernel(tmp_path, monkeypatch)


@pytest.mark.notebook
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercise_notebook_runs_up_to_each_stub(path, current_env_kernel):
    exercise = nbformat.read(path, as_version=4)
    solution = nbformat.read(NOTEBOOKS / path.name, as_version=4)
    stubs = stub_cells(exercise)
    assert stubs, f"{path.name} has no exercise stub"
    # the generated copy has one banner cell in front; otherwise cells correspond one to one
    assert len(exercise.cells) == len(solution.cells) + 1

    raised, pending = [], {}

    def unanswered(err, nums):
        return (err.ename == "ExerciseError"
                and any(f"Exercise {n} is not answered yet" in err.evalue for n in nums.split(",")))

    with kernel(exercise, path.parent, timeout=900, kernel_name=current_env_kernel) as client:

        def solve(k):
            client.execute_cell(nbformat.v4.new_code_cell(solution.cells[k - 1].source), k)

        for i, cell, err in code_cells(client):
            if err is not None:
                if i in stubs:
                    assert err.ename == "NotImplementedError" or unanswered(err, stubs[i]), (
                        f"{path.name} cell {i} (exercise {stubs[i]}) raised {err.ename}: "
                        f"{err.evalue} instead of NotImplementedError or the check's "
                        "'not answered yet'")
                    assert f"Exercise {stubs[i].split(',')[0]}" in err.evalue
                    raised.append(stubs[i])
                    solve(i)  # continue as a student who solved it would
                    continue
                waiting = [k for k, nums in pending.items() if unanswered(err, nums)]
                if not waiting:
                    pytest.fail(f"{path.name} cell {i} is not an exercise but failed: "
                                f"{err.ename}: {err.evalue}")
                k = waiting[0]
                raised.append(pending.pop(k))
                solve(k)
                client.execute_cell(cell, i)  # the check again, now on the solution
            elif i in stubs:
                pending[i] = stubs[i]  # a function the check of a later cell calls
            if len(raised) == len(stubs) and not pending:
                # every exercise raised and was solved: the rest of the copy is the solution
                # notebook's own cells, which nbval runs (make test), so it is not run twice
                rest = [k for k in range(i + 1, len(exercise.cells)) if exercise.cells[k].cell_type == "code"]
                differ = [k for k in rest if exercise.cells[k].source != solution.cells[k - 1].source]
                assert not differ, f"{path.name}: cells {differ} after the last exercise differ from the solution's"
                break
        assert not pending, (f"{path.name}: exercise(s) {list(pending.values())} never raised "
                             "(does a check call the function?)")
    raised.sort(key=list(stubs.values()).index)
    assert raised == list(stubs.values())
    # and the solutions themselves really are hidden from the student copy
    assert "### BEGIN SOLUTION" not in path.read_text()
