"""Deep SVDD (Ruff et al., ICML 2018), one-class: map normal rows close to a fixed centre c;
the score is the squared distance to c.

No layer has a bias term (and there is no affine normalisation inside the network): with
biases the network can map every input to c and reach zero loss without learning anything
(the paper's Proposition 2). c is the mean of the initial network's outputs on the training
data, with coordinates near zero pushed to +/-eps (a zero coordinate is trivially matched by
weights that output zero); it is a buffer, fixed during training and saved with the weights."""

from __future__ import annotations

import torch

from adrec.detectors.neural.layers import mlp
from adrec.detectors.neural.torch_detector import NormalizedModule, TorchDetector


class DeepSVDDNet(NormalizedModule):
    def __init__(self, n_features: int, hidden: list[int], rep_dim: int, eps: float = 0.1):
        super().__init__(n_features)
        self.net = mlp([n_features, *hidden, rep_dim], bias=False)
        self.eps = eps
        self.register_buffer("center", torch.zeros(rep_dim))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))

    @torch.no_grad()
    def prepare(self, x: torch.Tensor) -> None:
        super().prepare(x)
        c = self.embed(x.reshape(-1, x.shape[-1])).mean(0)
        small = c.abs() < self.eps
        c[small] = torch.where(c[small] < 0, -self.eps, self.eps)
        self.center.copy_(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.embed(x) - self.center).pow(2).sum(-1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


class DeepSVDDDetector(TorchDetector):
    name = "deep_svdd"

    def __init__(
        self,
        hidden: tuple[int, ...] = (64, 32),
        rep_dim: int = 16,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 128,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.hidden = hidden
        self.rep_dim = rep_dim
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"hidden": (16,), "rep_dim": 8, "epochs": 10, "lr": 1e-2, "batch_size": 50}

    def build_module(self, n_features: int) -> DeepSVDDNet:
        return DeepSVDDNet(n_features, list(self.hidden), self.rep_dim)
