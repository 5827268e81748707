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
)
