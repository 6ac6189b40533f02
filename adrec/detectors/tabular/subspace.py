"""Principal-component and non-negative parts detectors on scaled rows: PCA (distances in
the principal axes, eigenvalue-weighted) and NMF (the residual of non-negative parts)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls
from scipy.spatial.distance import cdist
from sklearn.decomposition import NMF

from adrec.detectors.tabular._common import (
    Scaler,
    TabularDetector,
    check_choice,
    check_int,
    row_norms_squared,
)

PCA_METHODS = ("weighted", "residual", "pyod")
_RELATIVE_RANK_TOL = 1e-12  # components with less variance than this share of the first


def residual_to_subspace(Z: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Squared distance of each row of Z to the span of the orthonormal rows of `basis`."""
    return row_norms_squared(Z - (Z @ basis.T) @ basis)


class PCADetector(TabularDetector):
    """Principal components of the scaled training rows (per-feature standardisation by
    default, as PyOD does), and one of three scores of a row z (centred) with coordinates
    y_j = z . v_j along the kept components v_j of variance lambda_j:

    - "weighted" (default): sum_j y_j^2 / lambda_j^power. power=1 is the Mahalanobis
      distance in the principal axes (Shyu et al. 2003, major and minor components alike);
      power=0 the plain squared distance, which ranks rows almost as PyOD's PCA does (its
      score is dominated by |z|); the default 0.5 sits between: a move along a minor
      component counts more than the same move along a major one, but not by the full
      eigenvalue ratio, which amplifies the noise of near-degenerate components.
      On `adrec bench detectors` it is at or above PyOD's PCA on every data set.
    - "residual": the squared distance to the span of the first components (those that
      explain 90% of the variance when n_components is None): what they cannot reproduce.
    - "pyod": PyOD's score, sum_j |z - v_j| / r_j over the kept components, r_j the share
      of variance of component j (distances to the unit eigenvectors as points).

    n_components: None (every component with non-zero variance), an int, or a fraction in
    (0, 1) of the variance to keep. Components of (numerically) zero variance are always
    dropped: constant or linearly dependent features cannot divide a score by zero. Training
    rows that are all the same (a flat series) have no principal axis at all: every axis then
    weighs 1, and the score is the squared (scaled) distance to the training mean."""

    name = "pca"

    def __init__(
        self,
        n_components: int | float | None = None,
        method: str = "weighted",
        power: float = 0.5,
        scaling: str = "standard",
        contamination: float = 0.01,
    ) -> None:
        self.n_components = n_components
        self.method = method
        self.power = power
        self.scaling = scaling
        self.contamination = contamination

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_components": 3}

    def _n_kept(self, ratio: np.ndarray, rank: int) -> int:
        k = self.n_components
        if k is None and self.method != "residual":
            return rank
        if k is None:  # the residual past the components that explain 90% of the variance
            k = 0.9
        if isinstance(k, float) and 0.0 < k < 1.0:
            return int(np.searchsorted(np.cumsum(ratio), k - 1e-12) + 1)
        return check_int(k, "n_components")

    def _learn(self, X: np.ndarray) -> None:
        check_choice(self.method, "method", PCA_METHODS)
        n, p = X.shape
        if self.method == "residual" and p < 2:
            raise ValueError("pca's residual needs at least 2 features (p - 1 components)")
        if isinstance(self.power, bool) or not isinstance(self.power, int | float):
            raise ValueError(f"power must be a number, got {self.power!r}")
        mean = X.mean(axis=0)
        centred = X - mean
        gram = centred.T @ centred if n > p else None
        if gram is not None and self.scaling != "range":
            # The per-feature spreads are the Gram matrix's diagonal: no second pass for them.
            spread = np.sqrt(np.maximum(np.diag(gram), 0.0) / n)
            self.scaler_ = Scaler.from_moments(mean, spread, self.scaling)
        else:
            self.scaler_ = Scaler.fit(X, self.scaling)
        scale = self.scaler_.scale
        if gram is not None:  # the eigendecomposition of the scaled rows' covariance
            variance, vectors = np.linalg.eigh(gram / (n - 1) / np.outer(scale, scale))
            variance, components = variance[::-1], vectors[:, ::-1].T
        else:  # fewer rows than features: the thin SVD of the scaled rows
            _, singular, components = np.linalg.svd(centred / scale, full_matrices=False)
            variance = np.square(singular) / max(n - 1, 1)
        variance = np.maximum(variance, 0.0)
        if variance[0] <= 0.0:  # constant training rows (a flat series): no principal axis,
            variance = np.ones_like(variance)  # so every axis weighs 1 (distance to the mean)
        ratio = variance / max(variance.sum(), 1e-300)
        # One sign per component, as scikit-learn's PCA fixes it (its largest entry > 0):
        # PyOD's score measures distances to the components as points.
        largest = components[np.arange(len(components)), np.abs(components).argmax(axis=1)]
        components = components * np.where(largest < 0, -1.0, 1.0)[:, None]
        rank = max(1, int(np.sum(variance > variance[0] * _RELATIVE_RANK_TOL)))
        k = min(self._n_kept(ratio, rank), rank)
        if self.method == "residual":
            k = min(k, p - 1)  # with all p components the residual is zero for every row
        self.mean_ = mean
        self.components_ = components[:k]
        self.variance_ = variance[:k]
        self.variance_ratio_ = ratio[:k]
        self._prepare()

    def _prepare(self) -> None:
        # Scaling folded into the projection: a row's coordinates in one product.
        self.projection_ = np.ascontiguousarray((self.components_ / self.scaler_.scale).T)
        self.weights_ = self.variance_ ** -float(self.power)

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        if self.method == "pyod":
            Z = self.scaler_.transform(X)
            return np.sum(cdist(Z, self.components_) / self.variance_ratio_, axis=1)
        X = X - self.mean_
        if self.method == "residual":
            return residual_to_subspace(X / self.scaler_.scale, self.components_)
        return np.square(X @ self.projection_) @ self.weights_

    def _state(self) -> dict[str, np.ndarray]:
        return {
            **self.scaler_.state(),
            "mean": self.mean_,
            "components": self.components_,
            "variance": self.variance_,
            "variance_ratio": self.variance_ratio_,
        }

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.scaler_ = Scaler.from_state(state)
        self.mean_ = state["mean"]
        self.components_ = state["components"]
        self.variance_ = state["variance"]
        self.variance_ratio_ = state["variance_ratio"]
        self._prepare()


class NMFDetector(TabularDetector):
    """Non-negative matrix factorisation of standardised rows shifted by their training
    minimum (so every training value is >= 0). A new row's code is its non-negative least
    squares fit on the learnt parts (scipy's exact NNLS, row by row, so a row's score does
    not depend on its batch); the score is the squared residual of that fit.

    A value below the training minimum would be negative after the shift, which NMF cannot
    represent: it is clipped at 0 for the NNLS fit, and the residual is measured against
    the unclipped row, so how far it falls below the minimum still counts in the score."""

    name = "nmf"

    def __init__(
        self,
        n_components: int = 5,
        max_iter: int = 400,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.n_components = n_components
        self.max_iter = max_iter
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_components": 2, "max_iter": 200}

    def _learn(self, X: np.ndarray) -> None:
        k = check_int(self.n_components, "n_components")
        self.scaler_ = Scaler.fit(X)
        Z = self.scaler_.transform(X)
        self.shift_ = Z.min(axis=0)
        nmf = NMF(
            n_components=min(k, X.shape[1]),
            init="nndsvda",
            max_iter=check_int(self.max_iter, "max_iter"),
            random_state=self.random_state,
        )
        nmf.fit(Z - self.shift_)
        self.components_ = nmf.components_

    def _shifted(self, X: np.ndarray) -> np.ndarray:
        return self.scaler_.transform(X) - self.shift_

    def codes(self, X: np.ndarray) -> np.ndarray:
        """Non-negative codes W (one row per input row) with W @ components_ ≈ the row."""
        clipped = np.maximum(self._shifted(np.asarray(X, dtype=np.float64)), 0.0)
        basis = self.components_.T
        return np.stack([nnls(basis, row)[0] for row in clipped])

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return row_norms_squared(self._shifted(X) - self.codes(X) @ self.components_)

    def _state(self) -> dict[str, np.ndarray]:
        return {**self.scaler_.state(), "shift": self.shift_, "components": self.components_}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.scaler_ = Scaler.from_state(state)
        self.shift_ = state["shift"]
        self.components_ = state["components"]
