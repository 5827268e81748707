"""Checks of the exercises of notebook 04 (optimal transport).

* 4.1 ``wasserstein_1d(u, v, u_weights, v_weights)``: W1 of two weighted 1D samples;
* 4.2 ``emd_with_pot(points_a, points_b, radius)``: the EMD of two jets with POT, returning
  ``(emd, w_a, w_b, cost)``;
* 4.3 ``correlation(latent_distances, emd_distances)``: (Pearson r, Spearman ρ);
* 4.4 ``ensemble_score(distances, representatives, how)``: the event-to-ensemble OT score.

The references are independent of the solutions: SciPy's W1, a cost matrix and weights built
here (solved with POT only to get the optimum of that problem), correlations from their
formulas, and exact small cases.
"""

from __future__ import annotations

import numpy as np

from . import ExerciseError, call_answer, correct, name_mistake, real_number, require

__all__ = ["exercise_4_1", "exercise_4_2", "exercise_4_3", "exercise_4_4"]


def _matches(got: float, ref: float, tol: float = 1e-9) -> bool:
    """Whether two numbers agree to ``tol`` relative to ``1 + |ref|`` (scalars, float arithmetic)."""
    return abs(got - ref) <= tol * (1.0 + abs(ref))


# ----------------------------------------------------------------------------- 4.1

def _w1(u, v, uw=None, vw=None, *, reorder=True, side="right", power=1, absolute=True, normalise=True):
    """W1 as the area between the CDFs; the keywords build the usual wrong versions."""
    u, v = np.asarray(u, float), np.asarray(v, float)
    uw = np.ones_like(u) if uw is None else np.asarray(uw, float)
    vw = np.ones_like(v) if vw is None else np.asarray(vw, float)
    x = np.sort(np.concatenate([u, v]))

    def cdf(s, w):
        order = np.argsort(s, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(w[order] if reorder else w)])
        cum = cum / w.sum() if normalise else cum
        return cum[np.searchsorted(s[order], x[:-1], side=side)]

    diff = cdf(u, uw) - cdf(v, vw)
    return float(np.sum((np.abs(diff) if absolute else diff) ** power * np.diff(x)))


def _w1_variants(u, v, uw, vw):
    return [
        (_w1(u, v), "the weights are ignored: F_u and F_v must be the cumulative *weights* (normalised)"),
        (_w1(u, v, uw, vw, reorder=False), "the weights are accumulated in the original order of the points: "
         "sort the weights together with their points (w[np.argsort(u)])"),
        (_w1(u, v, uw, vw, side="left"), "the CDFs are evaluated just before each point (points equal to x not "
         "counted): F(x) includes the points at x, searchsorted(..., side='right')"),
        (_w1(u, v, uw, vw, power=2), "the CDF difference is squared: W1 = Σ |F_u − F_v| × gap"),
        (_w1(u, v, uw, vw, absolute=False), "the absolute value is missing: areas where F_v > F_u cancel the others"),
        (_w1(u, v, uw, vw, normalise=False), "the CDFs are not normalised: divide the cumulative weights by their "
         "total so that F goes from 0 to 1"),
    ]


def _w1_cases(notebook):
    rng = np.random.default_rng(41)
    u, v = rng.normal(0.0, 1.0, 9), rng.normal(0.8, 1.6, 6)
    cases = [([0.0, 1.0], [0.5, 1.5], None, None, 0.5),          # a shift by 0.5
             ([0.0], [3.0], None, None, 3.0),                    # two point masses
             ([0.0, 1.0], [0.0], [3.0, 1.0], None, 0.25),        # 1/4 of the weight moves by 1
             ([0.0, 1.0], [0.0], [30.0, 10.0], [7.0], 0.25),     # the same, weights not normalised
             ([2.0, 0.0, 1.0, 0.0], [1.0, 1.0, 3.0], [1.0, 2.0, 1.0, 0.5], [2.0, 1.0, 0.2], None),   # ties, unsorted
             (u, v, rng.random(9) * 5, rng.random(6) * 0.3, None)]
    if notebook[0] is not None:
        cases.append((*notebook, None))
    return cases


def exercise_4_1(answer, u=None, v=None, u_weights=None, v_weights=None) -> None:
    """Check ``wasserstein_1d(u, v, u_weights=None, v_weights=None)``: W1 of weighted samples.

    The reference is :func:`scipy.stats.wasserstein_distance`; exact cases (shifts, point
    masses, weights that are not normalised, ties, unsorted points) come first.

    Parameters
    ----------
    answer : callable
        The student's ``wasserstein_1d``.
    u, v, u_weights, v_weights : array_like, optional
        The notebook's samples and weights (checked too).

    Raises
    ------
    ExerciseError
        If the answer is missing or differs from W1 (the message names the mistake it matches:
        weights ignored or not sorted with their points, CDF just before the points, ...).
    """
    from scipy.stats import wasserstein_distance

    results, first_bad = [], None
    for a, b, wa, wb, exact in _w1_cases((u, v, u_weights, v_weights)):
        got = real_number("4.1", call_answer("4.1", answer, a, b, wa, wb), "wasserstein_1d's result")
        ref = wasserstein_distance(a, b, wa, wb) if exact is None else exact
        results.append((got, ref, _w1_variants(a, b, wa, wb)))
        if first_bad is None and not _matches(got, ref):
            first_bad = (a, b, got, ref)
    if first_bad is not None:
        name_mistake("4.1", results, _matches)
        a, b, got, ref = first_bad
        raise ExerciseError(f"Exercise 4.1: W1 of u = {np.round(a, 3).tolist()[:6]}..., v = "
                            f"{np.round(b, 3).tolist()[:6]}... is {ref:.6g} (scipy.stats.wasserstein_distance); "
                            f"your answer gives {got:.6g}")
    correct("4.1")


# ----------------------------------------------------------------------------- 4.2

def _jet_cases(notebook, radius):
    """(points_a, points_b, radius): exact two-point jets, random jets of different pT, notebook's."""
    rng = np.random.default_rng(42)

    def jet(m, scale):
        return np.column_stack([rng.exponential(scale, m), rng.uniform(-0.3, 0.3, (m, 2))])

    cases = [(np.array([[50.0, 0.0, 0.0], [50.0, 0.8, 0.0]]), np.array([[120.0, 0.0, 0.0]]), 0.8),
             (jet(6, 100.0), jet(4, 150.0), 0.4), (jet(5, 80.0), jet(7, 90.0), 1.0)]
    if notebook[0] is not None:
        cases.append((*notebook, radius))
    return cases


def _emd_reference(a, b, radius):
    import ot as pot
    from scipy.spatial.distance import cdist

    w_a, w_b = a[:, 0] / a[:, 0].sum(), b[:, 0] / b[:, 0].sum()
    cost = cdist(a[:, 1:3] / radius, b[:, 1:3] / radius)
    return float(pot.emd2(w_a, w_b, cost)), w_a, w_b, cost


#: Absolute tolerance of the cost matrix and the EMD. POT's ``dist(metric="euclidean")`` (the
#: notebook's solution) computes sqrt(|x|^2 + |y|^2 - 2 x.y): where two particles sit on the same
#: pixel the rounding of the squared distance (~1e-16) becomes ~1e-8 in the distance, measured up
#: to 1.5e-8 on jets of 40-500 pixels. 1e-6 leaves a margin of 60 above that and is 10^4 below the
#: smallest difference of a wrong answer (pixel spacing 2R/40 = 0.05 R: ΔR instead of ΔR / R
#: differs there by 0.05 |1 - R|, the squared distance by 0.0475).
COST_ATOL = 1e-6


def _check_cost(got, a, b, radius, ref) -> None:
    from scipy.spatial.distance import cdist

    cost = np.asarray(got, dtype=float)
    require("4.2", cost.shape == ref.shape, f"the cost matrix has shape {cost.shape}; it must be "
            f"(particles of jet a, particles of jet b) = {ref.shape}, the distances between all pairs")
    if np.allclose(cost, ref, rtol=1e-9, atol=COST_ATOL):
        return
    wrong = [(ref * radius, "the ground distance is ΔR, not ΔR / R: divide the positions (Δη, Δφ) by the radius"),
             (ref**2, "the cost is the squared distance; the EMD's ground distance is ΔR / R itself "
              "(metric='euclidean', not 'sqeuclidean')"),
             (cdist(a / radius, b / radius), "the positions include the pT column: use columns 1 and 2 (Δη, Δφ)"),
             (cdist(a[:, 1:3] / radius, b[:, 1:3] / radius, "cityblock"), "the cost is |Δη| + |Δφ|; the ground "
              "distance is the Euclidean ΔR / R")]
    for matrix, message in wrong:
        if matrix.shape == cost.shape and np.allclose(cost, matrix, rtol=1e-9, atol=COST_ATOL):
            raise ExerciseError(f"Exercise 4.2: {message}")
    raise ExerciseError("Exercise 4.2: the cost matrix is not ΔR / R between the particles of the two jets "
                        f"(largest difference {np.abs(cost - ref).max():.3g})")


def _check_weights(got, ref, name: str) -> None:
    w = np.asarray(got, dtype=float)
    require("4.2", w.shape == ref.shape, f"{name} has shape {w.shape}; one weight per particle, {ref.shape}")
    require("4.2", abs(w.sum() - 1.0) < 1e-6, f"{name} sums to {w.sum():.6g}: normalise the pT fractions to 1 "
            "(jets of different pT must be compared by shape)")
    require("4.2", np.allclose(w, ref, rtol=1e-9, atol=1e-12), f"{name} is not the particles' pT divided by "
            "their sum (column 0 of the points)")


def _solve(answer, a, b, radius):
    try:
        return call_answer("4.2", answer, a, b, radius)
    except AssertionError as err:
        if "same sum" in str(err):
            raise ExerciseError("Exercise 4.2: POT refused the weights: they do not have the same total for jets "
                                f"of {a[:, 0].sum():.0f} and {b[:, 0].sum():.0f} GeV; normalise each jet's weights "
                                "to sum to 1") from err
        raise


def exercise_4_2(answer, points_a=None, points_b=None, radius: float = 0.8) -> None:
    """Check ``emd_with_pot(points_a, points_b, radius) -> (emd, w_a, w_b, cost)``.

    Points are rows (pT, Δη, Δφ). The weights must be the pT normalised to 1, the cost the
    matrix of Euclidean distances ΔR / R, the EMD the optimal transport cost of that problem;
    checked on two-point jets whose EMD is 0.5 exactly, on random jets of different total pT
    and radii 0.4 and 1, and on the notebook's two jets.

    Parameters
    ----------
    answer : callable
        The student's ``emd_with_pot``.
    points_a, points_b : ndarray (m, 3), optional
        The notebook's two jets (from ``ot.image_points``).
    radius : float
        The jet radius of the notebook's jets.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the part: weights, cost matrix
        not divided by R or squared, the plan returned instead of the cost, ...).
    """
    for a, b, r in _jet_cases((points_a, points_b), radius):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        got = _solve(answer, a, b, r)
        require("4.2", isinstance(got, tuple) and len(got) == 4, f"emd_with_pot returned {type(got).__name__}; "
                "return the tuple (emd, w_a, w_b, cost)")
        emd, w_a, w_b, cost = got
        ref_emd, ref_wa, ref_wb, ref_cost = _emd_reference(a, b, r)
        _check_cost(cost, a, b, r, ref_cost)
        _check_weights(w_a, ref_wa, "w_a")
        _check_weights(w_b, ref_wb, "w_b")
        if np.ndim(emd) == 2:
            raise ExerciseError("Exercise 4.2: the EMD is a matrix: that is the transport plan (pot.emd); the EMD "
                                "is its cost, pot.emd2(w_a, w_b, cost) (or (plan * cost).sum())")
        value = real_number("4.2", emd, "the EMD")
        require("4.2", _matches(value, ref_emd, COST_ATOL),
                f"the EMD is {value:.6g}, the optimal transport cost of these "
                f"weights and distances is {ref_emd:.6g}: solve with pot.emd2(w_a, w_b, cost)")
    correct("4.2")


# ----------------------------------------------------------------------------- 4.3

def _pearson(x, y) -> float:
    x, y = np.asarray(x, float) - np.mean(x), np.asarray(y, float) - np.mean(y)
    return float(x @ y / np.sqrt((x @ x) * (y @ y)))


def _spearman(x, y) -> float:
    from scipy.stats import rankdata

    return _pearson(rankdata(x), rankdata(y))


def _pair_of_numbers(got):
    if hasattr(got, "statistic"):
        raise ExerciseError("Exercise 4.3: correlation returned one SciPy result (a coefficient and its p-value); "
                            "return the pair (pearsonr(...).statistic, spearmanr(...).statistic)")
    require("4.3", isinstance(got, (tuple, list)) and len(got) == 2,
            f"correlation returned {type(got).__name__} {str(got)[:60]!r}; return the pair (pearson, spearman)")
    for item, name in zip(got, ("first (Pearson)", "second (Spearman)")):
        if hasattr(item, "statistic") or (isinstance(item, tuple) and len(item) == 2):
            raise ExerciseError(f"Exercise 4.3: the {name} number is a whole SciPy result (statistic and p-value); "
                                "return its .statistic")
    return (real_number("4.3", got[0], "the Pearson coefficient"),
            real_number("4.3", got[1], "the Spearman coefficient"))


def exercise_4_3(answer, emd_distances=None) -> None:
    """Check ``correlation(latent_distances, emd_distances) -> (pearson, spearman)``.

    Parameters
    ----------
    answer : callable
        The student's ``correlation``.
    emd_distances : ndarray (n_pairs,), optional
        The notebook's condensed vector of EMDs; the check pairs it with a monotone but
        non-linear function of itself plus noise (so Pearson and Spearman differ).

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the mistake: the two swapped, a
        p-value returned, the SciPy result object returned, Spearman on values not ranks).
    """
    from scipy.stats import pearsonr, spearmanr

    rng = np.random.default_rng(43)
    x = rng.exponential(size=300)
    cases = [(x, -x), (x, np.exp(3 * x)), (x, x**3 + rng.normal(0, 2, 300))]
    if emd_distances is not None:
        e = np.asarray(emd_distances, dtype=np.float64)
        cases.append((e**2 + rng.normal(0, 0.3 * e.std() ** 2 + 1e-12, len(e)), e))
    for a, b in cases:
        r, rho = _pair_of_numbers(call_answer("4.3", answer, a, b))
        ref_r, ref_rho = _pearson(a, b), _spearman(a, b)
        if _matches(r, ref_r) and _matches(rho, ref_rho):
            continue
        if _matches(r, ref_rho) and _matches(rho, ref_r):
            raise ExerciseError("Exercise 4.3: the two coefficients are swapped: return (pearson, spearman)")
        if _matches(rho, pearsonr(a, b).pvalue) or _matches(rho, spearmanr(a, b).pvalue):
            raise ExerciseError("Exercise 4.3: the second number is a p-value; return the Spearman coefficient, "
                                "spearmanr(...).statistic")
        if _matches(rho, ref_r):
            raise ExerciseError("Exercise 4.3: the 'Spearman' coefficient equals Pearson's: Spearman's ρ is the "
                                "Pearson coefficient of the ranks (scipy.stats.spearmanr)")
        raise ExerciseError(f"Exercise 4.3: expected (Pearson, Spearman) = ({ref_r:.6f}, {ref_rho:.6f}), got "
                            f"({r:.6f}, {rho:.6f})")
    correct("4.3")


# ----------------------------------------------------------------------------- 4.4

def _ensemble_cases(distances, pool_distances):
    rng = np.random.default_rng(44)
    d = rng.exponential(size=(12, 9))
    cases = [(d, [4, 1, 7]), (d, np.array([2])), (d, rng.choice(9, 5, replace=False)), (d, np.arange(9))]
    if distances is not None:
        n_pool = np.shape(distances)[1]
        cases.append((distances, np.random.default_rng(45).choice(n_pool, min(10, n_pool), replace=False)))
    if pool_distances is not None:
        cases.append((pool_distances, [0, 1]))
    return cases


def _ensemble_variants(d, reps, how):
    sub = d[:, np.asarray(reps)]
    other = sub.mean(axis=1) if how == "min" else sub.min(axis=1)
    return [
        (other, f"how={how!r} was asked, the answer gives the {'mean' if how == 'min' else 'minimum'}: "
         "use the `how` argument"),
        (sub.max(axis=1), "this is the largest distance to a representative; the score is the minimum (or mean)"),
        (sub.sum(axis=1), "the distances are summed; the 'mean' score divides by the number of representatives"),
        (d.min(axis=1) if how == "min" else d.mean(axis=1),
         "the score uses every pool jet, not only the representatives' columns"),
    ]


def exercise_4_4(answer, distances=None, pool_distances=None) -> None:
    """Check ``ensemble_score(distances, representatives, how="min")``.

    For a matrix of distances (jets × pool jets) the score of each jet is the minimum (``"min"``,
    also the default) or the mean (``"mean"``) of its distances to the representatives' columns.
    Representatives are given as lists and as NumPy index arrays; a representative's own score
    under ``"min"`` must be 0 on the pool's matrix.

    Parameters
    ----------
    answer : callable
        The student's ``ensemble_score``.
    distances, pool_distances : ndarray, optional
        The notebook's (test jets × pool) and (pool × pool) EMD matrices (checked too).

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the mistake: wrong axis, rows
        instead of columns, the other statistic, all columns used, ...).
    """
    for d, reps in _ensemble_cases(distances, pool_distances):
        d = np.asarray(d, dtype=float)
        for how in ("min", "mean", None):
            args = (d, reps) if how is None else (d, reps, how)
            got = np.asarray(call_answer("4.4", answer, *args), dtype=float)
            how = how or "min"
            ref = getattr(d[:, np.asarray(reps)], how)(axis=1)
            if got.shape == (len(np.atleast_1d(reps)),) and len(reps) != len(d):
                raise ExerciseError("Exercise 4.4: the score has one value per representative, not per jet: the "
                                    "minimum/mean was taken along axis 0 (or over the rows "
                                    "distances[representatives]); "
                                    "keep the columns, distances[:, representatives], and reduce along axis 1")
            require("4.4", got.shape == ref.shape, f"the score has shape {got.shape} for {len(d)} jets; return one "
                    "value per jet (row): keep the representatives' *columns*, distances[:, representatives], "
                    "and reduce along axis 1")
            if np.allclose(got, ref, rtol=1e-12, atol=1e-15):
                continue
            for wrong, message in _ensemble_variants(d, reps, how):
                if np.allclose(got, wrong, rtol=1e-12, atol=1e-15) and not np.allclose(wrong, ref):
                    raise ExerciseError(f"Exercise 4.4: {message}")
            raise ExerciseError(f"Exercise 4.4: the {how} score of jet 0 is {ref[0]:.6g} (its {how} distance to "
                                f"the representatives {list(np.atleast_1d(reps))[:5]}...), your answer gives "
                                f"{got[0]:.6g}")
    correct("4.4")
