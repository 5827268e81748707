"""Planted faults that notebook 04 (``notebooks/04_optimal_transport.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

FAULTS: tuple[Fault, ...] = (
)
