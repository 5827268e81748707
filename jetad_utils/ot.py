"""Optimal transport (energy mover's) distances between jets, with POT's exact solver.

Convention used throughout (the normalised EMD of Komiske, Metodiev, Thaler):

* A jet is a set of particles (or of non-empty image pixels) with weights pT_i and positions
  (Δη_i, Δφ_i) relative to the jet axis. The weights are **normalised to sum to one**, so two
  jets with different total pT are compared by *shape* only: a difference in total pT costs
  nothing. (Our jets all lie in a narrow pT window, 550-650 GeV, so little is lost; the
  unnormalised EMD would add |ΣpT_a − ΣpT_b| / R · 1/E_ref.)
* The ground distance between two particles is the Euclidean distance in (Δη, Δφ) divided
  by the jet radius R, so moving all of a jet's pT across one jet radius costs 1.
* EMD(a, b) = min over transport plans γ ≥ 0 with row sums w_a and column sums w_b of
  Σ_ij γ_ij d_ij: the minimal "pT fraction × distance / R" needed to turn one jet into the
  other. It is a true metric on normalised jets (symmetric, zero only for identical jets,
  triangle inequality).

Only the particles (or pixels) with non-zero weight enter the cost matrix, so a pair of jets
with ~50 constituents is a 50 × 50 problem, where the same two jets as dense 40 × 40 images
would be 1600 × 1600 (``benchmarks/emd.py`` measures the difference).

Inputs accepted by :func:`emd` and :func:`emds`

* one jet: an array (m, k >= 3) whose first three columns are (pT, Δη, Δφ) — e.g. a row of
  ``data["parts"]`` from :func:`jetad_utils.data.load` ("jets"), zero-padded rows are ignored;
* several jets: a padded array (n, m, k >= 3) (e.g. ``data["parts"]``), a list of (m_i, k)
  arrays, or images (n, 1, H, W) covering [−R, R]² as made by
  :func:`jetad_utils.features.jet_images` (each non-zero pixel becomes a particle at the pixel
  centre).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ._core import progress_bar

__all__ = ["emd", "emds", "image_points", "jet_points", "kmedoids"]

_MAX_ITER = 1_000_000


def _solver():
    from ot.lp.emd_wrap import emd_c

    return emd_c


def jet_points(jet, radius: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Normalised weights and scaled positions of one jet's particles.

    Parameters
    ----------
    jet : array_like, shape (m, k >= 3)
        Rows (pT, Δη, Δφ, ...); rows with pT <= 0 (padding) are dropped.
    radius : float
        Jet radius R; positions are returned in units of R.

    Returns
    -------
    weights : ndarray (m',) float64, summing to 1
    points : ndarray (m', 2) float64, (Δη, Δφ) / R

    Examples
    --------
    >>> w, x = jet_points([[30.0, 0.0, 0.0, 30.0], [10.0, 0.4, 0.0, 10.0], [0, 0, 0, 0]])
    >>> w.tolist(), x.tolist()
    ([0.75, 0.25], [[0.0, 0.0], [0.5, 0.0]])
    """
    arr = np.asarray(jet, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 3:
        raise ValueError(f"a jet must be an array (m, >=3) of (pT, deta, dphi, ...) rows, got shape {arr.shape}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    if not np.all(np.isfinite(arr[:, :3])):
        raise ValueError("jet contains NaN or infinite values")
    keep = arr[:, 0] > 0
    if not keep.any():
        raise ValueError("jet has no particle with pT > 0 (an empty jet has no EMD)")
    pt = arr[keep, 0]
    return pt / pt.sum(), np.ascontiguousarray(arr[keep, 1:3] / radius)


def image_points(image, radius: float = 0.8) -> np.ndarray:
    """An image (H, W) or (1, H, W) over [−R, R]² as (m, 3) rows (intensity, Δη, Δφ).

    Pixel (i, j) (row i, column j) sits at the centre of its cell. As in
    :func:`jetad_utils.features.jet_images`, **rows index Δφ and columns index Δη**:
    Δφ = −R + (i + ½)·2R/H and Δη = −R + (j + ½)·2R/W. Only non-zero pixels are returned.
    (The EMD does not depend on which axis is called η: swapping both coordinates of every
    point leaves all ground distances unchanged.)

    >>> img = np.zeros((4, 4)); img[1, 2] = 2.0     # row 1 (Δφ < 0), column 2 (Δη > 0)
    >>> image_points(img, radius=1.0).tolist()
    [[2.0, 0.25, -0.25]]
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise ValueError(f"an image must be (H, W) or (1, H, W), got shape {np.shape(image)}")
    h, w = img.shape
    rows, cols = np.nonzero(img > 0)
    phi = -radius + (rows + 0.5) * 2 * radius / h
    eta = -radius + (cols + 0.5) * 2 * radius / w
    return np.stack([img[rows, cols], eta, phi], axis=1)


def _pair(a, b) -> float:
    """EMD of two prepared jets (weights, points)."""
    from scipy.spatial.distance import cdist

    (wa, xa), (wb, xb) = a, b
    cost, code = _solve(wa, wb, cdist(xa, xb))
    return cost


def _solve(wa, wb, m):
    _, cost, _, _, code = _solver()(wa, wb, m, _MAX_ITER, 1, None, None)
    if code != 1:  # 1 = optimal
        raise RuntimeError(f"the OT solver did not converge (code {code}); raise jetad_utils.ot._MAX_ITER")
    return cost, code


def emd(a, b, *, radius: float = 0.8) -> float:
    """Energy mover's distance between two jets (pT-normalised, ground distance ΔR / R).

    Parameters
    ----------
    a, b : array_like, shape (m, k >= 3)
        The two jets as rows (pT, Δη, Δφ, ...) with Δη, Δφ relative to the jet axis (padding
        rows with pT = 0 are ignored). For images use :func:`image_points` first.
    radius : float
        Jet radius R.

    Returns
    -------
    float
        The EMD, in units of "fraction of the jet's pT moved by one jet radius".

    Examples
    --------
    Half of jet a's pT sits one radius away from where jet b has all its pT, so half of the pT
    must move a distance R:

    >>> a = [[50.0, 0.0, 0.0], [50.0, 0.8, 0.0]]
    >>> b = [[100.0, 0.0, 0.0]]
    >>> round(emd(a, b, radius=0.8), 12)
    0.5
    >>> round(emd(b, a, radius=0.8), 12), emd(a, a)
    (0.5, 0.0)
    """
    return _pair(jet_points(a, radius), jet_points(b, radius))


def _as_jets(jets, radius):
    """A list of prepared (weights, points) from any accepted collection of jets."""
    if isinstance(jets, (list, tuple)):
        return [jet_points(j, radius) for j in jets]
    arr = np.asarray(jets)
    if arr.ndim == 4 and arr.shape[1] == 1:
        return [jet_points(image_points(img, radius), radius) for img in arr]
    if arr.ndim == 3 and arr.shape[2] >= 3:
        return [jet_points(j, radius) for j in arr]
    raise ValueError("jets must be a padded array (n, m, >=3) of (pT, deta, dphi, ...) rows, a list of "
                     f"(m_i, >=3) arrays, or images (n, 1, H, W); got shape {arr.shape}")


# --------------------------------------------------------------------------- parallel workers
_WORK: dict = {}


def _init_worker(a_jets, b_jets):
    _WORK["a"], _WORK["b"] = a_jets, b_jets


def _rows(task):
    """Distances for the pairs of one task: (rows i, for each the columns j)."""
    kind, start, stop = task
    a, b = _WORK["a"], _WORK["b"]
    out = []
    for i in range(start, stop):
        cols = range(i + 1, len(a)) if kind == "sym" else range(len(b))
        out.append(np.array([_pair(a[i], b[j]) for j in cols], dtype=np.float64))
    return start, out


def _resolve_jobs(n_jobs) -> int:
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs == -1:
        return cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    return int(n_jobs)


def _tasks(n_rows, n_cols, symmetric, n_tasks):
    """Row ranges holding about equal numbers of pairs."""
    if symmetric:
        pairs_before = np.array([i * n_rows - i * (i + 1) // 2 for i in range(n_rows + 1)])
    else:
        pairs_before = np.arange(n_rows + 1) * n_cols
    total = pairs_before[-1]
    cuts = np.searchsorted(pairs_before, np.linspace(0, total, n_tasks + 1), side="left")
    cuts[0], cuts[-1] = 0, n_rows
    cuts = np.unique(cuts)
    kind = "sym" if symmetric else "all"
    return [(kind, int(lo), int(hi)) for lo, hi in zip(cuts[:-1], cuts[1:]) if hi > lo]


def emds(A, B=None, *, radius: float = 0.8, n_jobs: int | None = -1, progress: bool = True,
         min_pairs_per_job: int = 20_000) -> np.ndarray:
    """All pairwise EMDs between the jets of ``A`` and ``B`` (or within ``A``).

    Parameters
    ----------
    A, B : jets
        Padded constituent arrays (n, m, >=3) such as ``data["parts"]``, lists of (m_i, >=3)
        arrays, or images (n, 1, H, W) (see the module docstring). ``B=None`` computes the
        symmetric matrix of ``A`` with itself, each pair once, zeros on the diagonal.
    radius : float
        Jet radius R (the ground distance is ΔR / R).
    n_jobs : int or -1
        Worker processes (-1: all cores). Small problems (fewer than ``min_pairs_per_job``
        pairs per worker) run in this process, because starting workers costs about a second.
    progress : bool
        Show a tqdm progress bar over rows.

    Returns
    -------
    ndarray (len(A), len(B)) float64

    Examples
    --------
    >>> jets = [[[1.0, 0.0, 0.0]], [[1.0, 0.4, 0.0]], [[1.0, 0.0, 0.8]]]
    >>> emds(jets, radius=0.8, progress=False).round(3)
    array([[0.   , 0.5  , 1.   ],
           [0.5  , 0.   , 1.118],
           [1.   , 1.118, 0.   ]])
    """
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    a = _as_jets(A, radius)
    symmetric = B is None
    b = a if symmetric else _as_jets(B, radius)
    n, m = len(a), len(b)
    out = np.zeros((n, m), dtype=np.float64)
    pairs = n * (n - 1) // 2 if symmetric else n * m
    jobs = max(1, min(_resolve_jobs(n_jobs), pairs // max(int(min_pairs_per_job), 1)))
    tasks = _tasks(n, m, symmetric, n_tasks=max(1, 8 * jobs if jobs > 1 else 1) if pairs else 1)
    tasks = [t for t in tasks if t[2] > t[1]]
    bar = progress_bar(n, "EMDs", unit="row", enabled=progress, leave=True)

    def store(start, rows):
        for k, row in enumerate(rows):
            i = start + k
            if symmetric:
                out[i, i + 1:] = row
            else:
                out[i] = row
        bar.update(len(rows))

    try:
        if jobs == 1:
            _init_worker(a, b)
            try:
                for task in _finer(tasks, n):
                    store(*_rows(task))
            finally:
                _WORK.clear()
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                                     initargs=(a, b)) as pool:
                for start, rows in pool.map(_rows, tasks):
                    store(start, rows)
    finally:
        bar.close()
    if symmetric:
        out = out + out.T
    return out


def _finer(tasks, n):
    """Split tasks into single rows (smooth progress bar in the serial path)."""
    for kind, lo, hi in tasks:
        for i in range(lo, hi):
            yield kind, i, i + 1


def kmedoids(distances, k: int, *, random_state=0, max_iter: int = 100) -> np.ndarray:
    """k medoids of a precomputed distance matrix: the k items that best *describe* the rest.

    Minimises the total distance of every item to its nearest medoid, by alternating
    assignment and medoid update (Voronoi iteration) from a k-means++ style start
    (first medoid: the most central item; each next one drawn with probability ∝ distance² to
    the medoids so far). Deterministic for a given ``random_state``.

    Parameters
    ----------
    distances : ndarray (n, n)
        Symmetric, non-negative, zero diagonal (e.g. ``emds(background)``).
    k : int
        1 <= k <= n.
    random_state : int or numpy.random.Generator

    Returns
    -------
    ndarray (k,) int
        Indices of the medoids, sorted by how many items they represent (largest cluster first).

    Examples
    --------
    >>> x = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 9.0])
    >>> sorted(kmedoids(np.abs(x[:, None] - x[None, :]), 3).tolist())
    [1, 3, 5]
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distances must be a square (n, n) matrix, got shape {d.shape}")
    n = d.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in 1..{n} (the number of items), got {k!r}")
    if not np.all(np.isfinite(d)) or (d < 0).any():
        raise ValueError("distances must be finite and non-negative")
    rng = np.random.default_rng(random_state)
    medoids = [int(np.argmin(d.sum(axis=1)))]
    nearest = d[medoids[0]].copy()
    while len(medoids) < k:
        p = nearest ** 2
        p[medoids] = 0.0
        if p.sum() <= 0:  # fewer distinct items than k: take unused ones in order
            pick = next(i for i in range(n) if i not in medoids)
        else:
            pick = int(rng.choice(n, p=p / p.sum()))
        medoids.append(pick)
        nearest = np.minimum(nearest, d[pick])
    medoids = np.array(medoids)
    for _ in range(max_iter):
        label = np.argmin(d[medoids], axis=0)
        label[medoids] = np.arange(k)
        new = medoids.copy()
        for c in range(k):
            members = np.flatnonzero(label == c)
            new[c] = members[np.argmin(d[np.ix_(members, members)].sum(axis=1))]
        if np.array_equal(new, medoids):
            break
        medoids = new
    label = np.argmin(d[medoids], axis=0)
    sizes = np.bincount(label, minlength=k)
    return medoids[np.argsort(-sizes, kind="stable")]

