"""Toy data with exactly known densities (for checking learned scores against the truth).

The background and signal of notebooks 01 and 02 are multivariate Gaussians, so the
background density p_b, the signal density p_s and the Neyman-Pearson optimal statistic
p_s/p_b are available in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Gaussian", "ar1_covariance", "point_at_distance", "line_covariance", "sample_mixture"]


@dataclass(frozen=True)
class Gaussian:
    """A multivariate normal density N(mean, cov).

    Parameters
    ----------
    mean : array_like, shape (D,)
    cov : array_like, shape (D, D)
        Symmetric positive semi-definite. A (numerically) singular covariance is allowed for
        sampling; :meth:`logpdf` then treats it as a density on its support, as scipy does.

    Examples
    --------
    >>> g = Gaussian([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(g.logpdf(np.zeros((1, 2)))[0]), 4)  # -log(2 pi)
    -1.8379
    """

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self):
        mean = np.atleast_1d(np.asarray(self.mean, dtype=float))
        cov = np.atleast_2d(np.asarray(self.cov, dtype=float))
        if mean.ndim != 1 or cov.shape != (len(mean), len(mean)):
            raise ValueError(
                f"mean must have shape (D,) and cov shape (D, D); got {mean.shape} and {cov.shape}"
            )
        if not np.allclose(cov, cov.T):
            raise ValueError("cov must be symmetric")
        if np.linalg.eigvalsh(cov).min() < -1e-10:
            raise ValueError("cov must be positive semi-definite")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)

    @property
    def dim(self) -> int:
        return len(self.mean)

    def sample(self, n: int, rng) -> np.ndarray:
        """Draw ``n`` points, shape (n, D), from a ``numpy.random.Generator`` or a seed."""
        rng = np.random.default_rng(rng)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        return rng.multivariate_normal(self.mean, self.cov, size=int(n), method="eigh")

    def logpdf(self, x) -> np.ndarray:
        """Log density at each row of ``x`` (shape (n, D)) -> shape (n,)."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {x.shape}")
        return stats.multivariate_normal(self.mean, self.cov, allow_singular=True).logpdf(x).reshape(-1)

    def transformed(self, matrix) -> Gaussian:
        """The density of ``x @ matrix.T`` for ``x`` drawn from this Gaussian."""
        a = np.asarray(matrix, dtype=float)
        return Gaussian(a @ self.mean, a @ self.cov @ a.T)


def ar1_covariance(dim: int, rho: float) -> np.ndarray:
    """Unit-variance covariance with correlation ``rho**|i-j|`` between features i and j.

    Examples
    --------
    >>> ar1_covariance(3, 0.5)
    array([[1.  , 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 1.  ]])
    """
    if dim < 1 or not (-1 < rho < 1):
        raise ValueError(f"need dim >= 1 and -1 < rho < 1, got dim={dim}, rho={rho}")
    idx = np.arange(dim)
    return rho ** np.abs(idx[:, None] - idx[None, :])


def point_at_distance(background: Gaussian, direction, distance: float) -> np.ndarray:
    """The point ``mean + t * direction`` at Mahalanobis distance ``distance`` from the
    background mean.

    The Mahalanobis distance d(x) = sqrt((x - mu)^T Sigma^-1 (x - mu)) measures "how many
    standard deviations out" a point is, whatever the correlations.

    Examples
    --------
    >>> bkg = Gaussian(np.zeros(2), np.diag([4.0, 1.0]))
    >>> point_at_distance(bkg, [1.0, 0.0], 1.5)
    array([3., 0.])
    """
    d = np.asarray(direction, dtype=float)
    if d.shape != background.mean.shape or not np.any(d):
        raise ValueError(f"direction must be a non-zero vector of length {background.dim}")
    norm = np.sqrt(d @ np.linalg.solve(background.cov, d))
    return background.mean + distance * d / norm


def line_covariance(direction, width: float, jitter: float = 1e-3) -> np.ndarray:
    """Covariance of a signal spread along one line: ``width**2 * u u^T + jitter**2 * I``.

    Examples
    --------
    >>> line_covariance([1.0, 0.0], 2.0, jitter=0.0)
    array([[4., 0.],
           [0., 0.]])
    """
    u = np.asarray(direction, dtype=float)
    u = u / np.linalg.norm(u)
    return width**2 * np.outer(u, u) + jitter**2 * np.eye(len(u))


def sample_mixture(background: Gaussian, signal: Gaussian, n_background: int, n_signal: int, rng):
    """Labelled sample: ``n_background`` background (label 0) then ``n_signal`` signal (1),
    shuffled.

    Returns
    -------
    x : ndarray, shape (n_background + n_signal, D)
    y : ndarray of int, shape (n_background + n_signal,)
    """
    rng = np.random.default_rng(rng)
    x = np.concatenate([background.sample(n_background, rng), signal.sample(n_signal, rng)])
    y = np.r_[np.zeros(n_background, dtype=int), np.ones(n_signal, dtype=int)]
    order = rng.permutation(len(y))
    return x[order], y[order]
