"""The checks of notebook 03's exercises accept right answers and name the mistake in wrong ones.

Right answers: the solution of the notebook and a different correct formulation, at several
seeds of the notebook-like inputs. Wrong answers: what students write (β weighting swapped, KL
without ½, batch sum instead of mean, wrong axis, choosing on the half that is reported, ...).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetad_utils.exercise_checks import ExerciseError
from jetad_utils.exercise_checks import nb03 as checks
from jetad_utils.losses import kl_divergence, reconstruction_error
from jetad_utils.models import ConvVAE
from jetad_utils.scans import SCORES, ScanTable

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SEEDS = (0, 1, 2)


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise N.M: your code here")


def notebook_inputs(seed):
    """An untrained ConvVAE (eval mode) and pT-normalised 8 x 8 images, as in the notebook."""
    torch.manual_seed(seed)
    model = ConvVAE(latent_dim=4, image_size=8).eval()
    x = torch.rand(16, 1, 8, 8) * (torch.rand(16, 1, 8, 8) < 0.3)
    x[:, 0, 4, 4] += 0.2
    x = x / x.sum(dim=(1, 2, 3), keepdim=True)
    with torch.no_grad():
        _, mu, logvar = model(x)
    return model, x, mu, logvar


# ----------------------------------------------------------------------------- 3.1 answers

def beta_loss_solution(model, x, beta, metric="mse"):
    x_hat, mu, logvar = model(x)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)
    return ((1 - beta) * reconstruction_error(x, x_hat, metric) + beta * kl).mean()


def beta_loss_alternative(model, x, beta, metric="mse"):
    """Library KL, the weights applied to the two batch means separately."""
    x_hat, mu, logvar = model(x)
    return (1 - beta) * reconstruction_error(x, x_hat, metric).mean() + beta * kl_divergence(mu, logvar).mean()


def beta_loss_swapped(model, x, beta, metric="mse"):
    x_hat, mu, logvar = model(x)
    return (beta * reconstruction_error(x, x_hat, metric) + (1 - beta) * kl_divergence(mu, logvar)).mean()


def beta_loss_no_half(model, x, beta, metric="mse"):
    x_hat, mu, logvar = model(x)
    kl = (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)
    return ((1 - beta) * reconstruction_error(x, x_hat, metric) + beta * kl).mean()


def beta_loss_batch_sum(model, x, beta, metric="mse"):
    x_hat, mu, logvar = model(x)
    return ((1 - beta) * reconstruction_error(x, x_hat, metric) + beta * kl_divergence(mu, logvar)).sum()


def beta_loss_per_image(model, x, beta, metric="mse"):
    x_hat, mu, logvar = model(x)
    return (1 - beta) * reconstruction_error(x, x_hat, metric) + beta * kl_divergence(mu, logvar)


def beta_loss_item(model, x, beta, metric="mse"):
    return beta_loss_solution(model, x, beta, metric).item()


def beta_loss_metric_ignored(model, x, beta, metric="mse"):
    return beta_loss_solution(model, x, beta, "mse")


def beta_loss_no_one_minus_beta(model, x, beta, metric="mse"):
    x_hat, mu, logvar = model(x)
    return (reconstruction_error(x, x_hat, metric) + beta * kl_divergence(mu, logvar)).mean()


def beta_loss_sigma(model, x, beta, metric="mse"):
    x_hat, mu, logvar = model(x)
    kl = 0.5 * (mu**2 + (logvar / 2).exp() - 1 - logvar).sum(dim=1)
    return ((1 - beta) * reconstruction_error(x, x_hat, metric) + beta * kl).mean()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [beta_loss_solution, beta_loss_alternative])
def test_3_1_right_answers_pass(answer, seed, capsys):
    model, x, _, _ = notebook_inputs(seed)
    checks.exercise_3_1(answer, model, x, ("mse", "bce"))
    assert capsys.readouterr().out == "Exercise 3.1: correct\n"


def test_3_1_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 3\.1 is not answered yet"):
        checks.exercise_3_1(stub)


@pytest.mark.parametrize("answer, cause", [
    (beta_loss_swapped, "weighting is swapped"),
    (beta_loss_no_half, "factor ½"),
    (beta_loss_batch_sum, "summed over the batch"),
    (beta_loss_per_image, "one value per image"),
    (beta_loss_item, "return a torch tensor"),
    (beta_loss_metric_ignored, "metric argument is ignored"),
    (beta_loss_no_one_minus_beta, "lacks its factor \\(1 − β\\)"),
    (beta_loss_sigma, "σ = exp\\(logvar / 2\\)"),
])
def test_3_1_wrong_answers_name_the_cause(answer, cause):
    model, x, _, _ = notebook_inputs(0)
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_3_1(answer, model, x)


def test_3_1_leaves_the_random_state_alone():
    model, x, _, _ = notebook_inputs(0)
    torch.manual_seed(5)
    state = torch.get_rng_state()
    checks.exercise_3_1(beta_loss_solution, model.train(), x)
    assert torch.equal(torch.get_rng_state(), state)


# ----------------------------------------------------------------------------- 3.2 answers

def kl_solution(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)


def kl_alternative(mu, logvar):
    """Per dimension with the variance spelled out, summed over the last axis."""
    var = torch.exp(logvar)
    return torch.sum(mu * mu + var - torch.log(var) - 1.0, dim=-1) / 2


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [kl_solution, kl_alternative])
def test_3_2_right_answers_pass(answer, seed, capsys):
    _, _, mu, logvar = notebook_inputs(seed)
    checks.exercise_3_2(answer, mu, logvar)
    assert capsys.readouterr().out == "Exercise 3.2: correct\n"


def test_3_2_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 3\.2 is not answered yet"):
        checks.exercise_3_2(stub)


@pytest.mark.parametrize("answer, cause", [
    (lambda mu, lv: (mu**2 + lv.exp() - 1 - lv).sum(dim=1), "factor ½"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(dim=0), "wrong axis|summed over the images"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).mean(dim=1), "averaged over the latent dimensions"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 + lv).sum(dim=1), "sign of the log σ² term"),
    (lambda mu, lv: 0.5 * (mu**2 + (lv / 2).exp() - 1 - lv).sum(dim=1), "σ = exp\\(logvar / 2\\)"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(dim=1), "− 1 inside the sum is missing"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(), "shape"),
    (lambda mu, lv: (0.5 * (mu**2 + lv.exp() - 1 - lv).sum(dim=1)).numpy(), "torch tensor"),
])
def test_3_2_wrong_answers_name_the_cause(answer, cause):
    _, _, mu, logvar = notebook_inputs(0)
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_3_2(answer, mu, logvar)


# ----------------------------------------------------------------------------- 3.3 answers

def best_point_solution(rows, signal, split="sel"):
    candidates = [(row, k, row[f"auc_{split}_{signal}_{k}"]) for row in rows for k in SCORES]
    return max(candidates, key=lambda c: c[2])


def best_point_alternative(rows, signal, split="sel"):
    """Explicit loops, a running maximum."""
    best = None
    for row in rows:
        for score in SCORES:
            auc = row[f"auc_{split}_{signal}_{score}"]
            if best is None or auc > best[2]:
                best = (row, score, auc)
    return best


def best_point_last_of_ties(rows, signal, split="sel"):
    """A running maximum with >=: of tied AUCs it keeps the last (as right as the first)."""
    best = None
    for row in rows:
        for score in SCORES:
            auc = row[f"auc_{split}_{signal}_{score}"]
            if best is None or auc >= best[2]:
                best = (row, score, auc)
    return best


def tied_scan_table(seed):
    """The loss score ranks the jets as the recon score does (tiny beta): their AUCs tie."""
    table = scan_table(seed)
    for row in table:
        for s in ("top", "w"):
            for split in ("", "sel_", "eval_"):
                row[f"auc_{split}{s}_loss"] = row[f"auc_{split}{s}_recon"]
    return table


def best_point_on_eval(rows, signal, split="sel"):
    return best_point_solution(rows, signal, "eval")


def best_point_on_sel_only(rows, signal, split="sel"):
    return best_point_solution(rows, signal, "sel")


def best_point_all_jets(rows, signal, split="sel"):
    return max(((r, k, r[f"auc_{signal}_{k}"]) for r in rows for k in SCORES), key=lambda c: c[2])


def best_point_min(rows, signal, split="sel"):
    return min(((r, k, r[f"auc_{split}_{signal}_{k}"]) for r in rows for k in SCORES), key=lambda c: c[2])


def best_point_recon_only(rows, signal, split="sel"):
    return max(((r, "recon", r[f"auc_{split}_{signal}_recon"]) for r in rows), key=lambda c: c[2])


def best_point_copy(rows, signal, split="sel"):
    row, k, auc = best_point_solution(rows, signal, split)
    return dict(row), k, auc


def best_point_row_only(rows, signal, split="sel"):
    return best_point_solution(rows, signal, split)[0]


def best_point_eval_auc(rows, signal, split="sel"):
    row, k, _ = best_point_solution(rows, signal, split)
    return row, k, row[f"auc_eval_{signal}_{k}"]


def scan_table(seed):
    """A table with the columns of scans.run_scan's (8 grid points), random AUCs."""
    rng = np.random.default_rng(seed)
    rows = []
    for metric in ("mse", "bce"):
        for latent in (2, 16):
            for beta in (1e-4, 1e-2):
                row = {"metric": metric, "latent": latent, "beta": beta, "val_loss": float(rng.random())}
                for s in ("top", "w"):
                    for k in SCORES:
                        for split in ("", "sel_", "eval_"):
                            row[f"auc_{split}{s}_{k}"] = float(rng.uniform(0.3, 0.9))
                rows.append(row)
    return ScanTable(rows)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [best_point_solution, best_point_alternative])
def test_3_3_right_answers_pass(answer, seed, capsys):
    checks.exercise_3_3(answer, scan_table(seed), ("top", "w"))
    assert capsys.readouterr().out == "Exercise 3.3: correct\n"


@pytest.mark.parametrize("answer", [best_point_solution, best_point_last_of_ties])
def test_3_3_any_of_tied_maxima_passes(answer, capsys):
    checks.exercise_3_3(answer, tied_scan_table(0), ("top", "w"))
    assert capsys.readouterr().out == "Exercise 3.3: correct\n"


def test_3_3_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 3\.3 is not answered yet"):
        checks.exercise_3_3(stub)


@pytest.mark.parametrize("answer, cause", [
    (best_point_on_eval, "chosen on other events than those its performance is reported on"),
    (best_point_on_sel_only, "asked for split='eval', the answer chose on the 'sel' half"),
    (best_point_all_jets, "AUC of all test jets"),
    (best_point_min, "smallest AUC"),
    (best_point_recon_only, "only the recon score"),
    (best_point_copy, "return the row itself"),
    (best_point_row_only, "return a tuple \\(row, score, auc\\)"),
    (best_point_eval_auc, "the third item"),
])
def test_3_3_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_3_3(answer, scan_table(0))
