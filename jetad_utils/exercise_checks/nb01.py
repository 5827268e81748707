"""Checks of notebook 01's exercises: a Gaussian log density, the reconstruction error, the sign
of the isolation forest's score, and a density in new coordinates.

Called in ``notebooks/01_gaussian_outliers.ipynb`` in the cell of each exercise, after every
definition that later cells need::

    from jetad_utils.exercise_checks import nb01 as exercise_checks
    exercise_checks.exercise_1_1(gaussian_logpdf, background, signal, x64)
    exercise_checks.exercise_1_2(reconstruction_error, ae, X_test)
    exercise_checks.exercise_1_3(isolation_forest_score, forest, X_test)
    exercise_checks.exercise_1_4(logpdf_y, background, signal, Y_test)

Every check calls the student's function itself, on cases of its own and on the inputs the
notebook gives the function later (the same arrays, dtypes and densities), and compares with a
reference the check computes independently (SciPy's densities, its own forward pass).
"""

from __future__ import annotations

import copy

import numpy as np
from scipy import stats

from . import ExerciseError, call_answer, close, correct, require

__all__ = ["exercise_1_1", "exercise_1_2", "exercise_1_3", "exercise_1_4"]

#: relative tolerance of a float64 log density (any order of operations, solve or inverse)
RTOL_FLOAT64 = 1e-7
#: relative tolerance of a float32 network output (float32 or float64 arithmetic after it)
RTOL_FLOAT32 = 1e-4


# ============================================================================ shared helpers

def _call(number: str, answer, *args, inputs: str, hints=()):
    """Call the answer; an exception other than the stub's becomes an ExerciseError.

    ``hints`` is a sequence of ``(fragments, advice)``: the advice is added when one of the
    (lower-case) fragments occurs in the exception's message.
    """
    try:
        return call_answer(number, answer, *args)
    except ExerciseError:
        raise
    except Exception as exc:  # the student's code may raise anything: name it and say where
        found = [a for fragments, a in hints if any(f in str(exc).lower() for f in fragments)]
        advice = "".join(f" {a}" for a in dict.fromkeys(found))
        raise ExerciseError(f"Exercise {number}: your function raised {type(exc).__name__} "
                            f"({exc}) when called with {inputs}.{advice}") from exc


def _as_values(number: str, out, n: int, what: str) -> np.ndarray:
    """The answer's output as a float64 array of shape (n,), after checking its type and shape."""
    if type(out).__module__.startswith("torch"):
        grad = " that still carries the autograd graph (requires_grad=True)" if getattr(
            out, "requires_grad", False) else ""
        raise ExerciseError(
            f"Exercise {number}: {what} is a torch tensor{grad}, not a NumPy array: compute it "
            "under torch.no_grad() and return tensor.numpy(); roc_auc and the plots take NumPy "
            "arrays")
    require(number, isinstance(out, np.ndarray),
            f"{what} must be a NumPy array of shape ({n},), got {type(out).__name__}")
    if out.shape != (n,):
        raise ExerciseError(f"Exercise {number}: {what} must have shape ({n},), one value per "
                            f"event, got shape {out.shape}. {_shape_advice(out.shape, n)}")
    require(number, np.issubdtype(out.dtype, np.floating) or np.issubdtype(out.dtype, np.integer),
            f"{what} must hold numbers, got dtype {out.dtype}")
    values = out.astype(np.float64)
    require(number, np.isfinite(values).all(), f"{what} has values that are not finite (nan/inf)")
    return values


def _shape_advice(shape: tuple, n: int) -> str:
    if shape == ():
        return ("A single number is a sum or mean over all events (a loss, not a score): "
                "reduce over the features only (axis=1 / dim=1).")
    if len(shape) == 1:
        return ("One value per feature means the sum or mean ran over the events (axis 0): "
                "reduce over the features instead (axis=1 / dim=1).")
    if shape == (n, n):
        return ("An (n, n) matrix is every pair of events: keep only the pairs of an event with "
                "itself, e.g. np.einsum('ni,ni->n', a, b) instead of a @ b.T.")
    if shape[0] == n:
        return "Reduce over the features (axis=1) or flatten a (n, 1) column with .ravel()."
    return "Reduce over the features (axis=1), keeping one value per event."


def _first_match(values, candidates, rtol: float, atol: float = 0.0):
    """The message of the first candidate ``(array, message)`` equal to ``values``."""
    for expected, message in candidates:
        expected = np.broadcast_to(np.asarray(expected, dtype=float), values.shape)
        if close(values, expected, rtol=rtol, atol=atol):
            return message
    return None


def _describe(x) -> str:
    x = np.asarray(x)
    return f"a {x.dtype} array of shape {x.shape}"


# ============================================================================ Exercise 1.1

_SOLVE_ADVICE = ("np.linalg.solve(cov, b) wants b with one column per event, shape (D, n): "
                 "pass diff.T and transpose the result back.")
_HINTS_1_1 = (
    (("solve", "align"), _SOLVE_ADVICE),
    (("broadcast",), "diff = x - mean has shape (n, D); the Mahalanobis term must end as shape "
                     "(n,)."),
)


def exercise_1_1(answer, background, signal, x) -> None:
    """Check Exercise 1.1, ``gaussian_logpdf(x, mean, cov) -> (n,)``.

    The answer is compared with ``scipy.stats.multivariate_normal.logpdf`` (to 1e-7 relative)
    on the notebook's events ``x`` with the notebook's background and signal densities (as
    ``log_likelihood_ratio`` calls it later), on a narrow line signal like those of section 9
    (a nearly singular covariance), and on a 3-dimensional Gaussian with a non-zero mean and a
    handful of events (a hard-coded D = 4, a missing centring or a matrix product over the
    events show up there). A wrong answer is matched against the usual slips: a missing
    -1/2 log det or D/2 log 2 pi term, the Mahalanobis term without its 1/2, the covariance
    multiplied instead of solved for, the correlations ignored, the wrong overall sign.

    Parameters
    ----------
    answer : callable
        The student's ``gaussian_logpdf(x, mean, cov)``.
    background, signal : jetad_utils.toys.Gaussian
        The notebook's densities.
    x : ndarray, shape (n, D)
        Events the notebook evaluates the densities at (float64).

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong; the message names the likely cause.
    """
    for case in _cases_1_1(background, signal, x):
        _check_logpdf_case(answer, *case)
    correct("1.1", "equal to SciPy's log N(x; mean, cov) for the notebook's densities, a narrow "
                   "line signal and a 3-D Gaussian")


def _cases_1_1(background, signal, x):
    """(x, mean, cov, description) of every case the answer is checked on."""
    rng = np.random.default_rng(11)
    a = rng.normal(size=(3, 3))
    cov3 = a @ a.T + 0.5 * np.eye(3)
    x3 = rng.normal(size=(7, 3)) * 2.0
    eigenvalues, eigenvectors = np.linalg.eigh(background.cov)
    axis = eigenvectors[:, 0]
    line_cov = 0.05**2 * np.outer(axis, axis) + 1e-3**2 * np.eye(background.dim)
    x = np.asarray(x)
    return [
        (x3, np.array([0.5, -1.0, 2.0]), cov3, "7 events of a 3-D Gaussian with mean (0.5, -1, 2)"),
        (x, background.mean, background.cov, f"the notebook's events ({_describe(x)}) and background"),
        (x, signal.mean, signal.cov, f"the notebook's events ({_describe(x)}) and signal"),
        (x[:500], background.mean + 3.0 * axis / np.sqrt(eigenvalues[0]), line_cov,
         "a narrow line signal (a nearly singular covariance, as in section 9)"),
    ]


def _check_logpdf_case(answer, x, mean, cov, description: str) -> None:
    number = "1.1"
    out = _call(number, answer, x.copy(), mean.copy(), cov.copy(),
                inputs=f"{description}", hints=_HINTS_1_1)
    values = _as_values(number, out, len(x), "gaussian_logpdf(x, mean, cov)")
    reference = stats.multivariate_normal(mean, cov).logpdf(np.asarray(x, dtype=float)).reshape(-1)
    if np.all(np.abs(values - reference) <= RTOL_FLOAT64 * (1 + np.abs(reference))):
        return
    cause = _first_match(values, _logpdf_slips(x, mean, cov), RTOL_FLOAT64, RTOL_FLOAT64)
    offset = values - reference
    if cause is None and np.ptp(offset) <= RTOL_FLOAT64 * (1 + np.max(np.abs(reference))):
        dim_used = x.shape[1] - 2 * offset.mean() / np.log(2 * np.pi)
        cause = (f"every value is off by the same {offset.mean():+.6g}, so the Mahalanobis term "
                 "is right and a constant term is not")
        if abs(dim_used - round(dim_used)) < 1e-6:
            cause += (f": the log(2 pi) term is computed with D = {round(dim_used)}, but these "
                      f"events have D = x.shape[1] = {x.shape[1]}: do not hard-code D")
    if cause is None:
        worst = int(np.argmax(np.abs(values - reference)))
        cause = (f"e.g. event {worst}: {values[worst]:.6g} instead of {reference[worst]:.6g}. "
                 "Write the three terms separately: (x-mu)^T Sigma^-1 (x-mu) with "
                 "np.linalg.solve, log det Sigma with np.linalg.slogdet(cov)[1], D log 2 pi with "
                 "D = x.shape[1]; then return -0.5 * (their sum)")
    raise ExerciseError(f"Exercise 1.1: for {description}, the values differ from log N(x; mean, "
                        f"cov). Likely cause: {cause}")


def _logpdf_slips(x, mean, cov):
    """(values, cause) of the usual wrong formulas of log N(x; mean, cov)."""
    x = np.asarray(x, dtype=float)
    n, dim = x.shape
    diff = x - mean
    maha = np.einsum("ni,ni->n", diff, np.linalg.solve(cov, diff.T).T)
    logdet = np.linalg.slogdet(cov)[1]
    c = dim * np.log(2 * np.pi)
    times_cov = np.einsum("ni,ij,nj->n", diff, cov, diff)
    diagonal = np.sum(diff**2 / np.diag(cov), axis=1)
    uncentred = np.einsum("ni,ni->n", x, np.linalg.solve(cov, x.T).T)
    return [
        (-0.5 * (maha + c), "the -1/2 log det(cov) term is missing (np.linalg.slogdet(cov)[1])"),
        (-0.5 * (maha - logdet + c), "log det(cov) has the wrong sign: it is -1/2 log det(cov)"),
        (-0.5 * (maha + logdet), "the -(D/2) log(2 pi) term is missing"),
        (-0.5 * (maha + logdet - c), "the (D/2) log(2 pi) term has the wrong sign: it is -(D/2) "
                                     "log(2 pi)"),
        (-0.5 * maha, "both normalisation terms, -1/2 log det(cov) and -(D/2) log(2 pi), are "
                      "missing"),
        (-0.5 * (maha + logdet + np.log(2 * np.pi)), "log(2 pi) must be multiplied by D = "
                                                     "x.shape[1]"),
        (-0.5 * (maha + logdet + n * np.log(2 * np.pi)), "D is taken from the number of events: "
                                                         "use D = x.shape[1], not len(x)"),
        (-0.5 * (maha + np.linalg.det(cov) + c), "det(cov) is used where its logarithm belongs: "
                                                 "np.linalg.slogdet(cov)[1]"),
        (-maha - 0.5 * (logdet + c), "the Mahalanobis term lacks its factor 1/2: -1/2 (x-mu)^T "
                                     "Sigma^-1 (x-mu)"),
        (-(maha + logdet + c), "the overall factor is -1, it must be -1/2"),
        (0.5 * (maha + logdet + c), "the overall sign is wrong: log N = -1/2 [ ... ]"),
        (-0.5 * (times_cov + logdet + c), "the Mahalanobis term multiplies by the covariance "
                                          "(diff @ cov): it needs its inverse, "
                                          "np.linalg.solve(cov, diff.T)"),
        (-0.5 * (diagonal + logdet + c), "the Mahalanobis term uses only the variances (the "
                                         "diagonal of cov): solve with the full covariance"),
        (-0.5 * (uncentred + logdet + c), "x is not centred: use diff = x - mean"),
    ]


# ============================================================================ Exercise 1.2

_HINTS_1_2 = (
    (("requires grad",), "Compute the model's output inside `with torch.no_grad():` (or call "
                         ".detach() before .numpy())."),
    (("dtype", "double"), "Convert the input with torch.as_tensor(x, dtype=torch.float32): the "
                          "notebook calls this function on float64 arrays later (all_scores in "
                          "section 7, the coordinates y in section 10)."),
)


def exercise_1_2(answer, model, x) -> None:
    """Check Exercise 1.2, ``reconstruction_error(model, x) -> (n,)`` NumPy array.

    The answer is called on the notebook's events ``x`` (float32) and on the same events as
    float64 (``all_scores`` and section 10 pass float64 arrays), and on a copy of the model with
    perturbed weights. It must return a NumPy array, one value per event, equal to
    ``||x - model(x)||^2`` computed by the check's own forward pass (relative 1e-4: float32
    network). It must leave gradients switched on (later cells train networks) and not modify
    ``x``. Caught: the mean over features instead of the sum, the norm instead of its square,
    absolute instead of squared differences, a reduction over the wrong axis, a torch tensor
    (with its autograd graph) instead of a NumPy array, a float32-only conversion, the global
    ``ae`` used instead of the model passed in.

    Parameters
    ----------
    answer : callable
        The student's ``reconstruction_error(model, x)``.
    model : torch.nn.Module
        The notebook's trained autoencoder (in eval mode), ``(n, D) -> (n, D)``.
    x : ndarray, shape (n, D)
        The notebook's test events (float32).

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong; the message names the likely cause.
    """
    import torch

    x = np.asarray(x)
    for data in (x, x.astype(np.float64)):
        _check_reconstruction(answer, model, data, f"the notebook's model and {_describe(data)}")
    other = _perturbed_copy(model)
    small = x[:500].astype(np.float64)
    values = _reconstruction_values(answer, other, small, "a copy of the model with other weights")
    if not _close_to_scale(values, _reference_error(other, small), RTOL_FLOAT32):
        same_as_given = _close_to_scale(values, _reference_error(model, small), RTOL_FLOAT32)
        require("1.2", not same_as_given,
                "with a different model passed in, the result is that of the notebook's `ae`: "
                "use the argument `model`, not the global `ae` (the notebook calls this function "
                "with other autoencoders too)")
        _check_reconstruction(answer, other, small, "a copy of the model with other weights")
    require("1.2", torch.is_grad_enabled(),
            "after your function gradients are switched off for the whole notebook (later "
            "trainings would fail): use `with torch.no_grad():` around the forward pass, not "
            "torch.set_grad_enabled(False)")
    correct("1.2", "||x - model(x)||^2 per event as a NumPy array, for float32 and float64 input")


def _perturbed_copy(model):
    """A deep copy of ``model`` whose parameters are moved by a seeded random amount."""
    import torch

    other = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(12)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device))
    return other


def _forward(model, x) -> np.ndarray:
    """model(x) as float64 NumPy, the check's own forward pass (float32, on the model's device)."""
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        t = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=device)
        return model(t).double().cpu().numpy()


def _reference_error(model, x) -> np.ndarray:
    """||x - model(x)||^2 per event, float64."""
    return ((_forward(model, x) - np.asarray(x, dtype=np.float64)) ** 2).sum(axis=1)


def _close_to_scale(values, reference, rtol: float) -> bool:
    """:func:`close` with an absolute tolerance of ``rtol`` times the reference's scale (its mean
    absolute value, at least 1e-3): a float32 network's error on a tiny entry is that of a typical one."""
    atol = rtol * max(float(np.mean(np.abs(reference))), 1e-3)
    return close(values, reference, rtol=rtol, atol=atol)


def _reconstruction_values(answer, model, x, description: str) -> np.ndarray:
    before = x.copy()
    out = _call("1.2", answer, model, x, inputs=description, hints=_HINTS_1_2)
    require("1.2", np.array_equal(x, before),
            "your function changed its input x in place: compute x - x_hat into a new array")
    return _as_values("1.2", out, len(x), "reconstruction_error(model, x)")


def _check_reconstruction(answer, model, x, description: str) -> None:
    values = _reconstruction_values(answer, model, x, description)
    reference = _reference_error(model, x)
    if _close_to_scale(values, reference, RTOL_FLOAT32):
        return
    abs_diff = np.abs(_forward(model, x) - np.asarray(x, dtype=np.float64))
    slips = [
        (reference / x.shape[1], "the mean over the features instead of the sum: use "
                                 ".sum(dim=1), the score of the exercise is ||x - x_hat||^2"),
        (np.sqrt(reference), "the norm ||x - x_hat|| instead of its square: drop the square "
                             "root (torch.linalg.norm) and sum the squared differences"),
        (abs_diff.sum(axis=1), "absolute differences |x - x_hat| instead of squared ones"),
        (abs_diff.mean(axis=1), "mean absolute differences instead of the sum of squares"),
        (-reference, "the wrong sign: higher must mean more anomalous, ||x - x_hat||^2 >= 0"),
    ]
    cause = _first_match(values, slips, 10 * RTOL_FLOAT32, 1e-6)
    if cause is None:
        worst = int(np.argmax(np.abs(values - reference)))
        cause = (f"e.g. event {worst}: {values[worst]:.6g} instead of {reference[worst]:.6g}. "
                 "Compute x_hat = model(x) for the model passed in and return "
                 "((x_hat - x) ** 2).sum(dim=1)")
    raise ExerciseError(f"Exercise 1.2: with {description}, the values are not ||x - "
                        f"model(x)||^2 per event. Likely cause: {cause}")


# ============================================================================ Exercise 1.3

def exercise_1_3(answer, forest, x) -> None:
    """Check Exercise 1.3, ``isolation_forest_score(forest, x) -> (n,)``.

    Any strictly decreasing function of ``forest.score_samples(x)`` is a right answer (e.g.
    ``-score_samples``, ``-decision_function``, ``offset_ - score_samples``): the check asks
    that the answer orders the notebook's events (float32 as in section 6, float64 as in
    ``all_scores``) exactly opposite to ``score_samples``, and that events three times further out
    than the notebook's outermost ones score higher than the centre of the data. Caught: the unflipped
    ``score_samples`` or ``decision_function``, ``predict``'s labels +-1, a forest refitted
    inside the function.

    Parameters
    ----------
    answer : callable
        The student's ``isolation_forest_score(forest, x)``.
    forest : sklearn.ensemble.IsolationForest
        The notebook's forest, fitted on the training background.
    x : ndarray, shape (n, D)
        The notebook's test events.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong; the message names the likely cause.
    """
    number = "1.3"
    x = np.asarray(x)
    for data in (x, x.astype(np.float64)):
        _check_forest_order(answer, forest, data)
    centre = x.mean(axis=0, keepdims=True).astype(np.float64)
    spread = (x - centre) / x.std(axis=0)
    outermost = x[np.argsort(-np.einsum("ni,ni->n", spread, spread))[:200]]
    far = centre + 3.0 * (outermost.astype(np.float64) - centre)
    out = _call(number, answer, forest, np.concatenate([centre, far]),
                inputs="the centre of the data and events 3 times further out than the "
                       "outermost ones")
    values = _as_values(number, out, len(far) + 1, "isolation_forest_score(forest, x)")
    require(number, np.all(values[1:] > values[0]),
            "events far out in the tail do not all score higher than the centre of the "
            "background: higher must mean more anomalous")
    correct(number, "ordered opposite to score_samples: higher = more anomalous")


def _check_forest_order(answer, forest, x) -> None:
    number = "1.3"
    out = _call(number, answer, forest, x, inputs=f"the notebook's forest and {_describe(x)}")
    values = _as_values(number, out, len(x), "isolation_forest_score(forest, x)")
    reference = forest.score_samples(x)
    require(number, len(np.unique(values)) > 2,
            f"only {len(np.unique(values))} distinct values: forest.predict gives labels +-1 "
            "(inlier/outlier at a threshold), not a score; use -forest.score_samples(x)")
    order = np.argsort(reference, kind="stable")
    step = np.diff(values[order])
    distinct = np.diff(reference[order]) > 0
    tol = 1e-9 * max(float(np.max(np.abs(values))), 1.0)
    if np.all(step[distinct] < tol) and np.all(np.abs(step[~distinct]) <= tol):
        return
    rho = stats.spearmanr(values, reference).statistic
    if rho > 0.99:
        cause = ("the score is higher for normal events: score_samples and decision_function are "
                 "*higher* for inliers, so negate them (-forest.score_samples(x))")
    else:
        cause = ("not ordered like -forest.score_samples(x) (rank correlation with score_samples "
                 f"{rho:+.3f}, it must be -1): score with the forest passed in, already fitted on "
                 "the training background; do not refit it on x")
    raise ExerciseError(f"Exercise {number}: with {_describe(x)}, {cause}")


# ============================================================================ Exercise 1.4

_HINTS_1_4 = (
    (("broadcast",), "Sum log y over the features of each event: np.log(y).sum(axis=1)."),
)


def exercise_1_4(answer, background, signal, y) -> None:
    """Check Exercise 1.4, ``logpdf_y(y, gaussian) -> (n,)`` for ``y = exp(x)``.

    The answer is called as the notebook calls it later: on its events ``y`` with the signal and
    the background densities, and on a 1-D grid with the background's first marginal. The
    reference for a Gaussian with a diagonal covariance (the signal, the 1-D marginal) is a sum
    of SciPy's log-normal densities, independent of the formula; for the correlated background
    it is SciPy's normal log density at log y minus sum(log y). The 1-D answer must also
    integrate to 1 over y. Caught: the Jacobian missing or with the wrong sign, summed over the
    wrong axis, sum(y) instead of sum(log y), the Gaussian evaluated at y instead of x = log y.

    Parameters
    ----------
    answer : callable
        The student's ``logpdf_y(y, gaussian)``.
    background, signal : jetad_utils.toys.Gaussian
        The notebook's densities of x.
    y : ndarray, shape (n, D)
        The notebook's events in the coordinates y = exp(x) (positive).

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong; the message names the likely cause.
    """
    from ..toys import Gaussian

    y = np.asarray(y)
    g1 = Gaussian(background.mean[:1], background.cov[:1, :1])
    grid = np.linspace(1e-4, 60, 200_001)[:, None]
    cases = [(y, signal, "the notebook's events y and the signal"),
             (y, background, "the notebook's events y and the background"),
             (grid, g1, "a 1-D grid of y and the background's first feature")]
    values = [_check_logpdf_y(answer, data, gaussian, description)
              for data, gaussian, description in cases]
    integral = np.trapezoid(np.exp(values[-1]), grid[:, 0])
    require("1.4", abs(integral - 1) < 1e-3,
            f"the 1-D density integrates to {integral:.4f} over y, not to 1: the Jacobian "
            "term is wrong")
    correct("1.4", "log p_y = log p_x(log y) - sum log y, a normalised density")


def _reference_logpdf_y(y, gaussian) -> np.ndarray:
    """log p_y(y): a sum of log-normal densities if the covariance is diagonal, else the formula."""
    y = np.asarray(y, dtype=float)
    cov = gaussian.cov
    if np.allclose(cov, np.diag(np.diag(cov))):
        sd = np.sqrt(np.diag(cov))
        return stats.lognorm(s=sd, scale=np.exp(gaussian.mean)).logpdf(y).sum(axis=1)
    return stats.multivariate_normal(gaussian.mean, cov).logpdf(np.log(y)).reshape(-1) - np.log(
        y).sum(axis=1)


def _check_logpdf_y(answer, y, gaussian, description: str) -> np.ndarray:
    """The answer's values on (y, gaussian), checked against the reference."""
    number = "1.4"
    out = _call(number, answer, y.copy(), gaussian, inputs=description, hints=_HINTS_1_4)
    values = _as_values(number, out, len(y), "logpdf_y(y, gaussian)")
    reference = _reference_logpdf_y(y, gaussian)
    if np.all(np.abs(values - reference) <= RTOL_FLOAT64 * (1 + np.abs(reference))):
        return values
    y = np.asarray(y, dtype=float)
    log_y = np.log(y)
    at_x, at_y = gaussian.logpdf(log_y), gaussian.logpdf(y)
    with np.errstate(over="ignore"):
        at_exp_y = gaussian.logpdf(np.minimum(np.exp(y), 1e150))
    slips = [
        (at_x, "the Jacobian term is missing: subtract sum_i log y_i"),
        (at_x + log_y.sum(axis=1), "the Jacobian has the wrong sign: log p_y = log p_x(log y) "
                                   "MINUS sum_i log y_i (p_y is p_x divided by prod y_i)"),
        (at_x - log_y.sum(), "log y is summed over all events: sum over the features of each "
                             "event only (axis=1)"),
        (at_x - log_y.sum(axis=0).sum(), "log y is summed over the events: sum over axis=1"),
        (at_x - y.sum(axis=1), "the Jacobian |dx/dy| is prod 1/y_i: subtract sum_i log y_i, not "
                               "sum_i y_i"),
        (at_x - log_y.mean(axis=1), "the Jacobian term is a mean over features: it is the sum "
                                    "of log y_i"),
        (at_y - log_y.sum(axis=1), "the Gaussian is evaluated at y: evaluate it at x = log y"),
        (at_y, "the Gaussian is evaluated at y with no Jacobian: use x = np.log(y), then "
               "gaussian.logpdf(x) - x.sum(axis=1)"),
        (at_exp_y - log_y.sum(axis=1), "x = exp(y) is the wrong way round: y = exp(x), so "
                                       "x = np.log(y)"),
        (at_exp_y + y.sum(axis=1), "x = exp(y) is the wrong way round: y = exp(x), so "
                                   "x = np.log(y) and the Jacobian is -sum_i log y_i"),
    ]
    cause = _first_match(values, slips, RTOL_FLOAT64, RTOL_FLOAT64)
    if cause is None:
        worst = int(np.argmax(np.abs(values - reference)))
        cause = (f"e.g. event {worst}: {values[worst]:.6g} instead of {reference[worst]:.6g}. "
                 "With x = np.log(y): return gaussian.logpdf(x) - x.sum(axis=1)")
    raise ExerciseError(f"Exercise {number}: for {description}, the values are not log p_y(y). "
                        f"Likely cause: {cause}")
