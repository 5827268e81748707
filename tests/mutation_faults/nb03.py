"""Planted faults that notebook 03 (``notebooks/03_image_vae_scans.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

FAULTS: tuple[Fault, ...] = (
)
