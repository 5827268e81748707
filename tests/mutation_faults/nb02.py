"""Planted faults that notebook 02 (``notebooks/02_cwola.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

NB02 = "notebooks/02_cwola.ipynb"

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="mixed-samples-m2-fraction-from-f1",
        path=NB02,
        old="n_s1, n_s2 = int(round(f1 * n)), int(round(f2 * n))",
        new="n_s1, n_s2 = int(round(f1 * n)), int(round(f1 * n))",
        notebooks=(NB02,),
        what="Exercise 2.1's solution draws M2 with the signal fraction f1 instead of f2 (both "
             "mixed samples alike)",
    ),
    Fault(
        name="mixture-ratio-densities-swapped",
        path=NB02,
        old="direct = (f1 * p_s + (1 - f1) * p_b) / (f2 * p_s + (1 - f2) * p_b)\n"
            "    lr = p_s / p_b\n",
        new="direct = (f1 * p_b + (1 - f1) * p_s) / (f2 * p_b + (1 - f2) * p_s)\n"
            "    lr = p_b / p_s\n",
        notebooks=(NB02,),
        what="Exercise 2.2's solution swaps p_s and p_b in both ratios (a consistent mistake: "
             "the two returned ratios still agree with each other)",
    ),
    Fault(
        name="cwola-labels-shuffled",
        path=NB02,
        old="oof, cwola_models = kfold_scores(boosted_trees, x_mix, y_mix)",
        new="oof, cwola_models = kfold_scores(boosted_trees, x_mix, "
            "np.random.default_rng(12345).permutation(y_mix))",
        notebooks=(NB02,),
        what="CWoLa is trained on randomly shuffled mixed-sample (M1 vs M2) labels",
    ),
    Fault(
        name="cwola-kfold-leak",
        path=NB02,
        old="model = make_model().fit(x[fold != i], y[fold != i])",
        new="model = make_model().fit(x, y)",
        notebooks=(NB02,),
        what="k-fold scoring leaks: every fold is scored by a model trained on all events, "
             "itself included",
    ),
    Fault(
        name="cwola-efficiency-cut-inverted",
        path=NB02,
        old="cut = np.quantile(score[in_range], 1 - eps) if eps < 1 else -np.inf",
        new="cut = np.quantile(score[in_range], eps) if eps < 1 else -np.inf",
        notebooks=(NB02,),
        what="the selection at efficiency eps keeps the fraction 1 - eps instead of the "
             "fraction eps of most signal-like events",
    ),
    Fault(
        name="local-significance-ignores-fit-uncertainty",
        path="jetad_utils/bumphunt.py",
        old="    s2 = sigma**2\n",
        new="    s2 = 0.0 * sigma**2\n",
        notebooks=(NB02,),
        what="the local significance ignores the uncertainty of the fitted background",
    ),
    Fault(
        name="global-significance-without-max",
        path=NB02,
        old="null_max = z_pseudo.max(axis=1)",
        new="null_max = z_pseudo.ravel()",
        notebooks=(NB02,),
        what="the global p-value counts every test of the pseudo-experiments instead of the "
             "largest local Z of each (no look-elsewhere effect)",
    ),
)
