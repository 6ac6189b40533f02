"""FastFlow (Yu et al., 2021): a 2-D normalizing flow per backbone stage maps the frozen
features of normal images to a standard normal, position by position; the likelihood at
each position gives the map.

Each stage's features are standardised per channel with statistics of the training images
(FastFlow layer-normalises each map instead, which also divides away a change of overall
feature magnitude, a clue to an anomaly), then pass `n_steps`
affine coupling blocks: half the channels, through a small convolutional network (3x3 and
1x1 kernels alternating, as FastFlow), set a scale and shift of the other half; the scale is
soft-clamped (clamp * tanh(s / clamp)) for stability and each block ends with a fixed
random channel permutation. forward(x) is the negative log-likelihood per feature value,
averaged over stages (the training loss). The map is the mean over stages of
0.5 * mean_c z^2 (each position's negative log-likelihood per channel, up to a constant)
upsampled to the image, the image score its maximum; FastFlow averages the likelihoods
exp(-0.5 * mean_c z^2) instead, which saturate for strong anomalies and tie them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adrec.components.features import FeatureExtractor


class Coupling(nn.Module):
    def __init__(self, channels: int, hidden_ratio: float, kernel: int, clamp: float = 2.0):
        super().__init__()
        self.keep = channels // 2
        free = channels - self.keep
        hidden = max(1, round(hidden_ratio * channels))
        pad = kernel // 2
        self.net = nn.Sequential(
            nn.Conv2d(self.keep, hidden, kernel, padding=pad), nn.ReLU(),
            nn.Conv2d(hidden, 2 * free, kernel, padding=pad),
        )  # fmt: skip
        nn.init.zeros_(self.net[-1].weight)  # start at the identity map
        nn.init.zeros_(self.net[-1].bias)
        self.clamp = clamp
        self.register_buffer("perm", torch.randperm(channels))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = x[:, : self.keep], x[:, self.keep :]
        s, t = self.net(a).chunk(2, dim=1)
        s = self.clamp * torch.tanh(s / self.clamp)
        y = torch.cat([a, b * s.exp() + t], 1)
        return y[:, self.perm], s.flatten(1).sum(1)


class ChannelStats(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def fit(self, maps: list[Tensor]) -> None:
        """Per-channel mean and std over images and positions (maps: chunks of images)."""
        n = sum(m.shape[0] * m.shape[2] * m.shape[3] for m in maps)
        mean = sum(m.double().sum((0, 2, 3)) for m in maps) / n
        var = sum((m.double() - mean[:, None, None]).pow(2).sum((0, 2, 3)) for m in maps) / n
        self.mean.copy_(mean.float())
        self.std.copy_(var.sqrt().float().clamp_min(1e-6))

    def forward(self, m: Tensor) -> Tensor:
        return (m - self.mean[:, None, None]) / self.std[:, None, None]


class FastFlowModel(nn.Module):
    def __init__(
        self,
        image_shape: tuple[int, int, int],
        backbone: str,
        weights: str | None,
        seed: int,
        n_steps: int,
        hidden_ratio: float,
    ):
        super().__init__()
        self.extractor = FeatureExtractor(backbone, weights, seed)
        self.flows = nn.ModuleList(
            nn.ModuleList(Coupling(c, hidden_ratio, 3 if i % 2 == 0 else 1) for i in range(n_steps))
            for c in self.extractor.stage_channels
        )
        self.stats = nn.ModuleList(ChannelStats(c) for c in self.extractor.stage_channels)
        self.size = [image_shape[1], image_shape[2]]

    def prepare(self, x: Tensor) -> None:
        """The per-channel statistics of each stage's features over the training images."""
        chunks = [self.extractor.stage_maps(b) for b in x.split(16)]
        for i, stats in enumerate(self.stats):
            stats.fit([c[i] for c in chunks])

    def finish(self, x: Tensor) -> None:
        """Nothing is fitted after training."""

    def latents(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(z [n, c, h, w], log|det| [n]) per stage."""
        with torch.no_grad():
            maps = self.extractor.stage_maps(x)
        out = []
        for m, stats, flow in zip(maps, self.stats, self.flows, strict=True):
            z = stats(m)
            log_det = torch.zeros(len(x), device=x.device)
            for step in flow:
                z, ld = step(z)
                log_det = log_det + ld
            out.append((z, log_det))
        return out

    def forward(self, x: Tensor) -> Tensor:
        losses = [
            (0.5 * z.pow(2).flatten(1).sum(1) - log_det) / z[0].numel()
            for z, log_det in self.latents(x)
        ]
        return torch.stack(losses).mean(0)

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        nll = [
            F.interpolate(0.5 * z.pow(2).mean(1, keepdim=True), size=self.size,
                          mode="bilinear", align_corners=False)
            for z, _ in self.latents(x)
        ]  # fmt: skip
        m = torch.cat(nll, 1).mean(1)
        return m.flatten(1).amax(1), m

    def score(self, x: Tensor) -> Tensor:
        return self.score_and_map(x)[0]

    def anomaly_map(self, x: Tensor) -> Tensor:
        return self.score_and_map(x)[1]
