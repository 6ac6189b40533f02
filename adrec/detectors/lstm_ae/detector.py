"""The LSTM autoencoder behind the detector contract: windows [n, days, features] in,
reconstruction error out."""

from __future__ import annotations

import numpy as np
import torch

from adrec.base import BaseDetector
from adrec.detectors.lstm_ae.torch_model import LSTMAutoencoder, reconstruction_loss
from adrec.training import minibatches, train_one_epoch

DEFAULTS = {"hidden": 32, "latent": 8, "epochs": 10, "lr": 3e-3, "batch_size": 128, "seed": 0}


class LSTMAEDetector(BaseDetector):
    name = "lstm_ae"
    input_ndim = 3

    def __init__(self, quantile: float = 0.99, **params):
        super().__init__(quantile, **{**DEFAULTS, **params})

    @classmethod
    def get_test_params(cls) -> dict:
        return {"hidden": 8, "latent": 4, "epochs": 3, "lr": 1e-2, "batch_size": 50, "seed": 0}

    def build_module(self, n_features: int) -> LSTMAutoencoder:
        return LSTMAutoencoder(n_features, self.params["hidden"], self.params["latent"])

    def _fit(self, X: np.ndarray) -> None:
        torch.manual_seed(self.params["seed"])
        gen = torch.Generator().manual_seed(self.params["seed"])
        x = torch.from_numpy(X)
        module = self.build_module(X.shape[-1])
        module.set_normalization(x)
        opt = torch.optim.Adam(module.parameters(), lr=self.params["lr"])
        for _ in range(self.params["epochs"]):
            train_one_epoch(
                module, minibatches(x, self.params["batch_size"], gen), reconstruction_loss, opt
            )
        self.use_module(module)

    def use_module(self, module: LSTMAutoencoder) -> LSTMAEDetector:
        """Adopt a trained module (e.g. one trained by Ray Train); calibrate() comes next."""
        self.module_ = module.eval()
        self.n_features_ = module.mean.shape[0]
        self.fitted_ = True
        return self

    @torch.no_grad()
    def _score(self, X: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(X)
        return torch.cat([self.module_.window_errors(b) for b in x.split(4096)]).numpy()

    def _state(self) -> dict[str, torch.Tensor]:
        return self.module_.state_dict()

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        module = self.build_module(state["mean"].shape[0])
        module.load_state_dict(state)
        self.use_module(module)
