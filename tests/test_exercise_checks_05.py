"""The checks of notebook 05's exercises accept right answers and name the mistake in wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetad_utils import sets
from jetad_utils.exercise_checks import ExerciseError
from jetad_utils.exercise_checks import nb05 as checks

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SEEDS = (0, 1, 2)


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise N.M: your code here")


# ----------------------------------------------------------------------------- 5.1

def fspool_solution(values, mask, knots):
    n_sets, _, n_feat = values.shape
    pieces = knots.shape[1] - 1
    out = np.zeros((n_sets, n_feat))
    for s in range(n_sets):
        v = values[s][mask[s]]
        n = len(v)
        if n == 0:
            continue
        ranks = np.arange(n) / max(n - 1, 1)
        ordered = -np.sort(-v, axis=0)
        for c in range(n_feat):
            out[s, c] = np.sum(np.interp(ranks * pieces, np.arange(pieces + 1), knots[c]) * ordered[:, c])
    return out


def fspool_alternative(values, mask, knots):
    """Vectorised: padding to -inf, one sort along the elements, weights per set size."""
    pieces = knots.shape[1] - 1
    filled = np.where(mask[..., None], values.astype(np.float64), -np.inf)
    ranked = -np.sort(-filled, axis=1)                          # (n_sets, N, C), padding last
    n = mask.sum(axis=1)
    rel = np.arange(values.shape[1])[None, :] / np.maximum(n - 1, 1)[:, None]
    weights = np.stack([np.interp(np.clip(rel, 0, 1) * pieces, np.arange(pieces + 1), k) for k in knots], axis=-1)
    real = np.arange(values.shape[1])[None, :] < n[:, None]
    return (np.where(real[..., None], ranked, 0.0) * weights).sum(axis=1)


def fspool_ascending(values, mask, knots):
    pieces = knots.shape[1] - 1
    out = np.zeros((values.shape[0], values.shape[2]))
    for s in range(values.shape[0]):
        v = np.sort(values[s][mask[s]], axis=0)
        r = np.arange(len(v)) / max(len(v) - 1, 1)
        for c in range(values.shape[2]):
            out[s, c] = np.sum(np.interp(r * pieces, np.arange(pieces + 1), knots[c]) * v[:, c])
    return out


def fspool_no_mask(values, mask, knots):
    return fspool_solution(values, np.ones_like(mask), knots)


def fspool_rank_over_n(values, mask, knots):
    pieces = knots.shape[1] - 1
    out = np.zeros((values.shape[0], values.shape[2]))
    for s in range(values.shape[0]):
        v = -np.sort(-values[s][mask[s]], axis=0)
        r = np.arange(len(v)) / len(v)
        for c in range(values.shape[2]):
            out[s, c] = np.sum(np.interp(r * pieces, np.arange(pieces + 1), knots[c]) * v[:, c])
    return out


def fspool_ranks_not_scaled(values, mask, knots):
    pieces = knots.shape[1] - 1
    out = np.zeros((values.shape[0], values.shape[2]))
    for s in range(values.shape[0]):
        v = -np.sort(-values[s][mask[s]], axis=0)
        r = np.arange(len(v)) / max(len(v) - 1, 1)
        for c in range(values.shape[2]):
            out[s, c] = np.sum(np.interp(r, np.arange(pieces + 1), knots[c]) * v[:, c])
    return out


def fspool_wrong_axis(values, mask, knots):
    pieces = knots.shape[1] - 1
    out = np.zeros((values.shape[0], values.shape[2]))
    for s in range(values.shape[0]):
        v = -np.sort(-values[s][mask[s]], axis=1)
        r = np.arange(len(v)) / max(len(v) - 1, 1)
        for c in range(values.shape[2]):
            out[s, c] = np.sum(np.interp(r * pieces, np.arange(pieces + 1), knots[c]) * v[:, c])
    return out


def fspool_joint(values, mask, knots):
    pieces = knots.shape[1] - 1
    out = np.zeros((values.shape[0], values.shape[2]))
    for s in range(values.shape[0]):
        v = values[s][mask[s]]
        v = v[np.argsort(-v[:, 0], kind="stable")]
        r = np.arange(len(v)) / max(len(v) - 1, 1)
        for c in range(values.shape[2]):
            out[s, c] = np.sum(np.interp(r * pieces, np.arange(pieces + 1), knots[c]) * v[:, c])
    return out


def toy_sets(seed):
    """Sets like the notebook's toy: float32 values, zero padding, knots of an FSPool with 4 pieces."""
    torch.manual_seed(seed)
    values = torch.randn(3, 5, 2)
    mask = torch.arange(5)[None, :] < torch.tensor([3, 5, 2])[:, None]
    values = values * mask[..., None]
    pool = sets.FSPool(2, n_pieces=4)
    return values.numpy(), mask.numpy(), pool.weight.detach().numpy()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [fspool_solution, fspool_alternative])
def test_5_1_right_answers_pass(answer, seed, capsys):
    checks.exercise_5_1(answer, *toy_sets(seed))
    assert capsys.readouterr().out == "Exercise 5.1: correct\n"


def test_5_1_reference_is_the_library_fspool():
    values, mask, knots = toy_sets(0)
    pool = sets.FSPool(2, n_pieces=4)
    with torch.no_grad():
        pool.weight.copy_(torch.as_tensor(knots))
        lib = pool(torch.as_tensor(values), torch.as_tensor(mask)).numpy()
    assert np.allclose(checks._fspool(values, mask, knots), lib, atol=1e-5)


def test_5_1_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 5\.1 is not answered yet"):
        checks.exercise_5_1(stub)


@pytest.mark.parametrize("answer, cause", [
    (fspool_ascending, "increasing order"),
    (fspool_no_mask, "padding elements"),
    (fspool_rank_over_n, "i / n"),
    (fspool_ranks_not_scaled, "number of pieces P"),
    (fspool_wrong_axis, "wrong axis"),
    (fspool_joint, "featurewise"),
    (lambda v, m, k: fspool_solution(v, m, k).T, "shape"),
])
def test_5_1_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_5_1(answer, *toy_sets(0))


# ----------------------------------------------------------------------------- 5.2

def chamfer_solution(x, types, mask, vec, logits, w):
    d = torch.cdist(x, vec)
    logp = torch.log_softmax(logits, dim=-1)
    out_rows = logits.argmax(dim=-1) != 0
    huge = torch.finfo(d.dtype).max
    d_in, j = d.masked_fill(~out_rows[:, None, :], huge).min(dim=2)
    d_out, i = d.masked_fill(~mask[:, :, None], huge).min(dim=1)
    lp_in = logp.gather(1, j[..., None].expand(-1, -1, logp.shape[-1])).gather(2, types[..., None])[..., 0]
    lp_out = logp.gather(2, types.gather(1, i)[..., None])[..., 0]
    use_in = mask & out_rows.any(dim=1, keepdim=True)
    use_out = out_rows & mask.any(dim=1, keepdim=True)
    zero = torch.zeros(())
    return (torch.where(use_in, d_in - w * lp_in, zero).sum(1)
            + torch.where(use_out, d_out - w * lp_out, zero).sum(1))


def chamfer_loop(x, types, mask, vec, logits, w):
    """Per event, the real inputs and object outputs selected first (a loop, but correct)."""
    out = []
    for k in range(len(x)):
        rows = logits[k].argmax(-1) != 0
        a, b, t = x[k][mask[k]], vec[k][rows], types[k][mask[k]]
        if len(a) == 0 or len(b) == 0:
            out.append(x.new_zeros(()))
            continue
        logp = torch.log_softmax(logits[k][rows], dim=-1)
        d = torch.cdist(a, b)
        d_in, j = d.min(dim=1)
        d_out, i = d.min(dim=0)
        out.append(d_in.sum() + d_out.sum() - w * logp[j, t].sum() - w * logp[torch.arange(len(b)), t[i]].sum())
    return torch.stack(out)


def chamfer_plus_sign(x, types, mask, vec, logits, w):
    return chamfer_solution(x, types, mask, vec, logits, -w)


def chamfer_no_mask(x, types, mask, vec, logits, w):
    return chamfer_loop(x, types, torch.ones_like(mask), vec, logits, w)


def chamfer_all_outputs(x, types, mask, vec, logits, w):
    """Every output row matched, 'no object' rows included."""
    out = []
    for k in range(len(x)):
        a, t = x[k][mask[k]], types[k][mask[k]]
        logp = torch.log_softmax(logits[k], dim=-1)
        d = torch.cdist(a, vec[k])
        d_in, j = d.min(dim=1)
        d_out, i = d.min(dim=0)
        out.append(d_in.sum() + d_out.sum() - w * logp[j, t].sum() - w * logp[torch.arange(len(vec[k])), t[i]].sum())
    return torch.stack(out)


def chamfer_squared(x, types, mask, vec, logits, w):
    out = []
    for k in range(len(x)):
        rows = logits[k].argmax(-1) != 0
        a, b, t = x[k][mask[k]], vec[k][rows], types[k][mask[k]]
        if len(b) == 0:
            out.append(x.new_zeros(()))
            continue
        logp = torch.log_softmax(logits[k][rows], dim=-1)
        d = torch.cdist(a, b) ** 2
        d_in, j = d.min(dim=1)
        d_out, i = d.min(dim=0)
        out.append(d_in.sum() + d_out.sum() - w * logp[j, t].sum() - w * logp[torch.arange(len(b)), t[i]].sum())
    return torch.stack(out)


def chamfer_empty_not_zero(x, types, mask, vec, logits, w):
    d = torch.cdist(x, vec)
    logp = torch.log_softmax(logits, dim=-1)
    out_rows = logits.argmax(dim=-1) != 0
    huge = 1e6
    d_in, j = d.masked_fill(~out_rows[:, None, :], huge).min(dim=2)
    d_out, i = d.masked_fill(~mask[:, :, None], huge).min(dim=1)
    lp_in = logp.gather(1, j[..., None].expand(-1, -1, logp.shape[-1])).gather(2, types[..., None])[..., 0]
    lp_out = logp.gather(2, types.gather(1, i)[..., None])[..., 0]
    zero = torch.zeros(())
    return (torch.where(mask, d_in - w * lp_in, zero).sum(1) + torch.where(out_rows, d_out - w * lp_out, zero).sum(1))


def chamfer_raw_logits(x, types, mask, vec, logits, w):
    out = []
    for k in range(len(x)):
        rows = logits[k].argmax(-1) != 0
        a, b, t = x[k][mask[k]], vec[k][rows], types[k][mask[k]]
        if len(b) == 0:
            out.append(x.new_zeros(()))
            continue
        lp = logits[k][rows]
        d = torch.cdist(a, b)
        d_in, j = d.min(dim=1)
        d_out, i = d.min(dim=0)
        out.append(d_in.sum() + d_out.sum() - w * lp[j, t].sum() - w * lp[torch.arange(len(b)), t[i]].sum())
    return torch.stack(out)


def events(seed, n=40):
    """Events and decoder outputs as in the notebook: padded float32 sets, an untrained DeepSetVAE."""
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.normal(size=(n, 21, 4)), dtype=torch.float32)
    mask = torch.as_tensor(np.arange(21)[None, :] < rng.integers(2, 21, n)[:, None])
    mask[:, 20] = True                                         # the MET row
    x = x * mask[..., None]
    types = torch.as_tensor(np.where(mask.numpy(), rng.integers(1, 9, (n, 21)), 0))
    torch.manual_seed(seed)
    net = sets.DeepSetVAE(hidden=16).eval()
    with torch.no_grad():
        out = net(x, types, mask)
    return x, types, mask, out["vec"], out["logits"], 10.0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [chamfer_solution, chamfer_loop])
def test_5_2_right_answers_pass(answer, seed, capsys):
    checks.exercise_5_2(answer, *events(seed))
    assert capsys.readouterr().out == "Exercise 5.2: correct\n"


def test_5_2_reference_is_the_library_loss():
    args = events(0)
    ref, _ = checks._chamfer(*args)
    assert np.allclose(ref, sets.chamfer_loss(*args[:5], w=args[5]).numpy(), rtol=1e-4, atol=1e-4)


def test_5_2_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 5\.2 is not answered yet"):
        checks.exercise_5_2(stub)


@pytest.mark.parametrize("answer, cause", [
    (chamfer_plus_sign, "wrong sign"),
    (chamfer_no_mask, "padding inputs"),
    (chamfer_squared, "squared"),
    (chamfer_empty_not_zero, "all 'no object'"),
    (chamfer_all_outputs, "'no object' \\(argmax of the logits = 0\\) take part"),
    (chamfer_raw_logits, "raw logits"),
    (lambda *a: chamfer_solution(*a).numpy(), "torch tensor"),
    (lambda *a: chamfer_solution(*a).sum(), "shape"),
    (lambda *a: chamfer_loop(*a[:5], 0.0), "class term −w log p is missing"),
])
def test_5_2_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_5_2(answer, *events(0))


# ----------------------------------------------------------------------------- 5.3

def n_effective(w):
    w = np.asarray(w, dtype=np.float64)
    return w.sum() ** 2 / np.sum(w ** 2)


def si_solution(score_b, score_s, eps_b, weight_b):
    order = np.argsort(-score_b, kind="stable")
    cum = np.cumsum(weight_b[order]) / weight_b.sum()
    k = min(int(np.searchsorted(cum, eps_b - 1e-12)), len(cum) - 1)
    threshold = score_b[order][k]
    selected = weight_b[score_b >= threshold]
    if n_effective(selected) < 10:
        return float("nan")
    return np.mean(score_s >= threshold) / np.sqrt(selected.sum() / weight_b.sum())


def si_library(score_b, score_s, eps_b, weight_b):
    return sets.significance_improvements(score_b, score_s, (eps_b,), weight_bkg=weight_b)[eps_b]


def si_loop(score_b, score_s, eps_b, weight_b):
    """Walk down the sorted background, accumulating weight (float32-safe, no searchsorted)."""
    order = np.argsort(-np.asarray(score_b, float))
    total, acc = float(np.sum(weight_b)), 0.0
    for idx in order:
        acc += float(weight_b[idx])
        if acc / total >= eps_b * (1 - 1e-12):
            threshold = score_b[idx]
            break
    sel = weight_b[score_b >= threshold]
    if sel.sum() ** 2 / (sel ** 2).sum() < 10:
        return np.nan
    return float(np.mean(score_s > threshold) / np.sqrt(sel.sum() / total))


def si_quantile(score_b, score_s, eps_b, weight_b):
    threshold = np.quantile(score_b, 1 - eps_b)
    selected = weight_b[score_b >= threshold]
    if n_effective(selected) < 10:
        return float("nan")
    return np.mean(score_s >= threshold) / np.sqrt(selected.sum() / weight_b.sum())


def si_eps_not_selected(score_b, score_s, eps_b, weight_b):
    value = si_solution(score_b, score_s, eps_b, weight_b)
    order = np.argsort(-score_b, kind="stable")
    cum = np.cumsum(weight_b[order]) / weight_b.sum()
    k = min(int(np.searchsorted(cum, eps_b - 1e-12)), len(cum) - 1)
    frac = weight_b[score_b >= score_b[order][k]].sum() / weight_b.sum()
    return value * np.sqrt(frac) / np.sqrt(eps_b)


def si_off_by_one(score_b, score_s, eps_b, weight_b):
    order = np.argsort(-score_b, kind="stable")
    cum = np.cumsum(weight_b[order]) / weight_b.sum()
    k = min(int(np.searchsorted(cum, eps_b - 1e-12)) + 1, len(cum) - 1)
    threshold = score_b[order][k]
    selected = weight_b[score_b >= threshold]
    if n_effective(selected) < 10:
        return float("nan")
    return np.mean(score_s >= threshold) / np.sqrt(selected.sum() / weight_b.sum())


def si_count_neff(score_b, score_s, eps_b, weight_b):
    order = np.argsort(-score_b, kind="stable")
    cum = np.cumsum(weight_b[order]) / weight_b.sum()
    k = min(int(np.searchsorted(cum, eps_b - 1e-12)), len(cum) - 1)
    threshold = score_b[order][k]
    selected = weight_b[score_b >= threshold]
    if len(selected) < 10:
        return float("nan")
    return np.mean(score_s >= threshold) / np.sqrt(selected.sum() / weight_b.sum())


def si_no_sqrt(score_b, score_s, eps_b, weight_b):
    value = si_solution(score_b, score_s, eps_b, weight_b)
    order = np.argsort(-score_b, kind="stable")
    cum = np.cumsum(weight_b[order]) / weight_b.sum()
    k = min(int(np.searchsorted(cum, eps_b - 1e-12)), len(cum) - 1)
    frac = weight_b[score_b >= score_b[order][k]].sum() / weight_b.sum()
    return value / np.sqrt(frac)


def scores(seed):
    """Weighted background scores of three processes (constant weight within each) and signal."""
    rng = np.random.default_rng(seed)
    sb = np.concatenate([rng.gamma(2.0, 1.0, 800), rng.gamma(2.5, 1.0, 400), rng.gamma(3.0, 1.0, 400)])
    wb = np.concatenate([np.full(800, 0.02), np.full(400, 0.3), np.full(400, 0.05)])
    return sb, rng.gamma(4.0, 1.0, 600), wb


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("answer", [si_solution, si_library, si_loop])
def test_5_3_right_answers_pass(answer, seed, capsys):
    checks.exercise_5_3(answer, *scores(seed))
    assert capsys.readouterr().out == "Exercise 5.3: correct\n"


def test_5_3_stub_is_not_answered_yet():
    with pytest.raises(ExerciseError, match=r"Exercise 5\.3 is not answered yet"):
        checks.exercise_5_3(stub)


@pytest.mark.parametrize("answer, cause", [
    (lambda sb, ss, e, wb: si_solution(sb, ss, e, np.ones_like(wb)), "weights are ignored"),
    (si_quantile, "np.quantile"),
    (si_eps_not_selected, "divides by √eps_b"),
    (si_no_sqrt, "square root is missing"),
    (si_off_by_one, "off by one"),
    (si_count_neff, "effective"),
    (lambda sb, ss, e, wb: np.array([si_solution(sb, ss, e, wb)]), "return one number"),
])
def test_5_3_wrong_answers_name_the_cause(answer, cause):
    with pytest.raises(ExerciseError, match=cause):
        checks.exercise_5_3(answer, *scores(0))
