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

Command line::

    python -m jetad_utils.exercises build [--root notebooks]
    python -m jetad_utils.exercises check [--root notebooks]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import nbformat

from ._core import atomic_write
from .nbtools import strip_outputs

__all__ = ["ExerciseMarkupError", "make_stub_source", "exercise_notebook", "build", "check",
           "solution_notebooks", "stub_cells"]

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION (?P<num>\d+\.\d+):\s*(?P<task>\S.*?)\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
NOTEBOOK_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
EXERCISE_DIR = "exercises"


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
        f"> **Exercise version.** Generated from `../{solution_path.name}` by "
        "`python -m jetad_utils.exercises build`; do not edit it by hand. Cells marked "
        "*Exercise N.M* raise `NotImplementedError` until you fill them in; the check after "
        "each one tells you when your answer is right. The solutions are in the notebook above "
        "this folder."
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jetad_utils.exercises",
        description="Generate (build) or verify (check) the exercise copies of the notebooks.",
    )
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--root", default="notebooks", help="folder of the solution notebooks")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for path in build(args.root):
                print(f"wrote {path}")
            return 0
        problems = check(args.root)
    except (ExerciseMarkupError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print("fix: run `python -m jetad_utils.exercises build` and commit the result",
              file=sys.stderr)
        return 1
    print(f"exercise copies are up to date ({len(solution_notebooks(args.root))} notebooks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
