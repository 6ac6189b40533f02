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
    defaults = {"hidden": [64, 32], "latent": 8}

    @classmethod
    def get_test_params(cls) -> dict:
        return {"hidden": [16], "latent": 4, "epochs": 15, "lr": 1e-2, "batch_size": 50}

    def build_module(self, n_features: int) -> Autoencoder:
        return Autoencoder(n_features, list(self.params["hidden"]), self.params["latent"])
