"""Set-VAE / CLIP-VAE pieces of notebook 06 (jetad_utils.setvae)."""

import numpy as np
import pytest
import torch

from jetad_utils import setvae as sv
from jetad_utils.losses import kl_divergence
from jetad_utils.setvae import SetVAE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _random_sets(n=5, N=9, F=3, n_types=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, N, F, generator=g) * torch.tensor([3.0, 1.0, 1.0])[:F]
    y = torch.rand(n, N, F, generator=g) * torch.tensor([3.0, 1.0, 1.0])[:F]
    mask = torch.rand(n, N, generator=g) < 0.75
    mask[:, 0] = True
    types = torch.randint(1, n_types + 1, (n, N), generator=g) * mask
    return x, y, types, mask


@pytest.mark.parametrize("angular_scale", [sv.ANGULAR_SCALE, None])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("with_types", [True, False])
def test_class_matched_chamfer_matches_brute_force(angular_scale, reduction, with_types):
    x, y, types, mask = _random_sets(seed=3)
    t = types if with_types else None
    fast = sv.class_matched_chamfer(x, y, t, mask, reduction, angular_scale)
    slow = sv.class_matched_chamfer_loop(x, y, t, mask, reduction, angular_scale)
    assert torch.allclose(fast, slow, rtol=1e-5, atol=1e-5)


def test_class_matching_changes_the_loss():
    # the nearest output of another class must not count
    x = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 0.5, 0.0]]])
    y = torch.tensor([[[1.0, 0.5, 0.0], [1.0, 0.0, 0.0]]])           # swapped positions
    types = torch.tensor([[1, 2]])
    assert float(sv.class_matched_chamfer(x, y, None)) == pytest.approx(0.0, abs=1e-6)
    expected = 0.5 * 2 * 2 * (0.5 ** 2 / sv.ANGULAR_SCALE ** 2)      # both directions, both pairs
    assert float(sv.class_matched_chamfer(x, y, types)) == pytest.approx(expected, rel=1e-5)


def test_momentum_weighting_of_the_distance():
    # a hard particle misplaced costs (x0 / a)² times the squared angle; a soft one almost nothing
    hard = sv.class_matched_chamfer(torch.tensor([[[5.0, 0.0, 0.0]]]), torch.tensor([[[5.0, 0.1, 0.0]]]))
    soft = sv.class_matched_chamfer(torch.tensor([[[0.1, 0.0, 0.0]]]), torch.tensor([[[0.1, 0.1, 0.0]]]))
    assert float(hard) == pytest.approx(25 * 0.01 / sv.ANGULAR_SCALE ** 2, rel=1e-5)
    assert float(soft) == pytest.approx(0.01 * 0.01 / sv.ANGULAR_SCALE ** 2, rel=1e-5)


def test_chamfer_gradient_is_finite_at_a_perfect_reconstruction():
    x, _, types, mask = _random_sets()
    y = x.clone().requires_grad_(True)
    loss = sv.class_matched_chamfer(x, y, types, mask).sum()
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-4)
    assert torch.isfinite(y.grad).all()


def test_chamfer_errors():
    x, y, types, mask = _random_sets()
    with pytest.raises(ValueError, match="shape of x"):
        sv.class_matched_chamfer(x, y[:, :3], types, mask)
    with pytest.raises(ValueError, match="reduction"):
        sv.class_matched_chamfer(x, y, types, mask, reduction="max")
    with pytest.raises(ValueError, match="3 features"):
        sv.class_matched_chamfer(torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))


def test_class_ranks_and_encoding():
    types = torch.tensor([[2, 2, 1, 2, 0, 0], [1, 1, 1, 0, 0, 0]])
    assert sv.class_ranks(types).tolist() == [[0, 1, 0, 2, 0, 0], [0, 1, 2, 0, 0, 0]]
    pe = sv.sinusoidal_encoding(torch.arange(50), 16)
    assert pe.shape == (50, 16)
    # distinct positions get distinct codes, bounded in [-1, 1]
    assert torch.cdist(pe, pe)[~torch.eye(50, dtype=torch.bool)].min() > 0.1
    assert pe.abs().max() <= 1.0
    with pytest.raises(ValueError, match="even"):
        sv.sinusoidal_encoding(torch.arange(3), 5)


@pytest.mark.parametrize("use_pid", [True, False])
def test_encoder_is_permutation_invariant_and_decoder_follows_the_particles(use_pid):
    torch.manual_seed(0)
    net = SetVAE(use_pid=use_pid, hidden=16).eval()
    x = torch.randn(3, 12, 4)
    mask = torch.ones(3, 12, dtype=torch.bool)
    mask[:, 9:] = False
    types = (torch.arange(12) % 4 + 1).repeat(3, 1) * mask
    perm = torch.randperm(9)
    perm = torch.cat([perm, torch.arange(9, 12)])
    mu, logvar = net.encode(x, types, mask)
    mu_p, logvar_p = net.encode(x[:, perm], types[:, perm], mask[:, perm])
    assert torch.allclose(mu, mu_p, atol=1e-5) and torch.allclose(logvar, logvar_p, atol=1e-5)
    # padding does not matter
    x_pad = x.clone()
    x_pad[:, 9:] = 99.0
    assert torch.allclose(net.encode(x_pad, types, mask)[0], mu, atol=1e-5)
    out = net(x, types, mask)
    assert out["recon"].shape == (3, 12, 3)
    assert (out["recon"][..., 0] > 0).all()          # momentum fractions are positive


def test_decoder_is_conditioned_on_the_classes():
    torch.manual_seed(0)
    net = SetVAE(use_pid=True, hidden=16).eval()
    z = torch.zeros(1, 16)
    mask = torch.ones(1, 3, dtype=torch.bool)
    a = net.decode(z, torch.tensor([[1, 1, 4]]), mask)
    b = net.decode(z, torch.tensor([[1, 4, 4]]), mask)
    assert torch.allclose(a[0, 0], b[0, 0])               # same class and rank: same output
    assert not torch.allclose(a[0, 1], a[0, 0])           # second h+ differs from the first
    assert not torch.allclose(a[0, 1], b[0, 1])           # h+ #2 vs photon #1
    with pytest.raises(ValueError, match="use_pid=True"):
        net(torch.zeros(1, 3, 4))


def test_clip_fraction_keeps_kl_of_the_best_reconstructed_jets_only():
    torch.manual_seed(0)
    net = SetVAE(use_pid=True, hidden=16).train()
    x, target, types, mask = (torch.randn(8, 6, 4), torch.rand(8, 6, 3), torch.ones(8, 6, dtype=torch.long),
                              torch.ones(8, 6, dtype=torch.bool))
    target[5:] *= 20.0                                   # three jets far from anything
    torch.manual_seed(1)
    full = sv.setvae_loss(net, x, target, types, mask, beta=1.0)
    torch.manual_seed(1)
    clipped = sv.setvae_loss(net, x, target, types, mask, beta=1.0, clip_fraction=5 / 8)
    torch.manual_seed(1)
    out = net(x, types, mask)
    rec = sv.class_matched_chamfer(target, out["recon"], types, mask)
    kl = kl_divergence(out["mu"], out["logvar"])
    best = torch.argsort(rec)[:5]
    assert set(best.tolist()) == {0, 1, 2, 3, 4}
    assert float(clipped.detach()) == pytest.approx(float((rec.mean() + kl[best].mean()).detach()), rel=1e-5)
    assert float(full.detach()) == pytest.approx(float((rec.mean() + kl.mean()).detach()), rel=1e-5)
    with pytest.raises(ValueError, match="clip_fraction"):
        sv.setvae_loss(net, x, target, types, mask, 1.0, clip_fraction=1.5)


def test_constituent_features_on_generated_jets():
    from jetad_utils import data

    jets = data.load("jets", 200, cls="tbl", progress=False)
    f = sv.constituent_features(jets, n_max=48)
    assert f["x"].shape == (200, 48, 4) and f["target"].shape == (200, 48, 3)
    m = f["mask"]
    assert np.array_equal(m, jets["mask"][:, :48])
    assert set(np.unique(f["types"][m])) <= set(range(1, 9)) and (f["types"][~m] == 0).all()
    # every t -> b l nu jet in the window has a lepton among all its particles
    full = sv.constituent_features(jets, n_max=128)
    lepton = np.isin(full["types"], [5, 6, 7, 8]).any(axis=1)
    assert lepton.mean() > 0.9
    # scaled features are O(1): medians within [-2, 2], spread within [0.3, 3]
    for k in range(4):
        v = f["x"][..., k][m]
        assert -2 < np.median(v) < 2 and 0.3 < v.std() < 3, k
    # scalar pT fractions of all particles add up to a little more than 1 (times the scale 10)
    total = full["target"][..., 0].sum(1)
    assert 9.9 < np.median(total) < 10.6 and (total > 9.0).all()
    with pytest.raises(KeyError, match="missing key"):
        sv.constituent_features({"parts": jets["parts"]})
    with pytest.raises(ValueError, match="n_max"):
        sv.constituent_features(jets, n_max=0)


def test_nsubjettiness_baseline_separates_top_from_qcd():
    from jetad_utils import data

    qcd = sv.nsubjettiness_score(data.load("jets", 1000, cls="qcd", progress=False)["taus"])
    top = sv.nsubjettiness_score(data.load("jets", 1000, cls="top", progress=False)["taus"])
    eff = sv.efficiency_table(qcd, {"top": top})["top"]
    assert 0.04 < eff < 0.5                                  # paper: 8.8 %; random: 1 %
    with pytest.raises(ValueError, match="cannot measure"):
        sv.efficiency_table(qcd[:50], {"top": top})


def test_training_is_deterministic_and_learns(tmp_path):
    from jetad_utils import data

    f = sv.constituent_features(data.load("jets", 600, cls="qcd", progress=False), n_max=32)
    train = {k: v[:500] for k, v in f.items()}
    val = {k: v[500:] for k, v in f.items()}
    runs = []
    for _ in range(2):
        model, hist = sv.train_setvae(train, val, use_pid=True, beta=1e-4, name="t", epochs=3,
                                      hidden=16, progress=False, directory=tmp_path / str(len(runs)))
        runs.append((model, hist))
    assert runs[0][1]["val_loss"] == runs[1][1]["val_loss"]
    assert runs[0][1]["val_loss"][-1] < runs[0][1]["val_loss"][0]
    s = sv.score_jets(runs[0][0], val)
    assert set(s) == {"kl", "recon"} and s["recon"].shape == (100,) and (s["kl"] >= 0).all()
    assert set(sv.score_jets(runs[0][0], val, decode=False)) == {"kl"}


def test_count_flops_of_encoder_and_full_model():
    net = SetVAE(hidden=32).eval()
    x, types, mask = torch.randn(4, 20, 4), torch.ones(4, 20, dtype=torch.long), torch.ones(4, 20, dtype=torch.bool)
    enc = sv.count_flops(net.encode, x, types, mask)
    full = sv.count_flops(net, x, types, mask)
    assert enc > 0 and 1.5 < full / enc < 4
