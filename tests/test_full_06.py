"""Notebook 06 in full mode (10 000 QCD training jets, 5 000 jets per signal, three seeds per model).

Runs the whole notebook with ``JETAD_FAST=0`` (about 45 minutes on 2 cores the first time, a
few minutes once its 12 trainings are cached). Beyond the recorded conclusions: the paper's
Table 1 has the deep-set Set-VAE with PID above the N-subjettiness baseline on all nine signal
classes; where ours is not, the notebook must print, for every class it loses, both numbers, and
give the suspected reason in its text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import cell_stdout, check_cell_lines

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_set_vae.ipynb"

#: the recorded conclusions of the notebook's NBVAL_CHECK_OUTPUT cell, in order (same in both modes)
CONCLUSIONS = (True, True, False, True, True, True, True, False, True)


@pytest.mark.slow
@pytest.mark.notebook
def test_notebook_06_full_mode(run_full_mode):
    nb = run_full_mode(NOTEBOOK, timeout_hours=3)
    lines = check_cell_lines(nb)
    assert [line.endswith("True") for line in lines] == list(CONCLUSIONS), lines
    assert all(line.endswith(("True", "False")) for line in lines), lines

    text = cell_stdout(nb, "beats = [c for c")
    assert "beats it on 9 of 9 classes" in text, text    # the paper's Table 1, deep set w/ PID
    match = re.search(r"Set-VAE \(PID\) beats N-subjettiness on (\d) of 9 classes", text)
    assert match, text
    n_beats = int(match.group(1))
    if n_beats < 9:
        # allowed only with the numbers of every class it loses and the reason in the notebook
        where = re.search(r"where it does not: (.*)", text).group(1)
        assert len(re.findall(r"\d+\.\d % vs \d+\.\d %", where)) == 9 - n_beats, where
        markdown = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "complexity bias" in markdown and "every one of the nine classes" in markdown
    print(text)
    print(cell_stdout(nb, "show_table(table)"))
