"""Patch features and image embeddings from torchvision backbones.

Three stages of strides 4, 8 and 16 (MobileNetV2's blocks 0-3, 4-6 and 7-13; a ResNet's
layer1-3, as PaDiM and PatchCore take them) are resized to the stride-8 grid and stacked into
one patch feature per grid cell; the stride-32 stage, average-pooled, is the image embedding
(SPADE's image-level kNN). A frozen extractor (the default) stays in eval mode, also inside
a module being trained, so its BatchNorm statistics never move; `frozen=False` (CutPaste
trains it) makes it an ordinary trainable module.

Weights: a file with a state_dict (for MobileNetV2 that of `mobilenet_v2().features`, as
../shared/data/weights holds; for a ResNet the whole model's), "imagenet" for torchvision's
download (needs the internet), or None for random weights seeded by `seed`."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision import models

BACKBONES = ("mobilenet_v2", "resnet18", "resnet50", "wide_resnet50_2")
_CHANNELS = {
    "mobilenet_v2": (24, 32, 96, 1280),
    "resnet18": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048),
    "wide_resnet50_2": (256, 512, 1024, 2048),
}


def backbone_stages(name: str, weights: str | Path | None, seed: int = 0) -> list[nn.Module]:
    """The four stages (strides 4, 8, 16, 32) of backbone `name` with the given weights."""
    if name not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {name!r}")
    download = "DEFAULT" if weights == "imagenet" else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = getattr(models, name)(weights=download)
    if name == "mobilenet_v2":
        net = net.features
    if weights is not None and weights != "imagenet":
        path = Path(weights)
        if not path.exists():
            raise FileNotFoundError(f"no backbone weights at {path}")
        state = torch.load(path, weights_only=True, map_location="cpu")
        if name != "mobilenet_v2":
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
            net.fc = nn.Identity()
        net.load_state_dict(state)
    if name == "mobilenet_v2":
        return [net[0:4], net[4:7], net[7:14], net[14:19]]
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1)
    return [stem, net.layer2, net.layer3, net.layer4]


class FeatureExtractor(nn.Module):
    """forward(images [n, 3, H, W]) -> (patch features [n, C, ceil(H/8), ceil(W/8)], image
    embeddings [n, D]; [n, 0] unless `pooled`). `stage_maps` gives the three patch stages
    apart (FastFlow models each)."""

    def __init__(
        self,
        backbone: str = "mobilenet_v2",
        weights: str | Path | None = None,
        seed: int = 0,
        pooled: bool = False,
        frozen: bool = True,
    ):
        super().__init__()
        stages = backbone_stages(backbone, weights, seed)
        self.stages = nn.ModuleList(stages if pooled else stages[:3])
        channels = _CHANNELS[backbone]
        self.stage_channels = list(channels[:3])
        self.patch_channels = sum(channels[:3])
        self.pooled_channels = channels[3] if pooled else 0
        self.pooled = pooled
        self.frozen = frozen
        self.requires_grad_(not frozen)
        self.eval()

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(mode and not self.frozen)  # frozen: BatchNorm keeps its statistics

    def stage_maps(self, x: Tensor) -> list[Tensor]:
        maps: list[Tensor] = []
        for i, stage in enumerate(self.stages):
            if i < 3:
                x = stage(x)
                maps.append(x)
        return maps

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        maps: list[Tensor] = []
        pooled = torch.zeros(x.shape[0], 0, dtype=x.dtype, device=x.device)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < 3:
                maps.append(x)
            else:
                pooled = x.mean((2, 3))
        size = maps[1].shape[-2:]
        grid = [
            m if m.shape[-2:] == size
            else F.interpolate(m, size=size, mode="bilinear", align_corners=False)
            for m in maps
        ]  # fmt: skip
        return torch.cat(grid, 1), pooled
