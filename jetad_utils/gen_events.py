"""Dark-Machines-like whole events: Pythia 8 processes reduced to object lists (jets, b-jets,
electrons, muons, photons, MET), and the four Dark Machines channel selections.

The Dark Machines anomaly score challenge (Aarrestad et al., arXiv 2105.14027; the data used by
Ostdiek, SciPost Phys. 12, 045) describes each 13 TeV event
by at most 20 reconstructed objects, each with a type and (E, pT, eta, phi), plus the missing
transverse momentum. This module makes events of the same shape on a laptop.

**These are leading-order Pythia 8 samples at particle level, not the challenge's samples.**
The challenge used MadGraph5_aMC@NLO matrix elements with up to two extra jets, Pythia showers
and a Delphes detector simulation; here every process is Pythia's own LO 2 -> 2 (or 2 -> 3)
process with a parton shower and hadronisation, no detector, no pile-up and, by default, no
multi-parton interactions. Cross-sections are Pythia's LO estimates (e.g. tt-bar 510 pb here,
~830 pb at NNLO, 533 pb in the challenge). Objects are built from stable particles
("truth-level" objects): no energy smearing, perfect b-tagging by B-hadron matching, no fake
leptons from jets, and MET comes only from neutrinos and invisible BSM particles (plus the
particles outside |eta| < 4.9). The point is the structure of the data (sets of typed
four-vectors with MET), not a calibrated reproduction of the challenge.

Object definitions (constants below; the channel cuts are the challenge's)
----------------------------------------------------------------------------------
* Visible final state: every stable particle except neutrinos and the invisible BSM particles
  (:data:`jetad_utils.pythia_tools.INVISIBLE_IDS`).
* **Electrons** / **muons**: stable e± / μ± *dressed* with the photons within ΔR < 0.1 (each
  such photon is added to the nearest lepton, as in particle-level "dressed leptons": a
  calorimeter would not separate them), then kept if pT > 15 GeV and |eta| < 2.47 (electrons)
  or 2.7 (muons), the lepton acceptances of the challenge's trigger selection.
  **Photons**: stable photons not used in dressing, pT > 20 GeV and |eta| < 2.37.
* **Isolation** (all three): the scalar sum of the pT of all *other* visible final-state
  particles (not the object's own dressing photons) within ΔR < 0.3 must be below 0.1 × pT of
  the object (ΔR² = Δη² + Δφ²). Leptons and photons from hadron decays inside jets fail it;
  those from W, Z and τ decays pass it (96 % of W' -> l nu events keep their lepton).
* **Jets**: anti-kt, R = 0.4 (FastJet), clustered from the visible final-state particles with
  |eta| < 4.9 minus the selected isolated leptons (with their dressing photons) and photons,
  so no overlap removal is needed; kept if pT > 20 GeV and |eta| < 2.8.
* **b-tag**: a jet is a b-jet if a B hadron lies within ΔR < 0.4 of its axis. B hadrons are
  taken from the whole event record (any status) as last copies (weakly decaying: no B hadron
  among their daughters, so B* -> B gamma and B0 oscillations count once) with pT > 5 GeV.
  100 % efficiency, no mistags (a detector would give ~70 % and ~1 %).
* **MET**: minus the vector sum of the pT of all visible final-state particles with
  |eta| < 4.9 (calorimeter coverage), i.e. the neutrinos/DM plus the little that escapes
  along the beams (~ a few GeV).
* **HT**: the scalar sum of the pT of all jets (light and b-tagged, pT > 20 GeV, |eta| < 2.8).
  Ostdiek (SciPost Phys. 12, 045) does not define HT beyond "hadronic activity"; this is the usual definition, with
  the jets of the event description (b-jets included, leptons and photons not).

Event layout (the dict :func:`generate_events` returns; n events along axis 0)
---------------------------------------------------------------------------------
``objects`` (n, 21, 4) float32
    (E, pT, eta, phi) per object, GeV and radians. Rows 0-19: the objects **ordered by type,
    then by decreasing pT** within a type, as in the challenge's CSV files: jets (light and
    b-tagged together), electrons (both charges), muons, photons. An event with more than 20
    objects keeps its 20 highest-pT objects. Unused rows are zero. **Row 20 is always MET**:
    E = MET (a placeholder: MET has no energy), pT = MET, eta = 0, phi = phi_MET.
``obj_id`` (n, 21) int8
    Object codes of the challenge: j 1, b 2, e- 3, e+ 4, mu- 5, mu+ 6, gamma 7, MET 8;
    0 for padding (:data:`OBJECT_CODES`, :data:`OBJECT_NAMES`).
``mask`` (n, 21) bool
    True for real objects and for the MET row, False for padding (``mask == (obj_id != 0)``).
``met``, ``ht`` (n,) float32
    GeV, as defined above.
``weight`` (n,) float64
    Cross-section per event in pb: Pythia's ``sigmaGen`` for this call (after the
    generator-level cuts of :data:`PROCESSES`, which Pythia applies itself: every generated
    event is returned) divided by n, the same for every event of the call. One call's weights
    sum to the process cross-section; **when k calls (chunks) of the same process are
    concatenated, divide their weights by k** (as in the challenge's own files), or their sum
    is k times the cross-section; :func:`jetad_utils.data.load` does this, so the weights of
    the n events it returns sum to the cross-section. Mixing processes by weight then gives the Standard-Model
    mixture within the generator-level cuts.
``n_jets``, ``n_bjets``, ``n_leptons``, ``n_photons`` (n,) int16
    Counts of all selected objects (before the 20-object truncation; ``n_jets`` includes b-jets,
    ``n_leptons`` counts electrons and muons).

Processes (:data:`BACKGROUNDS`, :data:`SIGNALS`; settings in :data:`PROCESSES`)
-----------------------------------------------------------------------------------
Each process's settings are in :data:`PROCESSES` and its generator-level cuts (pTHat ranges,
decay modes), with the reason for each, in :data:`DESCRIPTIONS`: without such cuts the channel
selections keep only ~0.1-3 % of the generated Standard-Model events. The backgrounds are
disjoint pieces of the Standard Model (tt-bar is split at pTHat = 150 GeV), so weights add up.

Measured here (10 000 events per background, 3 000 per signal, seed 12345, MPI off, one core;
events/s include the object reconstruction, ~20 % of the time; channel columns: fraction of
the generated events passing, and that fraction times sigma in pb):

=============  ======  ==========  ============  ============  ============  ============
process        ev/s    sigma (pb)  ch 1          ch 2a         ch 2b         ch 3
=============  ======  ==========  ============  ============  ============  ============
ttbar          530     369         0.01 % 0.04   0             1.7 % 6.4     0.21 % 0.78
ttbar_boosted  510     139         0.60 % 0.83   0             2.4 % 3.4     3.2 % 4.4
wjets          700     43.7        0.42 % 0.18   0             0.04 % 0.02   3.6 % 1.6
znunu          900     11.3        0.69 % 0.08   0             0             3.5 % 0.40
zll            1090    213         0             0.01 % 0.02   0.03 % 0.06   0
ztautau        260     107         0             0             0.60 % 0.64   0.15 % 0.16
diboson        700     9.9         0             0.77 % 0.08   3.0 % 0.30    0.12 % 0.01
qcd            460     8630        0.03 % 2.6    0             0             0.48 % 41
zp_dm          730     6e-4        2.9 %         0             0             16 %
zp_ttbar       550     0.053       9.7 %         0             1.8 %         40 %
lq_pair        630     0.026       0             0             0.4 %         0.13 %
wp_lnu         1200    0.22        0.3 %         0             0             3.4 %
excited_q      410     26.9        0.7 %         0             0             5.8 %
=============  ======  ==========  ============  ============  ============  ============

Fractions of a few per mille rest on tens of events (e.g. 3 QCD events in channel 1).

Channel samples
---------------
``generate_events(n, seed, process=p, channel=c)`` returns n events that all pass channel c:
it generates in batches, keeps the passing events, adds the generator-level cuts of
:data:`CHANNEL_SETTINGS` (pTHat >= 250 GeV for boosted tt-bar, W and Z + jet in channels 1
and 3; what they lose is measured there), and weights the events so that they sum to the
process's cross-section in the channel, sigma x passed / generated.

Examples
--------
>>> data = generate_events(200, seed=1, process="wp_lnu", mpi=False)
>>> data["objects"].shape, bool((data["obj_id"][:, MET_ROW] == MET).all())
((200, 21, 4), True)
>>> ch3 = select_channel(data, "3")
>>> bool((ch3["met"] >= 100).all() and (ch3["ht"] >= 600).all())
True
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from .pythia_tools import cross_section_pb, final_state, make_pythia, quiet_fastjet

__all__ = [
    "EVENTS_OPTIONS", "BACKGROUNDS", "SIGNALS", "DESCRIPTIONS", "PROCESSES", "CHANNELS",
    "OBJECT_CODES", "OBJECT_NAMES", "N_OBJECTS", "N_ROWS", "MET_ROW", "JET", "BJET", "ELECTRON",
    "POSITRON", "MUON", "ANTIMUON", "PHOTON", "MET", "generate_events", "select_channel",
    "channel_mask", "process_settings", "check_events_options",
]

# --------------------------------------------------------------------------------------------
# object codes (Ostdiek / Dark Machines): j 1, b 2, e- 3, e+ 4, mu- 5, mu+ 6, gamma 7, MET 8
# --------------------------------------------------------------------------------------------
PADDING, JET, BJET, ELECTRON, POSITRON, MUON, ANTIMUON, PHOTON, MET = range(9)

#: name -> code of each object type (0 is padding)
OBJECT_CODES = {"j": JET, "b": BJET, "e-": ELECTRON, "e+": POSITRON, "mu-": MUON,
                "mu+": ANTIMUON, "gamma": PHOTON, "MET": MET}
#: code -> name (0 -> "")
OBJECT_NAMES = {0: "", **{code: name for name, code in OBJECT_CODES.items()}}

#: at most this many objects per event (the challenge's limit) ...
N_OBJECTS = 20
#: ... plus the MET row
N_ROWS = N_OBJECTS + 1
#: index of the MET row
MET_ROW = N_OBJECTS

# object definitions (see the module docstring)
JET_R = 0.4
JET_PT_MIN, JET_ABS_ETA_MAX = 20.0, 2.8
ELECTRON_PT_MIN, ELECTRON_ABS_ETA_MAX = 15.0, 2.47
MUON_PT_MIN, MUON_ABS_ETA_MAX = 15.0, 2.7
PHOTON_PT_MIN, PHOTON_ABS_ETA_MAX = 20.0, 2.37
ISOLATION_DR, ISOLATION_RATIO = 0.3, 0.1
DRESSING_DR = 0.1
BTAG_DR, B_HADRON_PT_MIN = 0.4, 5.0
DETECTOR_ABS_ETA_MAX = 4.9

# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------
_W_TO_LNU = ["24:onMode = off", "24:onIfAny = 11 13 15"]
_Z_PLUS_JET = ["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on"]
_DRELL_YAN = [*_Z_PLUS_JET, "WeakZ0:gmZmode = 0", "23:mMin = 50.", "23:onMode = off",
              "PhaseSpace:pTHatMin = 50."]

#: name -> Pythia settings (added after ``pythia_tools.COMMON_SETTINGS``); the generator-level
#: cuts of each process, and why, are in :data:`DESCRIPTIONS`.
PROCESSES = {
    # ------------------------------------------------------------------ Standard Model
    "ttbar": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "PhaseSpace:pTHatMax = 150."],
    "ttbar_boosted": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "PhaseSpace:pTHatMin = 150."],
    "wjets": ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
              "PhaseSpace:pTHatMin = 200.", *_W_TO_LNU],
    "znunu": [*_Z_PLUS_JET, "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 12 14 16",
              "PhaseSpace:pTHatMin = 200."],
    "zll": [*_DRELL_YAN, "23:onIfAny = 11 13"],
    "ztautau": [*_DRELL_YAN, "23:onIfAny = 15"],
    "diboson": ["WeakDoubleBoson:all = on", "WeakZ0:gmZmode = 2", *_W_TO_LNU,
                "23:onMode = off", "23:onIfAny = 11 12 13 14 15 16"],
    "qcd": ["HardQCD:all = on", "PhaseSpace:pTHatMin = 300."],
    # ------------------------------------------------------------------ signals
    "zp_dm": ["DM:ffbar2Zp2XXj = on", "55:m0 = 1000.", "52:m0 = 100.", "55:onMode = off",
              "55:onIfAny = 52", "PhaseSpace:pTHatMin = 250."],
    "zp_ttbar": ["NewGaugeBoson:ffbar2gmZZprime = on", "Zprime:gmZmode = 3", "32:m0 = 2000.",
                 "32:onMode = off", "32:onIfAny = 6"],
    "lq_pair": ["LeptoQuark:all = on", "42:m0 = 1000."],
    "wp_lnu": ["NewGaugeBoson:ffbar2Wprime = on", "34:m0 = 2000.", "34:onMode = off",
               "34:onIfAny = 11 13"],
    "excited_q": ["ExcitedFermion:dg2dStar = on", "ExcitedFermion:ug2uStar = on",
                  "4000001:m0 = 2000.", "4000002:m0 = 2000.", "ExcitedFermion:Lambda = 2000."],
}

#: Standard-Model processes. They are **disjoint** (tt-bar is split at pTHat = 150 GeV into
#: ``ttbar`` and ``ttbar_boosted``; Drell-Yan into ``zll`` and ``ztautau``), so concatenating
#: all of them with their weights gives the Standard-Model mixture within the generator cuts.
BACKGROUNDS = ("ttbar", "ttbar_boosted", "wjets", "znunu", "zll", "ztautau", "diboson", "qcd")

#: BSM signals: name -> short description with the masses
SIGNALS = {
    "zp_dm": "Z' (1 TeV) -> chi chi (100 GeV) + jet: monojet dark matter, pTHat > 250 GeV",
    "zp_ttbar": "Z' (2 TeV) -> t tbar",
    "lq_pair": "leptoquark pair (1 TeV), each LQ -> u e",
    "wp_lnu": "W' (2 TeV) -> e nu / mu nu",
    "excited_q": "excited quarks u*, d* (2 TeV, Lambda = 2 TeV) from q g fusion",
}

#: every process: name -> what it is and its generator-level cuts (and why)
DESCRIPTIONS = {
    "ttbar": "t tbar, all decays, pTHat < 150 GeV: the bulk (73 %) of LO t tbar and most of its "
             "channel-2b events; ttbar_boosted holds the rest (use both)",
    "ttbar_boosted": "t tbar, all decays, pTHat >= 150 GeV: 27 % of the t tbar cross-section but "
                     "~85 % of its channel-3 and ~96 % of its channel-1 events",
    "wjets": "W + jet (qqbar -> W g, q g -> W q), W -> e/mu/tau nu, pTHat > 200 GeV: channels 1 "
             "and 3 need HT >= 600; 98 % of the W events passing them have pTHat > 220",
    "znunu": "Z + jet, Z -> nu nu (pure Z), pTHat > 200 GeV (as wjets: 98 % of its channel-1/3 "
             "events have pTHat > 200)",
    "zll": "Z/gamma* + jet, Z/gamma* -> ee / mumu, m > 50 GeV, pTHat > 50 GeV: no neutrinos, "
           "so at particle level it hardly enters any channel (kept for completeness)",
    "ztautau": "Z/gamma* + jet, Z/gamma* -> tau tau, m > 50 GeV, pTHat > 50 GeV: channel 2b "
               "(two leptons from tau decays, MET from the neutrinos)",
    "diboson": "WW, WZ, ZZ (f fbar -> VV, pure Z), W -> e/mu/tau nu, Z -> ll or nu nu only: "
               "the modes with leptons that feed channels 2a and 2b",
    "qcd": "QCD 2 -> 2 (HardQCD:all), pTHat > 300 GeV: multijets with HT >= 600 (the 250-300 "
           "GeV range adds nothing measurable to the channels). Their MET at particle level "
           "comes only from neutrinos of heavy-flavour decays: ~0.5 % pass channel 3 and "
           "~0.03 % channel 1, each with a large weight, so a few QCD events carry most of "
           "those channels' weighted Standard Model (statistically limited)",
    **SIGNALS,
}

#: the options :func:`generate_events` takes: option -> (default, allowed values or type)
EVENTS_OPTIONS = {
    "process": ("ttbar", (*BACKGROUNDS, *SIGNALS)),
    "mpi": (False, bool),
    "channel": ("all", ("all", "1", "2a", "2b", "3")),
}

#: the Dark Machines channels (Ostdiek, SciPost Phys. 12, 045): name -> description
CHANNELS = {
    "1": "HT >= 600, MET >= 200, MET/HT >= 0.2, >= 4 jets (incl. b) with pT >= 50, one >= 200",
    "2a": ">= 3 leptons (e, mu) with pT >= 15, MET >= 50",
    "2b": ">= 2 leptons (e, mu) with pT >= 15, MET >= 50, HT >= 50",
    "3": "HT >= 600, MET >= 100",
}

#: events per nextBatch call (~190 kB per event as awkward arrays)
_BATCH = 250

#: extra Pythia settings for a (process, channel) generated with ``channel=...``, appended after
#: the process's own (a later ``PhaseSpace:pTHatMin`` overrides the earlier one). They make
#: the channel cheaper to fill and lose a measured part of its cross-section (12 000 events
#: per process at the default settings, seed 12345): in channels 1 and 3 (both need
#: HT >= 600 GeV) pTHat >= 250 GeV keeps 74 % (tt-bar boosted), 94 % (W + jet) and 96 %
#: (Z -> nu nu + jet) of channel 3 and 78 %, 100 %, 96 % of channel 1, and raises the fraction
#: of generated events that pass channel 3 from 3.3 % to 10.6 %, 3.6 % to 8.1 % and 3.5 % to
#: 8.0 %. The losses are events whose HT comes from initial-state radiation.
#: In channel 2b (two leptons), tt-bar is generated with both W -> e/mu/tau nu: Pythia's sigma
#: includes the branching ratio (368 pb -> 38.3 pb, x 0.104), and the fraction passing 2b rises
#: from 1.8 % to 19 % while sigma x efficiency stays the same within the 8 % statistical
#: precision of the measurement (6.5 pb plain, 7.4 pb forced; 3000-8000 events): the lepton
#: pairs of 2b come from the two W decays.
CHANNEL_SETTINGS = {
    **{(proc, ch): ["PhaseSpace:pTHatMin = 250."]
       for proc in ("ttbar_boosted", "wjets", "znunu") for ch in ("1", "3")},
    **{(proc, "2b"): ["24:onMode = off", "24:onIfAny = 11 13 15"]
       for proc in ("ttbar", "ttbar_boosted")},
}

#: a channel sample stops with an error when it would need more generated events than this
#: (per call) or when none of the first _MIN_TRIAL pass
_MAX_GENERATED = 3_000_000
_MIN_TRIAL = 20_000


def process_settings(process: str, channel: str = "all") -> list[str]:
    """The Pythia settings of ``process`` (a copy), after :data:`pythia_tools.COMMON_SETTINGS`,
    followed by the generator-level cuts of :data:`CHANNEL_SETTINGS` for ``channel``.

    >>> process_settings("wp_lnu")[:2]
    ['NewGaugeBoson:ffbar2Wprime = on', '34:m0 = 2000.']
    >>> process_settings("wjets", channel="3")[-1]
    'PhaseSpace:pTHatMin = 250.'

    Raises
    ------
    ValueError
        For an unknown process (the message lists the known ones).
    """
    if process not in PROCESSES:
        raise ValueError(f"unknown process {process!r}; known: {', '.join(PROCESSES)}")
    channel = str(channel)
    if channel != "all" and channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; valid: all, {', '.join(CHANNELS)}")
    return [*PROCESSES[process], *CHANNEL_SETTINGS.get((process, channel), [])]


# --------------------------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------------------------
def check_events_options(*, process: str = "ttbar", mpi: bool = False, channel: str = "all") -> None:
    """Raise ValueError for options :func:`generate_events` cannot use (checked before any work)."""
    process_settings(process, str(channel))
    if not isinstance(mpi, (bool, np.bool_)):
        raise ValueError(f"mpi must be a bool, got {mpi!r}")


def generate_events(n: int, seed: int, *, process: str = "ttbar", mpi: bool = False,
                    channel: str = "all") -> dict:
    """``n`` Dark-Machines-like events of one process, as fixed-size object tables.

    Parameters
    ----------
    n : int
        Number of events returned (exactly; Pythia's own generator-level cuts are already in).
    seed : int
        Pythia seed, 1 ... 900 000 000. The same (n, seed, process, mpi, channel) gives
        bit-identical arrays.
    process : str
        One of :data:`BACKGROUNDS` or :data:`SIGNALS`.
    mpi : bool
        Multi-parton interactions (off by default, as in the LHC Olympics R&D set; on, the
        generation is ~4x slower: 120-140 events/s).
    channel : {"all", "1", "2a", "2b", "3"}
        ``"all"``: every generated event. A channel: the generator-level cuts of
        :data:`CHANNEL_SETTINGS` are added, events are generated in batches of 250 until ``n``
        of them pass :func:`select_channel`, and the first ``n`` passing events are returned
        (the objects of the first m < n events do not depend on n). Their weights sum to the
        process's cross-section *in the channel*: sigma x (passed / generated) over all
        generated events. Raises ``RuntimeError`` when the channel is out of reach (none of
        the first 20 000 events pass, or it would take more than 3 million events).

    Returns
    -------
    dict of numpy.ndarray
        ``objects`` (n, 21, 4) float32 (E, pT, eta, phi; row 20 = MET), ``obj_id`` (n, 21)
        int8, ``mask`` (n, 21) bool, ``met`` (n,) and ``ht`` (n,) float32 (GeV), ``weight`` (n,)
        float64 (pb per event; sums to the cross-section, in the channel if one is given),
        ``n_jets``, ``n_bjets``, ``n_leptons``, ``n_photons`` (n,) int16. See the module
        docstring.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    check_events_options(process=process, mpi=mpi, channel=channel)
    channel = str(channel)
    settings = process_settings(process, channel)
    quiet_fastjet()
    pythia = make_pythia([*settings, "Print:errors = off"], seed, mpi=bool(mpi))
    parts = []
    done = generated = 0
    while done < n:
        k = min(_BATCH, n - done) if channel == "all" else _BATCH
        # "skip" regenerates failed events; the factor stops a process that always fails
        batch = pythia.nextBatch(k, 1.0 + 100.0 / k)
        part = _reconstruct(batch, pythia)
        generated += len(batch)
        if channel != "all":
            keep = channel_mask(part, channel)
            part = {key: value[keep] for key, value in part.items()}
            if generated >= _MIN_TRIAL and (done + len(part["met"])) * _MAX_GENERATED < n * generated:
                raise RuntimeError(
                    f"{process} events pass channel {channel} too rarely: "
                    f"{done + len(part['met'])} of {generated} generated; {n} passing events would "
                    f"need more than {_MAX_GENERATED:,} generated. Ask for fewer events, or use "
                    "another process for this channel")
        parts.append(part)
        done += len(part["met"])
    data = {key: np.concatenate([p[key] for p in parts])[:n] for key in parts[0]}
    sigma = cross_section_pb(pythia) * (done / generated)
    data["weight"] = np.full(n, sigma / n, dtype=np.float64)
    return data


def _eta_phi_pt(px, py, pz):
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(pz / np.where(pt > 0, pt, 1.0)), np.sign(pz) * 1e3)
    return pt, eta, np.arctan2(py, px)


def _delta_r2(eta1, phi1, eta2, phi2):
    dphi = np.mod(phi1 - phi2 + np.pi, 2 * np.pi) - np.pi
    return (eta1 - eta2) ** 2 + dphi ** 2


def _pairs(event_of_a, starts_b, counts_b):
    """Index pairs (a, b) of every item a with every item b of the same event (flat arrays).

    ``event_of_a``: event index of each a; ``starts_b`` / ``counts_b``: per event, where the
    event's b items start in the flat b array and how many there are.
    """
    lengths = counts_b[event_of_a]
    total = int(lengths.sum())
    ia = np.repeat(np.arange(len(event_of_a)), lengths)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    ib = np.repeat(starts_b[event_of_a], lengths) + (np.arange(total) - first)
    return ia, ib


def _flat(jagged) -> np.ndarray:
    """A jagged awkward array's values as one flat float64 numpy array."""
    return ak.to_numpy(ak.flatten(jagged)).astype(np.float64)


def _is_b_hadron(pdg_id):
    """True for hadrons containing a b quark (B mesons 5xx, b baryons 5xxx, incl. excited)."""
    aid = np.abs(pdg_id)
    base = aid % 10000
    nq1, nq2, nq3 = (base // 1000) % 10, (base // 100) % 10, (base // 10) % 10
    hadron = (aid < 1_000_000) & (nq2 > 0) & (nq3 > 0)
    return hadron & ((nq1 == 5) | ((nq1 == 0) & (nq2 == 5)))


def _reconstruct(batch, pythia) -> dict:
    """Object tables for one ``nextBatch`` result (everything but the weight)."""
    quiet_fastjet()
    n = len(batch)
    # ---- visible final state, flat, with the event index of each particle
    fs = final_state(batch, pythia, visible_only=True)
    counts = ak.to_numpy(ak.num(fs)).astype(np.int64)
    starts = np.cumsum(counts) - counts
    evt = np.repeat(np.arange(n), counts)
    px, py, pz, e = (_flat(fs[f]) for f in ("px", "py", "pz", "E"))
    pid = ak.to_numpy(ak.flatten(fs.id)).astype(np.int64)
    pt, eta, phi = _eta_phi_pt(px, py, pz)
    aid = np.abs(pid)
    in_detector = np.abs(eta) < DETECTOR_ABS_ETA_MAX

    # ---- MET
    mex = -np.bincount(evt, weights=np.where(in_detector, px, 0.0), minlength=n)
    mey = -np.bincount(evt, weights=np.where(in_detector, py, 0.0), minlength=n)
    met, met_phi = np.hypot(mex, mey), np.arctan2(mey, mex)

    # ---- dressed leptons: each photon within dR < 0.1 of an e or mu joins the nearest one
    bare = np.flatnonzero(((aid == 11) | (aid == 13)) & (pt > 1.0))
    photons = np.flatnonzero(aid == 22)
    lep_n = np.bincount(evt[bare], minlength=n)
    pa, pb = _pairs(evt[photons], np.cumsum(lep_n) - lep_n, lep_n)  # pb indexes `bare`
    dr2 = _delta_r2(eta[photons[pa]], phi[photons[pa]], eta[bare[pb]], phi[bare[pb]])
    close = dr2 < DRESSING_DR ** 2
    pa, pb, dr2 = pa[close], pb[close], dr2[close]
    nearest = np.lexsort((dr2, pa))
    pa, pb = pa[nearest], pb[nearest]
    first = np.r_[True, pa[1:] != pa[:-1]] if len(pa) else np.zeros(0, dtype=bool)
    pa, pb = pa[first], pb[first]
    owner = np.full(len(pid), -1, dtype=np.int64)  # the lepton a photon was added to
    owner[photons[pa]] = bare[pb]
    dpx, dpy, dpz, de = px.copy(), py.copy(), pz.copy(), e.copy()
    for dressed, plain in ((dpx, px), (dpy, py), (dpz, pz), (de, e)):
        dressed[bare] += np.bincount(pb, weights=plain[photons[pa]], minlength=len(bare))
    dpt, deta, dphi = pt.copy(), eta.copy(), phi.copy()
    dpt[bare], deta[bare], dphi[bare] = _eta_phi_pt(dpx[bare], dpy[bare], dpz[bare])

    # ---- isolated electrons, muons (dressed) and photons (not used in dressing)
    cand = (((aid == 11) & (dpt > ELECTRON_PT_MIN) & (np.abs(deta) < ELECTRON_ABS_ETA_MAX))
            | ((aid == 13) & (dpt > MUON_PT_MIN) & (np.abs(deta) < MUON_ABS_ETA_MAX))
            | ((aid == 22) & (owner < 0) & (pt > PHOTON_PT_MIN)
               & (np.abs(eta) < PHOTON_ABS_ETA_MAX)))
    ic = np.flatnonzero(cand)
    ia, ib = _pairs(evt[ic], starts, counts)
    near = _delta_r2(deta[ic][ia], dphi[ic][ia], eta[ib], phi[ib]) < ISOLATION_DR ** 2
    near &= (ib != ic[ia]) & (owner[ib] != ic[ia])  # the candidate itself and its photons
    iso_sum = np.bincount(ia, weights=np.where(near, pt[ib], 0.0), minlength=len(ic))
    selected = ic[iso_sum < ISOLATION_RATIO * dpt[ic]]

    # ---- jets from the rest of the visible final state
    jet_input = in_detector.copy()
    jet_input[selected] = False
    jet_input[np.isin(owner, selected)] = False  # photons inside the selected leptons
    jcounts = np.bincount(evt[jet_input], minlength=n)
    particles = ak.unflatten(ak.zip({"px": px[jet_input], "py": py[jet_input],
                                     "pz": pz[jet_input], "E": e[jet_input]}), jcounts)
    import fastjet

    jets = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)
                                   ).inclusive_jets(min_pt=JET_PT_MIN)
    jet_n = ak.to_numpy(ak.num(jets)).astype(np.int64)
    jevt = np.repeat(np.arange(n), jet_n)
    jpx, jpy, jpz, je = (_flat(jets[f]) for f in ("px", "py", "pz", "E"))
    jpt, jeta, jphi = _eta_phi_pt(jpx, jpy, jpz)
    keep = (jpt > JET_PT_MIN) & (np.abs(jeta) < JET_ABS_ETA_MAX)
    jevt, jpt, jeta, jphi, je = jevt[keep], jpt[keep], jeta[keep], jphi[keep], je[keep]

    # ---- b-tagging: last-copy B hadrons (any status) with pT > 5 GeV within dR < 0.4
    prt = batch.prt
    all_n = ak.to_numpy(ak.num(prt)).astype(np.int64)
    all_start = np.cumsum(all_n) - all_n
    all_id = ak.to_numpy(ak.flatten(prt.id)).astype(np.int64)
    is_b = _is_b_hadron(all_id)
    mother = ak.to_numpy(ak.flatten(prt.mother1)).astype(np.int64)
    all_evt = np.repeat(np.arange(n), all_n)
    child = np.flatnonzero(is_b)
    mother_flat = all_start[all_evt[child]] + mother[child]
    has_b_child = np.zeros(len(all_id), dtype=bool)
    has_b_child[mother_flat[is_b[mother_flat]]] = True
    ib_all = np.flatnonzero(is_b & ~has_b_child)
    bpx = ak.to_numpy(ak.flatten(prt.p.px))[ib_all]
    bpy = ak.to_numpy(ak.flatten(prt.p.py))[ib_all]
    bpz = ak.to_numpy(ak.flatten(prt.p.pz))[ib_all]
    bpt, beta, bphi = _eta_phi_pt(bpx, bpy, bpz)
    hard = bpt > B_HADRON_PT_MIN
    bevt, beta, bphi = all_evt[ib_all][hard], beta[hard], bphi[hard]
    b_n = np.bincount(bevt, minlength=n)
    b_start = np.cumsum(b_n) - b_n  # bevt is sorted (event order is kept)
    ja, jb = _pairs(jevt, b_start, b_n)
    matched = _delta_r2(jeta[ja], jphi[ja], beta[jb], bphi[jb]) < BTAG_DR ** 2
    btag = np.bincount(ja[matched], minlength=len(jevt)) > 0

    # ---- one flat object table: event, code, group (type order), E, pT, eta, phi
    lep = selected
    lcode = np.select([pid[lep] == 11, pid[lep] == -11, pid[lep] == 13, pid[lep] == -13],
                      [ELECTRON, POSITRON, MUON, ANTIMUON], PHOTON)
    o_evt = np.concatenate([jevt, evt[lep]])
    o_code = np.concatenate([np.where(btag, BJET, JET), lcode])
    o_e = np.concatenate([je, de[lep]])
    o_pt = np.concatenate([jpt, dpt[lep]])
    o_eta = np.concatenate([jeta, deta[lep]])
    o_phi = np.concatenate([jphi, dphi[lep]])
    counts_by = {code: np.bincount(o_evt[o_code == code], minlength=n) for code in range(1, 8)}
    objects, obj_id = _object_rows(n, o_evt, o_code, np.stack([o_e, o_pt, o_eta, o_phi], axis=1),
                                   met, met_phi)

    ht = np.bincount(jevt, weights=jpt, minlength=n)
    return {
        "objects": objects,
        "obj_id": obj_id,
        "mask": obj_id != PADDING,
        "met": met.astype(np.float32),
        "ht": ht.astype(np.float32),
        "n_jets": (counts_by[JET] + counts_by[BJET]).astype(np.int16),
        "n_bjets": counts_by[BJET].astype(np.int16),
        "n_leptons": sum(counts_by[c] for c in (ELECTRON, POSITRON, MUON, ANTIMUON)
                         ).astype(np.int16),
        "n_photons": counts_by[PHOTON].astype(np.int16),
    }


def _object_rows(n, evt, code, p4, met, met_phi):
    """Fixed-size object table from a flat list of objects.

    ``evt`` (m,) event index, ``code`` (m,) object code, ``p4`` (m, 4) (E, pT, eta, phi);
    ``met``, ``met_phi`` (n,). Each event keeps its :data:`N_OBJECTS` highest-pT objects,
    ordered by type (jets, electrons, muons, photons), then by decreasing pT; row
    :data:`MET_ROW` holds (MET, MET, 0, phi_MET). Returns ``objects`` (n, 21, 4) float32 and
    ``obj_id`` (n, 21) int8.
    """
    evt, code = np.asarray(evt, dtype=np.int64), np.asarray(code, dtype=np.int64)
    p4 = np.asarray(p4, dtype=np.float64).reshape(-1, 4)
    pt = p4[:, 1]
    group = np.choose(code, [9, 0, 0, 1, 1, 2, 2, 3, 9])  # jets, electrons, muons, photons
    per_event = np.bincount(evt, minlength=n)
    # keep the 20 highest-pT objects of each event ...
    order = np.lexsort((-pt, evt))
    rank = np.arange(len(order)) - np.repeat(np.cumsum(per_event) - per_event, per_event)
    kept = order[rank < N_OBJECTS]
    # ... then order them by type, then by decreasing pT
    kept = kept[np.lexsort((-pt[kept], group[kept], evt[kept]))]
    k_evt = evt[kept]
    k_n = np.bincount(k_evt, minlength=n)
    row = np.arange(len(kept)) - np.repeat(np.cumsum(k_n) - k_n, k_n)
    objects = np.zeros((n, N_ROWS, 4), dtype=np.float32)
    obj_id = np.zeros((n, N_ROWS), dtype=np.int8)
    objects[k_evt, row] = p4[kept]
    obj_id[k_evt, row] = code[kept]
    objects[:, MET_ROW] = np.stack([met, met, np.zeros(n), met_phi], axis=1)
    obj_id[:, MET_ROW] = MET
    return objects, obj_id


# --------------------------------------------------------------------------------------------
# channels
# --------------------------------------------------------------------------------------------
_CHANNEL_KEYS = ("objects", "obj_id", "met", "ht")


def channel_mask(data: dict, channel: str) -> np.ndarray:
    """Boolean (n,) mask of the events of ``data`` in a Dark Machines channel (see
    :func:`select_channel`)."""
    channel = str(channel)
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; valid channels: {', '.join(CHANNELS)}")
    for key in _CHANNEL_KEYS:
        if key not in data:
            raise ValueError(f"select_channel needs the key {key!r}, missing from the data "
                             f"(present: {', '.join(map(str, data))})")
    objects = np.asarray(data["objects"])
    obj_id = np.asarray(data["obj_id"])
    met = np.asarray(data["met"], dtype=np.float64)
    ht = np.asarray(data["ht"], dtype=np.float64)
    pt = objects[..., 1].astype(np.float64)
    is_jet = (obj_id == JET) | (obj_id == BJET)
    is_lepton = (obj_id >= ELECTRON) & (obj_id <= ANTIMUON)
    n_leptons = np.sum(is_lepton & (pt >= 15.0), axis=1)
    if channel == "1":
        n_jets50 = np.sum(is_jet & (pt >= 50.0), axis=1)
        has_jet200 = np.any(is_jet & (pt >= 200.0), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_ok = met >= 0.2 * ht
        return (ht >= 600.0) & (met >= 200.0) & ratio_ok & (n_jets50 >= 4) & has_jet200
    if channel == "2a":
        return (n_leptons >= 3) & (met >= 50.0)
    if channel == "2b":
        return (n_leptons >= 2) & (met >= 50.0) & (ht >= 50.0)
    return (ht >= 600.0) & (met >= 100.0)  # "3"


def select_channel(data: dict, channel: str) -> dict:
    """The events of ``data`` in a Dark Machines channel (Aarrestad et al., arXiv 2105.14027).

    ========  ====================================================================================
    ``"1"``   HT >= 600 GeV, MET >= 200 GeV, MET/HT >= 0.2, >= 4 jets (light or b) with
              pT >= 50 GeV, at least one with pT >= 200 GeV
    ``"2a"``  >= 3 leptons (e, mu) with pT >= 15 GeV, MET >= 50 GeV
    ``"2b"``  >= 2 leptons (e, mu) with pT >= 15 GeV, MET >= 50 GeV, HT >= 50 GeV
    ``"3"``   HT >= 600 GeV, MET >= 100 GeV
    ========  ====================================================================================

    Jets and leptons are counted from ``objects`` / ``obj_id``; MET and HT are the ``met`` and
    ``ht`` entries (HT: scalar sum of the jet pT, see the module docstring).

    Parameters
    ----------
    data : dict
        At least ``objects`` (n, rows, 4) with pT in column 1, ``obj_id`` (n, rows), ``met``
        (n,), ``ht`` (n,); every other array whose first axis has length n is selected too.
    channel : {"1", "2a", "2b", "3"}

    Returns
    -------
    dict
        The same keys, with the rows of the passing events; non-array values are passed on.

    Raises
    ------
    ValueError
        For an unknown channel (listing the valid ones) or a missing key (naming it).
    """
    keep = channel_mask(data, channel)
    n = len(keep)
    out = {}
    for key, value in data.items():
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n:
            out[key] = value[keep]
        else:
            out[key] = value
    return out
