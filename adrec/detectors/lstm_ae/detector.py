"""The LSTM autoencoder behind the detector contract: windows [n, days, features] in,
reconstruction error out. Fitting, state and adoption of a module trained by Ray Train come
from TorchDetector; only the module and its loss are specific."""

from __future__ import annotations

from adrec.detectors.lstm_ae.torch_model import LSTMAutoencoder, reconstruction_loss
from adrec.detectors.neural.torch_detector import TorchDetector


class LSTMAEDetector(TorchDetector):
    name = "lstm_ae"
    input_ndim = 3
    defaults = {"hidden": 32, "latent": 8, "epochs": 10, "lr": 3e-3}
    loss = staticmethod(reconstruction_loss)

    @classmethod
    def get_test_params(cls) -> dict:
        return {"hidden": 8, "latent": 4, "epochs": 3, "lr": 1e-2, "batch_size": 50, "seed": 0}

    def build_module(self, n_features: int) -> LSTMAutoencoder:
        return LSTMAutoencoder(n_features, self.params["hidden"], self.params["latent"])
