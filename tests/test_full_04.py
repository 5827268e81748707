"""Notebook 04 in full mode (600 QCD jets pairwise, a 1 000-jet pool, 500 + 500 test jets per
class, the 24 VAEs of notebook 03's full grid).

About 10 minutes on 2 cores once notebook 03's full grid is cached (the grid itself: over an
hour the first time, `python -m jetad_utils.scans image-vae`; this test makes it if missing).
Checks the full-mode outcome measured once at seed 0 and written in the notebook's summary:
the conclusions are fast mode's except the first correlation line (the MSE VAEs' median rho
reaches 0.5 in full mode); the BCE VAEs follow the EMD more at every matched point.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from conftest import cell_stdout, check_cell_lines

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_optimal_transport.ipynb"
STRONG = "QCD pairs: latent distances of the MSE-trained VAEs follow the EMD strongly (median rho > 0.5): "


@pytest.mark.slow
@pytest.mark.notebook
def test_notebook_04_full_mode(run_full_mode):
    recorded = check_cell_lines(nbformat.read(NOTEBOOK, as_version=4))
    assert STRONG + "False" in recorded          # fast mode's outcome
    nb = run_full_mode(NOTEBOOK, timeout_hours=3)
    expected = [STRONG + "True" if line == STRONG + "False" else line for line in recorded]
    assert check_cell_lines(nb) == expected

    text = cell_stdout(nb, "median_mse_rho = float(np.median(mse_rho))")
    print(text)
    median = float(re.search(r"median rho of the 12 MSE-trained VAEs: ([\d.]+)", text).group(1))
    assert median > 0.5, text
    differences = [float(d) for d in re.findall(r"difference ([+-][\d.]+)", text)]
    assert len(differences) == 12 and max(differences) < 0, differences
