"""Set-VAE and CLIP-VAE on jet constituents (Liu, Gandrakota, Ngadiuba, Spiropulu, Vlimant,
arXiv 2311.17162), used by notebook 06.

A jet is a set of particles, each with continuous kinematics and a discrete particle class.
The **Set-VAE** encodes the set with a permutation-invariant deep set (the encoder of notebook
05, :class:`jetad_utils.sets.DeepSetEncoder`) and decodes it *conditioned on the input's
particle classes*: the latent vector z is broadcast to one output slot per input particle,
and each slot adds an embedding of that particle's class and a sinusoidal encoding of its
"identification number" (its rank among the particles of the same class: the first photon,
the second photon, ...), so that the slots differ. The decoder returns that particle's
kinematics. The reconstruction loss is the Chamfer loss restricted to particles of the same
class (:func:`class_matched_chamfer`, the paper's Eq. 1). The **CLIP-VAE** is the same
network trained with the KL term back-propagated only for the fraction of jets in each
batch with the lowest reconstruction loss (:func:`setvae_loss` with ``clip_fraction``); its
anomaly score is the KL divergence alone, so inference needs no decoder.

Inputs (:func:`constituent_features`), per particle, from the data layer's ``parts``::

    x0 = (log(pT / pT_jet) + 5) / 1.5        x1 = (log(E / E_jet) + 5) / 1.5
    x2 = Δη / 0.25                            x3 = Δφ / 0.25

The shifts and scales put every feature at zero mean and unit spread within a factor 2 for
550–650 GeV jets (log pT_rel has median ≈ −5.3 and a 1–99 % range of ≈ [−9.5, −1.7]; Δη and
Δφ have a standard deviation of ≈ 0.25 rad). E_jet is the jet's energy from (pT, η, m).

What the decoder reconstructs (the ``target``) is t = (10 · pT/pT_jet, Δη, Δφ), and the
distance in the Chamfer loss is the one of the authors' code, which weights the angular
mismatch by the input particle's momentum fraction (hard particles must land in the right
place, soft ones hardly matter, as in an energy mover's distance)::

    d(t_i, t'_j) = (t_i0 − t'_j0)² + t_i0² ‖(Δη, Δφ)_i − (Δη, Δφ)'_j‖² / a²,   a = 0.15

(``angular_scale=None`` gives the plain squared Euclidean distance instead). Particle classes (codes 1 ... 8,
0 = padding): h⁺, h⁻, h⁰ (neutral hadron), γ, e⁻, e⁺, μ⁻, μ⁺ (:data:`PID_NAMES`), from the
data layer's signed ``pid`` (:data:`PID_CODES`).

Scores: **higher = more anomalous** (:func:`score_jets`).

Examples
--------
>>> x = torch.tensor([[[0.0], [1.0], [5.0]]]); types = torch.tensor([[1, 1, 2]])
>>> y = torch.tensor([[[0.0], [0.5], [4.0]]])
>>> class_matched_chamfer(x, y, types, reduction="sum", angular_scale=None)   # ½[1.25 + 1.25]
tensor([1.2500])
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .losses import kl_divergence
from .models import check_set, mlp, reparameterise
from .sets import DeepSetEncoder
from .training import predict, train_or_load

__all__ = [
    "PID_CODES", "PID_NAMES", "N_PID", "ANGULAR_SCALE", "SIGNAL_CLASSES", "CLASS_LABELS", "PAPER_EFFICIENCIES",
    "NSUB_COEFFICIENTS", "constituent_features", "class_ranks", "sinusoidal_encoding",
    "SetVAE", "class_matched_chamfer", "class_matched_chamfer_loop", "setvae_loss",
    "score_jets", "nsubjettiness_score", "jet_class_samples", "train_setvae",
    "efficiency_table", "count_flops",
]

#: the data layer's signed ``pid`` codes (jetad_utils.gen_jets) in the order of classes 1 ... 8
PID_CODES = (1, -1, 2, 3, -4, 4, -5, 5)
#: names of classes 1 ... 8 (0 is padding)
PID_NAMES = ("h+", "h-", "h0", "photon", "e-", "e+", "mu-", "mu+")
N_PID = len(PID_CODES)

#: the nine signal classes in the column order of the paper's Tables 1 and 2
SIGNAL_CLASSES = ("h4q", "hbb", "hcc", "hgg", "hlqq", "w", "z", "tbl", "top")
CLASS_LABELS = {"h4q": "H→4q", "hbb": "H→bb", "hcc": "H→cc", "hgg": "H→gg", "hlqq": "H→ℓνqq",
                "w": "W→qq", "z": "Z→qq", "tbl": "t→bℓν", "top": "t→bqq", "qcd": "QCD"}

#: signal efficiency (%) at background rejection 100 in the paper (deep-set models, Tables 1
#: and 2; JetClass jets with Delphes, means of five runs), columns as SIGNAL_CLASSES
PAPER_EFFICIENCIES = {
    "Set-VAE, PID": (5.9, 7.1, 6.4, 0.6, 57, 6.7, 5.7, 77, 18.1),
    "Set-VAE, no PID": (4.2, 1.1, 2.6, 0.4, 28, 4.8, 3.4, 35, 9.1),
    "CLIP-VAE, PID": (5.8, 5.1, 5.2, 0.4, 35, 3.5, 3.3, 53, 22),
    "CLIP-VAE, no PID": (1.0, 2.2, 6.3, 0.2, 19, 6.0, 5.2, 49, 4),
    "N-subjettiness": (0.6, 1.9, 5.0, 0.2, 19, 4.1, 3.5, 31, 8.8),
}

#: the paper's logistic N-subjettiness baseline: s = σ(c0 − c1 τ21 − c2 τ32 − c3 τ42)
NSUB_COEFFICIENTS = (9.9, 7.2, 3.3, 3.4)

_LOG_SHIFT, _LOG_SCALE, _ANGLE_SCALE, _PT_SCALE = 5.0, 1.5, 0.25, 10.0

#: a in the momentum-weighted distance of the Chamfer loss (rad)
ANGULAR_SCALE = 0.15


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def constituent_features(data: dict, n_max: int = 64) -> dict:
    """Scaled per-particle inputs, targets, particle classes and mask of the leading particles.

    Parameters
    ----------
    data : dict
        A ``"jets"`` sample of :func:`jetad_utils.data.load` (keys ``parts`` (n, M, 4) with
        (pT [GeV], Δη, Δφ [rad], E [GeV]), ``pid``, ``mask``, ``jet_pt``, ``jet_eta``,
        ``jet_mass``).
    n_max : int
        Particles kept per jet (the highest-pT ones; the data layer stores them pT-ordered).

    Returns
    -------
    dict
        ``x`` (n, n_max, 4) float32 (the scaled features of the module docstring, 0 for
        padding), ``target`` (n, n_max, 3) float32 (10 · pT/pT_jet, Δη, Δφ), ``types``
        (n, n_max) int64 (classes 1 ... 8, 0 for padding), ``mask`` (n, n_max) bool.

    Examples
    --------
    >>> jet = {"parts": np.array([[[55.0, 0.1, -0.25, 110.0], [0.0, 0.0, 0.0, 0.0]]]),
    ...        "pid": np.array([[3, 0]]), "mask": np.array([[True, False]]),
    ...        "jet_pt": np.array([550.0]), "jet_eta": np.array([0.0]), "jet_mass": np.array([0.0])}
    >>> f = constituent_features(jet, n_max=2)
    >>> np.round(f["x"][0, 0], 3), f["types"][0], f["mask"][0]
    (array([ 1.798,  2.26 ,  0.4  , -1.   ], dtype=float32), array([4, 0]), array([ True, False]))
    >>> f["target"][0, 0]
    array([ 1.  ,  0.1 , -0.25], dtype=float32)
    """
    missing = [k for k in ("parts", "pid", "mask", "jet_pt", "jet_eta", "jet_mass") if k not in data]
    if missing:
        raise KeyError(f"constituent_features needs a 'jets' sample from jetad_utils.data.load; "
                       f"missing key(s) {missing}")
    if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < 1:
        raise ValueError(f"n_max must be a positive integer, got {n_max!r}")
    parts = np.asarray(data["parts"], dtype=np.float64)[:, :n_max]
    mask = np.asarray(data["mask"], dtype=bool)[:, :n_max]
    pid = np.asarray(data["pid"])[:, :n_max]
    jet_pt = np.asarray(data["jet_pt"], dtype=np.float64)[:, None]
    jet_e = np.sqrt(np.asarray(data["jet_mass"], np.float64) ** 2
                    + (jet_pt[:, 0] * np.cosh(np.asarray(data["jet_eta"], np.float64))) ** 2)[:, None]
    pt = np.where(mask, parts[..., 0], 1.0)
    e = np.where(mask, parts[..., 3], 1.0)
    x = np.stack([(np.log(pt / jet_pt) + _LOG_SHIFT) / _LOG_SCALE,
                  (np.log(e / jet_e) + _LOG_SHIFT) / _LOG_SCALE,
                  parts[..., 1] / _ANGLE_SCALE, parts[..., 2] / _ANGLE_SCALE], axis=-1)
    x = np.where(mask[..., None], x, 0.0).astype(np.float32)
    target = np.stack([_PT_SCALE * pt / jet_pt, parts[..., 1], parts[..., 2]], axis=-1)
    target = np.where(mask[..., None], target, 0.0).astype(np.float32)
    types = np.zeros(pid.shape, dtype=np.int64)
    for k, code in enumerate(PID_CODES, start=1):
        types[(pid == code) & mask] = k
    if np.any(mask & (types == 0)):
        bad = sorted(set(np.unique(pid[mask & (types == 0)]).tolist()))
        raise ValueError(f"unknown particle class code(s) {bad} in 'pid'; expected {PID_CODES}")
    return {"x": x, "target": target, "types": types, "mask": mask}


def class_ranks(types: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Each particle's identification number: its rank among the earlier particles of its class.

    Parameters
    ----------
    types : LongTensor (n, N)
        Classes (0 = padding). Pass zeros (or all equal values) to get plain positions.
    mask : BoolTensor (n, N), optional

    Returns
    -------
    LongTensor (n, N)
        0 for the first particle of a class in the set, 1 for the second, ...; 0 for padding.

    Examples
    --------
    >>> class_ranks(torch.tensor([[3, 1, 3, 3, 1, 0]]))
    tensor([[0, 0, 1, 2, 1, 0]])
    """
    types = types.long()
    mask = types > 0 if mask is None else mask.bool()
    onehot = torch.nn.functional.one_hot(types.clamp(min=0), int(types.max().clamp(min=0)) + 1)
    onehot = onehot * mask[..., None]
    rank = onehot.cumsum(dim=1).gather(2, types.clamp(min=0)[..., None])[..., 0] - 1
    return torch.where(mask, rank, torch.zeros_like(rank))


def sinusoidal_encoding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal encoding of integer positions (Vaswani et al.): sin / cos of pos / 10000^(2i/d).

    positions (...) -> (..., dim); ``dim`` must be even.

    Examples
    --------
    >>> sinusoidal_encoding(torch.tensor([0, 1]), 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    angle = positions.float()[..., None] * freq
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------
class SetVAE(nn.Module):
    """Set-VAE: a deep-set encoder and a decoder conditioned on the input particles' classes.

    Encoder: :class:`jetad_utils.sets.DeepSetEncoder` (Φ = ``encoder_layers`` × ``hidden``
    ReLU per particle on the features and, with ``use_pid``, the one-hot class, then FSPool)
    -> (mu, log σ²) of a ``latent_dim``-dimensional Gaussian. Permutation invariant.

    Decoder, per input slot j: h_j = W z + e(c_j) + PE(r_j), with e a learned embedding of the
    particle class c_j and PE the sinusoidal encoding of its identification number r_j
    (:func:`class_ranks`); then ``decoder_layers`` layers (ReLU) -> the slot's ``n_outputs``
    kinematics (the target t of the module docstring; the first output goes through exp, so
    the reconstructed momentum fraction is positive). Without PID the class embedding is dropped
    and r_j is the position in the (pT-ordered) set.

    Parameters
    ----------
    n_features, n_outputs : int
        Encoder inputs and decoder outputs per particle.
    use_pid : bool
        Give the particle classes to encoder and decoder (and match by class in the loss).
    latent_dim, hidden, encoder_layers, decoder_layers, n_pieces : int
    max_rank : int
        Largest identification number the positional encoding is built for.

    Shapes
    ------
    ``forward(x, types, mask)``: x (n, N, F), types (n, N), mask (n, N) -> dict ``mu``,
    ``logvar``, ``z`` (n, latent_dim) and, with ``decode=True``, ``recon`` (n, N, n_outputs).
    z is sampled in training mode and equals mu in eval mode.

    Examples
    --------
    >>> net = SetVAE(hidden=8).eval()
    >>> out = net(torch.zeros(2, 5, 4), torch.ones(2, 5, dtype=torch.long))
    >>> out["mu"].shape, out["recon"].shape
    (torch.Size([2, 16]), torch.Size([2, 5, 3]))
    """

    def __init__(self, n_features: int = 4, n_outputs: int = 3, use_pid: bool = True,
                 latent_dim: int = 16,
                 hidden: int = 64, encoder_layers: int = 3, decoder_layers: int = 3,
                 n_pieces: int = 20, max_rank: int = 256):
        super().__init__()
        self.n_features, self.n_outputs, self.use_pid = int(n_features), int(n_outputs), bool(use_pid)
        self.latent_dim, self.hidden = int(latent_dim), int(hidden)
        self.encoder = DeepSetEncoder(self.n_features, N_PID if self.use_pid else 0,
                                      self.latent_dim, self.hidden, encoder_layers, n_pieces)
        self.z_in = nn.Linear(self.latent_dim, self.hidden)
        self.pid_embedding = nn.Embedding(N_PID + 1, self.hidden) if self.use_pid else None
        self.register_buffer("positional", sinusoidal_encoding(torch.arange(max_rank), self.hidden),
                             persistent=False)
        self.decoder = nn.Sequential(nn.ReLU(), mlp([self.hidden] * decoder_layers
                                                       + [self.n_outputs], nn.ReLU))

    def _types(self, x, types):
        if types is None:
            if self.use_pid:
                raise ValueError("this Set-VAE was built with use_pid=True: pass types (n, N) "
                                 f"with classes 1 ... {N_PID} (0 for padding)")
            return torch.zeros(x.shape[:2], dtype=torch.long, device=x.device)
        if types.shape != x.shape[:2]:
            raise ValueError(f"types must be (n_jets, n_particles) = {tuple(x.shape[:2])}, got "
                             f"{tuple(types.shape)}")
        return types.long()

    def encode(self, x, types=None, mask=None):
        """(mu, logvar), each (n, latent_dim): the encoder alone (CLIP-VAE inference)."""
        mask = check_set(x, mask)
        types = self._types(x, types)
        return self.encoder(x, types if self.use_pid else None, mask)

    def decode(self, z, types, mask):
        """Kinematics (n, N, n_outputs) of one output per input slot, given the slots' classes."""
        mask = mask.bool()
        if self.use_pid:
            rank = class_ranks(types, mask)
            h = self.z_in(z)[:, None, :] + self.pid_embedding(types.clamp(min=0) * mask)
        else:
            rank = class_ranks(torch.ones_like(types) * mask, mask)
            h = self.z_in(z)[:, None, :].expand(-1, types.shape[1], -1)
        if int(rank.max()) >= len(self.positional):
            raise ValueError(f"a set has more than {len(self.positional)} particles of one class: "
                             "build the SetVAE with a larger max_rank")
        out = self.decoder(h + self.positional[rank])
        return torch.cat([out[..., :1].clamp(max=20.0).exp(), out[..., 1:]], dim=-1)

    def forward(self, x, types=None, mask=None, decode: bool = True):
        mask = check_set(x, mask)
        types = self._types(x, types)
        mu, logvar = self.encoder(x, types if self.use_pid else None, mask)
        z = reparameterise(mu, logvar, self.training)
        out = {"mu": mu, "logvar": logvar, "z": z}
        if decode:
            out["recon"] = self.decode(z, types, mask)
        return out


# --------------------------------------------------------------------------------------------
# losses and scores
# --------------------------------------------------------------------------------------------
def _reduce(total, mask, reduction):
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / mask.sum(dim=1).clamp(min=1)
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def _distances(x, y, angular_scale):
    """(n, N, N) matrix of d(x_i, y_j): momentum-weighted, or squared Euclidean if no scale."""
    def sq(a, b):        # ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b: no square root, finite gradients
        return torch.baddbmm(a.pow(2).sum(-1)[:, :, None] + b.pow(2).sum(-1)[:, None, :], a,
                             b.transpose(1, 2), alpha=-2.0).clamp(min=0.0)
    if angular_scale is None:
        return sq(x, y)
    if x.shape[-1] != 3:
        raise ValueError("the momentum-weighted distance needs 3 features per particle "
                         f"(10 pT/pT_jet, Δη, Δφ), got {x.shape[-1]}; or pass angular_scale=None")
    dpt = (x[..., 0][:, :, None] - y[..., 0][:, None, :]).pow(2)
    return dpt + (x[..., 0].pow(2) / angular_scale ** 2)[:, :, None] * sq(x[..., 1:], y[..., 1:])


def class_matched_chamfer(x: torch.Tensor, y: torch.Tensor, types=None, mask=None,
                          reduction: str = "sum", angular_scale: float | None = ANGULAR_SCALE
                          ) -> torch.Tensor:
    """The class-matched Chamfer loss (Liu et al., Eq. 1) per jet, vectorised.

    Output slot j is the reconstruction of input slot j and carries its class c_j::

        L = ½ [ Σ_i min_{j: c_j = c_i} d(x_i, y_j) + Σ_j min_{i: c_i = c_j} d(x_i, y_j) ]

    over the real particles i, j: every input is matched to its nearest output *of the same
    class* and every output to its nearest input of the same class. ``types=None`` matches
    across classes (the loss without PID). The distance is the momentum-weighted one of the
    module docstring, d = (x0 − y0)² + x0² ‖Δ(η, φ)‖² / a² on (10 pT/pT_jet, Δη, Δφ), or with
    ``angular_scale=None`` the squared Euclidean distance ‖x − y‖² of any features.
    ``reduction="sum"`` is Eq. 1 as written (a jet's loss grows with its number of
    particles and, through the weights x0², with how much of its momentum hard particles
    carry); ``"mean"`` divides by the number of particles, as the authors' code does.
    One distance matrix per batch: no loop over jets or particles.

    Parameters
    ----------
    x, y : Tensor (n, N, F)
        Targets and their reconstructions (padded alike).
    types : LongTensor (n, N), optional
    mask : BoolTensor (n, N), optional
    reduction : {"mean", "sum"}
    angular_scale : float or None
        a (rad); None for the squared Euclidean distance.

    Returns
    -------
    Tensor (n,)
    """
    mask = check_set(x, mask)
    if y.shape != x.shape:
        raise ValueError(f"y must have the shape of x {tuple(x.shape)}, got {tuple(y.shape)}")
    d = _distances(x, y, angular_scale)                                  # (n, N, N)
    valid = mask[:, :, None] & mask[:, None, :]
    if types is not None:
        if types.shape != x.shape[:2]:
            raise ValueError(f"types must be (n_jets, n_particles) = {tuple(x.shape[:2])}, got "
                             f"{tuple(types.shape)}")
        valid = valid & (types[:, :, None] == types[:, None, :])
    d = d.masked_fill(~valid, math.inf)
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    to_out = torch.where(mask, d.min(dim=2).values, zero)      # input i -> nearest output j
    to_in = torch.where(mask, d.min(dim=1).values, zero)       # output j -> nearest input i
    return _reduce(0.5 * (to_out.sum(dim=1) + to_in.sum(dim=1)), mask, reduction)


def class_matched_chamfer_loop(x, y, types=None, mask=None, reduction: str = "sum",
                               angular_scale: float | None = ANGULAR_SCALE):
    """:func:`class_matched_chamfer` written with explicit loops (a reference for tests)."""
    mask = check_set(x, mask)

    def d(a, b):
        if angular_scale is None:
            return float(((a - b) ** 2).sum())
        return float((a[0] - b[0]) ** 2 + a[0] ** 2 * ((a[1:] - b[1:]) ** 2).sum() / angular_scale ** 2)

    out = []
    for k in range(x.shape[0]):
        idx = [i for i in range(x.shape[1]) if mask[k, i]]
        total = 0.0
        for i in idx:
            same = [j for j in idx if types is None or int(types[k, j]) == int(types[k, i])]
            total += 0.5 * min(d(x[k, i], y[k, j]) for j in same)     # input i -> outputs
            total += 0.5 * min(d(x[k, j], y[k, i]) for j in same)     # output i -> inputs
        out.append(total / max(len(idx), 1) if reduction == "mean" else total)
    return torch.tensor(out, dtype=x.dtype)


def setvae_loss(model: SetVAE, x, target, types, mask, beta: float,
                clip_fraction: float | None = None, angular_scale: float | None = ANGULAR_SCALE):
    """Batch loss: mean reconstruction + β · mean KL (Set-VAE), or with the KL term clipped.

    The reconstruction term is :func:`class_matched_chamfer` between ``target`` and the
    decoder's output (matched by class when the model uses PID).

    With ``clip_fraction`` f (CLIP-VAE), the KL term is averaged only over the ⌈f · n⌉ jets of
    the batch with the lowest reconstruction loss (no gradient flows from the KL of the
    others), so that badly reconstructed jets are not pulled towards the prior. KL is summed
    over the latent dimensions (:func:`jetad_utils.losses.kl_divergence`).

    Returns
    -------
    Tensor (scalar)
    """
    out = model(x, types, mask)
    rec = class_matched_chamfer(target, out["recon"], types if model.use_pid else None, mask,
                                angular_scale=angular_scale)
    kl = kl_divergence(out["mu"], out["logvar"])
    if clip_fraction is None:
        return rec.mean() + beta * kl.mean()
    if not 0.0 < clip_fraction <= 1.0:
        raise ValueError(f"clip_fraction must be in (0, 1], got {clip_fraction}")
    keep = torch.argsort(rec.detach())[: max(1, math.ceil(clip_fraction * len(rec)))]
    return rec.mean() + beta * kl[keep].mean()


@torch.no_grad()
def score_jets(model: SetVAE, sample: dict, *, batch_size: int = 2048, decode: bool = True,
               angular_scale: float | None = ANGULAR_SCALE) -> dict:
    """Anomaly scores per jet, **higher = more anomalous**.

    ``"kl"``: KL(q(z|jet) ‖ N(0, 1)) from the encoder alone (the CLIP-VAE score); with
    ``decode=True`` also ``"recon"``: the class-matched Chamfer loss of the reconstruction
    from z = mu (the Set-VAE score).

    Parameters
    ----------
    model : SetVAE
    sample : dict
        ``x``, ``target``, ``types``, ``mask`` as from :func:`constituent_features`.

    Returns
    -------
    dict of numpy.ndarray (n,)
    """
    def scores(m, batch):
        xb, target_b, tb, mb = batch
        out = m(xb, tb, mb, decode=decode)
        res = {"kl": kl_divergence(out["mu"], out["logvar"])}
        if decode:
            res["recon"] = class_matched_chamfer(target_b, out["recon"], tb if m.use_pid else None,
                                                 mb, angular_scale=angular_scale)
        return res

    return {k: v.numpy() for k, v in predict(model, scores, tuple(_tensors(sample)), batch_size).items()}


def nsubjettiness_score(taus, coefficients=NSUB_COEFFICIENTS) -> np.ndarray:
    """The paper's logistic N-subjettiness baseline s = σ(c0 − c1 τ21 − c2 τ32 − c3 τ42).

    Higher = more anomalous (more prongs resolved: small ratios). The coefficients
    (9.9, 7.2, 3.3, 3.4) were fitted by the authors on JetClass jets, all nine signals
    against QCD with equal weight.

    Parameters
    ----------
    taus : array_like (n, 4)
        τ1 ... τ4.
    coefficients : 4 floats

    Returns
    -------
    numpy.ndarray (n,) in (0, 1)

    Examples
    --------
    >>> np.round(nsubjettiness_score(np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 0.2, 0.1, 0.1]])), 3)
    array([0.018, 0.994])
    """
    from .features import tau_ratios

    c0, c1, c2, c3 = (float(c) for c in coefficients)
    t21, t32, t42 = tau_ratios(taus)
    return 1.0 / (1.0 + np.exp(-(c0 - c1 * t21 - c2 * t32 - c3 * t42)))


# --------------------------------------------------------------------------------------------
# data, training, evaluation
# --------------------------------------------------------------------------------------------
def jet_class_samples(n_qcd: int, n_signal: int, classes=SIGNAL_CLASSES, *, n_max: int = 64,
                      seed: int = 0, progress: bool = True) -> dict:
    """QCD and signal jets as network inputs: {class: features + ``taus``}.

    Loads (generating and caching on first use) ``n_qcd`` QCD jets and ``n_signal`` jets of
    each class in ``classes`` with :func:`jetad_utils.data.load`, and returns for each the
    :func:`constituent_features` plus ``taus``, ``jet_mass`` and ``n_particles`` (all the
    jet's stored particles, before the cut to ``n_max``).
    """
    from . import data

    unknown = [c for c in classes if c not in SIGNAL_CLASSES]
    if unknown:
        raise ValueError(f"unknown signal class(es) {unknown}; choose from {SIGNAL_CLASSES}")
    out = {}
    for cls, n in [("qcd", n_qcd), *[(c, n_signal) for c in classes]]:
        jets = data.load("jets", n, seed=seed, cls=cls, progress=progress)
        out[cls] = {**constituent_features(jets, n_max), "taus": jets["taus"],
                    "jet_mass": jets["jet_mass"], "n_particles": jets["mask"].sum(axis=1)}
    return out


def _tensors(sample):
    missing = [k for k in ("x", "target", "types", "mask") if k not in sample]
    if missing:
        raise KeyError(f"a Set-VAE sample needs x, target, types and mask (constituent_features); "
                       f"missing {missing}")
    return (torch.as_tensor(np.asarray(sample["x"])).float(),
            torch.as_tensor(np.asarray(sample["target"])).float(),
            torch.as_tensor(np.asarray(sample["types"])).long(),
            torch.as_tensor(np.asarray(sample["mask"])).bool())


def train_setvae(train: dict, val: dict, *, use_pid: bool, beta: float,
                 clip_fraction: float | None = None, name: str, seed: int = 0,
                 epochs: int = 30, batch_size: int = 256, lr: float = 1e-3, patience: int = 4,
                 progress: bool = True, directory=None, **model_kwargs):
    """Train a :class:`SetVAE` on background jets (or load the identical earlier run).

    AdamW (amsgrad, weight decay 0.01), learning rate ``lr``, batches of 256 as in the
    authors' setup; early stopping on the validation loss with ``patience``; through
    :func:`jetad_utils.training.train_or_load`, so a rerun loads the checkpoint.

    Parameters
    ----------
    train, val : dict
        ``x``, ``target``, ``types``, ``mask`` as from :func:`constituent_features`.
    use_pid, beta, clip_fraction
        See :class:`SetVAE` and :func:`setvae_loss` (``clip_fraction=None``: Set-VAE).
    directory : path, optional
        Checkpoint directory (default :func:`jetad_utils.checkpoint_dir`).
    **model_kwargs
        Passed to :class:`SetVAE` (``latent_dim``, ``hidden``, ...).

    Returns
    -------
    model : SetVAE (eval mode), history : dict
    """

    torch.manual_seed(seed)
    model = SetVAE(use_pid=use_pid, **model_kwargs)

    def loss_fn(net, batch):
        x, target, types, mask = batch
        return setvae_loss(net, x, target, types, mask, beta, clip_fraction)

    return train_or_load(model, loss_fn, _tensors(train), _tensors(val), name=name,
                         settings={"use_pid": bool(use_pid), "beta": float(beta),
                                   "clip_fraction": clip_fraction, **model_kwargs},
                         epochs=epochs, batch_size=batch_size, seed=seed, patience=patience,
                         optimizer=lambda p: torch.optim.AdamW(p, lr=lr, amsgrad=True),
                         progress=progress, desc=name, directory=directory)


def efficiency_table(qcd_score, signal_scores: dict, rejection: float = 100.0) -> dict:
    """Signal efficiency at background rejection ``rejection`` for each signal class.

    Parameters
    ----------
    qcd_score : array (n_b,)
        Scores of the test QCD jets (higher = more anomalous).
    signal_scores : dict
        {class: scores of that class's test jets}.

    Returns
    -------
    dict
        {class: εS at εB = 1 / rejection}.

    Examples
    --------
    >>> efficiency_table(np.arange(100.0), {"top": np.array([99.5, 98.5, 50.0, 10.0])})
    {'top': 0.5}
    """
    from .metrics import efficiency_at_rejection

    qcd_score = np.asarray(qcd_score, dtype=np.float64)
    if len(qcd_score) < rejection:
        raise ValueError(f"{len(qcd_score)} background jets cannot measure a rejection of "
                         f"{rejection:g}: use at least {int(np.ceil(rejection))} (better 10x more)")
    out = {}
    for cls, s in signal_scores.items():
        s = np.asarray(s, dtype=np.float64)
        y = np.r_[np.zeros(len(qcd_score)), np.ones(len(s))]
        out[cls] = float(efficiency_at_rejection(y, np.r_[qcd_score, s], rejection))
    return out


def count_flops(fn, *args) -> int:
    """Floating-point operations of ``fn(*args)`` counted by :mod:`torch.utils.flop_counter`.

    Counts matrix products (linear layers, batched matmuls), 2 FLOPs per multiply-add;
    elementwise operations and sorting are not counted.

    Examples
    --------
    >>> count_flops(nn.Linear(3, 2, bias=False), torch.zeros(5, 3))
    60
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())
