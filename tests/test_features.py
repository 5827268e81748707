"""Tests of jetad_utils.features: jet images, N-subjettiness ratios and the small helpers.

All on hand-built jets (no event generation), so each expectation is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetad_utils.features import jet_images, safe_ratio, tau_ratios, wrap_phi

R = 0.8


def make_jets(coords, pts, n_max=None):
    """Padded ``{"parts", "mask"}`` from per-jet lists of (Δη, Δφ) and pT."""
    n_max = n_max or max(len(p) for p in pts)
    parts = np.zeros((len(pts), n_max, 4), dtype=np.float32)
    mask = np.zeros((len(pts), n_max), dtype=bool)
    for i, (xy, pt) in enumerate(zip(coords, pts)):
        k = len(pt)
        parts[i, :k, 0] = pt
        parts[i, :k, 1:3] = np.asarray(xy, dtype=np.float32).reshape(k, 2)
        parts[i, :k, 3] = pt
        mask[i, :k] = True
    return {"parts": parts, "mask": mask}


def random_jets(n, n_max=30, seed=0, spread=0.25):
    """Jets of 3 prongs with soft spray, off-centre, of varying multiplicity."""
    rng = np.random.default_rng(seed)
    coords, pts = [], []
    for _ in range(n):
        k = rng.integers(3, n_max + 1)
        prongs = rng.normal(scale=spread, size=(3, 2))
        which = rng.integers(0, 3, size=k)
        xy = prongs[which] + rng.normal(scale=0.03, size=(k, 2))
        pt = rng.exponential(20.0, size=k) * np.array([3.0, 1.5, 1.0])[which]
        coords.append(xy)
        pts.append(np.sort(pt)[::-1])
    return make_jets(coords, pts, n_max=n_max)


def rotate(xy, angle, about):
    c, s = np.cos(angle), np.sin(angle)
    d = xy - about
    return about + d @ np.array([[c, s], [-s, c]])


def centroid_rows_cols(img, size):
    """pT-weighted centroid of an image in (Δφ, Δη) coordinates of the pixel centres."""
    centres = -R + (np.arange(size) + 0.5) * (2 * R / size)
    return float((img.sum(axis=1) * centres).sum()), float((img.sum(axis=0) * centres).sum())


# ----------------------------------------------------------------------------- images
@pytest.mark.parametrize("options", [{}, {"centre": False, "rotate": False, "flip": False},
                                     {"rotate": False}, {"centre": False}])
def test_images_shape_dtype_and_normalised(options):
    data = random_jets(50)
    img = jet_images(data, size=25, radius=R, **options)
    assert img.shape == (50, 1, 25, 25) and img.dtype == np.float32
    np.testing.assert_allclose(img.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    assert np.all(img >= 0)


@pytest.mark.parametrize("eta, phi, row, col", [(0.1, -0.3, 12, 22), (-0.79, 0.79, 39, 0), (0.02, 0.02, 20, 20),
                                                (0.41, 0.02, 20, 30)])
def test_single_particle_lands_in_its_pixel(eta, phi, row, col):
    data = make_jets([[(eta, phi)]], [[250.0]])
    img = jet_images(data, size=40, radius=R, centre=False, rotate=False, flip=False)[0, 0]
    assert img[row, col] == pytest.approx(1.0)
    assert img.sum() == pytest.approx(1.0)


def test_single_particle_centred_lands_in_the_centre():
    data = make_jets([[(0.5, -0.6)]], [[100.0]])
    img = jet_images(data, size=33, radius=R)[0, 0]  # odd size: a centre pixel
    assert img[16, 16] == pytest.approx(1.0)


def test_axes_convention_and_reflection_without_preprocessing():
    data = random_jets(10, seed=3)
    img = jet_images(data, size=20, centre=False, rotate=False, flip=False)
    mirrored = {"parts": data["parts"] * np.array([1, 1, -1, 1], np.float32), "mask": data["mask"]}
    img_m = jet_images(mirrored, size=20, centre=False, rotate=False, flip=False)
    np.testing.assert_allclose(img_m, img[:, :, ::-1, :], atol=1e-7)  # Δφ -> -Δφ flips rows


def test_centring_moves_centroid_to_centre():
    data = random_jets(40, seed=1, spread=0.12)
    data["parts"][..., 1] += 0.3  # move every jet off-centre
    data["parts"][..., 2] -= 0.2
    size = 40
    before = jet_images(data, size=size, radius=R, centre=False, rotate=False, flip=False)
    after = jet_images(data, size=size, radius=R, centre=True, rotate=False, flip=False)
    half_pixel = R / size
    for b, a in zip(before[:, 0], after[:, 0]):
        assert abs(centroid_rows_cols(b, size)[1] - 0.3) < 0.25  # clearly off-centre before
        phi_c, eta_c = centroid_rows_cols(a, size)
        assert abs(phi_c) <= half_pixel + 1e-6 and abs(eta_c) <= half_pixel + 1e-6


def test_rotation_makes_two_prongs_vertical():
    # two prongs side by side in η (horizontal), at an angle, and vertical: all end up vertical
    coords = [[(-0.3, 0.0), (0.2, 0.0)], [(-0.2, -0.2), (0.1, 0.1)], [(0.0, 0.25), (0.0, -0.25)]]
    data = make_jets(coords, [[300.0, 100.0]] * 3)
    img = jet_images(data, size=33, radius=R)[:, 0]
    for im in img:
        rows, cols = np.nonzero(im)
        assert set(cols) == {16}  # on the vertical line through the centre
        # flip: the harder prong (3/4 of the pT) is in the upper half (Δφ' > 0)
        assert im[rows.max(), 16] == pytest.approx(0.75) and rows.max() > 16


def test_invariant_under_rotation_translation_and_reflection():
    data = random_jets(30, seed=7, spread=0.15)
    ref = jet_images(data, size=40, radius=R)
    rng = np.random.default_rng(11)
    for trial in range(3):
        moved = {"parts": data["parts"].copy(), "mask": data["mask"]}
        for i in range(len(ref)):
            m = data["mask"][i]
            xy = data["parts"][i, m, 1:3].astype(np.float64)
            pt = data["parts"][i, m, 0].astype(np.float64)
            centre = (pt[:, None] * xy).sum(0) / pt.sum()
            xy = rotate(xy, rng.uniform(0, 2 * np.pi), centre) + rng.uniform(-0.1, 0.1, size=2)
            if trial == 2:
                xy[:, 0] *= -1  # reflection
            moved["parts"][i, m, 1:3] = xy
        img = jet_images(moved, size=40, radius=R)
        # identical images, up to float32 rounding moving a constituent across a pixel edge
        same = np.all(np.isclose(img, ref, atol=1e-6), axis=(1, 2, 3))
        assert same.mean() >= 0.9, same.mean()
        np.testing.assert_allclose(img.reshape(30, -1).sum(1), 1.0, rtol=1e-5)


def test_masked_entries_ignored_and_empty_jet():
    data = random_jets(5, seed=2)
    img = jet_images(data, size=16)
    dirty = {"parts": np.where(data["mask"][..., None], data["parts"], 123.0).astype(np.float32),
             "mask": data["mask"]}
    np.testing.assert_array_equal(jet_images(dirty, size=16), img)
    empty = {"parts": np.zeros((2, 4, 4), np.float32), "mask": np.zeros((2, 4), bool)}
    out = jet_images(empty, size=8)
    assert out.shape == (2, 1, 8, 8) and np.all(out == 0)


def test_constituents_outside_window_dropped_and_renormalised():
    data = make_jets([[(0.1, 0.1), (0.95, 0.0)]], [[100.0, 100.0]])
    img = jet_images(data, size=10, radius=R, centre=False, rotate=False, flip=False)
    assert img.sum() == pytest.approx(1.0) and img.max() == pytest.approx(1.0)


def test_batch_equals_one_by_one():
    data = random_jets(12, seed=5)
    img = jet_images(data, size=20)
    single = [jet_images({"parts": data["parts"][i:i + 1], "mask": data["mask"][i:i + 1]}, size=20)
              for i in range(12)]
    np.testing.assert_array_equal(img, np.concatenate(single))


def test_bad_inputs():
    with pytest.raises(ValueError):
        jet_images({"parts": np.zeros((2, 3)), "mask": np.zeros((2, 3), bool)})
    with pytest.raises(ValueError):
        jet_images(random_jets(2), size=0)


# ----------------------------------------------------------------------------- ratios and angles
def test_tau_ratios_values_and_zero_denominators():
    taus = np.array([[0.5, 0.25, 0.1, 0.05], [0.0, 0.0, 0.0, 0.0], [0.2, 0.0, 0.0, 0.0]], dtype=np.float32)
    t21, t32, t42 = tau_ratios(taus)
    np.testing.assert_allclose(t21, [0.5, 0.0, 0.0])
    np.testing.assert_allclose(t32, [0.4, 0.0, 0.0])
    np.testing.assert_allclose(t42, [0.2, 0.0, 0.0])
    assert t21.dtype == np.float32 and t21.shape == (3,)
    assert np.all(np.isfinite(t21))
    with pytest.raises(ValueError):
        tau_ratios(np.zeros((3, 3)))


def test_safe_ratio_broadcasts():
    out = safe_ratio(np.array([[1.0], [2.0]]), np.array([0.0, 4.0]))
    np.testing.assert_allclose(out, [[0.0, 0.25], [0.0, 0.5]])


def test_wrap_phi_range():
    x = np.linspace(-20, 20, 10001)
    w = wrap_phi(x)
    assert np.all((w > -np.pi) & (w <= np.pi))
    np.testing.assert_allclose(np.cos(w), np.cos(x), atol=1e-9)
    np.testing.assert_allclose(np.sin(w), np.sin(x), atol=1e-9)


def test_jet_images_missing_column_names_the_key():
    import pytest

    from jetad_utils.features import jet_images

    with pytest.raises(KeyError, match=r"needs the key\(s\) \['mask'\]"):
        jet_images({"parts": np.zeros((2, 3, 4))})
