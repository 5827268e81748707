"""Checks of notebook 02's exercises: mixed samples, the mixture likelihood ratio, k-fold scores.

Called in ``notebooks/02_cwola.ipynb`` in the cell of each exercise, after every definition
that later cells need::

    from jetad_utils.exercise_checks import nb02 as exercise_checks
    exercise_checks.exercise_2_1(mixed_samples, signal, background, N_MIXED, F1, F2)
    exercise_checks.exercise_2_2(mixture_ratios, signal, background, x_test, F1, 0.05)
    exercise_checks.exercise_2_3(kfold_scores, boosted_trees, x_test, K_FOLDS, SEED)

Every check calls the student's function itself, on inputs it draws with its own generators
(the notebook's random stream is not touched) and on the notebook's own sizes and arrays.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits

from ..metrics import roc_auc
from . import ExerciseError, binomial_sigma, call_answer, close, correct, require

__all__ = ["exercise_2_1", "exercise_2_2", "exercise_2_3"]

#: how many standard deviations a correct random answer may deviate (false alarm ~ 6e-7)
N_SIGMA = 5.0
#: relative tolerance of a ratio of densities (float64 arithmetic, any order of operations)
RTOL = 1e-6


# ============================================================================ Exercise 2.1

def exercise_2_1(answer, signal, background, n: int = 20_000, f1: float = 0.2,
                 f2: float = 0.0, *, seed: int = 0) -> None:
    """Check Exercise 2.1, ``mixed_samples(n, f1, f2, rng) -> (x, y_mixed, y_true)``.

    The answer is called with the notebook's ``(n, f1, f2)`` and with two cases of the check's
    own (a signal in M2 as well; a 0.5 % signal), each with a fresh generator. A right answer

    * returns ``x`` of shape (2n, D), ``y_mixed`` and ``y_true`` of shape (2n,) with values 0/1;
    * labels the first n events 1 (M1) and the last n 0 (M2), as the docstring says (the order
      of the events *within* each sample is free);
    * has signal fractions f1 in M1 and f2 in M2 within 5 sigma of the spread of a drawn count
      (exact counts, Bernoulli, binomial or Poisson draws all pass);
    * has ``y_true`` = 1 exactly for signal events: the fraction of ``y_true = 1`` events with a
      positive log likelihood ratio equals that of signal events (within 5 sigma), and likewise
      for ``y_true = 0`` and background;
    * draws its events from the generator ``rng`` it is given (reproducible, seed-dependent).

    Parameters
    ----------
    answer : callable
        The student's ``mixed_samples(n, f1, f2, rng)``.
    signal, background : jetad_utils.toys.Gaussian
        The notebook's densities (those the answer samples from).
    n : int
        Events per mixed sample in the notebook.
    f1, f2 : float
        Signal fractions of M1 and M2 in the notebook.
    seed : int
        Seed of the check's own generators (any value; the tests vary it).

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong; the message names the likely cause.
    """
    number = "2.1"
    _check_uses_rng(answer, signal.dim)
    likeness = _signal_likeness(signal, background, seed)
    cases = [(int(n), f1, f2), (4_000, 0.3, 0.1), (5_000, 0.005, 0.0)]
    for i, (n_i, f1_i, f2_i) in enumerate(cases):
        out = call_answer(number, answer, n_i, f1_i, f2_i, np.random.default_rng([seed, 21, i]))
        x, y_mixed, y_true = _unpack_samples(out, n_i, signal.dim)
        _check_sample_labels(y_mixed, y_true, n_i, f1_i, f2_i)
        _check_fractions(y_mixed, y_true, n_i, f1_i, f2_i)
        _check_truth_matches_events(x, y_true, signal, background, likeness)
    correct(number, f"shapes, labels and signal fractions f1 = {f1:g}, f2 = {f2:g} as specified, "
                    "y_true marks the signal events")


def _check_uses_rng(answer, dim: int) -> None:
    """Same generator seed -> same events; another seed -> other events."""
    number = "2.1"
    runs = [call_answer(number, answer, 500, 0.2, 0.1, np.random.default_rng(seed))
            for seed in (7, 7, 8)]
    xs = [_unpack_samples(out, 500, dim)[0] for out in runs]
    require(number, np.array_equal(xs[0], xs[1]),
            "two calls with the same generator seed gave different events: draw everything "
            "from the generator passed in (signal.sample(k, rng), rng.random(...)), not from "
            "np.random")
    require(number, not np.array_equal(xs[0], xs[2]),
            "two different generators gave the same events: use the argument rng "
            "(signal.sample(k, rng)), not a fixed seed or a generator made inside the function")


def _unpack_samples(out, n: int, dim: int):
    """(x, y_mixed, y_true) as float arrays, with their shapes and values checked."""
    number = "2.1"
    require(number, isinstance(out, (tuple, list)) and len(out) == 3,
            f"return the three arrays x, y_mixed, y_true (a tuple), got {type(out).__name__}")
    x, y_mixed, y_true = (np.asarray(a) for a in out)
    require(number, x.shape == (2 * n, dim),
            f"x must have shape (2n, D) = {(2 * n, dim)} (M1's n events, then M2's n), "
            f"got {x.shape}")
    require(number, np.issubdtype(x.dtype, np.floating) and np.isfinite(x).all(),
            "x must hold finite floating-point coordinates")
    for name, y in (("y_mixed", y_mixed), ("y_true", y_true)):
        require(number, y.shape == (2 * n,),
                f"{name} must be one label per event, shape (2n,) = {(2 * n,)}, got {y.shape}")
        require(number, np.isin(y, (0, 1)).all(), f"{name} must hold only the labels 0 and 1")
    return x, y_mixed.astype(float), y_true.astype(float)


def _check_sample_labels(y_mixed, y_true, n: int, f1: float, f2: float) -> None:
    """y_mixed is the sample label (M1 = 1 first, M2 = 0 after), not the truth."""
    number = "2.1"
    require(number, not np.array_equal(y_mixed, y_true),
            "y_mixed equals y_true: y_mixed is the label of the *sample* (1 for all n events of "
            "M1, 0 for all n of M2), the only label a real analysis has; y_true (signal = 1) is "
            "for evaluation only")
    require(number, y_true.any() or f1 == 0,
            f"y_true has no signal event although f1 = {f1:g}: y_true must be 1 for every event "
            "drawn from the signal density")
    if np.all(y_mixed[:n] == 0) and np.all(y_mixed[n:] == 1):
        if f1 != f2 and abs(y_true[n:].mean() - f1) <= _fraction_tolerance(f1, n):
            raise ExerciseError("Exercise 2.1: M2 comes first: return M1's n events (signal "
                                "fraction f1, y_mixed = 1) first, then M2's (y_mixed = 0)")
        raise ExerciseError("Exercise 2.1: the labels of M1 and M2 are swapped: M1 (the first n "
                            "events, signal fraction f1) gets y_mixed = 1, M2 gets 0")
    require(number, np.all(y_mixed[:n] == 1) and np.all(y_mixed[n:] == 0),
            "y_mixed must be 1 for the first n events (M1) and 0 for the last n (M2), as the "
            "docstring says; shuffle within a sample if you like, but keep M1 before M2")


def _fraction_tolerance(f: float, n: int) -> float:
    """5 sigma of a drawn signal fraction, plus the rounding of an exact count (1/n).

    The spread is the larger one of a Poisson count, sqrt(f / n) >= the binomial
    sqrt(f (1 - f) / n), so that any reasonable way of drawing the signal passes.
    """
    return N_SIGMA * binomial_sigma(f, n) / math.sqrt(1 - f) + 1.0 / n if f < 1 else 1.0 / n


def _check_fractions(y_mixed, y_true, n: int, f1: float, f2: float) -> None:
    """Signal fractions f1 in M1 and f2 in M2, within statistics, with the likely cause."""
    got1, got2 = y_true[y_mixed == 1].mean(), y_true[y_mixed == 0].mean()
    tol1, tol2 = _fraction_tolerance(f1, n), _fraction_tolerance(f2, n)
    ok1, ok2 = abs(got1 - f1) <= tol1, abs(got2 - f2) <= tol2
    if ok1 and ok2:
        return
    found = (f"signal fraction {got1:.4f} in M1 (expected {f1:g} +- {tol1:.4f}) and {got2:.4f} "
             f"in M2 (expected {f2:g} +- {tol2:.4f}) at n = {n}, f1 = {f1:g}, f2 = {f2:g}")
    if abs(got1 - f2) <= tol2 and abs(got2 - f1) <= tol1:
        cause = "f1 and f2 are swapped: M1 (label 1) must be drawn with f1, M2 with f2"
    elif not ok2 and abs(got2 - f1) <= tol1:
        cause = "M2 got the signal fraction f1: draw M2's signal events with f2"
    elif not ok1 and abs(got1 - f2) <= tol2:
        cause = "M1 got the signal fraction f2: draw M1's signal events with f1"
    else:
        cause = ("draw round(f1 n) (or Binomial(n, f1)) signal events for M1 and f2's share for "
                 "M2, the rest background, and mark exactly those as y_true = 1")
    raise ExerciseError(f"Exercise 2.1: {found}. Likely cause: {cause}")


def _signal_likeness(signal, background, seed: int, n_ref: int = 100_000) -> dict:
    """P(log L_S/B > 0) for signal and for background events, estimated from n_ref of each."""
    rng = np.random.default_rng([seed, 211])
    out = {}
    for name, density in (("signal", signal), ("background", background)):
        x = density.sample(n_ref, rng)
        out[name] = float(np.mean(signal.logpdf(x) > background.logpdf(x)))
    out["n_ref"] = n_ref
    return out


def _check_truth_matches_events(x, y_true, signal, background, likeness: dict) -> None:
    """Events with y_true = 1 look like the signal density, those with 0 like the background."""
    number = "2.1"
    signal_like = signal.logpdf(x) > background.logpdf(x)
    for label, name in ((1, "signal"), (0, "background")):
        sel = y_true == label
        if not sel.any():
            continue
        got, p = signal_like[sel].mean(), likeness[name]
        p_spread = min(max(p, 1 / likeness["n_ref"]), 1 - 1 / likeness["n_ref"])
        sigma = math.hypot(binomial_sigma(p_spread, int(sel.sum())),
                           binomial_sigma(p_spread, likeness["n_ref"]))
        require(number, abs(got - p) <= N_SIGMA * sigma + 1e-12,
                f"the events with y_true = {label} do not look like {name} events: "
                f"{got:.1%} of them have p_s > p_b, {name} events have {p:.1%} (+- "
                f"{N_SIGMA * sigma:.1%}). y_true must be 1 exactly for the events drawn from "
                "signal.sample and 0 for those from background.sample, in the same order as x "
                "(concatenate x and y_true in the same order)")


# ============================================================================ Exercise 2.2

def exercise_2_2(answer, signal, background, x_test, f1: float = 0.2, f2: float = 0.05) -> None:
    """Check Exercise 2.2, ``mixture_ratios(x, f1, f2) -> (direct, formula)``.

    Each of the two returned arrays is compared, separately, with a reference the check computes
    itself from the densities, ``(f1 p_s + (1 - f1) p_b) / (f2 p_s + (1 - f2) p_b)`` (in log space),
    to a relative ``1e-6``: on the check's own events and on the notebook's ``x_test``, at the
    notebook's ``(f1, f2)``, at ``f2 = 0`` (the limit ``f1 L + 1 - f1``, misprinted on the slide),
    at ``f1 < f2`` and at ``f1 = f2`` (where the ratio is 1). A wrong value is matched against the
    usual mistakes (densities or fractions swapped, the slide's limit, ``L`` taken as the log
    ratio, the inverse ratio, a log ratio) to name the cause.

    Parameters
    ----------
    answer : callable
        The student's ``mixture_ratios(x, f1, f2)``.
    signal, background : jetad_utils.toys.Gaussian
        The notebook's densities.
    x_test : ndarray, shape (n, D)
        The notebook's test events.
    f1, f2 : float
        The fractions the notebook passes.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong; the message names the likely cause.
    """
    rng = np.random.default_rng(20_220)
    x_own = np.concatenate([signal.sample(300, rng), background.sample(300, rng)])
    cases = [(f1, f2), (f1, 0.0), (0.5, 0.1), (0.1, 0.3), (0.3, 0.3)]
    for x, where in ((x_own, "the check's events"), (np.asarray(x_test), "x_test")):
        log_s, log_b = signal.logpdf(x), background.logpdf(x)
        for f1_i, f2_i in cases:
            out = call_answer("2.2", answer, x, f1_i, f2_i)
            for which, value in zip(("direct", "formula"), _unpack_ratios(out, len(x))):
                _compare_ratio(which, value, log_s, log_b, f1_i, f2_i, where)
    correct("2.2", "both ratios equal p_M1/p_M2 computed from the densities, also at f2 = 0 "
                   "(f1 L + 1 - f1) and at f1 = f2")


def _unpack_ratios(out, n: int):
    """The two returned ratios as float arrays of shape (n,)."""
    require("2.2", isinstance(out, (tuple, list)) and len(out) == 2,
            f"return the two arrays (direct, formula), got {type(out).__name__}")
    arrays = []
    for which, value in zip(("direct", "formula"), out):
        a = np.asarray(value, dtype=float)
        require("2.2", a.shape == (n,),
                f"ratio_{which} must be one ratio per event, shape ({n},), got {a.shape}")
        arrays.append(a)
    return arrays


def _mixture_ratio(log_s, log_b, f1, f2):
    """(f1 p_s + (1 - f1) p_b) / (f2 p_s + (1 - f2) p_b) from log densities (f may be 0 or 1)."""
    with np.errstate(divide="ignore"):
        def log_mix(f):
            return np.logaddexp(np.log(f) + log_s, np.log1p(-f) + log_b)
        return np.exp(log_mix(f1) - log_mix(f2))


def _ratio_mistakes(log_s, log_b, f1, f2) -> list[tuple[np.ndarray, str]]:
    """The values of the usual wrong answers, each with the cause to report."""
    ln_l = log_s - log_b
    ref = _mixture_ratio(log_s, log_b, f1, f2)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_l_formula = (f1 * ln_l + 1 - f1) / (f2 * ln_l + 1 - f2)
        log_ref = np.log(ref)
    slide = ("at f2 = 0 this is the slide's limit f1 + (1 - f1) L_S/B, whose coefficients are "
             "swapped: divide f1 p_s + (1 - f1) p_b by p_b term by term, f1 L + 1 - f1")
    return [
        (_mixture_ratio(log_s, log_b, 1 - f1, 1 - f2),
         ("each fraction multiplies the wrong density: p_M = f p_s + (1 - f) p_b, f with the "
          "signal density p_s and L = p_s / p_b; either p_s and p_b are swapped or f and 1 - f "
          "(the slide's typo f1 + (1 - f1) L)")),
        (_mixture_ratio(log_s, log_b, 1 - f1, f2),
         slide if f2 == 0 else "the numerator has f1 and 1 - f1 swapped (f1 goes with p_s)"),
        (_mixture_ratio(log_s, log_b, f1, 1 - f2),
         "the denominator has f2 and 1 - f2 swapped (f2 goes with p_s)"),
        (log_l_formula,
         ("L_S/B is the ratio p_s / p_b, not its logarithm: L = np.exp(signal.logpdf(x) - "
          "background.logpdf(x))")),
        (1 / ref,
         "this is p_M2 / p_M1 (or f1 and f2 swapped): the ratio is M1 (f1) over M2 (f2)"),
        (log_ref, "this is the logarithm of the ratio: return p_M1 / p_M2 itself"),
    ]


def _compare_ratio(which: str, value, log_s, log_b, f1, f2, where: str) -> None:
    """Raise with the likely cause unless ``value`` equals the reference mixture ratio."""
    ref = _mixture_ratio(log_s, log_b, f1, f2)
    same = functools.partial(close, rtol=RTOL, atol=1e-12, finite=True)
    if same(value, ref):
        return
    causes = [cause for wrong, cause in _ratio_mistakes(log_s, log_b, f1, f2)
              if not same(wrong, ref) and same(value, wrong)]
    with np.errstate(invalid="ignore", divide="ignore"):
        worst = float(np.nanmax(np.abs(value / ref - 1))) if np.isfinite(value).any() else np.nan
    found = (f"ratio_{which} (the {'first' if which == 'direct' else 'second'} value returned) "
             f"is not p_M1/p_M2 = (f1 p_s + (1 - f1) p_b)/(f2 p_s + (1 - f2) p_b) on {where} at "
             f"f1 = {f1:g}, f2 = {f2:g} (largest relative difference {worst:.3g}"
             + (", some values not finite)" if not np.isfinite(value).all() else ")"))
    if causes:
        hint = causes[0]
    elif which == "formula":
        hint = ("compute L = p_s / p_b, then (f1 L + 1 - f1) / (f2 L + 1 - f2)"
                + ("; at f2 = 0 it must reduce to f1 L + 1 - f1" if f2 == 0 else ""))
    else:
        hint = ("compute both mixture densities from np.exp(signal.logpdf(x)) and "
                "np.exp(background.logpdf(x))")
    raise ExerciseError(f"Exercise 2.2: {found}. Likely cause: {hint}")


# ============================================================================ Exercise 2.3

def exercise_2_3(answer, make_model, x_notebook, k: int = 5, seed: int = 0) -> None:
    """Check Exercise 2.3, ``kfold_scores(make_model, x, y, k, seed) -> (scores, models)``.

    First with a cheap model of the check's own, a *memoriser*: a lookup classifier that gives
    the events it was trained on their training label (0.99 or 0.01: a perfect in-sample score,
    what a model that memorises does) and every other event a value unique to (model, event). From the
    returned scores the check can tell, for every event, which model scored it and whether that
    model saw it. A right answer

    * scores every event exactly once, with ``predict_proba(...)[:, 1]`` of a model that was not
      trained on it (catches: training on all events, scoring a fold with the model trained on
      it, overlapping or missing folds, averaging, column 0, ``predict``);
    * returns ``k`` distinct fitted models, each trained on all events but one fold, the folds a
      partition of the events;
    * splits at random: on events ordered M1 then M2 every fold holds both classes in the
      sample's proportion (5 sigma), the split is reproducible with ``seed`` and changes with it.

    Then with the notebook's ``make_model`` on 800 of the notebook's events with *random* labels
    (threads limited to one: a fraction of a second): the returned scores must have an AUC
    compatible with 0.5 (5 sigma), which in-sample scores of boosted trees (about 0.8) exceed by
    far.

    Parameters
    ----------
    answer : callable
        The student's ``kfold_scores(make_model, x, y, k=..., seed=...)``.
    make_model : callable
        The notebook's model factory (``boosted_trees``).
    x_notebook : ndarray, shape (n, D)
        Events of the notebook (e.g. ``x_test``), of the dtype the notebook uses.
    k, seed : int
        The notebook's number of folds and seed.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong; the message names the likely cause.
    """
    # (k, seed, dtype of x, dtype of y): the notebook's toy (float64, float labels), its hunt
    # (float32 features, int8 or int labels), a repeat and another seed (is the split seeded?)
    runs = {"A": (k, seed, np.float64, float), "A again": (k, seed, np.float64, float),
            "other seed": (k, seed + 1, np.float64, int),
            "k = 3": (3, seed + 2, np.float32, np.int8)}
    partitions = {name: _memoriser_run(answer, *run) for name, run in runs.items()}
    require("2.3", partitions["A"] == partitions["A again"],
            "two calls with the same seed gave different folds: draw the split from "
            "np.random.default_rng(seed), not from np.random or an unseeded generator")
    require("2.3", partitions["A"] != partitions["other seed"],
            "two different seeds gave the same folds: make the random split from the argument "
            "seed (np.random.default_rng(seed).permutation(len(x)) % k)")
    _notebook_model_run(answer, make_model, np.asarray(x_notebook), k, seed)
    correct("2.3", f"every event scored once, out-of-fold; {k} models; random folds")


class _Book:
    """What the memorisers of one run saw: the events (column 0 = event id), fits, predictions."""

    def __init__(self, x, y, seed):
        self.x, self.y, self.seed = x, y, seed
        self.fits: list[tuple[int, np.ndarray]] = []   # (model number, ids trained on)
        self.used_predict = False

    def ids(self, X) -> np.ndarray:
        """Event ids of the rows ``X``; raise if they are not rows of this run's x."""
        X = np.asarray(X, dtype=float)
        require("2.3", X.ndim == 2 and X.shape[1] == self.x.shape[1],
                f"the model was given an array of shape {X.shape}; pass it rows of x, e.g. "
                f"x[fold != i] (shape (m, {self.x.shape[1]}))")
        ids = np.rint(X[:, 0]).astype(int)
        inside = (ids >= 0) & (ids < len(self.x))
        require("2.3", inside.all() and np.allclose(X, self.x[np.clip(ids, 0, len(self.x) - 1)],
                                                    rtol=1e-5, atol=1e-5),
                "the model was given events that are not rows of x: pass x[mask] unchanged to "
                "fit and to predict_proba")
        return ids

    def fresh(self, index: int) -> np.ndarray:
        """The out-of-sample prediction of model number ``index`` for every event."""
        return np.random.default_rng([self.seed, index]).uniform(0.05, 0.95, len(self.x))

    def memorised(self) -> np.ndarray:
        """The prediction of a model for the events it was trained on: 0.01 or 0.99."""
        return 0.01 + 0.98 * self.y


_BOOKS: dict[int, _Book] = {}       # the books of the runs under way, by run number
_RUN_IDS = itertools.count()


class _Memoriser(ClassifierMixin, BaseEstimator):
    """The check's cheap model: a perfect memory of its training events (see exercise_2_3).

    ``run`` is an integer key of the run's :class:`_Book`, so ``sklearn.base.clone`` works.
    """

    def __init__(self, run: int = 0):
        self.run = run

    def fit(self, X, y):
        book = _BOOKS[self.run]
        ids, y = book.ids(X), np.asarray(y, dtype=float).reshape(-1)
        require("2.3", len(y) == len(ids),
                f"fit was given {len(ids)} events but {len(y)} labels: pass x[mask] and y[mask] "
                "with the same mask")
        require("2.3", np.array_equal(y, book.y[ids]),
                "fit was given labels that are not those of the events passed: use the same "
                "mask for x and y (fit(x[fold != i], y[fold != i]))")
        self.index_, self.trained_ = len(book.fits), np.unique(ids)
        self.classes_ = np.array([0, 1])
        book.fits.append((self.index_, self.trained_))
        return self

    def predict_proba(self, X):
        book = _BOOKS[self.run]
        require("2.3", hasattr(self, "trained_"),
                "predict_proba was called on a model that was not fitted: fit it first")
        ids = book.ids(X)
        p = book.fresh(self.index_)[ids]
        seen = np.isin(ids, self.trained_)
        p[seen] = book.memorised()[ids[seen]]
        return np.column_stack([1 - p, p])

    def predict(self, X):
        _BOOKS[self.run].used_predict = True
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def _memoriser_run(answer, k: int, seed: int, x_dtype, y_dtype) -> frozenset:
    """Run the answer with memorisers on 600 ordered events; check it; return its folds."""
    n, dim = 600, 4
    rng = np.random.default_rng(20_230 + seed)
    x = np.column_stack([np.arange(n), rng.normal(size=(n, dim - 1))]).astype(x_dtype)
    y = np.r_[np.ones(n // 2), np.zeros(n // 2)]          # ordered as the notebook's M1, M2
    run = next(_RUN_IDS)
    _BOOKS[run] = book = _Book(x.astype(float), y, seed)

    def make_model(*args, **kwargs):
        require("2.3", not args and not kwargs,
                "call make_model() without arguments (the notebook passes e.g. "
                "lambda: boosted_trees(seed)); it returns a new, unfitted model")
        return _Memoriser(run)

    try:
        out = call_answer("2.3", answer, make_model, x, y.astype(y_dtype), k=k, seed=seed)
        scores, models = _unpack_kfold(out, n, k)
        _check_scores_out_of_fold(scores, book)
        return _check_folds(models, book, k)
    finally:
        del _BOOKS[run]


def _unpack_kfold(out, n: int, k: int):
    """(scores, models) with scores a float array of shape (n,) and k models."""
    require("2.3", isinstance(out, (tuple, list)) and len(out) == 2,
            f"return (scores, models), got {type(out).__name__}")
    scores, models = out
    require("2.3", not np.isscalar(models) and hasattr(models, "__len__")
            and not (hasattr(scores, "__len__") and len(scores) and hasattr(scores[0], "fit")),
            "return (scores, models): the scores first, then the list of the k models")
    scores = np.asarray(scores)
    require("2.3", scores.shape == (n,),
            f"scores must be one number per event, shape ({n},), in the order of x; got "
            f"{scores.shape}")
    require("2.3", np.issubdtype(scores.dtype, np.floating),
            f"scores are {scores.dtype}: store them in a float array (np.empty(len(x)))")
    require("2.3", len(models) == k,
            f"return the k = {k} models, one per fold (use the argument k), got {len(models)}")
    return scores.astype(float), list(models)


def _check_scores_out_of_fold(scores, book: _Book) -> None:
    """Every score is one model's out-of-sample prediction for that event."""
    n, tol = len(scores), 1e-6
    fresh = np.full(n, False)
    memorised = np.full(n, False)
    column0 = np.full(n, False)
    for index, trained in book.fits:
        unseen = ~np.isin(np.arange(n), trained)
        u = book.fresh(index)
        fresh |= unseen & (np.abs(scores - u) < tol)
        column0 |= unseen & (np.abs(scores - (1 - u)) < tol)
        memorised |= ~unseen & (np.abs(scores - book.memorised()) < tol)
    bad = ~fresh
    if not bad.any():
        return
    if book.used_predict and np.isin(scores, (0, 1)).all():
        raise ExerciseError("Exercise 2.3: the scores come from predict (hard 0/1 labels): use "
                            "predict_proba(...)[:, 1], the probability of label 1")
    if (memorised & bad).any():
        every = bool(book.fits) and all(len(trained) == n for _, trained in book.fits)
        raise ExerciseError(
            f"Exercise 2.3: {int((memorised & bad).sum())} of {n} events were scored by a model "
            "trained on them (the check's model memorises its training events, as a flexible "
            "model does, and gives them their own labels, 0.01 or 0.99)"
            + (": every model was trained on all events" if every else "")
            + ". Score each fold with the model that did NOT see it: for fold i, fit on "
            "x[fold != i], y[fold != i] and score x[fold == i]")
    if column0[bad].mean() > 0.5:
        raise ExerciseError("Exercise 2.3: the scores are predict_proba(...)[:, 0], the "
                            "probability of label 0; the score is column 1, "
                            "predict_proba(...)[:, 1]")
    raise ExerciseError(
        f"Exercise 2.3: {int(bad.sum())} of {n} events have a score that no model gave them "
        "out-of-fold: every event must be scored exactly once, by the model trained without its "
        "fold, and stored at its own position (scores[fold == i] = ...). Are all folds scored? "
        "Are scores averaged, overwritten, or concatenated in fold order?")


def _check_folds(models, book: _Book, k: int) -> frozenset:
    """k distinct fitted models whose held-out folds partition the events, at random."""
    n = len(book.x)
    require("2.3", all(isinstance(m, _Memoriser) and hasattr(m, "trained_") for m in models),
            "return the fitted models made by make_model(), one per fold")
    require("2.3", len({id(m) for m in models}) == k,
            "the list holds the same model more than once: call make_model() anew for every fold")
    held_out = [np.setdiff1d(np.arange(n), m.trained_) for m in models]
    left_out = np.bincount(np.concatenate(held_out), minlength=n) if held_out else np.zeros(n)
    require("2.3", left_out.any(),
            "every model was trained on all events: train model i on x[fold != i] only")
    require("2.3", np.all(left_out == 1),
            f"every event must be left out of exactly one model's training (the k folds "
            f"partition the events): {int((left_out == 0).sum())} events are left out by none, "
            f"{int((left_out > 1).sum())} by several (overlapping folds?)")
    p = book.y.mean()
    for fold in held_out:
        m = len(fold)
        spread = math.sqrt(p * (1 - p) / m * (n - m) / max(n - 1, 1))
        contiguous = np.all(np.diff(fold) == 1)
        require("2.3", not contiguous and abs(book.y[fold].mean() - p) <= N_SIGMA * spread,
                f"a fold holds {book.y[fold].mean():.0%} label-1 events, the sample {p:.0%}: "
                "the folds are contiguous blocks, and with M1's events first and M2's last a "
                "fold then holds one class only. Assign the events to folds at random, e.g. "
                "fold = np.random.default_rng(seed).permutation(len(x)) % k")
    return frozenset(frozenset(fold.tolist()) for fold in held_out)


def _notebook_model_run(answer, make_model, x_notebook, k: int, seed: int) -> None:
    """The notebook's model on 800 of its events with random labels: out-of-fold AUC ~ 0.5."""
    rng = np.random.default_rng(20_231)
    n = 800
    require("2.3", len(x_notebook) >= n, f"x_notebook needs at least {n} events")
    x = x_notebook[rng.choice(len(x_notebook), n, replace=False)]
    y = rng.permutation(np.r_[np.ones(n // 2), np.zeros(n // 2)])
    with threadpool_limits(limits=1):
        out = call_answer("2.3", answer, make_model, x, y, k=k, seed=seed)
        scores, models = _unpack_kfold(out, n, k)
        for model in models:
            proba = np.asarray(model.predict_proba(x[:3]))
            require("2.3", proba.shape == (3, 2),
                    "the returned models must be fitted classifiers (predict_proba works)")
    require("2.3", np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all(),
            "with the notebook's model the scores must be probabilities in [0, 1]")
    # the Mann-Whitney spread of a random score's AUC, times 1.3: k-fold scores of models with
    # different training base rates spread more (measured: 0.026 instead of 0.020 at n = 800)
    sigma = 1.3 * math.sqrt((n + 1) / (12 * (n / 2) ** 2))
    auc = roc_auc(y, scores)
    require("2.3", auc <= 0.5 + N_SIGMA * sigma,
            f"with the notebook's boosted trees and random labels (nothing to learn) the scores "
            f"have AUC {auc:.3f}, not 0.5 +- {sigma:.3f}: the events were scored by models "
            "trained on them. Score each fold with the model that did NOT see it")
