"""Tests of jetad_utils.sets: FSPool, the deep-set VAE, the modified Chamfer loss, SI.

The vectorised Chamfer loss is checked against a brute-force version written with plain
Python loops over sets and elements; FSPool against its defining formula; the encoder's
permutation invariance by shuffling the objects of real-looking events.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jetad_utils import sets
from jetad_utils.losses import kl_divergence
from jetad_utils.metrics import significance_improvement
from jetad_utils.sets import (
    DeepSetEncoder,
    DeepSetVAE,
    FSPool,
    chamfer_loss,
    chamfer_loss_loop,
    event_features,
    event_loss,
    score_events,
    significance_improvements,
    total_improvements,
)


def _random_sets(n=6, n_max=7, n_feat=4, n_types=8, seed=0, min_real=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_max, n_feat, generator=g)
    counts = torch.randint(min_real, n_max + 1, (n,), generator=g)
    mask = torch.arange(n_max)[None, :] < counts[:, None]
    types = torch.randint(1, n_types + 1, (n, n_max), generator=g) * mask
    x = x * mask[..., None]
    return x, types, mask


def _shuffle(x, types, mask, seed):
    g = torch.Generator().manual_seed(seed)
    perm = torch.stack([torch.randperm(x.shape[1], generator=g) for _ in range(len(x))])
    return (x.gather(1, perm[..., None].expand_as(x)), types.gather(1, perm),
            mask.gather(1, perm))


# ------------------------------------------------------------------------------------ FSPool
def _fspool_brute(x, mask, knots):
    """sum_i f(i/(n-1)) v_(i) per set and feature, with loops and np.interp."""
    n_sets, _, c = x.shape
    p = knots.shape[1] - 1
    out = np.zeros((n_sets, c))
    for s in range(n_sets):
        vals = x[s][mask[s]]
        n = len(vals)
        for f in range(c):
            v = sorted(vals[:, f].tolist(), reverse=True)
            for i, vi in enumerate(v):
                r = i / (n - 1) if n > 1 else 0.0
                out[s, f] += np.interp(r * p, np.arange(p + 1), knots[f]) * vi
    return out


def test_fspool_matches_its_formula_and_ignores_padding():
    x, _, mask = _random_sets(n=8, n_max=9, n_feat=3, seed=1)
    pool = FSPool(3, n_pieces=5)
    got = pool(x, mask).detach().numpy()
    want = _fspool_brute(x.numpy(), mask.numpy(), pool.weight.detach().numpy())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    junk = x.clone()
    junk[~mask] = 1e6                                       # padding values never matter
    np.testing.assert_allclose(pool(junk, mask).detach().numpy(), got, rtol=1e-6)


def test_fspool_special_cases():
    x = torch.tensor([[[1.0], [5.0], [3.0], [0.0]]])
    mask = torch.tensor([[True, True, True, False]])
    pool = FSPool(1, n_pieces=4)
    with torch.no_grad():
        pool.weight.fill_(1.0)                              # f = 1: the sum
        assert pool(x, mask).item() == pytest.approx(9.0)
        pool.weight.copy_(torch.tensor([[1.0, 0, 0, 0, 0]]))  # f(0) only: the max
        assert pool(x, mask).item() == pytest.approx(5.0)
        pool.weight.copy_(torch.tensor([[0.0, 0, 0, 0, 1]]))  # f(1) only: the min
        assert pool(x, mask).item() == pytest.approx(1.0)
        empty = torch.zeros(1, 4, dtype=torch.bool)
        assert pool(x, empty).item() == 0.0


def test_fspool_permutation_invariant_and_errors():
    x, _, mask = _random_sets(seed=2)
    pool = FSPool(4)
    xs, _, ms = _shuffle(x, torch.zeros_like(mask, dtype=torch.long), mask, seed=3)
    torch.testing.assert_close(pool(xs, ms), pool(x, mask))
    with pytest.raises(ValueError, match="built for 4 features"):
        pool(torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="mask must be"):
        pool(x, mask[:, :3])


def test_fspool_gradients_are_finite_with_padding():
    x, _, mask = _random_sets(seed=4)
    x.requires_grad_(True)
    pool = FSPool(4)
    pool(x, mask).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(pool.weight.grad).all()
    assert torch.all(x.grad[~mask] == 0)


# ------------------------------------------------------------------- encoder invariance
def _event_like(n=20, seed=0):
    """Object lists shaped like the events (rows 0-19 objects, row 20 MET)."""
    rng = np.random.default_rng(seed)
    obj = np.zeros((n, 21, 4), np.float32)
    ids = np.zeros((n, 21), np.int8)
    for k in range(n):
        m = rng.integers(1, 12)
        ids[k, :m] = rng.integers(1, 8, m)
        obj[k, :m, 1] = rng.uniform(20, 800, m)
        obj[k, :m, 0] = obj[k, :m, 1] * rng.uniform(1, 3, m)
        obj[k, :m, 2] = rng.uniform(-2.5, 2.5, m)
        obj[k, :m, 3] = rng.uniform(-np.pi, np.pi, m)
        obj[k, 20] = (rng.uniform(0, 500),) * 2 + (0.0, rng.uniform(-np.pi, np.pi))
        ids[k, 20] = 8
    return {"objects": obj, "obj_id": ids}


def test_encoder_latent_is_invariant_under_shuffling_the_objects():
    x, types, mask = (torch.as_tensor(a) for a in event_features(_event_like()))
    torch.manual_seed(0)
    net = DeepSetVAE(hidden=32).eval()
    mu, logvar = net.encode(x, types, mask)
    for seed in range(3):
        xs, ts, ms = _shuffle(x, types, mask, seed)
        assert not torch.equal(ms, mask)                    # the rows really moved
        mu_s, logvar_s = net.encode(xs, ts, ms)
        torch.testing.assert_close(mu_s, mu, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(logvar_s, logvar, rtol=1e-5, atol=1e-5)
    # the event loss (the anomaly score) is invariant too
    s0 = score_events(net, x, types, mask, beta=0.5, w=10.0)
    s1 = score_events(net, *_shuffle(x, types, mask, 7), beta=0.5, w=10.0)
    np.testing.assert_allclose(s1, s0, rtol=1e-5)
    # ... while a plain dense network on the padded rows is not
    dense = torch.nn.Linear(21 * 4, 1)
    assert not torch.allclose(dense(x.flatten(1)), dense(_shuffle(x, types, mask, 0)[0].flatten(1)))


def test_encoder_shapes_and_type_errors():
    enc = DeepSetEncoder(n_features=3, n_types=0, latent_dim=5, hidden=8)
    mu, logvar = enc(torch.randn(4, 6, 3))                  # untyped sets (e.g. constituents)
    assert mu.shape == logvar.shape == (4, 5)
    typed = DeepSetEncoder(hidden=8)
    with pytest.raises(ValueError, match="pass types"):
        typed(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"x must be \(n_sets, n_elements, 4\)"):
        typed(torch.randn(2, 5, 3), torch.ones(2, 5, dtype=torch.long))


def test_vae_samples_in_training_and_uses_mu_in_eval():
    x, types, mask = _random_sets(seed=5)
    net = DeepSetVAE(hidden=16)
    out = net.train()(x, types, mask)
    assert not torch.equal(out["z"], out["mu"])
    out = net.eval()(x, types, mask)
    assert torch.equal(out["z"], out["mu"])
    assert out["vec"].shape == (len(x), 20, 4) and out["logits"].shape == (len(x), 20, 9)
    assert "vec" not in DeepSetVAE(hidden=16, decoder=False)(x, types, mask)


# ----------------------------------------------------------------------------- Chamfer
def _chamfer_brute(x, types, mask, vec, logits, w):
    """Eq. 5 with the class term, element by element (plain Python floats)."""
    out = []
    for k in range(len(x)):
        ins = [i for i in range(x.shape[1]) if mask[k, i]]
        outs = [j for j in range(vec.shape[1]) if int(np.argmax(logits[k, j])) != 0]
        logp = logits[k] - np.log(np.exp(logits[k]).sum(axis=1, keepdims=True))
        total = 0.0
        if ins and outs:
            for i in ins:
                d = [math.dist(x[k, i], vec[k, j]) for j in outs]
                j = outs[int(np.argmin(d))]
                total += min(d) - w * logp[j, types[k, i]]
            for j in outs:
                d = [math.dist(x[k, i], vec[k, j]) for i in ins]
                i = ins[int(np.argmin(d))]
                total += min(d) - w * logp[j, types[k, i]]
        out.append(total)
    return np.array(out)


@pytest.mark.parametrize("w", [0.0, 1.0, 10.0])
def test_chamfer_matches_brute_force(w):
    x, types, mask = _random_sets(n=10, n_max=8, seed=6)
    g = torch.Generator().manual_seed(7)
    vec = torch.randn(10, 5, 4, generator=g)
    logits = torch.randn(10, 5, 9, generator=g) * 2
    logits[0] = -5.0
    logits[0, :, 0] = 5.0                                   # set 0: every output is "no object"
    got = chamfer_loss(x, types, mask, vec, logits, w=w).numpy()
    want = _chamfer_brute(x.numpy().astype(np.float64), types.numpy(), mask.numpy(),
                          vec.numpy().astype(np.float64), logits.numpy().astype(np.float64), w)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert got[0] == 0.0
    loop = chamfer_loss_loop(x, types, mask, vec, logits, w=w).numpy()
    np.testing.assert_allclose(loop, got, rtol=1e-5, atol=1e-5)


def test_chamfer_plain_distance_and_symmetry():
    a, _, ma = _random_sets(n=5, n_max=6, seed=8, min_real=6)
    b, _, _ = _random_sets(n=5, n_max=4, seed=9, min_real=4)
    ab = chamfer_loss(a, None, ma, b)
    ba = chamfer_loss(b, None, None, a)
    torch.testing.assert_close(ab, ba)                      # plain Chamfer is symmetric
    assert torch.all(chamfer_loss(a, None, None, a) < 1e-3)
    with pytest.raises(ValueError, match="vec must be"):
        chamfer_loss(a, None, None, b[..., :3])


def test_chamfer_gradients_finite():
    x, types, mask = _random_sets(seed=10)
    vec = torch.randn(len(x), 20, 4, requires_grad=True)
    logits = torch.randn(len(x), 20, 9, requires_grad=True)
    chamfer_loss(x, types, mask, vec, logits, w=10.0).sum().backward()
    assert torch.isfinite(vec.grad).all() and torch.isfinite(logits.grad).all()


# ------------------------------------------------------------------------- loss, score
def test_kl_and_event_loss_limits():
    assert kl_divergence(torch.zeros(3, 8), torch.zeros(3, 8)).abs().max() == 0
    x, types, mask = _random_sets(seed=11)
    torch.manual_seed(1)
    net = DeepSetVAE(hidden=16).eval()
    out = net(x, types, mask)
    kl = kl_divergence(out["mu"], out["logvar"])
    ch = chamfer_loss(x, types, mask, out["vec"], out["logits"], w=10.0)
    torch.testing.assert_close(event_loss(net, x, types, mask, beta=1.0, w=10.0), kl)
    torch.testing.assert_close(event_loss(net, x, types, mask, beta=0.0, w=10.0), ch)
    torch.testing.assert_close(event_loss(net, x, types, mask, beta=0.3, w=10.0), 0.3 * kl + 0.7 * ch)
    enc_only = DeepSetVAE(hidden=16, decoder=False).eval()
    assert event_loss(enc_only, x, types, mask, beta=1.0).shape == (len(x),)
    with pytest.raises(ValueError, match="needs a decoder"):
        event_loss(enc_only, x, types, mask, beta=0.5)
    with pytest.raises(ValueError, match="beta must be in"):
        event_loss(net, x, types, mask, beta=1.5)


def test_event_features_met_placeholder_and_errors():
    ev = _event_like(5)
    x, types, mask = event_features(ev)
    met = ev["objects"][:, 20, 1]
    np.testing.assert_allclose(x[:, 20, 0], np.log10(met), rtol=1e-5)   # E placeholder = MET
    np.testing.assert_allclose(x[:, 20, 1], np.log10(met), rtol=1e-5)
    assert np.all(x[:, 20, 2] == 0) and np.all(types[:, 20] == 8)
    assert np.all(x[~mask] == 0) and np.array_equal(mask, ev["obj_id"] > 0)
    with pytest.raises(ValueError, match="needs data\\['obj_id'\\]"):
        event_features({"objects": ev["objects"]})


# ------------------------------------------------------------------- figures of merit
def test_si_agrees_with_metrics_and_marks_unmeasurable_points():
    rng = np.random.default_rng(0)
    b, s = rng.normal(0, 1, 20_000), rng.normal(2, 1, 2_000)
    si = significance_improvements(b, s, (1e-2, 1e-3, 1e-4))
    y = np.r_[np.zeros(len(b)), np.ones(len(s))]
    for eps in (1e-2, 1e-3):
        assert si[eps] == pytest.approx(significance_improvement(y, np.r_[b, s], eps), rel=0.02)
    assert math.isnan(si[1e-4])                             # 2 background events: too few
    assert sets.best_significance_improvement(si) == max(si[1e-2], si[1e-3])


def test_si_with_weights_equals_duplicated_events():
    rng = np.random.default_rng(1)
    b, s = rng.normal(0, 1, 5000), rng.normal(1.5, 1, 500)
    w = rng.integers(1, 4, len(b))
    weighted = significance_improvements(b, s, (0.05, 0.01), weight_bkg=w)
    duplicated = significance_improvements(np.repeat(b, w), s, (0.05, 0.01))
    for eps in (0.05, 0.01):
        assert weighted[eps] == pytest.approx(duplicated[eps], rel=1e-9)
    # one heavy event above the cut carries the weight: too few effective events
    heavy = np.r_[np.zeros(999), [1e4]]
    one = significance_improvements(np.r_[np.zeros(999), [10.0]], s, (0.5,), weight_bkg=heavy)
    assert math.isnan(one[0.5])
    with pytest.raises(ValueError, match="non-empty"):
        significance_improvements([], s)


def test_total_improvement_is_the_best_channel():
    recs = [dict(beta=1.0, w=1.0, channel="1", signal="a", best_si=1.5),
            dict(beta=1.0, w=1.0, channel="3", signal="a", best_si=float("nan")),
            dict(beta=1.0, w=1.0, channel="3", signal="b", best_si=float("nan")),
            dict(beta=1e-3, w=1.0, channel="3", signal="a", best_si=0.9)]
    ti = total_improvements(recs)
    assert ti[(1.0, 1.0)]["a"] == 1.5 and math.isnan(ti[(1.0, 1.0)]["b"])
    assert ti[(1e-3, 1.0)] == {"a": 0.9}


# ------------------------------------------------------------------------------ training
def test_train_deepset_learns_and_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("JETAD_CHECKPOINTS", str(tmp_path))
    x, types, mask = event_features(_event_like(300, seed=3))
    sample = {"x": x, "types": types, "mask": mask, "weight": np.ones(len(x))}
    train = {k: v[:200] for k, v in sample.items()}
    val = {k: v[200:] for k, v in sample.items()}
    kw = dict(beta=1.0, w=1.0, name="test-sets", epochs=6, batch_size=50, hidden=16,
              progress=False)
    model, hist = sets.train_deepset(train, val, **kw)
    assert not hist["loaded"] and hist["val_loss"][-1] < hist["val_loss"][0]
    assert model.decoder is None                            # beta = 1: no decoder
    again, hist2 = sets.train_deepset(train, val, **kw)
    assert hist2["loaded"]
    s1 = score_events(model, x, types, mask, 1.0)
    np.testing.assert_allclose(score_events(again, x, types, mask, 1.0), s1, rtol=1e-6)
