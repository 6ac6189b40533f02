"""PaDiM (Defard et al., 2021): a multivariate Gaussian of the patch feature at every grid
position, fitted on normal images; a patch scores its Mahalanobis distance to the Gaussian
of its position, the image its largest patch score. Like the paper, a random subset of the
feature channels keeps the covariances small and well conditioned."""

from __future__ import annotations

import torch

from adrec.components.features import FeatureExtractor
from adrec.detectors.image.base import FeatureDetector
from adrec.detectors.image.models.memory import PaDiMModel


class PaDiMDetector(FeatureDetector):
    name = "padim"

    def __init__(
        self,
        n_channels: int = 100,
        eps: float = 0.01,
        backbone: str = "mobilenet_v2",
        weights: str | None = None,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.n_channels = n_channels
        self.eps = eps
        self.backbone = backbone
        self.weights = weights
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_channels": 16}

    def _model_from_features(self, extractor, patches, pooled) -> PaDiMModel:
        c = extractor.patch_channels
        d = self.n_channels
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= c:
            raise ValueError(f"n_channels must be in 1..{c}, got {d!r}")
        gen = torch.Generator().manual_seed(self.seed_)
        channels = torch.randperm(c, generator=gen)[:d].sort().values
        model = PaDiMModel(extractor, channels, tuple(patches.shape[-2:]), self.image_size_)
        return model.fit(patches, float(self.eps))

    def _empty_model(self, state) -> PaDiMModel:
        extractor = FeatureExtractor(self.backbone)
        grid = tuple(state["grid_shape"].tolist())
        return PaDiMModel(extractor, state["channels"], grid, self.image_size_)
