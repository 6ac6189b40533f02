"""Multi-scale patch features from MobileNetV2 (the one ImageNet backbone available offline,
../shared/data/weights): the outputs of three stages (strides 4, 8 and 16; 24, 32 and 96
channels) resized to the stride-8 grid and stacked, as PaDiM and PatchCore take layers 1-3
of a ResNet."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v2

STAGE_ENDS = (3, 6, 13)  # last block of the stride-4, stride-8 and stride-16 stages
CHANNELS = 24 + 32 + 96


def mobilenet_features(weights: str | Path | None, seed: int = 0) -> nn.Module:
    """torchvision's mobilenet_v2().features up to the stride-16 stage, in eval mode, with
    the given state_dict (strict), or seeded random weights when `weights` is None."""
    torch.manual_seed(seed)
    features = mobilenet_v2(weights=None).features
    if weights is not None:
        path = Path(weights)
        if not path.exists():
            raise FileNotFoundError(f"no backbone weights at {path}")
        features.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
    return features[: STAGE_ENDS[-1] + 1].eval()


@torch.no_grad()
def patch_features(backbone: nn.Module, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """[n, 3, H, W] -> [n, CHANNELS, ceil(H / 8), ceil(W / 8)] float32."""
    out = []
    for batch in images.split(batch_size):
        maps, h = [], batch
        for i, block in enumerate(backbone):
            h = block(h)
            if i in STAGE_ENDS:
                maps.append(h)
        size = maps[1].shape[-2:]
        out.append(
            torch.cat(
                [F.interpolate(m, size=size, mode="bilinear", align_corners=False)
                 if m.shape[-2:] != size else m for m in maps],
                dim=1,
            )
        )  # fmt: skip
    return torch.cat(out)
