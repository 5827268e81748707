"""The static HTML book (`make book`, jetad_utils.book).

``test_book_of_every_notebook_in_fast_mode`` (only with ``JETAD_BOOK_TEST=1``, as ``make
test-book`` sets it; CI runs that target after ``make test``) builds the whole book in fast mode,
executing every ``notebooks/[0-9]*.ipynb`` on a real kernel, and checks the site: one page per notebook, linked
from the contents page with its runtime, with the plots rendered and no error output. The small
tests build books of tiny notebooks made here, to check the mode rules (a cached full-mode
result is used only for the exact notebook version it came from) and that an error is caught.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from jetad_utils import book

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
# how nbconvert renders an error output (checked against a real error below)
ERROR_MARK = "Traceback (most recent call last)"


def _tiny(path: Path, code: str, title: str = "# 99 · Tiny") -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(title),
                                         nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _stdout(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream")


def test_format_runtime_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        book.format_runtime(-1)


def test_unknown_run_full_name_is_an_error(tmp_path):
    nb = _tiny(tmp_path / "99_tiny.ipynb", "print(1)")
    with pytest.raises(ValueError, match="no such notebook"):
        book.build_book([nb], tmp_path / "out", run_full=["42"])
    with pytest.raises(ValueError, match="mode must be"):
        book.build_book([nb], tmp_path / "out", mode="full")


@pytest.mark.notebook
def test_full_mode_only_from_a_cached_run_of_the_same_version(tmp_path):
    nb = _tiny(tmp_path / "99_tiny.ipynb", "from jetad_utils import fast_mode\nprint('fast:', fast_mode())")
    cache, out = tmp_path / "cache", tmp_path / "out"

    # nothing cached: fast mode
    (entry,) = book.build_book([nb], out, cache=cache)
    assert (entry.mode, entry.cached, entry.errors) == ("fast", False, 0)
    assert _stdout(out / "99_tiny.ipynb") == "fast: True\n"

    # a full-mode run is executed with JETAD_FAST=0 and cached ...
    (entry,) = book.build_book([nb], out, cache=cache, run_full=["99"])
    assert (entry.mode, entry.cached) == ("full", False)
    assert _stdout(out / "99_tiny.ipynb") == "fast: False\n"
    assert len(list(cache.glob("99_tiny.*.full.ipynb"))) == 1

    # ... and used by the next build without executing again
    (entry,) = book.build_book([nb], out, cache=cache)
    assert (entry.mode, entry.cached) == ("full", True)
    assert _stdout(out / "99_tiny.ipynb") == "fast: False\n"
    index = (out / "index.html").read_text()
    assert "full (cached)" in index
    assert "executed in full mode (cached result)" in (out / "99_tiny.html").read_text()

    # mode="fast" ignores the cache
    (entry,) = book.build_book([nb], out, cache=cache, mode="fast")
    assert (entry.mode, entry.cached) == ("fast", False)

    # an edited notebook no longer matches its cached result: back to fast mode
    _tiny(nb, "from jetad_utils import fast_mode\nprint('fast:',  fast_mode())")
    (entry,) = book.build_book([nb], out, cache=cache)
    assert (entry.mode, entry.cached) == ("fast", False)


@pytest.mark.notebook
def test_an_error_is_shown_marked_and_fails_the_build(tmp_path, capsys):
    good = _tiny(tmp_path / "01_good.ipynb", "print('fine')", "# 01 · Good")
    bad = _tiny(tmp_path / "02_bad.ipynb", "print('before')\n1 / 0", "# 02 · Bad")
    out = tmp_path / "out"
    status = book.main([str(good), str(bad), "--mode", "fast", "--out", str(out)])
    assert status == 1
    assert "errors in 02_bad" in capsys.readouterr().err
    entries = {e["name"]: e for e in json.loads((out / "book.json").read_text())}
    assert entries["01_good"]["errors"] == 0 and entries["02_bad"]["errors"] == 1
    assert ERROR_MARK in (out / "02_bad.html").read_text()       # the page shows the traceback
    assert ERROR_MARK not in (out / "01_good.html").read_text()
    assert "1 error(s)" in (out / "index.html").read_text()
    # neighbours are linked
    assert 'href="02_bad.html"' in (out / "01_good.html").read_text()
    assert 'href="01_good.html"' in (out / "02_bad.html").read_text()


def _run_nbval(notebook: Path, executed: Path) -> subprocess.CompletedProcess:
    """nbval on one notebook, as make test runs it, with the execution recorder on."""
    env = dict(os.environ, JETAD_EXECUTED=str(executed), JETAD_FAST="1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "jetad_utils.book", "-p", "no:cacheprovider",
         "--rootdir", str(notebook.parent), "--nbval-lax", "--nbval-current-env", str(notebook)],
        cwd=notebook.parent, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.notebook
def test_an_nbval_run_is_kept_and_the_book_shows_it_without_executing_again(tmp_path, monkeypatch):
    path = tmp_path / "99_tiny.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 · Tiny"),
        nbformat.v4.new_code_cell("from jetad_utils import fast_mode\nprint('fast:', fast_mode())"),
        nbformat.v4.new_code_cell("6 * 7")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    executed = tmp_path / "executed"
    run = _run_nbval(path, executed)
    assert run.returncode == 0, run.stdout + run.stderr
    (stored,) = executed.glob("99_tiny.*.fast.ipynb")
    kept = nbformat.read(stored, as_version=4)
    assert kept.metadata["jetad_book"]["key"] == book.notebook_key(path)
    assert kept.cells[1].outputs[0].text == "fast: True\n"
    assert kept.cells[2].outputs[0].data["text/plain"] == "42"

    def no_second_execution(*args, **kwargs):
        raise AssertionError("the book executed a notebook that make test had executed")

    monkeypatch.setattr(book, "execute_notebook", no_second_execution)
    out = tmp_path / "out"
    (entry,) = book.build_book([path], out, mode="fast", reuse=executed, cache=tmp_path / "cache")
    assert (entry.mode, entry.cached, entry.errors) == ("fast", True, 0)
    assert _stdout(out / "99_tiny.ipynb") == "fast: True\n"
    assert "fast (cached)" in (out / "index.html").read_text()
    monkeypatch.undo()

    # an edited notebook is a new version: its old execution is not shown, it runs again
    nb.cells[2].source = "6 * 8"
    nbformat.write(nb, path)
    (entry,) = book.build_book([path], out, mode="fast", reuse=executed, cache=tmp_path / "cache")
    assert (entry.mode, entry.cached) == ("fast", False)
    assert nbformat.read(out / "99_tiny.ipynb", as_version=4).cells[2].outputs[0].data["text/plain"] == "48"


@pytest.mark.notebook
def test_a_failing_nbval_run_is_not_kept(tmp_path):
    path = _tiny(tmp_path / "98_bad.ipynb", "print('before')\n1 / 0", "# 98 · Bad")
    executed = tmp_path / "executed"
    run = _run_nbval(path, executed)
    assert run.returncode != 0
    assert not list(executed.glob("98_bad.*")), "a failed execution was kept for the book"


def check_site(out: Path, entries, notebooks) -> None:
    """Every notebook has a page linked from the contents with its runtime, plots, no error."""
    assert [e.name for e in entries] == [p.stem for p in notebooks]
    index = (out / "index.html").read_text(encoding="utf-8")
    toc = index.split('<table id="toc">', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'href="([^"]+)"', toc) == [f"{p.stem}.html" for p in notebooks]
    for entry, path in zip(entries, notebooks):
        assert entry.errors == 0, f"{path.name} raised while building the book (see its page)"
        page = (out / entry.page).read_text(encoding="utf-8")
        source = nbformat.read(path, as_version=4)
        assert entry.title and entry.title == book.notebook_title(source)
        assert " ".join(entry.title.split()[:3]) in page             # the notebook's heading
        assert ERROR_MARK not in page, f"{entry.page} shows an error output"
        assert "data:image/png;base64," in page, f"{entry.page} has no plot"
        assert 'href="index.html"' in page
        executed = nbformat.read(out / f"{entry.name}.ipynb", as_version=4)
        assert all(o.output_type != "error" for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs)
        ran = [c.execution_count for c in executed.cells if c.cell_type == "code" and c.source.strip()]
        assert all(n is not None for n in ran), f"{path.name}: not every cell ran"
        assert entry.runtime_s > 0
        assert book.format_runtime(entry.runtime_s) in toc         # runtime in the contents


@pytest.mark.notebook
@pytest.mark.skipif(os.environ.get("JETAD_BOOK_TEST") != "1",
                    reason="builds the book of every notebook (10-25 min on 2 cores where make "
                           "test's executions are not kept): run by `make test-book`, which CI "
                           "runs after `make test`")
def test_book_of_every_notebook_in_fast_mode(tmp_path):
    """With ``$JETAD_EXECUTED`` (make test-book sets it), the notebooks that make test executed
    are shown from there, and only the others are executed here."""
    assert NOTEBOOKS, "no notebooks found"
    out = tmp_path / "book"
    reuse = os.environ.get("JETAD_EXECUTED") or None
    entries = book.build_book(None, out, mode="fast", cache=tmp_path / "cache", reuse=reuse,
                              timeout=900)
    assert all(e.mode == "fast" for e in entries)
    print(f"{sum(e.cached for e in entries)} of {len(entries)} notebooks shown from make test's "
          f"executions ({reuse}), the others executed here")
    check_site(out, entries, NOTEBOOKS)


# ----------------------------------------------------------------------------- Binder


def test_binder_uses_the_same_pins():
    """repo2docker reads binder/ (and then ignores the top-level files), so binder/ must carry
    the same environment: an exact copy of environment.yml, then the whole lock without
    resolving, then the package."""
    binder = REPO / "binder"
    assert (binder / "environment.yml").read_bytes() == (REPO / "environment.yml").read_bytes(), (
        "binder/environment.yml differs from environment.yml: cp environment.yml binder/")
    post = binder / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    commands = [line.strip() for line in post.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert "python -m pip install --no-cache-dir --no-deps -r requirements.lock" in commands
    assert "python -m pip install --no-cache-dir --no-deps -e ." in commands
    start = binder / "start"
    assert start.stat().st_mode & 0o111, "binder/start must be executable"
    assert 'export JETAD_FAST="${JETAD_FAST:-1}"' in start.read_text()
    assert start.read_text().rstrip().endswith('exec "$@"')
