"""PatchCore (Roth et al., 2022): locally aware patch features (3x3 neighbourhood average) of
normal images in a memory bank, thinned by greedy k-centre coreset selection
(adrec.components.coreset); a patch scores its distance to the nearest patch in the bank
(bounded-memory kNN), the image its largest patch score."""

from __future__ import annotations

from adrec.components.coreset import greedy_coreset
from adrec.components.features import FeatureExtractor
from adrec.detectors.image.base import FeatureDetector
from adrec.detectors.image.models.memory import PatchCoreModel, local_patches


class PatchCoreDetector(FeatureDetector):
    name = "patchcore"

    def __init__(
        self,
        coreset_ratio: float = 0.1,
        max_bank: int = 20_000,
        backbone: str = "mobilenet_v2",
        weights: str | None = None,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.coreset_ratio = coreset_ratio
        self.max_bank = max_bank
        self.backbone = backbone
        self.weights = weights
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"coreset_ratio": 0.5}

    def _model_from_features(self, extractor, patches, pooled) -> PatchCoreModel:
        ratio = self.coreset_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 1:
            raise ValueError(f"coreset_ratio must be in (0, 1], got {ratio!r}")
        cap = self.max_bank
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValueError(f"max_bank must be an integer >= 1, got {cap!r}")
        local = local_patches(patches)
        rows = local.permute(0, 2, 3, 1).reshape(-1, local.shape[1])
        n = min(max(1, round(ratio * len(rows))), self.max_bank)
        bank = rows[greedy_coreset(rows, n, self.seed_)]
        model = PatchCoreModel(extractor, n, self.image_size_)
        model.memory.fill(bank)
        return model

    def _empty_model(self, state) -> PatchCoreModel:
        extractor = FeatureExtractor(self.backbone)
        return PatchCoreModel(extractor, state["memory.bank"].shape[0], self.image_size_)
