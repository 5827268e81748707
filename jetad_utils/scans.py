"""Hyperparameter scans: train one model per grid point (cached), score it, tabulate.

The scan of notebook 03 trains a convolutional β-VAE (:class:`jetad_utils.models.ConvVAE`) on
QCD jet images for every point of a grid over the latent size, the KL weight β and the
reconstruction metric, and evaluates three anomaly scores (reconstruction error, KL, full loss;
higher = more anomalous) on top and W jets against QCD.

* Every point is trained with :func:`jetad_utils.training.train_or_load`, so a rerun loads the
  checkpoints instead of training (the table says so in its ``loaded`` column).
* Points run serially, in parallel over the local cores (``workers=``), or on a Dask cluster
  (``dask=`` an address such as ``"tcp://scheduler:8786"`` or a ``distributed.Client``), with
  one progress bar over points. The numbers do not depend on where a point ran.
* The result is a tidy :class:`ScanTable` (one row per point) saved as CSV next to the
  checkpoints, under ``<checkpoint dir>/scans/``; an identical scan reads it back.
* :func:`load_point` rebuilds the trained model of a row, :func:`latent_means` encodes images.

From a shell::

    python -m jetad_utils.scans image-vae --help
    python -m jetad_utils.scans image-vae --fast                  # the notebook's fast grid
    python -m jetad_utils.scans image-vae --workers 2             # the full grid on 2 processes
    python -m jetad_utils.scans image-vae --dask-scheduler tcp://host:8786
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import inspect
import io
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ._core import atomic_write, checkpoint_dir, progress_bar, set_seed
from .losses import RECON_METRICS, beta_vae_loss, check_metric, kl_divergence, reconstruction_error
from .metrics import roc_auc, sic_curve
from .models import ConvVAE
from .training import predict, train_or_load

__all__ = ["GridPoint", "make_grid", "ScanTable", "BetaVAELoss", "image_vae_data", "image_scores",
           "run_point", "run_scan", "load_point", "latent_means", "PRESETS", "SCORES", "SPLITS",
           "split_test_jets",
           "plot_heatmap", "plot_reconstructions", "main"]

#: the three anomaly scores of a VAE (higher = more anomalous)
SCORES = ("recon", "kl", "loss")

#: the grids, data sizes and training settings of notebook 03 (fast mode, full mode)
PRESETS = {
    "fast": {
        "latents": [2, 16], "betas": [1e-4, 1e-2], "metrics": ["mse", "bce"],
        "n_qcd": 5_000, "n_signal": 1_000, "image_size": 40,
        "training": {"epochs": 8, "batch_size": 128, "lr": 2e-3, "patience": 3},
    },
    "full": {
        "latents": [2, 8, 32], "betas": [1e-4, 1e-3, 1e-2, 1e-1],
        "metrics": ["mse", "bce"],
        "n_qcd": 20_000, "n_signal": 10_000, "image_size": 40,
        "training": {"epochs": 12, "batch_size": 128, "lr": 1e-3, "patience": 4},
    },
}

#: bump when the columns of the table change (saved tables of older versions are then recomputed)
#: (2: AUC and SIC also on the selection and evaluation halves of the test jets)
TABLE_VERSION = 2

#: the two halves of the test jets: choose a best point on ``sel``, report it on ``eval``
SPLITS = ("sel", "eval")

#: minimum number of background events above a SIC threshold (statistical floor of max SIC)
SIC_MIN_BACKGROUND = 20


# ----------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class GridPoint:
    """One point of the scan: latent size, KL weight β in [0, 1], reconstruction metric."""

    latent: int
    beta: float
    metric: str

    @property
    def label(self) -> str:
        """A short file-name-safe label, e.g. ``mse-l8-b0.001``."""
        return f"{self.metric}-l{self.latent}-b{self.beta:g}"


def _check_point(latent, beta, metric) -> GridPoint:
    if isinstance(latent, bool) or not isinstance(latent, (int, np.integer)) or latent <= 0:
        raise ValueError(f"latent sizes must be positive integers, got {latent!r}; e.g. latents=[2, 8, 32]")
    try:
        beta_f = float(beta)
    except (TypeError, ValueError):
        raise ValueError(f"beta must be a number in [0, 1], got {beta!r}") from None
    if not 0.0 <= beta_f <= 1.0:
        raise ValueError(
            f"beta = {beta!r} is outside [0, 1]; the loss is (1 - beta) recon + beta KL, so beta "
            "is a fraction (e.g. betas=[1e-4, 1e-3, 1e-2])"
        )
    try:
        metric = check_metric(metric)
    except ValueError as exc:
        raise ValueError(f"{exc} (in the scan grid)") from None
    return GridPoint(int(latent), beta_f, metric)


def make_grid(latents, betas, metrics=("mse",)) -> list[GridPoint]:
    """All combinations of latent sizes, KL weights and metrics, validated.

    Parameters
    ----------
    latents : sequence of int
        Positive latent sizes.
    betas : sequence of float
        KL weights in [0, 1] (loss = (1 − β) recon + β KL).
    metrics : sequence of {"mse", "bce", "l1"}

    Returns
    -------
    list of GridPoint
        Ordered metric, then latent, then β; duplicates removed.

    Raises
    ------
    ValueError
        For an empty axis, a non-positive latent size, β outside [0, 1] or an unknown metric.

    Examples
    --------
    >>> [p.label for p in make_grid([2, 8], [1e-3], ["mse"])]
    ['mse-l2-b0.001', 'mse-l8-b0.001']
    >>> make_grid([0], [0.1])
    Traceback (most recent call last):
    ...
    ValueError: latent sizes must be positive integers, got 0; e.g. latents=[2, 8, 32]
    """
    axes = {"latents": latents, "betas": betas, "metrics": metrics}
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"{name} must be a list, got {values!r}")
        if len(list(values)) == 0:
            raise ValueError(f"{name} is empty; give at least one value")
    points = []
    for metric, latent, beta in itertools.product(metrics, latents, betas):
        p = _check_point(latent, beta, metric)
        if p not in points:
            points.append(p)
    return points


# ----------------------------------------------------------------------------- data


def image_vae_data(n_qcd: int, n_signal: int, *, image_size: int = 40, seed: int = 0,
                   signals=("top", "w"), fractions=(0.6, 0.2, 0.2)) -> dict:
    """Jet images for a scan: QCD split into train / validation / test, plus signal test sets.

    Jets come from ``jetad_utils.data.load("jets", n, cls=...)`` (generated and cached on first
    use) and are turned into pT-normalised, centred, rotated and flipped images with
    :func:`jetad_utils.features.jet_images`.

    Parameters
    ----------
    n_qcd, n_signal : int
        QCD jets in total, and jets of each signal class.
    image_size : int
        Pixels per side.
    seed : int
        Seed of the generated data sets.
    signals : sequence of str
        Jet classes used as signals.
    fractions : three floats
        Train, validation and test fractions of the QCD jets (in this order along the sample).

    Returns
    -------
    dict
        ``train``, ``val``, ``test_background``: float32 arrays (n, 1, S, S) of QCD images;
        ``signals``: {class: (n_signal, 1, S, S)}.
    """
    from . import data
    from .features import jet_images

    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    qcd = jet_images(data.load("jets", int(n_qcd), cls="qcd", seed=seed), size=image_size)
    n_train = int(round(fractions[0] * len(qcd)))
    n_val = int(round(fractions[1] * len(qcd)))
    out = {"train": qcd[:n_train], "val": qcd[n_train:n_train + n_val],
           "test_background": qcd[n_train + n_val:], "signals": {}}
    for cls in signals:
        out["signals"][cls] = jet_images(data.load("jets", int(n_signal), cls=cls, seed=seed),
                                         size=image_size)
    return out


def _check_data(data: dict) -> None:
    missing = [k for k in ("train", "val", "test_background", "signals") if k not in data]
    if missing:
        raise KeyError(f"scan data needs the keys {missing}; build it with scans.image_vae_data(...) "
                       "or as {'train', 'val', 'test_background', 'signals': {name: images}}")
    if not data["signals"]:
        raise ValueError("scan data has no signal sets: data['signals'] = {'top': images, ...}")
    shape = None
    for name, arr in [("train", data["train"]), ("val", data["val"]),
                      ("test_background", data["test_background"]), *data["signals"].items()]:
        arr = np.asarray(arr)
        if arr.ndim != 4 or arr.shape[1] != 1 or arr.shape[2] != arr.shape[3] or len(arr) == 0:
            raise ValueError(f"scan data {name!r} must be non-empty images (n, 1, S, S), got {arr.shape}")
        if shape is not None and arr.shape[1:] != shape:
            raise ValueError(f"all scan images must have the same shape; {name!r} is {arr.shape[1:]}, "
                             f"others {shape}")
        shape = arr.shape[1:]


def _fingerprint(data: dict) -> str:
    h = hashlib.sha256()
    for name in ("train", "val", "test_background"):
        arr = np.ascontiguousarray(data[name], dtype=np.float32)
        h.update(name.encode() + str(arr.shape).encode() + arr.tobytes())
    for name in sorted(data["signals"]):
        arr = np.ascontiguousarray(data["signals"][name], dtype=np.float32)
        h.update(name.encode() + str(arr.shape).encode() + arr.tobytes())
    return h.hexdigest()


def split_test_jets(n: int) -> dict:
    """Index slices of the selection and evaluation halves of ``n`` test jets.

    The first ``n // 2`` jets form the selection half (``"sel"``: choose a best grid point on
    them), the rest the evaluation half (``"eval"``: report its performance on them). Jets are
    generated independently, so the two halves are independent samples of the same class.

    Examples
    --------
    >>> split_test_jets(5)
    {'sel': slice(0, 2, None), 'eval': slice(2, 5, None)}
    """
    n = int(n)
    if n < 2:
        raise ValueError(f"need at least 2 test jets to split them into two halves, got {n}")
    return {"sel": slice(0, n // 2), "eval": slice(n // 2, n)}


def _auc_sic(background: np.ndarray, signal: np.ndarray) -> tuple[float, float]:
    y = np.r_[np.zeros(len(background)), np.ones(len(signal))]
    s = np.r_[background, signal]
    _, sic = sic_curve(y, s, min_background=min(SIC_MIN_BACKGROUND, len(background)))
    return roc_auc(y, s), (float(sic.max()) if len(sic) else float("nan"))


# ----------------------------------------------------------------------------- one point


class BetaVAELoss:
    """The training loss of a grid point, ``loss(model, x)`` = batch mean of (1 − β) recon + β KL.

    A picklable callable (worker processes and Dask need that) with a stable ``repr``, which the
    checkpoint cache uses as part of its key together with the source of the loss functions.
    """

    def __init__(self, beta: float, metric: str):
        point = _check_point(1, beta, metric)
        self.beta, self.metric = point.beta, point.metric

    def __call__(self, model, x):
        return beta_vae_loss(model, x, self.beta, self.metric)

    def __repr__(self):
        return f"BetaVAELoss(beta={self.beta!r}, metric={self.metric!r})"


def _loss_source() -> str:
    """Hash of the code that defines the loss: a change retrains every point."""
    src = "".join(inspect.getsource(f) for f in (beta_vae_loss, reconstruction_error, kl_divergence))
    return hashlib.sha256(src.encode()).hexdigest()[:16]


@torch.no_grad()
def image_scores(model, images, beta: float, metric: str, batch_size: int = 2048) -> dict:
    """The three VAE anomaly scores of each image (higher = more anomalous).

    Uses z = mu (the model in eval mode), so the scores are deterministic.

    Parameters
    ----------
    model : ConvVAE
    images : array_like, shape (n, 1, S, S)
    beta : float
        The KL weight the model was trained with (enters the ``loss`` score).
    metric : {"mse", "bce", "l1"}
        The reconstruction metric the model was trained with.
    batch_size : int

    Returns
    -------
    dict of str -> ndarray, shape (n,), float64
        ``recon``: reconstruction error; ``kl``: KL(q(z|x) || N(0, 1)) in nats; ``loss``:
        (1 − β) recon + β KL.
    """
    metric = check_metric(metric)
    device = next(model.parameters()).device

    def scores(m, x):
        x = x.to(device)
        x_hat, mu, logvar = m(x)
        return reconstruction_error(x, x_hat, metric).cpu(), kl_divergence(mu, logvar).cpu()

    recon, kl = predict(model, scores, torch.as_tensor(np.asarray(images, dtype=np.float32)),
                        batch_size)
    r, k = recon.double().numpy(), kl.double().numpy()
    return {"recon": r, "kl": k, "loss": (1.0 - beta) * r + beta * k}


def _mean_mse(model, images) -> float:
    """Mean over images of Σ (x − x̂)²: one yardstick of description for every metric."""
    return float(image_scores(model, images, 0.0, "mse")["recon"].mean())


def _point_settings(point: GridPoint, image_size: int) -> dict:
    return {"latent": point.latent, "beta": point.beta, "metric": point.metric,
            "image_size": image_size, "loss_code": _loss_source()}


@contextlib.contextmanager
def _torch_threads(threads):
    if threads is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def run_point(point: GridPoint, data: dict, *, training: dict | None = None, seed: int = 0,
              directory=None, threads: int | None = None, progress: bool = False) -> dict:
    """Train (or load) the VAE of one grid point and evaluate it: one row of the scan table.

    Parameters
    ----------
    point : GridPoint
    data : dict
        As returned by :func:`image_vae_data`.
    training : dict, optional
        Keyword arguments of :func:`jetad_utils.training.fit` (``epochs``, ``batch_size``,
        ``lr``, ``patience``); default ``PRESETS["fast"]["training"]``.
    seed : int
        Seeds the initial weights and the shuffles.
    directory : path, optional
        Checkpoint directory (default :func:`jetad_utils.checkpoint_dir`).
    threads : int, optional
        torch threads while this point runs (restored afterwards).
    progress : bool
        Show the epoch bar of the training.

    Returns
    -------
    dict
        ``latent, beta, metric, val_loss, val_recon, val_kl`` (means over the QCD validation
        images of the loss, reconstruction error and KL), ``val_mse`` (mean Σ (x − x̂)² on the
        same images, whatever the training metric: a common yardstick of how well the model
        describes the background), ``epochs, best_epoch, train_seconds`` (of the training,
        also when loaded), ``seconds`` (this call), ``loaded, checkpoint, image_size`` and, for every signal and
        score, ``auc_<signal>_<score>`` and ``sic_<signal>_<score>`` (maximum of εS/√εB with at
        least :data:`SIC_MIN_BACKGROUND` background events passing) on all test jets, and
        ``auc_<split>_<signal>_<score>``, ``sic_<split>_<signal>_<score>`` on each half of them
        (``split`` in :data:`SPLITS`, see :func:`split_test_jets`): choose on ``sel``, report on ``eval``.
    """
    point = _check_point(point.latent, point.beta, point.metric)
    training = dict(PRESETS["fast"]["training"] if training is None else training)
    start = time.perf_counter()
    image_size = int(np.asarray(data["train"]).shape[-1])
    with _torch_threads(threads):
        set_seed(seed)
        model = ConvVAE(point.latent, image_size)
        model, history = train_or_load(
            model, BetaVAELoss(point.beta, point.metric), np.asarray(data["train"], dtype=np.float32),
            np.asarray(data["val"], dtype=np.float32), name=f"scan-image-vae-{point.label}",
            settings=_point_settings(point, image_size), directory=directory, seed=seed,
            progress=progress, desc=point.label, **training)
        val = image_scores(model, data["val"], point.beta, point.metric)
        background = image_scores(model, data["test_background"], point.beta, point.metric)
        row = {"latent": point.latent, "beta": point.beta, "metric": point.metric,
               "val_loss": float(val["loss"].mean()), "val_recon": float(val["recon"].mean()),
               "val_kl": float(val["kl"].mean()), "val_mse": _mean_mse(model, data["val"]),
               "epochs": int(history["epochs"]),
               "best_epoch": int(history["best_epoch"]),
               "train_seconds": round(float(history["seconds"]), 2)}
        halves_b = split_test_jets(len(background["recon"]))
        for name, images in data["signals"].items():
            sig = image_scores(model, images, point.beta, point.metric)
            halves_s = split_test_jets(len(sig["recon"]))
            for score in SCORES:
                row[f"auc_{name}_{score}"], row[f"sic_{name}_{score}"] = _auc_sic(background[score], sig[score])
            for split in SPLITS:
                for score in SCORES:
                    auc, sic = _auc_sic(background[score][halves_b[split]], sig[score][halves_s[split]])
                    row[f"auc_{split}_{name}_{score}"], row[f"sic_{split}_{name}_{score}"] = auc, sic
    row.update(seconds=round(time.perf_counter() - start, 2), loaded=bool(history["loaded"]),
               checkpoint=Path(history["path"]).name, image_size=image_size)
    return row


# ----------------------------------------------------------------------------- the table


_INT_COLUMNS = {"latent", "epochs", "best_epoch", "image_size"}
_STR_COLUMNS = {"metric", "checkpoint"}
_BOOL_COLUMNS = {"loaded"}


class ScanTable:
    """A tidy table of scan results: one row (a dict) per grid point, the same columns in each.

    Parameters
    ----------
    rows : list of dict
    directory : path, optional
        Where the checkpoints of the rows live (used by :func:`load_point`).

    Examples
    --------
    >>> t = ScanTable([{"latent": 2, "beta": 0.1, "auc": 0.7}, {"latent": 8, "beta": 0.1, "auc": 0.8}])
    >>> len(t), t.columns
    (2, ['latent', 'beta', 'auc'])
    >>> t.best("auc")["latent"]
    8
    >>> t.column("auc")
    array([0.7, 0.8])
    """

    def __init__(self, rows, directory=None):
        rows = [dict(r) for r in rows]
        if rows:
            cols = list(rows[0])
            for r in rows[1:]:
                if list(r) != cols:
                    raise ValueError(f"all rows of a ScanTable need the same columns; got {cols} and {list(r)}")
        self.rows = rows
        self.directory = Path(directory) if directory is not None else None
        self.path = None

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def column(self, name: str) -> np.ndarray:
        """The values of column ``name`` as an array."""
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; the columns are {self.columns}")
        return np.array([r[name] for r in self.rows])

    def select(self, **conditions) -> ScanTable:
        """The rows whose columns equal the given values, e.g. ``select(metric="mse")``."""
        for k in conditions:
            if k not in self.columns:
                raise KeyError(f"no column {k!r}; the columns are {self.columns}")
        keep = [r for r in self.rows if all(_same(r[k], v) for k, v in conditions.items())]
        out = ScanTable(keep, self.directory)
        out.path = self.path
        return out

    def best(self, column: str, maximize: bool = True) -> dict:
        """The row with the largest (or smallest) value of ``column`` (first one on ties)."""
        values = self.column(column).astype(float)
        if len(values) == 0 or np.all(np.isnan(values)):
            raise ValueError(f"no finite value in column {column!r}")
        i = int(np.nanargmax(values) if maximize else np.nanargmin(values))
        return self.rows[i]

    def pivot(self, value: str, index: str = "latent", columns: str = "beta", **fixed):
        """A 2-D grid of ``value`` over two columns (e.g. latent × β), the others fixed.

        Returns
        -------
        index_values, column_values : list
        grid : ndarray, shape (len(index_values), len(column_values))
            NaN where the table has no row.
        """
        sub = self.select(**fixed)
        iv = sorted({r[index] for r in sub.rows})
        cv = sorted({r[columns] for r in sub.rows})
        grid = np.full((len(iv), len(cv)), np.nan)
        for r in sub.rows:
            grid[iv.index(r[index]), cv.index(r[columns])] = r[value]
        return iv, cv, grid

    def to_csv(self, path) -> Path:
        """Write the table as CSV (atomically); returns the path."""
        path = Path(path)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
        with atomic_write(path, "w", encoding="utf-8") as fh:
            fh.write(buf.getvalue())
        return path

    @classmethod
    def read_csv(cls, path, directory=None) -> ScanTable:
        """Read a table written by :meth:`to_csv` (columns converted back to their types)."""
        path = Path(path)
        with open(path, encoding="utf-8", newline="") as fh:
            rows = [{k: _parse(k, v) for k, v in r.items()} for r in csv.DictReader(fh)]
        out = cls(rows, directory if directory is not None else path.parent.parent)
        out.path = path
        return out

    def to_string(self, columns=None, digits: int = 3) -> str:
        """The table as aligned text (floats rounded)."""
        columns = columns or self.columns
        cells = [[str(c) for c in columns]]
        for r in self.rows:
            cells.append([f"{r[c]:.{digits}g}" if isinstance(r[c], float) and c in ("beta",)
                          else f"{r[c]:.{digits}f}" if isinstance(r[c], float) else str(r[c])
                          for c in columns])
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        return "\n".join("  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells)

    def __repr__(self):
        return f"ScanTable({len(self)} rows)\n" + self.to_string()


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return a == b


def _parse(key: str, value: str):
    if key in _STR_COLUMNS:
        return value
    if key in _BOOL_COLUMNS:
        return value == "True"
    if key in _INT_COLUMNS:
        return int(value)
    try:
        return float(value)
    except ValueError:
        return value


# ----------------------------------------------------------------------------- the scan


def _scan_key(grid, data, training, seed) -> str:
    model = str(ConvVAE(1, int(np.asarray(data["train"]).shape[-1])))
    blob = {"version": TABLE_VERSION, "grid": [asdict(p) for p in grid], "data": _fingerprint(data),
            "training": training, "seed": seed, "loss_code": _loss_source(), "model": model,
            "torch": torch.__version__.split("+")[0]}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def table_path(name: str, grid, data, *, training=None, seed: int = 0, directory=None) -> Path:
    """Where :func:`run_scan` saves (and looks for) the table of this exact scan."""
    training = dict(PRESETS["fast"]["training"] if training is None else training)
    directory = Path(directory) if directory is not None else checkpoint_dir()
    return directory / "scans" / f"{name}-{_scan_key(grid, data, training, seed)}.csv"


# worker-process state (process pool): the data are read once per process
_WORKER: dict = {}


def _init_worker(data_dir: str, threads: int):
    torch.set_num_threads(int(threads))
    d = Path(data_dir)
    signals = json.loads((d / "signals.json").read_text())
    _WORKER["data"] = {
        "train": np.load(d / "train.npy"), "val": np.load(d / "val.npy"),
        "test_background": np.load(d / "test_background.npy"),
        "signals": {s: np.load(d / f"signal_{i}.npy") for i, s in enumerate(signals)},
    }


def _run_in_worker(point, training, seed, directory):
    return run_point(point, _WORKER["data"], training=training, seed=seed, directory=directory)


def _run_on_dask(point, data, training, seed, directory, threads):
    return run_point(point, data, training=training, seed=seed, directory=directory, threads=threads)


def _save_data(data: dict, directory: Path) -> None:
    for name in ("train", "val", "test_background"):
        np.save(directory / f"{name}.npy", np.asarray(data[name], dtype=np.float32))
    names = list(data["signals"])
    for i, s in enumerate(names):
        np.save(directory / f"signal_{i}.npy", np.asarray(data["signals"][s], dtype=np.float32))
    (directory / "signals.json").write_text(json.dumps(names))


def _resolve_workers(workers, n_points) -> int:
    if workers in (None, "auto"):
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
    return max(1, min(int(workers), n_points))


def run_scan(grid, data: dict, *, training: dict | None = None, seed: int = 0, workers=1,
             dask=None, threads: int | None = None, directory=None, name: str = "image-vae",
             reuse_table: bool = True, progress: bool = True) -> ScanTable:
    """Train and evaluate every grid point; return (and save) the table of results.

    Parameters
    ----------
    grid : list of GridPoint
        From :func:`make_grid`.
    data : dict
        From :func:`image_vae_data` (or the same keys with your own images).
    training : dict, optional
        :func:`jetad_utils.training.fit` settings; default ``PRESETS["fast"]["training"]``.
    seed : int
    workers : int or "auto"
        Local processes (1 = in this process; "auto" = one per core). Each process reads the
        data once; torch threads per process = cores // workers unless ``threads`` is given.
    dask : str or distributed.Client, optional
        Send the points to a Dask cluster instead (a scheduler address or a client). The data
        are scattered to the workers once. The workers need ``jetad_utils`` installed and
        write checkpoints to ``directory`` as *they* see it (use a shared file system to keep
        them).
    threads : int, optional
        torch threads per point (default: cores // workers; on Dask: 1).
    directory : path, optional
        Checkpoint directory (default :func:`jetad_utils.checkpoint_dir`); the table goes to
        ``<directory>/scans/<name>-<key>.csv``.
    name : str
        Label of the saved table.
    reuse_table : bool
        Return the saved table of an identical scan (same grid, data, training, seed, code)
        when there is one, without touching the models.
    progress : bool
        A progress bar over points.

    Returns
    -------
    ScanTable
        One row per grid point, in grid order (see :func:`run_point` for the columns); its
        ``path`` is the saved CSV and ``from_saved_table`` tells whether it was read back.
    """
    grid = [_check_point(p.latent, p.beta, p.metric) for p in grid]
    if not grid:
        raise ValueError("the grid is empty; build it with make_grid(latents, betas, metrics)")
    _check_data(data)
    training = dict(PRESETS["fast"]["training"] if training is None else training)
    directory = Path(directory) if directory is not None else checkpoint_dir()
    path = table_path(name, grid, data, training=training, seed=seed, directory=directory)
    if reuse_table and path.exists():
        table = ScanTable.read_csv(path, directory)
        table.from_saved_table = True
        return table

    bar = progress_bar(len(grid), f"scan ({len(grid)} points)", unit="point", enabled=progress,
                       leave=True)
    rows: dict[int, dict] = {}
    if dask is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        client = dask if isinstance(dask, Client) else Client(dask)
        try:
            shared = client.scatter(data, broadcast=True)
            futures = {client.submit(_run_on_dask, p, shared, training, seed, str(directory),
                                     threads or 1, pure=False): i for i, p in enumerate(grid)}
            for fut in dask_completed(futures):
                rows[futures[fut]] = fut.result()
                bar.update()
        finally:
            if not isinstance(dask, Client):
                client.close()
    else:
        n_workers = _resolve_workers(workers, len(grid))
        if n_workers == 1:
            for i, p in enumerate(grid):
                bar.set_postfix_str(p.label)
                rows[i] = run_point(p, data, training=training, seed=seed, directory=directory,
                                    threads=threads)
                bar.update()
        else:
            import multiprocessing as mp

            per = threads or max(1, (os.cpu_count() or 1) // n_workers)
            tmp = Path(tempfile.mkdtemp(prefix="jetad-scan-"))
            try:
                _save_data(data, tmp)
                with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn"),
                                         initializer=_init_worker, initargs=(str(tmp), per)) as pool:
                    futures = {pool.submit(_run_in_worker, p, training, seed, str(directory)): i
                               for i, p in enumerate(grid)}
                    for fut in as_completed(futures):
                        rows[futures[fut]] = fut.result()
                        bar.update()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    bar.close()
    table = ScanTable([rows[i] for i in range(len(grid))], directory)
    try:
        table.path = table.to_csv(path)
    except OSError as exc:
        raise OSError(f"cannot save the scan table to {path} ({exc}); set JETAD_CHECKPOINTS to a "
                      "writable directory") from exc
    table.from_saved_table = False
    return table


# ----------------------------------------------------------------------------- trained models


def load_point(row, directory=None) -> ConvVAE:
    """The trained VAE of one scan-table row (weights read from its checkpoint), in eval mode.

    Parameters
    ----------
    row : dict
        A row of a :class:`ScanTable` (needs ``latent``, ``image_size``, ``checkpoint``).
    directory : path, optional
        Checkpoint directory; default: the table's, else :func:`jetad_utils.checkpoint_dir`.

    Returns
    -------
    ConvVAE
    """
    missing = [k for k in ("latent", "image_size", "checkpoint") if k not in row]
    if missing:
        raise KeyError(f"load_point needs a scan-table row with {missing}; pick one with table.best(...) "
                       "or table[i]")
    directory = Path(directory) if directory is not None else checkpoint_dir()
    path = directory / row["checkpoint"]
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} not found; rerun the scan (run_scan) to train it, "
                                "or pass the directory the scan used")
    model = ConvVAE(int(row["latent"]), int(row["image_size"]))
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(blob["state_dict"])
    return model.eval()


@torch.no_grad()
def latent_means(model, images, batch_size: int = 2048) -> np.ndarray:
    """Latent means mu(x) of images under a trained VAE.

    Parameters
    ----------
    model : ConvVAE
    images : array_like, shape (n, 1, S, S)

    Returns
    -------
    ndarray, shape (n, latent_dim), float64
    """
    device = next(model.parameters()).device
    mu = predict(model, lambda m, x: m.encode(x.to(device))[0].cpu(),
                 torch.as_tensor(np.asarray(images, dtype=np.float32)), batch_size)
    return mu.double().numpy()


# ----------------------------------------------------------------------------- plots


def plot_heatmap(table: ScanTable, value: str, ax=None, *, fmt: str = "{:.2f}", cmap="viridis",
                 vmin=None, vmax=None, select: str | None = None, **fixed):
    """A latent × β heatmap of one column (e.g. ``auc_top_recon``), the other columns fixed.

    Each cell is annotated with its value; the best cell is framed in red: the maximum of the
    column ``select`` if given (e.g. choose on ``auc_sel_top_recon``, show
    ``auc_eval_top_recon``), else of ``value`` itself.
    """
    import matplotlib.pyplot as plt

    latents, betas, grid = table.pivot(value, "latent", "beta", **fixed)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * len(betas) + 2, 0.6 * len(latents) + 1.6))
    im = ax.imshow(grid, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
    ax.set_yticks(range(len(latents)), [str(n) for n in latents])
    ax.set_xlabel(r"KL weight $\beta$")
    ax.set_ylabel("latent size")
    ax.grid(False)
    finite = np.isfinite(grid)
    chooser = grid if select is None else table.pivot(select, "latent", "beta", **fixed)[2]
    if finite.any():
        i, j = np.unravel_index(np.nanargmax(chooser), chooser.shape)
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
        mid = np.nanmean(grid)
        for (a, b), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(b, a, fmt.format(v), ha="center", va="center", fontsize=9,
                        color="white" if v < mid else "black")
    ax.set_title(value + ("  (" + ", ".join(f"{k}={v}" for k, v in fixed.items()) + ")" if fixed else ""))
    plt.colorbar(im, ax=ax)
    return ax


def plot_reconstructions(model, images, n: int = 4, axes=None, *, radius: float = 0.8,
                         title: str = "", row_labels: bool = True):
    """Inputs (top row) and reconstructions (bottom row) of the first ``n`` images, log colour scale.

    ``axes``: a (2, n) array of Axes to draw into (default: a new figure); ``row_labels`` puts
    "input" / "reconstruction" on the first column.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    x = np.asarray(images[:n], dtype=np.float32)
    with torch.no_grad():
        model.eval()
        x_hat = model(torch.as_tensor(x))[0].numpy()
    if axes is None:
        _, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6), squeeze=False)
    ext = (-radius, radius, -radius, radius)
    norm = LogNorm(vmin=1e-4, vmax=1.0)
    for j in range(n):
        for i, img in enumerate((x[j, 0], x_hat[j, 0])):
            ax = axes[i][j]
            ax.imshow(np.clip(img, 1e-5, None), origin="lower", extent=ext, norm=norm, cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        axes[0][j].set_title(f"{title} #{j}", fontsize=9)
    if row_labels:
        axes[0][0].set_ylabel("input")
        axes[1][0].set_ylabel("reconstruction")
    return axes


# ----------------------------------------------------------------------------- command line


def _floats(text):
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text):
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv=None) -> int:
    """``python -m jetad_utils.scans image-vae [options]``: run the image-VAE scan."""
    parser = argparse.ArgumentParser(
        prog="python -m jetad_utils.scans",
        description="Hyperparameter scans of notebook 03 (trained points are cached: a rerun loads them).")
    sub = parser.add_subparsers(dest="scan", required=True)
    p = sub.add_parser("image-vae", help="β-VAE on QCD jet images: latent × β × metric grid, AUCs for top and W",
                       description="Train a convolutional β-VAE on QCD jet images for each grid point and "
                                   "tabulate the AUCs of its anomaly scores for top and W jets. Defaults: the "
                                   "full-mode grid of notebook 03 (--fast for the fast-mode one).")
    p.add_argument("--fast", action="store_true", help="the fast-mode grid and data sizes (a few minutes)")
    p.add_argument("--workers", default="auto",
                   help="local processes, or 'auto' (one per core); default auto")
    p.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="run the points on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--latents", type=_ints, help="comma-separated latent sizes (override the preset)")
    p.add_argument("--betas", type=_floats, help="comma-separated KL weights in [0, 1]")
    p.add_argument("--metrics", type=lambda s: [m.strip() for m in s.split(",") if m.strip()],
                   help=f"comma-separated metrics among {','.join(RECON_METRICS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--directory", default=None, help="checkpoint directory (default: JETAD_CHECKPOINTS "
                   "or <data dir>/checkpoints)")
    p.add_argument("--recompute", action="store_true", help="ignore a saved table (checkpoints are still reused)")
    args = parser.parse_args(argv)

    preset = PRESETS["fast" if args.fast else "full"]
    workers = args.workers if args.workers == "auto" else int(args.workers)
    grid = make_grid(args.latents or preset["latents"], args.betas or preset["betas"],
                     args.metrics or preset["metrics"])
    print(f"image-VAE scan: {len(grid)} points ({'fast' if args.fast else 'full'} preset); "
          f"{preset['n_qcd']} QCD jets, {preset['n_signal']} per signal", flush=True)
    start = time.perf_counter()
    data = image_vae_data(preset["n_qcd"], preset["n_signal"], image_size=preset["image_size"], seed=args.seed)
    table = run_scan(grid, data, training=preset["training"], seed=args.seed, workers=workers,
                     dask=args.dask_scheduler, directory=args.directory, reuse_table=not args.recompute)
    cols = ["metric", "latent", "beta", "val_loss", "epochs", "loaded",
            *[c for c in table.columns if c.startswith("auc_")]]
    print(table.to_string(cols))
    print(f"saved: {table.path}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
