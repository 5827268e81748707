"""Tests of jetad_utils.exercises: student copies generated from the solution notebooks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from jetad_utils.exercises import (
    ExerciseMarkupError,
    build,
    check,
    default_workspace,
    exercise_notebook,
    make_stub_source,
    solution_notebooks,
    start,
    stub_cells,
)

REPO = Path(__file__).resolve().parents[1]

FUNC_CELL = """\
import torch

def reconstruction_error(model, x):
    \"\"\"Squared error per event.\"\"\"
    ### BEGIN SOLUTION 1.1: return the squared reconstruction error of each event
    x_hat = model(x)
    return ((x_hat - x) ** 2).sum(dim=1)
    ### END SOLUTION

score = reconstruction_error(lambda t: t, torch.zeros(3, 2))"""

TOP_CELL = """\
### BEGIN SOLUTION 1.2: compute the mean of the scores
mean_score = float(score.mean())
### END SOLUTION
check_between("mean score", mean_score, 0, 1)"""

PLAIN_CELL = "from jetad_utils import check_between\nx = 1 + 1\nx"


def _solution_nb(code_cells=(PLAIN_CELL, FUNC_CELL, TOP_CELL)):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(new_markdown_cell("# Demo\n\nSome *text* about anomaly detection."))
    for i, src in enumerate(code_cells):
        cell = new_code_cell(src, execution_count=i + 1)
        cell.outputs = [new_output("stream", name="stdout", text=f"output {i}\n")]
        cell.metadata["execution"] = {"iopub.status.idle": "2024-01-01T00:00:00Z"}
        nb.cells.append(cell)
        nb.cells.append(new_markdown_cell(f"Text after code cell {i}."))
    return nb


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(_solution_nb(), folder / "01_demo.ipynb")
    return folder


def _write(path, nb):
    nbformat.write(nb, path)


# ----------------------------------------------------------------------------- build


def test_build_replaces_spans(root):
    written = build(root)
    target = root / "exercises" / "01_demo.ipynb"
    assert written == [target]
    sol = nbformat.read(root / "01_demo.ipynb", as_version=4)
    ex = nbformat.read(target, as_version=4)

    # a generated banner first, then the solution's cells one for one
    assert ex.cells[0].cell_type == "markdown"
    assert "Exercise version" in ex.cells[0].source and "01_demo.ipynb" in ex.cells[0].source
    assert len(ex.cells) == len(sol.cells) + 1
    body = ex.cells[1:]

    func = body[3].source  # code cell 1 (FUNC_CELL)
    assert func == (
        "import torch\n"
        "\n"
        "def reconstruction_error(model, x):\n"
        '    """Squared error per event."""\n'
        "    # Exercise 1.1: your code here\n"
        '    raise NotImplementedError("Exercise 1.1: return the squared reconstruction error of each event")\n'
        "\n"
        "score = reconstruction_error(lambda t: t, torch.zeros(3, 2))"
    )
    top = body[5].source  # code cell 2 (TOP_CELL)
    assert top == (
        "# Exercise 1.2: your code here\n"
        'raise NotImplementedError("Exercise 1.2: compute the mean of the scores")\n'
        'check_between("mean score", mean_score, 0, 1)'
    )
    assert "SOLUTION" not in func + top
    assert "x_hat" not in func and "score.mean()" not in top
    # the stubs are valid Python
    compile(func, "func", "exec")
    compile(top, "top", "exec")

    # every other cell is unchanged (type and source)
    for i, (s_cell, e_cell) in enumerate(zip(sol.cells, body)):
        assert s_cell.cell_type == e_cell.cell_type
        if i not in (3, 5):
            assert e_cell.source == s_cell.source, i

    assert ex.metadata["kernelspec"]["name"] == "python3"
    assert ex.metadata["jetad"] == {"generated_from": "01_demo.ipynb", "exercises": ["1.1", "1.2"]}
    nbformat.validate(ex)


def test_stub_raises_at_runtime(root):
    build(root)
    ex = nbformat.read(root / "exercises" / "01_demo.ipynb", as_version=4)
    namespace = {}
    exec(ex.cells[2].source, namespace)  # PLAIN_CELL
    with pytest.raises(NotImplementedError, match=r"Exercise 1\.1: return the squared"):
        exec(ex.cells[4].source, namespace)


def test_build_strips_outputs(root):
    sol = nbformat.read(root / "01_demo.ipynb", as_version=4)
    assert any(c.get("outputs") for c in sol.cells if c.cell_type == "code")
    build(root)
    ex = nbformat.read(root / "exercises" / "01_demo.ipynb", as_version=4)
    code = [c for c in ex.cells if c.cell_type == "code"]
    assert len(code) == 3
    for cell in code:
        assert cell.outputs == []
        assert cell.execution_count is None
        assert "execution" not in cell.metadata


def test_build_does_not_touch_solution(root):
    before = (root / "01_demo.ipynb").read_bytes()
    build(root)
    assert (root / "01_demo.ipynb").read_bytes() == before


def test_build_twice_is_byte_identical(root):
    build(root)
    first = (root / "exercises" / "01_demo.ipynb").read_bytes()
    build(root)
    assert (root / "exercises" / "01_demo.ipynb").read_bytes() == first
    # and no temporary files are left behind
    assert sorted(p.name for p in (root / "exercises").iterdir()) == ["01_demo.ipynb"]


def test_build_ignores_other_names(root):
    nbformat.write(_solution_nb(), root / "scratch.ipynb")
    nbformat.write(_solution_nb(), root / "1_short.ipynb")
    assert [p.name for p in solution_notebooks(root)] == ["01_demo.ipynb"]
    assert [p.name for p in build(root)] == ["01_demo.ipynb"]


def test_stub_cells(root):
    build(root)
    ex = nbformat.read(root / "exercises" / "01_demo.ipynb", as_version=4)
    assert stub_cells(ex) == {4: "1.1", 6: "1.2"}
    sol = nbformat.read(root / "01_demo.ipynb", as_version=4)
    assert stub_cells(sol) == {}


def test_two_spans_in_one_cell():
    src = (
        "### BEGIN SOLUTION 2.1: a\na = 1\n### END SOLUTION\n"
        "b = 2\n"
        "if True:\n\t### BEGIN SOLUTION 2.2: c\n\tc = 3\n\t### END SOLUTION"
    )
    new, numbers = make_stub_source(src)
    assert numbers == ["2.1", "2.2"]
    assert new == (
        '# Exercise 2.1: your code here\nraise NotImplementedError("Exercise 2.1: a")\n'
        "b = 2\n"
        'if True:\n\t# Exercise 2.2: your code here\n\traise NotImplementedError("Exercise 2.2: c")'
    )
    nb = new_notebook(cells=[new_code_cell(new)])
    assert stub_cells(nb) == {0: "2.1,2.2"}


def test_task_with_quotes_is_escaped():
    new, _ = make_stub_source('### BEGIN SOLUTION 3.1: use "quotes" and \\ backslash\nx = 1\n### END SOLUTION')
    namespace = {}
    with pytest.raises(NotImplementedError) as info:
        exec(new, namespace)
    assert str(info.value) == 'Exercise 3.1: use "quotes" and \\ backslash'


# ----------------------------------------------------------------------------- check


def test_check_clean_after_build(root):
    build(root)
    assert check(root) == []


def test_check_reports_stale_copy(root):
    build(root)
    sol = nbformat.read(root / "01_demo.ipynb", as_version=4)
    sol.cells[0].source += "\n\nA new sentence."
    _write(root / "01_demo.ipynb", sol)
    problems = check(root)
    assert len(problems) == 1
    assert "01_demo.ipynb is stale" in problems[0]
    build(root)
    assert check(root) == []


def test_check_reports_hand_edited_copy(root):
    build(root)
    target = root / "exercises" / "01_demo.ipynb"
    ex = nbformat.read(target, as_version=4)
    ex.cells[4].source = ex.cells[4].source.replace("raise NotImplementedError", "pass  #")
    _write(target, ex)
    assert len(check(root)) == 1 and "stale" in check(root)[0]


def test_output_only_change_is_not_stale(root):
    build(root)
    sol = nbformat.read(root / "01_demo.ipynb", as_version=4)
    sol.cells[1].outputs = [new_output("stream", name="stdout", text="different\n")]
    sol.cells[1].execution_count = 42
    _write(root / "01_demo.ipynb", sol)
    assert check(root) == []


def test_check_reports_missing_copy(root):
    assert check(root) == [f"{root / 'exercises' / '01_demo.ipynb'} is missing"]
    build(root)
    (root / "exercises" / "01_demo.ipynb").unlink()
    problems = check(root)
    assert len(problems) == 1 and "is missing" in problems[0]


def test_check_reports_orphan_copy(root):
    build(root)
    orphan = root / "exercises" / "02_gone.ipynb"
    orphan.write_text((root / "exercises" / "01_demo.ipynb").read_text())
    problems = check(root)
    assert problems == [f"{orphan} has no solution notebook {root / '02_gone.ipynb'}"]


def test_check_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check(tmp_path / "nope")


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "jetad_utils.exercises", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.integration
def test_cli_build_and_check(root):
    res = _cli("check", "--root", str(root), cwd=root.parent)
    assert res.returncode == 1
    assert "is missing" in res.stderr

    res = _cli("build", "--root", str(root), cwd=root.parent)
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and "01_demo.ipynb" in res.stdout

    res = _cli("check", "--root", str(root), cwd=root.parent)
    assert res.returncode == 0, res.stderr
    assert "up to date (1 notebooks)" in res.stdout

    sol = nbformat.read(root / "01_demo.ipynb", as_version=4)
    sol.cells[1].source = sol.cells[1].source.replace("x = 1 + 1", "x = 1 + 2")
    assert "1 + 2" in sol.cells[1].source
    _write(root / "01_demo.ipynb", sol)
    res = _cli("check", "--root", str(root), cwd=root.parent)
    assert res.returncode == 1
    assert "stale" in res.stderr
    assert "python -m jetad_utils.exercises build" in res.stderr


def test_cli_markup_error_exit_code(root):
    _write(root / "02_bad.ipynb", _solution_nb([PLAIN_CELL + "\n### END SOLUTION"]))
    res = _cli("check", "--root", str(root), cwd=root.parent)
    assert res.returncode == 2
    assert "02_bad.ipynb cell 1" in res.stderr


# ----------------------------------------------------------------------------- malformed markup

MALFORMED = {
    "begin-without-end": (
        ["x = 1", "### BEGIN SOLUTION 1.1: task\ny = 2"],
        r"02_bad\.ipynb cell 3: exercise 1\.1 has no '### END SOLUTION'",
    ),
    "end-without-begin": (
        ["x = 1\n### END SOLUTION"],
        r"02_bad\.ipynb cell 1, line 2: END SOLUTION without BEGIN",
    ),
    "nested-begin": (
        ["### BEGIN SOLUTION 1.1: outer\n### BEGIN SOLUTION 1.2: inner\nx = 1\n### END SOLUTION\n### END SOLUTION"],
        r"02_bad\.ipynb cell 1, line 2: BEGIN SOLUTION inside exercise 1\.1",
    ),
    "empty-solution": (
        ["x = 1", "def f():\n    ### BEGIN SOLUTION 1.1: task\n    ### END SOLUTION"],
        r"02_bad\.ipynb cell 3: exercise 1\.1 has an empty solution",
    ),
    "malformed-begin": (
        ["### BEGIN SOLUTION: no number\nx = 1\n### END SOLUTION"],
        r"02_bad\.ipynb cell 1, line 1: malformed marker",
    ),
    "no-exercise": (
        ["x = 1", "y = 2"],
        r"02_bad\.ipynb has no '### BEGIN SOLUTION N\.M: task' span",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_markup(tmp_path, case):
    cells, pattern = MALFORMED[case]
    folder = tmp_path / "nb"
    folder.mkdir()
    _write(folder / "02_bad.ipynb", _solution_nb(cells))
    with pytest.raises(ExerciseMarkupError, match=pattern):
        exercise_notebook(folder / "02_bad.ipynb")
    with pytest.raises(ExerciseMarkupError, match=pattern):
        build(folder)
    assert not (folder / "exercises" / "02_bad.ipynb").exists()
    assert issubclass(ExerciseMarkupError, ValueError)


# A duplicated exercise number names the cell of the duplicate, like every other markup error.
def test_duplicate_exercise_number(tmp_path):
    # 1.1 first in code cell 0 (notebook cell 1), again in code cell 1 (notebook cell 3)
    cells = [
        "### BEGIN SOLUTION 1.1: a\na = 1\n### END SOLUTION",
        "### BEGIN SOLUTION 1.1: b\nb = 1\n### END SOLUTION",
    ]
    folder = tmp_path / "nb"
    folder.mkdir()
    _write(folder / "02_bad.ipynb", _solution_nb(cells))
    with pytest.raises(ExerciseMarkupError, match=r"exercise number\(s\) \['1\.1'\] used twice") as info:
        exercise_notebook(folder / "02_bad.ipynb")
    assert "02_bad.ipynb cell 3" in str(info.value)


def test_duplicate_exercise_number_in_one_cell(tmp_path):
    cells = ["### BEGIN SOLUTION 1.1: a\na = 1\n### END SOLUTION\n### BEGIN SOLUTION 1.1: b\nb = 1\n### END SOLUTION"]
    folder = tmp_path / "nb"
    folder.mkdir()
    _write(folder / "02_bad.ipynb", _solution_nb(cells))
    with pytest.raises(ExerciseMarkupError, match=r"used twice"):
        exercise_notebook(folder / "02_bad.ipynb")


# ----------------------------------------------------------------------------- the real repository


def test_repository_exercise_copies_are_fresh():
    """Fails when notebooks/exercises/ is stale: run `make exercises` and commit the result."""
    problems = check(REPO / "notebooks")
    assert problems == [], "\n".join(problems) + "\nfix: run `python -m jetad_utils.exercises build`"


# ----------------------------------------------------------------------------- start (workspace)


def _answer(path):
    """What a student does: fill in the stub of the copy at ``path`` and save it."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "raise NotImplementedError" in cell.source:
            cell.source = cell.source.replace(
                'raise NotImplementedError("Exercise 1.1: return the squared reconstruction error of each event")',
                "return ((model(x) - x) ** 2).sum(dim=1)  # my answer")
    nbformat.write(nb, path)
    return path.read_bytes()


def test_start_makes_exercises_and_solutions_apart(root, tmp_path):
    ws = tmp_path / "ws"
    lines = start(ws, root)
    assert sorted(p.name for p in (ws / "exercises").iterdir()) == ["01_demo.ipynb"]
    assert sorted(p.name for p in (ws / "solutions").iterdir()) == ["01_demo.ipynb"]
    assert all(line.startswith("copied") for line in lines), lines
    ex = nbformat.read(ws / "exercises" / "01_demo.ipynb", as_version=4)
    assert "raise NotImplementedError" in "".join(c.source for c in ex.cells)
    # the banner asks for answers in this copy and points at the solutions folder
    assert "write your answers in this notebook" in ex.cells[0].source
    assert "../solutions/01_demo.ipynb" in ex.cells[0].source
    assert "do not edit" not in ex.cells[0].source
    assert (ws / "solutions" / "01_demo.ipynb").read_bytes() == (root / "01_demo.ipynb").read_bytes()


def test_start_and_build_never_overwrite_answers(root, tmp_path):
    ws = tmp_path / "ws"
    start(ws, root)
    mine = _answer(ws / "exercises" / "01_demo.ipynb")
    build(root)
    lines = start(ws, root)
    assert (ws / "exercises" / "01_demo.ipynb").read_bytes() == mine
    assert any("kept" in line and "your answers" in line for line in lines), lines
    # a new notebook in the course is added next to the answered one
    nbformat.write(_solution_nb(), root / "02_more.ipynb")
    lines = start(ws, root)
    assert (ws / "exercises" / "02_more.ipynb").exists()
    assert (ws / "exercises" / "01_demo.ipynb").read_bytes() == mine


def test_start_unchanged_copy_is_reported_kept(root, tmp_path):
    ws = tmp_path / "ws"
    start(ws, root)
    lines = start(ws, root)
    assert lines and all(line.startswith("kept") and "newer" not in line for line in lines), lines


def test_start_refuses_a_workspace_inside_the_notebooks(root):
    with pytest.raises(ValueError, match="inside the notebook folder"):
        start(root / "exercises" / "mine", root)


def test_start_refuses_a_file_as_workspace(root, tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        start(tmp_path / "afile", root)


def test_start_default_workspace_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("JETAD_WORKSPACE", str(tmp_path / "w"))
    assert default_workspace() == tmp_path / "w"
    monkeypatch.delenv("JETAD_WORKSPACE")
    assert default_workspace() == Path.home() / "jetad-exercises"


@pytest.mark.integration
def test_cli_start_from_the_repository(tmp_path):
    ws = tmp_path / "ws"
    proc = subprocess.run([sys.executable, "-m", "jetad_utils.exercises", "start", str(ws)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"answers go into {ws / 'exercises'}" in proc.stdout
    solutions = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.name for p in (ws / "exercises").iterdir()) == solutions
    bad = subprocess.run([sys.executable, "-m", "jetad_utils.exercises", "build", str(ws)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "takes no workspace" in bad.stderr
