"""Checks of notebook 07's exercises: the VAE loss, the KL-peak rule, the per-event KL, the decoder's loss.

Each ``exercise_7_N(answer, ...)`` calls the student's function on inputs it builds itself (untrained
networks whose posteriors are pushed away from the prior, so that every term of a formula shows)
and on inputs of the types the notebook passes later, compares with a reference computed here, and
raises :class:`~jetad_utils.exercise_checks.ExerciseError` naming the likely mistake. The global
torch random state is restored afterwards, so a check does not change the notebook's later draws.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import torch
from torch import nn

from jetad_utils import latent

from . import ExerciseError, binomial_sigma, call_answer, close, correct, require

__all__ = ["exercise_7_1", "exercise_7_2", "exercise_7_3", "exercise_7_4"]

N_FEATURES = 6          # the VAE's inputs: mj, tau21, tau32 of two jets
TAIL_P = math.erfc(2 / math.sqrt(2))   # P(|eps| > 2) for a standard normal eps, 0.0455


def _keeps_torch_rng(check):
    """Run ``check`` inside ``torch.random.fork_rng``: the notebook's torch random state is unchanged."""

    @functools.wraps(check)
    def wrapped(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            return check(*args, **kwargs)

    return wrapped


#: :func:`close` of one number to a reference, False for a non-finite value; rtol 1e-4, atol 1e-6 unless given
_close_finite = functools.partial(close, rtol=1e-4, atol=1e-6, finite=True)


def _test_vae(latent_dim: int, seed: int, n_features: int = N_FEATURES) -> latent.SeluVAE:
    """An untrained SeluVAE whose posteriors sit away from the prior (z_mean ~ +-1, log sigma^2 ~ -1.5..0.7)."""
    torch.manual_seed(seed)
    model = latent.SeluVAE(n_features, latent_dim)
    with torch.no_grad():
        bias = model.encoder[-1].bias
        bias[:latent_dim] += torch.linspace(0.9, -1.1, latent_dim)
        bias[latent_dim:] += torch.linspace(-1.5, 0.7, latent_dim)
    return model


def _events(n: int, seed: int, n_features: int = N_FEATURES) -> np.ndarray:
    """Scaled-feature-like events: uniform on [0, 1), float32, shape (n, n_features)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, n_features)).astype(np.float32)


def _kl_parts(z_mean, z_logvar) -> dict:
    """Per-event KL to N(0, 1) (float64, summed over latent dims) and the usual wrong versions of it."""
    mu, lv = z_mean.detach().double().numpy(), z_logvar.detach().double().numpy()

    def term(var, log_var):
        return 0.5 * (mu**2 + var - 1.0 - log_var)

    return {
        "kl": term(np.exp(lv), lv).sum(axis=1),
        "mean over latent dimensions": term(np.exp(lv), lv).mean(axis=1),
        "z_logvar taken as log sigma": term(np.exp(2 * lv), 2 * lv).sum(axis=1),
        "sigma = exp(z_logvar / 2) used where sigma^2 belongs": term(np.exp(0.5 * lv), 0.5 * lv).sum(axis=1),
        "without the -1": (term(np.exp(lv), lv) + 0.5).sum(axis=1),
    }


def _kl_mistake(value, parts: dict, n_latent: int) -> str:
    """The likely cause of a KL (per event or batch mean) ``value`` that differs from ``parts['kl']``."""
    kl = parts["kl"]
    if np.allclose(value, 0.0, atol=1e-6):
        return "the KL term is missing (it is 0)"
    if np.allclose(value, -kl, rtol=1e-3, atol=1e-5):
        return "the KL has the wrong sign: it is +1/2 sum_k (z_mean^2 + sigma^2 - 1 - log sigma^2) >= 0"
    if np.allclose(value, 2 * kl, rtol=1e-3, atol=1e-5):
        return "the factor 1/2 in front of the KL is missing"
    if np.allclose(value, 0.5 * kl, rtol=1e-3, atol=1e-5):
        return "the KL is halved twice: one factor 1/2 in front of the bracket"
    if n_latent > 1 and np.allclose(value, parts["mean over latent dimensions"], rtol=1e-3, atol=1e-5):
        return "the KL is averaged over the latent dimensions: sum them (.sum(dim=1))"
    for name in ("z_logvar taken as log sigma", "sigma = exp(z_logvar / 2) used where sigma^2 belongs"):
        if np.allclose(value, parts[name], rtol=1e-3, atol=1e-5):
            return f"{name}: the encoder returns log sigma^2, so sigma^2 = exp(z_logvar) and log sigma^2 = z_logvar"
    if np.allclose(value, parts["without the -1"], rtol=1e-3, atol=1e-5):
        return "the -1 inside the KL bracket is missing: 1/2 (z_mean^2 + sigma^2 - 1 - log sigma^2)"
    return ("it is not 1/2 sum_k (z_mean^2 + exp(z_logvar) - 1 - z_logvar): check each term "
            "(sigma^2 = exp(z_logvar), log sigma^2 = z_logvar)")


# ----------------------------------------------------------------------------- 7.1: the VAE loss


def _scalar_loss(number: str, loss, n_events: int) -> float:
    """Check that ``loss`` is one finite number held in a torch tensor; return it as a float."""
    require(number, isinstance(loss, torch.Tensor),
            f"return the loss as a torch tensor (training calls loss.backward() on it), not a {type(loss).__name__}")
    require(number, loss.numel() != n_events or n_events == 1,
            f"your loss has one value per event (shape {tuple(loss.shape)}): "
            "return their mean over the batch (.mean())")
    require(number, loss.numel() == 1, f"return one number (a 0-d tensor), not a tensor of shape {tuple(loss.shape)}")
    value = float(loss.detach())
    require(number, math.isfinite(value), f"your loss is {value}: check for log(0) or division by zero")
    return value


def _loss_terms(model, x: torch.Tensor):
    """(batch mean of the per-event MSE over features, batch means of the KL and its wrong versions), eval-mode VAE."""
    with torch.no_grad():
        x_hat, z_mean, z_logvar = model(x)
    mse = float(((x_hat.double() - x.double()) ** 2).mean(dim=1).mean())
    parts = {k: float(v.mean()) for k, v in _kl_parts(z_mean, z_logvar).items()}
    return mse, parts


def _check_loss_value(answer, model, x: torch.Tensor, alpha: float) -> None:
    """The loss is alpha * MSE + KL: read its KL part at alpha = 0 and its MSE part as the slope in alpha."""
    n, n_latent = len(x), model.latent_dim
    mse, parts = _loss_terms(model, x)
    kl = parts["kl"]
    at_default = _scalar_loss("7.1", call_answer("7.1", answer, model, x), n)
    at_0 = _scalar_loss("7.1", call_answer("7.1", answer, model, x, alpha=0.0), n)
    at_1 = _scalar_loss("7.1", call_answer("7.1", answer, model, x, alpha=1.0), n)
    slope = at_1 - at_0
    if _close_finite(at_0, at_default) and _close_finite(at_1, at_default):
        require("7.1", not _close_finite(at_default, kl), "the reconstruction term alpha * MSE is missing")
        require("7.1", False, "your loss does not change with its alpha argument (does it use the global ALPHA?): "
                              "weight the MSE by alpha")
    require("7.1", not (_close_finite(at_0, n * kl, rtol=1e-3) or _close_finite(slope, n * mse, rtol=1e-3)),
            f"your loss is a sum over the {n} events of the batch: return the mean over events")
    require("7.1", _close_finite(mse, kl, rtol=1e-2)
            or not (_close_finite(at_0, mse, rtol=1e-3) and _close_finite(slope, kl, rtol=1e-3)),
            "alpha multiplies the KL term: the loss is alpha * MSE + KL (alpha weights the reconstruction)")
    require("7.1", _close_finite(at_0, kl, rtol=1e-4, atol=1e-6),
            f"the KL part of your loss (its value at alpha = 0) is {at_0:.6g}, but the batch mean of the KL is "
            f"{kl:.6g}: {_kl_mistake(np.array([at_0]), {k: np.array([v]) for k, v in parts.items()}, n_latent)}")
    require("7.1", not _close_finite(slope, 0.0, rtol=0.0, atol=1e-9),
            "the reconstruction term alpha * MSE is missing")
    require("7.1", not _close_finite(slope, -mse, rtol=1e-3), "the MSE enters with the wrong sign: + alpha * MSE")
    require("7.1", not _close_finite(slope, x.shape[1] * mse, rtol=1e-3),
            f"the squared errors are summed over the {x.shape[1]} features: the MSE is their mean over the features")
    require("7.1", _close_finite(slope, mse, rtol=1e-4, atol=1e-7),
            f"the reconstruction part of your loss per unit alpha is {slope:.6g}, but the batch mean of "
            f"mean_i (x_i - x_hat_i)^2 is {mse:.6g}: use the squared difference of x and x_hat, averaged")
    require("7.1", _close_finite(at_default, alpha * mse + kl, rtol=1e-4, atol=1e-5),
            f"with the default alpha your loss is {at_default:.6g}, expected alpha * MSE + KL = {alpha * mse + kl:.6g} "
            f"for alpha = {alpha:g}")


@_keeps_torch_rng
def exercise_7_1(answer, x_batch, alpha: float, seed: int = 0) -> None:
    """Check ``vae_loss(model, x, alpha=ALPHA)``: the batch mean of alpha * MSE(x, x_hat) + KL to N(0, 1).

    Parameters
    ----------
    answer : callable
        The student's ``vae_loss``.
    x_batch : array_like, shape (n, 6)
        A training batch of the notebook (scaled features), passed as a float32 tensor as in training.
    alpha : float
        The notebook's ``ALPHA`` (the default of ``vae_loss``'s ``alpha``).
    seed : int, default 0
        Seed of the test networks and events.

    Raises
    ------
    ExerciseError
        If the loss is not a scalar tensor, ignores ``alpha``, sums over events or features, or has a
        wrong, missing or mis-signed KL or MSE term (the message says which).
    """
    xb = torch.as_tensor(np.asarray(x_batch, dtype=np.float32))
    n_feat = xb.shape[1]
    for n_latent, s in ((1, 3 * seed), (3, 3 * seed + 1)):      # three latent dims: the KL is summed over them
        _check_loss_value(answer, _test_vae(n_latent, s, n_feat).eval(),
                          torch.as_tensor(_events(500, s, n_feat)), alpha)
    model = _test_vae(1, 3 * seed + 2, n_feat).eval()
    _check_loss_value(answer, model, xb, alpha)
    model.train()                                # as in training: sampled z, and the loss must carry gradients
    loss = call_answer("7.1", answer, model, xb)
    _scalar_loss("7.1", loss, len(xb))
    require("7.1", loss.requires_grad,
            "your loss carries no gradient (detached, or computed in NumPy / under torch.no_grad): "
            "keep it a torch expression")
    loss.backward()
    grads = [p.grad for p in model.encoder.parameters()]
    require("7.1", all(g is not None for g in grads) and any(bool(g.abs().sum() > 0) for g in grads),
            "no gradient reaches the encoder: compute the loss from the outputs of model(x)")
    correct("7.1")


# ----------------------------------------------------------------------------- 7.2: the KL-peak rule

# (what the curve tests, curve, rise, fall, (best, stop), the hint if the answer differs). Worked out by hand.
_UP5_DOWN5 = [0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0]
PEAK_CASES = (
    ("a clean peak in the middle", [0, 0.5, 0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1, 0.5, 0.2], 5, 5, (8, 13),
     "a peak p needs kl[p-rise] < ... < kl[p] and kl[p] > ... > kl[p+fall]; then stop = p + fall"),
    ("a peak as early as possible (epoch rise)", _UP5_DOWN5 + [-1, -2], 5, 5, (5, 10),
     "the earliest peak is at epoch p = rise, when the rises start at epoch 0"),
    ("a peak whose last fall is the curve's last epoch", _UP5_DOWN5, 5, 5, (5, 10),
     "a peak is observed when its fall-th fall is the last epoch of the curve: let p run up to len(kl) - fall - 1"),
    ("only 4 rises before the maximum", [2, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0, -1], 5, 5, (5, None),
     "a peak needs `rise` rises in a row into it; 4 are not enough (an off-by-one in the rising window?)"),
    ("only 4 falls after the maximum", [0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 1.5, 2, 2.5], 5, 5, (5, None),
     "a peak needs `fall` falls in a row after it; 4 are not enough (an off-by-one in the falling window?)"),
    ("a plateau at the top", [0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0], 5, 5, (5, None),
     "equal neighbours break a run: rises and falls are strict (<, >), not <= or >="),
    ("a plateau while rising", [0, 1, 2, 2, 3, 4, 5, 4, 3, 2, 1, 0], 5, 5, (6, None),
     "equal neighbours break a run of rises: kl[i+1] > kl[i] strictly"),
    ("a plateau while falling", [0, 1, 2, 3, 4, 5, 4, 3, 3, 2, 1, 0], 5, 5, (5, None),
     "equal neighbours break a run of falls: kl[i+1] < kl[i] strictly"),
    ("a higher KL before the peak", [10, 0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0], 5, 5, (0, 11),
     "best is the epoch of maximum KL among epochs 0..stop, which need not be the peak p"),
    ("a higher KL after the stop", _UP5_DOWN5 + [20], 5, 5, (5, 10),
     "training stops at the first observed peak and never sees later epochs: best is the argmax of kl[:stop + 1]"),
    ("two peaks, the later one higher", _UP5_DOWN5 + [1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2], 5, 5, (5, 10),
     "stop at the first peak that is observed"),
    ("a tie for the maximum", [0, 1, 2, 3, 4, 5, 4, 5, 4, 3, 2, 1, 0], 5, 5, (5, None),
     "when epochs tie for the largest KL, keep the first (np.argmax does)"),
    ("a curve that never peaks (rises and saturates)", list(3 * (1 - np.exp(-np.arange(30) / 6))), 5, 5, (29, None),
     "with no peak, stop is None and best is the epoch of maximum KL over the whole curve"),
    ("a curve that only falls", [3, 2, 1, 0], 5, 5, (0, None),
     "with no peak, stop is None and best is the epoch of maximum KL over the whole curve"),
    ("a single epoch", [1.0], 5, 5, (0, None),
     "a curve shorter than rise + fall + 1 epochs shows no peak: return (argmax, None)"),
    ("three rising epochs", [1.0, 2.0, 3.0], 5, 5, (2, None),
     "a curve shorter than rise + fall + 1 epochs shows no peak: return (argmax, None)"),
    ("rise = 2, fall = 3", [0, 1, 0, 1, 2, 1, 0, -1, -2], 2, 3, (4, 7),
     "use the rise and fall arguments, not fixed numbers of epochs"),
    ("rise = 3, fall = 1", [0, 1, 2, 3, 2, 5, 6], 3, 1, (3, 4),
     "use the rise and fall arguments, not fixed numbers of epochs"),
)


def _as_curve(values, k: int):
    """The curve as the notebook may pass it: a list of floats, a float64 or a float32 array (affine-mapped).

    The map kl = 0.37 v + 1.3 keeps the order (so the answers) and makes KL values differ from epoch numbers.
    """
    kl = 0.37 * np.asarray(values, dtype=float) + 1.3
    return [float(v) for v in kl] if k % 3 == 0 else kl if k % 3 == 1 else kl.astype(np.float32)


def _is_epoch(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_peak_case(answer, k: int, case) -> None:
    what, values, rise, fall, (best, stop), hint = case
    kl = _as_curve(values, k)
    try:
        out = call_answer("7.2", answer, kl, rise=rise, fall=fall)
    except ExerciseError:
        raise
    except Exception as exc:     # an IndexError on a short curve, say: name the curve that caused it
        raise ExerciseError(f"Exercise 7.2: peak_rule raised {type(exc).__name__} ({exc}) on {what} "
                            f"(kl = {np.round(np.asarray(kl, float), 3).tolist()}, rise {rise}, fall {fall})") from exc
    require("7.2", isinstance(out, (tuple, list)) and len(out) == 2,
            f"return a pair (best, stop), got {out!r}")
    got_best, got_stop = out
    where = f"on {what} (kl = {np.round(np.asarray(kl, float), 3).tolist()}, rise {rise}, fall {fall})"
    require("7.2", not (got_best == stop and got_stop == best and best != stop),
            f"you return (stop, best) {where}: the order is (best, stop)")
    is_value = isinstance(got_best, (float, np.floating)) and np.any(np.isclose(float(got_best), np.asarray(kl, float)))
    require("7.2", not is_value, f"best is the epoch (an integer index) of maximum KL, not the KL value there "
                                 f"({got_best}) {where}")
    require("7.2", _is_epoch(got_best), f"best must be an integer epoch, got {got_best!r} {where}")
    require("7.2", got_stop is None or _is_epoch(got_stop),
            f"stop must be an integer epoch or None (no peak), got {got_stop!r} {where}")
    require("7.2", got_stop == stop, f"stop should be {stop}, yours is {got_stop} {where}: {hint}")
    tie = 0 <= got_best < len(kl) and got_best > best and kl[got_best] == kl[best]
    require("7.2", got_best == best, f"best should be {best}, yours is {got_best} {where}: " + (
        "when epochs tie for the largest KL, keep the first (np.argmax does)" if tie else hint))


def exercise_7_2(answer) -> None:
    """Check ``peak_rule(kl, rise, fall) -> (best, stop)`` on hand-made curves with known answers.

    The curves test a clean peak, peaks at the first and the last possible epoch, one rise or fall
    too few, plateaus (strict comparisons), a maximum before the peak and after the stop, ties, curves
    that never peak (stop None), short curves, and other values of ``rise`` and ``fall``; each is
    passed as a list, a float64 and a float32 array.

    Raises
    ------
    ExerciseError
        On the first curve where ``(best, stop)`` differs, naming the curve and the rule it tests.
    """
    for k, case in enumerate(PEAK_CASES):
        for shift in range(3):
            _check_peak_case(answer, k + shift, case)
    correct("7.2", f"{len(PEAK_CASES)} curves")


# ----------------------------------------------------------------------------- 7.3: the per-event KL


def _check_event_kl(answer, model, x: np.ndarray, label: str) -> None:
    """Compare the student's per-event KL on events ``x`` with the KL of ``model.encode`` (float64)."""
    n = len(x)
    with torch.no_grad():
        z_mean, z_logvar = model.encode(torch.as_tensor(x))
    parts = _kl_parts(z_mean, z_logvar)
    out = call_answer("7.3", answer, model, x)
    again = call_answer("7.3", answer, model, x)
    require("7.3", not isinstance(out, torch.Tensor),
            "return a NumPy array (tensor.numpy()), not a torch tensor: the notebook feeds it to NumPy and roc_auc")
    require("7.3", np.size(out) > 1 or n == 1,
            "your function returns one number: return the KL of each event (shape (n,)), "
            "not the sum or mean over events")
    require("7.3", isinstance(out, np.ndarray), f"return a NumPy array of shape (n,), not a {type(out).__name__}")
    require("7.3", out.shape != (model.latent_dim,) or n == model.latent_dim,
            "you summed over the events (dim=0): sum over the latent dimensions (dim=1), one KL per event")
    require("7.3", out.shape != (n, 1),
            "return a 1-d array of shape (n,), not (n, 1): sum over dim=1 without keepdim")
    require("7.3", out.shape != (n, model.latent_dim),
            f"return shape (n,) (one KL per event), not {out.shape}: sum over the latent dimensions (dim=1)")
    require("7.3", out.shape == (n,), f"return one KL per event, shape ({n},), not {out.shape}")
    require("7.3", np.all(np.isfinite(out)), "your KL has NaN or infinite values: check log and exp of z_logvar")
    require("7.3", np.array_equal(out, np.asarray(again)),
            "your KL changes from call to call: use the posterior's mean z_mean from model.encode, not a sampled z")
    kl = parts["kl"]
    tol = 1e-4 * np.abs(kl) + 1e-5
    require("7.3", np.all(np.abs(out - kl) <= tol),
            f"on {label} your KL differs from 1/2 sum_k (z_mean^2 + sigma^2 - 1 - log sigma^2) "
            f"(largest difference {np.max(np.abs(out - kl)):.3g}): {_kl_mistake(out, parts, model.latent_dim)}")


@_keeps_torch_rng
def exercise_7_3(answer, model, x, seed: int = 0) -> None:
    """Check ``kl_per_event(model, x)``: the KL of N(z_mean, sigma^2) to N(0, 1) of each event, as NumPy.

    Parameters
    ----------
    answer : callable
        The student's ``kl_per_event``.
    model : SeluVAE
        The notebook's trained VAE (run 0 of the ensemble).
    x : ndarray, shape (n, 6), float32
        The notebook's evaluation events, the input its later cells use.
    seed : int, default 0
        Seed of the test networks and events.

    Raises
    ------
    ExerciseError
        If the result is not a NumPy array of shape (n,), is random (a sampled z), or differs from the
        KL (missing 1/2, wrong sign, log-variance taken for sigma, mean over latent dims, ...).
    """
    x = np.asarray(x)
    for n_latent, s in ((3, 2 * seed), (1, 2 * seed + 1)):      # three latent dims: the KL is summed over them
        _check_event_kl(answer, _test_vae(n_latent, s, x.shape[1]).eval(), _events(400, s, x.shape[1]),
                        f"a test VAE with {n_latent} latent variable(s)")
    _check_event_kl(answer, model, x, "the notebook's VAE and events")
    correct("7.3")


# ----------------------------------------------------------------------------- 7.4: the decoder's loss


class _RecordingDecoder(nn.Module):
    """A real ``MassConditionedDecoder`` that keeps a copy of the (z, m) it is called with."""

    def __init__(self, latent_dim: int, n_features: int, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.inner = latent.MassConditionedDecoder(latent_dim, n_features)
        self.latent_dim, self.n_features = latent_dim, n_features
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, z, m):
        n = len(z) if isinstance(z, torch.Tensor) and z.ndim else -1
        ok = isinstance(z, torch.Tensor) and isinstance(m, torch.Tensor)
        require("7.4", ok and z.shape == (n, self.latent_dim) and m.shape == (n, 1),
                f"call decoder(z, m_scaled) with z of shape (n, {self.latent_dim}) and m_scaled of shape (n, 1) "
                f"(torch tensors); got {getattr(z, 'shape', type(z))} and {getattr(m, 'shape', type(m))}")
        require("7.4", z.dtype == torch.float32 and m.dtype == torch.float32,
                "z and m_scaled must be float32 like the batch (torch.randn_like keeps the dtype); "
                f"got {z.dtype}, {m.dtype}")
        self.calls.append((z.detach().double().clone(), m.detach().double().clone()))
        return self.inner(z, m)


def _decoder_batch(n: int, mjj_mean: float, mjj_std: float, seed: int):
    """(z_mean, z_sigma, mjj, x) as float32 tensors; sigma_z 0.1 or 0.6, mjj (GeV) not centred on mjj_mean."""
    rng = np.random.default_rng(seed)
    z_mean = rng.normal(1.0, 1.0, (n, 1))                         # not centred on 0: a missing z_mean shows
    z_sigma = np.where(np.arange(n)[:, None] % 2 == 0, 0.1, 0.6)
    mjj = mjj_mean + mjj_std * rng.uniform(1.0, 6.0, (n, 1))     # batch mean and sd far from the constants
    x = rng.uniform(0.0, 1.0, (n, N_FEATURES))
    return tuple(torch.as_tensor(a, dtype=torch.float32) for a in (z_mean, z_sigma, mjj, x))


def _draw(answer, decoder, batch, seed: int):
    """Call the answer once (seeded) on a copy of ``batch``; return (loss, z, m) with z, m what the decoder got."""
    decoder.calls.clear()
    torch.manual_seed(seed)
    loss = call_answer("7.4", answer, decoder, tuple(t.clone() for t in batch))
    require("7.4", decoder.calls, "your loss never calls decoder(z, m_scaled): reconstruct x with the decoder given")
    z, m = decoder.calls[-1]
    return loss, z.numpy(), m.numpy()


def _standardisation_mistake(m: np.ndarray, mjj: np.ndarray, mjj_mean: float, mjj_std: float):
    """None if m is about (mjj - mean) / sd (up to a smearing of a few %), else what is wrong with it."""

    def near(a, b):      # within 10 % of mjj for most events (a correct smearing gives a median of 1.7 %)
        return np.median(np.abs(a - b) / np.abs(mjj)) < 0.1

    if near(m * mjj_std + mjj_mean, mjj):
        return None
    if near(m, mjj):
        return "the mass you pass is not standardised (it is in GeV): use (m - MJJ_MEAN) / MJJ_STD"
    if near(m, mjj - mjj_mean):
        return "the mass you pass is not standardised: you subtract MJJ_MEAN but do not divide by MJJ_STD"
    if near(m * mjj_std, mjj):
        return "the mass you pass is not standardised: you divide by MJJ_STD but do not subtract MJJ_MEAN first"
    if abs(np.mean(m)) < 0.1 and abs(np.std(m) - 1) < 0.1:
        return ("the mass is standardised with the batch's own mean and sd: use the fixed MJJ_MEAN and MJJ_STD "
                "(the maps are decoded with them)")
    return "the mass you pass is not standardised: use (m - MJJ_MEAN) / MJJ_STD, m in GeV"


def _require_sampled(name: str, noise: np.ndarray, other: np.ndarray, formula: str) -> None:
    """``noise`` (one draw per event, in units of its nominal sd) varies between draws and between events."""
    require("7.4", not np.allclose(noise, other, atol=1e-6),
            f"your {name} does not vary between draws: sample {formula}, eps = torch.randn_like(...)")
    require("7.4", np.std(noise) > 0.1,
            f"your {name} moves all events together: draw one eps per event (torch.randn_like), not one per batch")
    offset = float(np.mean(noise))
    require("7.4", abs(offset) <= 5 * np.std(noise) / math.sqrt(len(noise)),
            f"your {name} is not centred on its noise-free value (mean offset {offset:.3g} nominal sd): "
            f"{formula} with eps of mean 0 (torch.randn_like, not torch.rand_like)")


def _require_normal_tails(name: str, noise: np.ndarray) -> None:
    """The fraction of |noise| > 2 nominal sd is that of a standard normal within 5 binomial sds."""
    n = len(noise)
    tail = float(np.mean(np.abs(noise) > 2))
    require("7.4", abs(tail - TAIL_P) <= 5 * binomial_sigma(TAIL_P, n),
            f"the noise of your {name} is not standard normal ({tail:.3%} of draws beyond 2 sd, "
            f"expected {TAIL_P:.2%}): eps = torch.randn_like(...)")


def _require_spread(name: str, noise: np.ndarray, groups: np.ndarray, labels, hint: str) -> None:
    """In each group of events the noise (in units of its nominal sd) has sd 1 within 5 of its sampling sd."""
    sds = [float(np.std(noise[groups == g])) for g in (0, 1)]
    ok = all(abs(sd - 1) <= 5 / math.sqrt(2 * np.sum(groups == g)) for g, sd in enumerate(sds))
    require("7.4", ok, f"the spread of your {name} is {sds[0]:.3g} x the nominal for {labels[0]} and {sds[1]:.3g} x "
                       f"for {labels[1]}: {hint}")


def _check_z(z_a, z_b, z_mean, z_sigma) -> np.ndarray:
    noise = (z_a - z_mean) / z_sigma
    _require_sampled("z", noise, (z_b - z_mean) / z_sigma, "z = z_mean + z_sigma * eps")
    _require_spread("z", noise, (z_sigma[:, 0] > 0.3).astype(int)[:, None], ("sigma_z = 0.1", "sigma_z = 0.6"),
                    "z = z_mean + z_sigma * eps (z_sigma is the standard deviation, not a variance or log-variance)")
    _require_normal_tails("z", noise)
    return noise


def _check_m(m_a, m_b, mjj, sigma_m, mjj_mean, mjj_std) -> np.ndarray:
    mistake = _standardisation_mistake(m_a, mjj, mjj_mean, mjj_std)
    require("7.4", mistake is None, mistake)
    gev_a, gev_b = m_a * mjj_std + mjj_mean, m_b * mjj_std + mjj_mean
    formula = "m = mjj * (1 + SIGMA_M * eps)"
    require("7.4", not np.allclose(gev_a, gev_b, rtol=1e-6),
            f"your mass does not vary between draws: smear it, {formula}, eps = torch.randn_like(mjj)")
    require("7.4", not 0.8 < np.std(gev_a - mjj) / sigma_m < 1.2,
            f"your mass is smeared by SIGMA_M GeV: the smearing is relative, {formula}")
    noise = (gev_a / mjj - 1) / sigma_m
    _require_sampled("mass", noise, (gev_b / mjj - 1) / sigma_m, formula)
    high = (mjj > np.median(mjj)).astype(int)
    _require_spread("mass", noise, high, ("the lower-mjj half", "the higher-mjj half"),
                    f"the relative smearing is SIGMA_M = {sigma_m:g} at every mass: smear the mass in GeV, "
                    f"m = mjj * (1 + SIGMA_M * eps), before standardising it")
    _require_normal_tails("mass", noise)
    return noise


def _check_decoder_loss_value(loss, decoder, batch, z, m) -> None:
    n = len(z)
    value = _scalar_loss("7.4", loss, n)
    with torch.no_grad():
        out = decoder.inner(torch.as_tensor(z, dtype=torch.float32), torch.as_tensor(m, dtype=torch.float32))
    mse = float(((out.double() - batch[3].double()) ** 2).mean())
    n_feat = batch[3].shape[1]
    for factor, cause in ((n * n_feat, "a sum over events and features"), (n, "summed over the events"),
                          (n_feat, f"summed over the {n_feat} features")):
        require("7.4", not _close_finite(value, factor * mse, rtol=1e-3),
                f"your loss is {cause}: return the mean of (x_hat - x)^2 over events and features (.mean())")
    require("7.4", _close_finite(value, mse, rtol=1e-4, atol=1e-7),
            f"your loss is {value:.6g}, but the mean of (decoder(z, m_scaled) - x)^2 for the z and m_scaled your code "
            f"passed is {mse:.6g}: return the MSE of the decoder's output against the targets x")
    require("7.4", loss.requires_grad,
            "your loss carries no gradient to the decoder (detached, .item() or NumPy): return the torch expression")
    loss.backward()
    require("7.4", any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in decoder.inner.parameters()),
            "no gradient reaches the decoder: compute the loss from decoder(z, m_scaled)")


@_keeps_torch_rng
def exercise_7_4(answer, sigma_m: float, mjj_mean: float, mjj_std: float, seed: int = 0) -> None:
    """Check ``decoder_loss(decoder, batch)``: sampled z and smeared, standardised m, then the MSE.

    Two seeded draws on a batch of 20 000 events (sigma_z 0.1 or 0.6; masses above ``mjj_mean``, so a
    batch's own mean and sd differ from the constants) test what the decoder receives: the noise of z,
    (z - z_mean) / z_sigma, and of the mass, (m / mjj - 1) / sigma_m, must vary between draws and
    events, have mean 0 and sd 1 in each group of events (5 sampling sds) and normal tails, and be
    independent of each other; the mass must be standardised with the constants. The returned loss
    must be the MSE of the decoder's output on those inputs, with a gradient. A third call, on 1000
    events in eval mode under ``torch.no_grad``, is the validation pass of training.

    Parameters
    ----------
    answer : callable
        The student's ``decoder_loss``.
    sigma_m, mjj_mean, mjj_std : float
        The notebook's ``SIGMA_M``, ``MJJ_MEAN`` and ``MJJ_STD`` (GeV), which ``decoder_loss`` uses.
    seed : int, default 0
        Seed of the test batch, the decoder and the two draws.

    Raises
    ------
    ExerciseError
        Naming the first property that fails (z not sampled, mass not smeared or not standardised, a
        wrong spread, shared noise, a summed or detached loss, ...).
    """
    decoder = _RecordingDecoder(1, N_FEATURES, seed=seed).train()
    batch = _decoder_batch(20_000, mjj_mean, mjj_std, seed=seed)
    z_mean, z_sigma, mjj = (t.double().numpy() for t in batch[:3])
    loss_a, z_a, m_a = _draw(answer, decoder, batch, seed=1000 + 2 * seed)
    _, z_b, m_b = _draw(answer, decoder, batch, seed=1001 + 2 * seed)
    noise_z = _check_z(z_a, z_b, z_mean, z_sigma)
    noise_m = _check_m(m_a, m_b, mjj, sigma_m, mjj_mean, mjj_std)
    rho = float(np.corrcoef(noise_z[:, 0], noise_m[:, 0])[0, 1])
    require("7.4", abs(rho) <= 5 / math.sqrt(len(noise_z)),
            f"the noises of z and of the mass are correlated ({rho:+.3f}): draw a separate eps for each")
    _check_decoder_loss_value(loss_a, decoder, batch, z_a, m_a)
    decoder.eval()
    with torch.no_grad():
        small = tuple(t[:1000] for t in batch)
        _scalar_loss("7.4", call_answer("7.4", answer, decoder, small), 1000)
    correct("7.4")
