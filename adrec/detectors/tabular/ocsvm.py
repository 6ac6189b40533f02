"""One-Class SVM (Schölkopf et al. 2001) on standardised rows. scikit-learn solves the dual;
the support vectors, dual coefficients, intercept and the resolved kernel parameters are the
saved state, and the decision function is evaluated here from them."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.svm import OneClassSVM

from adrec.detectors.tabular._common import Standardizer, TabularDetector, to_array, to_tensors

KERNELS = ("rbf", "linear", "poly", "sigmoid")


class OneClassSVMDetector(TabularDetector):
    name = "ocsvm"
    defaults = {"nu": 0.1, "gamma": "scale", "kernel": "rbf", "degree": 3, "coef0": 0.0}

    def _gamma(self, Z: np.ndarray) -> float:
        """scikit-learn's rules for "scale" and "auto", resolved once so the value is saved."""
        gamma = self.params["gamma"]
        if gamma == "scale":
            var = Z.var()
            return 1.0 / (Z.shape[1] * var) if var > 0 else 1.0
        if gamma == "auto":
            return 1.0 / Z.shape[1]
        if isinstance(gamma, int | float) and not isinstance(gamma, bool) and gamma > 0:
            return float(gamma)
        raise ValueError(f'gamma must be "scale", "auto" or a positive number, got {gamma!r}')

    def _learn(self, X: np.ndarray) -> None:
        kernel, nu = self.params["kernel"], self.params["nu"]
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        if not 0.0 < nu <= 1.0:
            raise ValueError(f"nu must be in (0, 1], got {nu!r}")
        self.scaler_ = Standardizer.fit(X)
        Z = self.scaler_.transform(X)
        self.gamma_ = self._gamma(Z)
        svm = OneClassSVM(
            kernel=kernel,
            nu=nu,
            gamma=self.gamma_,
            degree=self.params["degree"],
            coef0=self.params["coef0"],
        ).fit(Z)
        self.support_vectors_ = svm.support_vectors_.astype(np.float64)
        self.dual_coef_ = svm.dual_coef_.ravel().astype(np.float64)
        self.intercept_ = float(svm.intercept_[0])

    def decision_function(self, Z: np.ndarray) -> np.ndarray:
        """scikit-learn's OneClassSVM.decision_function on standardised rows: positive inside
        the learnt support, negative outside."""
        K = pairwise_kernels(
            Z,
            self.support_vectors_,
            metric=self.params["kernel"],
            filter_params=True,
            gamma=self.gamma_,
            degree=self.params["degree"],
            coef0=self.params["coef0"],
        )
        return K @ self.dual_coef_ + self.intercept_

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return -self.decision_function(self.scaler_.transform(X))

    def _state(self) -> dict[str, torch.Tensor]:
        return {
            **self.scaler_.state(),
            **to_tensors(
                support_vectors=self.support_vectors_,
                dual_coef=self.dual_coef_,
                intercept=np.array(self.intercept_),
                gamma=np.array(self.gamma_),
            ),
        }

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.scaler_ = Standardizer.from_state(state)
        self.support_vectors_ = to_array(state, "support_vectors")
        self.dual_coef_ = to_array(state, "dual_coef")
        self.intercept_ = float(state["intercept"])
        self.gamma_ = float(state["gamma"])
