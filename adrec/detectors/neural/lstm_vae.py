"""LSTM-VAE over behaviour windows [n, time, features]: an LSTM encoder gives q(z | window),
an LSTM decoder reconstructs the window from z repeated over time. Trained on the negative
ELBO; the score is reconstruction error + KL at the posterior mean (deterministic)."""

from __future__ import annotations

import torch
from torch import nn

from adrec.detectors.neural.layers import gaussian_kl
from adrec.detectors.neural.torch_detector import NormalizedModule, TorchDetector


class LSTMVAE(NormalizedModule):
    def __init__(self, n_features: int, hidden: int, latent: int):
        super().__init__(n_features)
        self.encoder = nn.LSTM(n_features, hidden, batch_first=True)
        self.to_stats = nn.Linear(hidden, 2 * latent)
        self.decoder = nn.LSTM(latent, hidden, batch_first=True)
        self.to_output = nn.Linear(hidden, n_features)

    def terms(self, x: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.normalize(x)
        _, (h, _) = self.encoder(z)
        mu, logvar = self.to_stats(h[-1]).chunk(2, dim=-1)
        logvar = logvar.clamp(-8.0, 8.0)
        code = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        decoded, _ = self.decoder(code.unsqueeze(1).expand(-1, x.shape[1], -1))
        rec = 0.5 * (self.to_output(decoded) - z).pow(2).sum(dim=(1, 2))
        return rec, gaussian_kl(mu, logvar)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rec, kl = self.terms(x, sample=True)
        return rec + kl

    def score(self, x: torch.Tensor) -> torch.Tensor:
        rec, kl = self.terms(x, sample=False)
        return rec + kl


class LSTMVAEDetector(TorchDetector):
    name = "lstm_vae"
    input_ndim = 3
    defaults = {"hidden": 32, "latent": 8, "epochs": 10, "lr": 3e-3}

    @classmethod
    def get_test_params(cls) -> dict:
        return {"hidden": 8, "latent": 4, "epochs": 5, "lr": 1e-2, "batch_size": 50}

    def build_module(self, n_features: int) -> LSTMVAE:
        return LSTMVAE(n_features, self.params["hidden"], self.params["latent"])
