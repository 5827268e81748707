"""Tests of jetad_utils.exercise_checks.nb01: the checks of notebook 01's exercises.

Each check must pass the notebook's solution and other correct formulations (at several seeds),
turn the stub into "not answered yet", and reject the wrong answers students write with a
message that names the cause. The reference answers live here, not in the package.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.ensemble import IsolationForest

from jetad_utils.exercise_checks import ExerciseError, nb01
from jetad_utils.models import DenseAutoencoder
from jetad_utils.toys import Gaussian, ar1_covariance, point_at_distance, sample_mixture

D = 4
BACKGROUND = Gaussian(np.zeros(D), ar1_covariance(D, 0.8))
SIGNAL = Gaussian(point_at_distance(BACKGROUND, [1.0, 0.0, -1.0, 0.5], 2.5), 0.3**2 * np.eye(D))


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise 1.x: the task")


def _passes(capsys, check, *args):
    check(*args)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Exercise 1.") and ": correct" in lines[0], lines


def _fails(check, *args, match):
    with pytest.raises(ExerciseError, match=match):
        check(*args)


def _events(seed=0, n_bkg=1_500, n_sig=500, dtype=np.float64):
    x, _ = sample_mixture(BACKGROUND, SIGNAL, n_bkg, n_sig, seed)
    return x.astype(dtype)


# ============================================================================ Exercise 1.1

def logpdf_solution(x, mean, cov):
    diff = x - mean
    _, logdet = np.linalg.slogdet(cov)
    maha2 = np.einsum("ni,ni->n", diff, np.linalg.solve(cov, diff.T).T)
    return -0.5 * (maha2 + logdet + x.shape[1] * np.log(2 * np.pi))


def logpdf_cholesky(x, mean, cov):
    """Triangular solve with the Cholesky factor; log det from its diagonal."""
    chol = np.linalg.cholesky(cov)
    z = scipy.linalg.solve_triangular(chol, (x - mean).T, lower=True)
    return -0.5 * (z**2).sum(axis=0) - np.log(np.diag(chol)).sum() - 0.5 * len(mean) * np.log(2 * np.pi)


def logpdf_inverse(x, mean, cov):
    """With the explicit inverse (the task says solve, but the result is right)."""
    diff = np.asarray(x) - mean
    maha2 = ((diff @ np.linalg.inv(cov)) * diff).sum(axis=1)
    return -0.5 * maha2 - 0.5 * np.log(np.linalg.det(cov)) - diff.shape[1] / 2 * np.log(2 * np.pi)


def logpdf_loop(x, mean, cov):
    """One event at a time, float results in a list turned into an array."""
    logdet = np.linalg.slogdet(cov)[1]
    out = []
    for row in x:
        d = row - mean
        out.append(-0.5 * (d @ np.linalg.solve(cov, d) + logdet + len(d) * np.log(2 * np.pi)))
    return np.array(out)


@pytest.mark.parametrize("answer", [logpdf_solution, logpdf_cholesky, logpdf_inverse, logpdf_loop])
@pytest.mark.parametrize("seed", range(3))
def test_1_1_correct_answers_pass(capsys, answer, seed):
    _passes(capsys, nb01.exercise_1_1, answer, BACKGROUND, SIGNAL, _events(seed, 300, 100))


def test_1_1_stub_not_answered():
    _fails(nb01.exercise_1_1, stub, BACKGROUND, SIGNAL, _events(), match="not answered yet")


def _logpdf_variant(*, maha_factor=-0.5, logdet_factor=-0.5, const_factor=-0.5, metric="solve",
                    centre=True, dim="shape"):
    def answer(x, mean, cov):
        diff = x - mean if centre else x
        if metric == "solve":
            maha2 = np.einsum("ni,ni->n", diff, np.linalg.solve(cov, diff.T).T)
        elif metric == "cov":
            maha2 = np.einsum("ni,ij,nj->n", diff, cov, diff)
        else:
            maha2 = (diff**2 / np.diag(cov)).sum(axis=1)
        d = {"shape": x.shape[1], "len": len(x), "one": 1, "four": 4}[dim]
        return (maha_factor * maha2 + logdet_factor * np.linalg.slogdet(cov)[1]
                + const_factor * d * np.log(2 * np.pi))
    return answer


def logpdf_matrix(x, mean, cov):
    diff = x - mean
    maha2 = diff @ np.linalg.solve(cov, diff.T)
    return -0.5 * (maha2 + np.linalg.slogdet(cov)[1] + x.shape[1] * np.log(2 * np.pi))


def logpdf_solve_untransposed(x, mean, cov):
    diff = x - mean
    maha2 = np.einsum("ni,ni->n", diff, np.linalg.solve(cov, diff))
    return -0.5 * (maha2 + np.linalg.slogdet(cov)[1] + x.shape[1] * np.log(2 * np.pi))


def logpdf_det(x, mean, cov):
    diff = x - mean
    maha2 = np.einsum("ni,ni->n", diff, np.linalg.solve(cov, diff.T).T)
    return -0.5 * (maha2 + np.linalg.det(cov) + x.shape[1] * np.log(2 * np.pi))


def logpdf_column(x, mean, cov):
    return logpdf_solution(x, mean, cov)[:, None]


@pytest.mark.parametrize("answer, cause", [
    (_logpdf_variant(logdet_factor=0.0), r"-1/2 log det\(cov\) term is missing"),
    (_logpdf_variant(logdet_factor=0.5), "log det.* wrong sign"),
    (_logpdf_variant(const_factor=0.0), r"-\(D/2\) log\(2 pi\) term is missing"),
    (_logpdf_variant(const_factor=0.5), r"log\(2 pi\) term has the wrong sign"),
    (_logpdf_variant(logdet_factor=0.0, const_factor=0.0), "both normalisation terms"),
    (_logpdf_variant(maha_factor=-1.0), "Mahalanobis term lacks its factor 1/2"),
    (_logpdf_variant(maha_factor=0.5, logdet_factor=0.5, const_factor=0.5), "overall sign"),
    (_logpdf_variant(maha_factor=-1.0, logdet_factor=-1.0, const_factor=-1.0), "overall factor"),
    (_logpdf_variant(metric="cov"), "multiplies by the covariance"),
    (_logpdf_variant(metric="diagonal"), "only the variances"),
    (_logpdf_variant(centre=False), "x is not centred"),
    (_logpdf_variant(dim="len"), "D is taken from the number of events"),
    (_logpdf_variant(dim="one"), r"multiplied by D = x.shape\[1\]"),
    (_logpdf_variant(dim="four"), r"3-D Gaussian.*computed with D = 4.*do not hard-code D"),
    (_logpdf_variant(const_factor=-0.4), "off by the same .*constant term"),
    (logpdf_det, "det.* logarithm"),
    (logpdf_matrix, r"shape \(7,\).*every pair of events"),
    (logpdf_solve_untransposed, "raised ValueError.*diff.T"),
    (logpdf_column, r"shape \(7, 1\).*ravel"),
])
def test_1_1_wrong_answers_name_the_cause(answer, cause):
    _fails(nb01.exercise_1_1, answer, BACKGROUND, SIGNAL, _events(), match=cause)


def test_1_1_torch_output_rejected():
    def as_tensor(x, mean, cov):
        return torch.as_tensor(logpdf_solution(x, mean, cov))
    _fails(nb01.exercise_1_1, as_tensor, BACKGROUND, SIGNAL, _events(), match="not a NumPy array")


# ============================================================================ Exercise 1.2

def _autoencoder(seed=0):
    torch.manual_seed(seed)
    return DenseAutoencoder(D, 2, (16, 16)).eval()


def recon_solution(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        x_hat = model(x)
    return ((x_hat - x) ** 2).sum(dim=1).numpy()


def recon_detach_float64(model, x):
    """No no_grad, but detached; the difference taken in float64 NumPy."""
    x_hat = model(torch.tensor(np.asarray(x), dtype=torch.float32)).detach().numpy()
    return np.sum((np.asarray(x, dtype=np.float64) - x_hat) ** 2, axis=1)


def recon_inference_mode(model, x):
    with torch.inference_mode():
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return torch.linalg.vector_norm(model(t) - t, dim=1).pow(2).numpy()


@pytest.mark.parametrize("answer", [recon_solution, recon_detach_float64, recon_inference_mode])
@pytest.mark.parametrize("seed", range(3))
def test_1_2_correct_answers_pass(capsys, answer, seed):
    _passes(capsys, nb01.exercise_1_2, answer, _autoencoder(seed), _events(seed, dtype=np.float32))


def test_1_2_stub_not_answered():
    _fails(nb01.exercise_1_2, stub, _autoencoder(), _events(dtype=np.float32), match="not answered yet")


def recon_mean(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        return ((model(x) - x) ** 2).mean(dim=1).numpy()


def recon_tensor(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        return ((model(x) - x) ** 2).sum(dim=1)


def recon_tensor_with_grad(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    return ((model(x) - x) ** 2).sum(dim=1)


def recon_numpy_without_no_grad(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    return ((model(x) - x) ** 2).sum(dim=1).numpy()


def recon_norm(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        return torch.linalg.norm(model(x) - x, dim=1).numpy()


def recon_abs(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        return (model(x) - x).abs().sum(dim=1).numpy()


def recon_wrong_axis(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        return ((model(x) - x) ** 2).sum(dim=0).numpy()


def recon_loss(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        return ((model(x) - x) ** 2).sum(dim=1).mean().numpy()


def recon_per_feature(model, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        return ((model(x) - x) ** 2).numpy()


def recon_from_numpy(model, x):
    """torch.from_numpy keeps float64: fine on the float32 test set, breaks in section 7."""
    x = torch.from_numpy(np.asarray(x))
    with torch.no_grad():
        return ((model(x) - x) ** 2).sum(dim=1).numpy()


def recon_negative(model, x):
    return -recon_solution(model, x)


def recon_grad_off_globally(model, x):
    torch.set_grad_enabled(False)
    return recon_solution(model, x)


def recon_in_place(model, x):
    with torch.no_grad():
        x_hat = model(torch.as_tensor(x, dtype=torch.float32)).numpy()
    x -= x_hat
    return (x**2).sum(axis=1)


@pytest.mark.parametrize("answer, cause", [
    (recon_mean, "mean over the features instead of the sum"),
    (recon_tensor, "torch tensor, not a NumPy array"),
    (recon_tensor_with_grad, "torch tensor that still carries the autograd graph"),
    (recon_numpy_without_no_grad, "raised RuntimeError.*torch.no_grad"),
    (recon_norm, "norm .* instead of its square"),
    (recon_abs, "absolute differences"),
    (recon_wrong_axis, r"shape \(4,\).*over the events"),
    (recon_loss, r"shape \(\).*single number"),
    (recon_per_feature, r"shape \(2000, 4\).*Reduce over the features"),
    (recon_from_numpy, "raised RuntimeError.*float64 array.*dtype=torch.float32"),
    (recon_negative, "wrong sign"),
    (recon_in_place, "changed its input x in place"),
])
def test_1_2_wrong_answers_name_the_cause(answer, cause):
    _fails(nb01.exercise_1_2, answer, _autoencoder(), _events(dtype=np.float32), match=cause)


def test_1_2_global_model_instead_of_argument():
    ae = _autoencoder(5)

    def recon_global(model, x):
        return recon_solution(ae, x)
    _fails(nb01.exercise_1_2, recon_global, ae, _events(dtype=np.float32),
           match="use the argument `model`, not the global `ae`")


def test_1_2_gradients_switched_off_globally():
    try:
        _fails(nb01.exercise_1_2, recon_grad_off_globally, _autoencoder(), _events(dtype=np.float32),
               match="gradients are switched off")
    finally:
        torch.set_grad_enabled(True)


# ============================================================================ Exercise 1.3

def _forest(seed=0):
    x_train = BACKGROUND.sample(4_000, np.random.default_rng(100 + seed)).astype(np.float32)
    return IsolationForest(n_estimators=40, random_state=seed).fit(x_train)


def forest_solution(forest, x):
    return -forest.score_samples(x)


def forest_decision(forest, x):
    return -forest.decision_function(x)


def forest_offset(forest, x):
    return forest.offset_ - forest.score_samples(x)


def forest_log(forest, x):
    """log of the paper's anomaly score s = 2^(-E(h)/c): a monotonic transform, still right."""
    return np.log(-forest.score_samples(x))


@pytest.mark.parametrize("answer", [forest_solution, forest_decision, forest_offset, forest_log])
@pytest.mark.parametrize("seed", range(3))
def test_1_3_correct_answers_pass(capsys, answer, seed):
    _passes(capsys, nb01.exercise_1_3, answer, _forest(seed), _events(seed, dtype=np.float32))


def test_1_3_stub_not_answered():
    _fails(nb01.exercise_1_3, stub, _forest(), _events(dtype=np.float32), match="not answered yet")


def forest_refit(forest, x):
    return -IsolationForest(n_estimators=40, random_state=1).fit(x).score_samples(x)


@pytest.mark.parametrize("answer, cause", [
    (lambda forest, x: forest.score_samples(x), "higher for normal events.*negate"),
    (lambda forest, x: forest.decision_function(x), "higher for normal events.*negate"),
    (lambda forest, x: forest.predict(x), "forest.predict gives labels"),
    (lambda forest, x: -forest.predict(x), "forest.predict gives labels"),
    (forest_refit, "do not refit it on x"),
    (lambda forest, x: -forest.score_samples(x)[:, None], r"shape \(2000, 1\)"),
    (lambda forest, x: list(-forest.score_samples(x)), "must be a NumPy array"),
])
def test_1_3_wrong_answers_name_the_cause(answer, cause):
    _fails(nb01.exercise_1_3, answer, _forest(), _events(dtype=np.float32), match=cause)


# ============================================================================ Exercise 1.4

def logpdf_y_solution(y, gaussian):
    x = np.log(y)
    return gaussian.logpdf(x) - x.sum(axis=1)


def logpdf_y_product(y, gaussian):
    """The Jacobian as the log of a product; the Gaussian written out by hand."""
    x = np.log(y)
    diff = x - gaussian.mean
    maha2 = np.einsum("ni,ni->n", diff, np.linalg.solve(gaussian.cov, diff.T).T)
    log_px = -0.5 * (maha2 + np.linalg.slogdet(gaussian.cov)[1] + len(gaussian.mean) * np.log(2 * np.pi))
    return log_px - np.log(np.prod(y, axis=1))


@pytest.mark.parametrize("answer", [logpdf_y_solution, logpdf_y_product])
@pytest.mark.parametrize("seed", range(3))
def test_1_4_correct_answers_pass(capsys, answer, seed):
    _passes(capsys, nb01.exercise_1_4, answer, BACKGROUND, SIGNAL, np.exp(_events(seed)))


def test_1_4_stub_not_answered():
    _fails(nb01.exercise_1_4, stub, BACKGROUND, SIGNAL, np.exp(_events()), match="not answered yet")


@pytest.mark.parametrize("answer, cause", [
    (lambda y, g: g.logpdf(np.log(y)), "Jacobian term is missing"),
    (lambda y, g: g.logpdf(np.log(y)) + np.log(y).sum(axis=1), "Jacobian has the wrong sign"),
    (lambda y, g: g.logpdf(np.log(y)) - np.log(y).sum(), "summed over all events"),
    (lambda y, g: g.logpdf(np.log(y)) - np.log(y).sum(axis=0), r"raised ValueError.*axis=1"),
    (lambda y, g: g.logpdf(np.log(y)) - y.sum(axis=1), "not sum_i y_i"),
    (lambda y, g: g.logpdf(np.log(y)) - np.log(y).mean(axis=1), "mean over features"),
    (lambda y, g: g.logpdf(y) - np.log(y).sum(axis=1), "evaluated at y: evaluate it at x = log y"),
    (lambda y, g: g.logpdf(y), "evaluated at y with no Jacobian"),
    (lambda y, g: g.logpdf(np.exp(y)) - np.log(y).sum(axis=1), "wrong way round"),
])
def test_1_4_wrong_answers_name_the_cause(answer, cause):
    _fails(nb01.exercise_1_4, answer, BACKGROUND, SIGNAL, np.exp(_events()), match=cause)


# ============================================================================ the student copy

def test_student_copy_calls_each_check_in_the_stub_cell():
    """Each stub sits in a cell that then calls its check (so the student sees "not answered")."""
    from pathlib import Path

    import nbformat

    from jetad_utils.exercises import stub_cells

    path = Path(__file__).resolve().parents[1] / "notebooks" / "exercises" / "01_gaussian_outliers.ipynb"
    nb = nbformat.read(path, as_version=4)
    stubs = stub_cells(nb)
    assert sorted(stubs.values()) == ["1.1", "1.2", "1.3", "1.4"]
    for index, number in stubs.items():
        source = nb.cells[index].source
        call = f"exercise_checks.exercise_{number.replace('.', '_')}("
        assert call in source, f"cell {index} (exercise {number}) does not call {call}"
        assert source.index("raise NotImplementedError") < source.index(call)


@pytest.mark.notebook
def test_student_copy_first_stub_is_not_answered_yet(tmp_path, monkeypatch):
    """The generated copy, run on a kernel: the first failure is Exercise 1.1's 'not answered yet'."""
    from pathlib import Path

    import nbformat
    from nbrun import first_error, use_test_kernel

    kernel_name = use_test_kernel(tmp_path, monkeypatch)
    monkeypatch.setenv("JETAD_FAST", "1")
    monkeypatch.setenv("JETAD_CHECKPOINTS", str(tmp_path / "checkpoints"))
    path = Path(__file__).resolve().parents[1] / "notebooks" / "exercises" / "01_gaussian_outliers.ipynb"
    failure = first_error(nbformat.read(path, as_version=4), path.parent, timeout=600, kernel_name=kernel_name)
    if failure is None:
        pytest.fail("the exercise copy ran without its first stub failing")
    i, cell, err = failure
    assert err.ename == "ExerciseError", f"cell {i}: {err.ename}: {err.evalue}"
    assert "Exercise 1.1 is not answered yet" in err.evalue
    assert "raise NotImplementedError" in cell.source
