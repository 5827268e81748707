"""Tests of jetad_utils.bumphunt: the dijet sideband fit, the local and the global significance.

The fit is validated on samples drawn from the dijet function itself (inverse-CDF sampling on
a fine grid), so the true background in the signal region is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from jetad_utils.bumphunt import (
    DijetFit,
    dijet_function,
    effective_trials,
    fit_sidebands,
    global_significance,
    local_significance,
    log_bins,
    p_value,
    sidebands,
    signal_region,
)

TRUE = (1.0, 10.0, 5.0)  # (p0, p1, p2): a QCD-like spectrum falling ~500x from 2 to 4.35 TeV
EDGES = log_bins()
REGION = (9, 12)  # 3189-3724 GeV, around the 3.5 TeV LHCO signal

# The authors' bin edges (CWoLa-Hunting repository, pvalues_analysis.ipynb).
AUTHORS_EDGES = [2001, 2107, 2219, 2337, 2461, 2592, 2730, 2875, 3028, 3189, 3358, 3536,
                 3724, 3922, 4131, 4350]  # fmt: skip


def _integral(lo, hi, params=TRUE):
    return integrate.quad(lambda m: dijet_function(m, *params), lo, hi, epsrel=1e-12)[0]


def _true_fraction(i0, i1):
    """Fraction of the spectrum between EDGES[0] and EDGES[-1] that falls in bins i0..i1-1."""
    return _integral(EDGES[i0], EDGES[i1]) / _integral(EDGES[0], EDGES[-1])


_GRID = np.geomspace(EDGES[0], EDGES[-1], 20_001)
_PDF = dijet_function(_GRID, *TRUE)
_CDF = np.r_[0.0, np.cumsum(0.5 * (_PDF[1:] + _PDF[:-1]) * np.diff(_GRID))]
_CDF /= _CDF[-1]


def _sample(rng, n):
    """``n`` masses from the TRUE dijet spectrum in [EDGES[0], EDGES[-1]] (inverse CDF)."""
    return np.interp(rng.random(n), _CDF, _GRID)


def _poisson_sample(seed, mean):
    """A background-only pseudo-experiment with a Poisson-distributed number of events."""
    rng = np.random.default_rng(seed)
    return _sample(rng, rng.poisson(mean))


@pytest.fixture(scope="module")
def big_sample():
    return _sample(np.random.default_rng(2024), 200_000)


@pytest.fixture(scope="module")
def big_fit(big_sample):
    return fit_sidebands(big_sample, EDGES, REGION)


# ----------------------------------------------------------------------------- dijet_function


def test_dijet_function_hand_values():
    assert dijet_function(1300.0, 2.0, 1.0, 1.0) == pytest.approx(18.0, rel=1e-12)
    assert dijet_function(6500.0, 1.0, 2.0, 3.0) == pytest.approx(0.25 / 0.125, rel=1e-12)
    # other sqrt_s; array in, array out
    out = dijet_function(np.array([1400.0, 2800.0]), 1.0, 1.0, 0.0, sqrt_s=14000.0)
    np.testing.assert_allclose(out, [0.9, 0.8], rtol=1e-12)


def test_expected_per_bin_is_the_bin_integral():
    params = np.array([3.0, 8.0, 4.5])
    fit = DijetFit(params, np.zeros((3, 3)), EDGES, np.zeros(15), np.ones(15, bool), 0.0, 12)
    quad = [_integral(a, b, params) for a, b in zip(EDGES[:-1], EDGES[1:])]
    np.testing.assert_allclose(fit.expected_per_bin(), quad, rtol=1e-11)
    assert fit.expected(2, 5) == pytest.approx(_integral(EDGES[2], EDGES[5], params), rel=1e-11)
    assert fit.expected_uncertainty(2, 5) == 0.0
    with pytest.raises(ValueError, match="no bin is masked"):
        fit.expected()
    with pytest.raises(ValueError, match="bin indices"):
        fit.expected(5, 5)
    with pytest.raises(ValueError, match="bin indices"):
        fit.expected(0, 16)


# ----------------------------------------------------------------------------- bins


def test_log_bins_match_collins_howe_nachman():
    edges = log_bins()
    assert len(edges) == 16 and edges[0] == 2001.0 and edges[-1] == 4350.0
    ratios = edges[1:] / edges[:-1]
    np.testing.assert_allclose(ratios, (4350 / 2001) ** (1 / 15), rtol=1e-12)
    assert log_bins(round_gev=True).tolist() == AUTHORS_EDGES
    np.testing.assert_allclose(np.round(edges), AUTHORS_EDGES)


def test_log_bins_general_and_errors():
    np.testing.assert_allclose(log_bins(10.0, 1000.0, 2), [10.0, 100.0, 1000.0], rtol=1e-12)
    for bad in [dict(n=0), dict(n=2.5), dict(lo=0.0), dict(lo=5000.0), dict(hi=np.inf)]:
        with pytest.raises(ValueError):
            log_bins(**bad)


def test_signal_region_hand_cases():
    unit = [0, 1, 2, 3, 4, 5, 6]  # 6 unit bins
    assert signal_region(unit, 3.5) == (2, 5)  # bin 3 in the middle
    assert signal_region(unit, 3.0) == (2, 5)  # an edge belongs to the bin above it
    assert signal_region(unit, 2.99) == (1, 4)
    assert signal_region(unit, 3.5, n_bins=1) == (3, 4)
    assert signal_region(unit, 3.2, n_bins=2) == (2, 4)  # nearest edge 3 is the middle
    assert signal_region(unit, 3.7, n_bins=2) == (3, 5)  # nearest edge 4
    assert signal_region(unit, 3.0, n_bins=6) == (0, 6)
    assert signal_region(EDGES, 3500.0) == REGION
    assert signal_region(EDGES, 2050.0, n_bins=1) == (0, 1)
    assert signal_region(EDGES, 4350.0, n_bins=1) == (14, 15)  # top edge: last bin
    i0, i1 = signal_region(EDGES, 3000.0, n_bins=5)
    assert i1 - i0 == 5 and EDGES[i0 + 2] <= 3000.0 < EDGES[i0 + 3]


def test_signal_region_errors():
    with pytest.raises(ValueError, match="outside the binned range"):
        signal_region(EDGES, 5000.0)
    with pytest.raises(ValueError, match="outside"):
        signal_region(EDGES, 2050.0)  # 3 bins around the first bin stick out
    with pytest.raises(ValueError, match="n_bins"):
        signal_region(EDGES, 3000.0, n_bins=16)
    with pytest.raises(ValueError, match="strictly increasing"):
        signal_region([1.0, 3.0, 2.0], 2.5, n_bins=1)


def test_sidebands_hand_cases():
    assert sidebands(EDGES, REGION) == ((7, 9), (12, 14))
    assert sidebands(EDGES, (2, 5)) == ((0, 2), (5, 7))
    assert sidebands(EDGES, (10, 13)) == ((8, 10), (13, 15))
    assert sidebands(EDGES, (4, 7), n_bins=1) == ((3, 4), (7, 8))
    with pytest.raises(ValueError, match="2 sideband bins are needed"):
        sidebands(EDGES, (1, 4))
    with pytest.raises(ValueError, match="2 sideband bins are needed"):
        sidebands(EDGES, (11, 14))
    with pytest.raises(ValueError, match="region"):
        sidebands(EDGES, (5, 5))
    with pytest.raises(ValueError, match="region"):
        sidebands(EDGES, 7)


# ----------------------------------------------------------------------------- fit_sidebands


def test_fit_recovers_the_true_background(big_sample, big_fit):
    n = len(big_sample)
    n_true = n * _true_fraction(*REGION)
    n_fit = big_fit.expected()
    assert abs(n_true - n_fit) / np.sqrt(n_true) < 3
    assert abs(n_true - n_fit) / big_fit.expected_uncertainty() < 3
    # goodness of fit: chi2/ndf ~ 1 (p-value not extreme)
    assert big_fit.ndf == 15 - 3 - 3
    assert stats.chi2.sf(big_fit.chi2, big_fit.ndf) > 1e-3
    # the shape parameters agree with the truth within their uncertainties
    errors = np.sqrt(np.diag(big_fit.cov))
    assert np.all(np.abs(big_fit.params[1:] - TRUE[1:]) < 3 * errors[1:])
    p0_true = n / _integral(EDGES[0], EDGES[-1])
    assert abs(big_fit.params[0] - p0_true) < 3 * errors[0]
    # bookkeeping
    assert big_fit.region == REGION
    assert big_fit.fitted.tolist() == [True] * 9 + [False] * 3 + [True] * 3
    assert big_fit.counts.sum() == n
    assert big_fit.observed() == np.sum((big_sample >= EDGES[9]) & (big_sample < EDGES[12]))
    assert big_fit.expected_per_bin().shape == (15,)


def _asimov(params, extra=0.0, per_bin=100):
    """Exact expected counts as weighted events: ``per_bin`` entries at each bin centre."""
    mu = np.array([_integral(a, b, params) for a, b in zip(EDGES[:-1], EDGES[1:])]) + extra
    centres = np.sqrt(EDGES[:-1] * EDGES[1:])
    return np.repeat(centres, per_bin), np.repeat(mu / per_bin, per_bin), mu


def test_fit_on_exact_counts_recovers_parameters():
    params = np.array([50.0, 12.0, 4.0])
    m, w, mu = _asimov(params)
    fit = fit_sidebands(m, EDGES, (5, 8), weights=w)
    np.testing.assert_allclose(fit.params, params, rtol=1e-6)
    assert fit.expected() == pytest.approx(mu[5:8].sum(), rel=1e-8)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-10)


def test_expected_uncertainty_matches_parameter_sampling(big_fit):
    # linear propagation agrees with sampling the parameters from their covariance; the
    # likelihood is Gaussian in (ln p0, p1, p2) (the log of the shape is linear in them), far
    # from Gaussian in p0 itself (35 % relative uncertainty, strongly correlated with p1, p2)
    rng = np.random.default_rng(5)
    p0 = big_fit.params[0]
    d = np.diag([1.0 / p0, 1.0, 1.0])
    log_params = np.r_[np.log(p0), big_fit.params[1:]]
    draws = rng.multivariate_normal(log_params, d @ big_fit.cov @ d, size=4000)
    draws[:, 0] = np.exp(draws[:, 0])
    lo, hi = EDGES[REGION[0]], EDGES[REGION[1]]
    grid = np.geomspace(lo, hi, 400)
    sampled = [integrate.trapezoid(dijet_function(grid, *p), grid) for p in draws]
    assert np.std(sampled) == pytest.approx(big_fit.expected_uncertainty(), rel=0.05)
    # and the default range is the signal region
    assert big_fit.expected_uncertainty() == big_fit.expected_uncertainty(*REGION)


def test_equal_weights_scale_counts_not_shapes(big_sample, big_fit):
    w = np.full(len(big_sample), 0.25)
    fit = fit_sidebands(big_sample, EDGES, REGION, weights=w)
    assert fit.weight_scale == pytest.approx(0.25)
    np.testing.assert_allclose(fit.params[1:], big_fit.params[1:], rtol=1e-6)
    assert fit.expected() == pytest.approx(0.25 * big_fit.expected(), rel=1e-6)
    # a weighted count 0.25 n has the uncertainty 0.25 sqrt(n)
    sigma = big_fit.expected_uncertainty()
    assert fit.expected_uncertainty() == pytest.approx(0.25 * sigma, rel=1e-5)
    assert fit.chi2 == pytest.approx(big_fit.chi2, rel=1e-5)
    unit = fit_sidebands(big_sample, EDGES, REGION, weights=np.ones(len(big_sample)))
    np.testing.assert_allclose(unit.params, big_fit.params, rtol=1e-9)


def test_events_outside_the_edges_are_ignored(big_sample, big_fit):
    extra = np.r_[big_sample, [1000.0, 1999.0, 4350.5, 6000.0]]
    fit = fit_sidebands(extra, EDGES, REGION)
    np.testing.assert_array_equal(fit.counts, big_fit.counts)
    np.testing.assert_allclose(fit.params, big_fit.params, rtol=1e-12)


def test_background_only_pseudo_experiments_are_calibrated():
    """200 background-only pseudo-experiments of ~20k events (Poisson-distributed total).

    * the reported uncertainty of the SR prediction equals the spread of the prediction;
    * the local significance, including that uncertainty, follows the one-sided asymptotic
      distribution: half of the experiments at Z = 0, P(Z > 1) = 15.9 %, P(Z > 2) = 2.3 %.
    """
    n_exp, mean_events = 200, 20_000
    b_true = mean_events * _true_fraction(*REGION)
    deviation, uncertainty, z, z_no_unc, chi2 = [], [], [], [], []
    for seed in range(n_exp):
        fit = fit_sidebands(_poisson_sample(100 + seed, mean_events), EDGES, REGION)
        b, sigma_b = fit.expected(), fit.expected_uncertainty()
        deviation.append(b - b_true)
        uncertainty.append(sigma_b)
        z.append(local_significance(fit.observed(), b, sigma_b))
        z_no_unc.append(local_significance(fit.observed(), b))
        chi2.append(fit.chi2 / fit.ndf)
    deviation, z, z_no_unc = np.array(deviation), np.array(z), np.array(z_no_unc)
    # unbiased and calibrated background prediction (200 samples: ~5 % precision on a spread)
    assert abs(deviation.mean()) < 3 * deviation.std() / np.sqrt(n_exp)
    assert deviation.std() / np.mean(uncertainty) == pytest.approx(1.0, abs=0.2)
    assert np.mean(chi2) == pytest.approx(1.0, abs=0.2)  # sd of the mean ~ sqrt(2/9/200) = 0.03
    # significance distribution: binomial bands of about +-3.5 sigma
    n_pos, n_1, n_2 = np.sum(z > 0), np.sum(z > 1), np.sum(z > 2)
    assert 75 <= n_pos <= 125  # expect 100 +- 7
    assert 14 <= n_1 <= 50  # expect 31.7 +- 5.2
    assert n_2 <= 12  # expect 4.6 +- 2.1 (p_value(2) = 2.3 %)
    assert n_2 / n_exp < 3 * p_value(2.0)
    # ignoring the background uncertainty can only increase Z
    assert np.all(z_no_unc >= z - 1e-12)


@pytest.fixture(scope="module")
def injected():
    """200k background events plus a Gaussian bump at 3.5 TeV (width 100 GeV), S/sqrt(B) = 10."""
    rng = np.random.default_rng(7)
    background = _sample(rng, 200_000)
    b_true = len(background) * _true_fraction(*REGION)
    lo, hi = EDGES[REGION[0]], EDGES[REGION[1]]
    in_sr = stats.norm.cdf(hi, 3500.0, 100.0) - stats.norm.cdf(lo, 3500.0, 100.0)
    n_signal = int(round(10 * np.sqrt(b_true) / in_sr))
    signal = rng.normal(3500.0, 100.0, size=n_signal)
    return background, signal, b_true, n_signal * in_sr


def test_injected_bump_gives_the_naive_significance(injected):
    background, signal, b_true, s_true = injected
    naive = s_true / np.sqrt(b_true)  # = 10
    fit = fit_sidebands(np.r_[background, signal], EDGES, REGION)
    z = local_significance(fit.observed(), fit.expected())
    assert z == pytest.approx(naive, rel=0.2)
    sigma_b = fit.expected_uncertainty()
    z_unc = local_significance(fit.observed(), fit.expected(), sigma_b)
    assert z_unc == pytest.approx(s_true / np.sqrt(b_true + sigma_b**2), rel=0.2)
    assert z_unc < z
    assert p_value(z) < 1e-15
    # the fitted signal yield
    assert fit.observed() - fit.expected() == pytest.approx(s_true, rel=0.2)


def test_no_bump_without_injection(injected):
    background, _, _, _ = injected
    fit = fit_sidebands(background, EDGES, REGION)
    assert local_significance(fit.observed(), fit.expected(), fit.expected_uncertainty()) < 2.0
    assert local_significance(fit.observed(), fit.expected()) < 3.0


def test_injection_on_exact_counts_gives_the_asimov_formula():
    params = np.array([50.0, 12.0, 4.0])
    signal = np.zeros(15)
    signal[[5, 6, 7]] = [20.0, 60.0, 20.0]
    m, w, mu = _asimov(params, extra=signal)
    mu -= signal
    fit = fit_sidebands(m, EDGES, (5, 8), weights=w)
    b, s = mu[5:8].sum(), 100.0
    assert fit.observed() == pytest.approx(b + s, rel=1e-12)
    asimov = np.sqrt(2 * ((s + b) * np.log(1 + s / b) - s))
    assert local_significance(fit.observed(), fit.expected()) == pytest.approx(asimov, rel=1e-6)
    assert asimov == pytest.approx(s / np.sqrt(b), rel=0.05)


# ----------------------------------------------------------------------------- fit errors


def test_fit_too_few_events():
    m = _sample(np.random.default_rng(0), 15)
    with pytest.raises(ValueError, match=r"too little data.*need at least 4 bins.*20 events"):
        fit_sidebands(m, EDGES, REGION)
    # all events in two bins outside the region
    centres = np.sqrt(EDGES[:-1] * EDGES[1:])
    with pytest.raises(ValueError, match=r"\(2 non-empty\)"):
        fit_sidebands(np.repeat(centres[[0, 1]], 50), EDGES, REGION)
    # too few bins: 5 bins with a 3-bin region leave 2
    few = log_bins(n=5)
    with pytest.raises(ValueError, match="2 bins"):
        fit_sidebands(_sample(np.random.default_rng(0), 1000), few, (1, 4))


def test_fit_with_few_events_still_runs():
    m = _sample(np.random.default_rng(3), 300)
    fit = fit_sidebands(m, EDGES, (4, 7))
    assert np.all(np.isfinite(fit.params)) and np.all(np.isfinite(fit.cov))
    assert fit.expected() > 0 and fit.expected_uncertainty() > 0


@pytest.mark.parametrize("region", [(0, 3), (12, 15), (0, 15)])
def test_fit_region_at_the_edge(region):
    m = _sample(np.random.default_rng(0), 5000)
    with pytest.raises(ValueError, match="no sideband bin"):
        fit_sidebands(m, EDGES, region)


def test_fit_input_errors():
    m = _sample(np.random.default_rng(0), 5000)
    with pytest.raises(ValueError, match="one entry per event"):
        fit_sidebands(m, EDGES, REGION, weights=np.ones(4999))
    w = np.ones(5000)
    w[m < EDGES[1]] = -1.0
    with pytest.raises(ValueError, match=r"bins \[0\] have negative"):
        fit_sidebands(m, EDGES, REGION, weights=w)
    with pytest.raises(ValueError, match="NaN"):
        fit_sidebands(np.r_[m, np.nan], EDGES, REGION)
    with pytest.raises(ValueError, match="NaN"):
        fit_sidebands(m, EDGES, REGION, weights=np.r_[np.ones(4999), np.nan])
    with pytest.raises(ValueError, match="1-D"):
        fit_sidebands(m.reshape(-1, 2), EDGES, REGION)
    with pytest.raises(ValueError, match="strictly increasing"):
        fit_sidebands(m, EDGES[::-1], REGION)
    with pytest.raises(ValueError, match="sqrt_s"):
        fit_sidebands(m, EDGES, REGION, sqrt_s=4000.0)
    with pytest.raises(ValueError, match="region"):
        fit_sidebands(m, EDGES, (5, 20))
    with pytest.raises(ValueError, match="region"):
        fit_sidebands(m, EDGES, (5, 5))


# ----------------------------------------------------------------------------- significance


def test_local_significance_without_uncertainty():
    n, b = 130.0, 100.0
    assert local_significance(n, b) == pytest.approx(np.sqrt(2 * (n * np.log(n / b) - (n - b))))
    assert local_significance(100, 100) == 0.0
    assert local_significance(50, 100) == 0.0
    assert local_significance(0, 3.0) == 0.0
    # large b, small s: s / sqrt(b)
    assert local_significance(1e6 + 3000, 1e6) == pytest.approx(3.0, rel=1e-3)


def _on_off_profile_z(n, b, sigma_b):
    """Z from a numerical profile-likelihood ratio for n ~ Pois(s + b), m ~ Pois(tau b).

    The auxiliary count is m = tau b with tau = b / sigma_b^2 (Cowan's construction); the
    likelihoods are maximised numerically, without the closed form.
    """
    tau = b / sigma_b**2
    m = tau * b

    def nll(s, bb):
        if s + bb <= 0:
            return np.inf
        return -(n * np.log(s + bb) - (s + bb)) - (m * np.log(tau * bb) - tau * bb)

    null = optimize.minimize_scalar(lambda bb: nll(0.0, bb), bounds=(1e-6 * b, 10 * b + 10 * n),
                                    method="bounded", options={"xatol": 1e-10})
    free = optimize.minimize(lambda p: nll(p[0], p[1]), x0=[n - b, b], method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
    return np.sqrt(max(2 * (null.fun - free.fun), 0.0))


@pytest.mark.parametrize(
    "n, b, sigma_b", [(130, 100, 10), (25, 10, 5), (1200, 1000, 80), (8, 2, 1), (500, 100, 200)]
)
def test_local_significance_matches_on_off_profile_likelihood(n, b, sigma_b):
    expected = _on_off_profile_z(n, b, sigma_b)
    assert local_significance(n, b, sigma_b) == pytest.approx(expected, rel=1e-4)


def test_local_significance_uncertainty_limits():
    n, b = 1200.0, 1000.0
    z0 = local_significance(n, b)
    assert local_significance(n, b, 1e-4) == pytest.approx(z0, rel=1e-6)
    assert local_significance(n, b, 1e-7) == pytest.approx(z0, rel=1e-9)
    zs = [local_significance(n, b, s) for s in [0, 1, 10, 30, 100, 300, 1e4]]
    assert all(a > c for a, c in zip(zs, zs[1:]))  # strictly decreasing in sigma_b
    assert zs[-1] < 0.05  # a background known to +-10^4 cannot show a 200-event excess
    # small excess: s / sqrt(b + sigma_b^2)
    z = local_significance(1e6 + 3000, 1e6, 1000.0)
    assert z == pytest.approx(3000 / np.sqrt(2e6), rel=2e-3)
    assert local_significance(900, 1000, 50.0) == 0.0


def test_local_significance_errors():
    bad = [(-1, 10), (np.nan, 10), (10, 0), (10, -1), (10, np.inf), (10, 5, -1), (10, 5, np.nan)]
    for args in bad:
        with pytest.raises(ValueError):
            local_significance(*args)


def test_p_value():
    assert p_value(0.0) == pytest.approx(0.5)
    assert p_value(1.0) == pytest.approx(0.158655, abs=1e-6)
    assert p_value(2.0) == pytest.approx(0.0227501, abs=1e-7)
    assert p_value(5.0) == pytest.approx(2.8665e-7, rel=1e-4)
    assert p_value(10.0) == pytest.approx(7.6e-24, rel=0.01)  # no underflow to 0 at 10 sigma
    assert p_value(stats.norm.isf(1e-3)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="NaN"):
        p_value(np.nan)


# ----------------------------------------------------------------------------- global significance


def _null_scan_max(rng, n_pseudo, n_tests, rho):
    """Largest one-sided Z of ``n_tests`` equicorrelated standard normal tests (correlation
    ``rho``) in each of ``n_pseudo`` pseudo-experiments; deficits count as Z = 0."""
    common = rng.standard_normal((n_pseudo, 1))
    own = rng.standard_normal((n_pseudo, n_tests))
    z = np.sqrt(rho) * common + np.sqrt(1.0 - rho) * own
    return np.maximum(z, 0.0).max(axis=1)


def test_global_significance_of_independent_tests_is_the_sidak_formula():
    # 9 independent tests: p_global = 1 - (1 - p_local)^9 exactly (Sidak); 20 000 pseudo-
    # experiments determine p_global(Z = 2) = 0.187 to +-0.003
    null = _null_scan_max(np.random.default_rng(11), 20_000, 9, rho=0.0)
    g = global_significance(2.0, null)
    p_local = p_value(2.0)
    expected = 1.0 - (1.0 - p_local) ** 9
    assert g.p_local == pytest.approx(p_local)
    assert g.n_trials == 20_000 and not g.is_limit
    assert abs(g.p - expected) < 4 * g.p_error
    assert g.p_error == pytest.approx(np.sqrt(expected * (1 - expected) / 20_000), rel=0.05)
    assert g.z == pytest.approx(stats.norm.isf(g.p))
    assert g.z < 2.0  # the look-elsewhere effect only lowers a significance
    assert effective_trials(g.p_local, g.p) == pytest.approx(9.0, rel=0.05)


def test_correlated_tests_have_fewer_effective_trials():
    rng = np.random.default_rng(12)
    p_local = p_value(2.0)
    n_eff = {rho: effective_trials(p_local, global_significance(2.0, _null_scan_max(
        rng, 20_000, 9, rho)).p) for rho in (0.0, 0.5, 0.9, 1.0)}
    assert n_eff[1.0] == pytest.approx(1.0, rel=0.1)  # one test repeated nine times
    assert n_eff[0.0] > n_eff[0.5] > n_eff[0.9] > n_eff[1.0]
    assert n_eff[0.0] == pytest.approx(9.0, rel=0.05)


def test_global_significance_bound_and_counting():
    null = np.array([0.0, 0.5, 1.0, 1.0, 2.0])
    g = global_significance(1.0, null)  # ties count as at least as extreme
    assert (g.n_exceed, g.p, g.is_limit) == (3, 0.6, False)
    assert g.z == 0.0  # p > 0.5: no excess, clipped at zero as a local significance is
    g = global_significance(2.5, null)  # nothing reaches it: only the bound 1/N
    assert g.is_limit and g.n_exceed == 0 and g.p == pytest.approx(0.2) and g.p_error == 0.0
    assert g.z == pytest.approx(stats.norm.isf(0.2)) == pytest.approx(g.z_limit)
    assert global_significance(0.0, null).p == 1.0
    # the resolution grows with the number of pseudo-experiments
    assert global_significance(9.0, np.zeros(1000)).z_limit == pytest.approx(3.0902, abs=1e-4)


def test_global_significance_errors():
    for bad in ([], [[1.0, 2.0]], [1.0, np.nan]):
        with pytest.raises(ValueError, match="null_max_z"):
            global_significance(2.0, bad)
    with pytest.raises(ValueError, match="z_observed"):
        global_significance(np.inf, [1.0])
    for pl, pg in [(0.0, 0.5), (0.5, 1.0), (-0.1, 0.2), (np.nan, 0.2)]:
        with pytest.raises(ValueError, match="strictly between"):
            effective_trials(pl, pg)
