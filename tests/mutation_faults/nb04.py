"""Planted faults that notebook 04 (``notebooks/04_optimal_transport.ipynb``) must catch."""

from __future__ import annotations

from ._fault import Fault

FAULTS: tuple[Fault, ...] = (
    Fault(
        name="emd-ground-distance-not-over-r",
        path="jetad_utils/ot.py",
        old="    return pt / pt.sum(), np.ascontiguousarray(arr[keep, 1:3] / radius)",
        new="    return pt / pt.sum(), np.ascontiguousarray(arr[keep, 1:3])",
        notebooks=("notebooks/04_optimal_transport.ipynb",),
        what="the EMD's ground distance is ΔR instead of ΔR / R (the library forgets the jet radius)",
    ),
    Fault(
        name="emd-squared-ground-distance",
        path="jetad_utils/ot.py",
        old="    cost, code = _solve(wa, wb, cdist(xa, xb))",
        new="    cost, code = _solve(wa, wb, cdist(xa, xb, 'sqeuclidean'))",
        notebooks=("notebooks/04_optimal_transport.ipynb",),
        what="the EMD uses the squared distance (a W2-type cost) instead of ΔR / R",
    ),
    Fault(
        name="kmedoids-picks-outliers",
        path="jetad_utils/ot.py",
        old="            new[c] = members[np.argmin(d[np.ix_(members, members)].sum(axis=1))]",
        new="            new[c] = members[np.argmax(d[np.ix_(members, members)].sum(axis=1))]",
        notebooks=("notebooks/04_optimal_transport.ipynb",),
        what="k-medoids moves each representative to the least central member of its cluster",
    ),
)
