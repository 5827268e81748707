"""Networks trained in the notebooks.

Only architectures live here; their losses and anomaly scores are written in the notebooks.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mlp", "DenseAutoencoder", "DenseVAE"]


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
