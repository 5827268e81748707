"""Networks trained in the notebooks: the one fully connected builder :func:`mlp`, the dense
autoencoder and VAE of notebook 01, the classifier of notebook 02, the image VAE of notebook 03.

Architectures only: the losses are in :mod:`jetad_utils.losses`, and the notebooks write their
losses and anomaly scores themselves and check them against those.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mlp", "reparameterise", "check_set", "DenseAutoencoder", "DenseVAE", "TorchMLPClassifier", "ConvVAE"]


def mlp(sizes, activation=nn.ReLU, final_activation=None) -> nn.Sequential:
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first.
    activation : type of nn.Module
        Between hidden layers.
    final_activation : type of nn.Module, optional
        After the last layer.

    Examples
    --------
    >>> net = mlp([4, 8, 2])
    >>> net(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"mlp needs at least two positive layer sizes, got {sizes}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    if final_activation is not None:
        layers.append(final_activation())
    return nn.Sequential(*layers)


def check_set(x: torch.Tensor, mask=None) -> torch.Tensor:
    """Validate a batch of padded sets and return its mask of real elements (bool).

    Parameters
    ----------
    x : Tensor, shape (n_sets, n_elements, n_features)
    mask : Tensor, shape (n_sets, n_elements), optional
        True for real elements; ``None`` means every element is real.

    Examples
    --------
    >>> check_set(torch.zeros(2, 3, 4)).shape
    torch.Size([2, 3])
    """
    if x.dim() != 3:
        raise ValueError(f"x must be (n_sets, n_elements, n_features), got shape {tuple(x.shape)}")
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask must be (n_sets, n_elements) = {tuple(x.shape[:2])}, got "
                         f"{tuple(mask.shape)}")
    return mask.bool()


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, sample: bool) -> torch.Tensor:
    """The latent point a VAE decodes: z = mu + sigma * eps with eps ~ N(0, 1) if ``sample``
    (training), else z = mu (evaluation: deterministic reconstructions and scores).

    The one reparameterisation of every VAE of the notebooks.

    Examples
    --------
    >>> mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    >>> bool((reparameterise(mu, logvar, sample=False) == mu).all())
    True
    >>> reparameterise(mu, logvar, sample=True).shape
    torch.Size([2, 3])
    """
    if not sample:
        return mu
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


class DenseAutoencoder(nn.Module):
    """Fully connected autoencoder ``x -> z -> x_hat`` for feature tables.

    Parameters
    ----------
    n_features : int
        Input dimension D.
    latent_dim : int
        Bottleneck size (smaller than D, or the network can learn the identity).
    hidden : sequence of int
        Hidden widths of the encoder; the decoder mirrors them.

    Shapes
    ------
    ``forward``: (n, D) -> (n, D); ``encode``: (n, D) -> (n, latent_dim).

    Examples
    --------
    >>> ae = DenseAutoencoder(4, 2)
    >>> ae(torch.zeros(5, 4)).shape
    torch.Size([5, 4])
    """

    def __init__(self, n_features: int, latent_dim: int, hidden=(32, 32)):
        super().__init__()
        if latent_dim < 1 or n_features < 1:
            raise ValueError("n_features and latent_dim must be positive")
        self.encoder = mlp([n_features, *hidden, latent_dim])
        self.decoder = mlp([latent_dim, *reversed(hidden), n_features])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class DenseVAE(nn.Module):
    """Fully connected variational autoencoder with a Gaussian encoder q(z|x) = N(mu, sigma^2).

    ``forward`` returns ``(x_hat, mu, logvar)``; the sample uses the reparameterisation
    z = mu + sigma * eps. In ``eval()`` mode the decoder uses z = mu (no sampling), so scores
    are deterministic.

    Parameters
    ----------
    n_features : int
    latent_dim : int
    hidden : sequence of int
        Encoder widths; the decoder uses them in reverse order.
    activation : type of nn.Module, default nn.ReLU
        Between hidden layers (notebook 07's :class:`jetad_utils.latent.SeluVAE` uses SELU).

    Examples
    --------
    >>> vae = DenseVAE(4, 2).eval()
    >>> [t.shape[1] for t in vae(torch.zeros(5, 4))]
    [4, 2, 2]
    """

    def __init__(self, n_features: int, latent_dim: int, hidden=(32, 32), activation=nn.ReLU):
        super().__init__()
        for name, value in (("n_features", n_features), ("latent_dim", latent_dim)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        hidden = tuple(int(h) for h in hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must be a non-empty sequence of positive widths, got {hidden}")
        self.n_features, self.latent_dim = int(n_features), int(latent_dim)
        self.encoder = mlp([self.n_features, *hidden, 2 * self.latent_dim], activation)
        self.decoder = mlp([self.latent_dim, *reversed(hidden), self.n_features], activation)

    def encode(self, x: torch.Tensor):
        """``(mu, logvar)``, each of shape (n, latent_dim)."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"expected inputs of shape (n_events, {self.n_features}), got {tuple(x.shape)}"
            )
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        return self.decoder(reparameterise(mu, logvar, self.training)), mu, logvar


class TorchMLPClassifier:
    """A small fully connected binary classifier with the scikit-learn interface.

    ``fit(X, y) -> self``, ``predict_proba(X) -> (n, 2)``, ``decision_function(X) -> (n,)``
    (the logit: higher = more like class 1). Inputs are standardised with the training
    mean and standard deviation; training uses :func:`jetad_utils.training.fit` with the binary
    cross-entropy, Adam, a 20 % validation split and early stopping, seeded by
    ``random_state``.

    Parameters
    ----------
    hidden : sequence of int
    epochs, batch_size, lr, patience : training settings
    random_state : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-1, 1, (200, 2)), rng.normal(1, 1, (200, 2))]
    >>> y = np.r_[np.zeros(200), np.ones(200)]
    >>> clf = TorchMLPClassifier(hidden=(16,), epochs=50, lr=1e-2, random_state=0).fit(X, y)
    >>> bool(clf.predict_proba(X)[:, 1][y == 1].mean() > 0.7)
    True
    """

    def __init__(self, hidden=(64, 64), epochs=30, batch_size=256, lr=1e-3, patience=5,
                 random_state=0):
        self.hidden, self.epochs, self.batch_size = tuple(hidden), epochs, batch_size
        self.lr, self.patience, self.random_state = lr, patience, random_state

    def fit(self, X, y):
        import numpy as np

        from ._core import set_seed
        from .training import fit

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32).reshape(-1)
        if len(X) != len(y) or len(np.unique(y)) != 2:
            raise ValueError("fit needs one label per row and both classes (0 and 1)")
        self.mean_, self.std_ = X.mean(0), X.std(0) + 1e-8
        Xs = (X - self.mean_) / self.std_
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(len(X))
        n_val = max(1, len(X) // 5)
        val, tr = order[:n_val], order[n_val:]
        set_seed(self.random_state)
        self.model_ = mlp([X.shape[1], *self.hidden, 1])
        bce = nn.BCEWithLogitsLoss()

        def loss(model, batch):
            xb, yb = batch
            return bce(model(xb).squeeze(-1), yb)

        self.history_ = fit(self.model_, loss, (Xs[tr], y[tr]), (Xs[val], y[val]),
                            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                            patience=self.patience, seed=self.random_state, progress=False)
        return self

    def decision_function(self, X):
        import numpy as np

        Xs = (np.asarray(X, dtype=np.float32) - self.mean_) / self.std_
        with torch.no_grad():
            return self.model_(torch.as_tensor(Xs)).squeeze(-1).numpy().astype(np.float64)

    def predict_proba(self, X):
        import numpy as np

        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.stack([1 - p, p], axis=1)


# ----------------------------------------------------------------------------- image VAE

class ConvVAE(nn.Module):
    """Convolutional variational autoencoder for square jet images ``(n, 1, S, S)``.

    Encoder: three 3 × 3 convolutions (the last two with stride 2, so S → S/4), a dense layer,
    and a linear map to the mean ``mu`` and log-variance ``logvar`` of q(z|x) = N(mu, sigma^2).
    Decoder: the mirror image (dense, two stride-2 transposed convolutions, a 3 × 3
    convolution) ending in a **softmax over the pixels**, so every reconstruction is, like the
    input, a pT distribution that sums to 1. In ``eval()`` mode the decoder uses z = mu (no
    sampling), so reconstructions and scores are deterministic.

    Parameters
    ----------
    latent_dim : int
        Size of z.
    image_size : int
        S, pixels per side; must be divisible by 4.
    channels : tuple of two int
        Feature maps after the first and after the down-sampling convolutions.
    hidden : int
        Width of the dense layer.

    Shapes
    ------
    ``forward``: (n, 1, S, S) -> ``(x_hat (n, 1, S, S), mu (n, latent_dim), logvar (n, latent_dim))``;
    ``encode``: (n, 1, S, S) -> ``(mu, logvar)``; ``decode``: (n, latent_dim) -> (n, 1, S, S).

    Examples
    --------
    >>> vae = ConvVAE(latent_dim=3, image_size=8).eval()
    >>> x_hat, mu, logvar = vae(torch.rand(5, 1, 8, 8))
    >>> x_hat.shape, mu.shape, logvar.shape
    (torch.Size([5, 1, 8, 8]), torch.Size([5, 3]), torch.Size([5, 3]))
    >>> bool(torch.allclose(x_hat.sum(dim=(1, 2, 3)), torch.ones(5)))
    True
    """

    def __init__(self, latent_dim: int = 8, image_size: int = 40, channels=(8, 16),
                 hidden: int = 128):
        super().__init__()
        latent_dim, image_size, hidden = int(latent_dim), int(image_size), int(hidden)
        c1, c2 = (int(c) for c in channels)
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim}")
        if image_size < 4 or image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 (two stride-2 layers), got {image_size}")
        if min(c1, c2, hidden) < 1:
            raise ValueError(f"channels and hidden must be positive, got {channels}, {hidden}")
        self.latent_dim, self.image_size = latent_dim, image_size
        small = image_size // 4
        self._shape = (c2, small, small)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c2, c2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * small * small, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim),
        )
        self.decoder_dense = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, c2 * small * small), nn.ReLU(),
        )
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose2d(c2, c2, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, 1, 3, padding=1),
        )

    def _check(self, x):
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != self.image_size or x.shape[3] != self.image_size:
            raise ValueError(
                f"ConvVAE expects images of shape (n, 1, {self.image_size}, {self.image_size}), got "
                f"{tuple(x.shape)}; build them with jetad_utils.features.jet_images(..., size="
                f"{self.image_size})"
            )

    def encode(self, x: torch.Tensor):
        """(mu, logvar) of q(z|x), each (n, latent_dim)."""
        self._check(x)
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (n, 1, S, S), each summing to 1 (softmax over the pixels)."""
        h = self.decoder_dense(z).view(-1, *self._shape)
        logits = self.decoder_conv(h).flatten(1)
        return torch.softmax(logits, dim=1).view(-1, 1, self.image_size, self.image_size)

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        z = reparameterise(mu, logvar, self.training)
        return self.decode(z), mu, logvar
