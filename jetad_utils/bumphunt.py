"""Bump hunting in the dijet invariant mass: sideband fit and local significance.

The procedure of CWoLa hunting (Collins, Howe, Nachman, arXiv:1805.02664 and 1902.02634):

1. Bin the dijet mass ``mjj`` (:func:`log_bins`: 15 log-spaced bins between 2001 and 4350 GeV;
   each bin is 5.3 % wide).
2. Pick a signal region of 3 bins (:func:`signal_region`) and, to train the CWoLa classifier,
   the 2 bins on either side of it (:func:`sidebands`).
3. After a selection, fit the standard dijet shape (:func:`dijet_function`) to every bin
   *outside* the signal region (:func:`fit_sidebands`), interpolate it into the signal region
   (:meth:`DijetFit.expected`) and compare with the observed count
   (:func:`local_significance`, :func:`p_value`).

Conventions: masses in GeV; a bin range is a pair of bin indices ``(i0, i1)`` meaning bins
``i0, ..., i1 - 1`` (Python slice semantics, ``counts[i0:i1]``), i.e. the mass interval
``[edges[i0], edges[i1])``. The significance of :func:`local_significance` is *local*: it does
not include the look-elsewhere effect of scanning several signal regions and selections.
:func:`global_significance` converts a local significance into a global one, given the largest
local significance of each of many background-only (null) pseudo-experiments of the whole scan;
:func:`effective_trials` expresses the result as an effective number of independent tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "dijet_function",
    "DijetFit",
    "log_bins",
    "signal_region",
    "sidebands",
    "fit_sidebands",
    "local_significance",
    "p_value",
    "GlobalSignificance",
    "global_significance",
    "effective_trials",
]

#: Minimum number of bins outside the signal region: 3 parameters + at least 1 degree of freedom.
MIN_FIT_BINS = 4
#: Minimum number of non-empty bins outside the signal region (3 parameters need 3 of them).
MIN_NONEMPTY_BINS = 3
#: Minimum number of events outside the signal region (weighted: (sum w)^2 / sum w^2).
MIN_FIT_EVENTS = 20

# Gauss-Legendre rule used for the bin integrals of the (smooth) dijet shape; with bins ~5 %
# wide the quadrature error is far below 1e-12 relative.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)


def dijet_function(m, p0, p1, p2, sqrt_s=13000.0):
    """The standard dijet shape dN/dm = p0 (1 - x)**p1 / x**p2 with x = m / sqrt_s.

    Parameters
    ----------
    m : float or array_like
        Dijet invariant mass in GeV, with ``0 < m < sqrt_s``.
    p0 : float
        Normalisation, in events per GeV.
    p1, p2 : float
        Shape parameters (for QCD dijets at 13 TeV typically p1 ~ 5-15, p2 ~ 3-7).
    sqrt_s : float, default 13000
        Centre-of-mass energy in GeV.

    Returns
    -------
    float or ndarray, same shape as ``m``
        dN/dm in events per GeV.

    Examples
    --------
    >>> float(dijet_function(1300.0, 2.0, 1.0, 1.0))  # x = 0.1: 2 * 0.9 / 0.1
    18.0
    """
    x = np.asarray(m, dtype=float) / sqrt_s
    return p0 * (1.0 - x) ** p1 / x**p2


def _quadrature(edges):
    """Nodes (GeV) and weights (GeV) of the Gauss-Legendre rule in each bin, shape (n_bins, k)."""
    lo, hi = edges[:-1, None], edges[1:, None]
    half = 0.5 * (hi - lo)
    return lo + half * (_GL_X + 1.0), half * _GL_W


@dataclass
class DijetFit:
    """Result of :func:`fit_sidebands`: the fitted dijet shape and what it predicts.

    Attributes
    ----------
    params : ndarray, shape (3,)
        Best-fit ``(p0, p1, p2)`` of :func:`dijet_function` (p0 in events per GeV).
    cov : ndarray, shape (3, 3)
        Their covariance: the inverse Fisher information of the Poisson likelihood (times
        ``weight_scale``). The likelihood is close to Gaussian in (ln p0, p1, p2), not in p0
        (p0 is typically uncertain by tens of per cent and strongly correlated with p1, p2):
        to draw parameter samples, e.g. for an error band, sample ln p0 with the covariance
        ``D @ cov @ D``, ``D = diag(1/p0, 1, 1)``.
    edges : ndarray, shape (n_bins + 1,)
        Bin edges in GeV.
    counts : ndarray, shape (n_bins,)
        Observed (weighted) counts per bin; events outside the edges are not counted.
    fitted : ndarray of bool, shape (n_bins,)
        True for the bins used in the fit, False for the masked signal-region bins.
    chi2 : float
        Pearson chi^2 over the fitted bins, sum of (n - mu)^2 / (weight_scale * mu).
    ndf : int
        Degrees of freedom: fitted bins - 3.
    sqrt_s : float
        Centre-of-mass energy in GeV used for x = m / sqrt_s.
    weight_scale : float
        sum(w^2) / sum(w) of the fitted events (1 for unweighted events): the variance of a
        weighted count is taken as ``weight_scale * mu`` (exact if all weights are equal).
    """

    params: np.ndarray
    cov: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    fitted: np.ndarray
    chi2: float
    ndf: int
    sqrt_s: float = 13000.0
    weight_scale: float = 1.0

    @property
    def region(self) -> tuple[int, int]:
        """The masked signal region ``(i0, i1)``."""
        masked = np.flatnonzero(~self.fitted)
        if len(masked) == 0:
            raise ValueError("no bin is masked (every bin was fitted); pass lo and hi explicitly")
        return int(masked[0]), int(masked[-1]) + 1

    def _range(self, lo, hi) -> slice:
        n_bins = len(self.counts)
        if lo is None or hi is None:
            i0, i1 = self.region
            lo = i0 if lo is None else lo
            hi = i1 if hi is None else hi
        if int(lo) != lo or int(hi) != hi or not (0 <= lo < hi <= n_bins):
            raise ValueError(
                f"lo, hi are bin indices with 0 <= lo < hi <= {n_bins} (bins lo..hi-1); "
                f"got lo={lo}, hi={hi}"
            )
        return slice(int(lo), int(hi))

    def _per_bin_and_gradient(self):
        """Expected counts per bin, shape (n_bins,), and their gradient, shape (n_bins, 3)."""
        p0, p1, p2 = self.params
        m, w = _quadrature(self.edges)
        x = m / self.sqrt_s
        lx, l1x = np.log(x), np.log1p(-x)
        fw = w * p0 * np.exp(p1 * l1x - p2 * lx)
        mu = fw.sum(axis=1)
        grad = np.stack([mu / p0, (fw * l1x).sum(axis=1), -(fw * lx).sum(axis=1)], axis=1)
        return mu, grad

    def expected_per_bin(self) -> np.ndarray:
        """Expected background count in every bin (the fitted shape's integral), shape (n_bins,)."""
        return self._per_bin_and_gradient()[0]

    def expected(self, lo=None, hi=None) -> float:
        """Expected background count in bins ``lo, ..., hi - 1``.

        Parameters
        ----------
        lo, hi : int, optional
            Bin indices; default: the masked signal region, ``self.region``.

        Returns
        -------
        float
            The integral of the fitted dN/dm over ``[edges[lo], edges[hi])``.
        """
        return float(self.expected_per_bin()[self._range(lo, hi)].sum())

    def expected_uncertainty(self, lo=None, hi=None) -> float:
        """Uncertainty of :meth:`expected` from the fit parameters (linear error propagation).

        This is the uncertainty of the background *prediction* only (it shrinks with more
        sideband data); the Poisson fluctuation of the count itself is not included. Pass it
        as ``expected_uncertainty`` to :func:`local_significance`.
        """
        _, grad = self._per_bin_and_gradient()
        g = grad[self._range(lo, hi)].sum(axis=0)
        return float(np.sqrt(max(g @ self.cov @ g, 0.0)))

    def observed(self, lo=None, hi=None) -> float:
        """Observed (weighted) count in bins ``lo, ..., hi - 1`` (default: the signal region)."""
        return float(self.counts[self._range(lo, hi)].sum())


def log_bins(lo=2001.0, hi=4350.0, n=15, round_gev=False) -> np.ndarray:
    """Bin edges equally spaced in log(m), as in CWoLa hunting (15 bins, 2001-4350 GeV).

    Parameters
    ----------
    lo, hi : float
        Lowest and highest edge in GeV, ``0 < lo < hi``.
    n : int
        Number of bins (``n + 1`` edges).
    round_gev : bool, default False
        Round the edges to whole GeV, as the CWoLa-hunting authors did (2001, 2107, 2219, ...).

    Returns
    -------
    ndarray, shape (n + 1,)

    Examples
    --------
    >>> edges = log_bins()
    >>> len(edges) - 1, float(edges[0]), float(edges[-1])
    (15, 2001.0, 4350.0)
    >>> round(float(edges[1] / edges[0]), 4)  # every bin is 5.3 % wide
    1.0531
    >>> log_bins(round_gev=True)[:4].tolist()
    [2001.0, 2107.0, 2219.0, 2337.0]
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n (the number of bins) must be a positive integer, got {n}")
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"log-spaced bins need 0 < lo < hi (GeV); got lo={lo}, hi={hi}")
    edges = np.geomspace(float(lo), float(hi), int(n) + 1)
    edges[0], edges[-1] = float(lo), float(hi)  # exact end points
    return np.round(edges) if round_gev else edges


def _check_edges(edges, sqrt_s=None) -> np.ndarray:
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or len(e) < 2:
        raise ValueError(f"edges must be a 1-D array of at least 2 bin edges, got shape {e.shape}")
    if not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError("edges must be finite and strictly increasing")
    if sqrt_s is not None and not (0 < e[0] and e[-1] < sqrt_s):
        raise ValueError(
            f"the dijet function needs 0 < m < sqrt_s = {sqrt_s} GeV; edges span "
            f"[{e[0]}, {e[-1]}]"
        )
    return e


def _check_region(region, n_bins) -> tuple[int, int]:
    try:
        i0, i1 = region
    except (TypeError, ValueError):
        raise ValueError(f"region must be a pair of bin indices (i0, i1), got {region!r}") from None
    if int(i0) != i0 or int(i1) != i1 or not (0 <= i0 < i1 <= n_bins):
        raise ValueError(
            f"region (i0, i1) must satisfy 0 <= i0 < i1 <= {n_bins} (the number of bins); "
            f"got {region!r}"
        )
    return int(i0), int(i1)


def signal_region(edges, centre, n_bins=3) -> tuple[int, int]:
    """The ``n_bins`` consecutive bins centred on the mass ``centre``.

    For odd ``n_bins`` the bin containing ``centre`` is the middle one; for even ``n_bins``
    the middle edge is the edge nearest to ``centre``.

    Parameters
    ----------
    edges : array_like, shape (n + 1,)
        Bin edges in GeV.
    centre : float
        Mass in GeV, within the edges.
    n_bins : int, default 3
        Width of the signal region in bins.

    Returns
    -------
    (i0, i1) : tuple of int
        The signal region is bins ``i0, ..., i1 - 1``, ``i1 - i0 == n_bins``.

    Raises
    ------
    ValueError
        If ``centre`` is outside the edges, or the region would stick out of them.

    Examples
    --------
    >>> edges = log_bins()  # 15 bins
    >>> signal_region(edges, 3500.0)  # 3500 GeV lies in bin 10
    (9, 12)
    >>> unit = [0, 1, 2, 3, 4, 5]
    >>> signal_region(unit, 2.4, n_bins=2), signal_region(unit, 2.6, n_bins=2)
    ((1, 3), (2, 4))
    """
    e = _check_edges(edges)
    n_total = len(e) - 1
    if int(n_bins) != n_bins or not (1 <= n_bins <= n_total):
        raise ValueError(f"n_bins must be an integer in [1, {n_total}], got {n_bins}")
    n_bins = int(n_bins)
    if not (e[0] <= centre <= e[-1]):
        raise ValueError(f"centre = {centre} GeV is outside the binned range [{e[0]}, {e[-1]}]")
    k = min(int(np.searchsorted(e, centre, side="right")) - 1, n_total - 1)
    u = k + (centre - e[k]) / (e[k + 1] - e[k])  # fractional bin coordinate
    u = min(u, np.nextafter(float(n_total), 0.0))  # the top edge belongs to the last bin
    i0 = int(np.floor(u - n_bins / 2 + 0.5))
    i1 = i0 + n_bins
    if i0 < 0 or i1 > n_total:
        raise ValueError(
            f"a {n_bins}-bin region around {centre} GeV would be bins {i0}..{i1 - 1}, outside "
            f"the {n_total} bins [{e[0]}, {e[-1]}] GeV; choose a centre further from the edge"
        )
    return i0, i1


def sidebands(edges, region, n_bins=2) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ``n_bins`` bins just below and just above a signal region.

    Parameters
    ----------
    edges : array_like, shape (n + 1,)
        Bin edges in GeV.
    region : (int, int)
        Signal region ``(i0, i1)`` as returned by :func:`signal_region`.
    n_bins : int, default 2
        Sideband width in bins on each side.

    Returns
    -------
    ((lo0, lo1), (hi0, hi1)) : bin ranges
        Lower sideband ``(i0 - n_bins, i0)``, upper sideband ``(i1, i1 + n_bins)``.

    Examples
    --------
    >>> sidebands(log_bins(), (9, 12))
    ((7, 9), (12, 14))
    """
    e = _check_edges(edges)
    n_total = len(e) - 1
    i0, i1 = _check_region(region, n_total)
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    n_bins = int(n_bins)
    if i0 - n_bins < 0 or i1 + n_bins > n_total:
        raise ValueError(
            f"signal region bins {i0}..{i1 - 1} leave {i0} bin(s) below and {n_total - i1} "
            f"above; {n_bins} sideband bins are needed on each side"
        )
    return (i0 - n_bins, i0), (i1, i1 + n_bins)


def fit_sidebands(mjj, edges, region, weights=None, sqrt_s=13000.0) -> DijetFit:
    """Binned Poisson maximum-likelihood fit of the dijet shape outside a signal region.

    The expected count in bin i is the integral of :func:`dijet_function` over the bin,
    mu_i = int p0 (1 - x)^p1 / x^p2 dm, and the fit minimises sum_i (mu_i - n_i ln mu_i) over
    the bins outside ``region`` (empty bins included). Starting values come from a weighted
    linear fit of log(n_i / width_i); the likelihood is then minimised by Fisher scoring.

    Parameters
    ----------
    mjj : array_like, shape (n_events,)
        Dijet masses in GeV. Events outside the edges are ignored.
    edges : array_like, shape (n_bins + 1,)
        Bin edges in GeV, e.g. from :func:`log_bins`.
    region : (int, int)
        Signal region ``(i0, i1)`` excluded from the fit; it needs at least one fitted bin on
        each side, so that the fit interpolates rather than extrapolates.
    weights : array_like, shape (n_events,), optional
        Event weights. Counts are sums of weights and their variance is approximated by
        ``weight_scale * mu`` with ``weight_scale = sum(w^2) / sum(w)``.
    sqrt_s : float, default 13000
        Centre-of-mass energy in GeV.

    Returns
    -------
    DijetFit

    Raises
    ------
    ValueError
        On malformed input (shapes, NaN, negative bin counts, a region touching the first or last
        bin) or if there are too few bins or events outside the region to fit three parameters:
        at least ``MIN_FIT_BINS`` (4) bins, ``MIN_NONEMPTY_BINS`` (3) of them non-empty, and
        ``MIN_FIT_EVENTS`` (20) events (for weighted events the effective number
        (sum w)^2 / sum w^2).
    RuntimeError
        If the likelihood maximisation does not converge.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> mjj = 2000.0 * (1.0 + rng.pareto(6.0, size=50_000))  # a steeply falling spectrum
    >>> edges = log_bins()
    >>> fit = fit_sidebands(mjj, edges, signal_region(edges, 3000.0))
    >>> fit.region, fit.ndf
    ((6, 9), 9)
    >>> bool(abs(fit.observed() - fit.expected()) < 3 * np.sqrt(fit.expected()))
    True
    """
    e = _check_edges(edges, sqrt_s)
    n_total = len(e) - 1
    i0, i1 = _check_region(region, n_total)
    if i0 == 0 or i1 == n_total:
        side = "below" if i0 == 0 else "above"
        raise ValueError(
            f"signal region bins {i0}..{i1 - 1} leave no sideband bin {side} it (the binning has "
            f"{n_total} bins); the fit must interpolate, so keep at least one bin on each side"
        )
    m = np.asarray(mjj, dtype=float)
    if m.ndim != 1:
        raise ValueError(f"mjj must be a 1-D array (one mass per event), got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"mjj contains {int(np.sum(~np.isfinite(m)))} NaN or infinite value(s)")
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != m.shape:
            raise ValueError(
                f"weights must have one entry per event: mjj has shape {m.shape}, "
                f"weights {w.shape}"
            )
        if not np.all(np.isfinite(w)):
            bad = int(np.sum(~np.isfinite(w)))
            raise ValueError(f"weights contain {bad} NaN or infinite value(s)")
    else:
        w = None
    counts = np.histogram(m, bins=e, weights=w)[0].astype(float)
    if np.any(counts < 0):
        bad = np.flatnonzero(counts < 0).tolist()
        raise ValueError(
            f"bins {bad} have negative (weighted) counts; a Poisson fit needs counts >= 0"
        )
    fitted = np.ones(n_total, dtype=bool)
    fitted[i0:i1] = False
    if w is None:
        scale = 1.0
    else:  # variance of a weighted count ~ scale * count, exact for equal weights
        sumw2 = np.histogram(m, bins=e, weights=w**2)[0][fitted].sum()
        total = counts[fitted].sum()
        scale = float(sumw2 / total) if sumw2 > 0 and total > 0 else 1.0
    n_fit_bins = int(fitted.sum())
    n_nonempty = int(np.sum(counts[fitted] > 0))
    n_events = float(counts[fitted].sum() / scale)  # effective number (sum w)^2 / sum w^2
    if n_fit_bins < MIN_FIT_BINS or n_nonempty < MIN_NONEMPTY_BINS or n_events < MIN_FIT_EVENTS:
        raise ValueError(
            f"too little data outside the signal region to fit 3 parameters: {n_fit_bins} bins "
            f"({n_nonempty} non-empty) with {n_events:.4g} events; need at least "
            f"{MIN_FIT_BINS} bins, {MIN_NONEMPTY_BINS} of them non-empty, "
            f"and {MIN_FIT_EVENTS} events"
        )
    n = counts[fitted]
    mq, wq = _quadrature(e)
    mq, wq = mq[fitted], wq[fitted]
    # internal parameters theta = (a, p1, p2) with f = exp(a) ((1-x)/(1-x0))^p1 (x/x0)^-p2,
    # x0 the (geometric) middle of the fitted range: a is then nearly uncorrelated with p1, p2
    x0 = np.sqrt(e[0] * e[-1]) / sqrt_s
    xq = mq / sqrt_s
    basis = np.stack([np.ones_like(xq), np.log1p(-xq) - np.log1p(-x0), -(np.log(xq) - np.log(x0))])

    def model(theta):
        fw = wq * np.exp(np.tensordot(theta, basis, axes=1))
        mu = fw.sum(axis=1)
        dmu = (fw[None] * basis).sum(axis=2).T  # (n_fit_bins, 3)
        return mu, dmu

    def nll(mu):
        return float(np.sum(mu - n * np.log(mu)))

    def scoring(theta):
        """Fisher scoring with step halving; returns (theta, nll) or None if it fails."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            mu, dmu = model(theta)
            f = nll(mu)
            for _ in range(200):
                if not np.isfinite(f):
                    return None
                grad = dmu.T @ (1.0 - n / mu)
                info = dmu.T @ (dmu / mu[:, None])
                try:
                    step = -np.linalg.solve(info, grad)
                except np.linalg.LinAlgError:
                    return None
                # squared Newton decrement (twice the predicted NLL decrease), in chi^2 units
                decrement = float(-grad @ step) / scale
                if decrement < 1e-12:
                    return theta, f
                t = 1.0
                while t > 1e-8:
                    new = theta + t * step
                    mu_new, dmu_new = model(new)
                    f_new = nll(mu_new)
                    if np.isfinite(f_new) and f_new <= f + 1e-4 * t * float(grad @ step):
                        break
                    t *= 0.5
                else:
                    return (theta, f) if decrement < 1e-6 else None
                theta, mu, dmu, f = new, mu_new, dmu_new, f_new
        return None

    # starting values: weighted least squares of log(n / width) on the basis at the bin centres,
    # plus two generic QCD-like shapes; keep the best converged fit
    width = np.diff(e)[fitted]
    centre = np.sqrt(e[:-1] * e[1:])[fitted] / sqrt_s
    design = np.stack(
        [np.ones_like(centre), np.log1p(-centre) - np.log1p(-x0), -(np.log(centre) - np.log(x0))],
        axis=1,
    )
    starts = []
    ok = n > 0
    sw = np.sqrt(n[ok])
    sol = np.linalg.lstsq(design[ok] * sw[:, None], np.log(n[ok] / width[ok]) * sw, rcond=None)[0]
    starts.append(sol)
    for p1, p2 in [(10.0, 5.0), (0.0, 4.0)]:
        theta = np.array([0.0, p1, p2])
        theta[0] = np.log(n.sum() / model(theta)[0].sum())
        starts.append(theta)
    results = [r for r in map(scoring, starts) if r is not None]
    if not results:
        raise RuntimeError(
            f"the dijet fit did not converge ({n_events:.4g} events in {n_fit_bins} bins outside "
            "the signal region); check the binning and the mjj spectrum"
        )
    theta, _ = min(results, key=lambda r: r[1])
    mu, dmu = model(theta)
    cov_theta = scale * np.linalg.inv(dmu.T @ (dmu / mu[:, None]))
    a, p1, p2 = theta
    log_p0 = a - p1 * np.log1p(-x0) + p2 * np.log(x0)
    p0 = float(np.exp(log_p0))
    jac = np.array([[p0, -p0 * np.log1p(-x0), p0 * np.log(x0)], [0, 1, 0], [0, 0, 1]])
    cov = jac @ cov_theta @ jac.T
    chi2 = float(np.sum((n - mu) ** 2 / mu) / scale)
    return DijetFit(
        params=np.array([p0, p1, p2]),
        cov=0.5 * (cov + cov.T),
        edges=e,
        counts=counts,
        fitted=fitted,
        chi2=chi2,
        ndf=n_fit_bins - 3,
        sqrt_s=float(sqrt_s),
        weight_scale=scale,
    )


def local_significance(observed, expected, expected_uncertainty=0.0) -> float:
    """One-sided local significance Z of an excess of ``observed`` over ``expected`` counts.

    Without a background uncertainty this is the likelihood-ratio significance of a Poisson
    counting experiment, n ~ Pois(s + b) with b known (Cowan, Cranmer, Gross, Vitells,
    Eur. Phys. J. C 71 (2011) 1554, arXiv:1007.1727, eq. 97 evaluated at the observed n)::

        Z = sqrt(2 (n ln(n / b) - (n - b)))          for n > b, else 0.

    With an uncertainty sigma_b on b (s2 = sigma_b^2) it is the profile-likelihood result for
    b constrained by an auxiliary Poisson measurement m = tau b with tau = b / s2 (G. Cowan,
    "Discovery sensitivity for a counting experiment with background uncertainty", 2012)::

        Z = sqrt(2 (n ln(n (b + s2) / (b^2 + n s2)) - b^2 / s2 ln(1 + s2 (n - b) / (b (b + s2)))))

    which tends to the first formula as s2 -> 0 and decreases as s2 grows. Both use Wilks'
    theorem (asymptotic; fine for counts of order 10 or more). For s << b, Z ~ s / sqrt(b + s2).

    Parameters
    ----------
    observed : float
        Observed count n >= 0 (a weighted count is accepted).
    expected : float
        Expected background b > 0, e.g. :meth:`DijetFit.expected`.
    expected_uncertainty : float, default 0
        Uncertainty sigma_b >= 0 of ``expected``, e.g. :meth:`DijetFit.expected_uncertainty`.

    Returns
    -------
    float
        Z >= 0 (0 for a deficit). Convert with :func:`p_value`.

    Examples
    --------
    >>> round(local_significance(1100, 1000), 3)  # close to s / sqrt(b) = 3.162
    3.112
    >>> round(local_significance(1100, 1000, expected_uncertainty=30.0), 3)  # ~ 100 / sqrt(1900)
    2.24
    >>> local_significance(900, 1000)
    0.0
    """
    n, b, sigma = float(observed), float(expected), float(expected_uncertainty)
    if not (np.isfinite(n) and n >= 0):
        raise ValueError(f"observed must be a finite count >= 0, got {observed}")
    if not (np.isfinite(b) and b > 0):
        raise ValueError(f"expected must be a finite background count > 0, got {expected}")
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(
            f"expected_uncertainty must be finite and >= 0, got {expected_uncertainty}"
        )
    if n <= b:
        return 0.0
    s2 = sigma**2
    if s2 == 0.0:
        q0 = 2.0 * (n * np.log(n / b) - (n - b))
    else:
        q0 = 2.0 * (
            n * np.log(n * (b + s2) / (b * b + n * s2))
            - b * b / s2 * np.log1p(s2 * (n - b) / (b * (b + s2)))
        )
    return float(np.sqrt(max(q0, 0.0)))


def p_value(z) -> float:
    """One-sided p-value of a significance ``z``: P(Z' > z) for a standard normal Z'.

    Examples
    --------
    >>> round(p_value(2.0), 4), round(p_value(0.0), 2)
    (0.0228, 0.5)
    >>> f"{p_value(5.0):.2e}"
    '2.87e-07'
    """
    z = float(z)
    if np.isnan(z):
        raise ValueError("z is NaN")
    return float(stats.norm.sf(z))


@dataclass(frozen=True)
class GlobalSignificance:
    """Result of :func:`global_significance`.

    Attributes
    ----------
    z_local : float
        The observed local significance.
    p_local : float
        Its one-sided local p-value, ``p_value(z_local)``.
    n_exceed : int
        Number of null pseudo-experiments whose largest local Z is ``>= z_local``.
    n_trials : int
        Number of null pseudo-experiments ``N``.
    p : float
        Global p-value, the fraction ``n_exceed / N``; when ``n_exceed == 0`` it is only known
        to be below ``1 / N`` and ``p`` is set to that bound (see ``is_limit``).
    p_error : float
        Binomial uncertainty of ``p``, ``sqrt(p (1 - p) / N)`` (0 at the bound).
    z : float
        Global significance, the one-sided ``Z = Phi^-1(1 - p)``, clipped at 0 (as a local
        significance is for a deficit).
    z_limit : float
        The resolution of ``N`` pseudo-experiments: the largest global Z they can establish,
        ``Phi^-1(1 - 1/N)``.
    is_limit : bool
        True if no pseudo-experiment reached ``z_local``: the global Z is then only known to
        be at least ``z`` (``== z_limit``).
    """

    z_local: float
    p_local: float
    n_exceed: int
    n_trials: int
    p: float
    p_error: float
    z: float
    z_limit: float
    is_limit: bool


def global_significance(z_observed, null_max_z) -> GlobalSignificance:
    """Global significance of a local excess, from background-only pseudo-experiments.

    A search that tests many hypotheses (signal-region windows, selection efficiencies) reports
    its largest local significance. The chance that background alone gives a largest local Z at
    least as large is the *global* p-value: the fraction of null pseudo-experiments of the whole
    scan, each reduced to its largest local Z, with ``max Z >= z_observed``. This is the
    look-elsewhere effect; it needs no assumption on how the tests are correlated.

    Parameters
    ----------
    z_observed : float
        The observed (largest) local significance, e.g. from :func:`local_significance`.
    null_max_z : array_like, shape (n_trials,)
        For each null pseudo-experiment, the *largest* local significance over every test of
        the scan (not the individual tests' values).

    Returns
    -------
    GlobalSignificance
        ``p = n_exceed / n_trials`` and ``z = Phi^-1(1 - p)``; with no exceedance, the bound
        ``p < 1 / n_trials``, i.e. ``z >= z_limit`` (``is_limit`` True).

    Examples
    --------
    >>> null = [0.3, 1.2, 2.5, 0.8, 1.9, 3.1, 0.0, 1.4, 2.2, 0.6]  # 10 pseudo-experiments
    >>> g = global_significance(2.0, null)  # 3 of 10 reach Z = 2.0 (2.2, 2.5, 3.1)
    >>> g.n_exceed, g.p, round(g.z, 3), round(g.p_local, 4)
    (3, 0.3, 0.524, 0.0228)
    >>> g = global_significance(4.0, null)  # none does: only a bound, Z >= Phi^-1(1 - 1/10)
    >>> g.is_limit, g.p, round(g.z, 3), round(g.z_limit, 3)
    (True, 0.1, 1.282, 1.282)
    """
    z_obs = float(z_observed)
    if not np.isfinite(z_obs):
        raise ValueError(f"z_observed must be finite, got {z_observed}")
    null = np.asarray(null_max_z, dtype=float)
    if null.ndim != 1 or len(null) == 0:
        raise ValueError(
            "null_max_z must be a non-empty 1-D array: the largest local Z of each null "
            f"pseudo-experiment; got shape {null.shape}"
        )
    if not np.all(np.isfinite(null)):
        bad = int(np.sum(~np.isfinite(null)))
        raise ValueError(f"null_max_z contains {bad} NaN or infinite value(s)")
    n_trials = len(null)
    n_exceed = int(np.sum(null >= z_obs))
    is_limit = n_exceed == 0
    p = (1.0 if is_limit else float(n_exceed)) / n_trials
    p_error = 0.0 if is_limit else float(np.sqrt(p * (1.0 - p) / n_trials))
    z_limit = float(stats.norm.isf(1.0 / n_trials))
    return GlobalSignificance(
        z_local=z_obs,
        p_local=p_value(z_obs),
        n_exceed=n_exceed,
        n_trials=n_trials,
        p=p,
        p_error=p_error,
        z=max(float(stats.norm.isf(p)), 0.0),
        z_limit=z_limit,
        is_limit=is_limit,
    )


def effective_trials(p_local, p_global) -> float:
    """Effective number of independent tests N_eff with ``p_global = 1 - (1 - p_local)^N_eff``.

    For N independent tests N_eff = N; correlated tests (overlapping windows, nested selections)
    give 1 <= N_eff <= N.

    Parameters
    ----------
    p_local, p_global : float
        Local and global p-values, ``0 < p_local < 1``, ``0 < p_global < 1``.

    Returns
    -------
    float

    Examples
    --------
    >>> p = p_value(2.0)
    >>> round(effective_trials(p, 1 - (1 - p) ** 9), 6)  # 9 independent tests
    9.0
    >>> effective_trials(0.1, 0.1)  # one test (or fully correlated ones)
    1.0
    """
    pl, pg = float(p_local), float(p_global)
    if not (0.0 < pl < 1.0 and 0.0 < pg < 1.0):
        raise ValueError(f"p-values must lie strictly between 0 and 1, got p_local={p_local}, "
                         f"p_global={p_global}")
    return float(np.log1p(-pg) / np.log1p(-pl))
