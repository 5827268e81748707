"""Notebook 07 in full mode (200 000 QCD events, 20 runs per ensemble, up to 100 epochs).

Runs the whole notebook with ``JETAD_FAST=0``. The paper's latent-space claim at S/B = 1 %
(Bortolato et al., PRD 105, 115009, Sec. V and Fig. 9: "significant localized deviations from the
smooth background-only bands in the signal region of m_jj") is read as: the S/B = 1 % map's
<O>_z / <O>_{z,mjj} deviates from the band of 10 background-only subset trainings, inside the
hunt's signal region, by more than any of those subsets does from the others, and over
2.9-5.5 TeV its largest deviation lies in the signal region. Here we also require the recorded
conclusions to hold and print the numbers compared with the paper (SIC "2.75^{+0.21} at a signal
efficiency of ~0.5" for S/B = 0.1 %, Sec. IV and Fig. 4).
The latent-space claim is reported, not asserted, by the notebook: measured at seed 0 it does
not hold (the S/B = 1 % map's signal-region deviation 2.0 band sd against up to 4.7 for the
background-only subsets; its largest deviation does lie in the signal region), and this test
checks that outcome. Runtime with the 10 background-only subset trainings: about 1.7 hours on one
core once the events are generated (``jetad-data prepare``); all seven recorded conclusions held
in that run (and in a second one loading every cached network, 129 s).
Also measured at seed 0 and checked here: which KL tail holds the signal is not the same in every
run. 17 of the 20 runs at S/B = 1 % put it at small KL; the 3 reversed ones are runs whose KL rose
again late and whose kept network is from epoch 95-99 of 100 (the notebook's section 4 text).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import check_cell_lines

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_latent_bump_hunt.ipynb"


@pytest.mark.slow
@pytest.mark.notebook
def test_notebook_07_full_mode(run_full_mode):
    nb = run_full_mode(NOTEBOOK, timeout_hours=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert ("deviation beyond every background-only subset: False" in printed
            and "largest deviation inside the signal region: True" in printed), \
        "the latent-space comparison's outcome differs from the one measured (seed 0)"
    assert ("S/B =  1.00%: 17 of 20 runs put the signal at small KL" in printed
            and "every run puts the signal at small KL: False" in printed), \
        "the run-by-run orientation of the KL score differs from the one measured (seed 0)"
    lines = check_cell_lines(nb)
    assert len(lines) == 7 and all(line.endswith("True") for line in lines), lines
    checked = next(c for c in nb.cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source)
    summary = nb.cells[nb.cells.index(checked) - 1]
    print("".join(o.get("text", "") for o in summary.outputs))
