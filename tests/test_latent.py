"""Tests of jetad_utils.latent: the KL-peak stopping rule, the VAE pieces and the cache."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from jetad_utils import latent
from jetad_utils.latent import (
    MassConditionedDecoder,
    SeluVAE,
    decode_grid,
    ensemble_kl,
    event_kl,
    event_reconstruction_error,
    kl_peak,
    train_kl_peak,
)
from jetad_utils.losses import kl_divergence as kl_to_prior

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- the stopping rule


def test_clean_peak_stops_five_epochs_after_it():
    kl = [0.0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0, -1, -2]
    assert kl_peak(kl) == (5, 10)


def test_peak_needs_the_full_rise_and_the_full_fall():
    # only 4 rising epochs before the top: not a peak by the rule
    assert kl_peak([1, 2, 3, 4, 5, 4, 3, 2, 1, 0]) == (4, None)
    # 5 rises but only 4 falls so far: not observed yet
    assert kl_peak([0, 1, 2, 3, 4, 5, 4, 3, 2, 1]) == (5, None)
    # ... and observed one epoch later
    assert kl_peak([0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0]) == (5, 10)


def test_longer_runs_and_custom_lengths():
    kl = list(range(20)) + list(range(18, 0, -1))
    assert kl_peak(kl) == (19, 24)
    assert kl_peak(kl, rise=2, fall=3) == (19, 22)
    assert kl_peak([0, 1, 0], rise=1, fall=1) == (1, 2)


def test_plateaus_break_runs():
    top_plateau = [0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0]
    assert kl_peak(top_plateau) == (5, None)
    rise_plateau = [0, 1, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0]  # only 4 strict rises before the top
    assert kl_peak(rise_plateau) == (6, None)
    flat = np.ones(50)
    assert kl_peak(flat) == (0, None)


def test_never_peaking_curves_keep_the_maximum():
    rising = np.linspace(0, 3, 40)
    assert kl_peak(rising) == (39, None)
    falling = np.linspace(3, 0, 40)
    assert kl_peak(falling) == (0, None)
    # a saturating curve that wiggles (no 5 consecutive falls)
    wiggle = 1 - np.exp(-np.arange(60) / 5) + 0.01 * (-1) ** np.arange(60)
    best, stop = kl_peak(wiggle)
    assert stop is None and best == int(np.argmax(wiggle))


def test_zigzag_never_satisfies_consecutive_rule():
    zigzag = np.r_[np.linspace(0, 3, 10), 3 + 0.2 * (-1) ** np.arange(30)]
    assert kl_peak(zigzag)[1] is None


def test_earlier_higher_maximum_is_kept():
    # a first tall spike, then a smaller but clean peak that triggers the rule
    kl = [0, 9, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1]
    assert kl_peak(kl) == (1, 12)


def test_first_peak_wins_and_later_data_do_not_matter():
    kl = [0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0]
    assert kl_peak(kl + [10, 20, 30]) == (5, 10)


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        kl_peak([])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        kl_peak(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        kl_peak([0.0, np.nan, 1.0])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            kl_peak([1, 2, 3], rise=bad)
    with pytest.raises(ValueError, match="fall"):
        kl_peak([1, 2, 3], fall=0)


def test_short_curves():
    assert kl_peak([1.0]) == (0, None)
    assert kl_peak([1.0, 2.0]) == (1, None)


# ----------------------------------------------------------------------------- KL and models


def test_kl_to_prior_formula_and_backends():
    mu = np.array([[0.0], [1.0], [0.0]])
    lv = np.array([[0.0], [0.0], [np.log(4.0)]])
    expected = [0.0, 0.5, 0.5 * (4 - 1 - np.log(4.0))]
    np.testing.assert_allclose(kl_to_prior(mu, lv), expected)
    t = kl_to_prior(torch.tensor(mu), torch.tensor(lv))
    np.testing.assert_allclose(t.numpy(), expected)
    # summed over latent dimensions
    np.testing.assert_allclose(kl_to_prior(np.ones((1, 3)), np.zeros((1, 3))), [1.5])
    with pytest.raises(ValueError, match="shape"):
        kl_to_prior(np.zeros(3), np.zeros(3))


def test_kl_to_prior_is_a_real_kl():
    """Against a Monte Carlo estimate of E_q[log q - log p]."""
    rng = np.random.default_rng(0)
    mu, sigma = 0.7, 0.3
    z = rng.normal(mu, sigma, 400_000)
    log_q = -0.5 * ((z - mu) / sigma) ** 2 - np.log(sigma)
    log_p = -0.5 * z**2
    mc = np.mean(log_q - log_p)
    exact = kl_to_prior(np.array([[mu]]), np.array([[2 * np.log(sigma)]]))[0]
    assert exact == pytest.approx(mc, abs=5e-3)


def test_selu_vae_shapes_and_modes():
    torch.manual_seed(0)
    vae = SeluVAE(6, latent_dim=2)
    x = torch.randn(7, 6)
    out = vae.train()(x)
    assert [tuple(o.shape) for o in out] == [(7, 6), (7, 2), (7, 2)]
    vae.eval()
    a, b = vae(x)[0], vae(x)[0]
    assert torch.equal(a, b)  # eval mode decodes z = z_mean: deterministic
    assert sum(isinstance(m, torch.nn.SELU) for m in vae.encoder) == 3
    assert [m.out_features for m in vae.encoder if isinstance(m, torch.nn.Linear)] == [64, 64, 64, 4]
    with pytest.raises(ValueError, match="shape"):
        vae(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="latent_dim"):
        SeluVAE(6, latent_dim=0)


def test_decoder_and_grid():
    torch.manual_seed(0)
    dec = MassConditionedDecoder(1, 6)
    grid = decode_grid(dec, np.linspace(-2, 0, 4), [2000.0, 3000.0, 4000.0], 3000.0, 500.0)
    assert grid.shape == (4, 3, 6)
    # the grid is the decoder applied to (z, (m - mean) / std)
    direct = dec(torch.tensor([[-2.0]]), torch.tensor([[2.0]])).detach().numpy()[0]
    np.testing.assert_allclose(grid[0, 2], direct, rtol=1e-5, atol=1e-6)
    doubled = decode_grid(dec, [0.0], [3000.0], 3000.0, 500.0, inverse_transform=lambda a: 2 * a)
    np.testing.assert_allclose(doubled[0, 0], 2 * decode_grid(dec, [0.0], [3000.0], 3000.0, 500.0)[0, 0], rtol=1e-6)
    with pytest.raises(ValueError, match="mjj_std"):
        decode_grid(dec, [0.0], [3000.0], 3000.0, 0.0)
    with pytest.raises(ValueError, match="shape"):
        dec(torch.zeros(3, 2), torch.zeros(3, 1))


def test_ensemble_kl_mean_and_spread():
    torch.manual_seed(1)
    models = [SeluVAE(3) for _ in range(3)]
    x = np.random.default_rng(0).normal(size=(50, 3))
    mean, std = ensemble_kl(models, x)
    each = np.stack([event_kl(m, x) for m in models])
    np.testing.assert_allclose(mean, each.mean(0))
    np.testing.assert_allclose(std, each.std(0))
    assert ensemble_kl(models[:1], x)[1].max() == 0
    with pytest.raises(ValueError, match="at least one"):
        ensemble_kl([], x)
    with pytest.raises(ValueError, match="NaN"):
        event_kl(models[0], np.full((2, 3), np.nan))


# ----------------------------------------------------------------------------- training


def _toy(seed=0, n=3000):
    """Two-feature data on a curve (a 1-D manifold) plus a few off-manifold outliers."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, n)
    x = np.stack([t, t**2], axis=1) + 0.02 * rng.normal(size=(n, 2))
    return x.astype(np.float32)


def _loss(model, x):
    x_hat, mu, logvar = model(x)
    return (500.0 * ((x_hat - x) ** 2).mean(dim=1) + kl_to_prior(mu, logvar)).mean()


def test_train_kl_peak_keeps_the_max_kl_epoch_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("JETAD_CHECKPOINTS", str(tmp_path))
    x = _toy(n=1500)
    kwargs = dict(name="toy", epochs=12, batch_size=100, seed=3, progress=False,
                  optimizer=functools.partial(torch.optim.Adam, lr=3e-3))
    model, hist = train_kl_peak(SeluVAE(2), _loss, x[:1200], x[1200:], **kwargs)
    assert not hist["loaded"]
    kl = np.array(hist["val_kl"])
    assert len(kl) == hist["epochs"] <= 12
    best, stop = kl_peak(kl)
    assert hist["kl_peak_epoch"] == best
    assert hist["stopped_at_peak"] == (stop is not None)
    # the kept weights are those of the max-KL epoch
    assert event_kl(model, x[1200:]).mean() == pytest.approx(kl[best], rel=1e-5)
    # a rerun loads the same weights, bit for bit
    again, hist2 = train_kl_peak(SeluVAE(2), _loss, x[:1200], x[1200:], **kwargs)
    assert hist2["loaded"]
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    # a different seed is a different run
    _, hist3 = train_kl_peak(SeluVAE(2), _loss, x[:1200], x[1200:], **{**kwargs, "seed": 4})
    assert not hist3["loaded"]
    # the same seed retrained from scratch (another key) is deterministic
    fresh, hist4 = train_kl_peak(SeluVAE(2), _loss, x[:1200], x[1200:], **kwargs, settings={"again": 1})
    assert not hist4["loaded"]
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_train_kl_peak_learns_and_flags_outliers(tmp_path, monkeypatch):
    monkeypatch.setenv("JETAD_CHECKPOINTS", str(tmp_path))
    x = _toy(n=2000)
    model, hist = train_kl_peak(SeluVAE(2), _loss, x[:1600], x[1600:], name="toy2", epochs=25,
                                batch_size=100, seed=0, progress=False,
                                optimizer=functools.partial(torch.optim.Adam, lr=3e-3))
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    on = x[1600:1800]
    off = np.stack([np.linspace(-0.9, 0.9, 200), np.full(200, 0.9)], axis=1)  # far off the curve
    assert event_reconstruction_error(model, off).mean() > 5 * event_reconstruction_error(model, on).mean()


def test_train_kl_peak_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("JETAD_CHECKPOINTS", str(tmp_path))
    x = _toy(n=100)
    with pytest.raises(ValueError, match="features"):
        train_kl_peak(SeluVAE(3), _loss, x, x, name="bad")
    with pytest.raises(ValueError, match="NaN"):
        train_kl_peak(SeluVAE(2), _loss, np.full((10, 2), np.nan), x, name="bad")
    with pytest.raises(ValueError, match="epochs"):
        train_kl_peak(SeluVAE(2), _loss, x, x, name="bad", epochs=0)
    with pytest.raises(TypeError, match="SeluVAE"):
        train_kl_peak(torch.nn.Linear(2, 2), _loss, x, x, name="bad")
    with pytest.raises(ValueError, match="Adadelta"):
        latent.adadelta(lr=-1)
