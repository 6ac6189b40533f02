"""Distance-based detectors over the training rows: k-nearest-neighbour distance and the Local
Outlier Factor (Breunig et al. 2000). Both keep the (standardised) training rows as their
state and rebuild scikit-learn's neighbour index from them at load: the index is a
deterministic function of the rows, so loaded scores equal fitted ones."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from adrec.detectors.tabular._common import (
    Standardizer,
    TabularDetector,
    positive_int,
    to_array,
    to_tensors,
)

KNN_METHODS = ("largest", "mean", "median")  # PyOD's names for the distance summary


class _NeighborDetector(TabularDetector):
    """Shared state: optional standardisation and the training rows."""

    def _learn(self, X: np.ndarray) -> None:
        k = positive_int(self.params, "n_neighbors")
        if k >= len(X):
            raise ValueError(f"n_neighbors ({k}) must be below the number of rows ({len(X)})")
        self._check_params()
        self.scaler_ = Standardizer.fit(X) if self.params["standardize"] else None
        self.train_ = self._scaled(X)
        self._build_index()

    def _check_params(self) -> None:
        pass

    def _build_index(self) -> None:
        raise NotImplementedError

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return X if self.scaler_ is None else self.scaler_.transform(X)

    def _state(self) -> dict[str, torch.Tensor]:
        state = to_tensors(train=self.train_)
        return state if self.scaler_ is None else {**state, **self.scaler_.state()}

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.scaler_ = Standardizer.from_state(state) if "scaler_mean" in state else None
        self.train_ = to_array(state, "train")
        self._build_index()


class KNNDetector(_NeighborDetector):
    """Distance of a row to its k nearest training rows: the k-th ("largest"), or their mean
    or median. Rows scored are treated as new: a training row counts itself as a neighbour at
    distance 0, so calibrate on held-out normal rows (fit's X_calib) for an unbiased threshold."""

    name = "knn"
    defaults = {"n_neighbors": 5, "method": "largest", "standardize": True}

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_neighbors": 3}

    def _check_params(self) -> None:
        if self.params["method"] not in KNN_METHODS:
            raise ValueError(f"method must be one of {KNN_METHODS}, got {self.params['method']!r}")

    def _build_index(self) -> None:
        self.index_ = NearestNeighbors(n_neighbors=self.params["n_neighbors"]).fit(self.train_)

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        dist, _ = self.index_.kneighbors(self._scaled(X))
        method = self.params["method"]
        if method == "largest":
            return dist[:, -1]
        return dist.mean(axis=1) if method == "mean" else np.median(dist, axis=1)


class LOFDetector(_NeighborDetector):
    """scikit-learn's LocalOutlierFactor in novelty mode; the score is the outlier factor
    (about 1 for inliers, larger for rows in sparser places than their neighbours)."""

    name = "lof"
    defaults = {"n_neighbors": 20, "standardize": True}

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_neighbors": 10}

    def _build_index(self) -> None:
        # Refitting on the saved rows is the rebuild: LOF's fitted arrays (k-distances, local
        # reachability densities) are a deterministic function of them.
        self.lof_ = LocalOutlierFactor(n_neighbors=self.params["n_neighbors"], novelty=True)
        self.lof_.fit(self.train_)

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return -self.lof_.score_samples(self._scaled(X))
