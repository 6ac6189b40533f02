"""VAE: a Gaussian variational autoencoder trained on the negative ELBO. The score is
reconstruction error + KL evaluated at the posterior mean (no sampling), so a row always gets
the same score; training samples z with the reparameterisation trick."""

from __future__ import annotations

import torch
from torch import nn

from adrec.detectors.neural.layers import gaussian_kl, mlp
from adrec.detectors.neural.torch_detector import NormalizedModule, TorchDetector


class VariationalModule(NormalizedModule):
    """The ELBO and the score of a Gaussian VAE; subclasses give `encode` (standardised input
    -> mean and log-variance of q(z | x)) and `decode` (code -> reconstruction shaped like x)."""

    def encode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode(self, code: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def terms(self, x: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(0.5 * squared reconstruction error, KL) per row: the negative ELBO of a unit-
        variance Gaussian decoder, up to a constant."""
        z = self.normalize(x)
        mu, logvar = self.encode(z)
        logvar = logvar.clamp(-8.0, 8.0)
        code = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        rec = 0.5 * (self.decode(code, z) - z).pow(2).flatten(1).sum(1)
        return rec, gaussian_kl(mu, logvar)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rec, kl = self.terms(x, sample=True)
        return rec + kl

    def score(self, x: torch.Tensor) -> torch.Tensor:
        rec, kl = self.terms(x, sample=False)
        return rec + kl


class VariationalAutoencoder(VariationalModule):
    def __init__(self, n_features: int, hidden: list[int], latent: int):
        super().__init__(n_features)
        self.encoder = mlp([n_features, *hidden], activate_last=True)
        self.to_stats = nn.Linear(hidden[-1], 2 * latent)
        self.decoder = mlp([latent, *reversed(hidden), n_features])

    def encode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(z)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, code: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)


class VAEDetector(TorchDetector):
    name = "vae"

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

    def build_module(self, n_features: int) -> VariationalAutoencoder:
        return VariationalAutoencoder(n_features, list(self.hidden), self.latent)
