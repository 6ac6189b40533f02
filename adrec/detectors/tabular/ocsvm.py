"""One-Class SVM (Schölkopf et al. 2001) on scaled rows. scikit-learn solves the dual; the
support vectors, dual coefficients, intercept and the resolved kernel parameters are the
saved state, and the SVM's decision function is evaluated here from them, in row blocks so
that the kernel matrix never exceeds a bounded size."""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.svm import OneClassSVM

from adrec.detectors.tabular._common import (
    SCALINGS,
    Scaler,
    TabularDetector,
    blockwise,
    check_choice,
)

KERNELS = ("rbf", "linear", "poly", "sigmoid")


class OneClassSVMDetector(TabularDetector):
    """Score: minus scikit-learn's OneClassSVM.decision_function (which is positive inside
    the learnt support) on rows scaled by `scaling` ("shrink" by default: see Scaler)."""

    name = "ocsvm"

    def __init__(
        self,
        nu: float = 0.1,
        gamma: str | float = "scale",
        kernel: str = "rbf",
        degree: int = 3,
        coef0: float = 0.0,
        scaling: str = "shrink",
        contamination: float = 0.01,
    ) -> None:
        self.nu = nu
        self.gamma = gamma
        self.kernel = kernel
        self.degree = degree
        self.coef0 = coef0
        self.scaling = scaling
        self.contamination = contamination

    def _resolve_gamma(self, Z: np.ndarray) -> float:
        """scikit-learn's rules for "scale" and "auto", resolved once so the value is saved."""
        gamma = self.gamma
        if gamma == "scale":
            var = Z.var()
            return 1.0 / (Z.shape[1] * var) if var > 0 else 1.0
        if gamma == "auto":
            return 1.0 / Z.shape[1]
        if isinstance(gamma, int | float) and not isinstance(gamma, bool) and gamma > 0:
            return float(gamma)
        raise ValueError(f'gamma must be "scale", "auto" or a positive number, got {gamma!r}')

    def _learn(self, X: np.ndarray) -> None:
        check_choice(self.kernel, "kernel", KERNELS)
        if isinstance(self.nu, bool) or not isinstance(self.nu, int | float):
            raise ValueError(f"nu must be a number in (0, 1], got {self.nu!r}")
        if not 0.0 < self.nu <= 1.0:
            raise ValueError(f"nu must be in (0, 1], got {self.nu!r}")
        self.scaler_ = Scaler.fit(X, check_choice(self.scaling, "scaling", SCALINGS))
        Z = self.scaler_.transform(X)
        self.gamma_ = self._resolve_gamma(Z)
        svm = OneClassSVM(
            kernel=self.kernel, nu=self.nu, gamma=self.gamma_, degree=self.degree, coef0=self.coef0
        ).fit(Z)
        self.support_vectors_ = svm.support_vectors_.astype(np.float64)
        self.dual_coef_ = svm.dual_coef_.ravel().astype(np.float64)
        self.intercept_ = float(svm.intercept_[0])

    def svm_decision(self, Z: np.ndarray) -> np.ndarray:
        """scikit-learn's OneClassSVM.decision_function on scaled rows Z: positive inside the
        learnt support, negative outside."""

        def block(rows: np.ndarray) -> np.ndarray:
            K = pairwise_kernels(
                rows,
                self.support_vectors_,
                metric=self.kernel,
                filter_params=True,
                gamma=self.gamma_,
                degree=self.degree,
                coef0=self.coef0,
            )
            return K @ self.dual_coef_ + self.intercept_

        return blockwise(block, Z, per_row=len(self.support_vectors_))

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return -self.svm_decision(self.scaler_.transform(X))

    def _state(self) -> dict[str, np.ndarray]:
        return {
            **self.scaler_.state(),
            "support_vectors": self.support_vectors_,
            "dual_coef": self.dual_coef_,
            "intercept": np.array(self.intercept_),
            "gamma": np.array(self.gamma_),
        }

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.scaler_ = Scaler.from_state(state)
        self.support_vectors_ = state["support_vectors"]
        self.dual_coef_ = state["dual_coef"]
        self.intercept_ = float(state["intercept"])
        self.gamma_ = float(state["gamma"])
