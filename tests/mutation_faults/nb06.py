"""Planted faults that notebook 06 (``notebooks/06_set_vae.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="top-qcd-swapped",
        path="jetad_utils/data.py",
        old="    opts = _resolve_options(spec, options)\n    tag = _tag(spec, opts)\n"
            "    size = spec.chunk_size",
        new="    opts = _resolve_options(spec, options)\n"
            "    if opts.get('cls') in ('top', 'qcd'):\n"
            "        opts['cls'] = {'top': 'qcd', 'qcd': 'top'}[opts['cls']]\n"
            "    tag = _tag(spec, opts)\n    size = spec.chunk_size",
        notebooks=("notebooks/06_set_vae.ipynb",),
        what="data.load returns QCD jets when asked for top jets and top jets for QCD",
    ),
    Fault(
        name="chamfer-ignores-classes",
        path="jetad_utils/setvae.py",
        old="        valid = valid & (types[:, :, None] == types[:, None, :])",
        new="        valid = valid & (types[:, :, None] == types[:, :, None])",
        notebooks=("notebooks/06_set_vae.ipynb",),
        what="the class-matched Chamfer loss matches particles of any class (PID dropped from the loss)",
    ),
    Fault(
        name="clip-keeps-worst-reconstructed",
        path="jetad_utils/setvae.py",
        old="    keep = torch.argsort(rec.detach())[: max(1, math.ceil(clip_fraction * len(rec)))]",
        new="    keep = torch.argsort(rec.detach(), descending=True)[: max(1, math.ceil(clip_fraction * len(rec)))]",
        notebooks=("notebooks/06_set_vae.ipynb",),
        what="the CLIP-VAE keeps the KL term of the worst-reconstructed jets instead of the best",
    ),
    Fault(
        name="tau21-inverted",
        path="jetad_utils/features.py",
        old="    return safe_ratio(t2, t1), safe_ratio(t3, t2), safe_ratio(t4, t2)",
        new="    return safe_ratio(t1, t2), safe_ratio(t3, t2), safe_ratio(t4, t2)",
        notebooks=("notebooks/06_set_vae.ipynb",),
        what="the N-subjettiness ratio tau21 is computed as tau1 / tau2",
    ),
)
