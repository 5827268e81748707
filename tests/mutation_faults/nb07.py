"""Planted faults that notebook 07 (``notebooks/07_latent_bump_hunt.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="kl-dropped",
        path="notebooks/07_latent_bump_hunt.ipynb",
        old="    return (alpha * mse + kl).mean()",
        new="    return (alpha * mse).mean()",
        notebooks=("notebooks/07_latent_bump_hunt.ipynb",),
        what="the VAE loss of notebook 07 (used to train every latent-space VAE) has no KL term",
    ),
)
