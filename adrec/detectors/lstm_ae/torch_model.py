"""An LSTM autoencoder over windows of daily behaviour vectors (a pure nn.Module).

The input standardisation statistics are buffers, so they are saved with the weights and a
served model normalises exactly as the trained one did."""

from __future__ import annotations

import torch
from torch import nn

from adrec.detectors.neural.torch_detector import NormalizedModule


class LSTMAutoencoder(NormalizedModule):
    def __init__(self, n_features: int, hidden: int = 32, latent: int = 8, num_layers: int = 1):
        super().__init__(n_features)
        self.encoder = nn.LSTM(n_features, hidden, num_layers=num_layers, batch_first=True)
        self.to_latent = nn.Linear(hidden, latent)
        self.decoder = nn.LSTM(latent, hidden, num_layers=num_layers, batch_first=True)
        self.to_output = nn.Linear(hidden, n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct normalised windows [B, T, F] from a latent code per window."""
        _, (h, _) = self.encoder(self.normalize(x))
        z = self.to_latent(h[-1])
        decoded, _ = self.decoder(z.unsqueeze(1).expand(-1, x.shape[1], -1))
        return self.to_output(decoded)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared reconstruction error of each window, in normalised units: [B]."""
        return (self(x) - self.normalize(x)).pow(2).mean(dim=(1, 2))


def reconstruction_loss(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    target = (x - model_attr(model, "mean")) / model_attr(model, "std")
    return (model(x) - target).pow(2).mean()


def model_attr(model: nn.Module, name: str) -> torch.Tensor:
    """An attribute of a model that may be wrapped in DistributedDataParallel."""
    return getattr(getattr(model, "module", model), name)
