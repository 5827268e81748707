"""Planted faults that notebook 05 (``notebooks/05_deep_set_vae.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

NB05 = ("notebooks/05_deep_set_vae.ipynb",)

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="signal-channel-cut-dropped",
        path="jetad_utils/sets.py",
        old='ev = select_channel(data.load("events", n, seed=seed, process=s, progress=progress),\n'
            '                            str(channel))',
        new='ev = data.load("events", n, seed=seed, process=s, progress=progress)',
        notebooks=NB05,
        what="signal events are not selected into the channel (no HT and MET cuts on signals)",
    ),
    Fault(
        name="fspool-ascending",
        path="jetad_utils/sets.py",
        old="ranked, _ = x.masked_fill(~mask[..., None], -math.inf).sort(dim=1, descending=True)",
        new="ranked, _ = x.masked_fill(~mask[..., None], -math.inf).sort(dim=1, descending=False)",
        notebooks=NB05,
        what="FSPool sorts each feature in increasing order (padding first) instead of decreasing",
    ),
    Fault(
        name="chamfer-class-sign",
        path="jetad_utils/sets.py",
        old="term_in = term_in - w * torch.where(mask & has_out[:, None], lp_in, torch.zeros_like(lp_in))",
        new="term_in = term_in + w * torch.where(mask & has_out[:, None], lp_in, torch.zeros_like(lp_in))",
        notebooks=NB05,
        what="the modified Chamfer loss adds + w log p for the inputs (the sign printed in eq. 5), "
             "rewarding a wrong type",
    ),
    Fault(
        name="loss-beta-weight-dropped",
        path="jetad_utils/sets.py",
        old='loss = beta * kl_divergence(out["mu"], out["logvar"])',
        new='loss = kl_divergence(out["mu"], out["logvar"])',
        notebooks=NB05,
        what="the total loss is KL + (1 - beta) Chamfer: the KL term loses its weight beta",
    ),
    Fault(
        name="si-without-sqrt",
        path="jetad_utils/sets.py",
        old="out[eps] = float(eps_s / np.sqrt(eps_real))",
        new="out[eps] = float(eps_s / eps_real)",
        notebooks=NB05,
        what="the significance improvement is eps_S / eps_B instead of eps_S / sqrt(eps_B)",
    ),
)
