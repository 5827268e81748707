"""Networks on sets: featurewise sort pooling, a deep-set β-VAE, the modified Chamfer loss.

The pieces of the deep-set β variational autoencoder of Ostdiek (SciPost Phys. 12, 045) for
whole events (notebook 05), written so that they work on any padded set: whole events as
object lists, jets as constituent lists (notebook 06), any number of features and of classes.

Conventions (as everywhere in :mod:`jetad_utils`)
-------------------------------------------------
* A batch of sets is ``x`` (n, N, F) float, padded, with a boolean ``mask`` (n, N) (True =
  a real element) and, optionally, integer ``types`` (n, N) with 1 ... ``n_types`` for real
  elements and 0 for padding.
* Scores: **higher = more anomalous**. The anomaly score of an event is its loss.

What is here
------------
:func:`event_features`
    Dark-Machines-like events (:mod:`jetad_utils.gen_events`) -> (log10 E, log10 pT, eta, phi)
    per object, the object type and the mask. MET is an object of its own (type 8) with
    eta = 0 (it has none) and the **energy placeholder E = MET** (so log10 E = log10 MET).
:class:`FSPool`
    Featurewise sort pooling (Zhang, Hare, Prügel-Bennett, arXiv 1906.02795): every feature is
    sorted over the real elements of a set and summed with learned weights that are a
    piecewise-linear function of the relative rank. Permutation invariant by construction.
:class:`DeepSetEncoder`, :class:`SetDecoder`, :class:`DeepSetVAE`
    Φ (3 × 256 ReLU per element -> 2 × latent) + FSPool -> (mu, log sigma²); the decoder
    (2 × 256 ELU) maps z and the fraction of occupied rows to a fixed number of output
    elements, each with features and class logits (class 0 = "no object").
:func:`chamfer_loss`
    The modified Chamfer loss with a class term weighted by w, vectorised with
    :func:`torch.cdist` (no loop over events or elements); :func:`chamfer_loss_loop` is the
    same definition written with a loop over events (a reference and the benchmark baseline).
:func:`event_loss`, :func:`score_events`
    β·KL + (1 − β)·Chamfer per event (the KL: :func:`jetad_utils.losses.kl_divergence`); β = 1
    is the "fixed-target" limit without a decoder.
:func:`significance_improvements`, :func:`total_improvements`
    SI = εS/√εB at fixed εB, with weighted backgrounds and a rule for εB points the test
    sample is too small to measure (reported as NaN, never extrapolated).
:func:`channel_samples`, :func:`fit_scaler`, :func:`train_deepset`, :func:`run_scan`
    Data preparation per channel (inputs standardised with the training background's mean
    and standard deviation per feature), the paper's training schedule through
    :func:`jetad_utils.training.train_or_load`, and the (β, w) scan; from the command line:
    ``python -m jetad_utils.sets scan --help``.

Examples
--------
>>> x = torch.tensor([[[1.0], [3.0], [2.0]]])       # one set of three elements
>>> pool = FSPool(1, n_pieces=2)
>>> _ = pool.weight.data.copy_(torch.tensor([[1.0, 0.0, -1.0]]))   # max - min
>>> pool(x).detach()
tensor([[2.]])
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .losses import kl_divergence
from .models import check_set, mlp, reparameterise
from .training import predict, train_or_load

__all__ = [
    "N_TYPES", "NO_OBJECT", "EPS_B", "MIN_EFFECTIVE_EVENTS", "CHANNEL_BACKGROUNDS", "FULL_SIZES", "SPLIT",
    "CHANNEL_SIGNALS", "event_features", "FSPool", "DeepSetEncoder", "SetDecoder", "DeepSetVAE",
    "chamfer_loss", "chamfer_loss_loop", "event_loss", "score_events",
    "significance_improvements", "best_significance_improvement", "total_improvements",
    "fit_scaler", "apply_scaler", "channel_samples", "signal_samples", "train_deepset", "run_scan", "main",
]

#: object types of the events (j, b, e-, e+, mu-, mu+, gamma, MET: codes 1 ... 8)
N_TYPES = 8
#: the decoder's extra class for an output row that is not an object
NO_OBJECT = 0
#: background efficiencies of the figures of merit
EPS_B = (1e-2, 1e-3, 1e-4)
#: a background efficiency is measurable only if the selected test background holds at least
#: this many effective events, (sum w)^2 / sum w^2
MIN_EFFECTIVE_EVENTS = 10.0

#: backgrounds generated for each channel (``data.load("events", n, process=p, channel=c)``).
#: Channel 3 leaves out ``qcd`` (see the events section of data/README.md: at particle level
#: its channel-3 content is a statistically unusable tail of heavy-flavour neutrinos) and the
#: low-pTHat ``ttbar`` slice (0.2 % efficiency: 15 % of channel 3's tt-bar); both are measured
#: and discussed in notebook 05.
CHANNEL_BACKGROUNDS = {
    "1": ("ttbar_boosted", "wjets", "znunu"),
    "2b": ("ttbar", "ttbar_boosted", "ztautau", "diboson"),
    "3": ("ttbar_boosted", "wjets", "znunu"),
}
#: full-mode background events per process in each channel (``jetad-data prepare``)
FULL_SIZES = {"1": 5_000, "2b": 5_000, "3": 10_000}
#: train / validation / test fractions of each background process
SPLIT = (0.5, 0.1, 0.4)
#: signals evaluated in each channel (selected from the unfiltered signal samples)
CHANNEL_SIGNALS = {
    "1": ("zp_dm", "zp_ttbar", "excited_q"),
    "2b": ("zp_ttbar", "lq_pair"),
    "3": ("zp_dm", "zp_ttbar", "wp_lnu", "excited_q"),
}


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def event_features(data: dict, *, min_energy: float = 1e-2):
    """Per-object network inputs of Dark-Machines-like events.

    Parameters
    ----------
    data : dict
        ``objects`` (n, rows, 4) with (E, pT, eta, phi) in GeV and radians, ``obj_id`` (n, rows)
        with codes 1 ... 8 (8 = MET) and 0 for padding (the layout of
        :func:`jetad_utils.gen_events.generate_events`).
    min_energy : float
        Floor (GeV) before the logarithm, so a zero MET gives a finite input.

    Returns
    -------
    x : numpy.ndarray, (n, rows, 4) float32
        (log10 E/GeV, log10 pT/GeV, eta, phi); zeros in padding rows. For MET, eta = 0 (MET
        has no eta) and E = MET is a placeholder (MET has no energy): log10 E = log10 MET.
    types : numpy.ndarray, (n, rows) int64
        Object codes 1 ... 8, 0 for padding.
    mask : numpy.ndarray, (n, rows) bool
        True for real objects (including MET).

    Examples
    --------
    >>> obj = np.zeros((1, 3, 4), np.float32); ids = np.zeros((1, 3), np.int8)
    >>> obj[0, 0] = (100.0, 10.0, 1.0, 0.5); ids[0, 0] = 1
    >>> obj[0, 2] = (50.0, 50.0, 0.0, -1.0); ids[0, 2] = 8
    >>> x, t, m = event_features({"objects": obj, "obj_id": ids})
    >>> x[0].astype(float).round(3).tolist(), t.tolist(), m.tolist()
    ([[2.0, 1.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [1.699, 1.699, 0.0, -1.0]], [[1, 0, 8]], [[True, False, True]])
    """
    for key in ("objects", "obj_id"):
        if key not in data:
            raise ValueError(f"event_features needs data[{key!r}] (the 'events' layout of "
                             f"jetad_utils.gen_events); present keys: {', '.join(map(str, data))}")
    objects = np.asarray(data["objects"], dtype=np.float64)
    types = np.asarray(data["obj_id"]).astype(np.int64)
    if objects.ndim != 3 or objects.shape[-1] != 4 or types.shape != objects.shape[:2]:
        raise ValueError(f"objects must be (n, rows, 4) and obj_id (n, rows); got "
                         f"{objects.shape} and {types.shape}")
    if types.min(initial=0) < 0 or types.max(initial=0) > N_TYPES:
        raise ValueError(f"obj_id must hold codes 0 ... {N_TYPES}")
    mask = types > 0
    x = np.zeros(objects.shape, dtype=np.float32)
    x[..., 0] = np.log10(np.maximum(objects[..., 0], min_energy))
    x[..., 1] = np.log10(np.maximum(objects[..., 1], min_energy))
    x[..., 2:] = objects[..., 2:]
    x[~mask] = 0.0
    return x, types, mask


# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------
class FSPool(nn.Module):
    """Featurewise sort pooling of a padded set (Zhang, Hare, Prügel-Bennett, arXiv 1906.02795).

    For each feature c, the values of the n real elements are sorted in decreasing order,
    v_(0) >= ... >= v_(n-1), and pooled as sum_i f_c(i / (n - 1)) v_(i), where f_c is a learned
    piecewise-linear function on [0, 1] with ``n_pieces`` pieces (``n_pieces + 1`` knots). With
    knots (1, 0, ..., 0, -1) it is max - min; with all knots 1 it is the sum. Sorting makes the
    result independent of the order of the elements; padding (``mask`` False) is ignored.

    Parameters
    ----------
    n_features : int
        Features per element, C.
    n_pieces : int
        Pieces of each f_c (20 in Ostdiek's network).

    Shapes
    ------
    ``forward(x, mask)``: x (n, N, C), mask (n, N) bool -> (n, C). An empty set gives 0.
    """

    def __init__(self, n_features: int, n_pieces: int = 20):
        super().__init__()
        if n_features < 1 or n_pieces < 1:
            raise ValueError(f"n_features and n_pieces must be positive, got {n_features}, {n_pieces}")
        self.n_pieces = int(n_pieces)
        self.weight = nn.Parameter(torch.randn(n_features, n_pieces + 1))

    def relative_weights(self, n: torch.Tensor, n_max: int) -> torch.Tensor:
        """f_c(i / (n - 1)) for ranks i < n_max of sets with n real elements: (len(n), n_max, C)."""
        rank = torch.arange(n_max, device=n.device, dtype=torch.float32)
        r = (rank[None, :] / (n[:, None].float() - 1).clamp(min=1)).clamp(max=1)
        t = r * self.n_pieces
        left = t.floor().long().clamp(max=self.n_pieces)
        right = (left + 1).clamp(max=self.n_pieces)
        frac = (t - left.float())[..., None]
        knots = self.weight.t()                                   # (P + 1, C)
        return (1 - frac) * knots[left] + frac * knots[right]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = check_set(x, mask)
        if x.shape[-1] != self.weight.shape[0]:
            raise ValueError(f"FSPool was built for {self.weight.shape[0]} features, got "
                             f"{x.shape[-1]}")
        n = mask.sum(dim=1)
        ranked, _ = x.masked_fill(~mask[..., None], -math.inf).sort(dim=1, descending=True)
        real = torch.arange(x.shape[1], device=x.device)[None, :] < n[:, None]     # (n, N)
        ranked = torch.where(real[..., None], ranked, torch.zeros((), dtype=x.dtype, device=x.device))
        return (ranked * self.relative_weights(n, x.shape[1])).sum(dim=1)


def _one_hot_inputs(x, types, n_types):
    if n_types == 0:
        return x
    if types is None:
        raise ValueError(f"this network was built with n_types={n_types}: pass types (n, N) "
                         "with codes 1 ... n_types (0 for padding)")
    if types.shape != x.shape[:2]:
        raise ValueError(f"types must be (n_sets, n_elements) = {tuple(x.shape[:2])}, got "
                         f"{tuple(types.shape)}")
    onehot = F.one_hot(types.long().clamp(0, n_types), n_types + 1)[..., 1:].to(x.dtype)
    return torch.cat([x, onehot], dim=-1)


class DeepSetEncoder(nn.Module):
    """Φ per element, then FSPool: a set -> (mu, log sigma²) of a Gaussian latent.

    Φ: (features + one-hot type) -> ``n_layers`` × ``hidden`` ReLU -> 2 × ``latent_dim``
    (Ostdiek: 3 × 256 -> 16 = 8 means and 8 log-variances); FSPool pools each of the
    2 × latent_dim outputs over the real elements.

    Parameters
    ----------
    n_features : int
        Continuous features per element, F.
    n_types : int
        Element types (codes 1 ... n_types, one-hot encoded); 0 for untyped sets.
    latent_dim, hidden, n_layers, n_pieces : int

    Shapes
    ------
    ``forward(x, types, mask)``: x (n, N, F), types (n, N) int, mask (n, N) bool ->
    mu, logvar, each (n, latent_dim).
    """

    def __init__(self, n_features: int = 4, n_types: int = N_TYPES, latent_dim: int = 8,
                 hidden: int = 256, n_layers: int = 3, n_pieces: int = 20):
        super().__init__()
        self.n_features, self.n_types, self.latent_dim = int(n_features), int(n_types), int(latent_dim)
        self.phi = mlp([self.n_features + self.n_types, *[hidden] * n_layers,
                           2 * self.latent_dim], nn.ReLU)
        self.pool = FSPool(2 * self.latent_dim, n_pieces)

    def per_element(self, x, types=None):
        """Φ of every element (padding included): (n, N, 2 × latent_dim)."""
        if x.dim() != 3 or x.shape[-1] != self.n_features:
            raise ValueError(f"x must be (n_sets, n_elements, {self.n_features}), got {tuple(x.shape)}")
        return self.phi(_one_hot_inputs(x, types, self.n_types))

    def forward(self, x, types=None, mask=None):
        mask = check_set(x, mask)
        pooled = self.pool(self.per_element(x, types), mask)
        return pooled[:, : self.latent_dim], pooled[:, self.latent_dim:]


class SetDecoder(nn.Module):
    """Latent vector -> a fixed-size output set: features and class logits per output row.

    ``n_inputs`` -> ``n_layers`` × ``hidden`` ELU -> two heads: ``set_size`` × ``n_features``
    (e.g. 20 four-vectors) and ``set_size`` × ``n_classes`` logits (e.g. 9: "no object" = 0 and
    the 8 object types).

    Shapes
    ------
    ``forward(z)``: (n, n_inputs) -> features (n, set_size, n_features), logits
    (n, set_size, n_classes).
    """

    def __init__(self, n_inputs: int = 9, n_features: int = 4, n_classes: int = N_TYPES + 1,
                 set_size: int = 20, hidden: int = 256, n_layers: int = 2):
        super().__init__()
        self.set_size, self.n_features, self.n_classes = int(set_size), int(n_features), int(n_classes)
        self.body = nn.Sequential(*[m for i in range(n_layers) for m in
                                    (nn.Linear(n_inputs if i == 0 else hidden, hidden), nn.ELU())])
        self.features = nn.Linear(hidden, self.set_size * self.n_features)
        self.classes = nn.Linear(hidden, self.set_size * self.n_classes) if self.n_classes else None

    def forward(self, z):
        h = self.body(z)
        vec = self.features(h).view(len(z), self.set_size, self.n_features)
        logits = (self.classes(h).view(len(z), self.set_size, self.n_classes)
                  if self.classes is not None else None)
        return vec, logits


class DeepSetVAE(nn.Module):
    """Deep-set β-VAE (Ostdiek, SciPost Phys. 12, 045): encoder, reparameterisation, decoder.

    The decoder receives z and the fraction of occupied rows (mask mean), as in the authors'
    network, so it knows how many objects to produce. ``decoder=False`` builds the encoder only
    (β = 1 needs no decoder).

    Parameters
    ----------
    n_features, n_types, latent_dim, hidden, encoder_layers, n_pieces
        See :class:`DeepSetEncoder`.
    set_size, decoder_layers
        See :class:`SetDecoder` (``n_classes = n_types + 1``).
    decoder : bool

    Shapes
    ------
    ``forward(x, types, mask)`` returns a dict: ``mu``, ``logvar``, ``z`` (n, latent_dim), and
    with a decoder ``vec`` (n, set_size, n_features) and ``logits`` (n, set_size, n_types + 1).
    z is sampled in training mode and equals mu in eval mode (deterministic scores).

    Examples
    --------
    >>> net = DeepSetVAE(hidden=16)
    >>> out = net(torch.zeros(2, 21, 4), torch.ones(2, 21, dtype=torch.long))
    >>> out["mu"].shape, out["vec"].shape, out["logits"].shape
    (torch.Size([2, 8]), torch.Size([2, 20, 4]), torch.Size([2, 20, 9]))
    """

    def __init__(self, n_features: int = 4, n_types: int = N_TYPES, latent_dim: int = 8,
                 hidden: int = 256, encoder_layers: int = 3, set_size: int = 20,
                 decoder_layers: int = 2, n_pieces: int = 20, decoder: bool = True):
        super().__init__()
        self.encoder = DeepSetEncoder(n_features, n_types, latent_dim, hidden, encoder_layers,
                                      n_pieces)
        self.decoder = (SetDecoder(latent_dim + 1, n_features, n_types + 1 if n_types else 0,
                                   set_size, hidden, decoder_layers) if decoder else None)

    def encode(self, x, types=None, mask=None):
        """(mu, logvar), each (n, latent_dim)."""
        return self.encoder(x, types, mask)

    def forward(self, x, types=None, mask=None, decode: bool = True):
        mask = check_set(x, mask)
        mu, logvar = self.encoder(x, types, mask)
        z = reparameterise(mu, logvar, self.training)
        out = {"mu": mu, "logvar": logvar, "z": z}
        if decode and self.decoder is not None:
            occupied = mask.float().mean(dim=1, keepdim=True)
            out["vec"], out["logits"] = self.decoder(torch.cat([z, occupied], dim=1))
        return out


# --------------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------------
def _output_rows(logits, n_rows, device):
    """Output rows that are objects: class argmax != NO_OBJECT (all rows without classes)."""
    if logits is None:
        return torch.ones(n_rows, dtype=torch.bool, device=device)
    return logits.argmax(dim=-1) != NO_OBJECT


def chamfer_loss(x: torch.Tensor, types, mask, vec: torch.Tensor, logits=None,
                 w: float = 1.0, out_mask=None) -> torch.Tensor:
    """The modified Chamfer loss of Ostdiek (eq. 5) per set, vectorised.

    With d(a, b) the Euclidean distance between feature vectors, input elements a (real, with
    type t_a) and output rows b (those whose most probable class is not "no object", or
    ``out_mask``) with class log-probabilities log p_b(k)::

        L = Σ_a [ min_b d(a, b) − w log p_b*(t_a) ],  b* = argmin_b d(a, b)
          + Σ_b [ min_a d(a, b) − w log p_b(t_a*) ],  a* = argmin_a d(a, b)

    (the paper writes "+ w log p"; a loss to minimise needs −w log p, as its authors' code
    does). Every input element is matched to its nearest output and every output to its
    nearest input; the class term asks the matched output to carry the input's type. All
    distances come from one :func:`torch.cdist` call: no loop over sets or elements.

    Parameters
    ----------
    x : Tensor (n, N, F)
        Input sets (padded).
    types : LongTensor (n, N) or None
        Input types, 1 ... C−1 (0 for padding); None drops the class term.
    mask : BoolTensor (n, N) or None
        Real input elements (None: all).
    vec : Tensor (n, S, F)
        Output features.
    logits : Tensor (n, S, C) or None
        Output class logits, class 0 = "no object".
    w : float
        Weight of the class term (0 gives the plain Chamfer distance).
    out_mask : BoolTensor (n, S), optional
        Output rows that take part; default: class argmax != 0 (all rows without logits).

    Returns
    -------
    Tensor (n,)
        The loss of each set (sums over elements, not means).

    Examples
    --------
    >>> a = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]]); b = torch.tensor([[[0.0, 0.0], [0.0, 2.0]]])
    >>> chamfer_loss(a, None, None, b)       # 0 + 1 (inputs), 0 + 2 (outputs)
    tensor([3.])
    """
    mask = check_set(x, mask)
    if vec.dim() != 3 or vec.shape[0] != x.shape[0] or vec.shape[-1] != x.shape[-1]:
        raise ValueError(f"vec must be (n_sets, set_size, {x.shape[-1]}) with n_sets = "
                         f"{x.shape[0]}, got {tuple(vec.shape)}")
    if out_mask is None:
        out_mask = _output_rows(logits, vec.shape[:2], vec.device)
    use_class = logits is not None and types is not None and w != 0
    dist = torch.cdist(x, vec)                                       # (n, N, S)
    big = torch.finfo(dist.dtype).max
    # inputs -> nearest output row (among the rows that are objects)
    d_in, j_near = dist.masked_fill(~out_mask[:, None, :], big).min(dim=2)        # (n, N)
    has_out = out_mask.any(dim=1)                                                 # (n,)
    # outputs -> nearest real input element
    d_out, i_near = dist.masked_fill(~mask[:, :, None], big).min(dim=1)           # (n, S)
    term_in = torch.where(mask & has_out[:, None], d_in, torch.zeros_like(d_in))
    term_out = torch.where(out_mask & mask.any(dim=1)[:, None], d_out, torch.zeros_like(d_out))
    if use_class:
        logp = torch.log_softmax(logits, dim=-1)                                  # (n, S, C)
        t_in = types.long().clamp(min=0)
        lp_in = logp.gather(1, j_near[..., None].expand(-1, -1, logp.shape[-1]))  # (n, N, C)
        lp_in = lp_in.gather(2, t_in[..., None])[..., 0]                          # (n, N)
        t_out = t_in.gather(1, i_near)                                            # (n, S)
        lp_out = logp.gather(2, t_out[..., None])[..., 0]                         # (n, S)
        term_in = term_in - w * torch.where(mask & has_out[:, None], lp_in, torch.zeros_like(lp_in))
        term_out = term_out - w * torch.where(out_mask & mask.any(dim=1)[:, None], lp_out,
                                              torch.zeros_like(lp_out))
    return term_in.sum(dim=1) + term_out.sum(dim=1)


def chamfer_loss_loop(x, types, mask, vec, logits=None, w: float = 1.0, out_mask=None):
    """:func:`chamfer_loss` written with a Python loop over the sets (same numbers, slow).

    What one writes first (and what the authors' training did): per set, select the real
    inputs and the output rows, compute their distance matrix and the two nearest-neighbour
    terms. Kept as a readable reference and as the baseline of ``benchmarks/chamfer.py``.
    """
    mask = check_set(x, mask)
    if out_mask is None:
        out_mask = _output_rows(logits, vec.shape[:2], vec.device)
    use_class = logits is not None and types is not None and w != 0
    losses = []
    for k in range(len(x)):
        a, b = x[k][mask[k]], vec[k][out_mask[k]]
        if len(a) == 0 or len(b) == 0:
            losses.append(x.new_zeros(()))
            continue
        d = torch.cdist(a[None], b[None])[0]
        d_in, j = d.min(dim=1)
        d_out, i = d.min(dim=0)
        loss = d_in.sum() + d_out.sum()
        if use_class:
            logp = torch.log_softmax(logits[k][out_mask[k]], dim=-1)
            t = types[k][mask[k]].long()
            loss = loss - w * logp[j, t].sum() - w * logp[torch.arange(len(b)), t[i]].sum()
        losses.append(loss)
    return torch.stack(losses)


def event_loss(model: DeepSetVAE, x, types, mask, beta: float, w: float = 1.0) -> torch.Tensor:
    """β·KL + (1 − β)·Chamfer per event (n,); β = 1 runs no decoder. Higher = more anomalous.

    z is sampled in training mode and equals mu in eval mode (:class:`DeepSetVAE`).
    """
    beta = float(beta)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    out = model(x, types, mask, decode=beta < 1.0)
    loss = beta * kl_divergence(out["mu"], out["logvar"])
    if beta < 1.0:
        if "vec" not in out:
            raise ValueError("beta < 1 needs a decoder: build DeepSetVAE(..., decoder=True)")
        loss = loss + (1.0 - beta) * chamfer_loss(x, types, mask, out["vec"], out["logits"], w)
    return loss


@torch.no_grad()
def score_events(model: DeepSetVAE, x, types, mask, beta: float, w: float = 1.0,
                 batch_size: int = 2000) -> np.ndarray:
    """Anomaly score of each event: its loss :func:`event_loss` with z = mu (eval mode).

    Higher = more anomalous. Inputs may be numpy arrays or tensors; returns (n,) float64.
    """
    device = next(model.parameters()).device
    x, types, mask = (torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
                      for a in (x, types, mask))
    if len(x) == 0:
        return np.zeros(0)

    def loss(m, batch):
        xb, tb, mb = batch
        return event_loss(m, xb.float().to(device), tb.long().to(device), mb.bool().to(device),
                          beta, w).cpu().double()

    return predict(model, loss, (x, types, mask), batch_size).numpy()


# --------------------------------------------------------------------------------------------
# figures of merit
# --------------------------------------------------------------------------------------------
def significance_improvements(score_bkg, score_sig, eps_b=EPS_B, *, weight_bkg=None,
                              weight_sig=None, min_effective=MIN_EFFECTIVE_EVENTS) -> dict:
    """SI = εS/√εB at fixed background efficiencies (scores: higher = more anomalous).

    For each εB the threshold is the score above which the (weighted) test background has a
    fraction εB of its weight; εS is the (weighted) fraction of signal at or above it. The SI
    is NaN ("too small to measure") when the selected background holds fewer than
    ``min_effective`` effective events (Σw)²/Σw²: a test background of N unweighted events
    measures εB only down to about ``min_effective / N``. Nothing is extrapolated.

    Parameters
    ----------
    score_bkg, score_sig : array_like (n_b,), (n_s,)
    eps_b : sequence of float in (0, 1]
    weight_bkg, weight_sig : array_like, optional
        Event weights (e.g. pb per event); default 1.
    min_effective : float

    Returns
    -------
    dict
        εB -> SI (float, NaN when not measurable).

    Examples
    --------
    >>> b = np.arange(1000.0); s = np.r_[np.full(30, 2000.0), np.zeros(70)]
    >>> {k: round(v, 2) for k, v in significance_improvements(b, s, (0.1, 0.01, 0.001)).items()}
    {0.1: 0.95, 0.01: 3.0, 0.001: nan}
    """
    sb = np.asarray(score_bkg, dtype=np.float64).ravel()
    ss = np.asarray(score_sig, dtype=np.float64).ravel()
    wb = np.ones_like(sb) if weight_bkg is None else np.asarray(weight_bkg, np.float64).ravel()
    ws = np.ones_like(ss) if weight_sig is None else np.asarray(weight_sig, np.float64).ravel()
    if len(sb) == 0 or len(ss) == 0:
        raise ValueError("significance_improvements needs non-empty background and signal scores")
    if wb.shape != sb.shape or ws.shape != ss.shape:
        raise ValueError("weights must have the same length as their scores")
    if np.any(wb < 0) or np.any(ws < 0) or wb.sum() <= 0 or ws.sum() <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    if not (np.all(np.isfinite(sb)) and np.all(np.isfinite(ss))):
        raise ValueError("scores must be finite")
    order = np.argsort(-sb, kind="stable")
    s_sorted, w_sorted = sb[order], wb[order]
    cum = np.cumsum(w_sorted) / w_sorted.sum()
    cum2 = np.cumsum(w_sorted ** 2)
    out = {}
    for eps in eps_b:
        eps = float(eps)
        if not 0 < eps <= 1:
            raise ValueError(f"eps_b values must be in (0, 1], got {eps}")
        k = int(np.searchsorted(cum, eps - 1e-12))          # first index with cum >= eps
        k = min(k, len(cum) - 1)
        threshold = s_sorted[k]
        sel = s_sorted >= threshold
        n_sel = int(sel.sum())
        w_sel = cum[n_sel - 1] * w_sorted.sum()
        n_eff = w_sel ** 2 / cum2[n_sel - 1]
        if n_eff < min_effective:
            out[eps] = float("nan")
            continue
        eps_real = cum[n_sel - 1]
        eps_s = ws[ss >= threshold].sum() / ws.sum()
        out[eps] = float(eps_s / np.sqrt(eps_real))
    return out


def best_significance_improvement(si: dict) -> float:
    """The largest measurable SI of a :func:`significance_improvements` result (NaN if none)."""
    vals = [v for v in si.values() if np.isfinite(v)]
    return float(max(vals)) if vals else float("nan")


def total_improvements(records) -> dict:
    """Total improvement TI per (beta, w) and signal: the best SI over channels.

    Parameters
    ----------
    records : iterable of dict
        Each with ``beta``, ``w``, ``channel``, ``signal`` and ``best_si`` (as
        :func:`run_scan` returns).

    Returns
    -------
    dict
        (beta, w) -> {signal: TI}; a signal that no channel measures gets NaN.

    Examples
    --------
    >>> recs = [dict(beta=1.0, w=10.0, channel="1", signal="a", best_si=2.0),
    ...         dict(beta=1.0, w=10.0, channel="3", signal="a", best_si=3.0)]
    >>> total_improvements(recs)
    {(1.0, 10.0): {'a': 3.0}}
    """
    out: dict = {}
    for r in records:
        key = (float(r["beta"]), float(r["w"]))
        prev = out.setdefault(key, {}).get(r["signal"], float("nan"))
        val = float(r["best_si"])
        out[key][r["signal"]] = val if not np.isfinite(prev) else (max(prev, val) if np.isfinite(val) else prev)
    return out


# --------------------------------------------------------------------------------------------
# data and training
# --------------------------------------------------------------------------------------------
def fit_scaler(sample: dict):
    """Mean and standard deviation of each input feature over the real objects of a sample.

    Parameters
    ----------
    sample : dict
        With ``x`` (n, N, F) and ``mask`` (n, N) (as :func:`channel_samples` returns).

    Returns
    -------
    mean, std : numpy.ndarray, (F,) float32

    Examples
    --------
    >>> s = {"x": np.array([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]]), "mask": np.array([[True, True, False]])}
    >>> [a.tolist() for a in fit_scaler(s)]
    [[2.0, 1.0], [1.0, 1.0]]
    """
    real = np.asarray(sample["mask"], dtype=bool)
    if not real.any():
        raise ValueError("fit_scaler needs at least one real element (mask is all False)")
    vals = np.asarray(sample["x"], dtype=np.float64)[real]
    std = vals.std(axis=0)
    return vals.mean(axis=0).astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def apply_scaler(sample: dict, mean, std) -> dict:
    """A copy of ``sample`` with ``x`` standardised, (x - mean) / std, on real rows (padding 0)."""
    out = dict(sample)
    x = (np.asarray(sample["x"], dtype=np.float32) - mean) / std
    x[~np.asarray(sample["mask"], dtype=bool)] = 0.0
    out["x"] = x.astype(np.float32)
    return out


def _as_sample(events: dict, process: str) -> dict:
    x, types, mask = event_features(events)
    n = len(x)
    return {"x": x, "types": types, "mask": mask,
            "weight": np.asarray(events.get("weight", np.ones(n)), dtype=np.float64),
            "process": np.array([process] * n)}


def _concat(samples):
    return {k: np.concatenate([s[k] for s in samples]) for k in samples[0]}


def channel_samples(channel: str, n_per_process, processes=None, *, seed: int = 0,
                    fractions=SPLIT, progress: bool = True) -> dict:
    """Background of a channel, split into train / val / test, as network inputs with weights.

    ``n_per_process`` is an int (the same for every process) or a dict process -> n.

    Each background process is generated inside the channel
    (``data.load("events", n, process=p, channel=channel)``), so every event passes the
    channel's cuts and its ``weight`` (pb per event) makes the weights of a process sum to its
    cross-section in the channel. Each process is split in the given fractions (in generation
    order) so that the three sets hold the same Standard-Model mixture.

    Returns
    -------
    dict
        ``"train"``, ``"val"``, ``"test"`` -> dict with ``x`` (n, 21, 4), ``types`` (n, 21),
        ``mask`` (n, 21), ``weight`` (n,) in pb per event (scaled by 1/fraction so that each
        set's weights sum to the channel's cross-section), ``process`` (n,) names.
    """
    from . import data

    processes = CHANNEL_BACKGROUNDS[str(channel)] if processes is None else tuple(processes)
    if abs(sum(fractions) - 1) > 1e-9 or len(fractions) != 3 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    parts = {"train": [], "val": [], "test": []}
    for p in processes:
        n_p = n_per_process[p] if isinstance(n_per_process, dict) else n_per_process
        s = _as_sample(data.load("events", n_p, seed=seed, process=p,
                                 channel=str(channel), progress=progress), p)
        n = len(s["x"])
        edges = np.round(np.cumsum([0, *fractions]) * n).astype(int)
        for (name, f), a, b in zip(zip(parts, fractions), edges[:-1], edges[1:]):
            piece = {k: v[a:b] for k, v in s.items()}
            piece["weight"] = piece["weight"] / f
            parts[name].append(piece)
    return {k: _concat(v) for k, v in parts.items()}


def signal_samples(channel: str, n: int, signals=None, *, seed: int = 0,
                   progress: bool = True) -> dict:
    """Signal events in a channel: signal -> network-input dict (as :func:`channel_samples`).

    Signals are generated without a channel cut and selected with
    :func:`jetad_utils.gen_events.select_channel`; a signal with no event in the channel is
    left out.
    """
    from . import data
    from .gen_events import select_channel

    signals = CHANNEL_SIGNALS[str(channel)] if signals is None else tuple(signals)
    out = {}
    for s in signals:
        ev = select_channel(data.load("events", n, seed=seed, process=s, progress=progress),
                            str(channel))
        if len(ev["objects"]):
            out[s] = _as_sample(ev, s)
    return out


def _tensors(sample, with_weight=True):
    t = (torch.as_tensor(sample["x"]).float(), torch.as_tensor(sample["types"]).long(),
         torch.as_tensor(sample["mask"]).bool())
    if with_weight:
        w = torch.as_tensor(sample["weight"]).double()
        t = (*t, (w / w.mean()).float())
    return t


def train_deepset(train: dict, val: dict, *, beta: float, w: float, name: str, seed: int = 0,
                  epochs: int = 50, batch_size: int = 500, lr: float = 1e-3,
                  lr_patience: int = 2, stop_patience: int = 4, hidden: int = 256,
                  latent_dim: int = 8, progress: bool = True, **model_kwargs):
    """Train a :class:`DeepSetVAE` on background with the paper's schedule (or load it).

    Adam (learning rate ``lr``), batches of 500 events, the learning rate divided by 10 each
    time the validation loss has gone ``lr_patience`` epochs without improving, stop after
    ``stop_patience`` such epochs (best weights restored). The loss is the event-weighted mean
    of :func:`event_loss` (weights normalised to mean 1). β = 1 builds no decoder. Trained
    through :func:`jetad_utils.training.train_or_load`: a rerun loads the checkpoint.

    Parameters
    ----------
    train, val : dict
        As in :func:`channel_samples` (``x``, ``types``, ``mask``, ``weight``).
    beta, w : float
    name : str
        Checkpoint label.

    Returns
    -------
    model : DeepSetVAE (eval mode), history : dict
    """

    torch.manual_seed(seed)
    model = DeepSetVAE(hidden=hidden, latent_dim=latent_dim, decoder=float(beta) < 1.0,
                       **model_kwargs)
    state = {}

    def loss_fn(net, batch):
        x, types, mask, wt = batch
        return (wt * event_loss(net, x, types, mask, beta, w)).sum() / wt.sum()

    def make_optimizer(params):
        state["opt"] = torch.optim.Adam(params, lr=lr)
        return state["opt"]

    def divide_lr_on_plateau(net, history):
        losses = history["val_loss"]
        since_best = len(losses) - 1 - int(np.argmin(losses))
        if since_best > 0 and since_best % lr_patience == 0:
            for group in state["opt"].param_groups:
                group["lr"] /= 10.0
        return False

    return train_or_load(model, loss_fn, _tensors(train), _tensors(val), name=name,
                         settings={"beta": float(beta), "w": float(w), "hidden": hidden,
                                   "latent_dim": latent_dim, "lr_patience": lr_patience,
                                   **model_kwargs},
                         epochs=epochs, batch_size=batch_size, optimizer=make_optimizer,
                         patience=stop_patience, seed=seed, on_epoch_end=divide_lr_on_plateau,
                         progress=progress, desc=f"{name}")


def run_scan(channels, betas, ws, *, n_bkg: int, n_sig: int, seed: int = 0, epochs: int = 50,
             hidden: int = 256, eps_b=EPS_B, progress: bool = True) -> list[dict]:
    """Train and evaluate the deep-set VAE over a (β, w) grid in each channel.

    β = 1 ignores w (no decoder): it is trained once per channel and reported for every w.

    Returns
    -------
    list of dict
        One record per (channel, β, w, signal): ``channel``, ``beta``, ``w``, ``signal``,
        ``si`` ({εB: SI or NaN}), ``best_si``, ``n_test_bkg`` and the training ``epochs``.
        Pass it to :func:`total_improvements` for TI.
    """
    records = []
    for channel in channels:
        bkg = channel_samples(channel, n_bkg, seed=seed, fractions=SPLIT, progress=progress)
        sig = signal_samples(channel, n_sig, seed=seed, progress=progress)
        mean, std = fit_scaler(bkg["train"])
        bkg = {k: apply_scaler(v, mean, std) for k, v in bkg.items()}
        sig = {k: apply_scaler(v, mean, std) for k, v in sig.items()}
        test = bkg["test"]
        for beta in betas:
            for w in ([ws[0]] if float(beta) == 1.0 else ws):
                model, hist = train_deepset(bkg["train"], bkg["val"], beta=beta, w=w,
                                            name=f"sets-ch{channel}-b{beta:g}-w{w:g}",
                                            seed=seed, epochs=epochs, hidden=hidden,
                                            progress=progress)
                s_b = score_events(model, test["x"], test["types"], test["mask"], beta, w)
                for name, s in sig.items():
                    s_s = score_events(model, s["x"], s["types"], s["mask"], beta, w)
                    si = significance_improvements(s_b, s_s, eps_b, weight_bkg=test["weight"])
                    for w_rep in (ws if float(beta) == 1.0 else [w]):
                        records.append({"channel": str(channel), "beta": float(beta),
                                        "w": float(w_rep), "signal": name, "si": si,
                                        "best_si": best_significance_improvement(si),
                                        "n_test_bkg": int(len(s_b)),
                                        "epochs": int(hist["epochs"])})
    return records


def main(argv=None) -> int:
    """Command line: ``python -m jetad_utils.sets scan --channels 1 3 --betas 1e-3 1 ...``."""
    parser = argparse.ArgumentParser(prog="python -m jetad_utils.sets",
                                     description="Deep-set VAE (beta, w) scan on the events")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scan", help="train and evaluate over a (beta, w) grid")
    s.add_argument("--channels", nargs="+", default=["1", "2b", "3"])
    s.add_argument("--betas", nargs="+", type=float,
                   default=[1e-6, 1e-3, 0.1, 0.5, 0.8, 0.999, 1.0])
    s.add_argument("--ws", nargs="+", type=float, default=[1.0, 10.0, 100.0])
    s.add_argument("--n-bkg", type=int, default=None,
                   help="events per background process (default: the prepared full-mode "
                        "sizes, 10 000 in channel 3 and 5 000 in channels 1 and 2b)")
    s.add_argument("--n-sig", type=int, default=50_000, help="events per signal (before cuts)")
    s.add_argument("--epochs", type=int, default=100, help="at most (early stopping)")
    s.add_argument("--hidden", type=int, default=256)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="sets_scan.json", help="results file (JSON)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    records = []
    for channel in args.channels:
        n_bkg = args.n_bkg or FULL_SIZES.get(str(channel), 5_000)
        records += run_scan([channel], args.betas, args.ws, n_bkg=n_bkg, n_sig=args.n_sig,
                            seed=args.seed, epochs=args.epochs, hidden=args.hidden)
    Path(args.out).write_text(json.dumps(
        [{**r, "si": {str(k): v for k, v in r["si"].items()}} for r in records], indent=1))
    for (beta, w), ti in sorted(total_improvements(records).items()):
        vals = np.array([v for v in ti.values() if np.isfinite(v)])
        med = f"{np.median(vals):.2f}" if len(vals) else "n/a"
        mx = f"{vals.max():.2f}" if len(vals) else "n/a"
        print(f"beta={beta:g} w={w:g}: TI median {med}, max {mx}  "
              + ", ".join(f"{k} {v:.2f}" for k, v in sorted(ti.items())))
    print(f"{len(records)} records written to {args.out} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
