"""The mutation check (tests/mutation_check.py): deliberate bugs must fail the notebooks' checks.

The mechanics are tested cheaply first (a fault whose source text moved stops the check with an
error; a harmless change to a tiny notebook is reported as missed; a failing assert, a changed
check output or a hanging cell is reported as caught, also when the bug is in the copied
package). The check itself, every fault on the real notebooks (about 3 min on 2 cores, two
faults at a time; ``JETAD_MUTATION_JOBS`` changes that), is marked ``mutation``: part of
``make test``; alone with ``make test-mutations``; left out with ``-m "not mutation"``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutation_check as mc  # noqa: E402

pytestmark = pytest.mark.notebook


# ----------------------------------------------------------------------------- applying faults

@pytest.mark.parametrize("fault", mc.FAULTS, ids=lambda f: f.name)
def test_every_fault_applies_exactly_once_to_the_repository(fault, tmp_path):
    copy = mc.copy_repository(mc.ROOT, tmp_path, mc._notebook_files(fault))
    before = (copy / fault.path).read_text()
    mc.apply_fault(fault, copy)
    after = (copy / fault.path).read_text()
    assert after != before
    if fault.path.endswith(".ipynb"):
        sources = "\n".join(c.source for c in nbformat.read(copy / fault.path, as_version=4).cells)
        assert fault.new in sources and fault.old not in sources.replace(fault.new, "")
    else:
        assert fault.new in after
    # the original repository is untouched
    assert (mc.ROOT / fault.path).read_text() == before


def test_faults_have_distinct_names_and_existing_notebooks():
    names = [f.name for f in mc.FAULTS]
    assert len(names) == len(set(names))
    for f in mc.FAULTS:
        assert f.notebooks and all((mc.ROOT / nb).is_file() for nb in f.notebooks), f.name


def _fault(path="mod.py", old="VALUE = 4", new="VALUE = 5", notebooks=("nb.ipynb",)):
    return mc.Fault(name="test", path=path, old=old, new=new, notebooks=notebooks, what="a test")


def test_missing_source_text_raises(tmp_path):
    (tmp_path / "mod.py").write_text("VALUE = 3\n")
    with pytest.raises(mc.MutationError, match="occurs 0 times.*code moved"):
        mc.apply_fault(_fault(), tmp_path)


def test_ambiguous_source_text_raises(tmp_path):
    (tmp_path / "mod.py").write_text("VALUE = 4\nVALUE = 4\n")
    with pytest.raises(mc.MutationError, match="occurs 2 times"):
        mc.apply_fault(_fault(), tmp_path)


def test_missing_file_and_no_op_fault_raise(tmp_path):
    with pytest.raises(mc.MutationError, match="does not exist"):
        mc.apply_fault(_fault(path="gone.py"), tmp_path)
    (tmp_path / "mod.py").write_text("VALUE = 4\n")
    with pytest.raises(mc.MutationError, match="equals the original"):
        mc.apply_fault(_fault(new="VALUE = 4"), tmp_path)


def test_notebook_fault_must_be_in_exactly_one_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("VALUE = 4"),
                                         nbformat.v4.new_code_cell("VALUE = 4")])
    nbformat.write(nb, tmp_path / "nb.ipynb")
    with pytest.raises(mc.MutationError, match="occurs 2 times"):
        mc.apply_fault(_fault(path="nb.ipynb"), tmp_path)
    nb.cells.pop()
    nbformat.write(nb, tmp_path / "nb.ipynb")
    mc.apply_fault(_fault(path="nb.ipynb"), tmp_path)
    assert nbformat.read(tmp_path / "nb.ipynb", as_version=4).cells[0].source == "VALUE = 5"


# ----------------------------------------------------------------------------- running, on a tiny repository

@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """A repository with a one-constant package and a notebook: an assert and a check cell."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "jetad_utils").mkdir()
    (root / "jetad_utils" / "__init__.py").write_text("VALUE = 4\n")
    (root / "notebooks").mkdir()
    check = nbformat.v4.new_code_cell(
        "# NBVAL_CHECK_OUTPUT\nprint('the value is four:', jetad_utils.VALUE == 4)")
    check.outputs = [nbformat.v4.new_output("stream", name="stdout", text="the value is four: True\n")]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("A tiny notebook."),
        nbformat.v4.new_code_cell("import jetad_utils\nx = 2 + 2"),
        nbformat.v4.new_code_cell("assert x == 4, 'arithmetic is broken'"),
        check,
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "notebooks" / "00_tiny.ipynb")
    return root


NB = "notebooks/00_tiny.ipynb"


def _tiny(old, new, path=NB):
    return mc.Fault(name="tiny", path=path, old=old, new=new, notebooks=(NB,), what="tiny")


def test_unmutated_tiny_notebook_passes(tiny_root):
    res = mc.check_fault(None, (NB,), root=tiny_root, timeout=120)
    assert not res["caught"], res


def test_harmless_fault_is_reported_missed(tiny_root):
    res = mc.check_fault(_tiny("x = 2 + 2", "x = 4"), root=tiny_root, timeout=120)
    assert not res["caught"], res
    assert "MISSED" in mc.report(res)


def test_failing_check_is_reported_caught_with_its_cell(tiny_root):
    res = mc.check_fault(_tiny("x = 2 + 2", "x = 2 + 3"), root=tiny_root, timeout=120)
    assert res["caught"] and res["cell"] == 2 and res["kind"] == "error"
    assert "AssertionError: arithmetic is broken" in res["message"]
    assert "caught" in mc.report(res) and "00_tiny.ipynb cell 2" in mc.report(res)


def test_package_fault_changes_check_output_and_is_caught(tiny_root):
    # the kernel imports the mutated copy of the package, not the original
    res = mc.check_fault(_tiny("VALUE = 4", "VALUE = 5", path="jetad_utils/__init__.py"),
                         root=tiny_root, timeout=120)
    assert res["caught"] and res["cell"] == 3 and res["kind"] == "check output", res
    assert "- the value is four: True" in res["message"]
    assert "+ the value is four: False" in res["message"]


def test_hanging_cell_is_reported_with_its_own_kind(tiny_root):
    res = mc.check_fault(_tiny("x = 2 + 2", "import time; time.sleep(60); x = 4"), root=tiny_root,
                         timeout=3)
    assert res["caught"] and res["cell"] == 1 and res["kind"] == "CellTimeoutError", res


def test_command_line_lists_and_rejects_unknown_faults(capsys):
    assert mc.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(f.name in out for f in mc.FAULTS)
    with pytest.raises(SystemExit):
        mc.main(["no-such-fault"])


# ----------------------------------------------------------------------------- the check itself

@pytest.mark.mutation
def test_every_fault_is_caught_by_the_notebooks():
    results = mc.run_all(mc.FAULTS, jobs=int(os.environ.get("JETAD_MUTATION_JOBS", "2")))
    caught = sum(r["caught"] for r in results)
    print(f"caught {caught} of {len(results)} ({caught / len(results):.0%})")
    missed = [r["name"] for r in results if not r["caught"]]
    assert not missed, f"faults the notebooks' checks do not catch: {missed}"
