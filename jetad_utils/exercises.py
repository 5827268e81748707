"""Student (exercise) notebooks generated from the solution notebooks.

The solution notebook ``notebooks/NN_name.ipynb`` is the only copy edited by hand. Inside its
code cells, each exercise is a span between two marker lines::

    def reconstruction_error(model, x):
        ### BEGIN SOLUTION 1.1: return the squared reconstruction error of each event
        x_hat = model(x)
        return ((x_hat - x) ** 2).sum(dim=1)
        ### END SOLUTION

    score = reconstruction_error(ae, x)   # the cell uses it, so the stub raises here

``build`` writes ``notebooks/exercises/NN_name.ipynb`` with every span replaced by a stub at the
same indentation::

        # Exercise 1.1: your code here
        raise NotImplementedError("Exercise 1.1: return the squared reconstruction error ...")

Everything else (markdown, the other code, the in-notebook checks) is kept; outputs are dropped.
``check`` rebuilds in memory and fails if a generated copy on disk differs (stale or edited by
hand), or if a generated copy has no solution notebook any more.

A student never answers in ``notebooks/exercises/`` (a rebuild would erase the answers, and the
repository's tests would report the copy as stale). ``start`` makes a *workspace* instead::

    WORKSPACE/exercises/NN_name.ipynb   the student's copies: answers go here
    WORKSPACE/solutions/NN_name.ipynb   the solution notebooks, to compare with afterwards

``start`` only adds what is missing: a notebook already in the workspace is never overwritten
(so running it again, or after a ``build``, keeps every answer); it says which copies are older
than the current version. ``make lab`` runs it on ``workspace/`` (ignored by git) and opens
JupyterLab there; on a JupyterHub each student runs it once for ``~/jetad-exercises``.

Command line::

    jetad-exercises start [WORKSPACE]                  # default ~/jetad-exercises
    python -m jetad_utils.exercises build [--root notebooks]
    python -m jetad_utils.exercises check [--root notebooks]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from pathlib import Path

import nbformat

from ._core import atomic_write
from .nbtools import strip_outputs

__all__ = ["ExerciseMarkupError", "make_stub_source", "exercise_notebook", "build", "check",
           "solution_notebooks", "stub_cells", "start", "default_workspace", "REPO_NOTEBOOKS"]

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION (?P<num>\d+\.\d+):\s*(?P<task>\S.*?)\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
NOTEBOOK_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
EXERCISE_DIR = "exercises"
SOLUTION_DIR = "solutions"
#: the solution notebooks of a source checkout (``start`` and ``build`` read them from here)
REPO_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class ExerciseMarkupError(ValueError):
    """A solution notebook's exercise markers are malformed."""


def make_stub_source(source: str, where: str = "cell") -> tuple[str, list[str]]:
    """Replace every solution span in one code cell's source by a stub.

    Parameters
    ----------
    source : str
        The code cell's source.
    where : str
        Used in error messages (e.g. ``"01_x.ipynb cell 7"``).

    Returns
    -------
    new_source : str
    numbers : list of str
        Exercise numbers found in this cell, in order.

    Examples
    --------
    >>> src = "def f(x):\\n    ### BEGIN SOLUTION 1.1: double x\\n    return 2 * x\\n    ### END SOLUTION\\nf(1)"
    >>> print(make_stub_source(src)[0])
    def f(x):
        # Exercise 1.1: your code here
        raise NotImplementedError("Exercise 1.1: double x")
    f(1)
    """
    out: list[str] = []
    numbers: list[str] = []
    inside = None
    body_lines = 0
    for lineno, line in enumerate(source.split("\n"), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if inside is None:
            if end:
                raise ExerciseMarkupError(f"{where}, line {lineno}: END SOLUTION without BEGIN")
            if begin:
                inside, body_lines = begin, 0
                continue
            if "### BEGIN SOLUTION" in line:
                raise ExerciseMarkupError(
                    f"{where}, line {lineno}: malformed marker {line.strip()!r}; write "
                    "'### BEGIN SOLUTION N.M: <task for the student>'"
                )
            out.append(line)
        else:
            if begin or "### BEGIN SOLUTION" in line:
                raise ExerciseMarkupError(
                    f"{where}, line {lineno}: BEGIN SOLUTION inside exercise {inside['num']}"
                )
            if end:
                if body_lines == 0:
                    raise ExerciseMarkupError(f"{where}: exercise {inside['num']} has an empty solution")
                indent, num, task = inside["indent"], inside["num"], inside["task"]
                out.append(f"{indent}# Exercise {num}: your code here")
                message = json.dumps(f"Exercise {num}: {task}", ensure_ascii=False)
                out.append(f"{indent}raise NotImplementedError({message})")
                numbers.append(num)
                inside = None
                continue
            body_lines += 1
    if inside is not None:
        raise ExerciseMarkupError(f"{where}: exercise {inside['num']} has no '### END SOLUTION'")
    return "\n".join(out), numbers


def exercise_notebook(solution_path) -> nbformat.NotebookNode:
    """The exercise version of one solution notebook (not written to disk).

    Raises
    ------
    ExerciseMarkupError
        Malformed or duplicated markers, or a notebook without any exercise.
    """
    solution_path = Path(solution_path)
    nb = nbformat.read(solution_path, as_version=4)
    ex = copy.deepcopy(nb)
    seen: list[str] = []
    for i, cell in enumerate(ex.cells):
        if cell.cell_type != "code":
            continue
        new, numbers = make_stub_source(cell.source, where=f"{solution_path.name} cell {i}")
        dup = set(numbers) & set(seen)
        if dup or len(set(numbers)) != len(numbers):
            raise ExerciseMarkupError(
                f"{solution_path.name} cell {i}: exercise number(s) {sorted(dup) or numbers} "
                "used twice; give every exercise its own number N.M"
            )
        seen += numbers
        cell.source = new
    if not seen:
        raise ExerciseMarkupError(
            f"{solution_path.name} has no '### BEGIN SOLUTION N.M: task' span; every tutorial "
            "notebook has exercises"
        )
    strip_outputs(ex, keep_checks=False)  # students get no stored output at all
    banner = nbformat.v4.new_markdown_cell(
        "> **Exercise version: write your answers in this notebook.** Cells marked "
        "*Exercise N.M* raise `NotImplementedError` until you replace that line with your code; "
        "the check right after each one prints `Exercise N.M: correct` when your answer is "
        "right, or says what is wrong. Work in your own copy: `jetad-exercises start` (which "
        "`make lab` runs for you) puts one in `exercises/` of your workspace and never "
        f"overwrites it; the solutions are in `../{SOLUTION_DIR}/{solution_path.name}` there "
        f"(in the repository: `notebooks/{solution_path.name}`). This copy is generated from "
        "the solution notebook by `python -m jetad_utils.exercises build`."
    )
    banner.pop("id", None)
    ex.cells.insert(0, banner)
    # deterministic cell ids, so a rebuild is byte-identical
    for i, cell in enumerate(ex.cells):
        cell["id"] = f"ex{i:03d}"
    ex.metadata["jetad"] = {"generated_from": solution_path.name, "exercises": seen}
    return ex


def solution_notebooks(root) -> list[Path]:
    """The hand-edited solution notebooks ``NN_name.ipynb`` in ``root``, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"notebook folder {root} does not exist; pass --root <folder>")
    return sorted(p for p in root.iterdir() if NOTEBOOK_NAME.match(p.name))


def stub_cells(exercise_nb) -> dict[int, str]:
    """Map cell index -> exercise number(s) for the cells of an exercise notebook with a stub."""
    found = {}
    for i, cell in enumerate(exercise_nb.cells):
        if cell.cell_type == "code":
            nums = re.findall(r'raise NotImplementedError\(["\']Exercise (\d+\.\d+):', cell.source)
            if nums:
                found[i] = ",".join(nums)
    return found


def _render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def build(root="notebooks") -> list[Path]:
    """Write ``root/exercises/NN_name.ipynb`` for every solution notebook; return the paths."""
    root = Path(root)
    written = []
    for sol in solution_notebooks(root):
        target = root / EXERCISE_DIR / sol.name
        text = _render(exercise_notebook(sol))
        with atomic_write(target, "w", encoding="utf-8") as fh:
            fh.write(text)
        written.append(target)
    return written


def check(root="notebooks") -> list[str]:
    """Problems with the generated copies (empty list = all fresh)."""
    root = Path(root)
    problems = []
    solutions = solution_notebooks(root)
    for sol in solutions:
        target = root / EXERCISE_DIR / sol.name
        expected = _render(exercise_notebook(sol))
        if not target.exists():
            problems.append(f"{target} is missing")
        elif target.read_text(encoding="utf-8") != expected:
            problems.append(f"{target} is stale (differs from what {sol.name} generates)")
    names = {s.name for s in solutions}
    ex_dir = root / EXERCISE_DIR
    if ex_dir.is_dir():
        for extra in sorted(ex_dir.glob("*.ipynb")):
            if extra.name not in names:
                problems.append(f"{extra} has no solution notebook {root / extra.name}")
    return problems


def default_workspace() -> Path:
    """``$JETAD_WORKSPACE`` if set, else ``~/jetad-exercises``."""
    env = os.environ.get("JETAD_WORKSPACE")
    return Path(env).expanduser() if env else Path.home() / "jetad-exercises"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def start(workspace=None, root=REPO_NOTEBOOKS) -> list[str]:
    """Create or complete a student's workspace; never overwrite a notebook already in it.

    Parameters
    ----------
    workspace : path, optional
        Default :func:`default_workspace`. Must not lie inside the notebook folder ``root``
        (whose ``exercises/`` is regenerated and whose notebooks the tests execute).
    root : path
        Folder of the solution notebooks.

    Returns
    -------
    list of str
        One line per notebook: copied, kept, or kept although a newer version exists.
    """
    workspace = Path(workspace).expanduser() if workspace is not None else default_workspace()
    root = Path(root)
    solutions = solution_notebooks(root)
    if not solutions:
        raise FileNotFoundError(f"no solution notebooks NN_name.ipynb in {root}; pass --root <folder>")
    if _inside(workspace, root):
        raise ValueError(
            f"the workspace {workspace} lies inside the notebook folder {root}, whose exercise "
            "copies are regenerated and whose notebooks the tests run; choose a folder outside "
            "it, e.g. `jetad-exercises start ~/jetad-exercises`"
        )
    if workspace.exists() and not workspace.is_dir():
        raise NotADirectoryError(f"{workspace} exists and is not a folder; choose another workspace")
    report = []
    for kind, make in ((EXERCISE_DIR, lambda sol: _render(exercise_notebook(sol))),
                       (SOLUTION_DIR, lambda sol: sol.read_text(encoding="utf-8"))):
        for sol in solutions:
            target = workspace / kind / sol.name
            text = make(sol)
            if not target.exists():
                with atomic_write(target, "w", encoding="utf-8") as fh:
                    fh.write(text)
                report.append(f"copied  {target}")
            elif _cells_source(target) == _cells_source_text(text):
                report.append(f"kept    {target}")
            elif kind == EXERCISE_DIR:
                report.append(
                    f"kept    {target} (your answers; a newer version exists: rename your copy and "
                    "run `jetad-exercises start` again to get it next to yours)"
                )
            else:
                report.append(f"kept    {target} (a newer version exists: delete it and run "
                              "`jetad-exercises start` again to refresh it)")
    return report


def _cells_source_text(text: str) -> list[str]:
    return [c.source for c in nbformat.reads(text, as_version=4).cells]


def _cells_source(path: Path) -> list[str] | None:
    try:
        return _cells_source_text(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, nbformat.reader.NotJSONError):
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="jetad-exercises",
        description="Make a student's workspace of exercise notebooks (start), or generate "
                    "(build) and verify (check) the exercise copies in the repository.",
    )
    parser.add_argument("command", choices=["start", "build", "check"],
                        help="start: copy the exercise notebooks into WORKSPACE/exercises and "
                             "the solutions into WORKSPACE/solutions, keeping every notebook "
                             "already there; build / check: the copies in notebooks/exercises")
    parser.add_argument("workspace", nargs="?", default=None,
                        help="start only: the workspace folder (default $JETAD_WORKSPACE or "
                             "~/jetad-exercises)")
    parser.add_argument("--root", default=None,
                        help="folder of the solution notebooks (default: the repository's "
                             "notebooks/ for start, ./notebooks for build and check)")
    args = parser.parse_args(argv)
    if args.workspace is not None and args.command != "start":
        parser.error(f"{args.command} takes no workspace argument (only start does)")
    try:
        if args.command == "start":
            workspace = Path(args.workspace) if args.workspace else default_workspace()
            for line in start(workspace, args.root or REPO_NOTEBOOKS):
                print(line)
            print(f"\nyour workspace: {workspace}\n  answers go into {workspace / EXERCISE_DIR}"
                  f" (never overwritten by jetad-exercises)\n  solutions: {workspace / SOLUTION_DIR}")
            return 0
        args.root = args.root or "notebooks"
        if args.command == "build":
            for path in build(args.root):
                print(f"wrote {path}")
            return 0
        problems = check(args.root)
    except (ExerciseMarkupError, FileNotFoundError, NotADirectoryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print("fix: if you wrote answers in notebooks/exercises/, keep them first (copy the "
              "notebook into your workspace's exercises/ folder, see `jetad-exercises start`; a "
              "rebuild overwrites it), then run `python -m jetad_utils.exercises build` and "
              "commit the result", file=sys.stderr)
        return 1
    print(f"exercise copies are up to date ({len(solution_notebooks(args.root))} notebooks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
