"""LSTM-VAE over behaviour windows [n, time, features]: an LSTM encoder gives q(z | window),
an LSTM decoder reconstructs the window from z repeated over time. Trained on the negative
ELBO; the score is reconstruction error + KL at the posterior mean (deterministic)."""

from __future__ import annotations

import torch
from torch import nn

from adrec.detectors.neural.torch_detector import TorchDetector
from adrec.detectors.neural.vae import VariationalModule


class LSTMVAE(VariationalModule):
    def __init__(self, n_features: int, hidden: int, latent: int):
        super().__init__(n_features)
        self.encoder = nn.LSTM(n_features, hidden, batch_first=True)
        self.to_stats = nn.Linear(hidden, 2 * latent)
        self.decoder = nn.LSTM(latent, hidden, batch_first=True)
        self.to_output = nn.Linear(hidden, n_features)

    def encode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, (h, _) = self.encoder(z)
        mu, logvar = self.to_stats(h[-1]).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, code: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        decoded, _ = self.decoder(code.unsqueeze(1).expand(-1, like.shape[1], -1))
        return self.to_output(decoded)


class LSTMVAEDetector(TorchDetector):
    name = "lstm_vae"
    input_ndim = 3

    def __init__(
        self,
        hidden: int = 32,
        latent: int = 8,
        epochs: int = 10,
        lr: float = 3e-3,
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
        return {"hidden": 8, "latent": 4, "epochs": 5, "lr": 1e-2, "batch_size": 50}

    def build_module(self, n_features: int) -> LSTMVAE:
        return LSTMVAE(n_features, self.hidden, self.latent)
