"""Small, shared pieces of event generation with Pythia 8 (pythia8mc) and FastJet.

Generation is at particle level: stable visible particles after hadronisation, no detector
simulation (see data/README.md for what that neglects compared with Delphes).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys

import awkward as ak
import numpy as np

__all__ = ["COMMON_SETTINGS", "make_pythia", "final_state", "final_state_arrays", "as_events", "particle_charges",
           "quiet_fastjet", "MAX_PYTHIA_SEED", "cross_section_pb"]

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
    # copies of the pristine tables: the same events as a fresh Pythia("", False)
    pristine = _pristine()
    pythia = pythia8mc.Pythia(pristine.settings, pristine.particleData, False)
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
    """Electric charge (units of e) for an array of PDG ids.

    Charges come from Pythia's particle table, looked up once per distinct id and remembered
    for the process (the table is fixed after ``init``), so a batch of a million particles
    costs one vectorised table lookup instead of a sort.
    """
    flat = np.asarray(ids, dtype=np.int64)
    known, charges = _CHARGE_TABLE
    idx = np.searchsorted(known, flat)
    idx = np.minimum(idx, len(known) - 1) if len(known) else idx
    hit = known[idx] == flat if len(known) else np.zeros(flat.shape, dtype=bool)
    if not hit.all():
        new = np.unique(flat[~hit])
        values = np.array([pythia.particleData.charge(int(i)) for i in new], dtype=np.float32)
        merged = np.concatenate([known, new])
        order = np.argsort(merged, kind="stable")
        _CHARGE_TABLE[:] = [merged[order], np.concatenate([charges, values])[order]]
        return particle_charges(pythia, flat)
    return charges[idx].reshape(flat.shape)


@functools.lru_cache(maxsize=1)
def _pristine():
    """One never-initialised Pythia per process, whose settings and particle data new instances
    copy (reading them from the XML files costs 0.05-0.1 s per instance, ~1 % of a chunk)."""
    import pythia8mc

    return pythia8mc.Pythia("", False)


#: sorted PDG ids seen so far and their charges (filled on demand by particle_charges)
_CHARGE_TABLE = [np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)]


def final_state_arrays(batch, pythia, *, visible_only: bool = True) -> dict:
    """Stable (final-state) particles of a ``nextBatch`` result as flat numpy arrays.

    Same particles, in the same order, as :func:`final_state`, without building awkward
    records (the fast path of the generators).

    Returns
    -------
    dict of numpy.ndarray
        ``px, py, pz, E`` (GeV), ``id`` (PDG), ``charge`` (float32, units of e), all
        flat over the batch, and ``counts`` (n_events,) particles per event.
    """
    prt = batch.prt
    n_all = ak.to_numpy(ak.num(prt.id, axis=1))
    ids = ak.to_numpy(ak.flatten(prt.id, axis=None))
    keep = ak.to_numpy(ak.flatten(prt.status, axis=None)) > 0
    if visible_only:
        keep &= ~np.isin(np.abs(ids), INVISIBLE_IDS)
    event = np.repeat(np.arange(len(n_all)), n_all)[keep]
    mom = prt.p
    out = {f: ak.to_numpy(ak.flatten(mom[g], axis=None))[keep]
           for f, g in (("px", "px"), ("py", "py"), ("pz", "pz"), ("E", "e"))}
    out["id"] = ids[keep]
    out["charge"] = particle_charges(pythia, out["id"])
    out["counts"] = np.bincount(event, minlength=len(n_all))
    return out


def as_events(arrays: dict, keep=None):
    """Awkward ``n * var * {px, py, pz, E, id, charge}`` from :func:`final_state_arrays` output,
    optionally keeping only the flat particles where ``keep`` is true."""
    counts = arrays["counts"]
    fields = ("px", "py", "pz", "E", "id", "charge")
    if keep is not None:
        event = np.repeat(np.arange(len(counts)), counts)[keep]
        counts = np.bincount(event, minlength=len(counts))
        flat = {f: arrays[f][keep] for f in fields}
    else:
        flat = {f: arrays[f] for f in fields}
    return ak.unflatten(ak.zip(flat), counts)


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
    return as_events(final_state_arrays(batch, pythia, visible_only=visible_only))


def cross_section_pb(pythia) -> float:
    """Pythia's estimate of the generated cross-section so far, in pb (sigmaGen is in mb)."""
    return float(pythia.infoPython().sigmaGen()) * 1e9


@contextlib.contextmanager
def _quiet_stdout():
    """Silence C-level stdout (Pythia and FastJet banners) for the duration of the block.

    C and C++ libraries write to file descriptor 1, whatever ``sys.stdout`` is: in a Jupyter
    kernel ``sys.stdout.fileno()`` is a copy of the terminal's descriptor while fd 1 is the pipe
    into the notebook's output, so fd 1 itself is redirected. C's stdio buffer is flushed before
    it is restored, or a banner buffered inside the block would be written after it.
    """
    fd = 1
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            try:
                yield
            finally:
                _flush_c_stdio()
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _flush_c_stdio() -> None:
    """fflush(NULL): write out what C's stdio (and C++'s synchronised cout) has buffered."""
    import ctypes

    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - no C library to ask (not POSIX)
        pass


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
