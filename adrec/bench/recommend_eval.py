"""Scoring a trained recommender on its held-out test targets, through the served engine.

The split is recomputed from the run's own log and settings (it is deterministic), so the
test targets are exactly those the fit step never read. Every variant is a set of weights over
the engine's own source distributions at each test point: the served blend, each control,
and each source alone. Metrics: full-ranking HR@10 / NDCG@10 with seen items excluded and the
100-sampled-negatives variant, on all targets, on "shifting" ones (calibrated anomaly score
>= 0.5 at prediction time) and the rest, with bootstrap intervals that resample users.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adrec.data.splits import split_log
from adrec.metrics.ranking import cluster_bootstrap, full_ranks, hit_ndcg, sampled_ranks
from adrec.recommender.engine import AnomalyAwareRecommender
from adrec.recommender.history import histories_at
from adrec.recommender.tuning import mixed

COMPARISONS = (
    ("anomaly-aware rule", "best fixed blend"),
    ("anomaly-aware rule", "recency rule"),
    ("learned gate", "best fixed blend"),
    ("learned gate", "learned gate, no anomaly score"),
)
SHIFT_LEVEL = 0.5


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


def evaluate_engine(
    engine: AnomalyAwareRecommender,
    split_kind: str,
    targets_per_user: int,
    k: int = 10,
    n_negatives: int = 100,
    n_bootstrap: int = 2000,
    seed: int = 0,
    chunk: int = 2000,
) -> dict:
    """Test metrics of every variant; the "_per_point" entry (popped by callers that pool
    seeds) keeps per-target NDCG, users and shifting flags."""
    split = split_log(engine.log, split_kind, targets_per_user)
    points = split.test
    names = engine.sources.names
    per_point: dict[str, dict[str, list]] = {}
    shifting, windowed, seen_kept = [], [], {"hit": [], "ndcg": []}
    for lo in range(0, len(points), chunk):
        part = points.subset(np.arange(lo, min(lo + chunk, len(points))))
        hist = histories_at(engine.log, part)
        anomaly = engine.anomaly(hist)
        probs = engine.sources.probs(hist)
        weights = engine.blend_weights(hist, anomaly)
        weights.pop("served")
        for j, name in enumerate(names):
            weights[f"{name} only"] = np.tile(np.eye(len(names))[j], (len(hist), 1))
        seen = [h.items for h in hist]
        for variant, w in weights.items():
            scores = mixed(probs, w)
            full = hit_ndcg(full_ranks(scores, part.target, seen), k)
            sampled = hit_ndcg(sampled_ranks(scores, part.target, seen, n_negatives, seed), k)
            row = per_point.setdefault(variant, {"hit": [], "ndcg": [], "s_hit": [], "s_ndcg": []})
            for key, values in zip(("hit", "ndcg", "s_hit", "s_ndcg"), (*full, *sampled),
                                   strict=True):  # fmt: skip
                row[key].append(values)
        # The long-term model alone under RecBole's sequential protocol (seen items kept).
        kept = [np.zeros(0, np.int64)] * len(hist)
        hit, ndcg = hit_ndcg(full_ranks(probs[names.index("long_term")], part.target, kept), k)
        seen_kept["hit"].append(hit)
        seen_kept["ndcg"].append(ndcg)
        windowed.append(anomaly["has_window"])
        shifting.append(anomaly["calibrated"] >= SHIFT_LEVEL)
    metrics = {
        v: {key: np.concatenate(x) for key, x in row.items()} for v, row in per_point.items()
    }
    shifting = np.concatenate(shifting)
    users = points.user
    groups = {"all": np.ones_like(shifting), "shifting": shifting, "rest": ~shifting}
    table = [
        {
            "variant": variant, "users": g, "n": int(mask.sum()),
            "full_hr@10": _mean(m["hit"][mask]), "full_ndcg@10": _mean(m["ndcg"][mask]),
            "sampled100_hr@10": _mean(m["s_hit"][mask]),
            "sampled100_ndcg@10": _mean(m["s_ndcg"][mask]),
        }
        for variant, m in metrics.items()
        for g, mask in groups.items()
    ]  # fmt: skip
    cis = []
    for a, b in COMPARISONS:
        if a not in metrics or b not in metrics:
            continue
        d = (metrics[a]["ndcg"] - metrics[b]["ndcg"])[None]
        for g, mask in groups.items():
            if not mask.any():  # e.g. no shifting target: nothing to compare
                continue
            # resampling users, not targets: a user's several targets are not independent
            ci = cluster_bootstrap(d, mask[None], n_bootstrap, seed, users)
            base = _mean(metrics[b]["ndcg"][mask])
            cis.append({"a": a, "b": b, "users": g, **ci,
                        "relative": ci["diff"] / base if base else float("nan")})  # fmt: skip
    months = pd.to_datetime(points.time, unit="s").strftime("%Y-%m").to_numpy()
    over_time = [
        {"month": m, "n": int((months == m).sum()),
         **{v: _mean(metrics[v]["ndcg"][months == m]) for v in
            ("best fixed blend", "anomaly-aware rule", "learned gate") if v in metrics}}
        for m in sorted(set(months))
    ]  # fmt: skip
    lt = metrics["long_term only"]
    return {
        "_per_point": {
            "ndcg": {v: m["ndcg"] for v, m in metrics.items()},
            "shifting": shifting,
            "users": users,
        },
        "n_test_targets": len(points),
        "n_test_users": int(len(np.unique(users))),
        "shifting": {
            "test_targets": int(shifting.sum()),
            "test_users": int(len(np.unique(users[shifting]))),
            "targets_with_a_window": int(np.concatenate(windowed).sum()),
        },
        "table": table,
        "ci_ndcg@10": cis,
        "ndcg@10_by_month": over_time,
        "long_term_alone": {
            "full_hr@10_seen_excluded": _mean(lt["hit"]),
            "full_ndcg@10_seen_excluded": _mean(lt["ndcg"]),
            "full_hr@10_seen_kept": _mean(np.concatenate(seen_kept["hit"])),
            "full_ndcg@10_seen_kept": _mean(np.concatenate(seen_kept["ndcg"])),
        },
        "served_blend": engine.blends.served,
    }


def pooled_cis(per_seed: list[dict], n_resamples: int) -> list[dict]:
    """A - B over all seeds at once: a cluster bootstrap that resamples users (each user's
    targets of every seed go together); a target is 'shifting' in the seeds where that seed's
    detector flagged it."""
    users = per_seed[0]["users"]
    if any(not np.array_equal(p["users"], users) for p in per_seed):
        raise ValueError("every seed must score the same test targets")
    shifting = np.stack([p["shifting"] for p in per_seed])
    groups = {"all": np.ones_like(shifting), "shifting": shifting, "rest": ~shifting}
    out = []
    for a, b in COMPARISONS:
        if any(a not in p["ndcg"] or b not in p["ndcg"] for p in per_seed):
            continue
        d = np.stack([p["ndcg"][a] - p["ndcg"][b] for p in per_seed])
        base = np.stack([p["ndcg"][b] for p in per_seed])
        for g, mask in groups.items():
            if not mask.any():
                continue
            ci = cluster_bootstrap(d, mask, n_resamples, seed=0, clusters=users)
            base_mean = float(base[mask].mean())
            rel = ci["diff"] / base_mean if base_mean else float("nan")
            out.append({"a": a, "b": b, "users": g, "n_target_seeds": ci["n"],
                        "n_users": ci["n_users"], "diff": ci["diff"], "low": ci["low"],
                        "high": ci["high"], "relative": rel})  # fmt: skip
    return out
