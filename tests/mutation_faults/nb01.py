"""Planted faults that notebook 01 (``notebooks/01_gaussian_outliers.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="score-sign-autoencoder",
        path="notebooks/01_gaussian_outliers.ipynb",
        old="    return ((x_hat - x) ** 2).sum(dim=1).numpy()",
        new="    return -((x_hat - x) ** 2).sum(dim=1).numpy()",
        notebooks=("notebooks/01_gaussian_outliers.ipynb",),
        what="the autoencoder's anomaly score (fed to metrics.roc_auc) has the wrong sign",
    ),
    Fault(
        name="score-sign-at-metrics-call",
        path="notebooks/01_gaussian_outliers.ipynb",
        old="aucs = {name: roc_auc(y_test, s) for name, s in scores.items()}",
        new="aucs = {name: roc_auc(y_test, -s) for name, s in scores.items()}",
        notebooks=("notebooks/01_gaussian_outliers.ipynb",),
        what="every score is passed to metrics.roc_auc with the wrong sign (lower = more anomalous)",
    ),
    Fault(
        name="kl-dropped-toy-vae",
        path="notebooks/01_gaussian_outliers.ipynb",
        old="    return (recon + BETA * kl_to_prior(mu, logvar)).mean()",
        new="    return recon.mean()",
        notebooks=("notebooks/01_gaussian_outliers.ipynb",),
        what="the VAE of notebook 01 is trained without its KL term",
    ),
)
