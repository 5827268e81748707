"""The checks of notebook 04's exercises accept right answers and name the mistake in wrong ones."""

from __future__ import annotations

import itertools

import numpy as np
import ot as pot
import pytest
from scipy.spatial.distance import cdist, pdist, squareform
from scipy.stats import pearsonr, rankdata, spearmanr, wasserstein_distance

from jetad_utils import ot
from jetad_utils.exercise_checks import ExerciseError
from jetad_utils.exercise_checks import nb04 as checks

SEEDS = (0, 1, 2)
RADIUS = 0.8


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise N.M: your code here")


# ----------------------------------------------------------------------------- 4.1

def w1_solution(u, v, u_weights=None, v_weights=None):
    u, v = np.asarray(u, float), np.asarray(v, float)
    uw = np.ones_like(u) if u_weights is None else np.asarray(u_weights, float)
    vw = np.ones_like(v) if v_weights is None else np.asarray(v_weights, float)
    x = np.sort(np.concatenate([u, v]))
    cdf_u = np.searchsorted(np.sort(u), x[:-1], side="right")
    cum_u = np.concatenate([[0.0], np.cumsum(uw[np.argsort(u)])]) / uw.sum()
    cum_v = np.concatenate([[0.0], np.cumsum(vw[np.argsort(v)])]) / vw.sum()
    cdf_v = np.searchsorted(np.sort(v), x[:-1], side="right")
    return float(np.sum(np.abs(cum_u[cdf_u] - cum_v[cdf_v]) * np.diff(x)))


def w1_alternative(u, v, u_weights=None, v_weights=None):
    """CDFs by explicit sums at every merged point (quadratic, but plain)."""
    u, v = np.asarray(u, float), np.asarray(v, float)
    uw = np.ones(len(u)) if u_weights is None else np.asarray(u_weights, float)
    vw = np.ones(len(v)) if v_weights is None else np.asarray(v_weights, float)
    x = np.unique(np.concatenate([u, v]))
    total = 0.0
    for left, right in itertools.pairwise(x):
        f_u = uw[u <= left].sum() / uw.sum()
        f_v = vw[v <= left].sum() / vw.sum()
        total += abs(f_u - f_v) * (right - left)
    return total


def w1_unweighted(u, v, u_weights=None, v_weights=None):
    return w1_solution(u, v)


def w1_weights_unsorted(u, v, u_weights=None, v_weights=None):
    u, v = np.asarray(u, float), np.asarray(v, float)
    uw = np.ones_like(u) if u_weights is None else np.asarray(u_weights, float)
    vw = np.ones_like(v) if v_weights is None else np.asarray(v_weights, float)
    x = np.sort(np.concatenate([u, v]))
    cum_u = np.concatenate([[0.0], np.cumsum(uw)]) / uw.sum()
    cum_v = np.concatenate([[0.0], np.cumsum(vw)]) / vw.sum()
    i_u = np.searchsorted(np.sort(u), x[:-1], side="right")
    i_v = np.searchsorted(np.sort(v), x[:-1], side="right")
    return float(np.sum(np.abs(cum_u[i_u] - cum_v[i_v]) * np.diff(x)))


def w1_side_left(u, v, u_weights=None, v_weights=None):
    u, v = np.asarray(u, float), np.asarray(v, float)
    uw = np.ones_like(u) if u_weights is None else np.asarray(u_weights, float)
    vw = np.ones_like(v) if v_weights is None else np.asarray(v_weights, float)
    x = np.sort(np.concatenate([u, v]))
    cum_u = np.concatenate([[0.0], np.cumsum(uw[np.argsort(u)])]) / uw.sum()
    cum_v = np.concatenate([[0.0], np.cumsum(vw[np.argsort(v)])]) / vw.sum()
    i_u = np.searchsorted(np.sort(u), x[:-1], side="left")
    i_v = np.searchsorted(np.sort(v), x[:-1], side="left")
    return float(np.sum(np.abs(cum_u[i_u] - cum_v[i_v]) * np.diff(x)))


def w1_unnormalised(u, v, u_weights=None, v_weights=None):
    u, v = np.asarray(u, float), np.asarray(v, float)
    uw = np.ones_like(u) if u_weights is None else np.asarray(u_weights, float)
    vw = np.ones_like(v) if v_weights is None else np.asarray(v_weights, float)
    x = np.sort(np.concatenate([u, v]))
    cum_u = np.concatenate([[0.0], np.cumsum(uw[np.argsort(u)])])
    cum_v = np.concatenate([[0.0], np.cumsum(vw[np.argsort(v)])])
    i_u = np.searchsorted(np.sort(u), x[:-1], side="right")
    i_v = np.searchsorted(np.sort(v), x[:-1], side="right")
    return float(np.sum(np.abs(cum_u[i_u] - cum_v[i_v]) * np.diff(x)))


def w1_squared(u, v, u_weights=None, v_weights=None):
    u, v = np.asarray(u, float), np.asarray(v, float)
    uw = np.ones_like(u) if u_weights is None else np.asarray(u_weights, float)
    vw = np.ones_like(v) if v_weights is None else np.asarray(v_weights, float)
    x = np.sort(np.concatenate([u, v]))
    cum_u = np.concatenate([[0.0], np.cumsum(uw[np.argsort(u)])]) / uw.sum()
    cum_v = np.concatenate([[0.0], np.cumsum(vw[np.argsort(v)])]) / vw.sum()
    i_u = np.searchsorted(np.sort(u), x[:-1], side="right")
    i_v = np.searchsorted(np.sort(v), x[:-1], side="right")
    return float(np.sum((cum_u[i_u] - cum_v[i_v]) ** 2 * np.diff(x)))


def w1_inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, 300), rng.normal(0.7, 1.5, 200), rng.random(300), rng.random(200)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [w1_solution, w1_alternative,
                                    lambda u, v, uw=None, vw=None: wasserstein_distance(u, v, uw, vw)])
def test_4_1_right_answers_pass(answer, seed, capsys):
    checks.exercise_4_1(answer, *w1_inputs(seed))
    assert capsys.readouterr().out == "Exercise 4.1: correct\n"


def test_4_1_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 4\.1 is not answered yet"):
        checks.exercise_4_1(stub)


@pytest.mark.parametrize("answer, cause", [
    (w1_unweighted, "weights are ignored"),
    (w1_weights_unsorted, "original order"),
    (w1_side_left, "just before each point"),
    (w1_unnormalised, "not normalised"),
    (w1_squared, "squared"),
    (lambda u, v, uw=None, vw=None: np.array([w1_solution(u, v, uw, vw)]), "return one number"),
])
def test_4_1_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_4_1(answer, *w1_inputs(0))


# ----------------------------------------------------------------------------- 4.2

def emd_solution(points_a, points_b, radius=RADIUS):
    w_a = points_a[:, 0] / points_a[:, 0].sum()
    w_b = points_b[:, 0] / points_b[:, 0].sum()
    cost = pot.dist(points_a[:, 1:] / radius, points_b[:, 1:] / radius, metric="euclidean")
    return pot.emd2(w_a, w_b, cost), w_a, w_b, cost


def emd_alternative(points_a, points_b, radius=RADIUS):
    """Broadcasting for the distances, the cost of the optimal plan summed by hand."""
    w_a, w_b = (p[:, 0] / np.sum(p[:, 0]) for p in (points_a, points_b))
    delta = points_a[:, None, 1:3] - points_b[None, :, 1:3]
    cost = np.sqrt((delta**2).sum(axis=-1)) / radius
    return float((pot.emd(w_a, w_b, cost) * cost).sum()), w_a, w_b, cost


def emd_not_over_r(points_a, points_b, radius=RADIUS):
    w_a, w_b = (p[:, 0] / p[:, 0].sum() for p in (points_a, points_b))
    cost = cdist(points_a[:, 1:], points_b[:, 1:])
    return pot.emd2(w_a, w_b, cost), w_a, w_b, cost


def emd_squared(points_a, points_b, radius=RADIUS):
    w_a, w_b = (p[:, 0] / p[:, 0].sum() for p in (points_a, points_b))
    cost = cdist(points_a[:, 1:] / radius, points_b[:, 1:] / radius, "sqeuclidean")
    return pot.emd2(w_a, w_b, cost), w_a, w_b, cost


def emd_unnormalised(points_a, points_b, radius=RADIUS):
    w_a, w_b = points_a[:, 0], points_b[:, 0]
    cost = cdist(points_a[:, 1:] / radius, points_b[:, 1:] / radius)
    return pot.emd2(w_a, w_b, cost), w_a, w_b, cost


def emd_plan(points_a, points_b, radius=RADIUS):
    w_a, w_b = (p[:, 0] / p[:, 0].sum() for p in (points_a, points_b))
    cost = cdist(points_a[:, 1:] / radius, points_b[:, 1:] / radius)
    return pot.emd(w_a, w_b, cost), w_a, w_b, cost


def emd_with_pt_column(points_a, points_b, radius=RADIUS):
    w_a, w_b = (p[:, 0] / p[:, 0].sum() for p in (points_a, points_b))
    cost = cdist(points_a / radius, points_b / radius)
    return pot.emd2(w_a, w_b, cost), w_a, w_b, cost


def jets(seed):
    """Two sparse 40 x 40 pT images as ot.image_points rows, as in the notebook."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        img = rng.exponential(size=(40, 40)) * (rng.random((40, 40)) < 0.03)
        img[20, 20] += 3.0
        out.append(ot.image_points((img / img.sum()).astype(np.float32), RADIUS))
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [emd_solution, emd_alternative])
def test_4_2_right_answers_pass(answer, seed, capsys):
    a, b = jets(seed)
    checks.exercise_4_2(answer, a, b, RADIUS)
    assert capsys.readouterr().out == "Exercise 4.2: correct\n"


def dense_jets(seed, occupancy):
    """Jets with many pixels, several on the same pixels (as full mode's jets): there POT's
    euclidean distance differs from the exact one by ~1e-8 at zero distance."""
    rng = np.random.default_rng(100 + seed)
    out = []
    for _ in range(2):
        img = rng.exponential(size=(40, 40)) * (rng.random((40, 40)) < occupancy)
        img[18:23, 18:23] += 1.0
        out.append(ot.image_points((img / img.sum()).astype(np.float32), RADIUS))
    return out


@pytest.mark.parametrize("occupancy", [0.1, 0.3])
@pytest.mark.parametrize("seed", SEEDS)
def test_4_2_the_notebook_solution_passes_on_dense_jets(seed, occupancy, capsys):
    a, b = dense_jets(seed, occupancy)
    # the rounding this test is about is really there
    assert np.abs(pot.dist(a[:, 1:] / RADIUS, b[:, 1:] / RADIUS, metric="euclidean")
                  - cdist(a[:, 1:] / RADIUS, b[:, 1:] / RADIUS)).max() > 1e-12
    checks.exercise_4_2(emd_solution, a, b, RADIUS)
    assert capsys.readouterr().out == "Exercise 4.2: correct\n"


@pytest.mark.parametrize("answer, cause", [(emd_not_over_r, "divide the positions"),
                                           (emd_squared, "squared distance")])
def test_4_2_wrong_answers_are_still_named_on_dense_jets(answer, cause):
    a, b = dense_jets(0, 0.3)
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_4_2(answer, a, b, RADIUS)


def test_4_2_agrees_with_the_library_on_notebook_jets():
    a, b = jets(0)
    assert abs(emd_solution(a, b)[0] - ot.emd(a, b, radius=RADIUS)) < 1e-9


def test_4_2_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 4\.2 is not answered yet"):
        checks.exercise_4_2(stub)


@pytest.mark.parametrize("answer, cause", [
    (emd_not_over_r, "divide the positions"),
    (emd_squared, "squared distance"),
    (emd_unnormalised, "normalise each jet's weights"),
    (emd_plan, "transport plan"),
    (emd_with_pt_column, "include the pT column"),
    (lambda a, b, r=RADIUS: emd_solution(a, b, r)[0], "return the tuple"),
])
def test_4_2_wrong_answers_name_the_cause(answer, cause):
    a, b = jets(0)
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_4_2(answer, a, b, RADIUS)


# ----------------------------------------------------------------------------- 4.3

def corr_solution(latent_distances, emd_distances):
    return pearsonr(latent_distances, emd_distances).statistic, spearmanr(latent_distances, emd_distances).statistic


def corr_alternative(latent_distances, emd_distances):
    """np.corrcoef of the values and of their ranks."""
    r = np.corrcoef(latent_distances, emd_distances)[0, 1]
    rho = np.corrcoef(rankdata(latent_distances), rankdata(emd_distances))[0, 1]
    return float(r), float(rho)


def emd_pairs(seed):
    rng = np.random.default_rng(seed)
    return squareform(squareform(pdist(rng.random((60, 2)))), checks=False)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [corr_solution, corr_alternative])
def test_4_3_right_answers_pass(answer, seed, capsys):
    checks.exercise_4_3(answer, emd_pairs(seed))
    assert capsys.readouterr().out == "Exercise 4.3: correct\n"


def test_4_3_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 4\.3 is not answered yet"):
        checks.exercise_4_3(stub)


@pytest.mark.parametrize("answer, cause", [
    (lambda a, b: corr_solution(a, b)[::-1], "swapped"),
    (lambda a, b: (pearsonr(a, b).statistic, pearsonr(a, b).pvalue), "p-value"),
    (lambda a, b: pearsonr(a, b), "SciPy result"),
    (lambda a, b: (pearsonr(a, b), spearmanr(a, b)), "statistic"),
    (lambda a, b: (pearsonr(a, b).statistic, pearsonr(a, b).statistic), "ranks"),
    (lambda a, b: pearsonr(a, b).statistic, "return the pair"),
])
def test_4_3_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_4_3(answer, emd_pairs(0))


# ----------------------------------------------------------------------------- 4.4

def ensemble_solution(distances, representatives, how="min"):
    d = distances[:, np.asarray(representatives)]
    return d.min(axis=1) if how == "min" else d.mean(axis=1)


def ensemble_alternative(distances, representatives, how="min"):
    """np.take along the columns, a dispatch table."""
    d = np.take(distances, list(np.atleast_1d(representatives)), axis=1)
    return {"min": np.min, "mean": np.mean}[how](d, axis=1)


def emd_matrices(seed):
    rng = np.random.default_rng(seed)
    pool = squareform(pdist(rng.random((30, 3))))
    return rng.exponential(size=(45, 30)), pool


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [ensemble_solution, ensemble_alternative])
def test_4_4_right_answers_pass(answer, seed, capsys):
    checks.exercise_4_4(answer, *emd_matrices(seed))
    assert capsys.readouterr().out == "Exercise 4.4: correct\n"


def test_4_4_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 4\.4 is not answered yet"):
        checks.exercise_4_4(stub)


@pytest.mark.parametrize("answer, cause", [
    (lambda d, r, how="min": getattr(d[:, np.asarray(r)], how)(axis=0), "one value per representative"),
    (lambda d, r, how="min": getattr(d[np.asarray(r)], how)(axis=1), "one value per representative"),
    (lambda d, r, how="min": d[:, np.asarray(r)].min(axis=1), "use the `how` argument"),
    (lambda d, r, how="min": d[:, np.asarray(r)].max(axis=1) if how == "min" else d[:, r].mean(axis=1),
     "largest distance"),
    (lambda d, r, how="min": d[:, np.asarray(r)].min(axis=1) if how == "min" else d[:, r].sum(axis=1), "summed"),
    (lambda d, r, how="min": getattr(d, how)(axis=1), "every pool jet"),
])
def test_4_4_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_4_4(answer, *emd_matrices(0))
