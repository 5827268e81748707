"""Planted faults that notebook 07 (``notebooks/07_latent_bump_hunt.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

NB07 = "notebooks/07_latent_bump_hunt.ipynb"

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="kl-dropped",
        path=NB07,
        old="    return (alpha * mse + kl).mean()",
        new="    return (alpha * mse).mean()",
        notebooks=(NB07,),
        what="the VAE loss of notebook 07 (used to train every latent-space VAE) has no KL term",
    ),
    Fault(
        name="kl-peak-keeps-last",
        path="jetad_utils/latent.py",
        old="            return int(np.argmax(k[: stop + 1])), stop",
        new="            return stop, stop",
        notebooks=(NB07,),
        what="the KL-peak stopping rule keeps the network of the stopping epoch instead of the epoch of maximum KL",
    ),
    Fault(
        name="kl-score-sign",
        path=NB07,
        old="    return -latent.ensemble_kl(models, x)[0]",
        new="    return latent.ensemble_kl(models, x)[0]",
        notebooks=(NB07,),
        what="the ensemble KL score of notebook 07 loses its orientation step (large KL taken as anomalous)",
    ),
    Fault(
        name="no-signal-injected",
        path=NB07,
        old="    sample = data.mix(bkg, sig_all, s_over_b=s_over_b, seed=seed)",
        new="    sample = data.mix(bkg, sig_all, s_over_b=0.0, seed=seed)",
        notebooks=(NB07,),
        what="notebook 07 injects no signal into its S/B data sets (every data set is background only)",
    ),
    Fault(
        name="null-has-signal",
        path=NB07,
        old="datasets = {sb: make_dataset(sb) for sb in (0.0, SB_LOW, SB_HIGH)}",
        new="datasets = {sb: make_dataset(sb or SB_HIGH) for sb in (0.0, SB_LOW, SB_HIGH)}",
        notebooks=(NB07,),
        what="notebook 07's background-only (S/B = 0) data set, its null test, holds signal at the larger S/B",
    ),
    Fault(
        name="mjj-in-inputs",
        path=NB07,
        old='FEATURES     = ["mj1", "tau21_j1", "tau32_j1", "mj2", "tau21_j2", "tau32_j2"]',
        new='FEATURES     = ["mj1", "tau21_j1", "tau32_j1", "mj2", "tau21_j2", "tau32_j2", "mjj"]',
        notebooks=(NB07,),
        what="the VAE of notebook 07 gets the dijet mass as an input (the hunt's variable is no longer kept out)",
    ),
)
