"""Networks trained in the notebooks.

Only architectures live here; their losses and anomaly scores are written in the notebooks.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mlp", "DenseAutoencoder", "DenseVAE", "TorchMLPClassifier"]


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

    Examples
    --------
    >>> vae = DenseVAE(4, 2).eval()
    >>> [t.shape[1] for t in vae(torch.zeros(5, 4))]
    [4, 2, 2]
    """

    def __init__(self, n_features: int, latent_dim: int, hidden=(32, 32)):
        super().__init__()
        if latent_dim < 1 or n_features < 1:
            raise ValueError("n_features and latent_dim must be positive")
        self.encoder = mlp([n_features, *hidden, 2 * latent_dim])
        self.decoder = mlp([latent_dim, *reversed(hidden), n_features])
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor):
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        if self.training:
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        else:
            z = mu
        return self.decoder(z), mu, logvar


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
