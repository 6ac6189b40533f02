"""SPADE (Cohen & Hoshen, 2020, "Sub-Image Anomaly Detection with Deep Pyramid
Correspondences"): the image score is the mean distance of the image's embedding (the pooled
last stage of the backbone) to its k nearest normal images; each pixel scores the distance
of its patch feature to the nearest patch, at any position, of those k normal images, so an
object that moved is not an anomaly but a patch unlike any of its neighbours' patches is.

Every normal image's features are kept (the gallery); queries use the bounded-memory kNN.
Training images scored for the threshold leave themselves out of their own neighbours."""

from __future__ import annotations

import torch

from adrec.components.features import FeatureExtractor
from adrec.detectors.image.base import FeatureDetector
from adrec.detectors.image.models.memory import SPADEModel


class SPADEDetector(FeatureDetector):
    name = "spade"
    pooled_features = True

    def __init__(
        self,
        n_neighbors: int = 50,
        backbone: str = "mobilenet_v2",
        weights: str | None = None,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.backbone = backbone
        self.weights = weights
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_neighbors": 5}

    def _model_from_features(self, extractor, patches, pooled) -> SPADEModel:
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"n_neighbors must be an integer >= 1, got {k!r}")
        if len(patches) < 2:
            raise ValueError("SPADE needs at least 2 normal images")
        grid = tuple(patches.shape[-2:])
        model = SPADEModel(extractor, len(patches), grid, k, self.image_size_)
        return model.fill(patches, pooled)

    def _training_feature_scores(self, patches, pooled):
        with torch.no_grad():
            return self.model_.score_features(patches, pooled, exclude_self=True).double().numpy()

    def _empty_model(self, state) -> SPADEModel:
        extractor = FeatureExtractor(self.backbone, pooled=True)
        grid = tuple(state["grid_shape"].tolist())
        n = state["gallery_pooled"].shape[0]
        return SPADEModel(extractor, n, grid, self.n_neighbors, self.image_size_)
