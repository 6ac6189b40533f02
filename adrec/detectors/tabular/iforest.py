"""Isolation Forest (Liu, Ting & Zhou 2008): scikit-learn grows the trees; the fitted trees are
kept as plain arrays, and path lengths are computed here from them, so a saved forest scores
without unpickling anything."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.ensemble import IsolationForest

from adrec.detectors.tabular._common import TabularDetector, positive_int, to_array, to_tensors

_LEAF = -1  # scikit-learn's marker for "no child"


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean depth of an unsuccessful search in a binary search tree of n keys, the
    depth a leaf holding n samples stands for (the paper's normalisation)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class IsolationForestDetector(TabularDetector):
    name = "iforest"
    defaults = {"n_estimators": 100, "max_samples": "auto", "seed": 0}

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_estimators": 25, "max_samples": 64, "seed": 0}

    def _learn(self, X: np.ndarray) -> None:
        forest = IsolationForest(
            n_estimators=positive_int(self.params, "n_estimators"),
            max_samples=self.params["max_samples"],
            random_state=self.params["seed"],
        ).fit(X)
        trees = [est.tree_ for est in forest.estimators_]
        width = max(t.node_count for t in trees)

        def stack(attr: str, fill: float, dtype: type) -> np.ndarray:
            out = np.full((len(trees), width), fill, dtype=dtype)
            for i, t in enumerate(trees):
                out[i, : t.node_count] = getattr(t, attr)
            return out

        self.children_left_ = stack("children_left", _LEAF, np.int64)
        self.children_right_ = stack("children_right", _LEAF, np.int64)
        self.feature_ = np.maximum(stack("feature", 0, np.int64), 0)  # leaves store -2
        self.threshold_split_ = stack("threshold", 0.0, np.float64)
        self.n_node_samples_ = stack("n_node_samples", 1, np.int64)
        self.max_samples_ = int(forest.max_samples_)

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        # Trees were grown on float32 rows; compare in float32 as scikit-learn does.
        X = X.astype(np.float32)
        n_trees = len(self.children_left_)
        tree = np.arange(n_trees)[:, None]
        node = np.zeros((n_trees, len(X)), dtype=np.int64)
        depth = np.zeros(node.shape)
        inner = self.children_left_[tree, node] != _LEAF
        while inner.any():
            t, i = np.nonzero(inner)
            n = node[t, i]
            goes_left = X[i, self.feature_[t, n]] <= self.threshold_split_[t, n]
            node[t, i] = np.where(goes_left, self.children_left_[t, n], self.children_right_[t, n])
            depth[t, i] += 1.0
            inner[t, i] = self.children_left_[t, node[t, i]] != _LEAF
        path = depth + average_path_length(self.n_node_samples_[tree, node])
        expected = average_path_length(np.array([self.max_samples_]))[0]
        # The paper's anomaly score s = 2^(-E[h] / c(max_samples)) minus 0.5, its reference
        # point ("s well above 0.5: anomaly"): PyOD's and scikit-learn's (negated)
        # decision_function, so scores compare directly with theirs.
        return 2.0 ** (-path.mean(axis=0) / max(expected, 1e-12)) - 0.5

    def _state(self) -> dict[str, torch.Tensor]:
        return to_tensors(
            children_left=self.children_left_,
            children_right=self.children_right_,
            feature=self.feature_,
            threshold=self.threshold_split_,
            n_node_samples=self.n_node_samples_,
            max_samples=np.array(self.max_samples_),
        )

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.children_left_ = to_array(state, "children_left")
        self.children_right_ = to_array(state, "children_right")
        self.feature_ = to_array(state, "feature")
        self.threshold_split_ = to_array(state, "threshold")
        self.n_node_samples_ = to_array(state, "n_node_samples")
        self.max_samples_ = int(state["max_samples"])
