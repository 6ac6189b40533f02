"""FastFlow over images (Yu et al., 2021): 2-D normalizing flows over the feature maps of a
frozen torchvision backbone (three stages), trained by maximum likelihood on normal images;
a position's negative log-likelihood is its anomaly score, the image's largest the image
score. Module: adrec.detectors.image.models.fastflow."""

from __future__ import annotations

import torch

from adrec.detectors.image.base import TrainedImageDetector
from adrec.detectors.image.models.fastflow import FastFlowModel


class FastFlowDetector(TrainedImageDetector):
    name = "fastflow"

    def __init__(
        self,
        n_steps: int = 8,
        hidden_ratio: float = 1.0,
        backbone: str = "mobilenet_v2",
        weights: str | None = None,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 16,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.n_steps = n_steps
        self.hidden_ratio = hidden_ratio
        self.backbone = backbone
        self.weights = weights
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_steps": 2, "hidden_ratio": 0.5, "epochs": 3, "lr": 1e-2, "batch_size": 50}

    def build_module(self, image_shape, pretrained: bool = True) -> FastFlowModel:
        weights = None if self.weights is None or not pretrained else str(self.weights)
        seed = int(torch.randint(2**31 - 1, ()))
        return FastFlowModel(image_shape, self.backbone, weights, seed, self.n_steps,
                             float(self.hidden_ratio))  # fmt: skip
