"""Tests of jetad_utils.gen_jets: the Pythia + FastJet jet and LHCO-like event generators.

The physics checks are the validation of the samples: mass peaks of the matched jets, the
N-subjettiness separation from QCD, leptons in the semileptonic classes, the falling QCD spectra
and the LHCO-like signal masses. Each sample is generated once per module (small n, fixed
seeds; about 30 s in all on one core with MPI off).
"""

from __future__ import annotations

import numpy as np
import pytest

from jetad_utils.features import tau_ratios
from jetad_utils.gen_jets import (
    JET_CLASSES,
    JETS_OPTIONS,
    LHCO_OPTIONS,
    PID_ELECTRON,
    PID_MUON,
    generate_jets,
    generate_lhco,
)

pytestmark = pytest.mark.integration   # real Pythia runs, processes, servers or mounts: not in make test-unit

SEED = 20240611
#: jets per class: as small as gives stable medians and peaks (checked over several seeds)
N_JETS = {"qcd": 400, "top": 300, "w": 300, "z": 300, "hbb": 200, "hcc": 200, "hgg": 200, "h4q": 200,
          "hlqq": 201, "tbl": 201}  # odd n for the semileptonic classes: ℓ+/ℓ- interleaving
N_LHCO = {"qcd": 500, "signal": 300}
JET_KEYS = {"jet_pt": ((), np.float32), "jet_eta": ((), np.float32), "jet_phi": ((), np.float32),
            "jet_mass": ((), np.float32), "taus": ((4,), np.float32), "parts": ((128, 4), np.float32),
            "pid": ((128,), np.int8), "mask": ((128,), np.bool_)}
LHCO_KEYS = ("mjj", "mj1", "mj2", "ptj1", "ptj2", "tau21_j1", "tau21_j2", "tau32_j1", "tau32_j2")


@pytest.fixture(scope="module")
def jets():
    """``jets(cls)``: the module's sample of a class, generated on first use."""
    cache = {}

    def get(cls):
        if cls not in cache:
            cache[cls] = generate_jets(N_JETS[cls], SEED, cls=cls)
        return cache[cls]

    return get


@pytest.fixture(scope="module")
def lhco():
    cache = {}

    def get(process):
        if process not in cache:
            cache[process] = generate_lhco(N_LHCO[process], SEED, process=process)
        return cache[process]

    return get


def peak(values, width):
    """Mode estimate: the median of the densest interval of the given width (GeV)."""
    v = np.sort(np.asarray(values, dtype=float))
    counts = np.searchsorted(v, v + width, side="right") - np.arange(len(v))
    i = int(np.argmax(counts))
    return float(np.median(v[i:i + counts[i]]))


def has_lepton(pid):
    return np.isin(np.abs(pid), (PID_ELECTRON, PID_MUON)).any(axis=1)


def hardest_lepton_sign(pid, parts):
    """Charge sign of the highest-pT lepton of each jet (0 if none)."""
    lep = np.isin(np.abs(pid), (PID_ELECTRON, PID_MUON))
    pt = np.where(lep, parts[..., 0], -1.0)
    i = pt.argmax(axis=1)
    sign = np.sign(pid[np.arange(len(pid)), i]).astype(int)
    return np.where(lep.any(axis=1), sign, 0)


def constituent_sum(data):
    """Jet pT and mass rebuilt from the stored constituents (pT, Δη, Δφ, E)."""
    parts = data["parts"].astype(np.float64)
    pt, eta, phi, e = parts[..., 0], parts[..., 1], parts[..., 2], parts[..., 3]
    eta = eta + data["jet_eta"][:, None].astype(np.float64)
    phi = phi + data["jet_phi"][:, None].astype(np.float64)
    m = data["mask"]
    px = np.where(m, pt * np.cos(phi), 0).sum(1)
    py = np.where(m, pt * np.sin(phi), 0).sum(1)
    pz = np.where(m, pt * np.sinh(eta), 0).sum(1)
    e = np.where(m, e, 0).sum(1)
    return np.hypot(px, py), np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0))


# ----------------------------------------------------------------------------- contract
def test_options_tables_match_signatures():
    assert set(JETS_OPTIONS["cls"][1]) == set(JET_CLASSES)
    assert JETS_OPTIONS["radius"][0] == 0.8 and JETS_OPTIONS["n_max"][0] == 128
    assert set(LHCO_OPTIONS) == {"process", "radius", "pt_min", "mpi"}


@pytest.mark.parametrize("cls", ["qcd", "tbl"])
def test_keys_shapes_dtypes(jets, cls):
    data = jets(cls)
    assert set(data) == set(JET_KEYS)
    for key, (shape, dtype) in JET_KEYS.items():
        assert data[key].shape == (N_JETS[cls], *shape), key
        assert data[key].dtype == dtype, key


@pytest.mark.parametrize("cls", ["qcd", "top", "w", "hlqq", "tbl"])
def test_jets_in_window(jets, cls):
    data = jets(cls)
    assert np.all((data["jet_pt"] > 550) & (data["jet_pt"] < 650))
    assert np.all(np.abs(data["jet_eta"]) < 2.0)
    assert np.all((data["jet_phi"] > -np.pi) & (data["jet_phi"] <= np.pi))


@pytest.mark.parametrize("cls", ["qcd", "top", "hlqq"])
def test_constituents_ordered_padded_and_close_to_axis(jets, cls):
    data = jets(cls)
    parts, mask, pid = data["parts"], data["mask"], data["pid"]
    # the mask is a prefix: True for the first n_i entries, then False
    n_i = mask.sum(axis=1)
    np.testing.assert_array_equal(mask, np.arange(mask.shape[1])[None, :] < n_i[:, None])
    assert n_i.min() >= 5
    assert np.all(parts[~mask] == 0) and np.all(pid[~mask] == 0)
    assert np.all(pid[mask] != 0) and np.all(parts[..., 0][mask] > 0)
    pt = parts[..., 0]
    assert np.all(np.diff(pt, axis=1)[mask[:, 1:]] <= 0), "constituents not ordered by decreasing pT"
    assert np.all(np.abs(parts[..., 2]) <= np.pi)
    # FastJet clusters in rapidity, Δη is in pseudorapidity: only soft massive hadrons (y ≠ η)
    # can lie further than R from the axis in (η, φ) (|y − η| shrinks like (m / pT)²: a 2 GeV
    # proton can still sit ~0.08 outside, a 5 GeV one a few hundredths at most)
    dr = np.hypot(parts[..., 1], parts[..., 2])
    assert dr[mask & (pt > 5.0)].max() < 0.8 * 1.05
    assert np.mean(dr[mask] < 0.8 * 1.05) > 0.99
    assert np.all(parts[..., 3][mask] >= parts[..., 0][mask] * (1 - 1e-6))  # E >= pT
    assert set(np.unique(pid[mask])) <= {-5, -4, -1, 1, 2, 3, 4, 5}


@pytest.mark.parametrize("cls", ["qcd", "top", "tbl"])
def test_constituents_sum_to_jet(jets, cls):
    data = jets(cls)
    complete = ~data["mask"][:, -1]  # no constituent dropped by n_max
    assert complete.mean() > 0.8
    pt, mass = constituent_sum(data)
    np.testing.assert_allclose(pt[complete], data["jet_pt"][complete], rtol=1e-3)
    np.testing.assert_allclose(mass[complete], data["jet_mass"][complete], rtol=1e-3)


def test_taus_sane(jets):
    for cls in ("qcd", "top", "w"):
        taus = jets(cls)["taus"]
        assert np.all(taus >= 0) and np.all(taus[:, 0] <= 1.0)
        # τN decreases with N for (almost) every jet
        assert np.mean(np.all(np.diff(taus, axis=1) <= 1e-6, axis=1)) > 0.97


def test_same_seed_identical_other_seed_different(jets):
    a = generate_jets(30, 99, cls="qcd")
    b = generate_jets(30, 99, cls="qcd")
    c = generate_jets(30, 100, cls="qcd")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["jet_pt"], c["jet_pt"])
    assert not np.array_equal(a["parts"], c["parts"])


def test_shorter_sample_is_prefix(jets):
    """Determinism across sample sizes, for the two-instance (ℓ+/ℓ-) classes too."""
    for cls in ("qcd", "tbl"):
        short = generate_jets(11, SEED, cls=cls)
        for key, value in short.items():
            np.testing.assert_array_equal(value, jets(cls)[key][:11], err_msg=f"{cls} {key}")


def test_zero_jets_and_bad_options():
    empty = generate_jets(0, 1, cls="top")
    assert empty["parts"].shape == (0, 128, 4) and empty["jet_pt"].dtype == np.float32
    assert generate_lhco(0, 1)["mjj"].shape == (0,)
    with pytest.raises(ValueError):
        generate_jets(5, 1, cls="gluino")
    with pytest.raises(ValueError):
        generate_jets(5, 1, pt_min=700.0, pt_max=600.0)
    with pytest.raises(ValueError):
        generate_jets(5, 0)
    with pytest.raises(ValueError):
        generate_jets(-1, 1)
    with pytest.raises(ValueError):
        generate_lhco(5, 1, process="susy")


# ----------------------------------------------------------------------------- physics
def test_qcd_mass_spectrum_falls(jets):
    m = jets("qcd")["jet_mass"]
    low = np.sum((m > 30) & (m < 130))
    high = np.sum((m > 150) & (m < 250))
    assert high < 0.3 * low, (low, high)
    assert peak(m, 20) < 90


def test_top_mass_peak_and_tau32(jets):
    top, qcd = jets("top"), jets("qcd")
    assert 160 < peak(top["jet_mass"], 20) < 185
    assert 0.5 < np.mean((top["jet_mass"] > 140) & (top["jet_mass"] < 200))  # measured 0.62-0.74
    assert np.median(tau_ratios(top["taus"])[1]) < np.median(tau_ratios(qcd["taus"])[1]) - 0.15


@pytest.mark.parametrize("cls", ["w", "z"])
def test_vector_boson_mass_peak_and_tau21(jets, cls):
    data, qcd = jets(cls), jets("qcd")
    assert 70 < peak(data["jet_mass"], 15) < 100
    # matching to the boson matters: the leading jet would be the recoil jet in ~30 % of events
    # (measured: 0.80-0.83 of matched jets in the window, 0.56-0.59 of leading jets)
    lo, hi = (65, 105) if cls == "w" else (70, 110)
    assert np.mean((data["jet_mass"] > lo) & (data["jet_mass"] < hi)) > 0.7
    assert np.median(tau_ratios(data["taus"])[0]) < np.median(tau_ratios(qcd["taus"])[0]) - 0.15


def test_z_heavier_than_w(jets):
    assert peak(jets("z")["jet_mass"], 15) > peak(jets("w")["jet_mass"], 15) + 4


@pytest.mark.parametrize("cls", ["hbb", "hcc", "hgg", "h4q"])
def test_higgs_mass_peak(jets, cls):
    m = jets(cls)["jet_mass"]
    assert 110 < peak(m, 15) < 140
    assert np.mean((m > 100) & (m < 150)) > 0.7  # matched 0.79-0.90; leading jets ~0.5


@pytest.mark.parametrize("cls", ["hlqq", "tbl"])
def test_semileptonic_jets_contain_a_lepton_of_both_charges(jets, cls):
    data, qcd = jets(cls), jets("qcd")
    assert has_lepton(data["pid"]).mean() > 0.9
    assert has_lepton(qcd["pid"]).mean() < 0.4  # soft leptons (Dalitz decays, heavy flavour)
    # rows alternate ℓ+ (even) and ℓ- (odd) instances: the hardest lepton has that charge
    sign = hardest_lepton_sign(data["pid"], data["parts"])
    assert np.mean(sign[0::2] == 1) > 0.8
    assert np.mean(sign[1::2] == -1) > 0.8


def test_semileptonic_masses(jets):
    # visible mass below the resonance mass (the neutrino escapes), above a QCD-like peak
    assert 80 < np.median(jets("hlqq")["jet_mass"]) < 125
    assert 100 < np.median(jets("tbl")["jet_mass"]) < 165


# ----------------------------------------------------------------------------- LHCO-like
@pytest.mark.parametrize("process", ["qcd", "signal"])
def test_lhco_keys_and_ordering(lhco, process):
    data = lhco(process)
    assert set(data) == set(LHCO_KEYS)
    for key in LHCO_KEYS:
        assert data[key].shape == (N_LHCO[process],) and data[key].dtype == np.float32, key
    assert np.all(data["mj1"] >= data["mj2"])
    assert np.all(np.maximum(data["ptj1"], data["ptj2"]) > 1200)
    for key in LHCO_KEYS[5:]:
        assert np.all((data[key] >= 0) & (data[key] <= 1.5)), key


def test_lhco_signal_masses(lhco):
    data = lhco("signal")
    assert abs(np.median(data["mj1"]) / 500 - 1) < 0.15
    assert abs(np.median(data["mj2"]) / 100 - 1) < 0.15
    assert 3200 < np.median(data["mjj"]) < 3700
    # two-prong X and Y jets: lower τ21 than the background's heavier jet
    assert np.median(data["tau21_j1"]) < np.median(lhco("qcd")["tau21_j1"]) - 0.15


def test_lhco_background_falls(lhco):
    data = lhco("qcd")
    mjj = data["mjj"]
    assert 2200 < np.median(mjj) < 3300
    counts, _ = np.histogram(mjj, bins=[2500, 3000, 3500, 4000, 5000])
    assert np.all(np.diff(counts) < 0), counts
    assert np.median(data["mj1"]) < 350  # no resonance: a broad QCD mass distribution


def test_lhco_deterministic():
    a = generate_lhco(15, 5, process="signal")
    b = generate_lhco(15, 5, process="signal")
    c = generate_lhco(15, 6, process="signal")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["mjj"], c["mjj"])


def test_final_state_arrays_and_charge_table_agree_with_pythia():
    """The fast flat-array path selects the same particles as a direct awkward selection, and
    the cached charge table agrees with Pythia's particle data (including ids first seen later)."""
    import awkward as ak

    from jetad_utils import pythia_tools

    pythia = pythia_tools.make_pythia(["HardQCD:all = on", "PhaseSpace:pTHatMin = 200"], 11)
    batch = pythia.nextBatch(20)
    arrays = pythia_tools.final_state_arrays(batch, pythia)
    prt = batch.prt
    keep = prt.status > 0
    for inv in pythia_tools.INVISIBLE_IDS:
        keep = keep & (abs(prt.id) != inv)
    direct = prt[keep]
    assert np.array_equal(arrays["counts"], ak.to_numpy(ak.num(direct.id)))
    assert np.array_equal(arrays["id"], ak.to_numpy(ak.flatten(direct.id)))
    assert np.array_equal(arrays["E"], ak.to_numpy(ak.flatten(direct.p.e)))
    assert np.all(arrays["E"] > 0)
    ids = np.array([22, 211, -211, 2212, -11, 13, 2112, 130, 321, 3222, -3112, 1000022])
    expected = [pythia.particleData.charge(int(i)) for i in ids]
    np.testing.assert_array_equal(pythia_tools.particle_charges(pythia, ids), expected)
    events = pythia_tools.final_state(batch, pythia)
    assert ak.sum(events.charge) == pytest.approx(arrays["charge"].sum())


def test_make_pythia_copies_the_pristine_tables_without_changing_events():
    """make_pythia copies one never-initialised instance's settings and particle data instead of
    re-reading Pythia's XML files; its events equal a freshly constructed Pythia's, also after an
    instance with a modified particle table (stable π0) was made in between."""
    import awkward as ak
    import pythia8mc

    from jetad_utils import pythia_tools

    settings = ["HardQCD:all = on", "PhaseSpace:pTHatMin = 200"]

    def fresh(seed):
        pythia = pythia8mc.Pythia("", False)
        for line in [*pythia_tools.COMMON_SETTINGS, f"Random:seed = {seed}", "PartonLevel:MPI = off", *settings]:
            assert pythia.readString(line)
        assert pythia.init()
        return pythia

    first = pythia_tools.make_pythia(settings, 5).nextBatch(15)
    other = pythia_tools.make_pythia([*settings, "111:mayDecay = off"], 9)   # stable pi0s
    assert ak.any(other.nextBatch(2).prt.id == 111)
    again = pythia_tools.make_pythia(settings, 5).nextBatch(15)
    reference = fresh(5).nextBatch(15)
    for batch in (first, again):
        assert ak.array_equal(batch.prt.id, reference.prt.id)
        assert ak.array_equal(batch.prt.p.px, reference.prt.p.px)


_BANNER_SCRIPT = """
import sys
import nbformat
from nbclient import NotebookClient


nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.cells = [
    nbformat.v4.new_code_cell(
        "import awkward as ak, fastjet\\n"
        "from jetad_utils.pythia_tools import quiet_fastjet\\n"
        "quiet_fastjet()\\n"
        "jet = ak.Array([[{'px': 10.0, 'py': 0.0, 'pz': 1.0, 'E': 11.0}]])\\n"
        "fastjet.ClusterSequence(jet, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)).inclusive_jets()\\n"
        "import os; os.write(1, b'fd 1 reaches the notebook\\\\n')\\n"
        "print('clustered')"),
    nbformat.v4.new_code_cell("import time; time.sleep(1); print('next cell')"),
]
NotebookClient(nb, kernel_name="python3", timeout=300).execute()
sys.stdout.write("".join(o.get("text", "") for c in nb.cells for o in c.outputs))
"""


def test_fastjet_banner_never_reaches_a_notebook():
    """In a Jupyter kernel fd 1 is the pipe into the notebook, not sys.stdout.fileno(): the
    banner of the first clustering must not appear in any cell's output. The kernel runs
    outside pytest (ipykernel does not watch fd 1 when PYTEST_CURRENT_TEST is set)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    proc = subprocess.run([sys.executable, "-c", _BANNER_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    assert "clustered" in text and "next cell" in text, text
    assert "fd 1 reaches the notebook" in text, text  # the test can see C-level output
    assert "FastJet" not in text and "#####" not in text, text
