"""A static HTML book of every notebook, executed, for self-study without a Jupyter server.

``make book`` (``python -m jetad_utils.book``) executes each solution notebook
``notebooks/[0-9]*.ipynb`` on a fresh kernel of the running interpreter, renders it with
nbconvert's JupyterLab template, and writes an ``index.html`` with a table of contents: title,
mode, runtime and status of every notebook. Each page links back to the index and to its
neighbours, and the executed ``.ipynb`` sits next to it.

Which mode a notebook is shown in
---------------------------------
*Full mode where a cached result exists, fast mode otherwise*, with "cached result" meaning
exactly this: an executed copy of the notebook, run in full mode (``JETAD_FAST=0``) by
``python -m jetad_utils.book --run-full NN``, stored in the book cache under a key that is the
SHA-256 of the notebook's cell sources and of every module of ``jetad_utils``. A changed
notebook or a changed helper package invalidates it, and the notebook is then executed in fast
mode (``JETAD_FAST=1``) instead. Nothing else (for instance model checkpoints that a full run
would load) counts, because only an executed notebook shows what full mode really prints.
The index states the mode of every page, and each page's banner repeats it.

The cache lives in ``<checkpoint_dir()>/book`` (``--cache`` changes it): next to the trained
models, per user when ``$JETAD_DATA`` is a shared read-only directory.

Fast-mode pages can come from the notebook test instead of a second execution: ``make test``
keeps every notebook that nbval executed with all cells passing in ``build/executed/`` (the
repository's ``conftest.py``, with ``$JETAD_EXECUTED`` set), in the same form and under the same
key, and ``--reuse build/executed`` (``make test-book`` sets it) shows such an execution of this
exact notebook version instead of running the notebook again.

Command line::

    python -m jetad_utils.book                       # auto: cached full results, else fast
    python -m jetad_utils.book --mode fast           # every notebook in fast mode (tests)
    python -m jetad_utils.book --run-full 01 07      # run these in full mode, cache, build
    python -m jetad_utils.book --out build/book notebooks/01_gaussian_outliers.ipynb
    python -m jetad_utils.book --mode fast --reuse build/executed   # make test's executions

The exit status is 1 if a notebook raised (its page is still written, with the error shown
and marked in the index), 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import html
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from ._core import atomic_write, checkpoint_dir, fast_mode
from .nbtools import write_kernelspec

__all__ = ["BookEntry", "ExecutionRecorder", "notebook_key", "notebook_title", "execute_notebook",
           "store_execution", "build_book", "format_runtime", "main"]

REPO = Path(__file__).resolve().parent.parent
PACKAGE = Path(__file__).resolve().parent
NOTEBOOK_GLOB = "[0-9]*.ipynb"
MANIFEST = "book.json"


@dataclass
class BookEntry:
    """One notebook of the book, as listed in ``index.html`` and ``book.json``."""

    name: str            #: file stem, e.g. ``01_gaussian_outliers``
    title: str           #: first heading of the notebook
    mode: str            #: ``"fast"`` or ``"full"``
    cached: bool         #: True if the executed copy was stored before (full-mode cache, or
                         #: a fast-mode execution reused from ``make test``)
    runtime_s: float     #: wall-clock seconds of the execution that produced the page
    errors: int          #: number of error outputs (0 for a good page)
    page: str            #: HTML file name, relative to the book directory


def format_runtime(seconds: float) -> str:
    """Human-readable runtime.

    Examples
    --------
    >>> format_runtime(42.4), format_runtime(95), format_runtime(4000)
    ('42 s', '1.6 min', '1.1 h')
    """
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"runtime must be a non-negative number of seconds, got {seconds!r}")
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def notebook_title(nb) -> str:
    """The text of the first markdown heading, else an empty string.

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · A toy\\ntext")])
    >>> notebook_title(nb)
    '01 · A toy'
    """
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"^#+\s+(.*\S)\s*$", line)
            if m:
                return m.group(1)
    return ""


def _package_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(PACKAGE.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def notebook_key(path) -> str:
    """Cache key of a notebook's full-mode result: SHA-256 of its cell sources and of jetad_utils.

    Outputs and metadata do not enter (a re-recorded check output keeps the key); a changed
    cell or a changed module of the helper package gives a new key.
    """
    nb = nbformat.read(path, as_version=4)
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    h.update(_package_digest().encode())
    return h.hexdigest()[:24]


@contextlib.contextmanager
def _kernel_environment(fast: bool):
    """Environment of the executing kernel: this interpreter as ``python3``, the mode set."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="jetad-book-kernel-") as tmp:
        write_kernelspec(tmp, "Python 3 (jetad)")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [tmp] + ([saved["JUPYTER_PATH"]] if saved.get("JUPYTER_PATH") else []))
        os.environ["JETAD_FAST"] = "1" if fast else "0"
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def execute_notebook(path, *, fast: bool, timeout: int = 3600):
    """Execute a notebook top to bottom on a fresh kernel; errors are kept in the outputs.

    Parameters
    ----------
    path : path-like
        The ``.ipynb`` file; it runs with its own folder as the working directory.
    fast : bool
        ``JETAD_FAST=1`` (True) or ``JETAD_FAST=0`` (False) for the kernel.
    timeout : int
        Seconds allowed per cell.

    Returns
    -------
    nb : nbformat.NotebookNode
        The executed notebook; its ``metadata.jetad_book`` records mode, runtime and date.
    seconds : float
        Wall-clock time of the execution.
    errors : int
        Number of cells whose output is an error (execution continues after one, so the page
        shows every failure).
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    with _kernel_environment(fast):
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    errors = sum(1 for cell in nb.cells if cell.cell_type == "code"
                 for out in cell.get("outputs", []) if out.get("output_type") == "error")
    nb.metadata["jetad_book"] = {
        "mode": "fast" if fast else "full", "runtime_s": round(seconds, 1), "errors": errors,
        "executed": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "key": notebook_key(path)}
    return nb, seconds, errors


def _cache_path(cache: Path, path: Path, mode: str = "full") -> Path:
    return cache / f"{path.stem}.{notebook_key(path)}.{mode}.ipynb"


def store_execution(directory, path, nb) -> Path:
    """Store an executed notebook (``metadata.jetad_book`` as :func:`execute_notebook` sets it)
    for a later :func:`build_book`; returns the file written (atomically). Stored executions of
    older versions of the same notebook in the same mode are removed."""
    info = nb.metadata.get("jetad_book", {})
    if info.get("mode") not in ("fast", "full") or info.get("key") != notebook_key(path):
        raise ValueError(f"{path}: the executed copy's metadata.jetad_book must give the mode and "
                         "this notebook version's key (as execute_notebook records them)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = _cache_path(directory, Path(path), info["mode"])
    with atomic_write(target, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh)
    for old in directory.glob(f"{Path(path).stem}.*.{info['mode']}.ipynb"):
        if old != target:                    # an older version of the notebook: never shown again
            old.unlink(missing_ok=True)
    return target


class ExecutionRecorder:
    """pytest plugin: keep every notebook that nbval executed with all cells passing.

    Registered by this module's ``pytest_configure`` when ``$JETAD_EXECUTED`` names a directory
    (``make test`` sets ``build/executed``). For each notebook of the run it collects the
    outputs nbval received for each code cell; when the last cell has passed and every cell ran
    and passed, the executed notebook is stored there with :func:`store_execution`, in the mode
    of the run (``$JETAD_FAST``), for ``build_book(reuse=...)``. A notebook with a failing,
    skipped or unrun cell is not stored.
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        self._runs: dict[Path, dict] = {}

    def pytest_runtest_makereport(self, item, call):
        if call.when != "call" or not hasattr(item, "test_outputs") or not hasattr(item, "cell_num"):
            return None                        # not an nbval cell
        nb = item.parent.nb
        path = Path(str(item.parent.fspath)).resolve()
        run = self._runs.setdefault(path, {"outputs": {}, "seconds": 0.0, "ok": True})
        run["seconds"] += call.duration
        run["ok"] = run["ok"] and call.excinfo is None
        run["outputs"][item.cell_num] = [nbformat.from_dict(dict(o)) for o in item.test_outputs or []]
        code = [c for c in nb.cells if c.cell_type == "code"]
        if item.cell_num == len(code) - 1:
            self._store(path, nb, run)
        return None

    def _store(self, path: Path, nb, run) -> None:
        code = [c for c in nb.cells if c.cell_type == "code"]
        if not run["ok"] or sorted(run["outputs"]) != list(range(len(code))):
            return
        executed = nbformat.from_dict(json.loads(json.dumps(nb)))
        for k, cell in enumerate(c for c in executed.cells if c.cell_type == "code"):
            cell.outputs = run["outputs"][k]
            cell.execution_count = k + 1
            for out in cell.outputs:
                if out.output_type == "execute_result":
                    out.execution_count = k + 1
        executed.metadata["jetad_book"] = {
            "mode": "fast" if fast_mode() else "full", "runtime_s": round(run["seconds"], 1),
            "errors": 0, "by": "nbval",
            "executed": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "key": notebook_key(path)}
        nbformat.validate(executed)
        store_execution(self.directory, path, executed)


def pytest_configure(config):
    """pytest plugin hook (``-p jetad_utils.book``; the repository's ``conftest.py`` loads it):
    with ``$JETAD_EXECUTED`` set, register an :class:`ExecutionRecorder` for that directory."""
    directory = os.environ.get("JETAD_EXECUTED")
    if directory and not config.pluginmanager.has_plugin("jetad-executed-notebooks"):
        config.pluginmanager.register(ExecutionRecorder(directory), "jetad-executed-notebooks")


def _cached(cache: Path, path: Path, mode: str = "full"):
    """The stored error-free execution of this exact notebook in this mode, or None."""
    target = _cache_path(cache, path, mode)
    if not target.is_file():
        return None
    try:
        nb = nbformat.read(target, as_version=4)
        info = nb.metadata["jetad_book"]
    except (OSError, ValueError, KeyError):
        return None
    if info.get("mode") != mode or info.get("errors", 1) != 0 or info.get("key") != notebook_key(path):
        return None
    return nb


_NAV_STYLE = ("position:sticky;top:0;z-index:100;background:#f4f6f8;border-bottom:1px solid #ccd;"
              "padding:6px 16px;font:14px sans-serif")


def _nav(entry: BookEntry, prev: BookEntry | None, nxt: BookEntry | None) -> str:
    mode = f"{entry.mode} mode" + (" (cached result)" if entry.cached else "")
    parts = ['<a href="index.html">&#8593; contents</a>']
    if prev:
        parts.append(f'<a href="{prev.page}">&#8592; {html.escape(prev.name)}</a>')
    if nxt:
        parts.append(f'<a href="{nxt.page}">{html.escape(nxt.name)} &#8594;</a>')
    parts.append(f"executed in {mode}, {format_runtime(entry.runtime_s)}")
    parts.append(f'<a href="{entry.name}.ipynb">download .ipynb</a>')
    return f'<nav class="jetad-book-nav" style="{_NAV_STYLE}">' + " &middot; ".join(parts) + "</nav>"


def _render(nb) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return body


def _write_index(out: Path, entries: list[BookEntry]) -> None:
    from . import __version__

    rows = []
    for e in entries:
        status = "ok" if e.errors == 0 else f'<b style="color:#b00">{e.errors} error(s)</b>'
        mode = f"{e.mode} (cached)" if e.cached else e.mode
        rows.append(f'<tr><td><a href="{e.page}">{html.escape(e.title or e.name)}</a></td>'
                    f"<td>{mode}</td><td>{format_runtime(e.runtime_s)}</td><td>{status}</td></tr>")
    total = sum(e.runtime_s for e in entries)
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jetad: anomaly detection for collider physics</title>
<style>
body {{ font: 16px/1.5 sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
td:nth-child(3) {{ white-space: nowrap; }}
</style></head>
<body>
<h1>jetad: anomaly detection for collider physics</h1>
<p>Every notebook of the course, executed and rendered as a static page for reading without a
Jupyter server. To run and change them, open the notebooks in JupyterLab (<code>make lab</code>)
or on Binder; exercise copies are in <code>notebooks/exercises/</code>.</p>
<p><b>Modes.</b> <i>fast</i>: small samples and few epochs (<code>JETAD_FAST=1</code>), the
numbers are noisier than the paper comparisons in the text; <i>full (cached)</i>: the full
settings, from a full-mode run of this exact notebook version (<i>fast (cached)</i>: the
fast-mode run of this version by the test suite). Runtimes are the wall-clock times of the
executions shown.</p>
<h2>Contents</h2>
<table id="toc">
<thead><tr><th>notebook</th><th>mode</th><th>runtime</th><th>status</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p>Total runtime {format_runtime(total)}. Built {date} with jetad_utils {__version__}.</p>
</body></html>
"""
    with atomic_write(out / "index.html", "w", encoding="utf-8") as fh:
        fh.write(page)


def build_book(notebooks=None, out="build/book", *, mode: str = "auto", run_full=(),
               cache=None, reuse=None, timeout: int = 3600, log=None) -> list[BookEntry]:
    """Execute and render the notebooks into a static site with an index.

    Parameters
    ----------
    notebooks : list of path-like, optional
        Default: every ``notebooks/[0-9]*.ipynb`` of the repository, in order.
    out : path-like
        Output directory (created): ``index.html``, one ``NN_name.html`` and one executed
        ``NN_name.ipynb`` per notebook, and ``book.json`` (the entries, for tools and tests).
    mode : {"auto", "fast"}
        ``"auto"``: a notebook's cached full-mode result if it exists (see the module
        docstring), else a fast-mode execution. ``"fast"``: every notebook in fast mode.
    run_full : iterable of str
        Notebooks (file stems or their number prefix, e.g. ``"01"``) to execute in full mode
        now; a clean result is stored in the cache and used.
    cache : path-like, optional
        Full-mode cache directory; default ``checkpoint_dir() / "book"``.
    reuse : path-like, optional
        A directory of stored fast-mode executions (``make test`` writes ``build/executed``):
        a notebook shown in fast mode is taken from there if this exact version ran there
        without an error, instead of being executed again.
    timeout : int
        Seconds allowed per cell.
    log : callable
        Receives one progress line per notebook.

    Returns
    -------
    list of BookEntry
    """
    if log is None:
        def log(line):
            print(line, flush=True)
    if mode not in ("auto", "fast"):
        raise ValueError(f"mode must be 'auto' or 'fast', got {mode!r}")
    if notebooks is None:
        notebooks = sorted((REPO / "notebooks").glob(NOTEBOOK_GLOB))
    notebooks = [Path(p).resolve() for p in notebooks]
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"notebook(s) not found: {', '.join(missing)}")
    if not notebooks:
        raise ValueError("no notebooks to build; pass paths or run from a checkout with notebooks/")
    stems = {p.stem for p in notebooks}
    run_full = list(run_full)
    unknown = [r for r in run_full if not any(s == r or s.startswith(f"{r}_") for s in stems)]
    if unknown:
        raise ValueError(f"--run-full {' '.join(unknown)}: no such notebook; choose from "
                         f"{', '.join(sorted(stems))}")
    if run_full and mode == "fast":
        raise ValueError("run_full needs mode='auto' (mode='fast' would not show the full results)")
    cache = Path(cache) if cache is not None else checkpoint_dir() / "book"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    entries: list[BookEntry] = []
    executed = []
    for path in notebooks:
        wants_full = any(path.stem == r or path.stem.startswith(f"{r}_") for r in run_full)
        nb = _cached(cache, path, "full") if (mode == "auto" and not wants_full) else None
        if nb is None and reuse is not None and not wants_full:
            nb = _cached(Path(reuse), path, "fast")
        if nb is not None:
            info = nb.metadata["jetad_book"]
            entry = BookEntry(path.stem, notebook_title(nb), info["mode"], True,
                              float(info["runtime_s"]), 0, f"{path.stem}.html")
            log(f"book: {path.name}: {info['mode']} mode, stored result "
                f"({format_runtime(entry.runtime_s)})")
        else:
            fast = not wants_full
            log(f"book: {path.name}: executing in {'fast' if fast else 'full'} mode ...")
            nb, seconds, errors = execute_notebook(path, fast=fast, timeout=timeout)
            entry = BookEntry(path.stem, notebook_title(nb), "fast" if fast else "full", False,
                              round(seconds, 1), errors, f"{path.stem}.html")
            log(f"book: {path.name}: {format_runtime(seconds)}, "
                f"{'no errors' if errors == 0 else f'{errors} ERROR(S)'}")
            if not fast and errors == 0:
                store_execution(cache, path, nb)
        entries.append(entry)
        executed.append(nb)

    for i, (entry, nb) in enumerate(zip(entries, executed)):
        prev = entries[i - 1] if i > 0 else None
        nxt = entries[i + 1] if i + 1 < len(entries) else None
        body = _render(nb)
        nav = _nav(entry, prev, nxt)
        body = re.sub(r"(<body[^>]*>)", lambda m, nav=nav: m.group(1) + nav, body, count=1)
        with atomic_write(out / entry.page, "w", encoding="utf-8") as fh:
            fh.write(body)
        with atomic_write(out / f"{entry.name}.ipynb", "w", encoding="utf-8") as fh:
            nbformat.write(nb, fh)
    _write_index(out, entries)
    with atomic_write(out / MANIFEST, "w", encoding="utf-8") as fh:
        json.dump([asdict(e) for e in entries], fh, indent=1)
    return entries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jetad_utils.book",
        description="Execute every notebook and render a static HTML book with a contents page.")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to include (default: notebooks/[0-9]*.ipynb)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "book",
                        help="output directory (default: build/book)")
    parser.add_argument("--mode", choices=["auto", "fast"], default="auto",
                        help="auto: cached full-mode results where they exist, else fast mode; "
                             "fast: every notebook in fast mode")
    parser.add_argument("--run-full", nargs="+", default=[], metavar="NN",
                        help="execute these notebooks (number or name) in full mode now and cache "
                             "the result")
    parser.add_argument("--cache", type=Path, default=None,
                        help="full-mode result cache (default: <checkpoint dir>/book)")
    parser.add_argument("--reuse", type=Path, default=None, metavar="DIR",
                        help="stored fast-mode executions to show instead of executing again "
                             "(make test keeps them in build/executed)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    args = parser.parse_args(argv)
    try:
        entries = build_book(args.notebooks or None, args.out, mode=args.mode,
                             run_full=args.run_full, cache=args.cache, reuse=args.reuse,
                             timeout=args.timeout)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bad = [e.name for e in entries if e.errors]
    print(f"book: {len(entries)} notebook(s), {format_runtime(sum(e.runtime_s for e in entries))} "
          f"of execution -> {args.out / 'index.html'}")
    if bad:
        print(f"book: errors in {', '.join(bad)} (see their pages)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
