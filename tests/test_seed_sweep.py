"""The seed sweep (tests/seed_sweep.py): a notebook's seed is replaced exactly once, and its
checks are collected and summarised per seed. The sweep itself (an hour) is not part of make test."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed_sweep as ss  # noqa: E402


@pytest.mark.parametrize("path", sorted((ss.ROOT / "notebooks").glob("[0-9]*.ipynb")),
                         ids=lambda p: p.name[:2])
def test_every_notebook_sets_its_seed_once(path, tmp_path):
    out = ss.with_seed(path, tmp_path / path.name, 3)
    sources = [c.source for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    assert sum(s.count("SEED = 3") for s in sources) == 1
    assert not any(ss.SEED_LINE.search(s) for s in sources)


def test_a_notebook_without_its_seed_line_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("SEED = 1")])
    nbformat.write(nb, tmp_path / "nb.ipynb")
    with pytest.raises(SystemExit, match="SEED = 0"):
        ss.with_seed(tmp_path / "nb.ipynb", tmp_path / "out.ipynb", 2)


def test_summary_gives_each_checks_values_and_spread():
    runs = [{"notebook": "01_x.ipynb", "seed": s, "checks": [
        {"name": "AUC", "value": v, "lo": 0.7, "hi": 1.0}]} for s, v in ((1, 0.8), (2, 0.9))]
    text = ss.summarise(runs)
    assert "bounds [0.7, 1]" in text and "s1=0.8, s2=0.9" in text
    assert "mean 0.85 sd 0.071" in text
