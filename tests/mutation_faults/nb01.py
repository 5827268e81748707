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
        name="reconstruction-error-mean-over-features",
        path="notebooks/01_gaussian_outliers.ipynb",
        old="    return ((x_hat - x) ** 2).sum(dim=1).numpy()",
        new="    return ((x_hat - x) ** 2).mean(dim=1).numpy()",
        notebooks=("notebooks/01_gaussian_outliers.ipynb",),
        what="the autoencoder's score averages over the features instead of summing (same AUCs: only "
             "Exercise 1.2's check sees it)",
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
    Fault(
        name="isolation-forest-sign",
        path="notebooks/01_gaussian_outliers.ipynb",
        old="    return -forest.score_samples(x)",
        new="    return forest.score_samples(x)",
        notebooks=("notebooks/01_gaussian_outliers.ipynb",),
        what="the isolation forest's score_samples (lower = more abnormal) is used as the anomaly score unflipped",
    ),
    Fault(
        name="lr-signal-density-wrong-width",
        path="notebooks/01_gaussian_outliers.ipynb",
        old="    return gaussian_logpdf(x, sig.mean, sig.cov) - gaussian_logpdf(x, bkg.mean, bkg.cov)",
        new="    return gaussian_logpdf(x, sig.mean, bkg.cov) - gaussian_logpdf(x, bkg.mean, bkg.cov)",
        notebooks=("notebooks/01_gaussian_outliers.ipynb",),
        what="the likelihood ratio's signal density has the background's covariance instead of the signal's",
    ),
    Fault(
        name="jacobian-sign-exp-coordinates",
        path="notebooks/01_gaussian_outliers.ipynb",
        old="    return gaussian.logpdf(x) - x.sum(axis=1)",
        new="    return gaussian.logpdf(x) + x.sum(axis=1)",
        notebooks=("notebooks/01_gaussian_outliers.ipynb",),
        what="the density in the coordinates y = exp(x) multiplies by the Jacobian instead of dividing",
    ),
)
