"""Mutation check: do the notebooks' own checks catch wrong physics?

Each fault (in ``tests/mutation_faults/nbNN.py``, one module per notebook) is a small,
deliberate bug (an anomaly score with the wrong sign, a VAE loss without its KL term, CWoLa
trained on shuffled mixed-sample labels, top and QCD jets swapped by the data loader). For each
fault, in turn, the repository's ``jetad_utils`` and solution notebooks are copied to a
temporary directory, the fault is applied to the copy, and the notebook(s) that must catch it
are executed there in fast mode, cell by cell, on a kernel that imports the mutated copy. A
fault is *caught* when a cell raises (a ``check_between`` physics check, or any other error) or
when the ``# NBVAL_CHECK_OUTPUT`` cell prints something other than the output recorded in the
original notebook (what nbval compares in ``make test``). Execution stops at the first failure.
Every fault must be caught.

A fault is an exact source substring and its replacement; if the substring is not found exactly
once (the code moved), the check stops with an error instead of silently testing nothing.

Each run uses a fresh, empty ``$JETAD_CHECKPOINTS`` (nothing is loaded from an unmutated run)
and reads the data sets from the original data directory (``$JETAD_DATA`` if set, else the
repository's ``data/``); data the notebooks need is generated there on first use, as by
``make test``.

Usage::

    python tests/mutation_check.py                 # every fault, two at a time
    python tests/mutation_check.py --jobs 1 score-sign-autoencoder
    python tests/mutation_check.py --list
    python tests/mutation_check.py --baseline 01   # the unmutated notebook through the same runner

Exit status 0 only if every fault was caught (with ``--baseline``: only if the notebooks pass).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
CELL_TIMEOUT = 900          # seconds per cell, as in `make test`


class MutationError(RuntimeError):
    """A fault cannot be applied (its source substring is missing or not unique)."""


sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation_faults import FAULTS, Fault  # noqa: E402,F401  (tests/mutation_faults/nbNN.py)

# ----------------------------------------------------------------------------- applying faults

def apply_fault(fault: Fault, root: Path) -> None:
    """Apply ``fault`` to the copy of the repository at ``root`` (in place).

    Raises
    ------
    MutationError
        If the file is missing, or ``fault.old`` does not occur exactly once in it (in exactly
        one cell for a notebook), or the replacement changes nothing.
    """
    if fault.old == fault.new:
        raise MutationError(f"fault {fault.name!r}: the replacement equals the original text")
    path = Path(root) / fault.path
    if not path.is_file():
        raise MutationError(f"fault {fault.name!r}: {fault.path} does not exist; update the fault "
                            f"in tests/mutation_faults/")
    if path.suffix == ".ipynb":
        import nbformat

        nb = nbformat.read(path, as_version=4)
        counts = [c.source.count(fault.old) for c in nb.cells]
        _require_once(fault, sum(counts))
        cell = nb.cells[next(i for i, k in enumerate(counts) if k)]
        cell.source = cell.source.replace(fault.old, fault.new)
        nbformat.write(nb, path)
    else:
        text = path.read_text()
        _require_once(fault, text.count(fault.old))
        path.write_text(text.replace(fault.old, fault.new))


def _require_once(fault: Fault, count: int) -> None:
    if count != 1:
        raise MutationError(
            f"fault {fault.name!r}: the source text to mutate occurs {count} times in "
            f"{fault.path} (expected exactly once); the code moved or changed, so update the "
            f"fault's `old`/`new` in tests/mutation_faults/:\n{fault.old}")


def _notebook_files(fault: Fault | None) -> list[str]:
    """The fault's file if it is a notebook (so that it is copied too), else nothing."""
    return [fault.path] if fault is not None and fault.path.endswith(".ipynb") else []


def copy_repository(root: Path, dest: Path, notebooks) -> Path:
    """Copy ``jetad_utils/`` and the given notebooks of ``root`` into ``dest``; return ``dest``."""
    root, dest = Path(root), Path(dest)
    shutil.copytree(root / "jetad_utils", dest / "jetad_utils",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for nb in notebooks:
        (dest / nb).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / nb, dest / nb)
    return dest


# ----------------------------------------------------------------------------- running notebooks

def _stdout_lines(outputs) -> list[str]:
    text = "".join(o.get("text", "") for o in outputs
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def run_notebook(path: Path, recorded: Path | None = None, *, env: dict | None = None,
                 expect_package: Path | None = None, timeout: int = CELL_TIMEOUT,
                 compare_outputs: bool = True) -> dict:
    """Execute a notebook cell by cell, stopping at the first failure.

    Parameters
    ----------
    path : Path
        The notebook to run (its folder is the working directory).
    recorded : Path, optional
        Notebook whose ``# NBVAL_CHECK_OUTPUT`` cell output is the reference (default: ``path``).
    env : dict, optional
        Environment of the kernel (default: this process's).
    expect_package : Path, optional
        Fail with an error unless the kernel imports ``jetad_utils`` from this directory.
    compare_outputs : bool
        Compare the ``# NBVAL_CHECK_OUTPUT`` cells with ``recorded`` (default); the seed sweep
        turns it off, since the recorded outputs belong to seed 0.

    Returns
    -------
    dict
        ``failed`` (bool), ``cell`` (index of the failing cell or None), ``kind``
        ("error", "check output", "CellTimeoutError", "DeadKernelError" or None), ``message``,
        ``seconds``. A kernel that cannot start, or imports another ``jetad_utils`` than
        ``expect_package``, raises instead: that is a fault of the runner, not a catch.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbrun import code_cells, kernel  # tests/nbrun.py (tests/ is on sys.path, see above)

    from jetad_utils.nbtools import write_kernelspec

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    reference = nbformat.read(recorded or path, as_version=4)
    env = dict(os.environ if env is None else env)
    with tempfile.TemporaryDirectory(prefix="jetad-kernel-") as kdir:
        write_kernelspec(kdir, "Python 3 (mutation check)")
        env["JUPYTER_PATH"] = kdir
        saved = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = kdir      # the kernel spec is looked up in this process
        start = time.perf_counter()
        result = {"failed": False, "cell": None, "kind": None, "message": ""}
        try:
            with kernel(nb, path.parent, timeout=timeout, env=env) as client:
                if expect_package is not None:
                    probe = nbformat.v4.new_code_cell(
                        "import os, jetad_utils\n"
                        f"assert os.path.realpath(jetad_utils.__file__).startswith("
                        f"{str(Path(expect_package).resolve())!r}), jetad_utils.__file__")
                    client.execute_cell(probe, 0)
                for i, cell, err in code_cells(client, catch=(CellExecutionError, CellTimeoutError,
                                                              DeadKernelError)):
                    if isinstance(err, CellExecutionError):
                        result.update(failed=True, cell=i, kind="error",
                                      message=f"{err.ename}: {err.evalue}".strip())
                        break
                    if err is not None:
                        # `make test` fails on these too; reported under their own name
                        result.update(failed=True, cell=i, kind=type(err).__name__,
                                      message=str(err).strip())
                        break
                    if compare_outputs and CHECK_MARK in cell.source:
                        want = _stdout_lines(reference.cells[i].outputs)
                        got = _stdout_lines(cell.outputs)
                        if got != want:
                            diff = [f"- {w}" for w in want if w not in got] + \
                                   [f"+ {g}" for g in got if g not in want]
                            result.update(failed=True, cell=i, kind="check output",
                                          message="output differs from the recorded one:\n"
                                          + "\n".join(diff))
                            break
        finally:
            if saved is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = saved
    result["seconds"] = time.perf_counter() - start
    return result


def _data_root() -> str:
    if os.environ.get("JETAD_DATA"):
        return os.environ["JETAD_DATA"]
    sys.path.insert(0, str(ROOT))
    from jetad_utils import data_dir

    return str(data_dir())


def kernel_env(copy: Path, checkpoints: Path) -> dict:
    """Environment for a kernel that imports the mutated copy, in fast mode."""
    env = dict(os.environ)
    env.update(JETAD_FAST="1", JETAD_CHECKPOINTS=str(checkpoints), JETAD_DATA=_data_root(),
               MPLBACKEND="agg",
               PYTHONPATH=os.pathsep.join([str(copy), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    return env


def check_fault(fault: Fault | None, notebooks=None, *, root: Path = ROOT,
                timeout: int = CELL_TIMEOUT) -> dict:
    """Apply one fault to a fresh temporary copy and run its notebooks there.

    ``fault=None`` runs the unmutated ``notebooks`` through the same machinery (a baseline).
    Returns a dict with ``name``, ``caught`` (any notebook failed), ``notebook``, ``cell``,
    ``kind``, ``message``, ``seconds``.
    """
    root = Path(root)
    notebooks = tuple(notebooks or fault.notebooks)
    name = fault.name if fault else "baseline"
    start = time.perf_counter()
    out = {"name": name, "caught": False, "notebook": None, "cell": None, "kind": None,
           "message": "", "seconds": 0.0}
    with tempfile.TemporaryDirectory(prefix=f"jetad-mutation-{name}-") as tmp:
        copy = copy_repository(root, Path(tmp) / "repo", {*notebooks, *_notebook_files(fault)})
        if fault:
            apply_fault(fault, copy)
        checkpoints = Path(tmp) / "checkpoints"
        checkpoints.mkdir()
        env = kernel_env(copy, checkpoints)
        for nb in notebooks:
            res = run_notebook(copy / nb, root / nb, env=env, expect_package=copy / "jetad_utils",
                               timeout=timeout)
            if res["failed"]:
                out.update(caught=True, notebook=nb, cell=res["cell"], kind=res["kind"],
                           message=res["message"])
                break
    out["seconds"] = time.perf_counter() - start
    return out


# ----------------------------------------------------------------------------- command line

def _first_lines(text: str, n: int = 4) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:n] + (["..."] if len(lines) > n else []))


def report(result: dict, baseline: bool = False) -> str:
    head = f"{result['name']:28s}"
    if result["caught"]:
        status = "FAILED" if baseline else "caught"
        where = f"{Path(result['notebook']).name} cell {result['cell']} ({result['kind']})"
        body = "\n".join("      " + line for line in _first_lines(result["message"]).splitlines())
        return f"{head} {status} in {result['seconds']:6.1f} s by {where}:\n{body}"
    status = "passed" if baseline else "MISSED"
    return f"{head} {status} in {result['seconds']:6.1f} s (every cell ran, check output as recorded)"


def share_cores(jobs: int) -> None:
    """Pool initializer: ``jobs`` kernels at a time share the cores (one torch/BLAS thread pool
    each of ``cores // jobs`` threads, unless ``OMP_NUM_THREADS`` is set): oversubscribed torch
    threads slow every kernel down several times on a small machine."""
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, jobs))))


def run_all(faults, jobs: int = 2, timeout: int = CELL_TIMEOUT, baseline_notebooks=None) -> list[dict]:
    """Check every fault (or, with ``baseline_notebooks``, run those unmutated); print as they end."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if baseline_notebooks:
        tasks = [(None, (nb,)) for nb in baseline_notebooks]
    else:
        for fault in faults:                  # fail fast, before any notebook runs
            with tempfile.TemporaryDirectory() as tmp:
                apply_fault(fault, copy_repository(ROOT, Path(tmp), _notebook_files(fault)))
        tasks = [(f, None) for f in faults]
    results = []
    print(f"mutation check: {len(tasks)} run(s), {jobs} at a time, fast mode", flush=True)
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=mp.get_context("spawn"),
                             initializer=share_cores, initargs=(jobs,)) as pool:
        futures = {pool.submit(check_fault, f, nbs, timeout=timeout): (f, nbs) for f, nbs in tasks}
        for k, fut in enumerate(as_completed(futures), 1):
            f, nbs = futures[fut]
            res = fut.result()
            if f is None:
                res["name"] = f"baseline {Path(nbs[0]).name}"
            results.append(res)
            print(f"[{k}/{len(tasks)}] " + report(res, baseline=f is None), flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/mutation_check.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("faults", nargs="*", help="fault names (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="faults run at the same time (default 2)")
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    parser.add_argument("--baseline", nargs="+", metavar="NN",
                        help="run these unmutated notebooks (e.g. 01 03) through the same runner")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)

    by_name = {f.name: f for f in FAULTS}
    if args.list:
        for f in FAULTS:
            print(f"{f.name:28s} {f.path} -> caught by {', '.join(Path(n).name for n in f.notebooks)}\n"
                  f"{'':28s} {f.what}")
        return 0
    if args.baseline:
        nbs = []
        for key in args.baseline:
            match = sorted(p.relative_to(ROOT).as_posix()
                           for p in (ROOT / "notebooks").glob(f"{key}*.ipynb"))
            if len(match) != 1:
                parser.error(f"--baseline {key}: expected one notebooks/{key}*.ipynb, found {match}")
            nbs += match
        results = run_all([], args.jobs, args.timeout, baseline_notebooks=nbs)
        bad = [r for r in results if r["caught"]]
        print(f"baseline: {len(results) - len(bad)} of {len(results)} unmutated notebook(s) pass")
        return 1 if bad else 0
    unknown = [n for n in args.faults if n not in by_name]
    if unknown:
        parser.error(f"unknown fault(s) {unknown}; choose from {sorted(by_name)}")
    faults = [by_name[n] for n in args.faults] if args.faults else list(FAULTS)
    start = time.perf_counter()
    results = run_all(faults, args.jobs, args.timeout)
    caught = sum(r["caught"] for r in results)
    print(f"caught {caught} of {len(results)} ({caught / len(results):.0%}) in "
          f"{time.perf_counter() - start:.0f} s")
    missed = sorted(r["name"] for r in results if not r["caught"])
    if missed:
        print("missed: " + ", ".join(missed) + " -- the notebooks' checks do not see these bugs")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
