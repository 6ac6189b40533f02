"""Reconstruction detectors: a row's score is the part of it a low-dimensional model of the
normal rows cannot reproduce. PCA (linear subspace) and NMF (non-negative parts)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import nnls
from sklearn.decomposition import NMF, PCA

from adrec.detectors.tabular._common import (
    Standardizer,
    TabularDetector,
    positive_int,
    to_array,
    to_tensors,
)


def residual_to_subspace(Z: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Squared distance of each row of Z to the span of the orthonormal rows of `basis`."""
    return np.square(Z - (Z @ basis.T) @ basis).sum(axis=1)


class PCADetector(TabularDetector):
    """Squared reconstruction error after projecting standardised rows onto the leading
    principal components. n_components: an int, or a fraction of variance in (0, 1). At most
    p - 1 components are kept: with all p the residual is zero for every row."""

    name = "pca"
    defaults = {"n_components": 0.9}

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_components": 2}

    def _learn(self, X: np.ndarray) -> None:
        k = self.params["n_components"]
        fraction = isinstance(k, float) and 0.0 < k < 1.0
        if not fraction:
            k = positive_int(self.params, "n_components")
        p = X.shape[1]
        if p < 2:
            raise ValueError("pca needs at least 2 features (it scores what p - 1 components miss)")
        self.scaler_ = Standardizer.fit(X)
        Z = self.scaler_.transform(X)
        pca = PCA(n_components=k if fraction else min(k, p, len(X)), svd_solver="full").fit(Z)
        self.mean_ = pca.mean_
        self.components_ = pca.components_[: p - 1]

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return residual_to_subspace(self.scaler_.transform(X) - self.mean_, self.components_)

    def _state(self) -> dict[str, torch.Tensor]:
        return {**self.scaler_.state(), **to_tensors(mean=self.mean_, components=self.components_)}

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.scaler_ = Standardizer.from_state(state)
        self.mean_ = to_array(state, "mean")
        self.components_ = to_array(state, "components")


class NMFDetector(TabularDetector):
    """Non-negative matrix factorisation of standardised rows shifted by their training
    minimum (so every training value is >= 0). A new row's code is its non-negative least
    squares fit on the learnt parts (scipy's exact NNLS, row by row, so a row's score does
    not depend on its batch); the score is the squared residual of that fit.

    A value below the training minimum would be negative after the shift, which NMF cannot
    represent: it is clipped at 0 for the NNLS fit, and the residual is measured against
    the unclipped row, so how far it falls below the minimum still counts in the score."""

    name = "nmf"
    defaults = {"n_components": 5, "max_iter": 400, "seed": 0}

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_components": 2, "max_iter": 200}

    def _learn(self, X: np.ndarray) -> None:
        k = positive_int(self.params, "n_components")
        self.scaler_ = Standardizer.fit(X)
        Z = self.scaler_.transform(X)
        self.shift_ = Z.min(axis=0)
        nmf = NMF(
            n_components=min(k, X.shape[1]),
            init="nndsvda",
            max_iter=positive_int(self.params, "max_iter"),
            random_state=self.params["seed"],
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
        return np.square(self._shifted(X) - self.codes(X) @ self.components_).sum(axis=1)

    def _state(self) -> dict[str, torch.Tensor]:
        extra = to_tensors(shift=self.shift_, components=self.components_)
        return {**self.scaler_.state(), **extra}

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.scaler_ = Standardizer.from_state(state)
        self.shift_ = to_array(state, "shift")
        self.components_ = to_array(state, "components")
