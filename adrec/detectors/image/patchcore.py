"""PatchCore (Roth et al., 2022): locally aware patch features (3x3 neighbourhood average) of
normal images in a memory bank, thinned by greedy k-centre coreset selection; a patch scores
its distance to the nearest patch in the bank."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adrec.detectors.image.patch_detector import ImagePatchDetector


def greedy_coreset(x: torch.Tensor, n: int, seed: int, projection_dim: int = 128) -> torch.Tensor:
    """Indices of `n` rows of x chosen by greedy k-centre (each next row the farthest from
    those chosen), on a random projection as the paper does to make it cheap."""
    if n >= len(x):
        return torch.arange(len(x))
    gen = torch.Generator().manual_seed(seed)
    if x.shape[1] > projection_dim:
        x = x @ torch.randn(x.shape[1], projection_dim, generator=gen) / projection_dim**0.5
    chosen = [int(torch.randint(len(x), (1,), generator=gen))]
    nearest = torch.cdist(x, x[chosen]).squeeze(1)
    for _ in range(n - 1):
        nxt = int(nearest.argmax())
        chosen.append(nxt)
        nearest = torch.minimum(nearest, torch.cdist(x, x[nxt : nxt + 1]).squeeze(1))
    return torch.tensor(chosen)


class PatchCoreDetector(ImagePatchDetector):
    name = "patchcore"

    def __init__(
        self,
        coreset_ratio: float = 0.1,
        max_bank: int = 20_000,
        weights: str | None = None,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.coreset_ratio = coreset_ratio
        self.max_bank = max_bank
        self.weights = weights
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"coreset_ratio": 0.5}

    @staticmethod
    def _local(features: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(features, 3, stride=1, padding=1, count_include_pad=False)

    def _fit_patches(self, features: torch.Tensor) -> None:
        ratio = float(self.coreset_ratio)
        if not 0 < ratio <= 1:
            raise ValueError(f"coreset_ratio must be in (0, 1], got {ratio}")
        patches = self._local(features).permute(0, 2, 3, 1).reshape(-1, features.shape[1])
        n = min(max(1, round(ratio * len(patches))), int(self.max_bank))
        self.bank_ = patches[greedy_coreset(patches, n, self._seed())].contiguous()

    def _patch_scores(self, features: torch.Tensor) -> torch.Tensor:
        local = self._local(features)
        n, c, h, w = local.shape
        rows = local.permute(0, 2, 3, 1).reshape(-1, c)
        nearest = torch.cat([self._nearest(r) for r in rows.split(4096)])
        return nearest.reshape(n, h, w)

    def _nearest(self, rows: torch.Tensor, candidates: int = 5) -> torch.Tensor:
        """Distance to the nearest bank patch: candidates by the fast matrix-product cdist,
        then exact float64 distances to them, so a score does not depend on its batch (the
        product form rounds distances near zero differently per batch)."""
        k = min(candidates, len(self.bank_))
        idx = torch.cdist(rows, self.bank_).topk(k, largest=False).indices  # [r, k]
        diff = rows[:, None].double() - self.bank_[idx].double()
        return diff.square().sum(-1).sqrt().amin(1).float()

    def _stats(self) -> dict[str, torch.Tensor]:
        return {"bank": self.bank_}

    def _set_stats(self, state: dict[str, torch.Tensor]) -> None:
        self.bank_ = state["bank"]
