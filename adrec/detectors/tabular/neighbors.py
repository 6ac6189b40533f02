"""Distance-based detectors over the (scaled) training rows: k-nearest-neighbour distance and
the Local Outlier Factor (Breunig et al. 2000).

Exact Euclidean neighbours, memory bounded: in up to 15 dimensions (where scikit-learn's
"auto" would build a KD tree) SciPy's cKDTree, the faster KD tree on these machines (25-35%
less CPU than scikit-learn's for the same queries); above that brute force. From 1,200
training rows FAISS's flat L2 search (float32 BLAS products; its reservoir selection, faster
than its heap for these k) finds k + 8 candidates per query, and their distances, recomputed
from the differences (each squared in float32, summed pairwise: within 1e-7 of float64),
pick the k. On 10,000 queries of 130 features (windows of a series), CPU seconds against
scikit-learn's brute force with the same neighbours: 1.04x at 1,000 training rows, 0.87x at
1,500, 0.79x at 2,000, 0.70x at 2,800, 0.57x at 4,000. The recomputation keeps distances
exact where it matters (float32's cancellation in |x|^2 + |y|^2 - 2xy would make a
duplicate's distance 1e-3 instead of 0); the float32 copy of the rows it searches loses
little, since the detectors' input is float32 already (BaseDetector validates it so). Below
1,200 rows FAISS's selection and the recomputation cost more than its products save (1.8x
scikit-learn's time at 300 rows, 1.4x at 600): there scikit-learn's NearestNeighbors does
the brute force, on float64 rows (its float32 search took 12% more time on 200 rows).

A KD tree search is bound by memory, not arithmetic, once the rows outgrow the CPU caches:
rows and queries in arbitrary order make each query walk to other nodes than the last one.
So the training rows are stored in the tree's own leaf order, and a large batch of queries
is searched in a leaf order of its own (then put back): near queries follow one another
and find the nodes they need still cached. With leaves of 32 rows instead of 16, that took
LOF's fit + score on 300,000 rows of 10 features (benchmarks/detector_scale.py's data)
from 36 to 12 CPU seconds, with the same neighbours: each query's search does not depend
on the others, so a row's answer does not depend on its batch.

The saved state is the scaled training rows (plus LOF's k-distances and reachability
densities); the index is a deterministic function of the rows and is rebuilt from them at
load, so loaded scores equal fitted ones."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from sklearn import config_context
from sklearn.neighbors import NearestNeighbors

from adrec.base import bounded_sample
from adrec.detectors.tabular._common import (
    SCALINGS,
    Scaler,
    TabularDetector,
    check_choice,
    check_int,
    row_blocks,
    uses_tree,
)

KNN_METHODS = ("largest", "mean", "median")  # PyOD's names for the distance summary
_LEAF_SIZE = 32  # rows per KD tree leaf: 10-15% less CPU than SciPy's 16 (LOF, 100k rows)
_ORDER_FROM_ROWS = 2_000  # queries in a batch from which sorting them pays for itself
_FAISS_FROM_ROWS = 1_200  # training rows from which FAISS's brute force pays (see above)
_RERANK_MARGIN = 8  # float32 candidates beyond k whose exact distances are compared
# Candidate coordinates re-ranked at once: 4 MB of float32, small enough that the memory
# is reused from block to block (larger blocks cost their page faults anew on a first fit).
_RERANK_VALUES = 1_000_000


def leaf_order(rows: np.ndarray) -> np.ndarray:
    """A permutation of the rows that keeps near rows together: a KD tree's leaf order."""
    return cKDTree(rows, leafsize=_LEAF_SIZE).indices


class NeighborIndex:
    """k nearest training rows of query rows: distances (ascending) and row indices."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self._tree = self._small = self._rows32 = None
        if uses_tree(rows.shape[1]):
            self._tree = cKDTree(rows, leafsize=_LEAF_SIZE)
        elif len(rows) < _FAISS_FROM_ROWS:
            self._small = NearestNeighbors(algorithm="brute").fit(rows)
        else:
            self._rows32 = np.ascontiguousarray(rows, dtype=np.float32)

    def query(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._tree is None or len(X) < _ORDER_FROM_ROWS:
            return self._search(X, k)
        order = leaf_order(X)
        dist, ind = np.empty((len(X), k)), np.empty((len(X), k), dtype=np.intp)
        dist[order], ind[order] = self._search(X[order], k)
        return dist, ind

    def _search(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._tree is not None:
            dist, ind = self._tree.query(X, k=k)
            return dist.reshape(len(X), k), ind.reshape(len(X), k)
        if self._small is not None:
            # The rows are scaled detector inputs, already checked finite (BaseDetector).
            with config_context(assume_finite=True):
                dist, ind = self._small.kneighbors(X, n_neighbors=k)
            return dist.astype(np.float64, copy=False), ind
        return self._brute_force(X, k)

    def _brute_force(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss  # only here: the KD tree detectors never load it

        m = min(len(self.rows), k + _RERANK_MARGIN)
        X = np.ascontiguousarray(X, dtype=np.float32)
        saved = faiss.cvar.distance_compute_min_k_reservoir
        faiss.cvar.distance_compute_min_k_reservoir = 1  # reservoir selection at any k
        try:
            _, candidates = faiss.knn(X, self._rows32, m)
        finally:
            faiss.cvar.distance_compute_min_k_reservoir = saved
        dist, ind = np.empty((len(X), k)), np.empty((len(X), k), dtype=np.intp)
        for s in row_blocks(len(X), m * X.shape[1], _RERANK_VALUES):
            cand = candidates[s]
            # Differences first (no cancellation: a duplicate's 0), squared in place and
            # summed pairwise by NumPy along the contiguous last axis.
            squares = self._rows32[cand]
            squares -= X[s, None, :]
            squares *= squares
            exact = squares.sum(axis=2)
            best = np.argsort(exact, axis=1, kind="stable")[:, :k]
            dist[s] = np.sqrt(np.take_along_axis(exact, best, axis=1).astype(np.float64))
            ind[s] = np.take_along_axis(cand, best, axis=1)
        return dist, ind

    def query_training(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest neighbours of the training rows `rows` (indices), each row itself
        left out (as scikit-learn does: an exact duplicate still counts as a neighbour).
        The training rows are stored in leaf order (see _NeighborDetector), so rows in
        increasing order are already a cache-friendly query order."""
        dist, ind = self._search(self.rows[rows], k + 1)
        is_self = ind == rows[:, None]
        is_self[~is_self.any(axis=1), -1] = True  # itself beyond k + 1 duplicates
        keep = ~is_self
        return dist[keep].reshape(len(rows), k), ind[keep].reshape(len(rows), k)


class _NeighborDetector(TabularDetector):
    """Shared: the scaler, the training rows and their index."""

    def _learn(self, X: np.ndarray) -> None:
        k = check_int(self.n_neighbors, "n_neighbors")
        if k >= len(X):
            raise ValueError(f"n_neighbors ({k}) must be below the number of rows ({len(X)})")
        check_choice(self.scaling, "scaling", SCALINGS)
        self.scaler_ = Scaler.fit(X, self.scaling)
        scaled = self.scaler_.transform(X)
        if uses_tree(scaled.shape[1]):  # leaf order: see the module docstring
            scaled = scaled[leaf_order(scaled)]
        self.train_ = np.ascontiguousarray(scaled)
        self._build_index()

    def _build_index(self) -> None:
        self.index_ = NeighborIndex(self.train_)

    def _neighbors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.index_.query(self.scaler_.transform(X), self.n_neighbors)

    def _state(self) -> dict[str, np.ndarray]:
        return {"train": self.train_, **self.scaler_.state()}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.scaler_ = Scaler.from_state(state)
        self.train_ = state["train"]
        self._build_index()


class KNNDetector(_NeighborDetector):
    """Distance of a row to its k nearest training rows: the k-th ("largest"), or their mean
    or median (PyOD's KNN). A training row scored through the threshold pass of fit() leaves
    itself out of its own neighbours (as PyOD does); rows given to decision_function are
    treated as new."""

    name = "knn"

    def __init__(
        self,
        n_neighbors: int = 5,
        method: str = "largest",
        scaling: str = "shrink",
        contamination: float = 0.01,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.method = method
        self.scaling = scaling
        self.contamination = contamination

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_neighbors": 3}

    def _learn(self, X: np.ndarray) -> None:
        check_choice(self.method, "method", KNN_METHODS)
        super()._learn(X)

    def _summary(self, dist: np.ndarray) -> np.ndarray:
        if self.method == "largest":
            return dist[:, -1]
        return dist.mean(axis=1) if self.method == "mean" else np.median(dist, axis=1)

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        return self._summary(self._neighbors(X)[0])

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        rows = bounded_sample(np.arange(len(self.train_)))
        return self._summary(self.index_.query_training(rows, self.n_neighbors)[0])


class LOFDetector(_NeighborDetector):
    """The Local Outlier Factor of a new row (scikit-learn's LocalOutlierFactor with
    novelty=True computes the same numbers, up to rounding): the mean ratio of its k
    neighbours' local reachability densities to its own; about 1 for inliers, larger in
    sparser places.

    fit() computes every training row's k-distance and reachability density (LOF needs
    them) and with them the training rows' own outlier factors, which set the threshold
    when there is no X_calib: no extra pass."""

    name = "lof"

    def __init__(
        self, n_neighbors: int = 20, scaling: str = "shrink", contamination: float = 0.01
    ) -> None:
        self.n_neighbors = n_neighbors
        self.scaling = scaling
        self.contamination = contamination

    @classmethod
    def get_test_params(cls) -> dict:
        return {"n_neighbors": 10}

    def _learn(self, X: np.ndarray) -> None:
        super()._learn(X)
        every = np.arange(len(self.train_))
        dist, ind = self.index_.query_training(every, self.n_neighbors)
        self.k_distance_ = np.ascontiguousarray(dist[:, -1])
        self.lrd_ = self._reachability_density(dist, ind)
        self._fit_scores = np.mean(self.lrd_[ind] / self.lrd_[:, None], axis=1)

    def _reachability_density(self, dist: np.ndarray, ind: np.ndarray) -> np.ndarray:
        reach = np.maximum(dist, self.k_distance_[ind])
        return 1.0 / (np.mean(reach, axis=1) + 1e-10)  # scikit-learn's guard for duplicates

    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        dist, ind = self._neighbors(X)
        lrd = self._reachability_density(dist, ind)
        return np.mean(self.lrd_[ind] / lrd[:, None], axis=1)

    def _state(self) -> dict[str, np.ndarray]:
        return {**super()._state(), "k_distance": self.k_distance_, "lrd": self.lrd_}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        super()._restore(state)
        self.k_distance_ = state["k_distance"]
        self.lrd_ = state["lrd"]
