"""Tests of the convolutional β-VAE of jetad_utils.models (ConvVAE and its loss pieces).

Tiny synthetic images (16 × 16 Gaussian blobs) and a few epochs: seconds on one thread.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jetad_utils import set_seed
from jetad_utils.losses import beta_vae_loss, check_metric, kl_divergence, reconstruction_error
from jetad_utils.models import ConvVAE
from jetad_utils.scans import BetaVAELoss, image_scores
from jetad_utils.training import fit

SIZE = 16
BETA = 1e-5   # small enough for the blobs not to collapse the posterior (their MSE is ~0.01)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def blobs(n, rng, centre=(0.0, 0.0), widths=(1.0, 2.0), size=SIZE):
    """n normalised Gaussian blobs (n, 1, size, size) with random widths, near ``centre`` (pixels from the middle)."""
    ax = np.arange(size) - (size - 1) / 2
    yy, xx = np.meshgrid(ax, ax, indexing="ij")
    w = rng.uniform(*widths, size=(n, 1, 1))
    cy = centre[0] + rng.normal(0, 0.3, size=(n, 1, 1))
    cx = centre[1] + rng.normal(0, 0.3, size=(n, 1, 1))
    img = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w**2))
    img /= img.sum(axis=(1, 2), keepdims=True)
    return img[:, None].astype(np.float32)


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    train, val = blobs(600, rng), blobs(200, rng)
    set_seed(0)
    model = ConvVAE(latent_dim=2, image_size=SIZE, channels=(4, 8), hidden=32)
    fit(model, BetaVAELoss(BETA, "mse"), train, val, epochs=15, batch_size=64, lr=3e-3, seed=0,
        progress=False)
    return model, val


def test_shapes_and_normalisation():
    vae = ConvVAE(latent_dim=5, image_size=SIZE).eval()
    x_hat, mu, logvar = vae(torch.rand(7, 1, SIZE, SIZE))
    assert x_hat.shape == (7, 1, SIZE, SIZE)
    assert mu.shape == logvar.shape == (7, 5)
    assert torch.allclose(x_hat.sum(dim=(1, 2, 3)), torch.ones(7), atol=1e-5)
    assert (x_hat >= 0).all()
    assert vae.decode(torch.zeros(3, 5)).shape == (3, 1, SIZE, SIZE)
    assert vae.encode(torch.rand(2, 1, SIZE, SIZE))[0].shape == (2, 5)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="multiple of 4"):
        ConvVAE(2, image_size=10)
    with pytest.raises(ValueError, match="latent_dim"):
        ConvVAE(0)
    with pytest.raises(ValueError, match=r"\(n, 1, 16, 16\)"):
        ConvVAE(2, image_size=SIZE)(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="unknown reconstruction metric"):
        check_metric("wasserstein")
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\]"):
        beta_vae_loss(ConvVAE(2, SIZE), torch.rand(2, 1, SIZE, SIZE), beta=1.5)


def test_kl_matches_hand_computation():
    mu = torch.tensor([[0.5, -1.0], [0.0, 0.0]])
    logvar = torch.tensor([[math.log(0.25), 0.3], [0.0, 0.0]])
    expected0 = 0.5 * ((0.25 + 0.25 - 1 - math.log(0.25)) + (1.0 + math.exp(0.3) - 1 - 0.3))
    kl = kl_divergence(mu, logvar)
    assert kl.shape == (2,)
    assert kl[0].item() == pytest.approx(expected0, rel=1e-6)
    assert kl[1].item() == pytest.approx(0.0, abs=1e-7)          # q = prior: KL = 0
    # KL of 1-D Gaussians against N(0,1) by numerical integration
    s = 0.5
    z = np.linspace(-12, 12, 200_001)
    q = np.exp(-((z - 0.5) ** 2) / (2 * s**2)) / (s * np.sqrt(2 * np.pi))
    p = np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)
    numeric = np.trapezoid(q * np.log(q / p), z)
    kl = kl_divergence(torch.tensor([[0.5]]), torch.tensor([[math.log(s**2)]])).item()
    assert kl == pytest.approx(numeric, rel=1e-5)


def test_reconstruction_metrics_by_hand():
    x = torch.tensor([[[[0.6, 0.4], [0.0, 0.0]]]])
    x_hat = torch.tensor([[[[0.5, 0.2], [0.2, 0.1]]]])
    assert reconstruction_error(x, x_hat, "mse").item() == pytest.approx(0.01 + 0.04 + 0.04 + 0.01)
    assert reconstruction_error(x, x_hat, "l1").item() == pytest.approx(0.1 + 0.2 + 0.2 + 0.1)
    bce = -(0.6 * math.log(0.5) + 0.4 * math.log(0.5) + 0.4 * math.log(0.2) + 0.6 * math.log(0.8)
            + math.log(0.8) + math.log(0.9))
    assert reconstruction_error(x, x_hat, "bce").item() == pytest.approx(bce, rel=1e-5)
    assert reconstruction_error(x, x, "mse").item() == 0.0


def test_beta_weighting_of_the_loss():
    set_seed(0)
    model = ConvVAE(3, SIZE).eval()
    x = torch.as_tensor(blobs(8, np.random.default_rng(1)))
    x_hat, mu, logvar = model(x)
    r = reconstruction_error(x, x_hat, "mse").mean().item()
    k = kl_divergence(mu, logvar).mean().item()
    for beta in (0.0, 0.3, 1.0):
        assert beta_vae_loss(model, x, beta, "mse").item() == pytest.approx((1 - beta) * r + beta * k, rel=1e-5)


def test_seeded_initialisation_and_training_are_deterministic():
    rng = np.random.default_rng(2)
    x = blobs(128, rng)

    def run():
        set_seed(3)
        m = ConvVAE(2, SIZE, channels=(4, 8), hidden=16)
        h = fit(m, BetaVAELoss(0.01, "bce"), x, epochs=2, batch_size=32, seed=3, progress=False)
        return m, h

    (m1, h1), (m2, h2) = run(), run()
    assert h1["train_loss"] == h2["train_loss"]
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    set_seed(4)
    m3 = ConvVAE(2, SIZE, channels=(4, 8), hidden=16)
    assert not torch.equal(m3.encoder[0].weight, ConvVAE(2, SIZE, channels=(4, 8), hidden=16).encoder[0].weight)


def test_training_lowers_the_loss(trained):
    model, val = trained
    set_seed(0)
    fresh = ConvVAE(latent_dim=2, image_size=SIZE, channels=(4, 8), hidden=32).eval()
    x = torch.as_tensor(val)
    assert beta_vae_loss(model, x, BETA).item() < 0.5 * beta_vae_loss(fresh, x, BETA).item()


def test_every_score_is_higher_for_strange_images(trained):
    """Training-like blobs vs images unlike any training image. Off-centre two-prong images
    score higher on all three scores; a flat image (the limit of a wide blob) is badly
    reconstructed but encoded near the training set, so only recon and loss flag it: the KL
    score sees how far an image lands in latent space, not how badly it is reconstructed."""
    model, val = trained
    rng = np.random.default_rng(5)
    flat = np.full((50, 1, SIZE, SIZE), 1.0 / SIZE**2, dtype=np.float32)
    two_prong = 0.5 * (blobs(50, rng, centre=(5, 5), widths=(0.5, 0.8))
                       + blobs(50, rng, centre=(-5, -5), widths=(0.5, 0.8)))
    normal = image_scores(model, val, BETA, "mse")
    for name, strange, scores in [("two-prong", two_prong, ("recon", "kl", "loss")),
                                  ("flat", flat, ("recon", "loss"))]:
        odd = image_scores(model, strange, BETA, "mse")
        for score in scores:
            assert np.median(odd[score]) > np.quantile(normal[score], 0.9), (name, score)
