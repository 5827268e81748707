"""Planted faults that notebook 03 (``notebooks/03_image_vae_scans.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

NB03 = ("notebooks/03_image_vae_scans.ipynb",)

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="beta-weighting-swapped",
        path="jetad_utils/losses.py",
        old=("    return ((1.0 - beta) * reconstruction_error(x, x_hat, metric) "
             "+ beta * kl_divergence(mu, logvar)).mean()"),
        new=("    return (beta * reconstruction_error(x, x_hat, metric) "
             "+ (1.0 - beta) * kl_divergence(mu, logvar)).mean()"),
        notebooks=NB03,
        what="the β-VAE loss that the scan trains with weighs recon by β and KL by 1 − β",
    ),
    Fault(
        name="qcd-images-not-rotated",
        path="jetad_utils/scans.py",
        old='qcd = jet_images(data.load("jets", int(n_qcd), cls="qcd", seed=seed), size=image_size)',
        new='qcd = jet_images(data.load("jets", int(n_qcd), cls="qcd", seed=seed), size=image_size, rotate=False)',
        notebooks=NB03,
        what="the QCD images of the scan skip the rotation of the principal axis (the signal images keep it)",
    ),
    Fault(
        name="eval-half-is-the-selection-half",
        path="jetad_utils/scans.py",
        old='    return {"sel": slice(0, n // 2), "eval": slice(n // 2, n)}',
        new='    return {"sel": slice(0, n // 2), "eval": slice(0, n // 2)}',
        notebooks=NB03,
        what="the AUCs reported for the chosen points are measured on the jets they were chosen on",
    ),
)
