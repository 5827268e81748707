"""Notebook 05 in full mode (channels 1 and 3, 5 000 / 10 000 background events per process,
50 000 per signal, β ∈ {10⁻³, 0.5, 0.999, 1} × w ∈ {1, 10, 100}: 20 trainings).

About 50 minutes on 2 cores the first time (27 of them generating the events), 1–2 minutes once
the events and the trainings are cached. Checks: the recorded conclusions are the ones stored
from fast mode, and the full-mode statements of the notebook's summary still hold: β = 1 has
the highest median total improvement of the four β (all w pooled, by a hair) but three of the
nine decoder configurations have a higher one, the paper's factors (section 4.1: maximum
"around a factor of 3-4", median "nearly an order of magnitude" better) are not reached, the
monojet dark matter stays far below SI 1 at εB = 10⁻² for every model while a MET cut on the
same events exceeds 1, and every model ranks it below the background.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from conftest import cell_stdout, check_cell_lines

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_deep_set_vae.ipynb"


@pytest.mark.slow
@pytest.mark.notebook
def test_notebook_05_full_mode(run_full_mode):
    recorded = check_cell_lines(nbformat.read(NOTEBOOK, as_version=4))
    nb = run_full_mode(NOTEBOOK, timeout_hours=3)
    assert check_cell_lines(nb) == recorded

    text = cell_stdout(nb, "def ti_values(beta")
    print(text)
    assert "(a) at this seed, beta = 1 has a higher median TI than each decoder beta: True" in text, text
    assert "with a higher median TI than beta = 1: 3 of 9" in text, text
    assert "('nearly an order of magnitude'): False" in text, text
    assert "('around a factor of 3-4'): False" in text, text
    zp_dm = [float(v) for v in re.findall(r"beta = [\d.e-]+: (\d+\.\d+)", text.split("SI of zp_dm")[1])]
    assert len(zp_dm) == 4 and max(zp_dm) < 0.1, zp_dm
    met_cut = float(re.search(r"alone \(it knows what to look for\): zp_dm (\d+\.\d+)", text).group(1))
    assert met_cut > 1.0
    auc_rows = re.findall(r"^beta = [\d.e-]+, w = [\d.]+\s+(\d\.\d+)", text, flags=re.M)
    assert len(auc_rows) == 10 and max(float(a) for a in auc_rows) < 0.5, auc_rows
    print(cell_stdout(nb, "authors = {(1.0, 1.0)"))
