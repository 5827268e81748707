"""Full-mode checks (marked slow: `make test-full`, not `make test`).

Each test runs a notebook's full-size computation through the same code path as the notebook,
or reads its cached result (checkpoints and saved tables), and checks the physics claims the
notebook makes in full mode.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from conftest import cell_stdout, check_cell_lines

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_03_full_image_vae_scan():
    """Notebook 03, full grid (24 points, 20k QCD jets): about half an hour the first time, then cached.

    Checks: best AUC(top vs QCD) >= 0.8 over the grid and the scores, and the best grid point
    for top differs from the one for W, or the notebook prints, with numbers, that they
    coincide.
    """
    from jetad_utils import scans

    preset = scans.PRESETS["full"]
    data = scans.image_vae_data(preset["n_qcd"], preset["n_signal"], image_size=preset["image_size"], seed=0)
    grid = scans.make_grid(preset["latents"], preset["betas"], preset["metrics"])
    table = scans.run_scan(grid, data, training=preset["training"], seed=0, workers="auto")
    assert len(table) == len(grid) == 24

    def best(signal):
        return max(((row, k, row[f"auc_{signal}_{k}"]) for row in table for k in scans.SCORES),
                   key=lambda c: c[2])

    top_row, top_score, top_auc = best("top")
    w_row, w_score, w_auc = best("w")
    assert top_auc >= 0.8, f"best AUC(top vs QCD) = {top_auc:.3f} at {top_row}"
    if top_row is w_row:
        # allowed only because the notebook reports the coincidence with the AUCs
        source = (ROOT / "notebooks" / "03_image_vae_scans.ipynb").read_text(encoding="utf-8")
        assert "best point for top and for W coincide" in source
        assert "below the best for" in source
    else:
        key = lambda r: (r["metric"], r["latent"], r["beta"])  # noqa: E731
        assert key(top_row) != key(w_row)


# ----------------------------------------------------------------------------- whole notebooks
# Each notebook runs top to bottom with JETAD_FAST=0; its check function gets the executed
# notebook and the conclusions recorded (fast mode) in the repository's copy.

STRONG = "QCD pairs: latent distances of the MSE-trained VAEs follow the EMD strongly (median rho > 0.5): "
#: notebook 06: the recorded conclusions of its NBVAL_CHECK_OUTPUT cell, in order (same in both modes)
CONCLUSIONS_06 = (True, True, False, True, True, True, True, False, True)


def _full_04(nb, recorded):
    """Notebook 04 in full mode (600 QCD jets pairwise, a 1 000-jet pool, 500 + 500 test jets per
    class, the 24 VAEs of notebook 03's full grid).

    About 10 minutes on 2 cores once notebook 03's full grid is cached (the grid itself: over an
    hour the first time, `python -m jetad_utils.scans image-vae`; this test makes it if missing).
    Checks the full-mode outcome measured once at seed 0 and written in the notebook's summary:
    the conclusions are fast mode's except the first correlation line (the MSE VAEs' median rho
    reaches 0.5 in full mode); the BCE VAEs follow the EMD more at every matched point.
    """
    assert STRONG + "False" in recorded          # fast mode's outcome
    expected = [STRONG + "True" if line == STRONG + "False" else line for line in recorded]
    assert check_cell_lines(nb) == expected

    text = cell_stdout(nb, "median_mse_rho = float(np.median(mse_rho))")
    print(text)
    median = float(re.search(r"median rho of the 12 MSE-trained VAEs: ([\d.]+)", text).group(1))
    assert median > 0.5, text
    differences = [float(d) for d in re.findall(r"difference ([+-][\d.]+)", text)]
    assert len(differences) == 12 and max(differences) < 0, differences


def _full_05(nb, recorded):
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


def _full_06(nb, recorded):
    """Notebook 06 in full mode (10 000 QCD training jets, 5 000 jets per signal, three seeds per model).

    Runs the whole notebook with ``JETAD_FAST=0`` (about 45 minutes on 2 cores the first time, a
    few minutes once its 12 trainings are cached). Beyond the recorded conclusions: the paper's
    Table 1 has the deep-set Set-VAE with PID above the N-subjettiness baseline on all nine signal
    classes; where ours is not, the notebook must print, for every class it loses, both numbers, and
    give the suspected reason in its text.
    """
    lines = check_cell_lines(nb)
    assert [line.endswith("True") for line in lines] == list(CONCLUSIONS_06), lines
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


def _full_07(nb, recorded):
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


FULL_NOTEBOOKS = {   # number: (file stem, timeout in hours, check)
    "04": ("04_optimal_transport", 3, _full_04),
    "05": ("05_deep_set_vae", 3, _full_05),
    "06": ("06_set_vae", 3, _full_06),
    "07": ("07_latent_bump_hunt", 4, _full_07),
}


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("number", sorted(FULL_NOTEBOOKS))
def test_notebook_in_full_mode(number, run_full_mode):
    """The whole notebook in full mode; what is checked is in each ``_full_NN`` docstring."""
    stem, hours, check = FULL_NOTEBOOKS[number]
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    recorded = check_cell_lines(nbformat.read(path, as_version=4))
    nb = run_full_mode(path, timeout_hours=hours)
    check(nb, recorded)
