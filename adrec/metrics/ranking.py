"""Ranking metrics for next-item recommendation and paired confidence intervals.

Scores are [n_users, n_items + 1] with column 0 the padding item. Ranks are 0-based and count
ties against the target (a model that scores everything equal gets no credit).
"""

from __future__ import annotations

import numpy as np


def full_ranks(scores: np.ndarray, targets: np.ndarray, seen: list[np.ndarray]) -> np.ndarray:
    """Rank of each target among all items, padding and the user's `seen` items excluded
    (pass empty arrays to keep seen items, as RecBole's sequential protocol does)."""
    if len(scores) != len(targets) or len(seen) != len(targets):
        raise ValueError("scores, targets and seen must have one row per user")
    s = np.array(scores, dtype=np.float64)
    s[:, 0] = -np.inf
    rows = np.repeat(np.arange(len(seen)), [len(h) for h in seen])
    if len(rows):
        s[rows, np.concatenate(seen)] = -np.inf
    users = np.arange(len(targets))
    target = np.asarray(scores, dtype=np.float64)[users, targets]
    s[users, targets] = -np.inf
    return (s >= target[:, None]).sum(1)


def sampled_ranks(
    scores: np.ndarray, targets: np.ndarray, seen: list[np.ndarray], n_negatives: int, seed: int
) -> np.ndarray:
    """Rank of the target among itself and `n_negatives` uniform items the user has not seen
    (seeded: the same seed draws the same negatives)."""
    rng = np.random.default_rng(seed)
    n_items = scores.shape[1] - 1
    out = np.zeros(len(targets), np.int64)
    for u, (t, h) in enumerate(zip(targets, seen, strict=True)):
        pool = np.setdiff1d(np.arange(1, n_items + 1), np.append(h, t))
        neg = rng.choice(pool, size=min(n_negatives, len(pool)), replace=False)
        out[u] = (scores[u, neg] >= scores[u, t]).sum()
    return out


def hit_ndcg(ranks: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-user HR@k and NDCG@k (one relevant item) from 0-based ranks."""
    ranks = np.asarray(ranks)
    hit = (ranks < k).astype(np.float64)
    return hit, np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n: int, seed: int) -> dict:
    """Mean of a - b over the same users with a 95% percentile-bootstrap interval."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if len(d) == 0:
        return {"diff": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    idx = np.random.default_rng(seed).integers(0, len(d), size=(n, len(d)))
    means = d[idx].mean(1)
    low, high = np.quantile(means, [0.025, 0.975])
    return {"diff": float(d.mean()), "low": float(low), "high": float(high), "n": len(d)}


def cluster_bootstrap(
    diff: np.ndarray, mask: np.ndarray, n: int, seed: int, clusters: np.ndarray | None = None
) -> dict:
    """Mean of `diff` [repeats, points] over the cells where `mask` is true, with a 95%
    bootstrap interval that resamples users: all repeats of a point go together, and so do
    the points of one user when `clusters` [points] names each point's user (so seeds, and
    several targets of the same user, do not count as independent evidence). "n" counts the
    cells, "n_users" the users with at least one: the independent units behind the interval."""
    d = np.asarray(diff, np.float64)
    m = np.asarray(mask, bool).astype(np.float64)
    if d.shape != m.shape or d.ndim != 2:
        raise ValueError("diff and mask must both be [repeats, users]")
    if clusters is None:
        codes = np.arange(d.shape[1])
    elif len(clusters) != d.shape[1]:
        raise ValueError("clusters must name one user per column of diff")
    else:
        codes = np.unique(np.asarray(clusters), return_inverse=True)[1]
    total = m.sum()
    if total == 0:
        return {"diff": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0,
                "n_users": 0}  # fmt: skip
    n_clusters = int(codes.max()) + 1
    per_user = np.bincount(codes, m.sum(0), n_clusters)  # cells of each user
    num_user = np.bincount(codes, (d * m).sum(0), n_clusters)
    idx = np.random.default_rng(seed).integers(0, n_clusters, (n, n_clusters))
    num, den = num_user[idx].sum(1), per_user[idx].sum(1)
    means = num[den > 0] / den[den > 0]
    low, high = np.quantile(means, [0.025, 0.975])
    return {"diff": float((d * m).sum() / total), "low": float(low), "high": float(high),
            "n": int(total), "n_users": int((per_user > 0).sum())}  # fmt: skip
