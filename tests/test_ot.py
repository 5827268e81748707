"""Optimal-transport distances: exactness against POT's dense solver, metric properties,
the symmetric and parallel paths, bad input, and a physics sanity check on generated jets."""

from __future__ import annotations

import numpy as np
import ot as pot
import pytest

from jetad_utils import ot
from jetad_utils.features import jet_images


def random_jet(rng, m, spread=0.3):
    pt = rng.exponential(20.0, size=m) + 1.0
    return np.stack([pt, rng.normal(0, spread, m), rng.normal(0, spread, m)], axis=1)


def dense_emd(a, b, radius):
    """Reference: POT's public ot.emd2 with the cost matrix built by ot.dist."""
    wa, wb = a[:, 0] / a[:, 0].sum(), b[:, 0] / b[:, 0].sum()
    cost = pot.dist(a[:, 1:3] / radius, b[:, 1:3] / radius, metric="euclidean")
    return pot.emd2(wa, wb, cost)


def test_matches_pot_reference_and_is_a_metric():
    rng = np.random.default_rng(1)
    jets = [random_jet(rng, m) for m in (5, 17, 40, 3)]
    for a in jets:
        for b in jets:
            assert ot.emd(a, b) == pytest.approx(dense_emd(a, b, 0.8), rel=1e-10, abs=1e-12)
            assert ot.emd(a, b) == pytest.approx(ot.emd(b, a), rel=1e-10, abs=1e-12)
    assert ot.emd(jets[0], jets[0]) == pytest.approx(0.0, abs=1e-12)
    assert ot.emd(jets[0], jets[1]) > 0
    a, b, c = jets[:3]
    assert ot.emd(a, c) <= ot.emd(a, b) + ot.emd(b, c) + 1e-12


def test_conventions_normalisation_padding_radius_translation():
    rng = np.random.default_rng(2)
    a, b = random_jet(rng, 8), random_jet(rng, 11)
    base = ot.emd(a, b, radius=0.8)
    scaled = a.copy()
    scaled[:, 0] *= 7.0  # a different total pT costs nothing
    assert ot.emd(scaled, b) == pytest.approx(base, rel=1e-10)
    padded = np.vstack([a, np.zeros((5, 3))])  # zero-pT padding rows are ignored
    assert ot.emd(padded, b) == pytest.approx(base, rel=1e-10)
    assert ot.emd(a, b, radius=0.4) == pytest.approx(2 * base, rel=1e-10)  # distance in units of R
    shift = np.array([0.0, 0.13, -0.07])
    assert ot.emd(a + shift, b + shift) == pytest.approx(base, rel=1e-10)
    # one particle moved by half a radius: EMD = 0.5
    assert ot.emd([[5.0, 0.0, 0.0]], [[9.0, 0.0, 0.4]], radius=0.8) == pytest.approx(0.5)


def test_sparse_image_support_equals_dense_image_emd():
    rng = np.random.default_rng(3)
    size, radius = 12, 0.8
    images = rng.random((3, 1, size, size)) * (rng.random((3, 1, size, size)) < 0.15)
    centres = -radius + (np.arange(size) + 0.5) * 2 * radius / size
    grid = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2) / radius
    dense_cost = pot.dist(grid, grid, metric="euclidean")
    sparse = ot.emds(images, radius=radius, progress=False)
    for i in range(3):
        for j in range(3):
            wa = images[i, 0].ravel() / images[i, 0].sum()
            wb = images[j, 0].ravel() / images[j, 0].sum()
            assert sparse[i, j] == pytest.approx(pot.emd2(wa, wb, dense_cost), rel=1e-9, abs=1e-12)


@pytest.mark.integration
def test_emds_symmetric_rectangular_and_parallel_agree():
    rng = np.random.default_rng(4)
    parts = np.zeros((9, 30, 4))
    for i in range(9):
        m = rng.integers(2, 30)
        parts[i, :m, :3] = random_jet(rng, m)
    full = ot.emds(parts, progress=False)
    assert full.shape == (9, 9)
    np.testing.assert_allclose(full, full.T)
    np.testing.assert_allclose(np.diag(full), 0.0)
    loop = np.array([[ot.emd(a, b) for b in parts] for a in parts])
    np.testing.assert_allclose(full, loop, rtol=1e-12, atol=1e-14)
    rect = ot.emds(parts[:4], parts[4:], progress=False)
    np.testing.assert_allclose(rect, loop[:4, 4:], rtol=1e-12, atol=1e-14)
    parallel = ot.emds(parts, n_jobs=2, min_pairs_per_job=1, progress=False)
    np.testing.assert_allclose(parallel, full, rtol=0, atol=0)
    parallel_rect = ot.emds(parts[:4], parts[4:], n_jobs=2, min_pairs_per_job=1, progress=False)
    np.testing.assert_allclose(parallel_rect, rect, rtol=0, atol=0)
    ragged = [p[p[:, 0] > 0] for p in parts]
    np.testing.assert_allclose(ot.emds(ragged, progress=False), full, rtol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: ot.emd(np.zeros((3, 3)), [[1.0, 0, 0]]), "no particle with pT > 0"),
    (lambda: ot.emd(np.ones(3), [[1.0, 0, 0]]), "(m, >=3)"),
    (lambda: ot.emd([[1.0, np.nan, 0]], [[1.0, 0, 0]]), "NaN"),
    (lambda: ot.emd([[1.0, 0, 0]], [[1.0, 0, 0]], radius=0), "radius"),
    (lambda: ot.emds(np.ones((2, 3))), "padded array"),
    (lambda: ot.emds([[[1.0, 0, 0]], [[1.0, 0, 1]]], n_jobs=0), "n_jobs"),
    (lambda: ot.image_points(np.ones((2, 3, 3))), "(H, W) or (1, H, W)"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_top_jets_are_farther_from_qcd_than_qcd_is_from_itself():
    """Three-prong top jets need more pT moved to look like QCD jets than QCD jets among
    themselves; with images and constituents alike."""
    from jetad_utils import data

    qcd = data.load("jets", 200, cls="qcd", progress=False)
    top = data.load("jets", 200, cls="top", progress=False)
    qq = ot.emds(qcd["parts"][:60], progress=False)
    tq = ot.emds(top["parts"][:60], qcd["parts"][:60], progress=False)
    within = qq[np.triu_indices(60, 1)].mean()
    assert tq.mean() > within + 0.02
    images_q, images_t = jet_images(qcd)[:40], jet_images(top)[:40]
    iqq = ot.emds(images_q, progress=False)
    itq = ot.emds(images_t, images_q, progress=False)
    assert itq.mean() > iqq[np.triu_indices(40, 1)].mean()
    # without preprocessing, pixelisation moves each particle by at most half a pixel
    # diagonal, so constituent and image EMDs differ by at most one pixel diagonal / R
    pixel = 2 * 0.8 / 40
    raw = jet_images(qcd, centre=False, rotate=False, flip=False)[:40]
    gap = np.abs(ot.emds(qcd["parts"][:40], progress=False) - ot.emds(raw, progress=False))
    assert gap.max() <= pixel * np.sqrt(2) / 0.8 + 1e-9


def test_kmedoids_finds_cluster_centres_and_beats_random_choice():
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    x = np.concatenate([c + rng.normal(0, 0.3, (30, 2)) for c in centres])
    d = np.linalg.norm(x[:, None] - x[None, :], axis=-1)
    med = ot.kmedoids(d, 3, random_state=1)
    assert sorted(np.argmin(np.linalg.norm(x[med][:, None] - centres[None], axis=-1), axis=1)) == [0, 1, 2]
    cost = d[med].min(axis=0).sum()
    for seed in range(20):
        rand = np.random.default_rng(seed).choice(len(x), 3, replace=False)
        assert cost <= d[rand].min(axis=0).sum() + 1e-12
    np.testing.assert_array_equal(med, ot.kmedoids(d, 3, random_state=1))
    assert len(set(ot.kmedoids(d, 90).tolist())) == 90
    with pytest.raises(ValueError, match="k must be"):
        ot.kmedoids(d, 0)
    with pytest.raises(ValueError, match="square"):
        ot.kmedoids(d[:3], 2)


def test_image_points_axes_follow_jet_images():
    """Rows of jet_images are Δφ and columns Δη; image_points returns (weight, Δη, Δφ)."""
    parts = np.array([[[100.0, 0.1, -0.3, 100.0]]])
    img = jet_images({"parts": parts, "mask": np.array([[True]])}, size=4,
                     centre=False, rotate=False, flip=False)
    (weight, eta, phi), = ot.image_points(img[0], radius=0.8).tolist()
    assert weight == pytest.approx(1.0)
    assert (eta, phi) == pytest.approx((0.2, -0.2))   # centres of the pixels holding (0.1, -0.3)
