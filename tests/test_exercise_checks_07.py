"""Tests of notebook 07's exercise checks: right answers pass, stubs and the usual wrong answers are named.

Each exercise gets the solution's answer and a differently written correct one (each must pass at
several seeds and print one confirmation line), the stub (-> "not answered yet"), and the wrong
answers students write (-> an ExerciseError whose message names the cause).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from nbrun import first_error, use_test_kernel

from jetad_utils import latent
from jetad_utils.exercise_checks import ExerciseError, nb07
from jetad_utils.losses import kl_divergence

ALPHA = 5000.0
SIGMA_M, MJJ_MEAN, MJJ_STD = 0.025, 3087.3, 681.8     # the notebook's values (fast mode, GeV)
SEEDS = (0, 1, 2)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise 7.N: the task")


def _passes(check, capsys, number):
    check()
    assert capsys.readouterr().out.startswith(f"Exercise {number}: correct")


def _fails(check, fragment):
    with pytest.raises(ExerciseError) as info:
        check()
    assert fragment in str(info.value), str(info.value)
    return str(info.value)


# ----------------------------------------------------------------------------- 7.1: the VAE loss


def loss_solution(model, x, alpha=ALPHA):
    x_hat, z_mean, z_logvar = model(x)
    mse = ((x_hat - x) ** 2).mean(dim=1)
    kl = 0.5 * (z_mean**2 + z_logvar.exp() - 1.0 - z_logvar).sum(dim=1)
    return (alpha * mse + kl).mean()


def loss_library(model, x, alpha=ALPHA):
    """Another formulation: F.mse_loss over the whole batch and the library's KL."""
    x_hat, z_mean, z_logvar = model(x)
    return alpha * F.mse_loss(x_hat, x) + kl_divergence(z_mean, z_logvar).mean()


def loss_sigma(model, x, alpha=ALPHA):
    """Another formulation: written with sigma = exp(z_logvar / 2) and per-term means."""
    x_hat, z_mean, z_logvar = model(x)
    sigma = torch.exp(0.5 * z_logvar)
    kl = (0.5 * (z_mean**2 + sigma**2) - 0.5 - torch.log(sigma)).sum(dim=1).mean()
    return alpha * torch.mean((x - x_hat) ** 2) + kl


def _loss_variant(mse_fn, kl_fn, combine=lambda a, m, k: (a * m + k).mean()):
    def vae_loss(model, x, alpha=ALPHA):
        x_hat, mu, lv = model(x)
        return combine(alpha, mse_fn(x_hat, x), kl_fn(mu, lv))
    return vae_loss


def MSE(xh, x):
    return ((xh - x) ** 2).mean(dim=1)


def KL(mu, lv):
    return 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(dim=1)

WRONG_LOSSES = {
    "alpha on the KL": (_loss_variant(MSE, KL, lambda a, m, k: (m + a * k).mean()), "alpha multiplies the KL"),
    "sum over events": (_loss_variant(MSE, KL, lambda a, m, k: (a * m + k).sum()), "sum over the 500 events"),
    "sum over features": (_loss_variant(lambda xh, x: ((xh - x) ** 2).sum(dim=1), KL), "summed over the 6 features"),
    "KL sign": (_loss_variant(MSE, KL, lambda a, m, k: (a * m - k).mean()), "wrong sign"),
    "KL without 1/2": (_loss_variant(MSE, lambda mu, lv: 2 * KL(mu, lv)), "factor 1/2"),
    "no KL": (_loss_variant(MSE, KL, lambda a, m, k: (a * m).mean()), "KL term is missing"),
    "no MSE": (_loss_variant(MSE, KL, lambda a, m, k: k.mean()), "reconstruction term alpha * MSE is missing"),
    "KL averaged over latent dims": (_loss_variant(MSE, lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).mean(dim=1)),
                                     "averaged over the latent dimensions"),
    "logvar taken as log sigma": (_loss_variant(MSE, lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 1 - 2 * lv).sum(1)),
                                  "sigma^2 = exp(z_logvar)"),
    "KL without -1": (_loss_variant(MSE, lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(1)), "the -1 inside"),
    "a beta on the KL": (_loss_variant(MSE, KL, lambda a, m, k: (a * m + 0.1 * k).mean()), "its value at alpha = 0"),
    "ignores alpha": (lambda model, x, alpha=ALPHA: loss_solution(model, x, ALPHA), "does not change with its alpha"),
    "per-event losses": (_loss_variant(MSE, KL, lambda a, m, k: a * m + k), "one value per event"),
    "a float": (lambda model, x, alpha=ALPHA: loss_solution(model, x, alpha).item(), "not a float"),
    "NumPy": (lambda model, x, alpha=ALPHA: loss_solution(model, x, alpha).detach().numpy(), "as a torch tensor"),
    "detached": (lambda model, x, alpha=ALPHA: loss_solution(model, x, alpha).detach(), "carries no gradient"),
    "absolute error": (_loss_variant(lambda xh, x: (xh - x).abs().mean(dim=1), KL), "mean_i (x_i - x_hat_i)^2"),
}


def _batch(seed, n=1000):
    return np.random.default_rng(seed).uniform(0, 1, (n, 6)).astype(np.float32)


@pytest.mark.parametrize("answer", [loss_solution, loss_library, loss_sigma])
@pytest.mark.parametrize("seed", SEEDS)
def test_7_1_right_answers_pass(answer, seed, capsys):
    _passes(lambda: nb07.exercise_7_1(answer, _batch(seed), alpha=ALPHA, seed=seed), capsys, "7.1")


def test_7_1_stub_is_not_answered():
    _fails(lambda: nb07.exercise_7_1(stub, _batch(0), alpha=ALPHA), "Exercise 7.1 is not answered yet")


@pytest.mark.parametrize("name", sorted(WRONG_LOSSES))
def test_7_1_wrong_answers_are_named(name):
    answer, fragment = WRONG_LOSSES[name]
    _fails(lambda: nb07.exercise_7_1(answer, _batch(0), alpha=ALPHA), fragment)


def test_7_1_leaves_the_torch_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nb07.exercise_7_1(loss_solution, _batch(0), alpha=ALPHA)
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------- 7.2: the KL-peak rule


def peak_solution(kl, rise=5, fall=5):
    kl = np.asarray(kl, dtype=float)
    steps = np.diff(kl)
    for p in range(rise, len(kl) - fall):
        if np.all(steps[p - rise:p] > 0) and np.all(steps[p:p + fall] < 0):
            return int(np.argmax(kl[:p + fall + 1])), p + fall
    return int(np.argmax(kl)), None


def peak_counting(kl, rise=5, fall=5):
    """Another formulation: walk through the epochs as training does, pure Python."""
    kl = [float(v) for v in kl]
    for stop in range(len(kl)):
        p = stop - fall
        if p - rise < 0:
            continue
        ups = all(kl[i] < kl[i + 1] for i in range(p - rise, p))
        downs = all(kl[i] > kl[i + 1] for i in range(p, stop))
        if ups and downs:
            window = kl[: stop + 1]
            return window.index(max(window)), stop
    return kl.index(max(kl)), None


def _peak_variant(loop_range=lambda r, f, n: range(r, n - f), up=np.greater, down=np.less, rise_window=0,
                  best_of=lambda kl, p, stop: int(np.argmax(kl[: stop + 1])),
                  none=lambda kl: (int(np.argmax(kl)), None)):
    def peak_rule(kl, rise=5, fall=5):
        kl = np.asarray(kl, dtype=float)
        steps = np.diff(kl)
        for p in loop_range(rise, fall, len(kl)):
            if np.all(up(steps[p - rise + rise_window:p], 0)) and np.all(down(steps[p:p + fall], 0)):
                return best_of(kl, p, p + fall), p + fall
        return none(kl)
    return peak_rule


def peak_fixed_five(kl, rise=5, fall=5):
    return peak_solution(kl, 5, 5)


def peak_index_error(kl, rise=5, fall=5):
    kl = list(kl)
    for p in range(rise, len(kl)):
        if all(kl[p - j - 1] < kl[p - j] for j in range(rise)) and all(kl[p + j] > kl[p + j + 1] for j in range(fall)):
            return int(np.argmax(kl[: p + fall + 1])), p + fall
    return int(np.argmax(kl)), None


WRONG_PEAKS = {
    "loop ends one early": (_peak_variant(loop_range=lambda r, f, n: range(r, n - f - 1)), "last epoch of the curve"),
    "loop starts one late": (_peak_variant(loop_range=lambda r, f, n: range(r + 1, n - f)), "p = rise"),
    "non-strict comparisons": (_peak_variant(up=np.greater_equal, down=np.less_equal), "strict"),
    "4 rises suffice": (_peak_variant(rise_window=1), "4 are not enough"),
    "returns the KL value": (_peak_variant(best_of=lambda kl, p, stop: float(np.max(kl[: stop + 1]))),
                             "not the KL value"),
    "keeps the peak p": (_peak_variant(best_of=lambda kl, p, stop: p), "need not be the peak p"),
    "argmax over the whole curve": (_peak_variant(best_of=lambda kl, p, stop: int(np.argmax(kl))), "never sees later"),
    "keeps the stop epoch": (_peak_variant(best_of=lambda kl, p, stop: stop), "best should be"),
    "no peak gives -1": (_peak_variant(none=lambda kl: (int(np.argmax(kl)), -1)), "stop should be None"),
    "no peak gives False": (_peak_variant(none=lambda kl: (int(np.argmax(kl)), False)), "integer epoch or None"),
    "fixed 5s": (peak_fixed_five, "use the rise and fall arguments"),
    "swapped": (lambda kl, rise=5, fall=5: peak_solution(kl, rise, fall)[::-1], "the order is (best, stop)"),
    "last of tied maxima": (_peak_variant(best_of=lambda kl, p, stop: stop - int(np.argmax(kl[: stop + 1][::-1])),
                                          none=lambda kl: (len(kl) - 1 - int(np.argmax(kl[::-1])), None)),
                            "keep the first"),
    "index error": (peak_index_error, "raised IndexError"),
    "a float epoch": (lambda kl, rise=5, fall=5: (float(peak_solution(kl, rise, fall)[0]) + 0.0,
                                                   peak_solution(kl, rise, fall)[1]), "must be an integer epoch"),
    "not a pair": (lambda kl, rise=5, fall=5: peak_solution(kl, rise, fall)[0], "return a pair"),
}


def test_7_2_hand_made_answers_are_those_of_the_library():
    for what, values, rise, fall, expected, _ in nb07.PEAK_CASES:
        assert latent.kl_peak(values, rise, fall) == expected, what


@pytest.mark.parametrize("answer", [peak_solution, peak_counting])
def test_7_2_right_answers_pass(answer, capsys):
    _passes(lambda: nb07.exercise_7_2(answer), capsys, "7.2")


def test_7_2_stub_is_not_answered():
    _fails(lambda: nb07.exercise_7_2(stub), "Exercise 7.2 is not answered yet")


@pytest.mark.parametrize("name", sorted(WRONG_PEAKS))
def test_7_2_wrong_answers_are_named(name):
    answer, fragment = WRONG_PEAKS[name]
    _fails(lambda: nb07.exercise_7_2(answer), fragment)


# ----------------------------------------------------------------------------- 7.3: the per-event KL


@torch.no_grad()
def kl_solution(model, x):
    z_mean, z_logvar = model.encode(torch.as_tensor(x))
    return (0.5 * (z_mean**2 + z_logvar.exp() - 1.0 - z_logvar).sum(dim=1)).numpy()


@torch.no_grad()
def kl_numpy(model, x):
    """Another formulation: in NumPy, float64, from sigma."""
    z_mean, z_logvar = (t.numpy().astype(np.float64) for t in model.encode(torch.from_numpy(np.asarray(x, np.float32))))
    sigma = np.exp(z_logvar / 2)
    return np.sum(0.5 * (z_mean**2 + sigma**2 - 1) - np.log(sigma), axis=1)


def _kl_variant(formula, reduce=lambda t: t.sum(dim=1), post=lambda t: t.numpy()):
    @torch.no_grad()
    def kl_per_event(model, x):
        mu, lv = model.encode(torch.as_tensor(x))
        return post(reduce(formula(mu, lv)))
    return kl_per_event


def TERM(mu, lv):
    return 0.5 * (mu**2 + lv.exp() - 1 - lv)


@torch.no_grad()
def kl_sampled_z(model, x):
    mu, lv = model.encode(torch.as_tensor(x))
    z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
    return TERM(z, lv).sum(dim=1).numpy()


WRONG_KLS = {
    "no 1/2": (_kl_variant(lambda mu, lv: 2 * TERM(mu, lv)), "factor 1/2"),
    "the score, -KL": (_kl_variant(lambda mu, lv: -TERM(mu, lv)), "wrong sign"),
    "logvar taken as log sigma": (_kl_variant(lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 1 - 2 * lv)),
                                  "sigma^2 = exp(z_logvar)"),
    "mean over latent dims": (_kl_variant(TERM, reduce=lambda t: t.mean(dim=1)), "averaged over the latent dimensions"),
    "sum over events": (_kl_variant(TERM, reduce=lambda t: t.sum()), "not the sum or mean over events"),
    "sum over dim 0": (_kl_variant(TERM, reduce=lambda t: t.sum(dim=0)), "summed over the events (dim=0)"),
    "keepdim": (_kl_variant(TERM, reduce=lambda t: t.sum(dim=1, keepdim=True)), "not (n, 1)"),
    "no sum": (_kl_variant(TERM, reduce=lambda t: t), "sum over the latent dimensions"),
    "a torch tensor": (_kl_variant(TERM, post=lambda t: t), "not a torch tensor"),
    "a list": (_kl_variant(TERM, post=lambda t: t.tolist()), "return a NumPy array"),
    "sampled z": (kl_sampled_z, "changes from call to call"),
    "no -1": (_kl_variant(lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv)), "the -1 inside"),
    "mu instead of mu^2": (_kl_variant(lambda mu, lv: 0.5 * (mu + lv.exp() - 1 - lv)), "check each term"),
}


@pytest.fixture(scope="module")
def trained_like():
    """A VAE trained for a few steps on uniform events, and float32 NumPy events, as the notebook passes."""
    torch.manual_seed(0)
    model = latent.SeluVAE(6, 1)
    x = np.random.default_rng(0).uniform(0, 1, (3000, 6)).astype(np.float32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(20):
        opt.zero_grad()
        loss_solution(model.train(), torch.as_tensor(x)).backward()
        opt.step()
    return model, x


@pytest.mark.parametrize("answer", [kl_solution, kl_numpy])
@pytest.mark.parametrize("seed", SEEDS)
def test_7_3_right_answers_pass(answer, seed, trained_like, capsys):
    model, x = trained_like
    _passes(lambda: nb07.exercise_7_3(answer, model, x, seed=seed), capsys, "7.3")


def test_7_3_stub_is_not_answered(trained_like):
    _fails(lambda: nb07.exercise_7_3(stub, *trained_like), "Exercise 7.3 is not answered yet")


@pytest.mark.parametrize("name", sorted(WRONG_KLS))
def test_7_3_wrong_answers_are_named(name, trained_like):
    answer, fragment = WRONG_KLS[name]
    _fails(lambda: nb07.exercise_7_3(answer, *trained_like), fragment)


def test_7_3_calls_the_answer_on_the_notebook_input(trained_like, capsys):
    """The check also runs the answer on the notebook's model and events, so a pass holds for the later cells."""
    model, x = trained_like
    seen = []

    def spy(m, events):
        seen.append((m, events))
        return kl_solution(m, events)

    nb07.exercise_7_3(spy, model, x)
    assert any(m is model and e is x for m, e in seen)
    assert capsys.readouterr().out == "Exercise 7.3: correct\n"


# ----------------------------------------------------------------------------- 7.4: the decoder's loss


def decoder_solution(decoder, batch, sigma_m=SIGMA_M, mean=MJJ_MEAN, std=MJJ_STD):
    z_mean, z_sigma, mjj, x = batch
    z = z_mean + z_sigma * torch.randn_like(z_mean)
    m = mjj * (1.0 + sigma_m * torch.randn_like(mjj))
    m_scaled = (m - mean) / std
    return ((decoder(z, m_scaled) - x) ** 2).mean()


def decoder_normal(decoder, batch):
    """Another formulation: torch.normal draws and F.mse_loss."""
    z_mean, z_sigma, mjj, x = batch
    z = torch.normal(z_mean, z_sigma)
    m = torch.normal(mjj, SIGMA_M * mjj)
    return F.mse_loss(decoder(z, (m - MJJ_MEAN) / MJJ_STD), x)


def decoder_joint_noise(decoder, batch):
    """Another formulation: one (n, 2) draw split between z and m, the mass shifted in GeV."""
    z_mean, z_sigma, mjj, x = batch
    eps = torch.randn(len(x), 2)
    z = z_mean + z_sigma * eps[:, :1]
    m_scaled = (mjj + SIGMA_M * mjj * eps[:, 1:] - MJJ_MEAN) / MJJ_STD
    return ((decoder(z, m_scaled) - x) ** 2).mean(dim=1).mean()


def _decoder_variant(z_of=lambda zm, zs: zm + zs * torch.randn_like(zm),
                     m_of=lambda mjj: mjj * (1 + SIGMA_M * torch.randn_like(mjj)),
                     scale=lambda m: (m - MJJ_MEAN) / MJJ_STD,
                     loss_of=lambda out, x: ((out - x) ** 2).mean()):
    def decoder_loss(decoder, batch):
        z_mean, z_sigma, mjj, x = batch
        return loss_of(decoder(z_of(z_mean, z_sigma), scale(m_of(mjj))), x)
    return decoder_loss


def decoder_shared_eps(decoder, batch):
    z_mean, z_sigma, mjj, x = batch
    eps = torch.randn_like(z_mean)
    return ((decoder(z_mean + z_sigma * eps, (mjj * (1 + SIGMA_M * eps) - MJJ_MEAN) / MJJ_STD) - x) ** 2).mean()


def decoder_smear_scaled(decoder, batch):
    z_mean, z_sigma, mjj, x = batch
    m_scaled = (mjj - MJJ_MEAN) / MJJ_STD
    m_scaled = m_scaled + SIGMA_M * torch.randn_like(m_scaled)
    return ((decoder(z_mean + z_sigma * torch.randn_like(z_mean), m_scaled) - x) ** 2).mean()


WRONG_DECODER_LOSSES = {
    "no z sampling": (_decoder_variant(z_of=lambda zm, zs: zm), "your z does not vary between draws"),
    "no mass smearing": (_decoder_variant(m_of=lambda mjj: mjj), "your mass does not vary between draws"),
    "no sampling at all": (_decoder_variant(z_of=lambda zm, zs: zm, m_of=lambda mjj: mjj), "your z does not vary"),
    "mass not standardised": (_decoder_variant(scale=lambda m: m),
                              "the mass you pass is not standardised (it is in GeV)"),
    "mass minus mean only": (_decoder_variant(scale=lambda m: m - MJJ_MEAN), "do not divide by MJJ_STD"),
    "mass divided only": (_decoder_variant(scale=lambda m: m / MJJ_STD), "do not subtract MJJ_MEAN"),
    "mass standardised with the batch": (_decoder_variant(scale=lambda m: (m - m.mean()) / m.std()),
                                         "the batch's own mean and sd"),
    "mean and sd swapped": (_decoder_variant(scale=lambda m: (m - MJJ_STD) / MJJ_MEAN),
                            "the mass you pass is not standardised: use (m - MJJ_MEAN) / MJJ_STD"),
    "sigma taken as a variance": (_decoder_variant(z_of=lambda zm, zs: zm + zs.sqrt() * torch.randn_like(zm)),
                                  "not a variance or log-variance"),
    "sigma taken as a log-variance": (_decoder_variant(z_of=lambda zm, zs: zm + (0.5 * zs).exp()
                                                       * torch.randn_like(zm)),
                                      "not a variance or log-variance"),
    "sigma squared": (_decoder_variant(z_of=lambda zm, zs: zm + zs**2 * torch.randn_like(zm)), "the spread of your z"),
    "z without its mean": (_decoder_variant(z_of=lambda zm, zs: zs * torch.randn_like(zm)), "not centred"),
    "uniform noise": (_decoder_variant(z_of=lambda zm, zs: zm + zs * torch.rand_like(zm)), "torch.rand_like"),
    "one eps per batch": (_decoder_variant(z_of=lambda zm, zs: zm + zs * torch.randn(1)), "one eps per event"),
    "shared eps": (decoder_shared_eps, "correlated"),
    "absolute smearing": (_decoder_variant(m_of=lambda mjj: mjj + SIGMA_M * torch.randn_like(mjj)),
                          "smeared by SIGMA_M GeV"),
    "smearing of the scaled mass": (decoder_smear_scaled, "before standardising"),
    "smearing twice too wide": (_decoder_variant(m_of=lambda mjj: mjj * (1 + 2 * SIGMA_M * torch.randn_like(mjj))),
                                "the spread of your mass"),
    "sum": (_decoder_variant(loss_of=lambda out, x: ((out - x) ** 2).sum()), "a sum over events and features"),
    "sum over features": (_decoder_variant(loss_of=lambda out, x: ((out - x) ** 2).sum(dim=1).mean()),
                          "summed over the 6 features"),
    "RMSE": (_decoder_variant(loss_of=lambda out, x: ((out - x) ** 2).mean().sqrt()), "return the MSE of the decoder"),
    "a float": (_decoder_variant(loss_of=lambda out, x: ((out - x) ** 2).mean().item()), "not a float"),
    "detached": (_decoder_variant(loss_of=lambda out, x: ((out - x) ** 2).mean().detach()), "carries no gradient"),
    "float64 noise": (_decoder_variant(z_of=lambda zm, zs: zm + zs * torch.randn(zm.shape, dtype=torch.float64)),
                      "must be float32"),
    "no decoder call": (lambda decoder, batch: (batch[3] ** 2).mean(), "never calls decoder"),
}


@pytest.mark.parametrize("answer", [decoder_solution, decoder_normal, decoder_joint_noise])
@pytest.mark.parametrize("seed", SEEDS)
def test_7_4_right_answers_pass(answer, seed, capsys):
    _passes(lambda: nb07.exercise_7_4(answer, SIGMA_M, MJJ_MEAN, MJJ_STD, seed=seed), capsys, "7.4")


def test_7_4_other_constants_pass(capsys):
    """The check uses the constants it is given (the notebook's), not fixed values."""
    def answer(decoder, batch):
        return decoder_solution(decoder, batch, sigma_m=0.05, mean=2500.0, std=400.0)
    _passes(lambda: nb07.exercise_7_4(answer, 0.05, 2500.0, 400.0), capsys, "7.4")
    _fails(lambda: nb07.exercise_7_4(answer, SIGMA_M, MJJ_MEAN, MJJ_STD), "Exercise 7.4")


def test_7_4_stub_is_not_answered():
    _fails(lambda: nb07.exercise_7_4(stub, SIGMA_M, MJJ_MEAN, MJJ_STD), "Exercise 7.4 is not answered yet")


@pytest.mark.parametrize("name", sorted(WRONG_DECODER_LOSSES))
def test_7_4_wrong_answers_are_named(name):
    answer, fragment = WRONG_DECODER_LOSSES[name]
    _fails(lambda: nb07.exercise_7_4(answer, SIGMA_M, MJJ_MEAN, MJJ_STD), fragment)


def test_7_4_leaves_the_torch_random_state_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    nb07.exercise_7_4(decoder_solution, SIGMA_M, MJJ_MEAN, MJJ_STD)
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------- the student copy


@pytest.mark.notebook
def test_student_copy_stops_at_the_first_exercise_with_not_answered_yet(tmp_path, monkeypatch):
    """Run notebook 07's generated student copy from the top: the first error is 7.1's check, 'not answered yet'."""
    kernel_name = use_test_kernel(tmp_path, monkeypatch)
    monkeypatch.setenv("JETAD_FAST", "1")
    path = Path(__file__).resolve().parents[1] / "notebooks" / "exercises" / "07_latent_bump_hunt.ipynb"
    failure = first_error(nbformat.read(path, as_version=4), path.parent, timeout=900, kernel_name=kernel_name)
    assert failure is not None, "the student copy ran without an error"
    _, _, err = failure
    assert err.ename == "ExerciseError"
    assert "Exercise 7.1 is not answered yet" in err.evalue
