"""Tests of jetad_utils.toys: exactly known Gaussian toy densities."""

from __future__ import annotations

import numpy as np
import pytest

from jetad_utils.toys import Gaussian, ar1_covariance, line_covariance, point_at_distance, sample_mixture


def _logpdf_by_hand(x, mean, cov):
    d = len(mean)
    diff = x - mean
    maha2 = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    return -0.5 * (maha2 + d * np.log(2 * np.pi) + np.log(np.linalg.det(cov)))


def test_logpdf_standard_normal_origin():
    g = Gaussian([0.0, 0.0], np.eye(2))
    assert g.logpdf(np.zeros((1, 2)))[0] == pytest.approx(-np.log(2 * np.pi), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_logpdf_matches_formula(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + 0.5 * np.eye(3)
    mean = rng.normal(size=3)
    x = rng.normal(size=(50, 3)) * 2
    g = Gaussian(mean, cov)
    out = g.logpdf(x)
    assert out.shape == (50,)
    np.testing.assert_allclose(out, _logpdf_by_hand(x, mean, cov), rtol=1e-10, atol=1e-10)


def test_logpdf_one_dimensional():
    g = Gaussian([1.0], [[4.0]])
    x = np.array([[1.0], [3.0], [-1.0]])
    expected = -0.5 * ((x[:, 0] - 1.0) ** 2 / 4.0 + np.log(2 * np.pi * 4.0))
    np.testing.assert_allclose(g.logpdf(x), expected, rtol=1e-12)
    assert g.dim == 1


def test_sample_moments_converge():
    mean = np.array([1.0, -2.0, 0.5])
    cov = ar1_covariance(3, 0.6) * np.array([1.0, 2.0, 0.5])[:, None] * np.array([1.0, 2.0, 0.5])[None, :]
    g = Gaussian(mean, cov)
    x = g.sample(200_000, rng=123)
    assert x.shape == (200_000, 3)
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.03)


def test_sample_reproducible_and_seeded():
    g = Gaussian(np.zeros(2), np.eye(2))
    np.testing.assert_array_equal(g.sample(10, rng=5), g.sample(10, rng=5))
    np.testing.assert_array_equal(g.sample(10, rng=np.random.default_rng(5)), g.sample(10, rng=5))
    assert not np.array_equal(g.sample(10, rng=5), g.sample(10, rng=6))
    assert g.sample(0, rng=0).shape == (0, 2)


def test_sample_negative_n():
    with pytest.raises(ValueError, match="non-negative"):
        Gaussian(np.zeros(2), np.eye(2)).sample(-1, rng=0)


def test_singular_covariance_sampling_on_line():
    cov = line_covariance([1.0, 1.0], 2.0, jitter=0.0)
    g = Gaussian([1.0, 1.0], cov)
    x = g.sample(1000, rng=0)
    # all points on the line through (1, 1) along (1, 1)
    np.testing.assert_allclose(x[:, 0] - x[:, 1], 0.0, atol=1e-8)
    assert np.std(x[:, 0] + x[:, 1]) == pytest.approx(2.0 * np.sqrt(2), rel=0.1)


@pytest.mark.parametrize("rho", [0.0, 0.3, -0.5, 0.9])
def test_point_at_distance(rho):
    cov = ar1_covariance(3, rho) * 2.0
    bkg = Gaussian([0.5, -1.0, 2.0], cov)
    direction = np.array([1.0, 2.0, -0.5])
    for distance in (0.0, 1.0, 3.7):
        p = point_at_distance(bkg, direction, distance)
        diff = p - bkg.mean
        maha = np.sqrt(diff @ np.linalg.inv(cov) @ diff)
        assert maha == pytest.approx(distance, abs=1e-10)
        # along the requested direction (same sign)
        if distance > 0:
            cos = diff @ direction / (np.linalg.norm(diff) * np.linalg.norm(direction))
            assert cos == pytest.approx(1.0, abs=1e-12)


def test_point_at_distance_doc_case():
    bkg = Gaussian(np.zeros(2), np.diag([4.0, 1.0]))
    np.testing.assert_allclose(point_at_distance(bkg, [1.0, 0.0], 1.5), [3.0, 0.0])
    np.testing.assert_allclose(point_at_distance(bkg, [0.0, 1.0], 1.5), [0.0, 1.5])


@pytest.mark.parametrize("direction", [[0.0, 0.0], [1.0, 0.0, 0.0], [1.0]])
def test_point_at_distance_bad_direction(direction):
    bkg = Gaussian(np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="non-zero vector of length 2"):
        point_at_distance(bkg, direction, 1.0)


def test_ar1_covariance():
    c = ar1_covariance(4, 0.5)
    expected = np.array([[0.5 ** abs(i - j) for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(c, expected, rtol=1e-15)
    np.testing.assert_array_equal(ar1_covariance(3, 0.0), np.eye(3))
    assert ar1_covariance(1, 0.7).tolist() == [[1.0]]
    c_neg = ar1_covariance(3, -0.5)
    assert c_neg[0, 1] == -0.5 and c_neg[0, 2] == 0.25
    assert np.linalg.eigvalsh(ar1_covariance(10, 0.95)).min() > 0


@pytest.mark.parametrize("dim, rho", [(0, 0.5), (3, 1.0), (3, -1.0), (3, 1.5)])
def test_ar1_covariance_bad(dim, rho):
    with pytest.raises(ValueError, match="dim >= 1 and -1 < rho < 1"):
        ar1_covariance(dim, rho)


def test_line_covariance():
    np.testing.assert_allclose(line_covariance([1.0, 0.0], 2.0, jitter=0.0), [[4.0, 0.0], [0.0, 0.0]])
    c = line_covariance([3.0, 4.0], 1.0, jitter=0.1)
    u = np.array([0.6, 0.8])
    np.testing.assert_allclose(c, np.outer(u, u) + 0.01 * np.eye(2), rtol=1e-12)


def test_sample_mixture_counts_and_labels():
    bkg = Gaussian(np.zeros(2), np.eye(2))
    sig = Gaussian([10.0, 10.0], 0.01 * np.eye(2))
    x, y = sample_mixture(bkg, sig, 300, 40, rng=0)
    assert x.shape == (340, 2) and y.shape == (340,)
    assert y.dtype.kind == "i"
    assert set(np.unique(y).tolist()) == {0, 1}
    assert (y == 0).sum() == 300 and (y == 1).sum() == 40
    # labels travel with their points (signal is far away from background)
    assert np.all(x[y == 1].min(axis=1) > 8)
    assert np.all(np.abs(x[y == 0]).max(axis=1) < 8)
    # shuffled, not "background then signal"
    assert not np.all(y[:300] == 0)
    x2, y2 = sample_mixture(bkg, sig, 300, 40, rng=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_sample_mixture_no_signal():
    bkg = Gaussian(np.zeros(3), np.eye(3))
    x, y = sample_mixture(bkg, bkg, 50, 0, rng=1)
    assert x.shape == (50, 3) and y.sum() == 0


@pytest.mark.parametrize(
    "mean, cov, match",
    [
        (np.zeros(2), np.eye(3), "shape"),
        (np.zeros((2, 2)), np.eye(2), "shape"),
        (np.zeros(2), np.ones(2), "shape"),
        (np.zeros(2), [[1.0, 0.5], [0.0, 1.0]], "symmetric"),
        (np.zeros(2), [[1.0, 2.0], [2.0, 1.0]], "positive semi-definite"),
    ],
)
def test_gaussian_bad_parameters(mean, cov, match):
    with pytest.raises(ValueError, match=match):
        Gaussian(mean, cov)


@pytest.mark.parametrize("shape", [(5,), (5, 3), (2, 5, 2), (0,)])
def test_logpdf_bad_shape(shape):
    g = Gaussian(np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        g.logpdf(np.zeros(shape))


def test_transformed():
    g = Gaussian([1.0, 2.0], [[2.0, 0.5], [0.5, 1.0]])
    a = np.array([[1.0, 1.0], [0.0, 2.0]])
    t = g.transformed(a)
    np.testing.assert_allclose(t.mean, [3.0, 4.0])
    np.testing.assert_allclose(t.cov, a @ g.cov @ a.T)
