"""Small, shared pieces of event generation with Pythia 8 (pythia8mc) and FastJet.

Generation is at particle level: stable visible particles after hadronisation, no detector
simulation (see data/README.md for what that neglects compared with Delphes).
"""

from __future__ import annotations

import contextlib
import os
import sys

import awkward as ak
import numpy as np

__all__ = ["COMMON_SETTINGS", "make_pythia", "final_state", "particle_charges", "quiet_fastjet",
           "MAX_PYTHIA_SEED", "cross_section_pb"]

#: Pythia accepts seeds 1 ... 900 000 000.
MAX_PYTHIA_SEED = 900_000_000

#: Settings every sample shares: 13 TeV pp, quiet, seeded.
COMMON_SETTINGS = [
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowProcess = 0",
    "Next:numberShowInfo = 0",
    "Beams:eCM = 13000.",
    "Random:setSeed = on",
]

#: neutrinos and the invisible BSM particles of our signals (DM candidates)
INVISIBLE_IDS = (12, 14, 16, 52, 1000022, 1000012, 1000014, 1000016)


def make_pythia(settings, seed: int, *, mpi: bool = False):
    """A quiet, seeded, initialised ``pythia8mc.Pythia``.

    Parameters
    ----------
    settings : list of str
        Process settings (``"HardQCD:all = on"``, ...), added after :data:`COMMON_SETTINGS`.
    seed : int
        1 ... 900 000 000.
    mpi : bool
        Multi-parton interactions (off by default, as in the LHC Olympics R&D set; ~3x faster).

    Returns
    -------
    pythia8mc.Pythia

    Raises
    ------
    RuntimeError
        If Pythia refuses the settings (the message lists them).
    """
    import pythia8mc

    seed = int(seed)
    if not 1 <= seed <= MAX_PYTHIA_SEED:
        raise ValueError(f"Pythia seeds must be in 1..{MAX_PYTHIA_SEED}, got {seed}")
    pythia = pythia8mc.Pythia("", False)
    all_settings = [*COMMON_SETTINGS, f"Random:seed = {seed}",
                    f"PartonLevel:MPI = {'on' if mpi else 'off'}", *settings]
    for line in all_settings:
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia did not accept the setting {line!r}")
    with _quiet_stdout():
        ok = pythia.init()
    if not ok:
        raise RuntimeError("Pythia failed to initialise with settings:\n  " + "\n  ".join(all_settings))
    return pythia


def particle_charges(pythia, ids) -> np.ndarray:
    """Electric charge (units of e) for an array of PDG ids, looked up once per distinct id."""
    flat = np.asarray(ids)
    unique, inverse = np.unique(flat, return_inverse=True)
    table = np.array([pythia.particleData.charge(int(i)) for i in unique], dtype=np.float32)
    return table[inverse].reshape(flat.shape)


def final_state(batch, pythia, *, visible_only: bool = True):
    """Stable (final-state) particles of a ``nextBatch`` result as a flat-record awkward array.

    Parameters
    ----------
    batch : awkward.Array
        ``pythia.nextBatch(n)``.
    pythia : pythia8mc.Pythia
        For the charge table.
    visible_only : bool
        Drop neutrinos and invisible BSM particles.

    Returns
    -------
    awkward.Array
        ``n * var * {px, py, pz, E, id, charge}`` (GeV, units of e).
    """
    prt = batch.prt
    keep = prt.status > 0
    if visible_only:
        aid = abs(prt.id)
        for inv in INVISIBLE_IDS:
            keep = keep & (aid != inv)
    fs = prt[keep]
    counts = ak.num(fs)
    ids = ak.to_numpy(ak.flatten(fs.id))
    charge = ak.unflatten(particle_charges(pythia, ids), counts)
    return ak.zip({"px": fs.p.px, "py": fs.p.py, "pz": fs.p.pz, "E": fs.p.e, "id": fs.id,
                   "charge": charge}, depth_limit=2)


def cross_section_pb(pythia) -> float:
    """Pythia's estimate of the generated cross-section so far, in pb (sigmaGen is in mb)."""
    return float(pythia.infoPython().sigmaGen()) * 1e9


@contextlib.contextmanager
def _quiet_stdout():
    """Silence C-level stdout (Pythia and FastJet banners) for the duration of the block."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # e.g. a Jupyter kernel's stream
        fd = 1
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


_FASTJET_QUIET = False


def quiet_fastjet() -> None:
    """Cluster one dummy event with stdout silenced, so FastJet's banner is never shown."""
    global _FASTJET_QUIET
    if _FASTJET_QUIET:
        return
    import fastjet

    with _quiet_stdout():
        dummy = ak.Array([[{"px": 1.0, "py": 0.0, "pz": 0.0, "E": 1.0}]])
        fastjet.ClusterSequence(dummy, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)).inclusive_jets()
    _FASTJET_QUIET = True
