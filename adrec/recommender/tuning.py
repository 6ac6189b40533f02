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


def rule_weights(calibrated: np.ndarray, calm: np.ndarray, shifted: np.ndarray) -> np.ndarray:
    """[n, S]: (1 - c) * calm + c * shifted for calibrated scores c clipped to [0, 1]."""
    c = np.clip(np.asarray(calibrated, np.float64), 0, 1)[:, None]
    return (1 - c) * calm + c * shifted


def tune_fixed(probs, targets, seen, k, step) -> tuple[np.ndarray, float]:
    grid = simplex_grid(len(probs), step)
    vals = [ndcg_per_point(mixed(probs, w), targets, seen, k).mean() for w in grid]
    best = int(np.argmax(vals))
    return grid[best], float(vals[best])


def tune_rule(probs, targets, seen, calibrated, calm, k, step) -> tuple[np.ndarray, float]:
    """Shifted weights of the rule calm -> shifted, chosen on validation NDCG@k."""
    grid = simplex_grid(len(probs), step)
    vals = [
        ndcg_per_point(mixed(probs, rule_weights(calibrated, calm, w)), targets, seen, k).mean()
        for w in grid
    ]
    best = int(np.argmax(vals))
    return grid[best], float(vals[best])


def fit_gate(
    X: np.ndarray,
    probs: np.ndarray,
    targets: np.ndarray,
    seen: list,
    users: np.ndarray,
    sources: tuple[str, ...],
    prior: np.ndarray,
    k: int,
    epochs: int,
    seed: int,
    n_folds: int = 5,
) -> tuple[SourceGate, float]:
    """A gate on validation targets, pulled towards `prior` (the best fixed blend); the
    strength of that pull (L2) is chosen by NDCG@k in n-fold cross-validation over users
    (a user's targets stay in one fold)."""
    target_probs = probs[:, np.arange(len(targets)), targets].T
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
            scores = np.einsum("ns,sni->ni", w, probs[:, test])
            fold_seen = [h for h, t in zip(seen, test, strict=True) if t]
            held[test] = ndcg_per_point(scores, targets[test], fold_seen, k)
        cv[l2] = held.mean()
    best = max(cv, key=cv.get)
    gate = SourceGate(sources, prior=prior, l2=best, epochs=epochs, seed=seed)
    return gate.fit(X, target_probs), best
