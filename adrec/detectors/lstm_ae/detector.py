"""The LSTM autoencoder behind the detector contract: windows [n, days, features] in,
reconstruction error out. Fitting, state and adoption of a module trained by Ray Train come
from TorchDetector; only the module and its loss are specific."""

from __future__ import annotations

from adrec.detectors.lstm_ae.torch_model import LSTMAutoencoder, reconstruction_loss
from adrec.detectors.neural.torch_detector import TorchDetector


class LSTMAEDetector(TorchDetector):
    name = "lstm_ae"
    input_ndim = 3
    loss = staticmethod(reconstruction_loss)

    def __init__(
        self,
        hidden: int = 32,
        latent: int = 8,
        epochs: int = 10,
        lr: float = 3e-3,
        batch_size: int = 128,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.hidden = hidden
        self.latent = latent
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"hidden": 8, "latent": 4, "epochs": 3, "lr": 1e-2, "batch_size": 50}

    def build_module(self, n_features: int) -> LSTMAutoencoder:
        return LSTMAutoencoder(n_features, self.hidden, self.latent)
