"""Checks of the exercises of notebook 06 (Set-VAE and CLIP-VAE on jet constituents).

* 6.1 ``chamfer_by_class(t, t_rec, types, mask, a)``: the class-matched Chamfer loss per jet;
* 6.2 ``clip_vae_loss(model, x, t, types, mask, beta, fraction)``: the CLIP-VAE batch loss,
  the KL term kept for the ⌈f n⌉ best-reconstructed jets only;
* 6.3 ``eff_at_rejection(qcd_scores, signal_scores, rejection)``: signal efficiency at a
  fixed background rejection;
* 6.4 ``refit_nsubjettiness(qcd_sets, samples, half)``: the N-subjettiness baseline fitted
  on the QCD *training* jets and the *first* half of each signal, with balanced weights.

References are written here from the definitions (loops in float64, exact small cases); the
fitted baseline of 6.4 is judged by the optimality conditions of a weighted logistic
regression on the intended training set, which hold for any regularisation strength, solver,
order of the jets or overall scale of the weights.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from . import ExerciseError, call_answer, close, correct, name_mistake, real_number, require, to_numpy

__all__ = ["exercise_6_1", "exercise_6_2", "exercise_6_3", "exercise_6_4"]

ANGULAR_SCALE = 0.15          # a of the momentum-weighted distance (setvae.ANGULAR_SCALE)


#: real_number that also takes a one-element tensor (6.2's loss) and any 0-d array, in notebook 06's words
_real_or_tensor = functools.partial(real_number, tensor=True, any_dtype=True, advice="return one number", shown=50)


# ----------------------------------------------------------------------------- 6.1

def _chamfer(t, t_rec, types, mask, a, *, half=0.5, directions=(True, True), match_class=True, weight="input",
             scale=2, root=False, use_mask=True, reduce=np.sum) -> np.ndarray:
    """The class-matched Chamfer loss from its definition, jet by jet; keywords build wrong versions."""
    t, t_rec, mask = to_numpy(t), to_numpy(t_rec), np.asarray(mask, bool)
    types = None if types is None else np.asarray(types)
    out = []
    for k in range(len(t)):
        real = mask[k] if use_mask else np.ones(len(mask[k]), bool)
        x, y = t[k][real], t_rec[k][real]
        w0 = x[:, 0] if weight == "input" else y[:, 0]
        ang = ((x[:, None, 1:] - y[None, :, 1:]) ** 2).sum(-1)
        w_ang = w0[:, None] ** 2 if weight == "input" else w0[None, :] ** 2
        d = (x[:, None, 0] - y[None, :, 0]) ** 2 + w_ang * ang / a**scale
        d = np.sqrt(d) if root else d
        if types is not None and match_class:
            c = types[k][real]
            d = np.where(c[:, None] == c[None, :], d, np.inf)
        total = 0.0
        if directions[0]:
            total += reduce(d.min(axis=1)) if len(d) else 0.0
        if directions[1]:
            total += reduce(d.min(axis=0)) if len(d) else 0.0
        out.append(half * total)
    return np.array(out)


def _chamfer_variants(t, t_rec, types, mask, a):
    def v(**kw):
        return _chamfer(t, t_rec, types, mask, a, **kw)

    return [
        (v(half=1.0), "the loss is twice the right value: the factor ½ in front of the two sums is missing"),
        (v(directions=(True, False)), "only inputs → nearest outputs is summed; add outputs → nearest inputs "
         "(the minimum along the other axis)"),
        (v(directions=(False, True)), "only outputs → nearest inputs is summed; add inputs → nearest outputs "
         "(the minimum along the other axis)"),
        (v(match_class=False), "particles of different classes are matched: set d = inf where types[i] != types[j]"),
        (v(weight="output"), "the angular term is weighted by the reconstructed particle's momentum; it is the "
         "input's, t[..., 0]² (along i)"),
        (v(scale=0), "the angular term is not divided by a²"),
        (v(scale=1), "the angular term is divided by a, not a²"),
        (v(root=True), "the square root of d is taken; d itself is the distance of the loss"),
        (v(use_mask=False), "padding particles (mask False) take part: exclude them from both minima and sums"),
        (v(reduce=np.mean), "the minima are averaged over the particles; Eq. 1 sums them"),
    ]


def _chamfer_cases(notebook, a):
    rng = np.random.default_rng(61)
    n, size = 5, 7
    t = np.concatenate([rng.exponential(0.8, (n, size, 1)), rng.normal(0.0, 0.2, (n, size, 2))], axis=-1)
    t_rec = t + rng.normal(0.0, 0.15, t.shape)
    mask = np.arange(size)[None, :] < np.array([7, 5, 4, 6, 2])[:, None]
    t[~mask], t_rec[~mask] = 4.0, -3.0                                   # padding that must not count
    types = np.where(mask, rng.integers(1, 4, (n, size)), 0)
    base = [torch.tensor(t, dtype=torch.float32), torch.tensor(t_rec, dtype=torch.float32)]
    cases = [(*base, torch.tensor(types), torch.tensor(mask), ANGULAR_SCALE),
             (*base, None, torch.tensor(mask), ANGULAR_SCALE),
             (*[b.double() for b in base], torch.tensor(types), torch.tensor(mask), 0.4)]
    if notebook[0] is not None:
        t_nb, t_rec_nb, types_nb, mask_nb = notebook
        cases += [(t_nb, t_rec_nb, types_nb, mask_nb, a), (t_nb, t_rec_nb, None, mask_nb, a)]
    return cases


def exercise_6_1(answer, t=None, t_rec=None, types=None, mask=None, a: float = ANGULAR_SCALE) -> None:
    """Check ``chamfer_by_class(t, t_rec, types, mask, a) -> (n,)``.

    L = ½ [Σ_i min_{j: c_j = c_i} d(t_i, t'_j) + Σ_j min_{i: c_i = c_j} d(t_i, t'_j)] over the
    real particles, d = (t_i0 − t'_j0)² + t_i0² ‖Δ(η, φ)‖² / a²; ``types=None`` matches every
    class with every other. Checked with padding to ignore, with and without classes, float32
    and float64, a = 0.15 and 0.4, and on the notebook's random sets.

    Parameters
    ----------
    answer : callable
        The student's ``chamfer_by_class``.
    t, t_rec, types, mask : Tensor, optional
        The notebook's sets (checked with ``types`` and with ``None``).
    a : float
        The angular scale the notebook uses.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the mistake: missing ½, one
        direction only, classes not matched, padding included, the angular weight, ...).
    """
    same = functools.partial(close, rtol=1e-4, atol=1e-5)
    results, first_bad = [], None
    for tt, tr, ty, m, scale in _chamfer_cases((t, t_rec, types, mask), a):
        got = call_answer("6.1", answer, tt, tr, ty, m, scale)
        require("6.1", isinstance(got, torch.Tensor), f"chamfer_by_class returned a {type(got).__name__}; return a "
                "torch tensor")
        require("6.1", tuple(got.shape) == (len(tt),), f"the loss has shape {tuple(got.shape)}; return one value per "
                f"jet, shape ({len(tt)},)")
        got = to_numpy(got)
        require("6.1", np.all(np.isfinite(got)), "the loss is NaN or infinite: the minima of padding rows are +inf, "
                "and inf × 0 = NaN; drop them with torch.where(mask, minima, 0) instead of multiplying by the mask")
        ref = _chamfer(tt, tr, ty, m, scale)
        results.append((got, _chamfer_variants(tt, tr, ty, m, scale)))
        if first_bad is None and not same(got, ref):
            first_bad = (got, ref, ty is None)
    if first_bad is not None:
        name_mistake("6.1", results, same)
        got, ref, no_types = first_bad
        k = int(np.argmax(np.abs(got - ref)))
        raise ExerciseError(f"Exercise 6.1: jet {k}{' (types=None)' if no_types else ''}: the class-matched Chamfer "
                            f"loss is {ref[k]:.6g}, your answer gives {got[k]:.6g}")
    correct("6.1")


# ----------------------------------------------------------------------------- 6.2

class _FixedSetVAE:
    """A stand-in for a SetVAE: fixed outputs with gradients, one real particle per jet."""

    use_pid = True

    def __init__(self, seed: int = 62, n: int = 6):
        rng = np.random.default_rng(seed)
        self.t = torch.zeros(n, 3, 3)
        self.t[:, 0] = torch.tensor(np.column_stack([rng.uniform(0.5, 3, n), rng.normal(0, 0.2, (n, 2))]))
        self.t[:, 1:] = 2.0                                           # padding
        self.mask = torch.zeros(n, 3, dtype=torch.bool)
        self.mask[:, 0] = True
        self.types = torch.where(self.mask, 1, 0)
        self.x = torch.zeros(n, 3, 4)
        recon = self.t + torch.tensor(rng.normal(0, 0.3, (n, 3, 3)), dtype=torch.float32)
        self.outputs = {"recon": recon.clone().requires_grad_(True),
                        "mu": torch.tensor(rng.normal(0, 1.0, (n, 4)), dtype=torch.float32, requires_grad=True),
                        "logvar": torch.tensor(rng.normal(0, 0.5, (n, 4)), dtype=torch.float32, requires_grad=True)}

    def __call__(self, x, types, mask):
        return self.outputs

    def rec(self) -> np.ndarray:
        """The Chamfer loss of each one-particle jet: d of its particle and its reconstruction."""
        t, r = to_numpy(self.t[:, 0]), to_numpy(self.outputs["recon"][:, 0])
        return (t[:, 0] - r[:, 0]) ** 2 + t[:, 0] ** 2 * ((t[:, 1:] - r[:, 1:]) ** 2).sum(-1) / ANGULAR_SCALE**2


def _kl(mu, logvar) -> np.ndarray:
    mu, logvar = to_numpy(mu), to_numpy(logvar)
    return 0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).sum(axis=1)


def _clip_loss(rec, kl, beta, fraction, *, count=None, order=None, reduce="mean") -> float:
    """rec.mean() + β × mean KL of the ⌈f n⌉ smallest rec; the keywords build wrong versions."""
    n = len(rec)
    k = max(1, math.ceil(fraction * n)) if count is None else count(fraction, n)
    keep = np.argsort(rec if order is None else order, kind="stable")[:k]
    kl_term = {"mean": kl[keep].mean() if k else np.nan, "sum": kl[keep].sum(), "over_n": kl[keep].sum() / n}[reduce]
    return float(rec.mean() + beta * kl_term)


def _clip_variants(rec, kl, beta, fraction):
    return [
        (_clip_loss(rec, kl, beta, fraction, order=-rec), "the KL is kept for the worst-reconstructed jets; keep "
         "it for those with the smallest reconstruction loss (argsort in increasing order)"),
        (_clip_loss(rec, kl, beta, fraction, count=lambda f, n: max(1, int(f * n))),
         "⌊f n⌋ jets are kept; the CLIP-VAE keeps ⌈f n⌉ (math.ceil / np.ceil)"),
        (_clip_loss(rec, kl, beta, 1.0), "the KL is not clipped: it is averaged over every jet of the batch"),
        (_clip_loss(rec, kl, beta, fraction, reduce="sum"), "the KL of the kept jets is summed; take its mean"),
        (_clip_loss(rec, kl, beta, fraction, reduce="over_n"), "the KL of the kept jets is divided by the batch size; "
         "take the mean over the kept jets"),
        (_clip_loss(rec, kl, beta, fraction, order=kl), "the jets are chosen by their KL; choose them by their "
         "(detached) reconstruction loss"),
        (_clip_loss(rec, kl, 1.0, fraction), "the KL term is not multiplied by beta"),
        (_clip_loss(rec, kl, beta, fraction) + (len(rec) - 1) * float(rec.mean()),
         "the reconstruction loss is summed over the batch; take its mean"),
    ]


def _clip_on_stand_in(answer) -> None:
    results, first_bad = [], None
    for beta, fraction in ((0.25, 0.75), (0.6, 0.5), (0.1, 1.0), (0.3, 0.1)):
        model = _FixedSetVAE()
        got = call_answer("6.2", answer, model, model.x, model.t, model.types, model.mask, beta, fraction)
        require("6.2", isinstance(got, torch.Tensor) and got.numel() == 1, f"the loss is a {type(got).__name__} "
                f"{str(got)[:40]!r}; return one scalar tensor (training needs loss.backward())")
        rec, kl = model.rec(), _kl(model.outputs["mu"], model.outputs["logvar"])
        ref = _clip_loss(rec, kl, beta, fraction)
        value = float(got.detach())
        require("6.2", math.isfinite(value), f"the loss is {value} for a batch of {len(rec)} jets with fraction "
                f"{fraction}: at least one jet must keep its KL, ⌈f n⌉ = {math.ceil(fraction * len(rec))}")
        results.append((value, _clip_variants(rec, kl, beta, fraction)))
        if first_bad is None and not close(value, ref, rtol=1e-5, atol=1e-6):
            first_bad = (value, ref, beta, fraction)
        if fraction == 0.5 and first_bad is None:
            _clip_gradients(got, model, rec)
    if first_bad is not None:
        name_mistake("6.2", results, functools.partial(close, rtol=1e-5, atol=1e-6))
        value, ref, beta, fraction = first_bad
        raise ExerciseError(f"Exercise 6.2: with beta = {beta} and fraction = {fraction} the CLIP loss of a test "
                            f"batch is {ref:.6g}, your answer gives {value:.6g}")


def _clip_gradients(loss, model, rec) -> None:
    """The KL gradient reaches exactly the kept jets; the reconstruction gradient every jet."""
    require("6.2", loss.requires_grad, "the loss is detached (no gradient): compute it with torch operations")
    loss.backward()
    keep = np.zeros(len(rec), bool)
    keep[np.argsort(rec)[: math.ceil(0.5 * len(rec))]] = True
    mu_grad = model.outputs["mu"].grad
    moved = np.zeros(len(rec), bool) if mu_grad is None else (to_numpy(mu_grad).any(axis=1))
    require("6.2", np.array_equal(moved, keep), "the KL gradient does not reach exactly the kept jets (is the KL "
            "detached, or computed for other jets?): index the per-jet KL with the kept indices, kl[best]")
    rec_grad = model.outputs["recon"].grad
    require("6.2", rec_grad is not None and bool(to_numpy(rec_grad)[:, 0].any(axis=1).all()),
            "the reconstruction gradient must reach every jet: the reconstruction term is the mean over the batch")


def _clip_on_model(answer, model, x, t, types, mask, beta, fraction) -> None:
    from ..setvae import class_matched_chamfer

    was = model.training
    model.train()
    try:
        with torch.no_grad():
            torch.manual_seed(7)
            out = model(x, types, mask)
            rec = to_numpy(class_matched_chamfer(t, out["recon"], types if model.use_pid else None, mask))
            ref = _clip_loss(rec, _kl(out["mu"], out["logvar"]), beta, fraction)
            torch.manual_seed(7)                       # the same z is drawn again
            got = call_answer("6.2", answer, model, x, t, types, mask, beta, fraction)
            value = _real_or_tensor("6.2", got, "the loss")
    finally:
        model.train(was)
    require("6.2", close(value, ref, rtol=1e-5, atol=1e-7), f"on the notebook's batch the CLIP loss is "
            f"{ref:.6g}, your answer gives {value:.6g}")


def exercise_6_2(answer, model=None, x=None, t=None, types=None, mask=None, beta: float = 0.25,
                 fraction: float = 0.75) -> None:
    """Check ``clip_vae_loss(model, x, t, types, mask, beta, fraction)``.

    The loss is rec.mean() + β · (mean KL of the ⌈f n⌉ jets with the smallest reconstruction
    loss). Checked on a stand-in network with known per-jet losses for (β, f) = (0.25, 0.75),
    (0.6, 0.5), (0.1, 1) and (0.3, 0.1) (where ⌈f n⌉ = 1), including which jets the KL
    gradient reaches, and on the notebook's network and batch (same random draw of z).

    Parameters
    ----------
    answer : callable
        The student's ``clip_vae_loss``.
    model, x, t, types, mask : optional
        The notebook's SetVAE and batch; the model's train/eval mode and the global random
        state are left as they were.
    beta, fraction : float
        The notebook's β and clipping fraction.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the mistake: worst jets kept,
        ⌊f n⌋, no clipping, KL summed, chosen by KL, ...).
    """
    with torch.random.fork_rng():
        _clip_on_stand_in(answer)
        if model is not None:
            _clip_on_model(answer, model, x, t, types, mask, beta, fraction)
    correct("6.2")


# ----------------------------------------------------------------------------- 6.3

def _efficiency_range(qcd, sig, rejection) -> tuple[float, float]:
    """The signal efficiencies of all thresholds passing the target QCD count to within one jet."""
    q, s = np.sort(np.asarray(qcd, np.float64))[::-1], np.asarray(sig, np.float64)
    target = len(q) / rejection                          # QCD jets that should pass
    lo = max(math.floor(target) - 1, 1)                  # fewest QCD jets passing
    hi = min(math.ceil(target) + 1, len(q))              # most QCD jets passing
    return float(np.mean(s > q[lo - 1])), float(np.mean(s >= q[hi - 1]))


def _eff_variants(qcd, sig, rejection):
    qcd, sig = np.asarray(qcd, np.float64), np.asarray(sig, np.float64)
    thr = np.quantile(qcd, 1 - 1 / rejection)
    return [
        (float(np.mean(sig <= thr)), "this is the fraction of signal *below* the threshold; count the jets above it "
         "(higher score = more anomalous)"),
        (float(np.mean(sig > np.quantile(qcd, 1 / rejection))), "the threshold is the 1/rejection quantile, which "
         "passes 1 − 1/rejection of the QCD jets; use the (1 − 1/rejection) quantile"),
        (float(100 * np.mean(sig > thr)), "the efficiency is in percent; return a fraction between 0 and 1"),
        (float(np.sum(sig > thr)), "this is a number of jets; return the fraction of signal jets above the threshold"),
        (float(np.mean(sig > np.quantile(sig, 1 - 1 / rejection))), "the threshold is taken from the signal scores; "
         "it is the quantile of the QCD scores"),
        (float(np.mean(sig > np.quantile(np.r_[qcd, sig], 1 - 1 / rejection))), "the threshold is a quantile of QCD "
         "and signal together; take it from the QCD scores alone"),
    ]


def exercise_6_3(answer, qcd_scores=None, signal_scores=None, rejection: float = 100) -> None:
    """Check ``eff_at_rejection(qcd_scores, signal_scores, rejection)``.

    A right answer puts the threshold where a fraction 1/rejection of the QCD jets pass and
    returns the fraction of signal jets above it. Quantile conventions differ by a QCD jet or
    so; every threshold that passes the target number of QCD jets to within one jet is
    accepted (the library's ROC interpolation is among them). Checked at rejections 100, 10
    and 1000 (and the default), float32 and float64 scores, and the notebook's scores.

    Parameters
    ----------
    answer : callable
        The student's ``eff_at_rejection``.
    qcd_scores, signal_scores : ndarray, optional
        The notebook's scores (QCD test jets, one signal).
    rejection : float
        The notebook's rejection, also the default of ``answer``'s third argument.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the mistake: fraction below the
        threshold, the wrong quantile, percent, a count, the threshold from the signal, ...).
    """
    rng = np.random.default_rng(63)
    qcd, sig = rng.exponential(1.0, 20_000), rng.exponential(2.0, 5_000)
    cases = [(qcd, sig, 100.0, True), (qcd, sig, 10.0, True), (qcd, sig, 1000.0, True),
             (qcd.astype(np.float32), sig.astype(np.float32), rejection, False)]
    if qcd_scores is not None:
        cases.append((qcd_scores, signal_scores, rejection, False))
    results, first_bad = [], None
    for q, s, r, explicit in cases:
        args = (q, s, r) if explicit else (q, s)
        got = _real_or_tensor("6.3", call_answer("6.3", answer, *args), "eff_at_rejection's result")
        lo, hi = _efficiency_range(q, s, r)
        results.append((got, _eff_variants(q, s, r)))
        if first_bad is None and not lo - 1e-12 <= got <= hi + 1e-12:
            first_bad = (got, lo, hi, r, explicit)
    if first_bad is not None:
        name_mistake("6.3", results, functools.partial(close, rtol=1e-9, atol=1e-12))
        got, lo, hi, r, explicit = first_bad
        raise ExerciseError(f"Exercise 6.3: at a rejection of {r:g}{'' if explicit else ' (the default)'} the signal "
                            f"efficiency is between {lo:.4f} and {hi:.4f}; your answer gives {got:.4f}"
                            + ("" if explicit else " (is the default of `rejection` REJECTION?)"))
    correct("6.3")


# ----------------------------------------------------------------------------- 6.4

KKT_TOLERANCE = 5e-3    # of the normalised gradient; converged solvers reach about 1e-4


def _features(taus) -> np.ndarray:
    from ..features import tau_ratios

    return np.stack(tau_ratios(taus), axis=1)


def _training_set(qcd_taus, signal_taus, *, weighted=True, qcd_factor=None, labels=(0.0, 1.0)):
    """Features, labels and weights: QCD as heavy as all signals, each signal class alike."""
    blocks = [(_features(qcd_taus), labels[0], None)] + [(_features(s), labels[1], 1.0) for s in signal_taus]
    n_signals = len(signal_taus)
    X, y, w = [], [], []
    for f, label, per_class in blocks:
        total = per_class if per_class is not None else (n_signals if qcd_factor is None else qcd_factor)
        X.append(f)
        y.append(np.full(len(f), label))
        w.append(np.full(len(f), total / len(f) if weighted else 1.0))
    return np.concatenate(X), np.concatenate(y), np.concatenate(w)


def _penalty(params: dict) -> str:
    """"l2", "none" or "other" for the parameters of a scikit-learn LogisticRegression."""
    penalty, l1_ratio, c = params.get("penalty", "l2"), params.get("l1_ratio"), params.get("C", 1.0)
    if penalty in (None, "none") or not np.isfinite(c):
        return "none"
    if penalty == "l2" or (penalty == "deprecated" and not l1_ratio):
        return "l2"
    return "other"


def _kkt_residual(model, X, y, w) -> float:
    """Largest violation of the optimality conditions of a weighted, L2-penalised logistic regression.

    With r_i = w_i (p_i − y_i) / Σw: Σ r_i = 0 (intercept, unpenalised) and X^T r = −λ β with
    λ = 1 / (C Σw') for the student's weights w' = s w: the scale s is free, so λ is fitted, between
    0 and 10 / C (total weights down to 0.1; without the bound a model shrunk to nothing would pass).
    """
    z = np.asarray(model.decision_function(X), dtype=np.float64).ravel()
    r = w * (1.0 / (1.0 + np.exp(-z)) - y) / w.sum()
    g0, grad = r.sum(), X.T @ r
    beta = np.asarray(model.coef_, dtype=np.float64).ravel()
    params = model.get_params() if hasattr(model, "get_params") else {}
    if params.get("solver") == "liblinear" and params.get("fit_intercept", True):   # penalises the intercept too
        s = float(params.get("intercept_scaling", 1.0))
        grad, beta = np.append(grad, s * g0), np.append(beta, float(np.ravel(model.intercept_)[0]) / s)
        g0 = 0.0
    kind = _penalty(params)
    if kind == "none":
        return float(max(abs(g0), np.abs(grad).max()))
    if kind == "other":                                  # l1 / elastic net: only the intercept condition
        return float(abs(g0))
    lam_max = 10.0 / float(params.get("C", 1.0))
    lam = min(max(0.0, -float(grad @ beta) / float(beta @ beta)), lam_max) if beta.any() else 0.0
    return float(max(abs(g0), np.abs(grad + lam * beta).max()))


def _ratios(rng, n, r21, r32, r42) -> np.ndarray:
    """n jets' τ1..τ4 with the ratios drawn uniformly in the given ranges."""
    t1 = rng.uniform(0.2, 0.5, n)
    t2 = t1 * rng.uniform(*r21, n)
    return np.column_stack([t1, t2, t2 * rng.uniform(*r32, n), t2 * rng.uniform(*r42, n)]).astype(np.float32)


def _toy_jets(classes, seed: int = 64, n_train: int = 300, n_other: int = 150, half: int = 120):
    """QCD splits and signal samples whose *wrong* parts look unlike the right ones.

    The QCD validation and test jets look like signal, every signal's second half like QCD:
    a baseline fitted on them, or without the weights, is far from the optimum on the right jets.
    """
    rng = np.random.default_rng(seed)
    qcd_like, sig_like = ((0.45, 0.95), (0.5, 0.9), (0.3, 0.8)), ((0.15, 0.7), (0.35, 0.85), (0.1, 0.6))
    qcd_sets = {"train": {"taus": _ratios(rng, n_train, *qcd_like)},
                "val": {"taus": _ratios(rng, n_other, *sig_like)},
                "test": {"taus": _ratios(rng, n_other, *sig_like)}}
    samples = {"qcd": {"taus": np.concatenate([qcd_sets[k]["taus"] for k in ("train", "val", "test")])}}
    for i, c in enumerate(classes):
        shift = 0.03 * i
        first = _ratios(rng, half, (0.15 + shift, 0.7 + shift), (0.35, 0.85 - shift), (0.1, 0.6))
        samples[c] = {"taus": np.concatenate([first, _ratios(rng, half, *qcd_like)])}
    return qcd_sets, samples, half


def _wrong_training_sets(qcd_sets, samples, half, classes):
    sig = [samples[c]["taus"] for c in classes]
    return [
        (_training_set(qcd_sets["train"]["taus"], [s[:half] for s in sig], weighted=False),
         "the sample weights are missing: give each signal class the same total weight and QCD as much as all "
         "signals together (e.g. 1/len per signal jet, 9/len per QCD jet)"),
        (_training_set(qcd_sets["train"]["taus"], [s[:half] for s in sig], qcd_factor=1.0),
         "QCD has the weight of one signal class; it must weigh as much as all nine signals together"),
        (_training_set(qcd_sets["train"]["taus"], [s[half:] for s in sig]),
         "the signals' *second* halves were used: those are the jets the efficiencies are measured on; fit on the "
         "first halves, [:half]"),
        (_training_set(qcd_sets["train"]["taus"], sig),
         "the whole signal samples were used, including the halves the efficiencies are measured on; fit on [:half]"),
        (_training_set(qcd_sets["test"]["taus"], [s[:half] for s in sig]),
         "the QCD *test* jets were used: the efficiencies are measured on them; fit on qcd_sets['train']"),
        (_training_set(qcd_sets["val"]["taus"], [s[:half] for s in sig]),
         "the QCD validation jets were used; fit on the QCD training jets, qcd_sets['train']"),
        (_training_set(samples["qcd"]["taus"], [s[:half] for s in sig]),
         "all QCD jets of samples['qcd'] were used, test jets included; fit on qcd_sets['train']"),
        (_training_set(qcd_sets["train"]["taus"], [s[:half] for s in sig], labels=(1.0, 0.0)),
         "the labels are swapped: QCD is 0 and the signals are 1 (the score must be higher for signal)"),
    ]


def _fitted(number: str, model):
    require(number, hasattr(model, "decision_function") and hasattr(model, "coef_"),
            f"refit_nsubjettiness returned a {type(model).__name__}; return the *fitted* LogisticRegression")
    require(number, np.asarray(model.coef_).shape == (1, 3), f"the model has coefficients of shape "
            f"{np.asarray(model.coef_).shape}; fit it on the three ratios (τ21, τ32, τ42) of nsub_features")
    return model


def _judge_baseline(model, qcd_sets, samples, half, classes) -> None:
    X, y, w = _training_set(qcd_sets["train"]["taus"], [samples[c]["taus"][:half] for c in classes])
    residual = _kkt_residual(model, X, y, w)
    if residual <= KKT_TOLERANCE:
        return
    for (Xw, yw, ww), message in _wrong_training_sets(qcd_sets, samples, half, classes):
        if _kkt_residual(model, Xw, yw, ww) <= KKT_TOLERANCE:
            raise ExerciseError(f"Exercise 6.4: {message}")
    max_iter, n_iter = getattr(model, "max_iter", None), np.max(getattr(model, "n_iter_", [0]))
    hint = (f" The solver stopped at max_iter = {max_iter} iterations: raise max_iter." if max_iter
            and n_iter >= max_iter else "")
    raise ExerciseError("Exercise 6.4: the fitted model is not the weighted logistic regression of the QCD training "
                        "jets (label 0) against the first half of each signal (label 1), QCD weighing as much as all "
                        f"signals together and every signal class alike (optimality violated by {residual:.2g})."
                        + hint)


def exercise_6_4(answer, qcd_sets=None, samples=None, half=None, classes=None) -> None:
    """Check ``refit_nsubjettiness(qcd_sets, samples, half)``: the baseline's training set.

    The returned model must be a weighted logistic regression on (τ21, τ32, τ42) of the QCD
    training jets (label 0) and of the first ``half`` jets of every signal (label 1), each
    signal class with the same total weight and QCD with as much as all signals together.
    It is judged by the optimality conditions of that fit (any C, solver, jet order or
    overall weight scale passes), on toy jets whose wrong parts (QCD validation and test
    jets, the signals' second halves) look unlike the right ones, and on the notebook's jets.

    Parameters
    ----------
    answer : callable
        The student's ``refit_nsubjettiness``.
    qcd_sets, samples, half : optional
        The notebook's QCD splits, samples per class and signal half size.
    classes : sequence of str, optional
        The signal classes (default ``setvae.SIGNAL_CLASSES``).

    Raises
    ------
    ExerciseError
        If the answer is missing or fits on the wrong jets or weights (the message names them:
        second halves or test jets used, weights missing, labels swapped, ...).
    """
    import warnings

    if classes is None:
        from ..setvae import SIGNAL_CLASSES as classes
    inputs = [_toy_jets(classes)]
    if qcd_sets is not None:
        inputs.append((qcd_sets, samples, half))
    for q, s, h in inputs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = _fitted("6.4", call_answer("6.4", answer, q, s, h))
        _judge_baseline(model, q, s, h, classes)
    correct("6.4")
