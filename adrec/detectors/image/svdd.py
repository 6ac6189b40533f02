"""Deep SVDD over images (Ruff et al., ICML 2018): a bias-free CNN maps normal images close
to a fixed centre; the score is the squared distance to it. It gives image scores only
(no pixel map). Module: adrec.detectors.image.models.conv.ConvSVDD."""

from __future__ import annotations

from adrec.detectors.image.base import TrainedImageDetector
from adrec.detectors.image.models.conv import ConvSVDD


class ConvSVDDDetector(TrainedImageDetector):
    name = "conv_svdd"
    has_maps = False

    def __init__(
        self,
        base_channels: int = 16,
        rep_dim: int = 64,
        epochs: int = 50,
        lr: float = 1e-3,
        batch_size: int = 16,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.base_channels = base_channels
        self.rep_dim = rep_dim
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"base_channels": 8, "rep_dim": 8, "epochs": 3, "lr": 1e-2, "batch_size": 50}

    def build_module(self, image_shape, pretrained: bool = True) -> ConvSVDD:
        return ConvSVDD(image_shape, self.base_channels, self.rep_dim)
