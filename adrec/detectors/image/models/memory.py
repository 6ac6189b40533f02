"""The feature-memory models: PaDiM (a Gaussian per grid position), PatchCore (a coreset
memory bank of locally aware patches) and SPADE (kNN over image embeddings, then over the
patches of the nearest normal images). Each holds its frozen FeatureExtractor, so a saved or
exported model needs no weights file. PaDiM's and PatchCore's modules script with
TorchScript (adrec.detectors.image.export)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adrec.components.anomaly_map import AnomalyMap
from adrec.components.features import FeatureExtractor
from adrec.components.gaussian import GaussianDensity
from adrec.components.knn import MAX_BLOCK, knn_distances
from adrec.components.memory_bank import MemoryBank


class PaDiMModel(nn.Module):
    def __init__(
        self,
        extractor: FeatureExtractor,
        channels: Tensor,
        grid: tuple[int, int],
        image_size: tuple[int, int],
    ):
        super().__init__()
        self.extractor = extractor
        self.register_buffer("channels", channels.long())
        self.density = GaussianDensity(len(channels), (grid[0] * grid[1],))
        self.grid = [int(grid[0]), int(grid[1])]
        self.register_buffer("grid_shape", torch.tensor(self.grid))
        self.to_map = AnomalyMap(image_size)

    def positions(self, patches: Tensor) -> Tensor:
        """[n, C, h, w] -> [h * w, n, d]: the chosen channels, grouped by grid position."""
        return patches.index_select(1, self.channels).flatten(2).permute(2, 0, 1)

    def fit(self, patches: Tensor, eps: float) -> PaDiMModel:
        self.density.fit(self.positions(patches), "ridge", eps)
        return self

    def patch_scores(self, patches: Tensor) -> Tensor:
        d = self.density(self.positions(patches))  # [h * w, n]
        return d.T.reshape(patches.shape[0], self.grid[0], self.grid[1])

    def score_features(self, patches: Tensor, pooled: Tensor) -> Tensor:
        return self.patch_scores(patches).flatten(1).amax(1)

    def score(self, x: Tensor) -> Tensor:
        return self.score_features(*self.extractor(x))

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s = self.patch_scores(self.extractor(x)[0])
        return s.flatten(1).amax(1), self.to_map(s)

    def anomaly_map(self, x: Tensor) -> Tensor:
        return self.score_and_map(x)[1]


def local_patches(patches: Tensor) -> Tensor:
    """PatchCore's locally aware features: each cell averaged with its 3x3 neighbourhood."""
    return F.avg_pool2d(patches, 3, stride=1, padding=1, count_include_pad=False)


class PatchCoreModel(nn.Module):
    def __init__(self, extractor: FeatureExtractor, bank_size: int, image_size: tuple[int, int]):
        super().__init__()
        self.extractor = extractor
        self.memory = MemoryBank(extractor.patch_channels, bank_size)
        self.to_map = AnomalyMap(image_size)

    def patch_scores(self, patches: Tensor) -> Tensor:
        local = local_patches(patches)
        n, c, h, w = local.shape
        rows = local.permute(0, 2, 3, 1).reshape(-1, c)
        return self.memory(rows, 1)[:, 0].reshape(n, h, w)

    def score_features(self, patches: Tensor, pooled: Tensor) -> Tensor:
        return self.patch_scores(patches).flatten(1).amax(1)

    def score(self, x: Tensor) -> Tensor:
        return self.score_features(*self.extractor(x))

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s = self.patch_scores(self.extractor(x)[0])
        return s.flatten(1).amax(1), self.to_map(s)

    def anomaly_map(self, x: Tensor) -> Tensor:
        return self.score_and_map(x)[1]


class SPADEModel(nn.Module):
    """Image score: mean distance of the image embedding to its k nearest normal embeddings.
    Map: each patch's distance to the nearest patch (any position) of those k normal images
    (SPADE's semantic pyramid alignment on one stacked pyramid level)."""

    def __init__(
        self,
        extractor: FeatureExtractor,
        n_gallery: int,
        grid: tuple[int, int],
        n_neighbors: int,
        image_size: tuple[int, int],
        max_block: int = MAX_BLOCK,
    ):
        super().__init__()
        self.extractor = extractor
        c, d = extractor.patch_channels, extractor.pooled_channels
        self.register_buffer("gallery_pooled", torch.zeros(n_gallery, d))
        self.register_buffer("gallery_patches", torch.zeros(n_gallery, grid[0] * grid[1], c))
        self.register_buffer("grid_shape", torch.tensor([int(grid[0]), int(grid[1])]))
        self.n_neighbors = n_neighbors
        self.max_block = max_block
        self.to_map = AnomalyMap(image_size)

    def fill(self, patches: Tensor, pooled: Tensor) -> SPADEModel:
        self.gallery_pooled = pooled.float().contiguous().clone()
        self.gallery_patches = patches.flatten(2).transpose(1, 2).float().contiguous().clone()
        return self

    def _neighbors(self, pooled: Tensor, exclude_self: bool) -> tuple[Tensor, Tensor]:
        """Distances and indices of each image's k nearest gallery images; a gallery image
        scored as its own query (exclude_self) skips itself (leave one out)."""
        k = min(self.n_neighbors, self.gallery_pooled.shape[0] - int(exclude_self))
        if k < 1:
            raise ValueError("SPADE needs at least 2 normal images to score its own")
        d, i = knn_distances(pooled, self.gallery_pooled, k + int(exclude_self), self.max_block)
        if exclude_self:
            other = i != torch.arange(len(pooled))[:, None]
            keep = other & (other.cumsum(1) <= k)  # the first k that are not the image itself
            d = d[keep].reshape(len(pooled), k)
            i = i[keep].reshape(len(pooled), k)
        return d, i

    def score_features(self, patches: Tensor, pooled: Tensor, exclude_self: bool = False) -> Tensor:
        return self._neighbors(pooled, exclude_self)[0].mean(1)

    def patch_scores(self, patches: Tensor, pooled: Tensor, exclude_self: bool = False):
        _, idx = self._neighbors(pooled, exclude_self)
        n, c, h, w = patches.shape
        rows = patches.flatten(2).transpose(1, 2)
        out = [
            knn_distances(rows[j], self.gallery_patches[idx[j]].reshape(-1, c), 1,
                          self.max_block)[0][:, 0]
            for j in range(n)
        ]  # fmt: skip
        return torch.stack(out).reshape(n, h, w)

    def score(self, x: Tensor) -> Tensor:
        return self.score_features(*self.extractor(x))

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        patches, pooled = self.extractor(x)
        return self.score_features(patches, pooled), self.to_map(self.patch_scores(patches, pooled))

    def anomaly_map(self, x: Tensor) -> Tensor:
        return self.score_and_map(x)[1]
