"""Plots shared by the notebooks, in one style.

Each score name keeps its colour across every plot of a session (the exact likelihood ratio is
always black), so a reader can follow a score from figure to figure.
"""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.transforms import ScaledTranslation

from .metrics import roc_auc, roc_curve, sic_curve

__all__ = ["use_style", "color_for", "plot_roc", "plot_sic", "plot_score_hists"]

_STYLE = {
    "figure.figsize": (6.0, 4.2),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "font.size": 11,
}
_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#17becf", "#bcbd22", "#7f7f7f"]
_FIXED = {"likelihood ratio": "black", "exact likelihood ratio": "black"}
_assigned: dict[str, str] = {}
_cycle = itertools.cycle(_PALETTE)


def use_style() -> None:
    """Apply the jetad matplotlib style (call once in a notebook's setup cell)."""
    plt.rcParams.update(_STYLE)


def color_for(name: str) -> str:
    """The colour of score ``name``: fixed on first use, the same in every later plot.

    Examples
    --------
    >>> color_for("likelihood ratio")
    'black'
    >>> color_for("my score") == color_for("my score")
    True
    """
    key = name.lower()
    if key in _FIXED:
        return _FIXED[key]
    if key not in _assigned:
        _assigned[key] = next(_cycle)
    return _assigned[key]


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _thin(x, y, n: int = 400, log_y: bool = False):
    """About ``n`` points of a curve, evenly spaced along its length as drawn, with its ends.

    A ROC curve has one point per event; a few hundred, spread evenly along the drawn line
    (axes scaled to [0, 1], ``log_y`` for a logarithmic y axis), draw the same line and let the
    legend (``loc="best"``) look for a corner where no curve runs in reasonable time.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) <= n:
        return x, y
    v = np.log10(np.clip(y, 1e-300, None)) if log_y else y

    def unit(a):
        span = np.ptp(a[np.isfinite(a)]) if np.isfinite(a).any() else 0.0
        return np.nan_to_num(a / span if span > 0 else a * 0)

    step = np.hypot(np.diff(unit(x)), np.diff(unit(v)))
    length = np.r_[0, np.cumsum(step)]
    idx = np.unique(np.r_[0, np.searchsorted(length, np.linspace(0, length[-1], n)), len(x) - 1])
    idx = idx[idx < len(x)]
    return x[idx], y[idx]


def _points_under(ax, legend) -> int:
    """How many drawn points of the axes' lines (display coordinates) lie inside the legend."""
    box = legend.get_window_extent()
    inside = 0
    for line in ax.get_lines():
        pts = line.get_transform().transform(line.get_xydata())
        pts = pts[np.isfinite(pts).all(axis=1)]
        inside += int(((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1)
                       & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)).sum())
    return inside


def _legend_off_curves(ax):
    """A legend that covers no curve: inside the axes where one fits, else below them.

    Matplotlib's ``loc="best"`` only minimises the overlap; when the curves fill the panel
    (many scores, some below random) every spot has a curve under it, and the legend then goes
    under the axes' x label, in two columns (constrained layout makes room for it).
    """
    legend = ax.legend(loc="best")
    ax.figure.draw_without_rendering()
    if _points_under(ax, legend) == 0:
        return legend
    legend.remove()
    # below the axes' own decorations (tick labels, x label), a fixed distance in inches under
    # the axes, so it stays clear of the x label however the layout resizes the axes later
    renderer = ax.figure.canvas.get_renderer()
    depth = (ax.get_window_extent(renderer).y0 - ax.get_tightbbox(renderer).y0) / ax.figure.dpi
    under = ax.transAxes + ScaledTranslation(0, -(depth + 0.05), ax.figure.dpi_scale_trans)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=under,
                     ncol=2, borderaxespad=0)


def plot_roc(y_true, scores: dict, ax=None, rejection: bool = True):
    """ROC curves of several scores on one plot.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        1 for signal, 0 for background.
    scores : dict of str -> array_like, shape (n,)
        Anomaly scores (higher = more anomalous), labelled by name.
    ax : matplotlib Axes, optional
    rejection : bool
        Plot background rejection 1/εB on a log axis against εS (the collider convention);
        otherwise εB against εS on linear axes.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    grid = np.linspace(1e-3, 1, 200)
    for name, score in scores.items():
        eb, es, _ = roc_curve(y_true, score)
        label = f"{name} (AUC {roc_auc(y_true, score):.3f})"
        if rejection:
            keep = eb > 0
            ax.plot(*_thin(es[keep], 1 / eb[keep], log_y=True), color=color_for(name), label=label)
        else:
            ax.plot(*_thin(es, eb), color=color_for(name), label=label)
    if rejection:
        ax.plot(grid, 1 / grid, ls=":", color="gray", label="random")
        ax.set_yscale("log")
        ax.set_ylabel(r"background rejection $1/\epsilon_B$")
    else:
        ax.plot(grid, grid, ls=":", color="gray", label="random")
        ax.set_ylabel(r"background efficiency $\epsilon_B$")
    ax.set_xlabel(r"signal efficiency $\epsilon_S$")
    ax.set_xlim(0, 1)
    _legend_off_curves(ax)
    return ax


def plot_sic(y_true, scores: dict, ax=None, min_background: int = 10):
    """Significance improvement εS/√εB against εS for several scores.

    Parameters
    ----------
    y_true : array_like, shape (n,)
    scores : dict of str -> array_like, shape (n,)
        Higher = more anomalous.
    ax : matplotlib Axes, optional
    min_background : int
        Drop thresholds passed by fewer background events (statistical noise).

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    for name, score in scores.items():
        es, sic = sic_curve(y_true, score, min_background=min_background)
        ax.plot(*_thin(es, sic), color=color_for(name), label=name)
    ax.axhline(1, ls=":", color="gray", label="no gain")
    ax.set_xlabel(r"signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"SIC $\epsilon_S/\sqrt{\epsilon_B}$")
    ax.set_xlim(0, 1)
    _legend_off_curves(ax)
    return ax


def plot_score_hists(y_true, score, ax=None, name: str = "score", bins: int = 50,
                     labels=("background", "signal")):
    """Normalised histograms of one score for background and signal.

    Parameters
    ----------
    y_true : array_like, shape (n,)
    score : array_like, shape (n,)
        Higher = more anomalous.
    ax : matplotlib Axes, optional
    name : str
        x-axis label.
    bins : int
    labels : (str, str)

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=float)
    lo, hi = np.percentile(s, [0.5, 99.5])
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    ax.hist(np.clip(s[~y], lo, hi), bins=edges, density=True, histtype="stepfilled",
            alpha=0.35, color="gray", label=labels[0])
    ax.hist(np.clip(s[y], lo, hi), bins=edges, density=True, histtype="step", lw=2,
            color=color_for(name), label=labels[1])
    ax.set_xlabel(f"{name} (higher = more anomalous)")
    ax.set_ylabel("density")
    ax.legend()
    return ax
