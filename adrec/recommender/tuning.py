"""Tuning blends of source distributions on validation targets: the best fixed blend, the
anomaly-aware rule (calm -> shifted as a calibrated signal rises) and the learned gate (its L2
pull towards the fixed blend chosen by cross-validation over users)."""

from __future__ import annotations

import itertools

import numpy as np

from adrec.metrics.ranking import full_ranks, hit_ndcg
from adrec.recommender.gate import SourceGate

GATE_L2 = (1e-3, 1e-2, 1e-1, 1.0)


def simplex_grid(n: int, step: float) -> np.ndarray:
    """All weight vectors of n non-negative multiples of `step` summing to 1."""
    m = round(1 / step)
    rows = [c for c in itertools.product(range(m + 1), repeat=n) if sum(c) == m]
    return np.array(rows, np.float64) / m


def mixed(probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Blend [S, n, I] by weights [S] (one for all points) or [n, S] (per point)."""
    if weights.ndim == 1:
        return np.tensordot(weights, probs, axes=1)
    return np.einsum("ns,sni->ni", weights, probs)


def ndcg_per_point(scores: np.ndarray, targets: np.ndarray, seen: list, k: int) -> np.ndarray:
    """Full-ranking NDCG@k of each point (seen items excluded)."""
    return hit_ndcg(full_ranks(scores, targets, seen), k)[1]


class ValidationRanker:
    """NDCG@k of many blends of the same source distributions at the same points, fast: the
    sources are held once in float32 with a mask of the items each point may rank (padding,
    the point's seen items and the target itself excluded); a blend costs one weighted sum
    and one comparison. Ties count against the target, as in full_ranks."""

    def __init__(self, probs: np.ndarray, targets: np.ndarray, seen: list, k: int):
        self.probs = np.asarray(probs, np.float32)
        n, n_cols = self.probs.shape[1], self.probs.shape[2]
        self.rows = np.arange(n)
        self.targets = np.asarray(targets, np.int64)
        self.k = k
        self.valid = np.ones((n, n_cols), bool)
        self.valid[:, 0] = False
        lengths = [len(h) for h in seen]
        if sum(lengths):
            self.valid[np.repeat(self.rows, lengths), np.concatenate(seen).astype(np.int64)] = False
        self.valid[self.rows, self.targets] = False

    def subset(self, keep: np.ndarray) -> ValidationRanker:
        out = object.__new__(ValidationRanker)
        out.probs, out.valid = self.probs[:, keep], self.valid[keep]
        out.targets, out.k = self.targets[keep], self.k
        out.rows = np.arange(len(out.targets))
        return out

    def ndcg(self, weights: np.ndarray) -> np.ndarray:
        """Per-point NDCG@k of the blend with weights [S] or [n, S]."""
        w = np.asarray(weights, np.float32)
        scores = mixed(self.probs, w)
        target = scores[self.rows, self.targets]
        rank = ((scores >= target[:, None]) & self.valid).sum(1)
        return np.where(rank < self.k, 1.0 / np.log2(rank + 2.0), 0.0)


def rule_weights(calibrated: np.ndarray, calm: np.ndarray, shifted: np.ndarray) -> np.ndarray:
    """[n, S]: (1 - c) * calm + c * shifted for calibrated scores c clipped to [0, 1]."""
    c = np.clip(np.asarray(calibrated, np.float64), 0, 1)[:, None]
    return (1 - c) * calm + c * shifted


def tune_fixed(ranker: ValidationRanker, step: float) -> tuple[np.ndarray, float]:
    """The fixed blend (one weight vector for everyone) with the best validation NDCG@k."""
    grid = simplex_grid(len(ranker.probs), step)
    vals = [ranker.ndcg(w).mean() for w in grid]
    best = int(np.argmax(vals))
    return grid[best], float(vals[best])


def tune_rule(ranker: ValidationRanker, calibrated, calm, step) -> tuple[np.ndarray, float]:
    """Shifted weights of the rule calm -> shifted, chosen on validation NDCG@k. Only points
    with a non-zero signal depend on them, so only those are ranked."""
    c = np.clip(np.asarray(calibrated, np.float64), 0, 1)
    base = ranker.ndcg(calm)
    moved = c > 0
    grid = simplex_grid(len(ranker.probs), step)
    if not moved.any():
        return np.asarray(calm, np.float64), float(base.mean())
    sub = ranker.subset(moved)
    vals = []
    for w in grid:
        part = sub.ndcg(rule_weights(c[moved], calm, w))
        vals.append((base.sum() - base[moved].sum() + part.sum()) / len(base))
    best = int(np.argmax(vals))
    return grid[best], float(vals[best])


def fit_gate(
    X: np.ndarray,
    ranker: ValidationRanker,
    users: np.ndarray,
    sources: tuple[str, ...],
    prior: np.ndarray,
    epochs: int,
    seed: int,
    n_folds: int = 5,
) -> tuple[SourceGate, float]:
    """A gate on validation targets, pulled towards `prior` (the best fixed blend); the
    strength of that pull (L2) is chosen by NDCG@k in n-fold cross-validation over users
    (a user's targets stay in one fold)."""
    probs = ranker.probs.astype(np.float64)
    target_probs = probs[:, ranker.rows, ranker.targets].T
    uniq, codes = np.unique(users, return_inverse=True)
    folds = (np.random.default_rng(seed).permutation(len(uniq)) % n_folds)[codes]
    cv = {}
    for l2 in GATE_L2:
        held = np.zeros(len(X))
        for f in range(n_folds):
            train, test = folds != f, folds == f
            if not train.any() or not test.any():
                continue
            gate = SourceGate(sources, prior=prior, l2=l2, epochs=epochs, seed=seed)
            w = gate.fit(X[train], target_probs[train]).weights(X[test])
            held[test] = ranker.subset(test).ndcg(w)
        cv[l2] = held.mean()
    best = max(cv, key=cv.get)
    gate = SourceGate(sources, prior=prior, l2=best, epochs=epochs, seed=seed)
    return gate.fit(X, target_probs), best
