"""The checks of notebook 06's exercises accept right answers and name the mistake in wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from jetad_utils import setvae
from jetad_utils.exercise_checks import ExerciseError
from jetad_utils.exercise_checks import nb06 as checks
from jetad_utils.features import tau_ratios
from jetad_utils.metrics import efficiency_at_rejection
from jetad_utils.setvae import SetVAE

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SEEDS = (0, 1, 2)
A = setvae.ANGULAR_SCALE


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise N.M: your code here")


# ----------------------------------------------------------------------------- 6.1

def chamfer_solution(t, t_rec, types, mask, a=A):
    dpt = (t[:, :, None, 0] - t_rec[:, None, :, 0]) ** 2
    dang = ((t[:, :, None, 1:] - t_rec[:, None, :, 1:]) ** 2).sum(-1)
    d = dpt + t[:, :, None, 0] ** 2 * dang / a ** 2
    ok = mask[:, :, None] & mask[:, None, :]
    if types is not None:
        ok = ok & (types[:, :, None] == types[:, None, :])
    d = d.masked_fill(~ok, float("inf"))
    zero = torch.zeros(())
    return 0.5 * (torch.where(mask, d.min(2).values, zero).sum(1) + torch.where(mask, d.min(1).values, zero).sum(1))


def chamfer_per_class(t, t_rec, types, mask, a=A):
    """A loop over the classes present, each an ordinary Chamfer distance on that class's particles."""
    out = torch.zeros(len(t), dtype=t.dtype)
    classes = torch.zeros_like(mask, dtype=torch.long) if types is None else types
    for k in range(len(t)):
        for c in torch.unique(classes[k][mask[k]]):
            sel = mask[k] & (classes[k] == c)
            x, y = t[k][sel], t_rec[k][sel]
            d = (x[:, None, 0] - y[None, :, 0]) ** 2 + x[:, None, 0] ** 2 * torch.cdist(x[:, 1:], y[:, 1:]) ** 2 / a**2
            out[k] += 0.5 * (d.min(dim=1).values.sum() + d.min(dim=0).values.sum())
    return out


def chamfer_no_half(t, t_rec, types, mask, a=A):
    return 2 * chamfer_solution(t, t_rec, types, mask, a)


def chamfer_one_direction(t, t_rec, types, mask, a=A):
    dpt = (t[:, :, None, 0] - t_rec[:, None, :, 0]) ** 2
    dang = ((t[:, :, None, 1:] - t_rec[:, None, :, 1:]) ** 2).sum(-1)
    d = dpt + t[:, :, None, 0] ** 2 * dang / a ** 2
    ok = mask[:, :, None] & mask[:, None, :]
    if types is not None:
        ok = ok & (types[:, :, None] == types[:, None, :])
    d = d.masked_fill(~ok, float("inf"))
    return 0.5 * torch.where(mask, d.min(2).values, torch.zeros(())).sum(1)


def chamfer_ignores_classes(t, t_rec, types, mask, a=A):
    return chamfer_solution(t, t_rec, None, mask, a)


def chamfer_no_mask(t, t_rec, types, mask, a=A):
    return chamfer_solution(t, t_rec, types, torch.ones_like(mask), a)


def chamfer_mask_multiplied(t, t_rec, types, mask, a=A):
    dpt = (t[:, :, None, 0] - t_rec[:, None, :, 0]) ** 2
    dang = ((t[:, :, None, 1:] - t_rec[:, None, :, 1:]) ** 2).sum(-1)
    d = dpt + t[:, :, None, 0] ** 2 * dang / a ** 2
    ok = mask[:, :, None] & mask[:, None, :]
    if types is not None:
        ok = ok & (types[:, :, None] == types[:, None, :])
    d = d.masked_fill(~ok, float("inf"))
    return 0.5 * ((d.min(2).values * mask).sum(1) + (d.min(1).values * mask).sum(1))


def chamfer_output_weight(t, t_rec, types, mask, a=A):
    dpt = (t[:, :, None, 0] - t_rec[:, None, :, 0]) ** 2
    dang = ((t[:, :, None, 1:] - t_rec[:, None, :, 1:]) ** 2).sum(-1)
    d = dpt + t_rec[:, None, :, 0] ** 2 * dang / a ** 2
    ok = mask[:, :, None] & mask[:, None, :]
    if types is not None:
        ok = ok & (types[:, :, None] == types[:, None, :])
    d = d.masked_fill(~ok, float("inf"))
    zero = torch.zeros(())
    return 0.5 * (torch.where(mask, d.min(2).values, zero).sum(1) + torch.where(mask, d.min(1).values, zero).sum(1))


def chamfer_no_scale(t, t_rec, types, mask, a=A):
    return chamfer_solution(t, t_rec, types, mask, 1.0)


def random_sets(seed):
    """The notebook's test sets: six random jets of ten particles, three classes."""
    g = torch.Generator().manual_seed(seed)
    t_in, t_out = torch.rand(6, 10, 3, generator=g), torch.rand(6, 10, 3, generator=g)
    m_in = torch.rand(6, 10, generator=g) < 0.8
    m_in[:, 0] = True
    c_in = torch.randint(1, 4, (6, 10), generator=g) * m_in
    return t_in, t_out, c_in, m_in


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [chamfer_solution, chamfer_per_class, setvae.class_matched_chamfer])
def test_6_1_right_answers_pass(answer, seed, capsys):
    checks.exercise_6_1(lambda t, r, ty, m, a=A: answer(t, r, ty, m, angular_scale=a)
                        if answer is setvae.class_matched_chamfer else answer(t, r, ty, m, a),
                        *random_sets(seed), A)
    assert capsys.readouterr().out == "Exercise 6.1: correct\n"


def test_6_1_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 6\.1 is not answered yet"):
        checks.exercise_6_1(stub)


@pytest.mark.parametrize("answer, cause", [
    (chamfer_no_half, "factor ½"),
    (chamfer_one_direction, "only inputs → nearest outputs"),
    (chamfer_ignores_classes, "different classes are matched"),
    (chamfer_no_mask, "padding particles"),
    (chamfer_mask_multiplied, "NaN"),
    (chamfer_output_weight, "reconstructed particle's momentum"),
    (chamfer_no_scale, "not divided by a²"),
    (lambda *args: chamfer_solution(*args).numpy(), "torch tensor"),
])
def test_6_1_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_6_1(answer, *random_sets(0), A)


# ----------------------------------------------------------------------------- 6.2

def clip_solution(model, x, t, types, mask, beta=0.25, fraction=0.75):
    out = model(x, types, mask)
    rec = setvae.class_matched_chamfer(t, out["recon"], types if model.use_pid else None, mask)
    kl = 0.5 * (out["mu"] ** 2 + out["logvar"].exp() - 1 - out["logvar"]).sum(-1)
    best = torch.argsort(rec.detach())[: int(np.ceil(fraction * len(rec)))]
    return rec.mean() + beta * kl[best].mean()


def clip_alternative(model, x, t, types, mask, beta=0.25, fraction=0.75):
    """A boolean mask of the kept jets from the k-th smallest loss (topk), the mean as a ratio."""
    out = model(x, types, mask)
    rec = setvae.class_matched_chamfer(t, out["recon"], types if model.use_pid else None, mask)
    kl = 0.5 * (out["mu"] ** 2 + out["logvar"].exp() - 1 - out["logvar"]).sum(-1)
    k = math.ceil(fraction * len(rec))
    keep = torch.zeros(len(rec), dtype=torch.bool)
    keep[torch.topk(rec.detach(), k, largest=False).indices] = True
    return rec.mean() + beta * (kl * keep).sum() / keep.sum()


def _clip_with(select, reduce="mean"):
    def answer(model, x, t, types, mask, beta=0.25, fraction=0.75):
        out = model(x, types, mask)
        rec = setvae.class_matched_chamfer(t, out["recon"], types if model.use_pid else None, mask)
        kl = 0.5 * (out["mu"] ** 2 + out["logvar"].exp() - 1 - out["logvar"]).sum(-1)
        best = select(rec, kl, fraction)
        if reduce == "sum":
            return rec.mean() + beta * kl[best].sum()
        if reduce == "detached":
            return rec.mean() + beta * kl[best].detach().mean()
        return rec.mean() + beta * kl[best].mean()
    return answer


clip_worst = _clip_with(lambda rec, kl, f: torch.argsort(rec.detach(), descending=True)[: math.ceil(f * len(rec))])
clip_floor = _clip_with(lambda rec, kl, f: torch.argsort(rec.detach())[: max(1, int(f * len(rec)))])
clip_all = _clip_with(lambda rec, kl, f: torch.arange(len(rec)))
clip_by_kl = _clip_with(lambda rec, kl, f: torch.argsort(kl.detach())[: math.ceil(f * len(rec))])
clip_sum = _clip_with(lambda rec, kl, f: torch.argsort(rec.detach())[: math.ceil(f * len(rec))], "sum")
clip_detached = _clip_with(lambda rec, kl, f: torch.argsort(rec.detach())[: math.ceil(f * len(rec))], "detached")


def jets(seed, n=48, size=12):
    """A SetVAE with PID and a batch of random jets, as the notebook's."""
    rng = np.random.default_rng(seed)
    mask = torch.as_tensor(np.arange(size)[None, :] < rng.integers(2, size + 1, n)[:, None])
    types = torch.as_tensor(np.where(mask.numpy(), rng.integers(1, 9, (n, size)), 0))
    x = torch.tensor(rng.normal(size=(n, size, 4)), dtype=torch.float32) * mask[..., None]
    t = torch.tensor(np.abs(rng.normal(size=(n, size, 3))), dtype=torch.float32) * mask[..., None]
    torch.manual_seed(seed)
    return SetVAE(use_pid=True, hidden=16, latent_dim=4), x, t, types, mask


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [clip_solution, clip_alternative])
def test_6_2_right_answers_pass(answer, seed, capsys):
    checks.exercise_6_2(answer, *jets(seed), 0.25, 0.75)
    assert capsys.readouterr().out == "Exercise 6.2: correct\n"


def test_6_2_leaves_the_model_and_random_state_alone():
    model, *batch = jets(0)
    model.eval()
    torch.manual_seed(11)
    state = torch.get_rng_state()
    checks.exercise_6_2(clip_solution, model, *batch)
    assert not model.training and torch.equal(torch.get_rng_state(), state)


def test_6_2_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 6\.2 is not answered yet"):
        checks.exercise_6_2(stub)


@pytest.mark.parametrize("answer, cause", [
    (clip_worst, "worst-reconstructed"),
    (clip_floor, "⌊f n⌋"),
    (clip_all, "not clipped"),
    (clip_by_kl, "chosen by their KL"),
    (clip_sum, "summed; take its mean"),
    (clip_detached, "KL gradient does not reach"),
    (lambda *a, **k: clip_solution(*a, **k).item(), "one scalar tensor"),
])
def test_6_2_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_6_2(answer, *jets(0), 0.25, 0.75)


# ----------------------------------------------------------------------------- 6.3

def eff_solution(qcd_scores, signal_scores, rejection=100):
    threshold = np.quantile(qcd_scores, 1 - 1 / rejection)
    return float(np.mean(np.asarray(signal_scores) > threshold))


def eff_sorted(qcd_scores, signal_scores, rejection=100):
    """The k-th highest QCD score as the cut, k = n / rejection, and >= for the signal."""
    q = np.sort(np.asarray(qcd_scores))[::-1]
    k = round(len(q) / rejection)
    return float(np.mean(np.asarray(signal_scores) >= q[k - 1]))


def eff_library(qcd_scores, signal_scores, rejection=100):
    y = np.r_[np.zeros(len(qcd_scores)), np.ones(len(signal_scores))]
    return efficiency_at_rejection(y, np.r_[qcd_scores, signal_scores], rejection)


def scores(seed):
    rng = np.random.default_rng(seed)
    return rng.lognormal(0.0, 1.0, 2000), rng.lognormal(0.5, 1.0, 1000)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [eff_solution, eff_sorted, eff_library])
def test_6_3_right_answers_pass(answer, seed, capsys):
    checks.exercise_6_3(answer, *scores(seed), 100)
    assert capsys.readouterr().out == "Exercise 6.3: correct\n"


def test_6_3_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 6\.3 is not answered yet"):
        checks.exercise_6_3(stub)


@pytest.mark.parametrize("answer, cause", [
    (lambda q, s, r=100: float(np.mean(s <= np.quantile(q, 1 - 1 / r))), "below"),
    (lambda q, s, r=100: float(np.mean(s > np.quantile(q, 1 / r))), "1/rejection quantile"),
    (lambda q, s, r=100: 100 * eff_solution(q, s, r), "percent"),
    (lambda q, s, r=100: float(np.mean(s > np.quantile(s, 1 - 1 / r))), "signal scores"),
    (lambda q, s, r=100: eff_solution(q, s, 100), "rejection of 10"),
    (lambda q, s, r=10: eff_solution(q, s, r), "default"),
    (lambda q, s, r=100: np.array([eff_solution(q, s, r)]), "return one number"),
])
def test_6_3_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_6_3(answer, *scores(0), 100)


# ----------------------------------------------------------------------------- 6.4

def nsub_features(taus):
    return np.stack(tau_ratios(taus), axis=1)


def refit_solution(qcd_sets, samples, half):
    X = [nsub_features(qcd_sets["train"]["taus"])]
    y = [np.zeros(len(X[0]))]
    w = [np.full(len(X[0]), 9.0 / len(X[0]))]
    for c in setvae.SIGNAL_CLASSES:
        f = nsub_features(samples[c]["taus"][:half])
        X.append(f)
        y.append(np.ones(len(f)))
        w.append(np.full(len(f), 1.0 / len(f)))
    return LogisticRegression(C=100, max_iter=1000).fit(np.concatenate(X), np.concatenate(y),
                                                        sample_weight=np.concatenate(w))


def refit_alternative(qcd_sets, samples, half):
    """Signals first, weights scaled to sum to 2 (1 for QCD), the default C and another solver."""
    sig = np.concatenate([nsub_features(samples[c]["taus"][:half]) for c in setvae.SIGNAL_CLASSES])
    qcd = nsub_features(qcd_sets["train"]["taus"])
    X = np.concatenate([sig, qcd])
    y = np.r_[np.ones(len(sig)), np.zeros(len(qcd))]
    w = np.r_[np.full(len(sig), 1.0 / len(sig)), np.full(len(qcd), 1.0 / len(qcd))]
    return LogisticRegression(solver="newton-cg", max_iter=500).fit(X, y, sample_weight=w)


def refit_class_weight(qcd_sets, samples, half):
    """No sample weights, class_weight='balanced' (equivalent here: the signal classes are equally large)."""
    X = np.concatenate([nsub_features(qcd_sets["train"]["taus"])]
                       + [nsub_features(samples[c]["taus"][:half]) for c in setvae.SIGNAL_CLASSES])
    y = np.r_[np.zeros(len(qcd_sets["train"]["taus"])), np.ones(half * len(setvae.SIGNAL_CLASSES))]
    return LogisticRegression(C=10, class_weight="balanced", max_iter=1000).fit(X, y)


def refit_liblinear(qcd_sets, samples, half):
    """liblinear, which also penalises the intercept, on the same jets and weights."""
    X = np.concatenate([nsub_features(qcd_sets["train"]["taus"])]
                       + [nsub_features(samples[c]["taus"][:half]) for c in setvae.SIGNAL_CLASSES])
    n_qcd = len(qcd_sets["train"]["taus"])
    y = np.r_[np.zeros(n_qcd), np.ones(len(X) - n_qcd)]
    w = np.r_[np.full(n_qcd, 9.0 / n_qcd), np.full(len(X) - n_qcd, 1.0 / half)]
    return LogisticRegression(solver="liblinear", C=100).fit(X, y, sample_weight=w)


def _refit(qcd_key="train", signal_slice=lambda h: slice(None, h), weighted=True, qcd_factor=9.0, swap=False,
           qcd_from_samples=False, raw_taus=False):
    def answer(qcd_sets, samples, half):
        feats = (lambda t: np.asarray(t, float)) if raw_taus else nsub_features
        qcd_t = samples["qcd"]["taus"] if qcd_from_samples else qcd_sets[qcd_key]["taus"]
        X, y = [feats(qcd_t)], [np.full(len(qcd_t), 1.0 if swap else 0.0)]
        w = [np.full(len(qcd_t), qcd_factor / len(qcd_t))]
        for c in setvae.SIGNAL_CLASSES:
            f = feats(samples[c]["taus"][signal_slice(half)])
            X.append(f)
            y.append(np.full(len(f), 0.0 if swap else 1.0))
            w.append(np.full(len(f), 1.0 / len(f)))
        w = np.concatenate(w) if weighted else None
        return LogisticRegression(C=100, max_iter=1000).fit(np.concatenate(X), np.concatenate(y), sample_weight=w)
    return answer


def notebook_jets(seed, n_train=400, n_signal=200):
    """QCD splits and nine signal samples of tau's, as setvae.jet_class_samples gives them."""
    rng = np.random.default_rng(seed)

    def taus(n, r21):
        t1 = rng.uniform(0.1, 0.4, n)
        t2 = t1 * np.clip(rng.normal(r21, 0.15, n), 0.05, 1.0)
        t3, t4 = t2 * rng.uniform(0.4, 0.9, n), t2 * rng.uniform(0.2, 0.7, n)
        return np.column_stack([t1, t2, t3, t4]).astype(np.float32)

    all_qcd = taus(n_train + 200, 0.75)
    qcd_sets = {"train": {"taus": all_qcd[:n_train]}, "val": {"taus": all_qcd[n_train:n_train + 100]},
                "test": {"taus": all_qcd[n_train + 100:]}}
    samples = {"qcd": {"taus": all_qcd}}
    for i, c in enumerate(setvae.SIGNAL_CLASSES):
        samples[c] = {"taus": taus(n_signal, 0.4 + 0.03 * i)}
    return qcd_sets, samples, n_signal // 2


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [refit_solution, refit_alternative, refit_class_weight, refit_liblinear])
def test_6_4_right_answers_pass(answer, seed, capsys):
    checks.exercise_6_4(answer, *notebook_jets(seed))
    assert capsys.readouterr().out == "Exercise 6.4: correct\n"


def test_6_4_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 6\.4 is not answered yet"):
        checks.exercise_6_4(stub)


@pytest.mark.parametrize("answer, cause", [
    (_refit(weighted=False), "sample weights are missing"),
    (_refit(qcd_factor=1.0), "weight of one signal class"),
    (_refit(signal_slice=lambda h: slice(h, None)), "second\\* halves"),
    (_refit(signal_slice=lambda h: slice(None)), "whole signal samples"),
    (_refit(qcd_key="test"), "QCD \\*test\\* jets"),
    (_refit(qcd_from_samples=True), "all QCD jets of samples"),
    (_refit(swap=True), "labels are swapped"),
    (_refit(raw_taus=True), "three ratios"),
    (lambda q, s, h: "not a model", "fitted\\* LogisticRegression"),
])
def test_6_4_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_6_4(answer, *notebook_jets(0))
