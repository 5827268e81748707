"""Planted faults that notebook 05 (``notebooks/05_deep_set_vae.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

FAULTS: tuple[Fault, ...] = (
)
