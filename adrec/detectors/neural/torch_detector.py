"""What every gradient-trained detector shares: a pure nn.Module that owns its input
normalisation (buffers, saved with the weights) and a thin contract wrapper that fits it in
process or adopts one trained elsewhere (Ray Train: adrec.distributed.train_detector).

A detector's `loss(module, batch)` is its training objective; it must go through the
module's `forward`, the only call DistributedDataParallel syncs gradients for. The default,
`mean_row_loss`, suits modules whose `forward(x)` returns each row's training loss.
`module.score(x)` returns the per-row anomaly score."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from adrec.base import BaseDetector, seed_from
from adrec.detectors.registry import detector_names
from adrec.training import minibatches, train_one_epoch


class NormalizedModule(nn.Module):
    """Standardises its inputs over the last axis with statistics of the training data."""

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def prepare(self, x: torch.Tensor) -> None:
        """Set what depends on the training data before training (here the normalisation;
        Deep SVDD adds its centre)."""
        flat = x.reshape(-1, x.shape[-1])
        self.mean.copy_(flat.mean(0))
        self.std.copy_(flat.std(0).nan_to_num(1.0).clamp_min(1e-3))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Per-row anomaly score, deterministic (eval mode, no sampling)."""
        raise NotImplementedError


def mean_row_loss(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x).mean()


class TorchDetector(BaseDetector):
    """Seeded minibatch Adam over `build_module(n_features)`; the module's state dict is the
    detector's state. Subclasses declare their module's parameters and the training ones
    (`epochs`, `lr`, `batch_size`, `contamination`, `random_state`) in their __init__."""

    loss: ClassVar[Callable[[nn.Module, torch.Tensor], torch.Tensor]] = staticmethod(mean_row_loss)

    @abstractmethod
    def build_module(self, n_features: int) -> NormalizedModule: ...

    def _check_params(self) -> None:
        super()._check_params()
        for key in ("epochs", "batch_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an integer >= 1, got {value!r}")

    def seed(self) -> int:
        """The int seed of this fit (random_state, or fresh entropy when it is None)."""
        return seed_from(self.random_state)

    def prepared_module(self, X: np.ndarray, seed: int | None = None) -> NormalizedModule:
        """A new module, seeded and prepared on X: the same on the driver of a Ray Train run
        and in process."""
        torch.manual_seed(self.seed() if seed is None else seed)
        module = self.build_module(X.shape[-1])
        module.prepare(torch.from_numpy(np.asarray(X, np.float32)))
        return module

    def _fit(self, X: np.ndarray) -> None:
        seed = self.seed()
        module = self.prepared_module(X, seed)
        gen = torch.Generator().manual_seed(seed)
        x = torch.from_numpy(X)
        opt = torch.optim.Adam(module.parameters(), lr=self.lr)
        for _ in range(self.epochs):
            train_one_epoch(module, minibatches(x, self.batch_size, gen), self.loss, opt)
        self.use_module(module)

    def use_module(self, module: NormalizedModule) -> TorchDetector:
        """Adopt a trained module (e.g. from Ray Train); calibrate() comes next."""
        self.module_ = module.eval()
        self.n_features_ = int(module.mean.shape[0])
        self.fitted_ = True
        return self

    @torch.no_grad()
    def _score(self, X: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(X)
        scores = [self.module_.score(b) for b in x.split(4096)]
        return torch.cat(scores).double().numpy()

    def _state(self) -> dict[str, torch.Tensor]:
        return self.module_.state_dict()

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        module = self.build_module(state["mean"].shape[0])
        module.load_state_dict(state)
        self.use_module(module)


def neural_detector_names() -> list[str]:
    """The registered detectors that train by gradient descent (and so through Ray Train)."""
    return detector_names("neural")
