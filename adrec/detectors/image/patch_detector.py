"""What PaDiM and PatchCore share: the backbone, patch scores on the feature grid, the image
score (the largest patch score) and anomaly maps at the image's resolution."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from adrec.base import BaseDetector, seed_from
from adrec.detectors.image.backbone import mobilenet_features, patch_features


class ImagePatchDetector(BaseDetector):
    """Subclasses declare their parameters (with `weights`, `contamination` and
    `random_state`) and implement `_fit_patches(features [n, C, h, w])`,
    `_patch_scores(features) -> [n, h, w]` and `_stats` / `_set_stats` (their tensors).

    weights: a MobileNetV2 features state_dict file; None gives random weights seeded by
    random_state (tests)."""

    input_ndim = 4  # [n, 3, H, W]

    def _seed(self) -> int:
        if getattr(self, "seed_", None) is None:
            self.seed_ = seed_from(self.random_state)
        return self.seed_

    def _backbone(self):
        if getattr(self, "backbone_", None) is None:
            weights = None if self.weights is None else str(self.weights)
            self.backbone_ = mobilenet_features(weights, self._seed())
        return self.backbone_

    def _features(self, X: np.ndarray) -> torch.Tensor:
        if X.shape[1] != 3:
            raise ValueError(f"images must have 3 channels (RGB) on axis 1, got {X.shape[1]}")
        return patch_features(self._backbone(), torch.from_numpy(np.ascontiguousarray(X)))

    def _fit(self, X: np.ndarray) -> None:
        self.backbone_, self.seed_ = None, seed_from(self.random_state)
        self.image_size_ = tuple(X.shape[-2:])
        self._fit_patches(self._features(X))
        self.n_features_ = X.shape[-1]
        self.fitted_ = True

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._patch_scores(self._features(X)).flatten(1).amax(1).double().numpy()

    def anomaly_map(self, X: np.ndarray) -> np.ndarray:
        """Patch scores resized to the images: [n, H, W] (for pixel-level metrics)."""
        self._require_fitted()
        X = self._check_input(X, "X")
        scores = self._patch_scores(self._features(X))[:, None]
        return F.interpolate(scores, size=X.shape[-2:], mode="bilinear")[:, 0].double().numpy()

    def _state(self) -> dict[str, torch.Tensor]:
        backbone = {f"backbone.{k}": v for k, v in self._backbone().state_dict().items()}
        return {**backbone, **self._stats(), "image_size": torch.tensor(self.image_size_)}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        # The saved backbone is used as it is: a loaded detector needs no weights file.
        self.backbone_ = mobilenet_features(None, 0)  # its weights are replaced next
        prefix = "backbone."
        self.backbone_.load_state_dict(
            {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        )
        self.image_size_ = tuple(state["image_size"].tolist())
        self._set_stats({k: v for k, v in state.items() if not k.startswith(prefix)})

    def _fit_patches(self, features: torch.Tensor) -> None:
        raise NotImplementedError

    def _patch_scores(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _stats(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _set_stats(self, state: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError
