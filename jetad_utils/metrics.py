"""Figures of merit for anomaly scores.

Convention: **higher score = more anomalous / more signal-like**; labels are 1 for signal and
0 for background. All functions validate their inputs and raise ``ValueError`` naming the
problem (mismatched lengths, a single class, NaN or infinite scores).

Notation: εS is the signal efficiency (true-positive rate) and εB the background efficiency
(false-positive rate) of the selection ``score >= threshold``. Background rejection is 1/εB and
the significance improvement characteristic is SIC = εS/√εB: the factor by which a cut on the
score multiplies S/√B.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "roc_curve",
    "roc_auc",
    "sic_curve",
    "efficiency_at_rejection",
    "significance_improvement",
]


def _validate(y_true, score):
    """Return ``(y, s)`` as 1-D arrays, or raise ``ValueError`` naming the problem."""
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=float)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(
            f"y_true and score must be 1-D arrays (one entry per event); got shapes "
            f"{y.shape} and {s.shape}"
        )
    if len(y) != len(s):
        raise ValueError(
            f"y_true and score have different lengths ({len(y)} and {len(s)}); "
            "pass one label and one score per event"
        )
    if not np.all(np.isfinite(s)):
        bad = int(np.sum(~np.isfinite(s)))
        raise ValueError(
            f"score contains {bad} NaN or infinite value(s); fix or drop those events first"
        )
    labels = np.unique(y)
    if not np.all(np.isin(labels, [0, 1])):
        raise ValueError(
            f"y_true must contain only 0 (background) and 1 (signal); found labels {labels[:5]}"
        )
    if len(labels) < 2:
        only = "signal" if len(labels) and labels[0] == 1 else "background"
        raise ValueError(
            f"y_true contains only {only} events; a ROC curve needs both signal (1) "
            "and background (0)"
        )
    return y.astype(bool), s


def roc_curve(y_true, score):
    """Background and signal efficiencies for every threshold on ``score``.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        1 for signal, 0 for background.
    score : array_like, shape (n,)
        Anomaly score, higher = more anomalous.

    Returns
    -------
    eps_b, eps_s, thresholds : ndarray, shape (k,)
        εB and εS of the selection ``score >= thresholds[i]``, starting at (0, 0)
        (threshold +inf) and ending at (1, 1). ``eps_b`` is non-decreasing.

    Examples
    --------
    >>> eb, es, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> eb.tolist(), es.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    y, s = _validate(y_true, score)
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    y_sorted = y[order]
    # one ROC point per distinct threshold: the last index of each run of equal scores
    distinct = np.nonzero(np.diff(s_sorted))[0]
    last = np.r_[distinct, len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = (last + 1) - tp
    eps_s = np.r_[0.0, tp / y.sum()]
    eps_b = np.r_[0.0, fp / (~y).sum()]
    thresholds = np.r_[np.inf, s_sorted[last]]
    return eps_b, eps_s, thresholds


def roc_auc(y_true, score) -> float:
    """Area under the ROC curve: the probability that a random signal event scores higher
    than a random background event (ties count one half).

    Parameters
    ----------
    y_true : array_like, shape (n,)
        1 for signal, 0 for background.
    score : array_like, shape (n,)
        Anomaly score, higher = more anomalous.

    Returns
    -------
    float
        0.5 for a random score, 1 for a perfect one, below 0.5 for a score with the wrong sign.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1], [1.0, 1.0])
    0.5
    """
    y, s = _validate(y_true, score)
    ranks = rankdata(s)  # average ranks handle ties
    n_s = y.sum()
    n_b = len(y) - n_s
    return float((ranks[y].sum() - n_s * (n_s + 1) / 2) / (n_s * n_b))


def sic_curve(y_true, score, min_background: int = 1):
    """Significance improvement characteristic SIC = εS/√εB as a function of εS.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        1 for signal, 0 for background.
    score : array_like, shape (n,)
        Anomaly score, higher = more anomalous.
    min_background : int, default 1
        Keep only thresholds that at least this many background events pass, so the curve
        is not dominated by the statistical noise of the last few events.

    Returns
    -------
    eps_s, sic : ndarray, shape (k,)

    Examples
    --------
    >>> es, sic = sic_curve([0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 4, 5])
    >>> es.tolist(), sic.round(3).tolist()
    ([1.0, 1.0, 1.0, 1.0], [2.0, 1.414, 1.155, 1.0])
    """
    if int(min_background) < 1:
        raise ValueError(f"min_background must be at least 1, got {min_background}")
    y, s = _validate(y_true, score)
    eps_b, eps_s, _ = roc_curve(y, s)
    n_b = (~y).sum()
    keep = eps_b * n_b >= int(min_background) - 1e-9
    return eps_s[keep], eps_s[keep] / np.sqrt(eps_b[keep])


def _eps_s_at(eps_b_target, eps_b, eps_s):
    """εS at a given εB, following the ROC curve (linear between consecutive points).

    ``eps_b`` is non-decreasing. Where the curve jumps vertically at ``eps_b == target`` the
    highest εS of the jump is taken (that selection exists); between two distinct εB values the
    curve is interpolated from the last point at or below the target to the next one.
    """
    i = int(np.searchsorted(eps_b, eps_b_target, side="right")) - 1
    if i < 0:
        return 0.0
    if eps_b[i] == eps_b_target or i == len(eps_b) - 1:
        return float(eps_s[i])
    frac = (eps_b_target - eps_b[i]) / (eps_b[i + 1] - eps_b[i])
    return float(eps_s[i] + frac * (eps_s[i + 1] - eps_s[i]))


def efficiency_at_rejection(y_true, score, rejection: float = 100.0) -> float:
    """Signal efficiency εS at a fixed background rejection 1/εB.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        1 for signal, 0 for background.
    score : array_like, shape (n,)
        Anomaly score, higher = more anomalous.
    rejection : float, default 100
        Background rejection 1/εB (at least 1).

    Returns
    -------
    float
        εS at εB = 1/rejection, interpolated linearly along the ROC curve.

    Examples
    --------
    >>> y = [0] * 100 + [1] * 4
    >>> s = list(range(100)) + [99.5, 98.5, 50, 10]
    >>> efficiency_at_rejection(y, s, rejection=100)  # cut at 98.5: 1 of 100 background
    0.5
    >>> efficiency_at_rejection(y, s, rejection=2)  # cut at 50: 50 of 100 background
    0.75
    """
    rejection = float(rejection)
    if not np.isfinite(rejection) or rejection < 1:
        raise ValueError(f"rejection = 1/εB must be a finite number >= 1, got {rejection}")
    eps_b, eps_s, _ = roc_curve(y_true, score)
    return _eps_s_at(1.0 / rejection, eps_b, eps_s)


def significance_improvement(y_true, score, eps_b: float) -> float:
    """SIC = εS/√εB at a fixed background efficiency.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        1 for signal, 0 for background.
    score : array_like, shape (n,)
        Anomaly score, higher = more anomalous.
    eps_b : float
        Background efficiency, in (0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> y = [0] * 100 + [1] * 4
    >>> s = list(range(100)) + [99.5, 98.5, 50, 10]
    >>> significance_improvement(y, s, eps_b=0.01)
    5.0
    """
    eps_b = float(eps_b)
    if not (0 < eps_b <= 1):
        raise ValueError(f"eps_b must be in (0, 1], got {eps_b}")
    eb, es, _ = roc_curve(y_true, score)
    return float(_eps_s_at(eps_b, eb, es) / np.sqrt(eps_b))
