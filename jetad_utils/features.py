"""Jet features computed from the generated jets: images, N-subjettiness ratios, angles.

Everything here is pure NumPy and vectorised over jets (no Python loop over jets), so it
works the same on the ten jets of a unit test and the 10^5 jets of a full-mode notebook.

Inputs follow the package conventions (see :mod:`jetad_utils`): jets along axis 0, padded
constituents ``parts`` of shape ``(n_jets, n_max, 4)`` holding ``(pT, Δη, Δφ, E)`` relative to the
jet axis (GeV, radians) with a boolean ``mask`` of shape ``(n_jets, n_max)``, and images of shape
``(n, 1, H, W)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["jet_images", "tau_ratios", "safe_ratio", "wrap_phi"]

#: jets binned per call of the inner image routine (bounds the memory of the pixel sums)
_IMAGE_CHUNK = 8192


def wrap_phi(dphi):
    """Wrap azimuthal differences into (−π, π].

    Parameters
    ----------
    dphi : array_like
        Angle differences in radians, any shape.

    Returns
    -------
    numpy.ndarray
        Same shape, in (−π, π] (π stays π, −π becomes π).

    Examples
    --------
    >>> wrap_phi(np.array([0.5, 3 * np.pi / 2, -np.pi, np.pi])).round(4)
    array([ 0.5   , -1.5708,  3.1416,  3.1416])
    """
    dphi = np.asarray(dphi)
    return np.pi - np.mod(np.pi - dphi, 2 * np.pi)


def safe_ratio(num, den):
    """``num / den`` element-wise, with 0 wherever ``den == 0``.

    Parameters
    ----------
    num, den : array_like
        Broadcastable arrays.

    Returns
    -------
    numpy.ndarray
        The ratio, in the floating dtype the inputs promote to.

    Examples
    --------
    >>> safe_ratio(np.array([1.0, 2.0, 0.0]), np.array([2.0, 0.0, 0.0]))
    array([0.5, 0. , 0. ])
    """
    num, den = np.broadcast_arrays(np.asarray(num), np.asarray(den))
    dtype = np.result_type(num.dtype, den.dtype, np.float32)
    out = np.zeros(num.shape, dtype=dtype)
    np.divide(num, den, out=out, where=den != 0)
    return out


def tau_ratios(taus):
    """N-subjettiness ratios τ21 = τ2/τ1, τ32 = τ3/τ2 and τ42 = τ4/τ2.

    Small τ21 means two-prong (W, Z, H) jets, small τ32 three-prong (top) jets; QCD jets have
    ratios near 1. A ratio whose denominator is 0 (e.g. a jet with too few constituents) is set
    to 0.

    Parameters
    ----------
    taus : array_like, shape (n, 4)
        τ1 ... τ4 per jet (dimensionless, normalised N-subjettiness, as in ``generate_jets``).

    Returns
    -------
    tau21, tau32, tau42 : numpy.ndarray, each shape (n,)
        In the dtype of ``taus`` if floating (float32 for the generated data).

    Examples
    --------
    >>> t21, t32, t42 = tau_ratios(np.array([[0.4, 0.2, 0.1, 0.05], [0.0, 0.0, 0.0, 0.0]]))
    >>> t21, t32, t42
    (array([0.5, 0. ]), array([0.5, 0. ]), array([0.25, 0.  ]))
    """
    taus = np.asarray(taus)
    if taus.ndim != 2 or taus.shape[1] < 4:
        raise ValueError(f"taus must have shape (n, 4) (tau1..tau4), got {taus.shape}")
    if not np.issubdtype(taus.dtype, np.floating):
        taus = taus.astype(np.float64)
    t1, t2, t3, t4 = (taus[:, i] for i in range(4))
    return safe_ratio(t2, t1), safe_ratio(t3, t2), safe_ratio(t4, t2)


def jet_images(data, size=40, *, radius=0.8, centre=True, rotate=True, flip=True) -> np.ndarray:
    """pT-weighted jet images, each normalised to sum to 1.

    Each constituent adds its pT to the pixel that contains its (Δη, Δφ); the window is
    Δη, Δφ ∈ [−radius, radius) with ``size`` square pixels along each side. **Axes:** the image
    row (axis −2, "vertical") indexes Δφ and the column (axis −1, "horizontal") indexes Δη, both
    increasing with the index, so ``plt.imshow(img[0], origin="lower",
    extent=(-radius, radius, -radius, radius))`` shows η across and φ up.

    Preprocessing, applied in this order to the constituent coordinates before binning (the
    standard steps of jet-image studies, e.g. arXiv:1511.05190):

    1. ``centre``: shift (Δη, Δφ) so that the pT-weighted centroid of the constituents is at
       (0, 0), the centre of the image.
    2. ``rotate``: rotate about the centre of the image so that the principal axis of the
       pT-weighted constituent distribution (the eigenvector of the pT-weighted covariance with
       the largest eigenvalue, i.e. for two-prong jets the line joining the prongs) is vertical.
       A jet without a preferred direction (isotropic covariance, e.g. a single constituent) is
       not rotated.
    3. ``flip``: reflect vertically so that the half with the larger pT sum is the upper one
       (Δφ' > 0), and horizontally so that the half with the larger pT sum is the right one
       (Δη' > 0). After centring the pT-weighted first moment is zero by construction, which
       is why the *pT sums* of the halves decide.

    With all three steps, images are invariant under translations, rotations and reflections
    of a jet in the (η, φ) plane, up to constituents that cross the image border.

    Parameters
    ----------
    data : mapping
        ``data["parts"]``, shape (n, n_max, ≥3): (pT [GeV], Δη, Δφ [rad], ...) per constituent,
        and ``data["mask"]``, shape (n, n_max), bool (as returned by
        :func:`jetad_utils.gen_jets.generate_jets`).
    size : int
        Pixels per side.
    radius : float
        Half-width of the window (use the jet radius R).
    centre, rotate, flip : bool
        Preprocessing steps (see above).

    Returns
    -------
    numpy.ndarray, shape (n, 1, size, size), float32
        pT fractions: each image sums to 1 over the constituents that fall inside the window
        (those outside are dropped and the rest renormalised); a jet with no constituent
        inside gives an all-zero image.

    Examples
    --------
    One constituent at (Δη, Δφ) = (0.1, −0.3) in a 4 × 4 image of half-width 0.8 (pixels of 0.4):

    >>> parts = np.array([[[100.0, 0.1, -0.3, 100.0]]])
    >>> img = jet_images({"parts": parts, "mask": np.array([[True]])}, size=4,
    ...                  centre=False, rotate=False, flip=False)
    >>> img.shape, float(img.sum())
    ((1, 1, 4, 4), 1.0)
    >>> [int(i) for i in np.argwhere(img[0, 0])[0]]   # row (Δφ), column (Δη)
    [1, 2]
    """
    missing = [k for k in ("parts", "mask") if k not in data]
    if missing:
        raise KeyError(f"jet_images needs the key(s) {missing} (constituents and their mask), as "
                       "in jetad_utils.data.load('jets', n); got keys " + ", ".join(map(str, data)))
    parts = np.asarray(data["parts"])
    mask = np.asarray(data["mask"], dtype=bool)
    if parts.ndim != 3 or parts.shape[2] < 3 or mask.shape != parts.shape[:2]:
        raise ValueError(f"need parts (n, n_max, >=3) and mask (n, n_max); got {parts.shape}, {mask.shape}")
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    n = parts.shape[0]
    out = np.empty((n, 1, size, size), dtype=np.float32)
    for start in range(0, n, _IMAGE_CHUNK):
        stop = min(start + _IMAGE_CHUNK, n)
        out[start:stop, 0] = _images(parts[start:stop], mask[start:stop], size, float(radius),
                                     centre, rotate, flip)
    return out


def _images(parts, mask, size, radius, centre, rotate, flip):
    """The images of one chunk of jets, shape (n, size, size)."""
    n = parts.shape[0]
    pt = np.where(mask, parts[..., 0], 0.0).astype(np.float64)
    eta = np.where(mask, parts[..., 1], 0.0).astype(np.float64)
    phi = np.where(mask, parts[..., 2], 0.0).astype(np.float64)
    total = pt.sum(axis=1, keepdims=True)
    w = np.divide(pt, total, out=np.zeros_like(pt), where=total > 0)  # pT fractions

    if centre or rotate:
        eta_c = (w * eta).sum(axis=1, keepdims=True)
        phi_c = (w * phi).sum(axis=1, keepdims=True)
    if centre:
        eta, phi = eta - eta_c, phi - phi_c
    if rotate:
        de, dp = eta - eta_c * (not centre), phi - phi_c * (not centre)
        c_ee = (w * de * de).sum(axis=1)
        c_pp = (w * dp * dp).sum(axis=1)
        c_ep = (w * de * dp).sum(axis=1)
        # angle of the major axis with the η axis; rotate it onto the φ axis (vertical)
        theta = 0.5 * np.arctan2(2.0 * c_ep, c_ee - c_pp)
        scale = np.maximum(c_ee + c_pp, np.finfo(np.float64).tiny)
        isotropic = np.hypot(c_ee - c_pp, 2.0 * c_ep) <= 1e-9 * scale
        alpha = np.where(isotropic, 0.0, 0.5 * np.pi - theta)[:, None]
        cos_a, sin_a = np.cos(alpha), np.sin(alpha)
        eta, phi = eta * cos_a - phi * sin_a, eta * sin_a + phi * cos_a
    if flip:
        up = (w * (phi > 0)).sum(axis=1) >= (w * (phi < 0)).sum(axis=1)
        right = (w * (eta > 0)).sum(axis=1) >= (w * (eta < 0)).sum(axis=1)
        phi = np.where(up[:, None], phi, -phi)
        eta = np.where(right[:, None], eta, -eta)

    pixel = 2.0 * radius / size
    col = np.floor((eta + radius) / pixel).astype(np.int64)
    row = np.floor((phi + radius) / pixel).astype(np.int64)
    inside = mask & (col >= 0) & (col < size) & (row >= 0) & (row < size) & (pt > 0)
    jet = np.broadcast_to(np.arange(n)[:, None], pt.shape)
    flat = (jet[inside] * size + row[inside]) * size + col[inside]
    img = np.bincount(flat, weights=pt[inside], minlength=n * size * size)
    img = img.astype(np.float64, copy=False).reshape(n, size, size)
    norm = img.sum(axis=(1, 2), keepdims=True)
    np.divide(img, norm, out=img, where=norm > 0)
    return img
