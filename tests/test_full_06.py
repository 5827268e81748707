"""Notebook 06 in full mode (10 000 QCD training jets, 5 000 jets per signal, three seeds per model).

Runs the whole notebook with ``JETAD_FAST=0`` (about 45 minutes on 2 cores the first time, a
few minutes once its 12 trainings are cached). Beyond the recorded conclusions, the issue's
full-mode claim: the Set-VAE with PID beats the N-subjettiness baseline on at least 5 of the
9 signal classes, or the notebook states, with numbers, where it does not and why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import cell_stdout, check_cell_lines

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_set_vae.ipynb"


@pytest.mark.slow
@pytest.mark.notebook
def test_notebook_06_full_mode(run_full_mode):
    nb = run_full_mode(NOTEBOOK, timeout_hours=3)
    lines = check_cell_lines(nb)
    assert len(lines) == 7 and all(line.endswith("True") for line in lines), lines

    text = cell_stdout(nb, "beats = [c for c")
    match = re.search(r"beats N-subjettiness on (\d) of 9 classes", text)
    assert match, text
    n_beats = int(match.group(1))
    if n_beats < 5:
        # allowed only with the numbers of every class it loses and the reason in the notebook
        where = re.search(r"where it does not: (.*)", text).group(1)
        assert len(re.findall(r"\d+\.\d % vs \d+\.\d %", where)) == 9 - n_beats, where
        markdown = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "complexity bias" in markdown and "momentum-weighted" in markdown
    print(text)
    print(cell_stdout(nb, "show_table(table)"))
