"""Checks of the exercises of notebook 05 (the deep-set VAE on whole events).

* 5.1 ``fspool_numpy(values, mask, knots)``: featurewise sort pooling of padded sets;
* 5.2 ``modified_chamfer(x, types, mask, vec, logits, w)``: Ostdiek's modified Chamfer loss
  per event, with padding inputs and "no object" outputs left out;
* 5.3 ``si_at(score_b, score_s, eps_b, weight_b)``: the significance improvement at a fixed
  *weighted* background efficiency, NaN when fewer than 10 effective events are selected.

The references are written here from the definitions (loops over sets and elements in
float64), not from the notebook's solutions or the library's vectorised versions.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import torch

from . import ExerciseError, call_answer, close, correct, name_mistake, require, to_numpy

__all__ = ["exercise_5_1", "exercise_5_2", "exercise_5_3"]

NO_OBJECT = 0                 # class 0 of the decoder's logits: "no object"
MIN_EFFECTIVE = 10            # fewest effective background events of a measurable efficiency


# ----------------------------------------------------------------------------- 5.1

def _piecewise(knots_c, r) -> np.ndarray:
    """The piecewise-linear function through knots at 0, 1/P, ..., 1, evaluated at ``r``."""
    pieces = len(knots_c) - 1
    t = np.clip(np.asarray(r, float), 0.0, 1.0) * pieces
    left = np.minimum(np.floor(t).astype(int), pieces)
    right = np.minimum(left + 1, pieces)
    frac = t - left
    return (1 - frac) * knots_c[left] + frac * knots_c[right]


def _ordered(v, c, descending, sort) -> np.ndarray:
    """Feature c of one set's values (n, C) in the order FSPool (or a wrong version) weighs them."""
    if sort == "none":
        return v[:, c]
    if sort == "features":                                   # sorted across features within each element
        return -np.sort(-v, axis=1)[:, c]
    if sort == "joint":                                      # elements ordered by the first feature only
        return v[np.argsort(-v[:, 0], kind="stable"), c]
    return np.sort(v[:, c])[::-1] if descending else np.sort(v[:, c])


def _fspool(values, mask, knots, *, descending=True, use_mask=True, rank_norm=lambda n: n - 1,
            scale_ranks=True, sort="elements") -> np.ndarray:
    """FSPool from its definition, one set and feature at a time; keywords build wrong versions."""
    values, mask, knots = to_numpy(values), np.asarray(mask, bool), to_numpy(knots)
    out = np.zeros((values.shape[0], values.shape[2]))
    for s in range(values.shape[0]):
        v = values[s][mask[s]] if use_mask else values[s]
        n = len(v)
        for c in range(values.shape[2]):
            col = _ordered(v, c, descending, sort)
            r = np.arange(n) / max(rank_norm(n), 1)
            weights = _piecewise(knots[c], r) if scale_ranks else np.interp(r, np.arange(knots.shape[1]), knots[c])
            out[s, c] = np.sum(weights * col)
    return out


def _fspool_variants(values, mask, knots):
    return [
        (_fspool(values, mask, knots, descending=False), "the values are sorted in increasing order; FSPool sorts "
         "each feature in *decreasing* order, so that f(0) weighs the largest value"),
        (_fspool(values, mask, knots, use_mask=False), "padding elements (mask False) are pooled too: keep only "
         "values[s][mask[s]]"),
        (_fspool(values, mask, knots, rank_norm=lambda n: n), "the relative rank is i / n; it is i / (n − 1), so "
         "that the last (smallest) value sits at 1"),
        (_fspool(values, mask, knots, scale_ranks=False), "np.interp is evaluated at i / (n − 1) on knot positions "
         "0, 1, ..., P: multiply the rank by the number of pieces P first"),
        (_fspool(values, mask, knots, sort="none"), "the values are not sorted: sort each feature over the set's "
         "real elements, in decreasing order"),
        (_fspool(values, mask, knots, sort="features"), "the values are sorted across the features of each element "
         "(wrong axis): sort each feature over the set's elements (axis 0 of the set's values)"),
        (_fspool(values, mask, knots, sort="joint"), "the elements are ordered by one feature and every feature "
         "follows that order; FSPool sorts *each feature on its own* (featurewise)"),
    ]


def _fspool_cases(notebook):
    rng = np.random.default_rng(51)
    values = rng.normal(0.0, 2.0, (4, 6, 3))
    mask = np.arange(6)[None, :] < np.array([6, 4, 3, 2])[:, None]
    values[~mask] = 50.0                                     # padding that must not count
    knots = rng.normal(size=(3, 5))
    sum_knots, max_knots = np.ones((3, 5)), np.zeros((3, 5))
    max_knots[:, 0] = 1.0
    cases = [(values, mask, knots), (values, mask, sum_knots), (values, mask, max_knots),
             (values.astype(np.float32), mask, rng.normal(size=(3, 21)).astype(np.float32)),
             (values[:, ::-1], mask[:, ::-1], knots)]        # the same sets, elements in another order
    if notebook[0] is not None:
        cases.append(notebook)
    return cases


def exercise_5_1(answer, values=None, mask=None, knots=None) -> None:
    """Check ``fspool_numpy(values, mask, knots) -> (n_sets, C)``.

    For each set and feature c the real values (mask True) are sorted in decreasing order and
    summed with weights f_c(i / (n − 1)), f_c the piecewise-linear function through the
    ``knots[c]`` at 0, 1/P, ..., 1. Checked on sets of 2 to 6 elements with padding that must
    be ignored, with knots that give the sum and the maximum, with 20 pieces, in float32, with
    the elements in another order, and on the notebook's toy sets.

    Parameters
    ----------
    answer : callable
        The student's ``fspool_numpy``.
    values, mask, knots : ndarray, optional
        The notebook's toy sets (n_sets, N, C), mask (n_sets, N) and knots (C, P + 1).

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the mistake: increasing order,
        padding pooled, rank i / n, ranks not scaled by P, values not sorted).
    """
    same = functools.partial(close, rtol=1e-4, atol=1e-5, nan_equal=True)
    results, first_bad = [], None
    for v, m, k in _fspool_cases((values, mask, knots)):
        got = np.asarray(call_answer("5.1", answer, v, m, k))
        n_sets, _, n_feat = np.shape(v)
        require("5.1", got.shape == (n_sets, n_feat), f"the result has shape {got.shape}; it must be (n_sets, C) = "
                f"{(n_sets, n_feat)}, one pooled value per set and feature")
        ref = _fspool(v, m, k)
        results.append((got, _fspool_variants(v, m, k)))
        if first_bad is None and not same(got, ref):
            first_bad = (got, ref)
    if first_bad is not None:
        name_mistake("5.1", results, same)
        got, ref = first_bad
        s, c = np.unravel_index(int(np.argmax(np.abs(got - ref))), ref.shape)
        raise ExerciseError(f"Exercise 5.1: set {s}, feature {c}: FSPool is {ref[s, c]:.6g}, your answer gives "
                            f"{got[s, c]:.6g}")
    correct("5.1")


# ----------------------------------------------------------------------------- 5.2

def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _chamfer_event(a, t, b, logp, w, *, sign=-1.0, power=1, reduce=np.sum, own_class=None):
    """Modified Chamfer loss of one event: inputs a (n, F) of types t, outputs b (m, F)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0, False
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)) ** power
    j, i = d.argmin(axis=1), d.argmin(axis=0)
    lp_in = logp[j, t]
    lp_out = logp[np.arange(len(b)), t[i] if own_class is None else own_class]
    loss = (reduce(d.min(axis=1)) + sign * w * reduce(lp_in) + reduce(d.min(axis=0)) + sign * w * reduce(lp_out))
    part = np.sort(d, axis=1)[:, :2] if d.shape[1] > 1 else None
    near_tie = part is not None and bool(np.any(part[:, 1] - part[:, 0] < 1e-4 * (1 + part[:, 0])))
    if d.shape[0] > 1:
        col = np.sort(d, axis=0)[:2]
        near_tie = near_tie or bool(np.any(col[1] - col[0] < 1e-4 * (1 + col[0])))
    return float(loss), near_tie


def _chamfer(x, types, mask, vec, logits, w, *, use_mask=True, use_out=True, logp_fn=_log_softmax, own=False,
             **kw):
    """(loss per event, near ties of a nearest neighbour per event) from the definition."""
    x, vec, logits = to_numpy(x), to_numpy(vec), to_numpy(logits)
    types, mask = np.asarray(types).astype(int), np.asarray(mask, bool)
    out_rows = logits.argmax(axis=-1) != NO_OBJECT
    losses, ties = [], []
    for k in range(len(x)):
        real = mask[k] if use_mask else np.ones(len(mask[k]), bool)
        rows = out_rows[k] if use_out else np.ones(len(out_rows[k]), bool)
        own_class = logits[k][rows].argmax(axis=-1) if own else None
        loss, tie = _chamfer_event(x[k][real], types[k][real], vec[k][rows], logp_fn(logits[k][rows]), w,
                                   own_class=own_class, **kw)
        losses.append(loss)
        ties.append(tie)
    return np.array(losses), np.array(ties)


def _chamfer_variants(args, w):
    def v(**kw):
        return _chamfer(*args, w, **kw)[0]

    return [
        (v(sign=1.0), "the class term has the wrong sign: the loss is d − w log p (the paper prints + w log p, "
         "but −log p is what a loss to minimise needs)"),
        (v(use_mask=False), "padding inputs (mask False) take part: mask them out (a huge distance for them in the "
         "min over inputs, zero for their own terms)"),
        (v(use_out=False), "output rows predicted 'no object' (argmax of the logits = 0) take part: leave them out"),
        (v(sign=0.0), "the class term −w log p is missing"),
        (v(power=2), "the distances are squared; the modified Chamfer loss uses the Euclidean distance "
         "(torch.cdist)"),
        (v(logp_fn=lambda z: z), "the class term uses the raw logits: take torch.log_softmax(logits, dim=-1) first"),
        (v(reduce=np.mean), "the terms are averaged over the elements; the loss of an event is their sum"),
        (v(own=True), "the class term of an output row uses its own predicted class; it must be the log-probability "
         "of the type of the input it is matched to"),
    ]


def _chamfer_cases(notebook):
    rng = np.random.default_rng(52)
    n, size_in, size_out = 6, 6, 5
    x = rng.normal(0.0, 1.0, (n, size_in, 4))
    mask = np.arange(size_in)[None, :] < np.array([6, 4, 3, 5, 2, 6])[:, None]
    x[~mask] = 30.0                                                     # padding that must not count
    types = np.where(mask, rng.integers(1, 9, (n, size_in)), 0)
    vec = rng.normal(0.0, 1.0, (n, size_out, 4))
    logits = rng.normal(0.0, 1.0, (n, size_out, 9))
    logits[:, :, NO_OBJECT] += np.where(rng.random((n, size_out)) < 0.35, 4.0, -4.0)
    logits[:, 0, NO_OBJECT] = -5.0                                      # at least one object ...
    logits[2, :, NO_OBJECT] = 6.0                                       # ... except in event 2
    tensors = [torch.tensor(x, dtype=torch.float32), torch.tensor(types), torch.tensor(mask),
               torch.tensor(vec, dtype=torch.float32), torch.tensor(logits, dtype=torch.float32)]
    cases = [(tensors, 10.0), (tensors, 1.0), ([t.double() if t.is_floating_point() else t for t in tensors], 3.0)]
    if notebook[0] is not None:
        cases.append((list(notebook[:5]), notebook[5]))
    return cases


def exercise_5_2(answer, x=None, types=None, mask=None, vec=None, logits=None, w: float = 10.0) -> None:
    """Check ``modified_chamfer(x, types, mask, vec, logits, w) -> (n,)``.

    Per event: every real input goes to its nearest output row (Euclidean distance) and every
    output row that is an object (argmax of its logits not 0) to its nearest real input; each
    match adds d − w log p(type of the input) with the log-softmax of the output row's logits.
    An event whose outputs are all "no object" has loss 0. Checked on events with padding to
    ignore, one event with no output object, w = 10, 1 and 3, float32 and float64, and on the
    notebook's events (where events with a near tie of two nearest neighbours, which float32
    may resolve either way, are left out).

    Parameters
    ----------
    answer : callable
        The student's ``modified_chamfer``.
    x, types, mask, vec, logits : Tensor, optional
        The notebook's inputs (n, N, 4), (n, N), (n, N) and outputs (n, S, 4), (n, S, 9).
    w : float
        The notebook's class weight.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the mistake: sign of the class
        term, padding or "no object" rows taking part, squared distances, raw logits, ...).
    """
    same = functools.partial(close, rtol=1e-4, atol=1e-4, nan_equal=True)
    results, first_bad, not_empty = [], None, None
    for args, weight in _chamfer_cases((x, types, mask, vec, logits, w)):
        with torch.no_grad():
            got = call_answer("5.2", answer, *args, weight)
        n = len(args[0])
        require("5.2", isinstance(got, torch.Tensor), f"modified_chamfer returned a {type(got).__name__}; return a "
                "torch tensor (the total loss adds it to other tensors)")
        require("5.2", tuple(got.shape) == (n,), f"the loss has shape {tuple(got.shape)}; return one value per "
                f"event, shape ({n},) (sum over the elements of each event)")
        ref, ties = _chamfer(*args, weight)
        got = to_numpy(got)
        no_output = (to_numpy(args[4]).argmax(-1) == NO_OBJECT).all(axis=1)
        if not_empty is None and np.any(no_output & ~np.isclose(got, 0.0)):
            not_empty = got[no_output & ~np.isclose(got, 0.0)][0]
        keep = ~ties
        results.append((got[keep], args, weight, keep))
        if first_bad is None and not same(got[keep], ref[keep]):
            first_bad = (got[keep], ref[keep])
    if first_bad is not None or not_empty is not None:
        variants = [(g, [(wrong[keep], message) for wrong, message in _chamfer_variants(args, weight)])
                    for g, args, weight, keep in results]          # computed only for a wrong answer
        name_mistake("5.2", variants, same)
        if not_empty is not None:
            raise ExerciseError("Exercise 5.2: an event whose output rows are all 'no object' has loss "
                                f"{not_empty:.3g}; "
                                "it must be 0 (nothing to match: zero its terms, e.g. with torch.where)")
        got, ref = first_bad
        require("5.2", np.all(np.isfinite(got)), "the loss is NaN or infinite for some events: a distance masked "
                "with +inf and then multiplied by 0 gives NaN; mask with a large finite value or select the valid "
                "terms with torch.where")
        k = int(np.argmax(np.abs(got - ref)))
        raise ExerciseError(f"Exercise 5.2: the loss of an event is {got[k]:.6g} where the definition gives "
                            f"{ref[k]:.6g}; compare with the formula above (d to the nearest neighbour − w log p "
                            "of the input's type, both directions, padding and 'no object' rows left out)")
    correct("5.2")


# ----------------------------------------------------------------------------- 5.3

def _n_effective(w) -> float:
    w = np.asarray(w, dtype=np.float64)
    return float(w.sum() ** 2 / np.sum(w**2)) if len(w) else 0.0


def _si(sb, ss, eps, wb, *, shift=0, sqrt=True, use_selected=True, normalise=True, neff_counts=False,
        signal_strict=False, nan_rule=True, near=0.0, quantile=False):
    """SI from its definition; the keywords build the usual wrong versions (and tie conventions)."""
    sb, ss, wb = (np.asarray(a, dtype=np.float64) for a in (sb, ss, wb))
    order = np.argsort(-sb, kind="stable")
    cum = np.cumsum(wb[order]) / (wb.sum() if normalise else 1.0)
    k = int(np.clip(np.searchsorted(cum, eps + near) + shift, 0, len(sb) - 1))
    threshold = np.quantile(sb, 1 - eps) if quantile else sb[order][k]
    selected = wb[sb >= threshold]
    n_eff = len(selected) if neff_counts else _n_effective(selected)
    if nan_rule and n_eff < MIN_EFFECTIVE:
        return float("nan")
    eps_s = np.mean(ss > threshold) if signal_strict else np.mean(ss >= threshold)
    eps_b = selected.sum() / wb.sum() if use_selected else eps
    return float(eps_s / (np.sqrt(eps_b) if sqrt else eps_b))


def _si_accepted(sb, ss, eps, wb) -> list[float]:
    """The values a right answer may give: a cumulative fraction within 1e-9 of eps_b reaches it
    or not depending on rounding, and a signal score equal to the threshold may count or not."""
    return [_si(sb, ss, eps, wb, near=near, signal_strict=strict) for near in (-1e-9, 1e-9) for strict in (False, True)]


def _si_variants(sb, ss, eps, wb):
    uniform = np.ones(len(sb))
    return [
        (_si(sb, ss, eps, uniform), "the weights are ignored (np.quantile or a plain count does this): the threshold "
         "is where the cumulative *weight* of the background, sorted by decreasing score, reaches eps_b"),
        (_si(sb, ss, eps, wb, quantile=True), "np.quantile(score_b, 1 - eps_b) ignores the weights: the threshold "
         "is where the cumulative *weight* fraction of the background, sorted by decreasing score, reaches eps_b"),
        (_si(sb, ss, eps, wb, use_selected=False), "the SI divides by √eps_b; divide by the square root of the "
         "weight fraction actually selected (it is larger than eps_b when the event at the threshold is heavy)"),
        (_si(sb, ss, eps, wb, sqrt=False), "the square root is missing: SI = eps_S / √eps_B"),
        (_si(sb, ss, eps, wb, shift=1), "off by one: the threshold is one event too far; it is the score of the "
         "first event (in decreasing order) at which the cumulative weight fraction reaches eps_b"),
        (_si(sb, ss, eps, wb, shift=-1), "off by one: the threshold stops one event before the cumulative weight "
         "fraction reaches eps_b (use the first index where cum >= eps_b, e.g. np.searchsorted(cum, eps_b))"),
        (_si(sb, ss, eps, wb, normalise=False), "the cumulative weight is not divided by the total weight: compare "
         "the *fraction* cum / sum(weight_b) with eps_b"),
        (_si(sb, ss, eps, wb, neff_counts=True), "the NaN rule counts events; it needs the *effective* number of the "
         "selected background, (Σw)² / Σw²"),
        (_si(sb, ss, eps, wb, nan_rule=False), f"no NaN when the selected background has fewer than {MIN_EFFECTIVE} "
         "effective events: return float('nan') there (the efficiency cannot be measured)"),
    ]


def _si_cases(notebook):
    """(score_b, score_s, weight_b, eps values): heavy events, exact hits, float32, pb weights."""
    rng = np.random.default_rng(53)
    sb, ss = rng.normal(0.0, 1.0, 3000), rng.normal(1.5, 1.0, 800)
    wb = rng.exponential(1.0, 3000)
    top = np.argsort(-sb)
    wb[top[[3, 140]]] = 25.0                          # two heavy events among the highest scores
    cum = np.cumsum(wb[top]) / wb.sum()
    fewer = (cum[14] + cum[13]) / 2                   # 15 events, but about 2 effective ones: NaN
    heavy = cum[139] + 0.2 * (cum[140] - cum[139])    # reached at the heavy event: selects far more than eps_b
    cases = [(sb, ss, wb, (fewer, heavy, 0.002, 0.01, 0.05, 0.2)),
             (sb, ss, wb * 1.7e-3, (0.01, 0.05)),          # weights in pb: only fractions matter
             (sb[:1000], ss, np.ones(1000), (0.01, 0.013, 0.1)),   # unweighted, 10 events reach 0.01 exactly
             (sb.astype(np.float32), ss.astype(np.float32), wb, (0.01, 0.05))]
    if notebook[0] is not None:
        cases.append(notebook)
    return cases


def _si_value(got) -> float:
    ok = isinstance(got, numbers.Real) or (isinstance(got, np.ndarray) and got.ndim == 0)
    require("5.3", ok, f"si_at returned a {type(got).__name__} ({str(got)[:50]!r}); return one number "
            "(a float, NaN when not measurable)")
    return float(got)


def exercise_5_3(answer, score_b=None, score_s=None, weight_b=None, eps_values=(1e-2, 1e-3, 1e-4)) -> None:
    """Check ``si_at(score_b, score_s, eps_b, weight_b)``: εS / √εB at a weighted background efficiency.

    The threshold is the score of the first background event, in decreasing score order, at
    which the cumulative weight fraction reaches ``eps_b``; εB is the weight fraction at or
    above it, εS the fraction of signal at or above it; NaN when the selected background has
    fewer than 10 effective events (Σw)²/Σw². Checked with heavy events at the thresholds,
    weights in pb, unweighted events whose fraction reaches eps_b exactly, float32 scores, and
    the notebook's scores. Where a cumulative fraction lies within 1e-9 of eps_b, or a signal
    score equals the threshold, both readings of "reaches" and "above" are accepted.

    Parameters
    ----------
    answer : callable
        The student's ``si_at``.
    score_b, score_s, weight_b : ndarray, optional
        The notebook's background scores, signal scores and background weights.
    eps_values : sequence of float
        The background efficiencies the notebook uses.

    Raises
    ------
    ExerciseError
        If the answer is missing or wrong (the message names the mistake: weights ignored,
        √eps_b instead of the selected fraction, off by one event, the NaN rule, ...).
    """
    notebook = (score_b, score_s, weight_b, tuple(eps_values))
    same = functools.partial(close, rtol=1e-9, atol=1e-12, nan_equal=True)     # the NaN rule: NaN equals NaN
    results, first_bad = [], None
    for sb, ss, wb, epsilons in _si_cases(notebook):
        for eps in epsilons:
            got = _si_value(call_answer("5.3", answer, sb, ss, eps, wb))
            accepted = _si_accepted(sb, ss, eps, wb)
            ok = any(same(got, a) for a in accepted)
            results.append((got, _si_variants(sb, ss, eps, wb)))
            if first_bad is None and not ok:
                first_bad = (got, accepted[0], eps)
    if first_bad is not None:
        name_mistake("5.3", results, same)
        got, ref, eps = first_bad
        if math.isnan(got):
            raise ExerciseError(f"Exercise 5.3: NaN at eps_b = {eps:g} where the selected background has at least "
                                f"{MIN_EFFECTIVE} effective events; the SI there is {ref:.6g}")
        raise ExerciseError(f"Exercise 5.3: at eps_b = {eps:g} the SI is {ref:.6g}, your answer gives {got:.6g}")
    correct("5.3")
