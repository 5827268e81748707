"""Bump hunting in the latent space of a variational autoencoder (VAE) for dijet events.

The pieces of the method of Bortolato, Dillon, Kamenik and Smolkovič (Phys. Rev. D 105,
115009 (2022), doi:10.1103/PhysRevD.105.115009) that are plumbing rather than the idea being
taught:

* :class:`SeluVAE`: dense encoder and decoder (3 hidden layers of 64 SELU units each) with a
  small Gaussian latent space (one variable by default).
* :func:`kl_peak`: the early-stopping rule as a pure function of the validation-KL curve
  ("stop once the KL has risen for ``rise`` epochs and then fallen for ``fall``; keep the
  epoch of maximum KL"), and :func:`train_kl_peak`, a seeded, cached training run that uses it.
* :func:`event_kl`, :func:`ensemble_kl`: the per-event KL divergence
  (:func:`jetad_utils.losses.kl_divergence`) of the encoder's posterior to the N(0, 1) prior,
  for one model and averaged over an ensemble; :func:`event_reconstruction_error`.
* :class:`MassConditionedDecoder` and :func:`decode_grid`: a second decoder fed with the frozen
  encoder's latent variable and the dijet mass, scanned over a (z, mjj) grid.

The loss, the anomaly score built from the KL and the decoder's sampled inputs are written in
notebook 07; this module only trains, caches and evaluates.

Conventions: events along axis 0; feature tables ``(n_events, n_features)`` already scaled
(the notebook uses scikit-learn's ``MaxAbsScaler``); masses in GeV. The functions here return
*divergences* and *reconstructions*, not anomaly scores; an anomaly score in this project is
always oriented so that higher = more anomalous, and notebook 07 discusses which orientation of
the KL that is.
"""

from __future__ import annotations

import copy
import functools
import hashlib

import numpy as np
import torch
from torch import nn

from .losses import kl_divergence
from .models import DenseVAE, mlp
from .training import evaluating, predict, train_or_load

__all__ = [
    "SeluVAE",
    "MassConditionedDecoder",
    "kl_peak",
    "train_kl_peak",
    "encode",
    "event_kl",
    "ensemble_kl",
    "event_reconstruction_error",
    "decode_grid",
    "adadelta",
]


def _check_sizes(**sizes):
    for name, value in sizes.items():
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


class SeluVAE(DenseVAE):
    """Dense VAE with SELU activations and a Gaussian posterior q(z|x) = N(z̄, σz²).

    :class:`jetad_utils.models.DenseVAE` with the paper's sizes and activation. Encoder:
    ``n_features -> 64 -> 64 -> 64 -> (z̄, log σz²)``; decoder:
    ``latent_dim -> 64 -> 64 -> 64 -> n_features``; linear outputs. ``forward`` returns
    ``(x_hat, z_mean, z_logvar)``: in training mode the decoder gets a sample
    z = z̄ + σz ε (the reparameterisation trick), in ``eval()`` mode it gets z = z̄ so that
    reconstructions are deterministic.

    Parameters
    ----------
    n_features : int
        Input dimension (6 for mj, τ21, τ32 of two jets).
    latent_dim : int, default 1
        Number of latent variables.
    hidden : sequence of int, default (64, 64, 64)
        Hidden widths of the encoder; the decoder uses them in reverse order.

    Shapes
    ------
    ``forward``: (n, n_features) -> ((n, n_features), (n, latent_dim), (n, latent_dim)).

    Examples
    --------
    >>> vae = SeluVAE(6).eval()
    >>> [tuple(t.shape) for t in vae(torch.zeros(5, 6))]
    [(5, 6), (5, 1), (5, 1)]
    """

    def __init__(self, n_features: int, latent_dim: int = 1, hidden=(64, 64, 64)):
        super().__init__(n_features, latent_dim, hidden, activation=nn.SELU)


class MassConditionedDecoder(nn.Module):
    """Decoder from the latent variable(s) *and* the (scaled) dijet mass to the features.

    Used after the VAE is trained: the encoder is frozen and this second decoder learns
    x ≈ D(z, m), so that scanning (z, mjj) shows what the latent space encodes at each mass.

    Parameters
    ----------
    latent_dim : int, default 1
    n_features : int, default 6
    hidden : sequence of int, default (64, 64, 64)

    Shapes
    ------
    ``forward(z, m)``: z (n, latent_dim), m (n, 1) -> (n, n_features).

    Examples
    --------
    >>> dec = MassConditionedDecoder(1, 6)
    >>> tuple(dec(torch.zeros(4, 1), torch.zeros(4, 1)).shape)
    (4, 6)
    """

    def __init__(self, latent_dim: int = 1, n_features: int = 6, hidden=(64, 64, 64)):
        super().__init__()
        _check_sizes(latent_dim=latent_dim, n_features=n_features)
        self.latent_dim, self.n_features = int(latent_dim), int(n_features)
        self.net = mlp([self.latent_dim + 1, *[int(h) for h in hidden], self.n_features], nn.SELU)

    def forward(self, z: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim or m.shape != (len(z), 1):
            raise ValueError(
                f"expected z of shape (n, {self.latent_dim}) and m of shape (n, 1); got "
                f"{tuple(z.shape)} and {tuple(m.shape)}"
            )
        return self.net(torch.cat([z, m], dim=1))


def kl_peak(kl, rise: int = 5, fall: int = 5):
    """The KL-peak early-stopping rule, as a pure function of a validation-KL curve.

    A peak at epoch p is *observed* once the KL has increased at each of the ``rise`` epochs
    up to p (kl[p-rise] < ... < kl[p]) and then decreased at each of the ``fall`` epochs after
    it (kl[p] > ... > kl[p+fall]). Training stops at the first epoch where that is true,
    stop = p + fall, and the network kept is the one of maximum KL among epochs 0..stop. If no
    peak is observed, training runs to the end and the epoch of maximum KL is kept. Equal
    consecutive values (a plateau) break a run: a rise or fall must be strict.

    Parameters
    ----------
    kl : array_like, shape (n_epochs,)
        Mean KL of the validation events after each epoch, epoch 0 first.
    rise, fall : int, default 5
        Minimum numbers of consecutive rising and falling epochs.

    Returns
    -------
    best : int
        Epoch (0-based) whose network to keep: argmax of kl[:stop + 1] (first if tied).
    stop : int or None
        Epoch at which training stops, or None if no peak has been observed yet.

    Raises
    ------
    ValueError
        If ``kl`` is empty, not 1-D or not finite, or ``rise``/``fall`` is not a positive
        integer.

    Examples
    --------
    >>> curve = [1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1, 0]   # rises 5 times, then falls 5 times
    >>> kl_peak(curve)
    (5, 10)
    >>> kl_peak([1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1])  # the plateau at the top breaks the run
    (5, None)
    >>> kl_peak([3, 2, 1, 0])                          # never peaks: keep the maximum so far
    (0, None)
    """
    for name, v in (("rise", rise), ("fall", fall)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer number of epochs, got {v!r}")
    rise, fall = int(rise), int(fall)
    k = np.asarray(kl, dtype=float)
    if k.ndim != 1 or len(k) == 0:
        raise ValueError(f"kl must be a non-empty 1-D curve (one value per epoch), got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError("kl contains NaN or infinite values; check the training (loss diverged?)")
    up = np.diff(k) > 0     # up[i]: kl[i+1] > kl[i]
    down = np.diff(k) < 0
    for p in range(rise, len(k) - fall):
        if up[p - rise : p].all() and down[p : p + fall].all():
            stop = p + fall
            return int(np.argmax(k[: stop + 1])), stop
    return int(np.argmax(k)), None


def adadelta(lr: float = 0.1, rho: float = 0.95, eps: float = 1e-7):
    """An optimizer factory ``params -> torch.optim.Adadelta`` for :func:`train_kl_peak`.

    The defaults ρ = 0.95 and ε = 1e-7 are TensorFlow's (whose default learning rate is
    1e-3; PyTorch's is 1.0). A ``functools.partial``, so its settings enter checkpoint keys.
    """
    if not (lr > 0 and 0 < rho < 1 and eps > 0):
        raise ValueError(f"Adadelta needs lr > 0, 0 < rho < 1, eps > 0; got {lr}, {rho}, {eps}")
    return functools.partial(torch.optim.Adadelta, lr=float(lr), rho=float(rho), eps=float(eps))


def _as_float_tensor(x, name):
    arr = x.detach().cpu().float() if isinstance(x, torch.Tensor) else torch.as_tensor(
        np.asarray(x, dtype=np.float32))
    if arr.ndim != 2 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty (n_events, n_features) table, got shape {tuple(arr.shape)}")
    if not torch.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean or drop those events first")
    return arr


def _hash_arrays(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _kl_peak_callback(x_val, rise, fall, max_epochs, monitor):
    """on_epoch_end for training.fit: record the validation KL, stop at its peak, keep its weights."""
    state = {"best_kl": -np.inf, "best": None}

    def on_epoch_end(model, history):
        z_mean, z_logvar = _encode_batched(model, x_val)
        kl_val = float(kl_divergence(z_mean, z_logvar).mean())
        history.setdefault("val_kl", []).append(kl_val)
        if monitor is not None:
            for key, fn in monitor.items():
                history.setdefault(key, []).append(float(fn(model)))
        if kl_val > state["best_kl"]:
            state["best_kl"], state["best"] = kl_val, copy.deepcopy(model.state_dict())
        best, stop = kl_peak(history["val_kl"], rise, fall)
        done = stop is not None or len(history["val_kl"]) >= max_epochs
        if done:
            model.load_state_dict(state["best"])
            history["kl_peak_epoch"] = best
            history["stopped_at_peak"] = stop is not None
        return done

    return on_epoch_end


def _encode_batched(model, x, batch_size=8192):
    return predict(model, lambda m, xb: m.encode(xb), x, batch_size)


def train_kl_peak(model, loss_fn, x_train, x_val, *, name: str, epochs: int = 100,
                  batch_size: int = 1000, optimizer=None, seed: int = 0, rise: int = 5,
                  fall: int = 5, monitor: dict | None = None, monitor_key=None,
                  settings: dict | None = None, progress: bool = True):
    """Train a VAE with KL-peak early stopping, or load the identical earlier run.

    Seeds torch with ``seed`` (initial weights and the reparameterisation noise), trains with
    :func:`jetad_utils.training.train_or_load` (so a rerun with the same model, loss, data and
    settings loads the checkpoint instead of training), records the mean validation KL after
    every epoch and applies :func:`kl_peak`: training stops at the first observed peak, or
    after ``epochs``, and the weights of the epoch of maximum validation KL are the ones kept
    (and saved).

    Parameters
    ----------
    model : SeluVAE
        Freshly constructed; it is re-initialised here from ``seed``.
    loss_fn : callable
        ``loss_fn(model, x_batch) -> scalar tensor`` (written in the notebook).
    x_train, x_val : array_like, shape (n, n_features)
        Scaled features; ``x_val`` gives the KL curve of the stopping rule.
    name : str
        Checkpoint label.
    epochs : int, default 100
        Maximum number of epochs.
    batch_size : int, default 1000
    optimizer : callable or str, optional
        ``params -> Optimizer`` (e.g. :func:`adadelta`, ``functools.partial(torch.optim.Adam,
        lr=1e-3)``) or a name understood by :func:`jetad_utils.training.fit`; default
        ``adadelta()``.
    seed : int
    rise, fall : int
        Parameters of :func:`kl_peak`.
    monitor : dict of str -> callable, optional
        Extra curves recorded after every epoch, ``{key: fn(model) -> float}`` (e.g. an AUC on
        labelled events: a diagnostic only, never used for stopping).
    monitor_key : array_like or str, optional
        Whatever identifies the monitor's data (e.g. the labelled events), hashed into the
        checkpoint key so that a changed monitor retrains.
    settings : dict, optional
        Anything else defining the run, recorded in the checkpoint key.
    progress : bool

    Returns
    -------
    model : SeluVAE
        In eval mode, with the weights of the kept epoch.
    history : dict
        ``train_loss``, ``val_loss`` and ``val_kl`` per epoch, the monitored curves,
        ``kl_peak_epoch`` (0-based), ``stopped_at_peak``, ``epochs`` run, ``loaded``.
    """
    if not isinstance(model, SeluVAE):
        raise TypeError(f"train_kl_peak trains a SeluVAE, got {type(model).__name__}")
    xt = _as_float_tensor(x_train, "x_train")
    xv = _as_float_tensor(x_val, "x_val")
    for name_, x in (("x_train", xt), ("x_val", xv)):
        if x.shape[1] != model.n_features:
            raise ValueError(f"{name_} has {x.shape[1]} features but the model expects {model.n_features}")
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    optimizer = adadelta() if optimizer is None else optimizer
    torch.manual_seed(int(seed))
    fresh = type(model)(model.n_features, model.latent_dim,
                        hidden=[m.out_features for m in model.encoder if isinstance(m, nn.Linear)][:-1])
    model.load_state_dict(fresh.state_dict())
    callback = _kl_peak_callback(xv, rise, fall, int(epochs), monitor)
    key = dict(settings or {}, rise=rise, fall=fall, monitor=sorted(monitor or {}),
               monitor_key=monitor_key if isinstance(monitor_key, str) or monitor_key is None
               else _hash_arrays(*monitor_key) if isinstance(monitor_key, (tuple, list))
               else _hash_arrays(monitor_key))
    model, history = train_or_load(
        model, loss_fn, xt, xv, name=name, settings=key, epochs=int(epochs),
        batch_size=int(batch_size), optimizer=optimizer, seed=int(seed), progress=progress,
        desc=name, on_epoch_end=callback)
    model.eval()
    return model, history


def encode(model, x):
    """Latent means and standard deviations of events, as NumPy arrays.

    Parameters
    ----------
    model : SeluVAE
    x : array_like, shape (n, n_features)
        Scaled features.

    Returns
    -------
    z_mean, z_sigma : ndarray, shape (n, latent_dim)
    """
    z_mean, z_logvar = _encode_batched(model, _as_float_tensor(x, "x"))
    return z_mean.numpy().astype(float), np.exp(0.5 * z_logvar.numpy().astype(float))


def event_kl(model, x):
    """Per-event KL divergence (nats) of the model's posterior to N(0, 1), shape (n,).

    A divergence, not an anomaly score (see notebook 07 for which tail is anomalous).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> kl = event_kl(SeluVAE(6), np.zeros((3, 6)))
    >>> kl.shape, bool((kl >= 0).all())
    ((3,), True)
    """
    z_mean, z_logvar = _encode_batched(model, _as_float_tensor(x, "x"))
    return kl_divergence(z_mean, z_logvar).numpy().astype(float)


def ensemble_kl(models, x):
    """Mean and standard deviation of the per-event KL over an ensemble of trained VAEs.

    Parameters
    ----------
    models : sequence of SeluVAE
        Independently trained runs (different seeds).
    x : array_like, shape (n, n_features)

    Returns
    -------
    mean, std : ndarray, shape (n,)
        Average over runs of :func:`event_kl`, and its spread (0 for a single model).
    """
    models = list(models)
    if not models:
        raise ValueError("ensemble_kl needs at least one trained model")
    kls = np.stack([event_kl(m, x) for m in models])
    return kls.mean(axis=0), kls.std(axis=0)


def event_reconstruction_error(model, x):
    """Per-event mean squared reconstruction error with z = z̄ (eval mode), shape (n,).

    Higher = worse reconstructed = more anomalous (the classic autoencoder score).
    """
    out = predict(model, lambda m, xb: ((m(xb)[0] - xb) ** 2).mean(dim=1),
                  _as_float_tensor(x, "x"), 8192)
    return out.numpy().astype(float)


@torch.no_grad()
def decode_grid(decoder, z_values, mjj_values, mjj_mean, mjj_std, inverse_transform=None):
    """Reconstructed features on a (z, mjj) grid from a :class:`MassConditionedDecoder`.

    Parameters
    ----------
    decoder : MassConditionedDecoder
        With ``latent_dim == 1``.
    z_values : array_like, shape (n_z,)
        Latent values.
    mjj_values : array_like, shape (n_m,)
        Dijet masses in GeV.
    mjj_mean, mjj_std : float
        The standardisation of the mass input used in training (m_scaled = (m - mean) / std).
    inverse_transform : callable, optional
        Maps decoder outputs (n, n_features) back to physical units (e.g. a fitted scaler's
        ``inverse_transform``).

    Returns
    -------
    ndarray, shape (n_z, n_m, n_features)
    """
    if decoder.latent_dim != 1:
        raise ValueError("decode_grid scans one latent variable; the decoder has "
                         f"latent_dim = {decoder.latent_dim}")
    if not (mjj_std > 0):
        raise ValueError(f"mjj_std must be positive, got {mjj_std}")
    z = np.asarray(z_values, dtype=np.float32).ravel()
    m = np.asarray(mjj_values, dtype=np.float32).ravel()
    if len(z) == 0 or len(m) == 0:
        raise ValueError("z_values and mjj_values must be non-empty")
    zz, mm = np.meshgrid(z, (m - mjj_mean) / mjj_std, indexing="ij")
    with evaluating(decoder):
        out = decoder(torch.as_tensor(zz.reshape(-1, 1), dtype=torch.float32),
                      torch.as_tensor(mm.reshape(-1, 1), dtype=torch.float32)).numpy()
    if inverse_transform is not None:
        out = np.asarray(inverse_transform(out))
    return out.reshape(len(z), len(m), -1)
