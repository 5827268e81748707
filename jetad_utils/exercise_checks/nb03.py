"""Checks of the exercises of notebook 03 (image VAEs and hyperparameter scans).

* 3.1 ``beta_loss(model, x, beta, metric)``: the batch mean of (1 − β)·recon + β·KL;
* 3.2 ``kl_score(mu, logvar)``: KL(N(μ, σ²) ‖ N(0, 1)) of each image;
* 3.3 ``best_point(rows, signal, split)``: the (row, score, AUC) with the largest AUC of a
  signal on one half of the test jets.

Every reference here is computed independently of the notebook's solution and of the library
functions it uses (in float64, from the definitions), on inputs the check controls and on the
inputs the notebook gives the answer.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from . import ExerciseError, call_answer, close, correct, name_mistake, require, to_numpy

__all__ = ["exercise_3_1", "exercise_3_2", "exercise_3_3"]

SCORES = ("recon", "kl", "loss")        # the three scores of notebook 03 (scans.SCORES)


# ----------------------------------------------------------------------------- references

def _recon(x, x_hat, metric: str) -> np.ndarray:
    """Reconstruction error per image, summed over pixels (logs clipped at −100 as in torch)."""
    x, x_hat = to_numpy(x).reshape(len(x), -1), to_numpy(x_hat).reshape(len(x), -1)
    if metric == "mse":
        return ((x - x_hat) ** 2).sum(axis=1)
    with np.errstate(divide="ignore"):
        log_p, log_q = np.maximum(np.log(x_hat), -100.0), np.maximum(np.log(1.0 - x_hat), -100.0)
    return -(x * log_p + (1.0 - x) * log_q).sum(axis=1)


def _kl(mu, logvar, *, half=0.5, var=np.exp, log_sign=-1.0, reduce=np.sum) -> np.ndarray:
    """½ Σ_k (μ² + σ² − 1 − log σ²) per row; the keywords build the usual wrong versions."""
    mu, logvar = to_numpy(mu), to_numpy(logvar)
    return half * reduce(mu**2 + var(logvar) - 1.0 + log_sign * logvar, axis=1)


def _kl_variants(mu, logvar) -> list[tuple[np.ndarray, str]]:
    """Common wrong KL formulas, each with the message that names the mistake."""
    d = to_numpy(mu).shape[1]
    return [
        (_kl(mu, logvar, half=1.0), "the KL is twice the right value: the factor ½ in front of the sum is missing"),
        (_kl(mu, logvar, reduce=np.mean), "the KL is averaged over the latent dimensions: sum over them instead"),
        (_kl(mu, logvar, var=lambda lv: np.exp(lv / 2)),
         "the KL uses σ = exp(logvar / 2) where σ² = exp(logvar) belongs"),
        (_kl(mu, logvar, var=lambda lv: lv**2), "the KL uses logvar² for σ²: σ² = exp(logvar)"),
        (_kl(mu, logvar, log_sign=1.0), "the sign of the log σ² term is wrong: it is − log σ² (that is, − logvar)"),
        (_kl(mu, logvar) + 0.5 * d, "the − 1 inside the sum is missing (the KL of the prior itself must be 0)"),
    ]


def _diagnose(number: str, results, what: str) -> None:
    """Raise an :class:`ExerciseError` unless every answer equals its reference.

    ``results`` holds ``(got, ref, variants)`` per case, ``variants`` a list of ``(value,
    message)`` of common mistakes. A mistake is named only if it reproduces the answer in
    *every* case (one case alone can be matched by several mistakes).
    """
    same = functools.partial(close, rtol=1e-4, atol=1e-6)
    bad = [(g, r) for g, r, _ in results if not same(g, r)]
    if not bad:
        return
    name_mistake(number, results, same)
    g, r = (np.ravel(np.asarray(a, dtype=np.float64)) for a in bad[0])
    i = int(np.argmax(np.abs(g - r)))
    raise ExerciseError(f"Exercise {number}: {what} is {g[i]:.6g} where the definition gives {r[i]:.6g} "
                        f"(entry {i}); compare your formula with the one in the markdown above")


# ----------------------------------------------------------------------------- 3.1

class _FixedVAE:
    """A stand-in for a VAE: ``model(x)`` returns fixed ``(x_hat, mu, logvar)`` with gradients."""

    def __init__(self, x_hat, mu, logvar):
        self.outputs = [torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in (x_hat, mu, logvar)]

    def __call__(self, x):
        return tuple(self.outputs)


def _toy_vae(seed: int = 31):
    """Five 4 × 4 pT images, their softmax reconstructions and 3-dimensional posteriors."""
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=(5, 1, 4, 4)) * (rng.random((5, 1, 4, 4)) < 0.6)
    x[:, 0, 0, 0] += 0.5
    x /= x.sum(axis=(1, 2, 3), keepdims=True)
    logits = rng.normal(size=(5, 16))
    x_hat = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).reshape(5, 1, 4, 4)
    mu, logvar = rng.normal(0.0, 1.5, (5, 3)), rng.normal(0.0, 0.8, (5, 3))
    return torch.tensor(x, dtype=torch.float32), _FixedVAE(x_hat, mu, logvar)


def _loss_variants(recon, kl, mse_recon, beta, n_pixels, mu, logvar):
    """Common wrong β-VAE losses (batch values) with their messages."""
    right = (1 - beta) * recon + beta * kl
    out = [
        (np.mean(beta * recon + (1 - beta) * kl), "the β weighting is swapped: (1 − β) multiplies the "
         "reconstruction error and β the KL, L = (1 − β) recon + β KL"),
        (np.mean(recon + beta * kl), "the reconstruction term lacks its factor (1 − β): L = (1 − β) recon + β KL"),
        (np.mean((1 - beta) * recon + kl), "the KL term lacks its factor β"),
        (np.sum(right), "the loss is summed over the batch: return the batch mean (.mean())"),
        (np.mean((1 - beta) * mse_recon + beta * kl), "the metric argument is ignored: pass `metric` on to "
         "reconstruction_error(x, x_hat, metric)"),
        (np.mean((1 - beta) * recon / n_pixels + beta * kl), "the reconstruction error is averaged over the pixels; "
         "reconstruction_error(x, x_hat, metric) already sums over them, use it as it is"),
    ]
    out += [(np.mean((1 - beta) * recon + beta * wrong), message) for wrong, message in _kl_variants(mu, logvar)]
    return out


def _scalar_loss(number: str, got, n: int):
    """The loss as a float after checking it is a differentiable scalar tensor."""
    if isinstance(got, torch.Tensor) and got.numel() == n and n > 1:
        raise ExerciseError(f"Exercise {number}: the loss has one value per image (shape {tuple(got.shape)}); "
                            "return the batch mean, a single number (.mean())")
    require(number, isinstance(got, torch.Tensor), f"the loss is a {type(got).__name__}; return a torch "
            "tensor (no .item(), float() or NumPy): training needs loss.backward()")
    require(number, got.numel() == 1, f"the loss has shape {tuple(got.shape)}; return a single number, "
            "the batch mean")
    return float(got.detach())


def _beta_loss_on_toy(answer) -> None:
    """Exact values and gradients on the stand-in VAE, for both metrics and β = 0, 0.3, 1."""
    results, calls = [], []
    for metric in ("mse", "bce"):
        for beta in (0.3, 0.0, 1.0):
            x, model = _toy_vae()
            x_hat, mu, logvar = model.outputs
            got = call_answer("3.1", answer, model, x, beta, metric)
            value = _scalar_loss("3.1", got, len(x))
            recon, kl = _recon(x, x_hat, metric), _kl(mu, logvar)
            ref = float(np.mean((1 - beta) * recon + beta * kl))
            results.append((value, ref, _loss_variants(recon, kl, _recon(x, x_hat, "mse"), beta, 16, mu, logvar)))
            calls.append((got, beta, x_hat, mu))
    _diagnose("3.1", results, "the loss on a test batch")
    for got, beta, x_hat, mu in calls:
        require("3.1", got.requires_grad, "the loss is detached from the network's outputs (no gradient): "
                "compute it with torch operations on model(x)")
        got.backward()
        if beta < 1:
            require("3.1", x_hat.grad is not None and bool(x_hat.grad.abs().sum() > 0),
                    "no gradient reaches the reconstruction x_hat: use the x_hat that model(x) returns")
        if beta > 0:
            require("3.1", mu.grad is not None and bool(mu.grad.abs().sum() > 0),
                    "no gradient reaches mu through the KL term: compute the KL from model(x)'s mu and logvar")


def _beta_loss_on_model(answer, model, x, metrics, betas) -> None:
    """The notebook's network and images: the loss equals the definition to float32 precision."""
    with torch.no_grad():
        torch.manual_seed(0)
        x_hat, mu, logvar = model(x)
        for metric in metrics:
            recon, kl = _recon(x, x_hat, metric), _kl(mu, logvar)
            for beta in betas:
                torch.manual_seed(0)         # a model in training mode draws the same z again
                value = _scalar_loss("3.1", call_answer("3.1", answer, model, x, beta, metric), len(x))
                ref = float(np.mean((1 - beta) * recon + beta * kl))
                require("3.1", abs(value - ref) <= 1e-4 * abs(ref) + 1e-7,
                        f"on the notebook's images ({metric}, beta = {beta}) the loss is {value:.6g}, the "
                        f"definition gives {ref:.6g}")


def exercise_3_1(answer, model=None, x=None, metrics=("mse", "bce"), betas=(0.0, 1e-3, 0.5)) -> None:
    """Check ``beta_loss(model, x, beta, metric)``: the batch mean of (1 − β)·recon + β·KL.

    Parameters
    ----------
    answer : callable
        The student's ``beta_loss``.
    model, x : optional
        The notebook's VAE (returns ``(x_hat, mu, logvar)``) and a batch of images (n, 1, H, W);
        the loss must equal the definition on them for every metric and β given.
    metrics, betas : sequence
        The metrics and KL weights of that comparison.

    Raises
    ------
    ExerciseError
        If the answer is missing, is not a differentiable scalar, or differs from the definition
        (the message names the mistake it matches: β weighting swapped, KL without ½, ...).
    """
    with torch.random.fork_rng():
        _beta_loss_on_toy(answer)
        if model is not None:
            _beta_loss_on_model(answer, model, x, metrics, betas)
    correct("3.1")


# ----------------------------------------------------------------------------- 3.2

def _kl_cases(mu=None, logvar=None):
    """Exact small cases, random posteriors in float32 and float64, and the notebook's own."""
    rng = np.random.default_rng(32)
    cases = [(np.zeros((1, 2)), np.zeros((1, 2))),                     # the prior itself: 0
             (np.array([[0.0, 1.0]]), np.zeros((1, 2))),               # ½ μ² = 0.5
             (np.zeros((2, 3)), np.log([[2.0, 1.0, 1.0], [0.5, 1.0, 1.0]]))]
    rand = (rng.normal(0, 1.5, (6, 4)), rng.normal(0, 0.8, (6, 4)))
    out = [tuple(torch.tensor(a, dtype=torch.float64) for a in c) for c in cases]
    out += [tuple(torch.tensor(a, dtype=dt) for a in rand) for dt in (torch.float32, torch.float64)]
    if mu is not None:
        out.append((mu, logvar))
    return out


def exercise_3_2(answer, mu=None, logvar=None) -> None:
    """Check ``kl_score(mu, logvar)``: ½ Σ_k (μ_k² + σ_k² − 1 − log σ_k²), one value per image.

    Parameters
    ----------
    answer : callable
        The student's ``kl_score``.
    mu, logvar : Tensor (n, d), optional
        The notebook's latent means and log-variances (checked too).

    Raises
    ------
    ExerciseError
        If the answer is missing, has the wrong shape (wrong axis) or differs from the definition
        (the message names the mistake: missing ½, σ instead of σ², the sign of log σ², ...).
    """
    results = []
    for m, lv in _kl_cases(mu, logvar):
        got = call_answer("3.2", answer, m, lv)
        require("3.2", isinstance(got, torch.Tensor), f"kl_score returned a {type(got).__name__}; return a torch "
                "tensor, computed with torch operations on mu and logvar")
        n, d = m.shape
        if tuple(got.shape) == (d,) and n != d:
            raise ExerciseError("Exercise 3.2: the KL has one value per latent dimension: it was summed over the "
                                "images (dim=0); sum over the latent dimensions instead (dim=1)")
        require("3.2", tuple(got.shape) == (n,), f"the KL has shape {tuple(got.shape)} for mu of shape {(n, d)}; "
                "return one number per image, shape (n,) (sum over dim=1)")
        results.append((to_numpy(got), _kl(m, lv), _kl_variants(m, lv)))
    _diagnose("3.2", results, "the KL of an image")
    correct("3.2")


# ----------------------------------------------------------------------------- 3.3

def _toy_rows(seed: int = 33) -> list[dict]:
    """Four grid points whose best AUCs differ on purpose between halves, signals and scores."""
    rng = np.random.default_rng(seed)
    rows = [{"metric": m, "latent": lat, "beta": 1e-3} for m, lat in (("mse", 2), ("mse", 16), ("bce", 2), ("bce", 16))]
    for row in rows:
        for s in ("top", "w"):
            for k in SCORES:
                for split in ("", "sel_", "eval_"):
                    row[f"auc_{split}{s}_{k}"] = float(rng.uniform(0.55, 0.75))
    planted = {   # (split, signal): (row, score) of the largest AUC, all different
        ("sel", "top"): (2, "kl"), ("eval", "top"): (1, "loss"), ("", "top"): (3, "recon"),
        ("sel", "w"): (3, "loss"), ("eval", "w"): (0, "kl"), ("", "w"): (1, "recon"),
    }
    for (split, s), (i, k) in planted.items():
        rows[i][f"auc_{split + '_' if split else ''}{s}_{k}"] = 0.9 + 0.01 * i
    rows[0]["auc_sel_top_recon"] = 0.85     # best with the recon score alone (not the best overall)
    rows[1]["auc_sel_top_kl"] = 0.30        # the smallest, for answers that take the minimum
    return rows


def _best(rows, column) -> tuple[dict, str, float]:
    """Reference: the (row, score, value) with the largest ``column.format(score)``."""
    return max(((r, k, r[column.format(k)]) for r in rows for k in SCORES), key=lambda c: c[2])


def _validate_choice(got, rows):
    require("3.3", isinstance(got, tuple) and len(got) == 3, f"best_point returned {type(got).__name__} "
            f"{got!r:.80}; return a tuple (row, score, auc)")
    row, score, auc = got
    require("3.3", isinstance(row, dict), f"the first item is a {type(row).__name__}; it must be the row (a dict)")
    require("3.3", any(row is r for r in rows), "the row returned is not one of the rows given (a copy or a "
            "new dict?); return the row itself: the notebook compares rows with `is`")
    require("3.3", score in SCORES, f"the second item, {score!r}, is not one of the scores {list(SCORES)}")
    return row, score, auc


def _wrong_choices(rows, signal, split):
    """What common mistakes would pick, with their messages."""
    other = {"sel": "eval", "eval": "sel"}[split]
    other_signal = {"top": "w", "w": "top"}.get(signal, signal)
    rule = (" The project's rule: a best configuration is chosen on other events than those its performance "
            "is reported on (choose on 'sel', report on 'eval')." if split == "sel" else "")
    return [
        (_best(rows, f"auc_{other}_{signal}_{{}}"),
         f"asked for split={split!r}, the answer chose on the {other!r} half: read the columns "
         f"f\"auc_{{split}}_{{signal}}_{{score}}\" of the split you are given." + rule),
        (_best(rows, f"auc_{signal}_{{}}"),
         "the choice was made on the AUC of all test jets (auc_<signal>_<score>), which contains the evaluation "
         "half the choice is then reported on: read f\"auc_{split}_{signal}_{score}\""),
        (min(((r, k, r[f"auc_{split}_{signal}_{k}"]) for r in rows for k in SCORES), key=lambda c: c[2]),
         "this is the smallest AUC, not the largest (max, not min; AUC: higher is better)"),
        (max(((r, "recon", r[f"auc_{split}_{signal}_recon"]) for r in rows), key=lambda c: c[2]),
         f"only the recon score was searched: loop over all scores {list(SCORES)} as well as the rows"),
        (_best(rows, f"auc_{split}_{other_signal}_{{}}"),
         "this is the best point for the other signal: use the `signal` argument in the column name"),
    ]


def _check_choice(answer, rows, signal, split, *args) -> None:
    rows_list = list(rows)
    got = call_answer("3.3", answer, rows, signal, *args)
    row, score, auc = _validate_choice(got, rows_list)
    ref_row, ref_score, ref_auc = _best(rows_list, f"auc_{split}_{signal}_{{}}")
    if row[f"auc_{split}_{signal}_{score}"] != ref_auc:          # any of several tied maxima is right
        for (w_row, w_score, _), message in _wrong_choices(rows_list, signal, split):
            if row is w_row and score == w_score:
                raise ExerciseError(f"Exercise 3.3: {message}")
        raise ExerciseError(f"Exercise 3.3: for signal {signal!r} on split {split!r} the largest AUC is "
                            f"{ref_auc:.4f} ({ref_score} score of row {rows_list.index(ref_row)}); your answer "
                            f"chose the {score} score of row {rows_list.index(row)} "
                            f"(AUC {row[f'auc_{split}_{signal}_{score}']:.4f} there)")
    require("3.3", isinstance(auc, (float, int, np.floating)) and abs(float(auc) - ref_auc) < 1e-12,
            f"the third item is {auc!r}; return the AUC of the chosen row and score on the split that chose it, "
            f"row[f\"auc_{{split}}_{{signal}}_{{score}}\"] = {ref_auc:.4f}")


def exercise_3_3(answer, table=None, signals=("top", "w")) -> None:
    """Check ``best_point(rows, signal, split="sel")``: the (row, score, AUC) with the largest AUC.

    The AUC of a row and score is ``row[f"auc_{split}_{signal}_{score}"]``. Tested on rows made
    so that the best point differs between the halves, the signals, the scores and the AUC of
    all test jets, with ``split`` given and left at its default ``"sel"``, on lists and on
    :class:`jetad_utils.scans.ScanTable`, and on the notebook's scan table.

    Parameters
    ----------
    answer : callable
        The student's ``best_point``.
    table : ScanTable or list of dict, optional
        The notebook's scan table (checked for every signal and both halves).
    signals : sequence of str
        The signals of ``table``.

    Raises
    ------
    ExerciseError
        If the answer is missing or picks another point than the definition (the message names
        the mistake: chosen on the half it is reported on, minimum, one score only, ...).
    """
    from ..scans import ScanTable

    rows = _toy_rows()
    for signal in ("top", "w"):
        _check_choice(answer, rows, signal, "sel")                       # default split
        for split in ("sel", "eval"):
            _check_choice(answer, rows, signal, split, split)
            _check_choice(answer, ScanTable(rows), signal, split, split)
    best_row = _best(rows, "auc_sel_top_{}")[0]
    _check_choice(answer, [r for r in rows if r is not best_row], "top", "sel", "sel")   # a runner-up
    if table is not None:
        for signal in signals:
            for split in ("sel", "eval"):
                _check_choice(answer, table, signal, split, split)
    correct("3.3")
