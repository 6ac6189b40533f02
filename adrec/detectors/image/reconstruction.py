"""Convolutional autoencoder and VAE over images: trained from scratch on the normal images
to reconstruct them; the per-pixel squared reconstruction error is the map, its mean (plus
the KL term for the VAE) the image score. Modules: adrec.detectors.image.models.conv."""

from __future__ import annotations

from adrec.detectors.image.base import TrainedImageDetector
from adrec.detectors.image.models.conv import ConvAutoencoder, ConvVAE


class ConvAEDetector(TrainedImageDetector):
    name = "conv_ae"

    def __init__(
        self,
        base_channels: int = 32,
        latent: int = 64,
        epochs: int = 50,
        lr: float = 1e-3,
        batch_size: int = 16,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.base_channels = base_channels
        self.latent = latent
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"base_channels": 8, "latent": 8, "epochs": 3, "lr": 1e-2, "batch_size": 50}

    def build_module(self, image_shape, pretrained: bool = True) -> ConvAutoencoder:
        return ConvAutoencoder(image_shape, self.base_channels, self.latent)


class ConvVAEDetector(TrainedImageDetector):
    name = "conv_vae"

    def __init__(
        self,
        base_channels: int = 32,
        latent: int = 64,
        beta: float = 1.0,
        epochs: int = 50,
        lr: float = 1e-3,
        batch_size: int = 16,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.base_channels = base_channels
        self.latent = latent
        self.beta = beta
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"base_channels": 8, "latent": 8, "epochs": 3, "lr": 1e-2, "batch_size": 50}

    def build_module(self, image_shape, pretrained: bool = True) -> ConvVAE:
        return ConvVAE(image_shape, self.base_channels, self.latent, float(self.beta))
