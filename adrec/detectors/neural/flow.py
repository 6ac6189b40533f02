"""A normalizing flow (RealNVP: Dinh, Sohl-Dickstein & Bengio, ICLR 2017): affine coupling
layers with alternating feature masks map standardised rows to a standard normal; the score
is -log p(x), exact by the change of variables (the standardisation's Jacobian included, so
log_prob is the density of the raw row)."""

from __future__ import annotations

import math

import torch
from torch import nn

from adrec.detectors.neural.layers import mlp
from adrec.detectors.neural.torch_detector import NormalizedModule, TorchDetector


class AffineCoupling(nn.Module):
    """y = x on the masked features; elsewhere y = x * exp(s) + t with (s, t) computed from
    the masked features only, so the Jacobian is triangular and log|det| = sum(s)."""

    def __init__(self, mask: torch.Tensor, hidden: int):
        super().__init__()
        n = mask.numel()
        self.register_buffer("mask", mask)
        self.net = mlp([n, hidden, hidden, 2 * n])
        last = self.net[-1]
        nn.init.zeros_(last.weight)  # start at the identity map: a stable first step
        nn.init.zeros_(last.bias)

    def _shift_scale(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(kept).chunk(2, dim=-1)
        free = 1 - self.mask
        return torch.tanh(s) * free, t * free  # tanh bounds the scale for stability

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept = x * self.mask
        s, t = self._shift_scale(kept)
        return kept + (1 - self.mask) * (x * s.exp() + t), s.sum(-1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        kept = y * self.mask
        s, t = self._shift_scale(kept)
        return kept + (1 - self.mask) * ((y - t) * (-s).exp())


class RealNVP(NormalizedModule):
    def __init__(self, n_features: int, n_layers: int, hidden: int):
        super().__init__(n_features)
        idx = torch.arange(n_features)
        self.layers = nn.ModuleList(
            AffineCoupling(((idx + i) % 2).float(), hidden) for i in range(n_layers)
        )

    def to_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z and log|det dz/dx| per row."""
        z = self.normalize(x)
        log_det = -self.std.log().sum().expand(len(x))
        for layer in self.layers:
            z, ld = layer(z)
            log_det = log_det + ld
        return z, log_det

    def from_latent(self, z: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z * self.std + self.mean

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, log_det = self.to_latent(x)
        base = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
        return base + log_det

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.log_prob(x)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return -self.log_prob(x)


class FlowDetector(TorchDetector):
    name = "flow"

    def __init__(
        self,
        n_layers: int = 6,
        hidden: int = 64,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 128,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.n_layers = n_layers
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_layers": 2, "hidden": 16, "epochs": 10, "lr": 1e-2, "batch_size": 50}

    def build_module(self, n_features: int) -> RealNVP:
        return RealNVP(n_features, self.n_layers, self.hidden)
