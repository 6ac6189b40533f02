"""PaDiM (Defard et al., 2021): a multivariate Gaussian of the patch feature at every grid
position, fitted on normal images; a patch scores its Mahalanobis distance to the Gaussian
of its position. Like the paper, a random subset of the feature channels keeps the
covariances small and well conditioned."""

from __future__ import annotations

import torch

from adrec.detectors.image.backbone import CHANNELS
from adrec.detectors.image.patch_detector import ImagePatchDetector


class PaDiMDetector(ImagePatchDetector):
    name = "padim"

    def __init__(
        self,
        n_channels: int = 100,
        eps: float = 0.01,
        weights: str | None = None,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.n_channels = n_channels
        self.eps = eps
        self.weights = weights
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_channels": 16}

    def _fit_patches(self, features: torch.Tensor) -> None:
        d = int(self.n_channels)
        if not 1 <= d <= CHANNELS:
            raise ValueError(f"n_channels must be in 1..{CHANNELS}, got {d}")
        gen = torch.Generator().manual_seed(self._seed())
        self.channels_ = torch.randperm(CHANNELS, generator=gen)[:d].sort().values
        x = self._positions(features).double()  # [h*w, n, d]
        self.mean_ = x.mean(1)
        centred = x - self.mean_[:, None]
        cov = centred.transpose(1, 2) @ centred / max(x.shape[1] - 1, 1)
        cov += self.eps * torch.eye(d, dtype=cov.dtype)
        self.precision_ = torch.linalg.inv(cov)
        self.grid_ = features.shape[-2:]

    def _positions(self, features: torch.Tensor) -> torch.Tensor:
        f = features[:, self.channels_]
        return f.flatten(2).permute(2, 0, 1)  # [positions, n, d]

    def _patch_scores(self, features: torch.Tensor) -> torch.Tensor:
        x = self._positions(features).double() - self.mean_[:, None]
        m = torch.einsum("pnd,pde,pne->pn", x, self.precision_, x).clamp_min(0).sqrt()
        return m.T.reshape(len(features), *self.grid_).float()

    def _stats(self) -> dict[str, torch.Tensor]:
        return {"channels": self.channels_, "mean": self.mean_, "precision": self.precision_,
                "grid": torch.tensor(tuple(self.grid_))}  # fmt: skip

    def _set_stats(self, state: dict[str, torch.Tensor]) -> None:
        self.channels_, self.mean_ = state["channels"], state["mean"]
        self.precision_, self.grid_ = state["precision"], tuple(state["grid"].tolist())
