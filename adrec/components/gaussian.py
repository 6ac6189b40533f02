"""Gaussian densities scored by Mahalanobis distance: one Gaussian (CutPaste's density on its
embeddings) or a batch of them, one per feature-grid position (PaDiM). Means and precisions
are buffers, kept in float64 (precisions of near-singular covariances lose digits in
float32)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def fit_gaussian(
    x: Tensor, shrinkage: str = "ledoit_wolf", eps: float = 0.01
) -> tuple[Tensor, Tensor]:
    """Mean [..., d] and precision [..., d, d] of the rows x [..., n, d] (leading axes:
    independent Gaussians). shrinkage="ledoit_wolf" shrinks the ML covariance towards a
    scaled identity by the Ledoit-Wolf estimate of the best weight (as scikit-learn's
    LedoitWolf); "ridge" adds eps * I to the unbiased covariance (PaDiM's regulariser)."""
    if x.shape[-2] < 2:
        raise ValueError(f"a Gaussian needs at least 2 rows, got {x.shape[-2]}")
    x = x.double()
    n, d = x.shape[-2], x.shape[-1]
    mean = x.mean(-2)
    c = x - mean[..., None, :]
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    if shrinkage == "ridge":
        cov = c.transpose(-1, -2) @ c / (n - 1) + eps * eye
    elif shrinkage == "ledoit_wolf":
        emp = c.transpose(-1, -2) @ c / n
        mu = emp.diagonal(dim1=-2, dim2=-1).sum(-1) / d
        c2 = c.pow(2)
        beta_sum = (c2.transpose(-1, -2) @ c2).sum((-1, -2))
        delta_sum = (c.transpose(-1, -2) @ c).pow(2).sum((-1, -2)) / n**2
        beta = (beta_sum / n - delta_sum) / (d * n)
        delta = (delta_sum - 2 * mu * emp.diagonal(dim1=-2, dim2=-1).sum(-1) + d * mu**2) / d
        beta = torch.minimum(beta, delta)
        weight = torch.where(delta > 0, beta / delta.clamp_min(1e-300), torch.zeros_like(delta))
        cov = (1 - weight)[..., None, None] * emp + (weight * mu)[..., None, None] * eye
        cov = cov + 1e-9 * mu.clamp_min(1e-12)[..., None, None] * eye  # a singular corner case
    else:
        raise ValueError(f"shrinkage must be 'ledoit_wolf' or 'ridge', got {shrinkage!r}")
    return mean, torch.linalg.inv(cov)


class GaussianDensity(nn.Module):
    """forward(x [..., n, d]) -> Mahalanobis distances [..., n] (float32), the leading axes
    matching those of the means (a single Gaussian has none)."""

    def __init__(self, dim: int, batch: tuple[int, ...] = ()):
        super().__init__()
        self.register_buffer("mean", torch.zeros(*batch, dim, dtype=torch.float64))
        self.register_buffer(
            "precision", torch.eye(dim, dtype=torch.float64).expand(*batch, dim, dim).clone()
        )

    def fit(self, x: Tensor, shrinkage: str = "ledoit_wolf", eps: float = 0.01) -> GaussianDensity:
        self.mean, self.precision = fit_gaussian(x, shrinkage, eps)
        return self

    def forward(self, x: Tensor) -> Tensor:
        diff = x.double() - self.mean.unsqueeze(-2)
        return ((diff @ self.precision) * diff).sum(-1).clamp_min(0.0).sqrt().float()
