"""Density detectors: score = -log density under a Gaussian mixture or a kernel density
estimate, both from scikit-learn."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from adrec.detectors.tabular._common import (
    Standardizer,
    TabularDetector,
    positive_int,
    to_array,
    to_tensors,
)

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
BANDWIDTH_RULES = ("scott", "silverman")
_GMM_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


class GMMDetector(TabularDetector):
    """scikit-learn's GaussianMixture; the fitted weights, means and (Cholesky) precisions are
    the saved state and are set back on a fresh GaussianMixture at load."""

    name = "gmm"
    defaults = {"n_components": 1, "covariance_type": "full", "reg_covar": 1e-6, "seed": 0}

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_components": 2}

    def _mixture(self) -> GaussianMixture:
        kind = self.params["covariance_type"]
        if kind not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {kind!r}")
        return GaussianMixture(
            n_components=positive_int(self.params, "n_components"),
            covariance_type=kind,
            reg_covar=self.params["reg_covar"],
            random_state=self.params["seed"],
        )

    def _learn(self, X: np.ndarray) -> None:
        self.gmm_ = self._mixture().fit(X)

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return -self.gmm_.score_samples(X)

    def _state(self) -> dict[str, torch.Tensor]:
        return to_tensors(**{k.rstrip("_"): getattr(self.gmm_, k) for k in _GMM_ARRAYS})

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        gmm = self._mixture()
        for key in _GMM_ARRAYS:
            setattr(gmm, key, to_array(state, key.rstrip("_")))
        gmm.n_features_in_ = gmm.means_.shape[1]
        self.gmm_ = gmm


class KDEDetector(TabularDetector):
    """scikit-learn's KernelDensity (Gaussian kernel) on standardised rows. The bandwidth is
    "scott", "silverman" (scikit-learn's rules) or a number; the resolved value and the
    standardised training rows are the state, and the tree is rebuilt from them at load."""

    name = "kde"
    defaults = {"bandwidth": "scott"}

    def _learn(self, X: np.ndarray) -> None:
        bw = self.params["bandwidth"]
        numeric = isinstance(bw, int | float) and not isinstance(bw, bool)
        if not (bw in BANDWIDTH_RULES or (numeric and bw > 0)):
            raise ValueError(f"bandwidth must be one of {BANDWIDTH_RULES} or > 0, got {bw!r}")
        self.scaler_ = Standardizer.fit(X)
        self.train_ = self.scaler_.transform(X)
        self.bandwidth_ = float(KernelDensity(bandwidth=bw).fit(self.train_).bandwidth_)
        self._build()

    def _build(self) -> None:
        # Always built from the resolved number, after fit and after load alike, so that both
        # run exactly the same arithmetic.
        self.kde_ = KernelDensity(bandwidth=self.bandwidth_).fit(self.train_)

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return -self.kde_.score_samples(self.scaler_.transform(X))

    def _state(self) -> dict[str, torch.Tensor]:
        extra = to_tensors(train=self.train_, bandwidth=np.array(self.bandwidth_))
        return {**self.scaler_.state(), **extra}

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.scaler_ = Standardizer.from_state(state)
        self.train_ = to_array(state, "train")
        self.bandwidth_ = float(state["bandwidth"])
        self._build()
