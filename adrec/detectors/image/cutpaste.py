"""CutPaste over images, patch level (Li et al., CVPR 2021): a CNN (a torchvision backbone,
ImageNet-initialised when `weights` is given, fine-tuned) learns to tell normal patches from
cut-and-pasted and scarred ones; a Gaussian density of the embeddings of normal patches
scores each patch; the image score is the largest patch score. Module and augmentations:
adrec.detectors.image.models.cutpaste."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adrec.detectors.image.base import TrainedImageDetector
from adrec.detectors.image.models.cutpaste import CutPasteModel, cutpaste_batch


def cutpaste_loss(model, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    core = getattr(model, "module", model)  # DistributedDataParallel keeps it as .module
    crops, labels = cutpaste_batch(batch, core.patch, generator)
    return F.cross_entropy(model(crops), labels.to(crops.device))


class CutPasteDetector(TrainedImageDetector):
    name = "cutpaste"
    loss = staticmethod(cutpaste_loss)

    def __init__(
        self,
        patch_size: int = 32,
        backbone: str = "mobilenet_v2",
        weights: str | None = None,
        head_dim: int = 128,
        epochs: int = 30,
        lr: float = 1e-4,
        batch_size: int = 16,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.patch_size = patch_size
        self.backbone = backbone
        self.weights = weights
        self.head_dim = head_dim
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"patch_size": 8, "backbone": "resnet18", "head_dim": 16, "epochs": 2,
                "lr": 1e-3, "batch_size": 50}  # fmt: skip

    def build_module(self, image_shape, pretrained: bool = True) -> CutPasteModel:
        weights = None if self.weights is None or not pretrained else str(self.weights)
        seed = int(torch.randint(2**31 - 1, ()))
        return CutPasteModel(image_shape, self.backbone, weights, seed, self.patch_size,
                             self.head_dim)  # fmt: skip
