"""Tests of jetad_utils.metrics, cross-checked against scikit-learn and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from jetad_utils.metrics import (
    efficiency_at_rejection,
    roc_auc,
    roc_curve,
    sic_curve,
    significance_improvement,
)


def _random_case(seed, n=2000, kind="continuous"):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    if kind == "continuous":
        s = rng.normal(size=n) + 0.8 * y
    elif kind == "ties":  # only 5 distinct values: heavy ties
        s = np.round(rng.normal(size=n) + 0.8 * y).clip(-2, 2) / 2.0
    elif kind == "integer":
        s = rng.integers(0, 10, size=n) + 2 * y
    else:  # pragma: no cover
        raise AssertionError(kind)
    return y, s


# ----------------------------------------------------------------------------- roc_curve


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["continuous", "ties", "integer"])
def test_roc_curve_matches_sklearn(seed, kind):
    y, s = _random_case(seed, kind=kind)
    eb, es, thr = roc_curve(y, s)
    fpr, tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(eb, fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(es, tpr, rtol=0, atol=1e-12)
    assert thr[0] == np.inf
    np.testing.assert_array_equal(thr[1:], sk_thr[1:])


def test_roc_curve_hand_computed():
    eb, es, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert eb.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert es.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert thr.tolist() == [np.inf, 0.8, 0.4, 0.35, 0.1]


def test_roc_curve_ties_make_one_point():
    # one signal and one background share the score 0.5: a single diagonal step
    eb, es, thr = roc_curve([0, 1, 1, 0], [0.5, 0.5, 0.9, 0.1])
    assert eb.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert es.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert thr.tolist() == [np.inf, 0.9, 0.5, 0.1]


def test_roc_curve_monotone_and_endpoints():
    y, s = _random_case(5)
    eb, es, thr = roc_curve(y, s)
    assert (eb[0], es[0]) == (0.0, 0.0)
    assert (eb[-1], es[-1]) == (1.0, 1.0)
    assert np.all(np.diff(eb) >= 0) and np.all(np.diff(es) >= 0)
    assert np.all(np.diff(thr) < 0)


def test_roc_curve_accepts_bool_and_float_labels():
    y, s = _random_case(3, n=300)
    ref = roc_curve(y, s)
    for labels in (y.astype(bool), y.astype(float), list(y)):
        got = roc_curve(labels, s)
        for a, b in zip(got, ref):
            np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- roc_auc


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("kind", ["continuous", "ties", "integer"])
def test_roc_auc_matches_sklearn(seed, kind):
    y, s = _random_case(seed, kind=kind)
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_roc_auc_all_tied_is_half():
    y = np.r_[np.zeros(50, int), np.ones(30, int)]
    assert roc_auc(y, np.full(80, 3.0)) == 0.5
    assert roc_auc([0, 1], [1.0, 1.0]) == 0.5


def test_roc_auc_hand_computed():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 0, 1, 1], [0, 1, 2, 3]) == 1.0
    assert roc_auc([0, 0, 1, 1], [3, 2, 1, 0]) == 0.0
    # pairs (s, b): (1 vs 1) tie = 1/2, (1 vs 0) = 1, (2 vs 1) = 1, (2 vs 0) = 1 -> 3.5 / 4
    assert roc_auc([0, 0, 1, 1], [1, 0, 1, 2]) == 0.875


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["continuous", "ties", "integer"])
def test_roc_auc_wrong_sign_gives_complement(seed, kind):
    y, s = _random_case(seed, kind=kind)
    auc = roc_auc(y, s)
    assert auc > 0.6  # the toy score is informative
    assert roc_auc(y, -s) == pytest.approx(1 - auc, abs=1e-12)


def test_roc_auc_is_area_under_roc_curve():
    y, s = _random_case(7, kind="ties")
    eb, es, _ = roc_curve(y, s)
    assert roc_auc(y, s) == pytest.approx(np.trapezoid(es, eb), abs=1e-12)


def test_roc_auc_random_score_near_half():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, size=200_000)
    s = rng.random(200_000)
    assert roc_auc(y, s) == pytest.approx(0.5, abs=0.005)


def test_roc_auc_large_counts_no_overflow():
    # n_s * n_b ~ 2.5e11 overflows 32-bit integers
    n = 1_000_000
    y = np.r_[np.zeros(n // 2, dtype=np.int32), np.ones(n // 2, dtype=np.int32)]
    s = np.r_[np.zeros(n // 2), np.ones(n // 2)]
    assert roc_auc(y, s) == 1.0


# ----------------------------------------------------------------------------- sic_curve


def test_sic_curve_hand_computed():
    # 4 background at 0..3, 2 signal at 4, 5. Thresholds with >= 1 background:
    # cut 3 -> eps_b 1/4, eps_s 1 -> SIC 2; cut 2 -> 1/2 -> sqrt 2; cut 1 -> 3/4; cut 0 -> 1
    es, sic = sic_curve([0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 4, 5])
    assert es.tolist() == [1.0, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(sic, [2.0, np.sqrt(2), 1 / np.sqrt(0.75), 1.0], rtol=1e-12)


def test_sic_curve_min_background_drops_points():
    y = [0, 0, 0, 0, 1, 1]
    s = [0, 1, 2, 3, 4, 5]
    es2, sic2 = sic_curve(y, s, min_background=2)
    np.testing.assert_allclose(sic2, [np.sqrt(2), 1 / np.sqrt(0.75), 1.0], rtol=1e-12)
    assert es2.tolist() == [1.0, 1.0, 1.0]
    es4, sic4 = sic_curve(y, s, min_background=4)
    assert es4.tolist() == [1.0] and sic4.tolist() == [1.0]
    es5, sic5 = sic_curve(y, s, min_background=5)
    assert len(es5) == 0 and len(sic5) == 0


def test_sic_curve_mixed_hand_computed():
    # scores (label): 5(1) 4(0) 3(1) 2(0) 1(0) 0(1); n_s = 3, n_b = 3
    y = [1, 0, 1, 0, 0, 1]
    s = [5, 4, 3, 2, 1, 0]
    es, sic = sic_curve(y, s)
    # points with >= 1 background: (eb, es) = (1/3, 1/3), (1/3, 2/3), (2/3, 2/3), (1, 2/3), (1, 1)
    np.testing.assert_allclose(es, [1 / 3, 2 / 3, 2 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(
        sic, [(1 / 3) / np.sqrt(1 / 3), (2 / 3) / np.sqrt(1 / 3), (2 / 3) / np.sqrt(2 / 3), 2 / 3, 1.0]
    )


def test_sic_curve_finite_everywhere():
    y, s = _random_case(0)
    es, sic = sic_curve(y, s)
    assert np.all(np.isfinite(sic)) and len(sic) > 100


@pytest.mark.parametrize("bad", [0, -3])
def test_sic_curve_bad_min_background(bad):
    with pytest.raises(ValueError, match="min_background"):
        sic_curve([0, 1], [0.0, 1.0], min_background=bad)


# ----------------------------------------------------------- efficiency / significance at a point

Y_DOC = [0] * 100 + [1] * 4
S_DOC = list(range(100)) + [99.5, 98.5, 50, 10]


def test_efficiency_at_rejection_hand_computed():
    assert efficiency_at_rejection(Y_DOC, S_DOC, rejection=100) == 0.5
    assert efficiency_at_rejection(Y_DOC, S_DOC, rejection=2) == 0.75
    assert efficiency_at_rejection(Y_DOC, S_DOC, rejection=1) == 1.0


def test_efficiency_at_rejection_on_roc_points():
    # scores (label) 10(1) 9(0) 8(0) 7(1): ROC (0,0) (0,1/2) (1/2,1/2) (1,1/2) (1,1)
    y = [1, 0, 0, 1]
    s = [10, 9, 8, 7]
    assert efficiency_at_rejection(y, s, rejection=2) == pytest.approx(0.5)
    assert efficiency_at_rejection(y, s, rejection=3) == pytest.approx(0.5)  # flat segment
    assert efficiency_at_rejection(y, s, rejection=1) == pytest.approx(1.0)


def _staircase_eps_s(eps_b_target, y, s):
    """Reference: eps_s at eps_b_target, walking along the ROC polyline point by point."""
    eb, es, _ = roc_curve(y, s)
    i = np.searchsorted(eb, eps_b_target, side="right") - 1  # last point with eps_b <= target
    if eb[i] == eps_b_target or i == len(eb) - 1:
        return es[i]
    x1, y1, x2, y2 = eb[i], es[i], eb[i + 1], es[i + 1]
    return y1 + (y2 - y1) * (eps_b_target - x1) / (x2 - x1)


# The ROC here is (0,0) (0,1/2) (1/2,1/2) (1/2,1) (1,1): at eps_b = 1/4 the curve is on the flat
# segment from (0,1/2) to (1/2,1/2), so eps_s = 1/2, not 0.75 (the chord from (0,1/2) to
# (1/2,1), which would overestimate the signal efficiency and the SIC).
def test_efficiency_at_rejection_follows_roc_staircase():
    y = [1, 0, 1, 0]
    s = [10, 9, 8, 7]
    assert efficiency_at_rejection(y, s, rejection=4) == pytest.approx(0.5)
    assert significance_improvement(y, s, eps_b=0.25) == pytest.approx(0.5 / 0.5)
    # ROC (0,0) (0,1/2) (1/2,1/2) (1,1/2) (1,1): flat at 1/2 for every eps_b < 1
    assert efficiency_at_rejection([1, 0, 0, 1], [10, 9, 8, 7], rejection=1 / 0.75) == pytest.approx(0.5)
    # random small samples (with ties) against the point-by-point reference
    for seed in range(5):
        yr, sr = _random_case(seed, n=60, kind="integer")
        for rej in (1.3, 2, 5, 10, 30):
            assert efficiency_at_rejection(yr, sr, rejection=rej) == pytest.approx(
                _staircase_eps_s(1 / rej, yr, sr), abs=1e-12
            )


def test_efficiency_at_rejection_linear_between_points():
    # ties between signal and background make a diagonal ROC segment, interpolated linearly
    y = [0, 1, 0, 1]
    s = [1.0, 1.0, 0.0, 0.0]  # points (0,0), (1/2,1/2), (1,1)
    assert efficiency_at_rejection(y, s, rejection=4) == pytest.approx(0.25)
    assert significance_improvement(y, s, eps_b=0.25) == pytest.approx(0.25 / 0.5)


def test_perfect_score():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(1000, int), np.ones(100, int)]
    s = np.r_[rng.random(1000), 2 + rng.random(100)]
    assert efficiency_at_rejection(y, s, rejection=100) == 1.0
    assert efficiency_at_rejection(y, s, rejection=1e6) == 1.0
    assert significance_improvement(y, s, eps_b=0.01) == pytest.approx(10.0)
    assert roc_auc(y, s) == 1.0


def test_reversed_score_gives_zero():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(1000, int), np.ones(100, int)]
    s = np.r_[2 + rng.random(1000), rng.random(100)]
    assert efficiency_at_rejection(y, s, rejection=100) == pytest.approx(0.0, abs=1e-12)
    assert significance_improvement(y, s, eps_b=0.01) == pytest.approx(0.0, abs=1e-12)
    assert roc_auc(y, s) == 0.0


def test_reversed_overlapping_score_small():
    y, s = _random_case(2, n=50_000)
    assert efficiency_at_rejection(y, -s, rejection=100) < 0.002


def test_random_score_at_rejection_100():
    rng = np.random.default_rng(42)
    n = 400_000
    y = rng.integers(0, 2, size=n)
    s = rng.random(n)
    eff = efficiency_at_rejection(y, s, rejection=100)
    assert eff == pytest.approx(0.01, abs=0.002)
    # SIC of a random score: eps_b / sqrt(eps_b) = sqrt(eps_b)
    assert significance_improvement(y, s, eps_b=0.01) == pytest.approx(0.1, abs=0.02)
    assert significance_improvement(y, s, eps_b=1.0) == pytest.approx(1.0)


def test_significance_improvement_hand_computed():
    assert significance_improvement(Y_DOC, S_DOC, eps_b=0.01) == pytest.approx(5.0)
    assert significance_improvement(Y_DOC, S_DOC, eps_b=0.5) == pytest.approx(0.75 / np.sqrt(0.5))
    assert significance_improvement(Y_DOC, S_DOC, eps_b=1.0) == pytest.approx(1.0)


def test_point_metrics_consistent_with_sic():
    y, s = _random_case(9, n=20_000)
    for eb in (0.01, 0.1, 0.5):
        assert significance_improvement(y, s, eps_b=eb) == pytest.approx(
            efficiency_at_rejection(y, s, rejection=1 / eb) / np.sqrt(eb), rel=1e-9
        )


# ----------------------------------------------------------------------------- validation

ALL_CURVES = [
    pytest.param(roc_curve, id="roc_curve"),
    pytest.param(roc_auc, id="roc_auc"),
    pytest.param(sic_curve, id="sic_curve"),
    pytest.param(lambda y, s: efficiency_at_rejection(y, s, 100), id="efficiency_at_rejection"),
    pytest.param(lambda y, s: significance_improvement(y, s, 0.1), id="significance_improvement"),
]


@pytest.mark.parametrize("fn", ALL_CURVES)
def test_mismatched_lengths(fn):
    with pytest.raises(ValueError, match=r"different lengths \(3 and 2\)"):
        fn([0, 1, 0], [0.1, 0.2])


@pytest.mark.parametrize("fn", ALL_CURVES)
def test_only_signal(fn):
    with pytest.raises(ValueError, match="only signal events"):
        fn([1, 1, 1], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("fn", ALL_CURVES)
def test_only_background(fn):
    with pytest.raises(ValueError, match="only background events"):
        fn([0, 0, 0], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("fn", ALL_CURVES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_score(fn, bad):
    with pytest.raises(ValueError, match=r"score contains 1 NaN or infinite"):
        fn([0, 1, 0, 1], [0.1, bad, 0.3, 0.4])


def test_non_finite_count_reported():
    with pytest.raises(ValueError, match=r"score contains 2 NaN or infinite"):
        roc_auc([0, 1, 0, 1], [np.nan, np.inf, 0.3, 0.4])


@pytest.mark.parametrize("fn", ALL_CURVES)
def test_two_dimensional_input(fn):
    with pytest.raises(ValueError, match="1-D"):
        fn([[0, 1], [1, 0]], [[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(ValueError, match="1-D"):
        fn([0, 1, 1, 0], np.zeros((4, 1)))


@pytest.mark.parametrize("fn", ALL_CURVES)
@pytest.mark.parametrize("labels", [[0, 2, 0, 2], [-1, 1, -1, 1], [0, 1, 0, 0.5]])
def test_labels_other_than_0_1(fn, labels):
    with pytest.raises(ValueError, match="only 0 .background. and 1 .signal."):
        fn(labels, [0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize("rejection", [0.5, 0, -10, np.nan, np.inf])
def test_bad_rejection(rejection):
    with pytest.raises(ValueError, match="rejection"):
        efficiency_at_rejection(Y_DOC, S_DOC, rejection=rejection)


@pytest.mark.parametrize("eps_b", [0, -0.1, 1.0001, 2, np.nan])
def test_bad_eps_b(eps_b):
    with pytest.raises(ValueError, match=r"eps_b must be in \(0, 1\]"):
        significance_improvement(Y_DOC, S_DOC, eps_b=eps_b)
