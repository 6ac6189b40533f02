"""Isolation Forest (Liu, Ting & Zhou 2008): scikit-learn grows the trees; the fitted trees are
kept as plain arrays (the saved state, so a saved forest scores without unpickling anything)
and path lengths are computed here from them, vectorised over all trees at once."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from adrec.detectors.tabular._common import TabularDetector, check_int, check_positive

_LEAF = -1  # scikit-learn's marker for "no child"
_ROWS_PER_BLOCK = 256  # rows scored together: [trees, rows] index arrays stay in cache
_MAX_COMPLETE_NODES = 1 << 22  # trees x (2^(depth + 1) - 1) for the complete layout


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean depth of an unsuccessful search in a binary search tree of n keys, the
    depth a leaf holding n samples stands for (the paper's normalisation)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _float32_at_most(t: np.ndarray) -> np.ndarray:
    """The largest float32 <= t: for a float32 x, `x <= t` exactly when `x <= that`, so the
    trees (grown on float32 rows, float64 thresholds) are walked in float32."""
    out = t.astype(np.float32)
    over = out.astype(np.float64) > t
    out[over] = np.nextafter(out[over], np.float32(-np.inf))
    return out


class _Forest:
    """The trees re-laid for vectorised traversal, derived from the saved arrays.

    Shallow forests (the default, depth <= 8) use a complete binary layout: node k's children
    are 2k + 1 and 2k + 2, a leaf above the last level continues leftwards (threshold +inf)
    to a bottom node that holds its path length, so every row takes exactly `depth` steps of
    three gathers. Deeper forests walk scikit-learn's own node ids (leaves point to
    themselves)."""

    def __init__(self, left, right, feature, threshold, n_node_samples) -> None:
        n_trees, width = left.shape
        is_leaf = left == _LEAF  # padding past a tree's last node too: never reached
        depth = np.zeros(left.shape, dtype=np.int64)
        at = np.zeros(left.shape, dtype=bool)
        at[:, 0] = True
        level = 0
        while True:  # level by level, all trees at once
            t, i = np.nonzero(at & ~is_leaf)
            if not len(t):
                break
            level += 1
            at[:] = False
            for child in (left[t, i], right[t, i]):
                at[t, child] = True
                depth[t, child] = level
        self.n_trees, self.depth = n_trees, level
        path = depth + average_path_length(n_node_samples)  # meaningful at leaves
        self.complete = n_trees * 2 ** (level + 1) <= _MAX_COMPLETE_NODES
        if self.complete:
            self._lay_complete(left, right, feature, threshold, is_leaf, path)
            return
        base = np.arange(n_trees)[:, None] * width
        itself = np.arange(width)[None, :]
        self.left = (np.where(is_leaf, itself, left) + base).ravel()
        self.right = (np.where(is_leaf, itself, right) + base).ravel()
        self.feature = np.where(is_leaf, 0, feature).ravel()
        self.threshold = np.where(is_leaf, np.inf, threshold).ravel()
        self.path = path.ravel()
        self.width = width

    def _lay_complete(self, left, right, feature, threshold, is_leaf, path) -> None:
        d = self.depth
        n_nodes = 2 ** (d + 1) - 1
        feat = np.zeros((self.n_trees, n_nodes), dtype=np.int64)
        thr = np.full((self.n_trees, n_nodes), np.inf)
        bottom = np.zeros((self.n_trees, 2**d))
        t = np.arange(self.n_trees)
        node = np.zeros(self.n_trees, dtype=np.int64)  # scikit-learn ids
        pos = np.zeros(self.n_trees, dtype=np.int64)  # complete-layout ids
        level = np.zeros(self.n_trees, dtype=np.int64)
        while len(t):  # every (tree, node) pair once, level by level
            leaf = is_leaf[t, node]
            lt, ln, lp, ll = t[leaf], node[leaf], pos[leaf], level[leaf]
            # A leaf at level l sits at the bottom after d - l more left steps.
            steps = d - ll
            bottom_pos = (lp + 1) * 2**steps - 1
            bottom[lt, bottom_pos - (2**d - 1)] = path[lt, ln]
            it, iN, ip = t[~leaf], node[~leaf], pos[~leaf]
            feat[it, ip] = feature[it, iN]
            thr[it, ip] = threshold[it, iN]
            t = np.concatenate([it, it])
            node = np.concatenate([left[it, iN], right[it, iN]])
            pos = np.concatenate([2 * ip + 1, 2 * ip + 2])
            level = np.concatenate([level[~leaf] + 1, level[~leaf] + 1])
        self.feature = feat.ravel().astype(np.int32)
        self.threshold = _float32_at_most(thr.ravel())
        self.bottom = bottom.ravel()
        self.n_nodes = n_nodes

    def total_path(self, X: np.ndarray) -> np.ndarray:
        """Sum over trees of each row's path length (float32 rows)."""
        out = np.empty(len(X))
        for start in range(0, len(X), _ROWS_PER_BLOCK):
            block = np.ascontiguousarray(X[start : start + _ROWS_PER_BLOCK])
            out[start : start + len(block)] = self._block(block)
        return out

    def _block(self, X: np.ndarray) -> np.ndarray:
        m, d = X.shape
        values = X.ravel()
        row_base = (np.arange(m, dtype=np.int64) * d)[None, :]
        shape = (self.n_trees, m)
        if not self.complete:
            node = np.repeat(np.arange(self.n_trees)[:, None] * self.width, m, axis=1)
            X64 = values.astype(np.float64)
            for _ in range(self.depth):
                go_right = X64[row_base + self.feature[node]] > self.threshold[node]
                node = np.where(go_right, self.right[node], self.left[node])
            return self.path[node].sum(axis=0)
        # int32 indices (every index here is far below 2^31): half the memory traffic.
        tree_base = (np.arange(self.n_trees, dtype=np.int32) * self.n_nodes)[:, None]
        row_base = row_base.astype(np.int32)
        node = np.zeros(shape, dtype=np.int32)
        idx = np.empty(shape, dtype=np.int32)
        feat = np.empty(shape, dtype=np.int32)
        x = np.empty(shape, dtype=np.float32)
        thr = np.empty(shape, dtype=np.float32)
        right = np.empty(shape, dtype=bool)
        for _ in range(self.depth):
            np.add(tree_base, node, out=idx)
            np.take(self.feature, idx, out=feat)
            feat += row_base
            np.take(values, feat, out=x)
            np.take(self.threshold, idx, out=thr)
            np.greater(x, thr, out=right)
            node *= 2
            node += 1
            node += right
        leaf = node - (2**self.depth - 1) + (np.arange(self.n_trees) * 2**self.depth)[:, None]
        return self.bottom[leaf].sum(axis=0)


class IsolationForestDetector(TabularDetector):
    """Score: the paper's s = 2^(-E[h(x)] / c(max_samples)) minus 0.5, PyOD's and
    scikit-learn's (negated) decision_function, so scores compare directly with theirs."""

    name = "iforest"

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int | float | str = "auto",
        max_features: float = 1.0,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_estimators": 25, "max_samples": 64}

    def _learn(self, X: np.ndarray) -> None:
        check_positive(self.max_features, "max_features")
        forest = IsolationForest(
            n_estimators=check_int(self.n_estimators, "n_estimators"),
            max_samples=min(self.max_samples, len(X))
            if isinstance(self.max_samples, int)
            else self.max_samples,
            max_features=self.max_features,
            random_state=self.random_state,
        ).fit(X)
        # With max_features < 1 each tree sees a subset of the columns: map its split
        # features back to the input's columns.
        pairs = zip(forest.estimators_, forest.estimators_features_, strict=True)
        trees = [(est.tree_, cols) for est, cols in pairs]
        width = max(t.node_count for t, _ in trees)

        def stack(get, fill, dtype) -> np.ndarray:
            out = np.full((len(trees), width), fill, dtype=dtype)
            for i, (t, cols) in enumerate(trees):
                out[i, : t.node_count] = get(t, cols)
            return out

        self.children_left_ = stack(lambda t, c: t.children_left, _LEAF, np.int64)
        self.children_right_ = stack(lambda t, c: t.children_right, _LEAF, np.int64)
        leaf_safe = lambda t, c: np.asarray(c)[np.maximum(t.feature, 0)]  # noqa: E731
        self.feature_ = stack(leaf_safe, 0, np.int64)
        self.threshold_split_ = stack(lambda t, c: t.threshold, 0.0, np.float64)
        self.n_node_samples_ = stack(lambda t, c: t.n_node_samples, 1, np.int64)
        self.max_samples_ = int(forest.max_samples_)
        self._build()

    def _build(self) -> None:
        self.forest_ = _Forest(
            self.children_left_,
            self.children_right_,
            self.feature_,
            self.threshold_split_,
            self.n_node_samples_,
        )

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        mean_path = self.forest_.total_path(X.astype(np.float32)) / self.forest_.n_trees
        expected = average_path_length(np.array([self.max_samples_]))[0]
        return 2.0 ** (-mean_path / max(expected, 1e-12)) - 0.5

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._score_rows(X)  # float32 rows as they come: the trees compare in float32

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "children_left": self.children_left_,
            "children_right": self.children_right_,
            "feature": self.feature_,
            "threshold": self.threshold_split_,
            "n_node_samples": self.n_node_samples_,
            "max_samples": np.array(self.max_samples_),
        }

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.children_left_ = state["children_left"]
        self.children_right_ = state["children_right"]
        self.feature_ = state["feature"]
        self.threshold_split_ = state["threshold"]
        self.n_node_samples_ = state["n_node_samples"]
        self.max_samples_ = int(state["max_samples"])
        self._build()
