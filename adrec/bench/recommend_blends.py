"""Blending source distributions and tuning the blends on validation targets: the best fixed
blend, the anomaly-aware rule (calm -> shifted as the calibrated score rises) and the learned
gate (its L2 pull towards the fixed blend chosen by cross-validation)."""

from __future__ import annotations

import itertools

import numpy as np

from adrec.bench.recommend_config import SOURCE_NAMES, BenchConfig
from adrec.data.splits import PredictionPoints
from adrec.metrics.ranking import full_ranks, hit_ndcg
from adrec.recommender.blend import BlendRule
from adrec.recommender.gate import SourceGate

GATE_L2 = (1e-3, 1e-2, 1e-1, 1.0)


def simplex_grid(n: int, step: float) -> np.ndarray:
    """All weight vectors of n non-negative multiples of `step` summing to 1."""
    m = round(1 / step)
    rows = [c for c in itertools.product(range(m + 1), repeat=n) if sum(c) == m]
    return np.array(rows, np.float64) / m


def mixed(probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Blend [S, n, I] by weights [S] (one for all users) or [n, S] (per user)."""
    if weights.ndim == 1:
        return np.tensordot(weights, probs, axes=1)
    return np.einsum("ns,sni->ni", weights, probs)


def mean_ndcg(scores: np.ndarray, points: PredictionPoints, k: int) -> float:
    """Full-ranking NDCG@k (seen items excluded) of scores [n_users, n_items + 1]."""
    return float(hit_ndcg(full_ranks(scores, points.targets, points.histories), k)[1].mean())


def tune_fixed(probs, points, k, step) -> tuple[np.ndarray, float]:
    grid = simplex_grid(len(probs), step)
    vals = [mean_ndcg(mixed(probs, w), points, k) for w in grid]
    best = int(np.argmax(vals))
    return grid[best], vals[best]


def tune_rule(probs, points, calibrated, calm, k, step) -> tuple[np.ndarray, float]:
    """Shifted weights for BlendRule(calm -> shifted), chosen on validation NDCG@k."""
    grid = simplex_grid(len(probs), step)
    c = np.clip(calibrated, 0, 1)[:, None]
    vals = [mean_ndcg(mixed(probs, (1 - c) * calm + c * w), points, k) for w in grid]
    best = int(np.argmax(vals))
    return grid[best], vals[best]


def as_rule(calm: np.ndarray, shifted: np.ndarray) -> BlendRule:
    return BlendRule(
        calm=dict(zip(SOURCE_NAMES, calm.round(6).tolist(), strict=True)),
        shifted=dict(zip(SOURCE_NAMES, shifted.round(6).tolist(), strict=True)),
    )


def fit_gate(
    X: np.ndarray,
    probs: np.ndarray,
    points: PredictionPoints,
    prior: np.ndarray,
    cfg: BenchConfig,
    seed: int,
    n_folds: int = 5,
) -> tuple[SourceGate, float]:
    """A gate on the validation targets, pulled towards the best fixed blend; the strength of
    that pull (L2) is chosen by NDCG@k in n-fold cross-validation over validation users (a
    user's targets stay in one fold)."""
    target = probs[:, np.arange(len(points.targets)), points.targets].T
    users, codes = np.unique(points.users, return_inverse=True)
    folds = (np.random.default_rng(seed).permutation(len(users)) % n_folds)[codes]
    cv = {}
    for l2 in GATE_L2:
        held = np.zeros(len(X))
        for f in range(n_folds):
            train, test = folds != f, folds == f
            gate = SourceGate(SOURCE_NAMES, prior=prior, l2=l2, epochs=cfg.gate_epochs, seed=seed)
            w = gate.fit(X[train], target[train]).weights(X[test])
            scores = np.einsum("ns,sni->ni", w, probs[:, test])
            seen = [h for h, t in zip(points.histories, test, strict=True) if t]
            ranks = full_ranks(scores, points.targets[test], seen)
            held[test] = hit_ndcg(ranks, cfg.k)[1]
        cv[l2] = held.mean()
    best = max(cv, key=cv.get)
    gate = SourceGate(SOURCE_NAMES, prior=prior, l2=best, epochs=cfg.gate_epochs, seed=seed)
    return gate.fit(X, target), best
