"""What PaDiM and PatchCore share: the backbone, patch scores on the feature grid, the image
score (the largest patch score) and anomaly maps at the image's resolution."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from adrec.base import BaseDetector, NotFittedError
from adrec.detectors.image.backbone import mobilenet_features, patch_features


class ImagePatchDetector(BaseDetector):
    """Subclasses declare `defaults` and implement `_fit_patches(features [n, C, h, w])`,
    `_patch_scores(features) -> [n, h, w]` and `_stats` / `_set_stats` (their tensors)."""

    input_ndim = 4  # [n, 3, H, W]
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, quantile: float = 0.99, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults) - {"weights", "seed"})
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameter(s) {unknown}")
        # weights: a MobileNetV2 features state_dict; None gives seeded random weights (tests).
        super().__init__(quantile, **{"weights": None, "seed": 0, **self.defaults, **params})
        if self.params["weights"] is not None:  # params are saved as JSON
            self.params["weights"] = str(self.params["weights"])
        self.backbone_ = None

    def _backbone(self):
        if self.backbone_ is None:
            self.backbone_ = mobilenet_features(self.params["weights"], self.params["seed"])
        return self.backbone_

    def _features(self, X: np.ndarray) -> torch.Tensor:
        if X.shape[1] != 3:
            raise ValueError(f"images must have 3 channels (RGB) on axis 1, got {X.shape[1]}")
        return patch_features(self._backbone(), torch.from_numpy(np.ascontiguousarray(X)))

    def _fit(self, X: np.ndarray) -> None:
        self.image_size_ = tuple(X.shape[-2:])
        self._fit_patches(self._features(X))
        self.n_features_ = X.shape[-1]
        self.fitted_ = True

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._patch_scores(self._features(X)).flatten(1).amax(1).double().numpy()

    def anomaly_map(self, X: np.ndarray) -> np.ndarray:
        """Patch scores resized to the images: [n, H, W] (for pixel-level metrics)."""
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")
        X = self._check_input(X, "X")
        scores = self._patch_scores(self._features(X))[:, None]
        return F.interpolate(scores, size=X.shape[-2:], mode="bilinear")[:, 0].double().numpy()

    def _state(self) -> dict[str, torch.Tensor]:
        backbone = {f"backbone.{k}": v for k, v in self._backbone().state_dict().items()}
        return {**backbone, **self._stats(), "image_size": torch.tensor(self.image_size_)}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        # The saved backbone is used as it is: a loaded detector needs no weights file.
        self.backbone_ = mobilenet_features(None, self.params["seed"])
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
