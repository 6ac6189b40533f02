"""CutPaste (Li et al., CVPR 2021), patch level: a CNN learns to tell normal patches from
patches into which a piece of the image was cut and pasted (CutPaste) or a thin strip was
(CutPaste-Scar; axis-aligned here, the paper rotates it), a 3-way classification; then a
Gaussian density (Ledoit-Wolf covariance) of the embeddings of normal patches scores a
patch by its Mahalanobis distance.

The classifier sees random `patch`-pixel crops. At test time the encoder runs once over the
whole image and each grid cell's embedding is the average of its stride-16 features over a
window the size of a patch, an approximation of embedding each crop apart that costs one
forward pass; the normal density is fitted on the same dense embeddings of the training
images. The encoder trains with BatchNorm on batch statistics; its running statistics are
recomputed over the normal images after training. The image score is the largest patch
score, the map the patch scores upsampled and smoothed."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adrec.components.anomaly_map import AnomalyMap
from adrec.components.features import FeatureExtractor
from adrec.components.gaussian import GaussianDensity

STRIDE = 16  # of the encoder stage whose features are embedded


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def _randint(gen: torch.Generator, high: int) -> int:
    return int(torch.randint(high, (), generator=gen))


def random_crop(image: Tensor, size: int, gen: torch.Generator) -> Tensor:
    _, h, w = image.shape
    y, x = _randint(gen, h - size + 1), _randint(gen, w - size + 1)
    return image[:, y : y + size, x : x + size]


def paste(crop: Tensor, source: Tensor, h: int, w: int, gen: torch.Generator, jitter: float):
    """A copy of `crop` with an h x w piece of `source`, colour-jittered (per channel gain
    and shift), pasted at a random place."""
    c, p, _ = crop.shape
    h, w = max(1, min(h, p, source.shape[1])), max(1, min(w, p, source.shape[2]))
    sy, sx = _randint(gen, source.shape[1] - h + 1), _randint(gen, source.shape[2] - w + 1)
    gain = (1 + jitter * (2 * torch.rand(c, 1, 1, generator=gen) - 1)).to(crop.device)
    shift = (2 * jitter * (2 * torch.rand(c, 1, 1, generator=gen) - 1)).to(crop.device)
    piece = source[:, sy : sy + h, sx : sx + w] * gain + shift
    ty, tx = _randint(gen, p - h + 1), _randint(gen, p - w + 1)
    out = crop.clone()
    out[:, ty : ty + h, tx : tx + w] = piece
    return out


def cut_paste(crop: Tensor, source: Tensor, gen: torch.Generator, jitter: float = 0.1) -> Tensor:
    """CutPaste: a piece of 2-15% of the crop's area, aspect ratio in [0.3, 3.3]."""
    p = crop.shape[1]
    area = _uniform(gen, 0.02, 0.15) * p * p
    aspect = math.exp(_uniform(gen, math.log(0.3), math.log(3.3)))
    h, w = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
    return paste(crop, source, h, w, gen, jitter)


def scar(crop: Tensor, source: Tensor, gen: torch.Generator, jitter: float = 0.1) -> Tensor:
    """CutPaste-Scar: a strip 2-16 by 10-25 pixels at 64-pixel crops (scaled with the
    crop), horizontal or vertical."""
    s = crop.shape[1] / 64
    width, length = round(_uniform(gen, 2, 16) * s), round(_uniform(gen, 10, 25) * s)
    h, w = (width, length) if bool(torch.rand((), generator=gen) < 0.5) else (length, width)
    return paste(crop, source, h, w, gen, jitter)


def cutpaste_batch(images: Tensor, size: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Three random crops per image: kept (label 0), with a pasted piece (1), with a scar
    (2); the pieces come from anywhere in the same image."""
    crops, labels = [], []
    for image in images:
        crops.append(random_crop(image, size, gen))
        crops.append(cut_paste(random_crop(image, size, gen), image, gen))
        crops.append(scar(random_crop(image, size, gen), image, gen))
        labels += [0, 1, 2]
    return torch.stack(crops), torch.tensor(labels)


class CutPasteModel(nn.Module):
    def __init__(
        self,
        image_shape: tuple[int, int, int],
        backbone: str,
        weights: str | None,
        seed: int,
        patch_size: int,
        head_dim: int = 128,
    ):
        super().__init__()
        self.encoder = FeatureExtractor(backbone, weights, seed, frozen=False)
        d = self.encoder.stage_channels[2]
        self.head = nn.Sequential(nn.Linear(d, head_dim), nn.ReLU(), nn.Linear(head_dim, 3))
        self.density = GaussianDensity(d)
        self.patch = max(1, min(patch_size, image_shape[1], image_shape[2]))
        self.window = max(1, round(self.patch / STRIDE))
        self.to_map = AnomalyMap(image_shape[1:])

    def prepare(self, x: Tensor) -> None:
        """Nothing depends on the data before training (inputs are ImageNet-normalised)."""

    def embed(self, crops: Tensor) -> Tensor:
        return self.encoder.stage_maps(crops)[2].mean((2, 3))

    def forward(self, crops: Tensor) -> Tensor:
        """Logits of (normal, cut-paste, scar) per crop."""
        return self.head(self.embed(crops))

    def dense(self, x: Tensor) -> Tensor:
        """[n, d, h, w]: each stride-16 cell's features averaged over a patch-sized window."""
        m = self.encoder.stage_maps(x)[2]
        k = min(self.window, m.shape[2], m.shape[3])
        pooled = F.avg_pool2d(m, k, stride=1, padding=k // 2, count_include_pad=False)
        return pooled[:, :, : m.shape[2], : m.shape[3]]

    def finish(self, x: Tensor) -> None:
        """After training: the encoder's BatchNorm statistics recomputed over the normal
        images (training moved the weights under them; a random backbone never had
        fitting ones), then the Gaussian of the normal patch embeddings."""
        norms = [m for m in self.encoder.modules() if isinstance(m, nn.BatchNorm2d)]
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # a cumulative average over the batches below
        self.encoder.train()
        for b in x.split(16):
            self.encoder.stage_maps(b)
        for bn in norms:
            bn.momentum = 0.1
        self.eval()
        e = torch.cat([self.dense(b) for b in x.split(16)])
        self.density.fit(e.permute(0, 2, 3, 1).reshape(-1, e.shape[1]), "ledoit_wolf")

    def patch_scores(self, x: Tensor) -> Tensor:
        e = self.dense(x)
        n, d, h, w = e.shape
        return self.density(e.permute(0, 2, 3, 1).reshape(-1, d)).reshape(n, h, w)

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s = self.patch_scores(x)
        return s.flatten(1).amax(1), self.to_map(s)

    def score(self, x: Tensor) -> Tensor:
        return self.patch_scores(x).flatten(1).amax(1)

    def anomaly_map(self, x: Tensor) -> Tensor:
        return self.score_and_map(x)[1]
