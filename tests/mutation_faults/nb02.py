"""Planted faults that notebook 02 (``notebooks/02_cwola.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="cwola-labels-shuffled",
        path="notebooks/02_cwola.ipynb",
        old="oof, cwola_models = kfold_scores(boosted_trees, x_mix, y_mix)",
        new="oof, cwola_models = kfold_scores(boosted_trees, x_mix, "
            "np.random.default_rng(12345).permutation(y_mix))",
        notebooks=("notebooks/02_cwola.ipynb",),
        what="CWoLa is trained on randomly shuffled mixed-sample (M1 vs M2) labels",
    ),
)
