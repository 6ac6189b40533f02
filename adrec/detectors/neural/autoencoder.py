"""AE: an MLP autoencoder; the score is the mean squared reconstruction error of the
standardised row."""

from __future__ import annotations

import torch

from adrec.detectors.neural.layers import mlp
from adrec.detectors.neural.torch_detector import NormalizedModule, TorchDetector


class Autoencoder(NormalizedModule):
    def __init__(self, n_features: int, hidden: list[int], latent: int):
        super().__init__(n_features)
        self.encoder = mlp([n_features, *hidden, latent])
        self.decoder = mlp([latent, *reversed(hidden), n_features])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.normalize(x)
        return (self.decoder(self.encoder(z)) - z).pow(2).mean(-1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


class AEDetector(TorchDetector):
    name = "ae"

    def __init__(
        self,
        hidden: tuple[int, ...] = (64, 32),
        latent: int = 8,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 128,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.hidden = hidden
        self.latent = latent
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"hidden": (16,), "latent": 4, "epochs": 15, "lr": 1e-2, "batch_size": 50}

    def build_module(self, n_features: int) -> Autoencoder:
        return Autoencoder(n_features, list(self.hidden), self.latent)
