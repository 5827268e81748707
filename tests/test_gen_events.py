"""Tests of jetad_utils.gen_events: Dark-Machines-like object lists and the channel cuts.

Generation tests use small samples with fixed seeds (module-scoped fixtures, a few seconds in
all); the channel cuts are tested on hand-built events placed just inside and just outside
every cut.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetad_utils import gen_events as ge
from jetad_utils.gen_events import (
    ANTIMUON,
    BJET,
    CHANNELS,
    ELECTRON,
    EVENTS_OPTIONS,
    JET,
    MET,
    MET_ROW,
    MUON,
    N_ROWS,
    PHOTON,
    POSITRON,
    generate_events,
    select_channel,
)

pytestmark = pytest.mark.integration   # real Pythia runs, processes, servers or mounts: not in make test-unit

N_TTBAR = 300  # more than one internal batch of 250 events
N_SIGNAL = 200

KEYS = {"objects": ((N_ROWS, 4), np.float32), "obj_id": ((N_ROWS,), np.int8),
        "mask": ((N_ROWS,), np.bool_), "met": ((), np.float32), "ht": ((), np.float32),
        "weight": ((), np.float64), "n_jets": ((), np.int16), "n_bjets": ((), np.int16),
        "n_leptons": ((), np.int16), "n_photons": ((), np.int16)}


@pytest.fixture(scope="module")
def ttbar():
    return generate_events(N_TTBAR, seed=1, process="ttbar", mpi=False)


@pytest.fixture(scope="module")
def signals():
    return {p: generate_events(N_SIGNAL, seed=2, process=p, mpi=False)
            for p in ("zp_dm", "wp_lnu", "lq_pair")}


def _lepton_pt(data):
    lep = (data["obj_id"] >= ELECTRON) & (data["obj_id"] <= ANTIMUON)
    return np.where(lep, data["objects"][..., 1], 0.0)


# ------------------------------------------------------------------------------- contract
def test_options_and_process_lists():
    default, allowed = EVENTS_OPTIONS["process"]
    assert default == "ttbar" and default in allowed
    assert set(allowed) == set(ge.BACKGROUNDS) | set(ge.SIGNALS) == set(ge.PROCESSES)
    assert EVENTS_OPTIONS["mpi"] == (False, bool)
    assert len(ge.SIGNALS) >= 4 and not set(ge.SIGNALS) & set(ge.BACKGROUNDS)
    assert set(ge.DESCRIPTIONS) == set(ge.PROCESSES)
    # the two tt-bar slices meet at the same pTHat: disjoint and together inclusive
    assert "PhaseSpace:pTHatMax = 150." in ge.PROCESSES["ttbar"]
    assert "PhaseSpace:pTHatMin = 150." in ge.PROCESSES["ttbar_boosted"]
    assert ge.OBJECT_CODES == {"j": 1, "b": 2, "e-": 3, "e+": 4, "mu-": 5, "mu+": 6,
                               "gamma": 7, "MET": 8}
    assert ge.OBJECT_NAMES[0] == "" and ge.OBJECT_NAMES[8] == "MET"


def test_unknown_process_and_bad_n():
    with pytest.raises(ValueError, match="known: ttbar"):
        generate_events(10, seed=1, process="nope", mpi=False)
    with pytest.raises(ValueError, match="n must be"):
        generate_events(0, seed=1, process="ttbar", mpi=False)


def test_keys_shapes_dtypes(ttbar):
    assert set(ttbar) == set(KEYS)
    for key, (shape, dtype) in KEYS.items():
        assert ttbar[key].shape == (N_TTBAR, *shape), key
        assert ttbar[key].dtype == dtype, key
    assert np.all(np.isfinite(ttbar["objects"]))
    assert set(np.unique(ttbar["obj_id"])) <= set(range(9))


def test_met_row(ttbar):
    obj, ids = ttbar["objects"], ttbar["obj_id"]
    assert np.all(ids[:, MET_ROW] == MET) and np.all(ids[:, :MET_ROW] != MET)
    np.testing.assert_array_equal(obj[:, MET_ROW, 1], ttbar["met"])
    np.testing.assert_array_equal(obj[:, MET_ROW, 0], ttbar["met"])  # E placeholder = MET
    assert np.all(obj[:, MET_ROW, 2] == 0)
    assert np.all(np.abs(obj[:, MET_ROW, 3]) <= np.pi)
    assert np.all(ttbar["met"] >= 0)


def test_mask_matches_padding(ttbar):
    obj, ids, mask = ttbar["objects"], ttbar["obj_id"], ttbar["mask"]
    np.testing.assert_array_equal(mask, ids != 0)
    assert np.all(obj[~mask] == 0)
    assert np.all(obj[mask][:, 1] > 0)
    # real objects first, then padding, then the MET row: no holes
    real = mask[:, :MET_ROW]
    n_real = real.sum(axis=1)
    np.testing.assert_array_equal(real, np.arange(MET_ROW)[None, :] < n_real[:, None])


def test_object_definitions(ttbar):
    obj, ids = ttbar["objects"], ttbar["obj_id"]
    e, pt, eta, phi = (obj[..., i] for i in range(4))
    jets = (ids == JET) | (ids == BJET)
    leptons = (ids >= ELECTRON) & (ids <= ANTIMUON)
    assert np.all(pt[jets] > 20) and np.all(np.abs(eta[jets]) < 2.8)
    assert np.all(pt[leptons] > 15) and np.all(np.abs(eta[leptons]) < 2.7)
    electrons = (ids == ELECTRON) | (ids == POSITRON)
    assert np.all(np.abs(eta[electrons]) < 2.47)
    assert np.all(pt[ids == PHOTON] > 20) and np.all(np.abs(eta[ids == PHOTON]) < 2.37)
    real = ids[:, :MET_ROW] > 0
    assert np.all(e[:, :MET_ROW][real] >= 0.999 * pt[:, :MET_ROW][real])
    assert np.all(np.abs(phi) <= np.pi + 1e-6)
    # counts agree with the rows (no event has more than 20 objects here)
    assert np.all(real.sum(axis=1) < 20)
    np.testing.assert_array_equal(jets.sum(axis=1), ttbar["n_jets"])
    np.testing.assert_array_equal((ids == BJET).sum(axis=1), ttbar["n_bjets"])
    np.testing.assert_array_equal(leptons.sum(axis=1), ttbar["n_leptons"])
    np.testing.assert_array_equal((ids == PHOTON).sum(axis=1), ttbar["n_photons"])
    # HT = scalar sum of the jet pT
    np.testing.assert_allclose(np.where(jets, pt, 0).sum(axis=1), ttbar["ht"], rtol=1e-5, atol=1e-3)


def test_objects_ordered_by_type_then_pt(ttbar):
    group = np.array([99, 0, 0, 1, 1, 2, 2, 3, 99])
    for ids, obj in zip(ttbar["obj_id"], ttbar["objects"]):
        real = ids[:MET_ROW] > 0
        g, pt = group[ids[:MET_ROW][real]], obj[:MET_ROW, 1][real]
        assert np.all(np.diff(g) >= 0)
        same = np.diff(g) == 0
        assert np.all(np.diff(pt)[same] <= 0)


def test_same_seed_identical_different_seed_differs(ttbar):
    again = generate_events(N_TTBAR, seed=1, process="ttbar", mpi=False)
    for key in ttbar:
        assert again[key].tobytes() == ttbar[key].tobytes(), key
    other = generate_events(N_TTBAR, seed=2, process="ttbar", mpi=False)
    assert not np.array_equal(other["objects"], ttbar["objects"])
    assert not np.array_equal(other["met"], ttbar["met"])


def test_mpi_option_changes_the_events():
    off = generate_events(20, seed=4, process="wp_lnu", mpi=False)
    on = generate_events(20, seed=4, process="wp_lnu", mpi=True)
    assert on["objects"].shape == off["objects"].shape == (20, N_ROWS, 4)
    assert not np.array_equal(on["objects"], off["objects"])
    # the underlying event adds soft jets and a little HT, not a new hard process
    assert np.mean(on["n_jets"]) >= np.mean(off["n_jets"])
    with pytest.raises(ValueError, match="mpi"):
        generate_events(5, seed=4, process="wp_lnu", mpi="yes")


def test_no_output_in_a_fresh_process():
    """Chunks run in worker processes: no banner, no progress, no warnings."""
    import subprocess
    import sys

    code = ("from jetad_utils.gen_events import generate_events; "
            "generate_events(30, seed=6, process='ztautau', mpi=False)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "" and run.stderr == ""


def test_exactly_n_events():
    one = generate_events(1, seed=3, process="diboson", mpi=False)
    assert {v.shape[0] for v in one.values()} == {1}


# ------------------------------------------------------------------------------- weights
def test_weights_sum_to_pythia_cross_section(ttbar):
    from jetad_utils.pythia_tools import cross_section_pb, make_pythia

    w = ttbar["weight"]
    assert np.all(w > 0) and np.all(w == w[0])
    pythia = make_pythia(ge.process_settings("ttbar"), 1, mpi=False)
    pythia.nextBatch(N_TTBAR)  # same seed, same events: same sigmaGen
    assert w.sum() == pytest.approx(cross_section_pb(pythia), rel=1e-9)
    # the soft tt-bar slice is ~370 of the ~510 pb of LO tt-bar
    assert 250 < w.sum() < 500


# ------------------------------------------------------------------------------- physics
def test_ttbar_has_b_jets(ttbar, signals):
    frac = np.mean(ttbar["n_bjets"] >= 1)
    assert frac > 0.8, frac
    # two b quarks: both tagged in most events (0.68 here; 0.36 if the match cone were 0.04)
    assert np.mean(ttbar["n_bjets"] >= 2) > 0.6, np.mean(ttbar["n_bjets"] >= 2)
    assert np.median(ttbar["n_jets"]) >= 4
    # and hardly any b-jets where the hard process has no b quark (W' -> l nu: ~2 %)
    assert np.mean(signals["wp_lnu"]["n_bjets"] >= 1) < 0.1


def test_dm_monojet_large_met(signals):
    d = signals["zp_dm"]
    assert np.median(d["met"]) > 300, np.median(d["met"])
    assert np.median(d["n_leptons"]) == 0
    assert 0 < d["weight"].sum() < 0.05  # fb-level LO cross-section (pb)


def test_wprime_hard_lepton_and_met(signals):
    d = signals["wp_lnu"]
    lead = _lepton_pt(d).max(axis=1)
    assert np.mean(lead > 200) > 0.85, np.mean(lead > 200)
    assert np.median(lead) > 500
    assert np.median(d["met"]) > 400, np.median(d["met"])
    # the neutrino recoils against the lepton: MET points away from it
    lead_row = _lepton_pt(d).argmax(axis=1)
    phi_lep = d["objects"][np.arange(len(lead_row)), lead_row, 3]
    dphi = np.abs(np.mod(phi_lep - d["objects"][:, MET_ROW, 3] + np.pi, 2 * np.pi) - np.pi)
    assert np.median(dphi[lead > 200]) > 2.8, np.median(dphi[lead > 200])


def test_leptoquark_events_have_electrons(signals):
    d = signals["lq_pair"]
    has_e = np.any((d["obj_id"] == ELECTRON) | (d["obj_id"] == POSITRON), axis=1)
    assert np.mean(has_e) >= 0.9, np.mean(has_e)
    assert np.median(d["ht"]) > 500


def test_object_rows_keep_20_hardest_then_order_by_type():
    # event 0: 22 jets (pT 1..22) and a soft electron (0.5): the 20 hardest jets survive;
    # event 1: 22 jets and a 100 GeV muon and photon: 18 jets, then the muon, then the photon;
    # event 2: nothing but MET
    evt = np.r_[np.zeros(23), np.ones(24)].astype(int)
    code = np.r_[[JET] * 22, ELECTRON, [BJET, JET] * 11, MUON, PHOTON]
    pt = np.r_[np.arange(1.0, 23.0), 0.5, np.arange(1.0, 23.0), 100.0, 100.0]
    p4 = np.stack([2 * pt, pt, np.zeros_like(pt), np.zeros_like(pt)], axis=1)
    objects, obj_id = ge._object_rows(3, evt, code, p4, np.array([1.0, 2.0, 3.0]), np.zeros(3))
    assert objects.shape == (3, N_ROWS, 4) and obj_id.dtype == np.int8
    np.testing.assert_array_equal(objects[0, :20, 1], np.arange(22.0, 2.0, -1))
    assert set(obj_id[0, :20]) == {JET}
    np.testing.assert_array_equal(objects[1, :18, 1], np.arange(22.0, 4.0, -1))
    assert list(obj_id[1, 18:20]) == [MUON, PHOTON]
    assert np.all(obj_id[2, :MET_ROW] == 0) and np.all(objects[2, :MET_ROW] == 0)
    np.testing.assert_array_equal(obj_id[:, MET_ROW], MET)
    np.testing.assert_array_equal(objects[:, MET_ROW, 1], [1.0, 2.0, 3.0])


def test_b_hadron_classification():
    ids = np.array([511, -521, 531, 5122, -5232, 553, 10511, 513,  # B hadrons (and Upsilon)
                    5, -5, 5101, 5203, 411, 4122, 211, 22, 1000022, 4000001, 9000005])
    expected = np.array([True] * 8 + [False] * 11)
    np.testing.assert_array_equal(ge._is_b_hadron(ids), expected)


# ------------------------------------------------------------------------------- channels
def _events(rows):
    """Hand-built events: each row is (objects as [(code, pT), ...], met, ht)."""
    n = len(rows)
    objects = np.zeros((n, N_ROWS, 4), dtype=np.float32)
    obj_id = np.zeros((n, N_ROWS), dtype=np.int8)
    for i, (objs, met, _) in enumerate(rows):
        for j, (code, pt) in enumerate(objs):
            objects[i, j] = (pt, pt, 0.0, 0.0)
            obj_id[i, j] = code
        objects[i, MET_ROW] = (met, met, 0.0, 0.0)
        obj_id[i, MET_ROW] = MET
    return {"objects": objects, "obj_id": obj_id, "mask": obj_id != 0,
            "met": np.array([r[1] for r in rows], dtype=np.float32),
            "ht": np.array([r[2] for r in rows], dtype=np.float32),
            "event": np.arange(n), "note": "hand-built"}


def _passing(data, channel):
    out = select_channel(data, channel)
    return list(out["event"])


FOUR_JETS = [(JET, 250.0), (JET, 60.0), (BJET, 55.0), (JET, 50.0)]


def test_channel_1_cuts():
    rows = [
        (FOUR_JETS, 200.0, 600.0),                                   # 0 pass: every cut at its edge
        ([(BJET, 300.0), (BJET, 80.0), (BJET, 70.0), (BJET, 51.0)], 300.0, 900.0),
        # 1 pass: b-jets count as jets
        (FOUR_JETS, 200.0, 599.9),                                   # 2 HT just below
        (FOUR_JETS, 199.9, 600.0),                                   # 3 MET just below
        (FOUR_JETS, 240.0, 1200.1),                                  # 4 MET/HT just below 0.2
        (FOUR_JETS, 240.0, 1199.9),                                  # 5 MET/HT just above 0.2: pass
        ([(JET, 250.0), (JET, 60.0), (JET, 55.0), (JET, 49.9)], 200.0, 600.0),  # 6 4th jet too soft
        ([(JET, 199.9), (JET, 60.0), (JET, 55.0), (JET, 50.0)], 200.0, 600.0),  # 7 no jet >= 200
        ([(JET, 250.0), (JET, 60.0), (JET, 55.0), (ELECTRON, 90.0), (PHOTON, 90.0)], 200.0, 600.0),
        # 8: leptons, photons and the MET row are not jets
    ]
    assert _passing(_events(rows), "1") == [0, 1, 5]


def test_channel_2a_cuts():
    rows = [
        ([(ELECTRON, 15.0), (MUON, 15.0), (POSITRON, 15.0)], 50.0, 0.0),       # 0 pass at the edges
        ([(JET, 100.0), (ANTIMUON, 40.0), (MUON, 30.0), (ELECTRON, 20.0)], 80.0, 100.0),  # 1 pass
        ([(ELECTRON, 15.0), (MUON, 15.0), (POSITRON, 14.9)], 50.0, 0.0),       # 2 third too soft
        ([(ELECTRON, 15.0), (MUON, 15.0), (POSITRON, 15.0)], 49.9, 0.0),       # 3 MET just below
        ([(ELECTRON, 30.0), (MUON, 30.0), (PHOTON, 30.0), (JET, 30.0)], 60.0, 30.0),
        # 4: only two leptons
    ]
    assert _passing(_events(rows), "2a") == [0, 1]


def test_channel_2b_cuts():
    rows = [
        ([(JET, 50.0), (ELECTRON, 15.0), (POSITRON, 15.0)], 50.0, 50.0),       # 0 pass at the edges
        ([(JET, 60.0), (MUON, 25.0), (ANTIMUON, 20.0), (ELECTRON, 16.0)], 70.0, 60.0),  # 1 pass
        ([(JET, 49.9), (ELECTRON, 15.0), (POSITRON, 15.0)], 50.0, 49.9),       # 2 HT just below
        ([(JET, 50.0), (ELECTRON, 15.0), (POSITRON, 15.0)], 49.9, 50.0),       # 3 MET just below
        ([(JET, 50.0), (ELECTRON, 15.0), (POSITRON, 14.9)], 50.0, 50.0),       # 4 second too soft
        ([(JET, 50.0), (ELECTRON, 40.0), (PHOTON, 40.0)], 50.0, 50.0),         # 5 one lepton
    ]
    assert _passing(_events(rows), "2b") == [0, 1]


def test_channel_3_cuts():
    rows = [
        ([(JET, 400.0), (JET, 200.0)], 100.0, 600.0),   # 0 pass at the edges
        ([(JET, 900.0)], 500.0, 900.0),                 # 1 pass
        ([(JET, 400.0), (JET, 199.9)], 100.0, 599.9),   # 2 HT just below
        ([(JET, 400.0), (JET, 200.0)], 99.9, 600.0),    # 3 MET just below
    ]
    assert _passing(_events(rows), "3") == [0, 1]


def test_select_channel_keeps_keys_and_rows():
    data = _events([(FOUR_JETS, 200.0, 600.0), (FOUR_JETS, 10.0, 600.0), (FOUR_JETS, 300.0, 700.0)])
    out = select_channel(data, "1")
    assert set(out) == set(data)
    assert out["note"] == "hand-built"
    np.testing.assert_array_equal(out["event"], [0, 2])
    np.testing.assert_array_equal(out["objects"], data["objects"][[0, 2]])
    np.testing.assert_array_equal(out["mask"], data["mask"][[0, 2]])


def test_select_channel_on_generated_events(ttbar):
    for channel in CHANNELS:
        out = select_channel(ttbar, channel)
        assert set(out) == set(ttbar)
        assert len(out["met"]) == int(ge.channel_mask(ttbar, channel).sum())
        if channel in ("1", "3"):
            assert np.all(out["ht"] >= 600)
        assert np.all(out["met"] >= {"1": 200, "2a": 50, "2b": 50, "3": 100}[channel])


def test_select_channel_errors():
    data = _events([(FOUR_JETS, 200.0, 600.0)])
    with pytest.raises(ValueError, match="1, 2a, 2b, 3"):
        select_channel(data, "4")
    for key in ("objects", "obj_id", "met", "ht"):
        broken = {k: v for k, v in data.items() if k != key}
        with pytest.raises(ValueError, match=repr(key)):
            select_channel(broken, "3")


# ------------------------------------------------------------------ channel-filtered samples
def test_channel_option_contract():
    assert EVENTS_OPTIONS["channel"] == ("all", ("all", "1", "2a", "2b", "3"))
    assert ge.process_settings("wjets") == ge.PROCESSES["wjets"]
    assert ge.process_settings("wjets", "3")[-1] == "PhaseSpace:pTHatMin = 250."
    assert ge.process_settings("zp_dm", "3") == ge.PROCESSES["zp_dm"]   # no extra cut
    for (proc, channel), extra in ge.CHANNEL_SETTINGS.items():
        assert proc in ge.PROCESSES and channel in CHANNELS and extra
    with pytest.raises(ValueError, match="unknown channel '4'"):
        generate_events(10, seed=1, process="wjets", channel="4")


def test_channel_sample_is_the_selected_prefix_of_the_plain_stream():
    """Same seed and settings: the channel sample is exactly the passing events of the plain
    stream (batches of 250), and its weights sum to sigma x passed / generated."""
    plain = generate_events(500, seed=5, process="zp_dm", mpi=False)
    passing = ge.channel_mask(plain, "3")
    k = int(passing.sum())
    first_batch = int(passing[:250].sum())
    assert 0 < first_batch < k < 500          # the channel run then generates exactly 500
    chan = generate_events(k, seed=5, process="zp_dm", mpi=False, channel="3")
    for key in chan:
        if key != "weight":
            np.testing.assert_array_equal(chan[key], plain[key][passing], err_msg=key)
    assert np.all(ge.channel_mask(chan, "3"))
    np.testing.assert_allclose(chan["weight"], chan["weight"][0])
    assert chan["weight"].sum() == pytest.approx(plain["weight"].sum() * k / 500, rel=1e-12)
    # a shorter request is a prefix, and a repeat is bit-identical
    short = generate_events(k // 2, seed=5, process="zp_dm", mpi=False, channel="3")
    for key in short:
        if key != "weight":
            assert short[key].tobytes() == chan[key][: k // 2].tobytes(), key


def test_channel_sample_with_generator_cut_is_pure_and_weighted():
    out = generate_events(60, seed=3, process="wjets", mpi=False, channel="3")
    assert len(out["met"]) == 60 and np.all(ge.channel_mask(out, "3"))
    assert np.all(out["ht"] >= 600) and np.all(out["met"] >= 100)
    # W + jet in channel 3 with pTHat >= 250: ~1.5 pb at LO (sigma 43.7 pb x ~3.5 %)
    assert 0.5 < out["weight"].sum() < 4.0


def test_channel_out_of_reach_raises(monkeypatch):
    monkeypatch.setattr(ge, "_MIN_TRIAL", 250)
    with pytest.raises(RuntimeError, match="zll events pass channel 1 too rarely: 0 of 250"):
        generate_events(10, seed=1, process="zll", mpi=False, channel="1")


def test_load_channel_sample_weights_sum_to_channel_cross_section(tmp_path, monkeypatch):
    import dataclasses

    from jetad_utils import data

    monkeypatch.setenv("JETAD_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setitem(data._SPECS, "events",
                        dataclasses.replace(data._SPECS["events"], chunk_size=30))
    out = data.load("events", 50, process="zp_dm", channel="3", progress=False, jobs=1)
    assert len(out["met"]) == 50 and np.all(ge.channel_mask(out, "3"))
    again = data.load("events", 20, process="zp_dm", channel="3", progress=False, jobs=1)
    np.testing.assert_array_equal(again["objects"], out["objects"][:20])
    # zp_dm: ~6e-4 pb, of which ~16 % pass channel 3
    assert 2e-5 < out["weight"].sum() < 3e-4
    plain = data.load("events", 50, process="zp_dm", progress=False, jobs=1)
    assert out["weight"].sum() < plain["weight"].sum()
