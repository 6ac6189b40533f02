"""Patch scores [n, h, w] to per-pixel maps [n, H, W]: bilinear upsampling to the input size,
then a Gaussian blur (PatchCore and SPADE smooth with sigma = 4 pixels at 224 px; the sigma
here scales with the image, so a map of a 112 px image is blurred by 2 px)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _kernel(sigma: float) -> Tensor:
    radius = max(1, int(math.ceil(4 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


class AnomalyMap(nn.Module):
    def __init__(self, image_size: tuple[int, int], sigma_at_224: float = 4.0):
        super().__init__()
        self.size = [int(image_size[0]), int(image_size[1])]
        sigma = sigma_at_224 * min(self.size) / 224.0
        self.blur = sigma >= 0.5
        self.register_buffer("kernel", _kernel(sigma) if self.blur else torch.ones(1))

    def forward(self, patch_scores: Tensor) -> Tensor:
        x = F.interpolate(patch_scores.unsqueeze(1), size=self.size, mode="bilinear",
                          align_corners=False)  # fmt: skip
        if self.blur:
            r = self.kernel.shape[0] // 2
            mode = "reflect" if min(self.size) > r else "replicate"
            x = F.conv2d(F.pad(x, [r, r, 0, 0], mode=mode), self.kernel.view(1, 1, 1, -1))
            x = F.conv2d(F.pad(x, [0, 0, r, r], mode=mode), self.kernel.view(1, 1, -1, 1))
        return x.squeeze(1)
