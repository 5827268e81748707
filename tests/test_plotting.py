"""The shared ROC / SIC plots: the curves drawn faithfully, the legend off the curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from jetad_utils.metrics import roc_curve, sic_curve  # noqa: E402
from jetad_utils.plotting import _thin, plot_roc, plot_sic, use_style  # noqa: E402


def _scores(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n), np.ones(n // 4)]
    x = rng.normal(size=len(y)) + 1.2 * y
    return y, {"good": x, "weaker": x + rng.normal(size=len(y)), "exact likelihood ratio": 1.2 * x}


def _points_under_legend(ax):
    """How many drawn curve points (display coordinates) lie inside the legend's box."""
    ax.figure.canvas.draw()
    box = ax.get_legend().get_window_extent()
    inside = 0
    for line in ax.get_lines():
        pts = line.get_transform().transform(line.get_xydata())
        pts = pts[np.isfinite(pts).all(axis=1)]
        inside += int(box.contains_points(pts).sum()) if hasattr(box, "contains_points") else int(
            ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)).sum())
    return inside


@pytest.mark.parametrize("rejection", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_roc_legend_does_not_cover_the_curves(rejection, seed):
    use_style()
    y, scores = _scores(seed)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    plot_roc(y, scores, ax=axes[0], rejection=rejection)
    plot_sic(y, scores, ax=axes[1])
    try:
        for ax in axes:
            assert _points_under_legend(ax) == 0
    finally:
        plt.close(fig)


def test_thinned_curve_keeps_its_shape():
    y, scores = _scores()
    eb, es, _ = roc_curve(y, scores["good"])
    x, f = _thin(es, eb)
    assert len(x) <= 402 and x[0] == es[0] and x[-1] == es[-1]
    # every point of the full curve lies next to a kept point (within 1 % of the axes, which are
    # [0, 1] here), so the drawn line is the same; a curve of length <= 2 has spacing <= 0.5 %
    dist = np.hypot(es[:, None] - x[None, :], eb[:, None] - f[None, :]).min(axis=1)
    assert dist.max() < 0.01
    es2, sic = sic_curve(y, scores["good"])
    assert np.all(np.diff(es2) >= 0)  # thinning assumes curves sorted in signal efficiency


def _crowded_scores(seed=0, n=20_000):
    """Six scores from far better than random to worse than random: they fill a small panel."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n), np.ones(n // 4)]
    shifts = {"likelihood ratio": 2.5, "-log p_b": 1.0, "autoencoder": 1.8,
              "isolation forest": 0.3, "kNN distance": -0.8, "one-class SVM": 0.0}
    return y, {name: rng.normal(size=len(y)) + s * y for name, s in shifts.items()}


@pytest.mark.parametrize("seed", [0, 1])
def test_legend_goes_below_the_axes_when_the_curves_fill_them(seed):
    use_style()
    y, scores = _crowded_scores(seed)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained")
    plot_roc(y, scores, ax=axes[0])
    plot_sic(y, scores, ax=axes[1])
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in axes:
            legend = ax.get_legend()
            box = legend.get_window_extent(renderer)
            assert _points_under_legend(ax) == 0
            # below the axes and their x label, and inside the figure
            assert box.y1 <= ax.xaxis.label.get_window_extent(renderer).y0 + 1
            assert box.y0 >= 0 and box.x0 >= 0 and box.x1 <= fig.bbox.width
            assert len(legend.get_texts()) == len(scores) + 1
    finally:
        plt.close(fig)
