"""Losses and their parts, one definition each: the KL to the prior, the reconstruction errors and
the β-weighted VAE loss.

The notebooks write their own losses as exercises and check them against these; the scan engine
(:mod:`jetad_utils.scans`) imports :func:`beta_vae_loss` in its worker processes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["RECON_METRICS", "kl_divergence", "check_metric", "reconstruction_error", "beta_vae_loss"]

#: reconstruction metrics understood by :func:`reconstruction_error` and :func:`beta_vae_loss`
RECON_METRICS = ("mse", "bce", "l1")


def kl_divergence(mu, logvar):
    """KL(N(mu, sigma²) || N(0, 1)) per event, summed over the latent dimensions (nats).

    KL = ½ Σ_k (mu_k² + sigma_k² − 1 − log sigma_k²) ≥ 0, zero only for mu = 0, sigma = 1. The
    one KL of every VAE of the notebooks (image, dense, set and latent-space VAEs). It is a
    divergence, not an anomaly score: which tail of it is anomalous is a question of its own
    (notebook 07).

    Parameters
    ----------
    mu, logvar : Tensor or array_like, shape (n, latent_dim)

    Returns
    -------
    Tensor or ndarray, shape (n,)
        A torch tensor (differentiable) for tensor input, else a NumPy array.

    Examples
    --------
    >>> kl_divergence(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 0.0]]))
    tensor([0.5000])
    >>> kl_divergence(np.zeros((2, 1)), np.zeros((2, 1))).tolist()
    [0.0, 0.0]
    """
    if isinstance(mu, torch.Tensor):
        if mu.shape != logvar.shape:
            raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and "
                             f"{tuple(logvar.shape)}")
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)
    mu, lv = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    if mu.shape != lv.shape or mu.ndim != 2:
        raise ValueError(f"mu and logvar must both have shape (n, latent_dim); got {mu.shape}, {lv.shape}")
    return 0.5 * (mu**2 + np.exp(lv) - 1.0 - lv).sum(axis=-1)


def check_metric(metric: str) -> str:
    """Return ``metric`` lower-cased if it is one of :data:`RECON_METRICS`, else raise."""
    key = str(metric).lower()
    if key not in RECON_METRICS:
        raise ValueError(f"unknown reconstruction metric {metric!r}; use one of {list(RECON_METRICS)}")
    return key


def reconstruction_error(x: torch.Tensor, x_hat: torch.Tensor, metric: str = "mse") -> torch.Tensor:
    """Per-image reconstruction error, **summed over the pixels** (not averaged).

    ``"mse"``: Σ (x − x̂)²; ``"bce"``: binary cross-entropy of the pixel intensities,
    −Σ [x log x̂ + (1 − x) log(1 − x̂)] (logs clipped at −100 as in torch); ``"l1"``: Σ |x − x̂|.

    Parameters
    ----------
    x, x_hat : Tensor, shape (n, 1, H, W)
        Input and reconstruction; intensities in [0, 1] for ``"bce"``.
    metric : {"mse", "bce", "l1"}

    Returns
    -------
    Tensor, shape (n,)
        Higher = worse reconstruction (= more anomalous, when used as a score).

    Examples
    --------
    >>> x = torch.zeros(1, 1, 2, 2); x[0, 0, 0, 0] = 1.0
    >>> x_hat = torch.full((1, 1, 2, 2), 0.25)
    >>> reconstruction_error(x, x_hat, "mse"), reconstruction_error(x, x_hat, "l1")
    (tensor([0.7500]), tensor([1.5000]))
    """
    metric = check_metric(metric)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    if metric == "mse":
        per_pixel = (x - x_hat).pow(2)
    elif metric == "l1":
        per_pixel = (x - x_hat).abs()
    else:
        per_pixel = nn.functional.binary_cross_entropy(x_hat, x, reduction="none")
    return per_pixel.flatten(1).sum(dim=1)


def beta_vae_loss(model: nn.Module, x: torch.Tensor, beta: float, metric: str = "mse") -> torch.Tensor:
    """Batch mean of L = (1 − β)·recon + β·KL (the β-weighted VAE loss).

    Parameters
    ----------
    model : nn.Module
        Returns ``(x_hat, mu, logvar)`` (e.g. :class:`ConvVAE`).
    x : Tensor, shape (n, 1, H, W)
    beta : float
        In [0, 1]: 0 is a plain autoencoder (plus noise), 1 keeps only the KL term.
    metric : {"mse", "bce", "l1"}
        See :func:`reconstruction_error`.

    Returns
    -------
    Tensor, scalar
    """
    beta = float(beta)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1] (loss = (1 - beta) recon + beta KL), got {beta}")
    x_hat, mu, logvar = model(x)
    return ((1.0 - beta) * reconstruction_error(x, x_hat, metric) + beta * kl_divergence(mu, logvar)).mean()
